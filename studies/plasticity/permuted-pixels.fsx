// Loss of plasticity on permuted-pixel tasks (Kumar, Marklund & Van Roy 2023, permuted MNIST; Dohare et al., Nature
// 2024), on Fashion-MNIST: each task applies a fresh pixel permutation to the same training images, seen once per
// task at batch 16; task-end accuracy on 2,000 test images under the task's permutation. Kumar et al. use 10,000
// images and 500 tasks; the full mode here uses 1,000 images (63 steps per task) and 50 tasks to fit a shared
// 2-core CPU (`permuted_pixel_tasks 500 |> images 10000` is the paper's stream).
// MLP 784-100-100-10, Adam 1e-3. Arms as random-labels.fsx with Kumar et al.'s permuted-MNIST Adam settings
// (shrink-perturb p = 1 − 1e-3; ReDo τ 0 every task). Published: plain Adam's online accuracy falls over the
// tasks; L2-Init, shrink-perturb, continual backprop keep it.
//   full:  ./warmstart run studies/plasticity/permuted-pixels.fsx --jobs 2
//   quick: ./warmstart run studies/plasticity/permuted-pixels.fsx --quick
#load "../../dsl/WarmStart.fsx"
open WarmStart

let permuted =
    study "plasticity-permuted-pixels" {
        model (mlp [ 100; 100 ])
        optimizer (adam 1e-3)
        batch_size 16
        seeds 5
        schedule (stream (permuted_pixel_tasks 50 |> images 1000 |> test_images 2000 |> epochs_per_task 1))
        quick_schedule (stream (permuted_pixel_tasks 4 |> images 300 |> test_images 300 |> epochs_per_task 1))
        arm "adam" continual
        arm "l2-init" (continual |> l2_init 1e-2)
        arm "shrink-perturb" (continual |> shrink_perturb_every 1 (1.0 - 1e-3) 1e-2)
        arm "cbp" (continual |> continual_backprop 1e-3 100)
        arm "redo" (continual |> redo_every_task 0.0)
    }

let r = permuted |> Study.runFromArgs fsi.CommandLineArgs
r |> Summary.plasticityLoss |> Summary.print     // per arm: first vs last 10 % of the tasks, per-seed change with 95 % CI
r |> Summary.streamGapVs "adam" |> Summary.print // paired gaps vs plain Adam over the last 10 % of the tasks
