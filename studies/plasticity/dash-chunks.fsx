// DASH's 50-chunk protocol (Shin et al., NeurIPS 2024, main.py) on Fashion-MNIST with an MLP: a 12,000-image pool
// arrives in 50 chunks of 240; each round trains on everything seen so far until 99.9 % train accuracy (cap 100
// epochs per round), MLP 784-100-100-10, SGD lr 1e-3 momentum 0.9, batch 128, official test split. Arms: cold
// (fresh), warm with its optimiser kept (DASH's `warm`), shrink-perturb λ 0.3 σ 0.01, L2-init 1e-2 in DASH's form,
// DASH α 0.3 λ 0.3. DASH reports (CIFAR-10, ResNet-18) warm below cold and S&P and DASH above both; whether an
// MLP on Fashion-MNIST shows the same is what this study measures.
//   full:  ./warmstart run studies/plasticity/dash-chunks.fsx --jobs 2   (50 rounds × 5 arms × 3 seeds: hours here)
//   quick: ./warmstart run studies/plasticity/dash-chunks.fsx --quick    (3 rounds of 1,000, SGD 0.05)
#load "../../dsl/WarmStart.fsx"
open WarmStart

let dashChunks =
    study "plasticity-dash-chunks" {
        model (mlp [ 100; 100 ])
        optimizer (sgd 1e-3 |> with_momentum 0.9)
        quick_optimizer (sgd 0.05 |> with_momentum 0.9)   // quick: 3 epochs of SGD 1e-3 stay near chance
        batch_size 128
        subset 12000
        train_until (train_accuracy 0.999) (max_epochs 100)
        seeds 3
        schedule (online (chunk 240))
        quick_subset 3000
        quick_schedule (online (chunk 1000))
        arm "fresh" fresh
        arm "warm" (warm |> keep_optimizer_state)
        arm "sp" (shrink_perturb 0.3 0.01)
        arm "l2-init" (warm |> l2_init_dash_form 1e-2)
        arm "dash" (dash 0.3 0.3)
    }

let r = dashChunks |> Study.runFromArgs fsi.CommandLineArgs
r |> Summary.byArm |> Summary.print
r |> Summary.gapVs "fresh" |> Summary.print
