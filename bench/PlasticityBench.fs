/// `plasticity`: the random-label task stream (Kumar et al. 2023's random-label MNIST, on Fashion-MNIST and scaled
/// in epochs per task) for the arms plain Adam, L2-Init, continual shrink-perturb, continual backprop and ReDo,
/// over several seeds, timed. Options: --tasks N (50), --epochs N per task (400 in the paper; default 20),
/// --seeds N (5), --jobs N (streams run at once, one torch thread each; default 2), --arms a,b,… (default all),
/// --lr X (Adam learning rate, 1e-3).
module WarmStart.Bench.PlasticityBench

open System
open System.Diagnostics
open System.Threading.Tasks
open TorchSharp
open WarmStart.Core.Data
open WarmStart.Core.Models
open WarmStart.Core.Plasticity
open WarmStart.Core.Runs
open WarmStart.Core.Training

let private arg (argv: string[]) (name: string) (fallback: string) =
    match Array.tryFindIndex ((=) name) argv with
    | Some i when i + 1 < argv.Length -> argv.[i + 1]
    | _ -> fallback

/// The arms, with Kumar et al.'s random-label MNIST settings for Adam where they give them (L2-Init λ 1e-2;
/// shrink-perturb p = 1 − 1e-4, σ 1e-2 every step; CBP ρ 1e-3, m 100, η 0.99; ReDo τ 0.1, period one task).
let private arm (name: string) (seed: int64) (stepsPerTask: int64) : ITrainingHook[] =
    match name with
    | "adam" -> [||]
    | "l2_init" -> [| new StreamL2Init(1e-2) |]
    | "shrink_perturb" -> [| ContinualShrinkPerturb(Seeds.Derive(seed, "snp"), shrink = 1.0 - 1e-4, sigma = 1e-2, everySteps = 1L) |]
    | "cbp" -> [| ContinualBackprop(Seeds.Derive(seed, "cbp"), replacementRate = 1e-3, decayRate = 0.99, maturityThreshold = 100) |]
    | "redo" -> [| ReDo(Seeds.Derive(seed, "redo"), tau = 0.1, period = stepsPerTask) |]
    | other -> failwithf "arm '%s' is not known; allowed: adam, l2_init, shrink_perturb, cbp, redo" other

let private allArms = [ "adam"; "l2_init"; "shrink_perturb"; "cbp"; "redo" ]

/// Entry point.
let run (argv: string[]) =
    let tasks = int (arg argv "--tasks" "50")
    let epochs = int (arg argv "--epochs" "20")
    let seeds = int (arg argv "--seeds" "5")
    let jobs = int (arg argv "--jobs" "2")
    let lr = float (arg argv "--lr" "1e-3")
    let arms = (arg argv "--arms" (String.Join(",", allArms))).Split(',') |> List.ofArray
    WarmStart.Core.Native.Threads.Configure(1) |> ignore
    let data = Catalog.Load "fashion-mnist"
    let spec = TaskStreamSpec.RandomLabels(tasks, epochs)
    let stepsPerTask = int64 (ceil (float spec.Images / float spec.BatchSize)) * int64 epochs
    printfn "plasticity benchmark: random-label stream on fashion-mnist, %d images, batch %d, %d tasks × %d epochs (%d steps per task), mlp[100,100] relu, adam lr %g, %d seed(s), %d job(s), torch %s"
        spec.Images spec.BatchSize tasks epochs stepsPerTask lr seeds jobs torch.__version__
    let runs = [| for a in arms do for s in 1 .. seeds -> a, int64 s |]
    let results = Collections.Concurrent.ConcurrentDictionary<string * int64, StreamResult>()
    let wall = Stopwatch.StartNew()
    Parallel.ForEach(runs, ParallelOptions(MaxDegreeOfParallelism = jobs), fun (a, s) ->
        let seed = Seeds.Derive(s, "plasticity-bench")
        let o = TaskStreamOptions(Spec = spec, Model = ModelSpec.Mlp(100, 100), Optimizer = OptimizerSpec.Adam lr, Seed = seed,
                                  Hooks = arm a seed stepsPerTask)
        let r = TaskStream.Run(data, o)
        results.[(a, s)] <- r
        let n = max 1 (tasks / 10)
        let mean (xs: seq<TaskResult>) = xs |> Seq.averageBy (fun t -> t.OnlineAccuracy)
        lock results (fun () ->
            printfn "  %-14s seed %d: %6.1f s, %.1f µs/step, online accuracy first %d tasks %.4f, last %d tasks %.4f, dormant(τ 0.1) last %.3f, srank last %d"
                a s r.Seconds (r.Seconds / float (stepsPerTask * int64 tasks) * 1e6) n (mean (Seq.take n r.Tasks)) n
                (mean (Seq.skip (tasks - n) r.Tasks)) (Array.average r.Tasks.[tasks - 1].Metrics.Dormant) r.Tasks.[tasks - 1].Metrics.SRank)) |> ignore
    let total = wall.Elapsed.TotalSeconds
    printfn "summary (mean over seeds of the per-task online accuracy):"
    for a in arms do
        let rs = [ for s in 1 .. seeds -> results.[(a, int64 s)] ]
        let n = max 1 (tasks / 10)
        let first = rs |> List.averageBy (fun r -> r.Tasks |> Seq.take n |> Seq.averageBy (fun t -> t.OnlineAccuracy))
        let last = rs |> List.averageBy (fun r -> r.Tasks |> Seq.skip (tasks - n) |> Seq.averageBy (fun t -> t.OnlineAccuracy))
        printfn "  %-14s first %d tasks %.4f, last %d tasks %.4f, change %+.4f, %.1f s per stream" a n first n last (last - first)
            (rs |> List.averageBy (fun r -> r.Seconds))
    printfn "plasticity benchmark: %d streams (%d arms × %d seeds × %d tasks) in %.1f s wall with %d job(s)" runs.Length arms.Length seeds tasks total jobs
    0
