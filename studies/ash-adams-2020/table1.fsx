// E2 / Table 1 of Ash & Adams (NeurIPS 2020): "half, then all". Train to 99 % train accuracy on a random half,
// then on all data, warm-started vs freshly initialised; models {ResNet-18, MLP, logistic regression} × optimisers
// {SGD, Adam} (lr 1e-3, batch 128) × datasets {CIFAR-10, SVHN, CIFAR-100}; 5 seeds; authors' code's 2/3 : 1/3
// split and mean-0.5/sd-0.5 normalisation. Paper, CIFAR-10 (random / warm): ResNet SGD 56.2 / 51.7, ResNet Adam
// 78.0 / 74.4, MLP SGD 39.0 / 37.4, MLP Adam 39.4 / 36.1; LR SGD 40.5 / n.r., LR Adam 33.8 / n.r. (LR: no gap).
// The paper has no epoch cap; logistic regression does not get near 99 % train accuracy on these datasets, so, like
// [R]'s plateau rule, it stops when the epoch loss has not improved for 10 epochs (cap 200).
// ResNet-18 and MLP stages are capped at 1,000 epochs, which only ends a stage that never gets to 99 % (flagged as
// not converged).
//   full:  ./warmstart run studies/ash-adams-2020/table1.fsx        (18 studies, 5 seeds: needs a GPU)
//   quick: ./warmstart run studies/ash-adams-2020/table1.fsx --quick (Fashion-MNIST, MLP and LR × SGD/Adam)
#load "../../dsl/WarmStart.fsx"
open WarmStart

let datasets = [ "cifar10", cifar10; "svhn", svhn; "cifar100", cifar100 ]
let models = [ "resnet", resnet18 16; "mlp", mlp [ 100; 100; 100 ] |> with_activation Activation.Tanh; "lr", logistic_regression ]
// The quick variant: the MLP and LR rows on Fashion-MNIST (the CIFAR-10 studies stand for every dataset; ResNet-18
// is left out).
let table1 =
    [ for dn, d in datasets do
      for mn, m in models do
      for o in [ sgd 1e-3; adam 1e-3 ] ->
        study (sprintf "table1-%s-%s-%s" dn mn o.Kind.Name) {
            data d
            quick_data fashion_mnist
            quick_name (sprintf "table1-fmnist-%s-%s" mn o.Kind.Name)
            quick_skip (dn <> "cifar10" || mn = "resnet")
            half_normalization
            evaluate_on (held_out (2.0 / 3.0))
            model m
            optimizer o
            train_until (train_accuracy 0.99) (if mn = "lr" then patience 10 else max_epochs 1000)
            seeds 5
            arm "fresh" fresh
            arm "warm" warm } ]

let results = table1 |> Study.runAllFromArgs fsi.CommandLineArgs
results |> Summary.byArmAll |> Summary.print
results |> Summary.gapVsAll "fresh" |> Summary.print
