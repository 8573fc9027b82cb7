// E10 / Figure 5 (§4): why warm starts generalise worse. Train ResNet-18 (width 16) on half of CIFAR-10 for 100
// epochs, then 30 epochs on all of it (SGD 1e-3, as the reproduction), and before every epoch measure the mean L2
// norm of the whole gradient on old-half and on new-half minibatches. Arms: warm start, and shrink-perturb
// λ ∈ {0.9, 0.7, 0.5, 0.3} with σ = 0.01. Paper: under warm start the new-data gradients are far larger than the
// old-data ones; shrinking raises the old-data loss so the two become comparable (norm values not recovered).
// No cap is needed: both stages train a fixed number of epochs (100, then 30), as [R].
//   full:  ./warmstart run studies/ash-adams-2020/gradient-norms.fsx
//   quick: ./warmstart run studies/ash-adams-2020/gradient-norms.fsx --quick (Fashion-MNIST, MLP, 3 + 3 epochs)
#load "../../dsl/WarmStart.fsx"
open WarmStart

let norms =
    study "gradient-norms" {
        data cifar10
        quick_preset fashion_mnist_mlp   // --quick: Fashion-MNIST, MLP 100-100, 2,000 examples, 3 epochs, 2 seeds
        half_normalization
        evaluate_on (held_out (2.0 / 3.0))
        model (resnet18 16)
        optimizer (sgd 1e-3)
        quick_optimizer (sgd 0.05)   // quick: 3 epochs of SGD 1e-3 stay near chance
        schedule (pretrain_epochs [ 100 ])   // stage 1: exactly 100 epochs on half (--quick caps it at 3)
        epochs 30                            // stage 2: 30 epochs on all
        seeds 3
        arm "warm" warm
        arm "sp-0.9" (shrink_perturb 0.9 0.01 |> with_fresh_init_noise)
        arm "sp-0.7" (shrink_perturb 0.7 0.01 |> with_fresh_init_noise)
        arm "sp-0.5" (shrink_perturb 0.5 0.01 |> with_fresh_init_noise)
        arm "sp-0.3" (shrink_perturb 0.3 0.01 |> with_fresh_init_noise)
        measure_gradient_norms
    }

let r = norms |> Study.runFromArgs fsi.CommandLineArgs
r |> Summary.gradientNorms |> Summary.print        // per arm × epoch: OldMean, NewMean and NewOverOld (Figure 5)
r |> Summary.byArm |> Summary.print
