// Every initialisation policy and regulariser of the toolkit, end to end, with all three diagnostics on: a smoke
// test of the whole vocabulary (CI runs it with --quick) and a side-by-side of the methods on "half, then all".
//   ./warmstart run studies/policies.fsx --quick   (about half a minute)
#load "../dsl/WarmStart.fsx"
open WarmStart
open Deedle

let policies =
    study "policies" {
        data fashion_mnist
        subset 12000
        model (mlp [ 100; 100 ])
        optimizer (adam 1e-3)
        train_until (train_accuracy 0.99) (max_epochs 200)
        seeds 3
        arm "fresh" fresh
        arm "warm" warm
        arm "sp" (shrink_perturb 0.6 0.01)
        arm "sp-fresh-noise" (shrink_perturb 0.4 0.1 |> with_fresh_init_noise)
        arm "shrink" (shrink 0.6)
        arm "perturb" (perturb 0.01)
        arm "partial-warm" (partial_warm [ "hidden1" ])
        arm "head-reset" head_reset
        arm "dash" (dash 0.3 0.3)
        arm "warm-keep-opt" (warm |> keep_optimizer_state)
        arm "warm-l2-init" (warm |> l2_init 1e-2)
        arm "warm-l2-init-dash" (warm |> l2_init_dash_form 1e-2)
        arm "warm-ewc" (warm |> ewc 100.0)
        arm "warm-ewc-empirical" (warm |> ewc_empirical 100.0)
        arm "warm-lr2-batch64" (warm |> with_lr 1e-4 |> with_batch_size 64)
        measure_correlation
        measure_gradient_norms
        measure_shrink_accuracy 11
    }

let r = policies |> Study.runFromArgs fsi.CommandLineArgs
for title, table in [ "test accuracy", Summary.byArm r; "paired gap vs fresh", Summary.gapVs "fresh" r
                      "weight correlation (stage 2)", Summary.correlations r |> Frame.filterRowsBy "Stage" 2
                      "gradient norms, old vs new data", Summary.gradientNorms r
                      "accuracy of the shrunk final models", Summary.shrinkAccuracy r |> Frame.filterRowsBy "Stage" 2 ] do
    printfn "%s:" title
    Summary.print table
