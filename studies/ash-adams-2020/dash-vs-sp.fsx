// DASH (Shin et al., NeurIPS 2024) against the methods it was compared with, in its standard setting ([D]):
// CIFAR-10 in 50 chunks of 1,000, each round trains on everything seen so far until 99.9 % train accuracy,
// [D]'s ResNet-18 (width 64, max-pool stem, kaiming-normal init), SGD momentum 0.9, lr 1e-3, batch 128, official
// test split. Arms as [D]'s baselines, and as [D]'s post_training_actions only `cold` and `warm_rm` get a new
// optimiser each chunk; every other arm keeps its SGD momentum buffers (keep_optimizer_state): cold (fresh), warm
// ([D]'s `warm`), warm with a new optimiser (`warm_rm`), head reset (`reset`), L2-init λ 1e-2 in [D]'s form from
// the first step ([D] anchors to the initial model from chunk 0), S&P λ 0.3 σ 0.01, and DASH α 0.3 λ 0.3.
// [D] (CIFAR-10, ResNet-18; column meaning not recovered, probably final/best accuracy): random 67.32 / 75.68,
// warm 63.53 / 70.99, S&P 81.25 / 85.53, DASH 84.08 / 86.75.
// Kept differences: our S&P perturbs every parameter, [D]'s only conv/linear ones; [D]'s `reset` re-draws fc in
// place and so keeps fc's momentum buffer, ours starts the re-drawn head's optimiser state afresh.
// Cap: 10,000 epochs per round, [D]'s max_epoch default; a round that hits it is flagged as not converged.
//   full:  ./warmstart run studies/ash-adams-2020/dash-vs-sp.fsx
//   quick: ./warmstart run studies/ash-adams-2020/dash-vs-sp.fsx --quick (Fashion-MNIST, MLP, 3 rounds)
#load "../../dsl/WarmStart.fsx"
open WarmStart

let dashStudy =
    study "dash-vs-sp" {
        data cifar10
        quick_preset fashion_mnist_mlp   // --quick: Fashion-MNIST, MLP 100-100, 2,000 examples, 3 epochs, 2 seeds
        model (resnet18_dash 64)   // [D]'s ResNet-18: max-pool stem, kaiming-normal init
        optimizer (sgd 1e-3 |> with_momentum 0.9)
        quick_optimizer (sgd 0.05 |> with_momentum 0.9)   // quick: lr 1e-3 stays near chance
        train_until (train_accuracy 0.999) (max_epochs 10000)   // [D]: converge_acc 0.999, max_epoch 10000
        seeds 3
        schedule (online (chunk 1000))
        quick_subset 3000
        arm "fresh" fresh                                                   // [D] cold: new model, new optimiser
        arm "warm" (warm |> keep_optimizer_state)                           // [D] warm
        arm "warm-new-opt" warm                                             // [D] warm_rm: new optimiser
        arm "head-reset" (head_reset |> keep_optimizer_state)               // [D] reset
        arm "l2-init" (warm |> keep_optimizer_state |> l2_init_dash_form 1e-2 |> l2_init_from_start)   // [D] l2_init
        arm "sp" (shrink_perturb 0.3 0.01 |> keep_optimizer_state)          // [D] sp (Gaussian noise)
        arm "dash" (dash 0.3 0.3 |> keep_optimizer_state)                   // [D] dash
    }

let r = dashStudy |> Study.runFromArgs fsi.CommandLineArgs
r |> Summary.byArm |> Summary.print
r |> Summary.gapVs "fresh" |> Summary.print
