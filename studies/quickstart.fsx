// Quickstart: Ash & Adams §2 "half, then all" on real Fashion-MNIST with an MLP.
// Train to 99 % train accuracy on a random half of a 12 000-image pool, then on all of it, starting the
// second stage fresh, warm, or shrink-perturbed; five paired seeds; test accuracy on the official test set.
//   dotnet fsi studies/quickstart.fsx            (full: about ten minutes on two cores)
//   dotnet fsi studies/quickstart.fsx -- --quick (smoke test: about a minute)
#load "../dsl/WarmStart.fsx"
open WarmStart

let halfThenAll =
    study "quickstart" {
        data fashion_mnist
        subset 12000
        model (mlp [ 100; 100 ])
        optimizer (adam 1e-3)
        batch_size 128
        train_until (train_accuracy 0.99) (max_epochs 200)
        seeds 5
        schedule (fractions [ 0.5; 1.0 ])
        arm "fresh" fresh
        arm "warm" warm
        arm "shrink-perturb" (shrink_perturb 0.6 0.01)
    }

let result = halfThenAll |> Study.runFromArgs fsi.CommandLineArgs
result |> Summary.byArm |> Summary.print
result |> Summary.gapVs "fresh" |> Summary.print
