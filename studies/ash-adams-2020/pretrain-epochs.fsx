// E7 / Figure 4 (§3.2): does a short pre-training already hurt? Pre-train ResNet-18 (width 16) on half of CIFAR-10
// with SGD 1e-3 for e ∈ {20, 40, …, 200} epochs (one run, checkpointed), warm-start training on all of it to 99 %
// train accuracy, and compare with a fresh model on all of it. Paper/[R]: plot the % difference in final test
// accuracy against e; about 20 epochs of pre-training already damage the final accuracy, before the pre-training
// reaches full accuracy (per-epoch numbers not recovered).
// Cap: 1,000 epochs per stage. The paper trains to 99 % with no cap; the cap only ends a stage that never gets there,
// and such a stage is flagged as not converged (NotConverged in the summaries).
//   full:  ./warmstart run studies/ash-adams-2020/pretrain-epochs.fsx
//   quick: ./warmstart run studies/ash-adams-2020/pretrain-epochs.fsx --quick (Fashion-MNIST, MLP, e ∈ {1, 2, 3})
#load "../../dsl/WarmStart.fsx"
open WarmStart
open Deedle

let pretrain =
    study "pretrain-epochs" {
        data cifar10
        quick_preset fashion_mnist_mlp   // --quick: Fashion-MNIST, MLP 100-100, 2,000 examples, 3 epochs, 2 seeds
        half_normalization
        evaluate_on (held_out (2.0 / 3.0))
        model (resnet18 16)
        optimizer (sgd 1e-3)
        quick_optimizer (sgd 0.05)   // quick: 3 epochs of SGD 1e-3 stay near chance
        train_until (train_accuracy 0.99) (max_epochs 1000)
        seeds 5
        schedule (pretrain_epochs [ 20 .. 20 .. 200 ])
        quick_schedule (pretrain_epochs [ 1; 2; 3 ])
        arm "fresh" fresh
        arm "warm" warm
    }

let r = pretrain |> Study.runFromArgs fsi.CommandLineArgs
r |> Summary.byArm |> Summary.print                 // stage 1: the pre-trained model after e epochs; stage 2: final
r |> Summary.gapVs "fresh" |> Summary.print         // warm − fresh per pre-training length (× 100 / fresh: Figure 4's %)
