// E5 / Figure 9 (v3 §4.2; v1's transfer experiment): pre-train ResNet-18 on CIFAR-10, then train on a growing
// fraction {10, 30, 60, 100 %} of SVHN warm-started, shrink-perturbed (λ 0.3, σ 1e-4) or from scratch; SGD 1e-3,
// 99 % train accuracy. Paper: with little target data pre-training wins, with more it falls behind; S&P tracks
// the better of the two at every fraction (per-fraction numbers not recovered). ([R] also trains the source on
// the fraction p; here the source uses its whole pool, as in v1.)
// Quick mode: no second dataset is installed here, so it transfers between two class splits of Fashion-MNIST,
// clothing (6 classes) → shoes and bags (4 classes): a real task change, with the head re-initialised (SGD 0.05).
//   full:  ./warmstart run studies/ash-adams-2020/transfer.fsx
//   quick: ./warmstart run studies/ash-adams-2020/transfer.fsx --quick
#load "../../dsl/WarmStart.fsx"
open WarmStart
open WarmStart.Core.Data
open Deedle

/// Fashion-MNIST restricted to some classes (relabelled 0…k−1), registered in the catalog under a new name.
let fashionClasses name (classes: int list) =
    let fm = Catalog.Get "fashion-mnist"
    let lut = TorchSharp.torch.tensor [| for c in 0 .. 9 -> int64 (defaultArg (List.tryFindIndex ((=) c) classes) -1) |]
    let keep (d: Dataset) =
        use idx = lut.index_select(0L, d.Labels).ge(TorchSharp.Scalar.op_Implicit 0L).nonzero().squeeze(1L)
        new Dataset(d.Name.Replace(fm.Name, name), d.Images.index_select(0L, idx), lut.index_select(0L, d.Labels.index_select(0L, idx)), classes.Length, d.Normalization)
    let names = [| for c in classes -> fm.ClassNames[c] |]
    let load dir norm = use all = fm.Load.Invoke(dir, norm) in new DataSplits(keep all.Train, keep all.Test, names)
    Catalog.Register(DatasetEntry(name, fm.Folder, fm.Channels, fm.Height, fm.Width, names, fm.Normalization, fm.Files,
                                  fm.DebianPackage, fm.IsPresentIn, System.Func<_, _, _>(load)))
    dataset name

// The quick variant transfers between two halves of Fashion-MNIST's classes.
let clothing, shoesBags = fashionClasses "fashion-mnist-clothing" [ 0; 1; 2; 3; 4; 6 ], fashionClasses "fashion-mnist-shoes-bags" [ 5; 7; 8; 9 ]
let transferStudy =
    study "transfer" {
        data cifar10
        quick_data clothing
        half_normalization
        model (resnet18 16)
        quick_model (mlp [ 100; 100 ])
        optimizer (sgd 1e-3)
        quick_optimizer (sgd 0.05)   // quick: 3 epochs of SGD 1e-3 stay at chance
        train_until (train_accuracy 0.99) (max_epochs 1000)
        seeds 5
        schedule (transfer cifar10 svhn [ 0.1; 0.3; 0.6; 1.0 ])
        quick_schedule (transfer clothing shoesBags [ 0.1; 0.3; 0.6; 1.0 ])
        arm "fresh" fresh
        arm "warm" warm
        arm "sp" (shrink_perturb 0.3 1e-4)
    }

let r = transferStudy |> Study.runFromArgs fsi.CommandLineArgs
r |> Summary.byArm |> Frame.filterRowsBy "Stage" 2 |> Summary.print   // target accuracy per fraction and arm
r |> Summary.gapVs "fresh" |> Summary.print
