// Loss of plasticity on random-label tasks (Kumar, Marklund & Van Roy 2023, "Maintaining plasticity in continual
// learning via regenerative regularization", random-label MNIST; Lyle et al. 2023), on Fashion-MNIST: 1,200 fixed
// training images get fresh uniform labels every task; an MLP 784-100-100-10 with Adam 1e-3 at batch 16 has to
// memorise each new labelling. The paper uses 1,200 images, 400 epochs per task (30,000 steps) and 50 tasks; the
// full mode here uses 300 images, 30 epochs per task (570 steps) and 20 tasks to fit a shared 2-core CPU
// (`random_label_tasks 50 |> images 1200 |> epochs_per_task 400` is the paper's stream). Arms: plain Adam, L2-Init (λ 1e-2), shrink-perturb every
// step (p = 1 − 1e-4, σ 1e-2), continual backprop (ρ 1e-3, m 100, η 0.99) and ReDo (τ 0.1, every task), with
// Kumar et al.'s Adam settings. Published: plain Adam's per-task accuracy falls over the tasks; the others keep it.
//   full:  ./warmstart run studies/plasticity/random-labels.fsx --jobs 2
//   quick: ./warmstart run studies/plasticity/random-labels.fsx --quick
#load "../../dsl/WarmStart.fsx"
open WarmStart

let tasks, perTask, pool, batch = 20, 30, 300, 16

let randomLabels =
    study "plasticity-random-labels" {
        model (mlp [ 100; 100 ])
        optimizer (adam 1e-3)
        batch_size batch
        seeds 5
        schedule (stream (random_label_tasks tasks |> images pool |> epochs_per_task perTask))
        quick_schedule (stream (random_label_tasks 4 |> images 300 |> epochs_per_task 2))
        arm "adam" continual
        arm "l2-init" (continual |> l2_init 1e-2)
        arm "shrink-perturb" (continual |> shrink_perturb_every 1 (1.0 - 1e-4) 1e-2)
        arm "cbp" (continual |> continual_backprop 1e-3 100)
        arm "redo" (continual |> redo_every_task 0.1)
    }

let r = randomLabels |> Study.runFromArgs fsi.CommandLineArgs
r |> Summary.plasticityLoss |> Summary.print     // per arm: first vs last 10 % of the tasks, per-seed change with 95 % CI
r |> Summary.streamGapVs "adam" |> Summary.print // paired gaps vs plain Adam over the last 10 % of the tasks
