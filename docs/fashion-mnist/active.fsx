// docs/results.md §3: active learning (Ash & Adams v1, E4) vs passive on Fashion-MNIST: rounds of 1 000 images,
// picked by margin sampling with each arm's own previous model, or at random (the passive baseline);
// MLP 784-100-100-10, Adam 1e-3, 99 % train accuracy; 3 seeds.
#load "../../dsl/WarmStart.fsx"
open WarmStart

let activeStudy name acquisition =
    study name {
        data fashion_mnist
        subset 6000
        model (mlp [ 100; 100 ])
        optimizer (adam 1e-3)
        train_until (train_accuracy 0.99) (max_epochs 200)
        seeds 3
        threads 1
        schedule (active (chunk 1000 |> rounds 5) acquisition)
        arm "fresh" fresh
        arm "warm" warm
    }

[ activeStudy "fmnist-active-margin" margin; activeStudy "fmnist-active-random" random_acquisition ]
|> Study.runAllFromArgs fsi.CommandLineArgs
|> fun rs -> (Summary.print (Summary.byArmAll rs); Summary.print (Summary.gapVsAll "fresh" rs))
