/// `load` benchmark (issue 14): a sweep of tiny MLP trainings with the toolkit's default threads (cores from the
/// process's affinity and cgroup quota; OpenMP waiting passively), timed on the machine as it is and again beside
/// two synthetic busy processes (one spinning shell loop each), in one process run. Prints both times and exactly
/// `under load / quiet: <x>×`. Options: --nodes N (trainings in the sweep; default 60), --threads N (override the
/// default thread count).
module WarmStart.Bench.LoadBench

open System
open System.Diagnostics
open TorchSharp
open WarmStart.Core.Data
open WarmStart.Core.Models
open WarmStart.Core.Native
open WarmStart.Core.Runs
open WarmStart.Core.Training

/// N tiny trainings (MLP 784-32-10, Adam, batch 128, one epoch on its own 1 000-image pool): the shape of an
/// online-rounds sweep, where per-step overhead and thread hand-offs dominate.
let private sweep (splits: DataSplits) (nodes: int) =
    let sw = Stopwatch.StartNew()
    for k in 1 .. nodes do
        let seed = int64 k
        use perm = Subsets.Permutation(splits.Train.Count, Seeds.Derive(seed, "pool"))
        use idx = Subsets.Prefix(perm, 1000L)
        use m = ModelFactory.Create(ModelSpec.Mlp(32), splits.Train.Shape, 10, Seeds.Derive(seed, "init"))
        let o = TrainOptions(OptimizerSpec = OptimizerSpec.Adam 1e-3, BatchSize = 128, Stop = StopRule.Epochs 1, OrderSeed = Seeds.Derive(seed, "order"))
        let struct (_, opt) = Trainer.Fit(m, splits.Train, idx, o)
        opt.Dispose()
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
    let threads = Threads.Configure(opt "--threads" 0)
    use splits = Catalog.Load("fashion-mnist")
    printfn "load benchmark: %d tiny MLP trainings (784-32-10, Adam, 1 000 images, 1 epoch); torch threads %d (available cores %d of %d logical); native defaults: %s"
        nodes threads (Threads.AvailableCores()) Environment.ProcessorCount
        (match NativeEnvironment.Applied with
         | xs when xs.Count = 0 -> "none (set by the user)"
         | xs -> String.Join(", ", xs))
    sweep splits 3 |> ignore // warm-up
    let quiet = sweep splits nodes
    printfn "quiet     : %.2fs" quiet
    let procs = [ busy (); busy () ]
    let loaded =
        try
            Threading.Thread.Sleep 500
            sweep splits nodes
        finally
            for p in procs do
                try p.Kill true with _ -> ()
                p.WaitForExit()
                p.Dispose()
    printfn "under load: %.2fs (beside two busy processes)" loaded
    printfn "under load / quiet: %.2f×" (loaded / quiet)
    0
