// docs/results.md §2: passive online learning (Ash & Adams E3) on Fashion-MNIST: rounds of 1 000 new images,
// each round trains on everything seen so far to 99 % train accuracy; MLP 784-100-100-10, Adam 1e-3; 3 seeds.
#load "../../dsl/WarmStart.fsx"
open WarmStart

study "fmnist-online" {
    data fashion_mnist
    subset 6000
    model (mlp [ 100; 100 ])
    optimizer (adam 1e-3)
    train_until (train_accuracy 0.99) (max_epochs 200)
    seeds 3
    threads 1
    schedule (online (chunk 1000))
    arm "fresh" fresh
    arm "warm" warm
    arm "shrink-perturb" (shrink_perturb 0.6 0.01)
}
|> Study.runFromArgs fsi.CommandLineArgs
|> fun r -> (Summary.print (Summary.byArm r); Summary.print (Summary.gapVs "fresh" r))
