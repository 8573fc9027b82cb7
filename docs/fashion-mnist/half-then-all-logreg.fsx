// docs/results.md §1b: half-then-all with multinomial logistic regression (a convex problem: the paper expects
// no warm-start gap). Same protocol as the quickstart: 12 000-image pool, Adam 1e-3, batch 128, 99 % train
// accuracy or 100 epochs (logistic regression rarely reaches 99 % on Fashion-MNIST), 5 paired seeds.
#load "../../dsl/WarmStart.fsx"
open WarmStart

study "fmnist-logreg-half-then-all" {
    data fashion_mnist
    subset 12000
    model logistic_regression
    optimizer (adam 1e-3)
    train_until (train_accuracy 0.99) (max_epochs 100)
    seeds 5
    threads 1
    arm "fresh" fresh
    arm "warm" warm
    arm "shrink-perturb" (shrink_perturb 0.6 0.01)
}
|> Study.runFromArgs fsi.CommandLineArgs
|> fun r -> (Summary.print (Summary.byArm r); Summary.print (Summary.gapVs "fresh" r))
