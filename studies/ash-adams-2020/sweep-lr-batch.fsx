// E6 / Figure 3 (§3.1): can hyper-parameters fix warm starting? ResNet-18 (width 16) on CIFAR-10 with SGD, as the
// reproduction ([R] train-figure-3.py): for every learning rate × batch size of its grid (lr {0.001, 0.01, 0.1} ×
// batch {16, 32, 64, 128}; the paper's grid is not recovered), train to 99 % train accuracy on half; then three
// times draw a stage-2 (lr_2, batch_size_2) at random from the same grid and train on all of it, warm-started vs
// fresh, recording test accuracy and wall-clock time. Paper: warm-started models that generalise as well as fresh
// ones need *more* time; fresh models average 55.2 % in 34.0 minutes.
// Differences from [R], kept so every seed sees the same variants and arms stay paired: the three draws are made
// once per stage-1 (lr, batch), the same for every seed, and are distinct ([R] draws with replacement, anew for each
// outer index); the fresh arm's stage 2 uses the drawn values, so each warm model has a fresh one with the same
// stage-2 settings ([R] trains its cold models with the stage-1 values; a fresh node does not depend on stage 1, so
// a (lr_2, batch_size_2) drawn by several variants trains once per seed). [R] also continues its second and third
// warm run from the first one's final model (its resume_model is modified in place); each draw here starts from the
// stage-1 model.
// Cap: 700 epochs per stage, [R]'s max_epoch; a stage that hits it is flagged as not converged.
//   full:  ./warmstart run studies/ash-adams-2020/sweep-lr-batch.fsx   (then: warmstart report --plots DIR for the scatter)
//   quick: ./warmstart run studies/ash-adams-2020/sweep-lr-batch.fsx --quick (Fashion-MNIST, MLP)
#load "../../dsl/WarmStart.fsx"
open WarmStart
open Deedle

let lrs, batches = [ 0.001; 0.01; 0.1 ], [ 16; 32; 64; 128 ]
let sweepStudy =
    study "sweep-lr-batch" {
        data cifar10
        quick_preset fashion_mnist_mlp   // --quick: Fashion-MNIST, MLP 100-100, 2,000 examples, 3 epochs, 2 seeds
        half_normalization
        evaluate_on (held_out (2.0 / 3.0))
        model (resnet18 16)
        optimizer (sgd 1e-3)
        train_until (train_accuracy 0.99) (max_epochs 700)
        seeds 3
        sweep Knob.Lr lrs                  // stage 1 (and, without a draw, every stage)
        sweep Knob.BatchSize batches
        random_draws 3 [ Knob.Lr2, lrs; Knob.BatchSize2, List.map float batches ]   // stage 2, drawn per (lr, batch)
        arm "fresh" fresh
        arm "warm" warm
    }

let r = sweepStudy |> Study.runFromArgs fsi.CommandLineArgs
// The scatter of Figure 3: every stage-2 model's test accuracy against its training time.
r |> Summary.runs |> Frame.filterRowsBy "Stage" 2 |> Frame.sliceCols [ "Variant"; "Arm"; "Seed"; "TestAcc"; "Seconds" ] |> Summary.print
for arm in [ "fresh"; "warm" ] do
    printfn "%s: stage-2 test accuracy (rows lr_2, columns batch_size_2), then seconds" arm
    r |> Summary.sweepGridOf Knob.Lr2 Knob.BatchSize2 arm 2 (fun a -> a.TestAccMean) |> Summary.print
    r |> Summary.sweepGridOf Knob.Lr2 Knob.BatchSize2 arm 2 (fun a -> a.SecondsMean) |> Summary.print
