/// `load` benchmark (issue 14): a sweep of tiny MLP trainings run the way the executor runs a study's nodes by
/// default (`--jobs auto`, `Parallelism.choose`: on the CPU a worker per usable core — affinity and cgroup quota —
/// with one torch thread each; OpenMP waiting passively), timed on the machine as it is and again beside two
/// synthetic busy processes (one spinning shell loop each), in one process run. Prints both times and exactly
/// `under load / quiet: <x>×`. Options: --nodes N (trainings in the sweep; default 60), --jobs N and --threads N
/// (override the default workers and threads, as the study options do).
module WarmStart.Bench.LoadBench

open System
open System.Diagnostics
open TorchSharp
open WarmStart.Core.Data
open WarmStart.Core.Models
open WarmStart.Core.Native
open WarmStart.Core.Runs
open WarmStart.Core.Training

/// One tiny training (MLP 784-32-10, Adam, batch 128, one epoch on its own 1 000-image pool): the shape of an
/// online-rounds sweep's node, where per-step overhead and thread hand-offs dominate.
let private train (splits: DataSplits) (k: int) =
    let seed = int64 k
    use perm = Subsets.Permutation(splits.Train.Count, Seeds.Derive(seed, "pool"))
    use idx = Subsets.Prefix(perm, 1000L)
    use m = ModelFactory.Create(ModelSpec.Mlp(32), splits.Train.Shape, 10, Seeds.Derive(seed, "init"))
    let o = TrainOptions(OptimizerSpec = OptimizerSpec.Adam 1e-3, BatchSize = 128, Stop = StopRule.Epochs 1, OrderSeed = Seeds.Derive(seed, "order"))
    let struct (_, opt) = Trainer.Fit(m, splits.Train, idx, o)
    opt.Dispose()

/// N tiny trainings on `workers` threads, each taking the next training when it finishes one (as the executor's
/// workers take the next ready node). Returns the wall time in seconds.
let private sweep (splits: DataSplits) (workers: int) (nodes: int) =
    let sw = Stopwatch.StartNew()
    let next = ref 0
    let work () =
        let mutable k = Threading.Interlocked.Increment(&next.contents)
        while k <= nodes do
            train splits k
            k <- Threading.Interlocked.Increment(&next.contents)
    let threads = [ for _ in 1 .. max 1 workers -> Threading.Thread(work, 64 * 1024 * 1024) ]
    for t in threads do t.Start()
    for t in threads do t.Join()
    sw.Elapsed.TotalSeconds

/// Starts a process that keeps one core busy until killed.
let private busy () =
    let psi = ProcessStartInfo("/bin/sh", [| "-c"; "while :; do :; done" |])
    psi.UseShellExecute <- false
    Process.Start psi

/// Runs the benchmark.
let run (argv: string[]) =
    TorchRuntime.EnsureLoaded()
    let opt name fallback =
        match Array.tryFindIndex ((=) name) argv with
        | Some i when i + 1 < argv.Length -> int argv[i + 1]
        | _ -> fallback
    let nodes = opt "--nodes" 60
    // The executor's choice for a plan of MLPs on the CPU (`--jobs auto` unless --jobs is given).
    let chosen =
        WarmStart.Parallelism.choose WarmStart.Device.Cpu (Threads.AvailableCores()) [ WarmStart.ModelKind.Mlp ]
            (opt "--jobs" WarmStart.Parallelism.AutoJobs) (opt "--threads" 0)
    let threads = Threads.Configure(chosen.Threads, chosen.Jobs)
    use splits = Catalog.Load("fashion-mnist")
    printfn "load benchmark: %d tiny MLP trainings (784-32-10, Adam, 1 000 images, 1 epoch); %s (available cores %d of %d logical); native defaults: %s"
        nodes (WarmStart.Parallelism.describe { chosen with Threads = threads }) (Threads.AvailableCores()) Environment.ProcessorCount
        (match NativeEnvironment.Applied with
         | xs when xs.Count = 0 -> "none (set by the user)"
         | xs -> String.Join(", ", xs))
    sweep splits chosen.Jobs (max 3 chosen.Jobs) |> ignore // warm-up
    let quiet = sweep splits chosen.Jobs nodes
    printfn "quiet     : %.2fs" quiet
    let procs = [ busy (); busy () ]
    let loaded =
        try
            Threading.Thread.Sleep 500
            sweep splits chosen.Jobs nodes
        finally
            for p in procs do
                try p.Kill true with _ -> ()
                p.WaitForExit()
                p.Dispose()
    printfn "under load: %.2fs (beside two busy processes)" loaded
    printfn "under load / quiet: %.2f×" (loaded / quiet)
    0
