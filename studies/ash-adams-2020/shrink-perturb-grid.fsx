// E12 / Figure 8 (§4): the shrink-perturb trade-off, θ ← λθ + σ·θ_fresh (the authors' code's noise) before training on all the data after a
// half, as a λ × σ heat map of test accuracy and training time. ResNet-18 (width 16), CIFAR-10, Adam 1e-3 (as the
// reproduction's Figure 7), 99 % train accuracy, 3 seeds; the paper's grid and setting are not recovered, so
// λ ∈ {0, 0.2, …, 1} (Figure 7's list) × σ ∈ {0, 1e-4, 1e-3, 1e-2, 1e-1}. Paper: λ → 0 behaves like random init
// (slow, good), λ → 1 like warm start (fast, worse); λ = 0.6, σ = 0.01 matches random-init accuracy while training
// much faster; smaller λ can beat random init; perturbing helps over shrinking alone.
// Cap: 1,000 epochs per stage. The paper trains to 99 % with no cap; the cap only ends a stage that never gets there,
// and such a stage is flagged as not converged (NotConverged in the summaries).
//   full:  ./warmstart run studies/ash-adams-2020/shrink-perturb-grid.fsx
//   quick: ./warmstart run studies/ash-adams-2020/shrink-perturb-grid.fsx --quick (Fashion-MNIST, MLP)
#load "../../dsl/WarmStart.fsx"
open WarmStart

let grid =
    study "shrink-perturb-grid" {
        data cifar10
        quick_preset fashion_mnist_mlp   // --quick: Fashion-MNIST, MLP 100-100, 2,000 examples, 3 epochs, 2 seeds
        half_normalization
        evaluate_on (held_out (2.0 / 3.0))
        model (resnet18 16)
        optimizer (adam 1e-3)
        train_until (train_accuracy 0.99) (max_epochs 1000)
        seeds 3
        arm "fresh" fresh
        arm "warm" warm
        arm "sp" (shrink_perturb 0.6 0.01 |> with_fresh_init_noise)   // the authors' code: σ × a fresh init
        sweep Knob.Shrink [ 0.0; 0.2; 0.4; 0.6; 0.8; 1.0 ]
        sweep Knob.Perturb [ 0.0; 1e-4; 1e-3; 1e-2; 1e-1 ]
        // λ = 0 with σ = 0 zeroes every weight (the ResNet then gets zero gradients and never trains): validation
        // rejects it, so the grid leaves that one cell out (shown as "–").
        sweep_except [ Knob.Shrink, 0.0; Knob.Perturb, 0.0 ]
    }

let r = grid |> Study.runFromArgs fsi.CommandLineArgs
for a in Summary.byArmRows r |> List.filter (fun a -> a.Stage = 2 && a.Arm <> "sp") |> List.distinctBy (fun a -> a.Arm) do
    printfn "reference %-5s: test accuracy %.4f, %.1f epochs, %.1f s" a.Arm a.TestAccMean a.EpochsMean a.SecondsMean
for title, value in [ "test accuracy", (fun (a: Summary.ArmRow) -> a.TestAccMean); "seconds", (fun a -> a.SecondsMean)
                      "epochs", (fun a -> a.EpochsMean) ] do
    printfn "\nshrink-perturb %s (rows λ, columns σ)" title
    r |> Summary.sweepGridOf Knob.Shrink Knob.Perturb "sp" 2 value |> Summary.print
