// DASH (Shin et al., NeurIPS 2024) against the methods it was compared with, in its standard setting ([D]):
// CIFAR-10 in 50 chunks of 1,000, each round trains on everything seen so far until 99.9 % train accuracy,
// ResNet-18, SGD momentum 0.9, lr 1e-3, batch 128, official test split. Arms as [D]'s baselines: cold (fresh),
// warm with its optimiser kept ([D]'s `warm`), warm with a new optimiser (`warm_rm`), head reset (`reset`),
// L2-init λ 1e-2 in [D]'s form, S&P λ 0.3 σ 0.01, and DASH α 0.3 λ 0.3. [D] (CIFAR-10, ResNet-18; column meaning
// not recovered, probably final/best accuracy): random 67.32 / 75.68, warm 63.53 / 70.99, S&P 81.25 / 85.53,
// DASH 84.08 / 86.75. (Our S&P perturbs every parameter, [D]'s only conv/linear ones.)
//   full:  ./warmstart run studies/ash-adams-2020/dash-vs-sp.fsx
//   quick: ./warmstart run studies/ash-adams-2020/dash-vs-sp.fsx --quick (Fashion-MNIST, MLP, 3 rounds)
#load "../../dsl/WarmStart.fsx"
open WarmStart

let dashStudy =
    study "dash-vs-sp" {
        data cifar10
        quick_data fashion_mnist
        model (resnet18 16)
        quick_model (mlp [ 100; 100 ])
        optimizer (sgd 1e-3 |> with_momentum 0.9)
        quick_optimizer (sgd 0.05 |> with_momentum 0.9)   // quick: lr 1e-3 stays near chance
        train_until (train_accuracy 0.999) (max_epochs 1000)
        seeds 3
        schedule (online (chunk 1000))
        quick_subset 3000
        arm "fresh" fresh
        arm "warm" (warm |> keep_optimizer_state)
        arm "warm-new-opt" warm
        arm "head-reset" head_reset
        arm "l2-init" (warm |> l2_init_dash_form 1e-2)
        arm "sp" (shrink_perturb 0.3 0.01)
        arm "dash" (dash 0.3 0.3)
    }

let r = dashStudy |> Study.runFromArgs fsi.CommandLineArgs
r |> Summary.byArm |> Summary.print
r |> Summary.gapVs "fresh" |> Summary.print
