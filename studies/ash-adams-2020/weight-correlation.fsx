// E6 companion (appendix figure, "Fig. 11" per [S2]): do the warm-started models that generalise well forget their
// initialisation? For every model of the lr × batch-size sweep of Figure 3 (ResNet-18 width 16, CIFAR-10, SGD, 99 %
// train accuracy, [R]'s grid), the Pearson correlation between the weights the second stage started from and its
// final weights (all learnable parameters, flattened), against test accuracy. Paper: the warm models that
// generalise well have low correlation with their warm-start weights (values not recovered).
// Cap: 1,000 epochs per stage. The paper trains to 99 % with no cap; the cap only ends a stage that never gets there,
// and such a stage is flagged as not converged (NotConverged in the summaries).
//   full:  ./warmstart run studies/ash-adams-2020/weight-correlation.fsx
//   quick: ./warmstart run studies/ash-adams-2020/weight-correlation.fsx --quick (Fashion-MNIST, MLP)
#load "../../dsl/WarmStart.fsx"
open WarmStart
open Deedle

let correlation =
    study "weight-correlation" {
        data cifar10
        quick_preset fashion_mnist_mlp   // --quick: Fashion-MNIST, MLP 100-100, 2,000 examples, 3 epochs, 2 seeds
        half_normalization
        evaluate_on (held_out (2.0 / 3.0))
        model (resnet18 16)
        optimizer (sgd 1e-3)
        train_until (train_accuracy 0.99) (max_epochs 1000)
        seeds 3
        sweep Knob.Lr [ 0.001; 0.01; 0.1 ]
        sweep Knob.BatchSize [ 16; 32; 64; 128 ]
        arm "fresh" fresh
        arm "warm" warm
        measure_correlation
    }

let r = correlation |> Study.runFromArgs fsi.CommandLineArgs
// One point per stage-2 model: VsStart (correlation with its starting weights) against TestAcc; VsInit is with
// the chain's original random initialisation.
r |> Summary.correlations |> Frame.filterRowsBy "Stage" 2 |> Frame.sortRowsBy "TestAcc" id |> Summary.print
