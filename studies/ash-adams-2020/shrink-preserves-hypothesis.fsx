// E11 / Proposition 1 and Figure 6 (§4): shrinking preserves the hypothesis. For a bias-free ReLU network without
// BatchNorm, scaling every weight by λ scales the logits by λ^L, so the arg-max (and the accuracy) is unchanged for
// every λ > 0 while confidence drops. As the reproduction: train on CIFAR-10 with SGD lr 0.1 for 50 epochs a
// ResNet-18 (BN; width 16 here) and four MLPs (ReLU or tanh, with or without bias; 2 × 100 here), then record test
// accuracy with all parameters × λ on 81 points of [0, 1]. Paper: the BN ResNet keeps its accuracy until λ < ~0.1,
// the ReLU MLP with bias until λ < ~0.6. Quick mode: Fashion-MNIST, 11 points, a small 8/16-channel CNN (no BN) for the ResNet.
// No cap is needed: every model trains a fixed 50 epochs, as [R].
//   full:  ./warmstart run studies/ash-adams-2020/shrink-preserves-hypothesis.fsx
//   quick: ./warmstart run studies/ash-adams-2020/shrink-preserves-hypothesis.fsx --quick
#load "../../dsl/WarmStart.fsx"
open WarmStart
open Deedle

let relu = mlp [ 100; 100 ]
let tanh = relu |> with_activation Activation.Tanh
// (name, model, model of the quick variant): the CNN row is a ResNet-18, shrunk to a small CNN for a smoke test.
let models = [ "cnn", resnet18 16, { small_cnn with Widths = [ 8; 16 ] }; "relu-bias", relu, relu; "relu-nobias", without_bias relu, without_bias relu
               "tanh-bias", tanh, tanh; "tanh-nobias", without_bias tanh, without_bias tanh ]
let studies =
    [ for name, m, quickModel in models ->
        study ("shrink-hypothesis-" + name) {
            data cifar10
            quick_data fashion_mnist
            model m
            quick_model quickModel
            optimizer (sgd 0.1)
            epochs 50
            seeds 3
            schedule (fractions [ 1.0 ])
            arm "fresh" fresh
            measure_shrink_accuracy 81
            quick_shrink_accuracy 11
            shrink_accuracy_batch_norm batch_statistics } ]   // the reproduction's Figure 6: BN on batch statistics

let results = studies |> Study.runAllFromArgs fsi.CommandLineArgs
let byModel = Frame.ofColumns [ for r in results -> r.Study.Name.Replace("shrink-hypothesis-", ""),
                                                    Series.ofObservations [ for x in Summary.shrinkAccuracyRows r -> x.Lambda, x.AccuracyMean ] ]
byModel.AddColumn("lambda", byModel.RowKeys)
printfn "test accuracy of the trained model with every parameter × λ (mean over seeds)"
byModel |> Frame.sliceCols ("lambda" :: [ for name, _, _ in models -> name ]) |> Summary.print
