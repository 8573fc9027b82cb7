// E1 / Figure 1 of Ash & Adams (NeurIPS 2020): "half, then all" training curves. A ResNet-18 trains on a random
// half of CIFAR-10 for 350 epochs, then warm-started on all of it for another 350; a fresh ResNet-18 trains on all
// of it for 350 epochs (drawn over the second half, as in the paper). SGD lr 1e-3, batch 128, no momentum, no
// augmentation (both reproductions' values; the paper's lr is not verified). Like table1.fsx this uses the
// authors' code's data handling: a 2/3 training pool with the other 1/3 of the training set held out for
// evaluation, mean-0.5/sd-0.5 normalisation, and its narrow ResNet-18 (widths 16–128). Test accuracy is measured
// after every epoch and plotted against the epoch, mean ± 95 % CI band over 5 seeds, stage boundary dashed.
// Paper: both arms reach ~100 % train accuracy; the fresh arm's test accuracy ends clearly higher (values n.r.).
// No cap is needed: every stage trains a fixed number of epochs (350), as the figure.
//   full:  ./warmstart run studies/ash-adams-2020/figure1.fsx         (5 seeds × 1,050 ResNet epochs: needs a GPU)
//   quick: ./warmstart run studies/ash-adams-2020/figure1.fsx --quick (Fashion-MNIST, MLP, 3 + 3 epochs, 2 seeds)
#load "../../dsl/WarmStart.fsx"
open System.IO
open WarmStart

let figure1 =
    study "figure1" {
        data cifar10
        quick_preset fashion_mnist_mlp   // --quick: Fashion-MNIST, MLP 100-100, 2,000 examples, 3 epochs, 2 seeds
        half_normalization
        evaluate_on (held_out (2.0 / 3.0))
        model (resnet18 16)
        optimizer (sgd 1e-3)
        quick_optimizer (sgd 0.05)   // quick: 3 epochs of SGD 1e-3 stay near chance
        batch_size 128
        schedule (fractions [ 0.5; 1.0 ])
        epochs 350                   // per stage, no accuracy threshold (--quick caps it at 3)
        seeds 5
        evaluate_every 1             // test accuracy after every epoch: the figure's curves
        arm "warm" warm
        arm "fresh" fresh
    }

let r = figure1 |> Study.runFromArgs fsi.CommandLineArgs
r |> Summary.byArm |> Summary.print
let png = Path.Combine(Study.resultsFolder fsi.CommandLineArgs r, "figure1.test-accuracy.png")
CurvePlots.testAccuracyCurves png "Figure 1: test accuracy during training (mean, 95% CI over seeds)" r |> ignore
printfn "figure: %s" png
