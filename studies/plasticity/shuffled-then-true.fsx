// Warm start after training on shuffled labels (the W-C protocol: Achille et al. 2017's corrupted-data pre-training,
// Lyle et al. 2023's random-label fitting, Kumar et al. 2023 §2): phase A trains an MLP 784-100-100-10 (Adam 1e-3,
// batch 128) on a 12,000-image Fashion-MNIST pool whose labels are uniformly random, for at most 50 epochs; phase B
// trains on a 12,000-image pool with the true labels until 99 % train accuracy. Arms: fresh (phase B from a new
// init), warm, shrink-perturb λ 0.6 σ 0.01 at the switch, warm + L2-init λ 1e-2. The two phases draw their pools
// independently (a pool is seeded per dataset name, and the shuffled labels are a view with its own name), so
// phase B sees mostly new images. Expected: warm needs more epochs and/or reaches lower test accuracy than fresh.
//   full:  ./warmstart run studies/plasticity/shuffled-then-true.fsx --jobs 2
//   quick: ./warmstart run studies/plasticity/shuffled-then-true.fsx --quick
#load "../../dsl/WarmStart.fsx"
open WarmStart

let shuffledThenTrue =
    study "plasticity-shuffled-then-true" {
        model (mlp [ 100; 100 ])
        optimizer (adam 1e-3)
        batch_size 128
        subset 12000
        train_until (train_accuracy 0.99) (max_epochs 50)
        seeds 5
        schedule (transfer (fashion_mnist |> random_labels 7L) fashion_mnist [ 1.0 ])
        arm "fresh" fresh
        arm "warm" warm
        arm "sp" (shrink_perturb 0.6 0.01)
        arm "l2-init" (warm |> l2_init 1e-2)
    }

let r = shuffledThenTrue |> Study.runFromArgs fsi.CommandLineArgs
r |> Summary.byArm |> Summary.print
r |> Summary.gapVs "fresh" |> Summary.print
