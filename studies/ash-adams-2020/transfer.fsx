// E5 / Figure 9 (v3 §4.2; v1's transfer experiment): pre-train ResNet-18 on CIFAR-10, then train on a growing
// fraction {10, 30, 60, 100 %} of SVHN warm-started, shrink-perturbed (λ 0.3, σ 1e-4) or from scratch; SGD 1e-3,
// 99 % train accuracy. Paper: with little target data pre-training wins, with more it falls behind; S&P tracks
// the better of the two at every fraction (per-fraction numbers not recovered). ([R] also trains the source on
// the fraction p; here the source uses its whole pool, as in v1.)
// Quick mode: no second dataset is installed here, so it transfers between two class views of Fashion-MNIST,
// clothing (6 classes) → shoes and bags (4 classes): a real task change, with the head re-initialised (SGD 0.05).
// The views are dataset words (`fashion_mnist |> classes [ … ]`), part of every node key and of the variant names,
// so the same script runs in any process (Slurm tasks included).
// Cap: 1,000 epochs per stage; the paper trains to 99 % with no cap, and a stage that hits it is flagged as not converged.
//   full:  ./warmstart run studies/ash-adams-2020/transfer.fsx
//   quick: ./warmstart run studies/ash-adams-2020/transfer.fsx --quick
#load "../../dsl/WarmStart.fsx"
open WarmStart
open Deedle

// The quick variant transfers between two class views of Fashion-MNIST (relabelled 0…k−1 in the order given).
let clothing, shoesBags = fashion_mnist |> classes [ 0; 1; 2; 3; 4; 6 ], fashion_mnist |> classes [ 5; 7; 8; 9 ]
let transferStudy =
    study "transfer" {
        data cifar10
        quick_preset fashion_mnist_mlp   // --quick: MLP 100-100, 2,000 examples, 3 epochs, 2 seeds …
        quick_data clothing              // … on the clothing classes, then the shoes and bags
        half_normalization
        model (resnet18 16)
        optimizer (sgd 1e-3)
        quick_optimizer (sgd 0.05)   // quick: 3 epochs of SGD 1e-3 stay at chance
        train_until (train_accuracy 0.99) (max_epochs 1000)
        seeds 5
        schedule (transfer cifar10 svhn [ 0.1; 0.3; 0.6; 1.0 ])
        quick_schedule (transfer clothing shoesBags [ 0.1; 0.3; 0.6; 1.0 ])
        arm "fresh" fresh
        arm "warm" warm
        arm "sp" (shrink_perturb 0.3 1e-4 |> with_fresh_init_noise)   // [R]: σ × a fresh init
    }

let r = transferStudy |> Study.runFromArgs fsi.CommandLineArgs
r |> Summary.byArm |> Frame.filterRowsBy "Stage" 2 |> Summary.print   // target accuracy per fraction and arm
r |> Summary.gapVs "fresh" |> Summary.print
