// docs/results.md §1b, the control of the logistic-regression result: the same pool, seeds and protocol as
// half-then-all-logreg.fsx, but every stage may run 200 epochs. Logistic regression never reaches 99 % train
// accuracy on Fashion-MNIST, so the fresh arm's second stage trains exactly 200 epochs — the total the warm arm
// of half-then-all-logreg.fsx trains (100 in stage 1, 100 in stage 2). Seeds are derived from the seed index
// alone, so seed i here has the pool, data order and initialisation of seed i there: the two studies pair.
#load "../../dsl/WarmStart.fsx"
open WarmStart

study "fmnist-logreg-fresh-200" {
    data fashion_mnist
    subset 12000
    model logistic_regression
    optimizer (adam 1e-3)
    train_until (train_accuracy 0.99) (max_epochs 200)
    seeds 5
    threads 1
    arm "fresh" fresh
}
|> Study.runFromArgs fsi.CommandLineArgs
|> fun r -> Summary.print (Summary.byArm r)
