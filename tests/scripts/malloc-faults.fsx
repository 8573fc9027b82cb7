// Run by test list native.malloc as `dotnet fsi tests/scripts/malloc-faults.fsx`, with and without
// WARMSTART_MALLOC=default: on a worker thread (as the executor trains), a stack of 16 MLPs 784-100-100-10 trains one
// epoch of 16 steps on real Fashion-MNIST twice; prints the page faults and seconds of the second epoch and what
// MallocTuning did. A stack's step makes and frees megabytes of temporaries.
#load "../../dsl/WarmStart.fsx"
open System
open System.Diagnostics
open WarmStart.Core.Data
open WarmStart.Core.Models
open WarmStart.Core.Native
open WarmStart.Core.Runs
open WarmStart.Core.Training
open WarmStart.Core.Training.Stacked

Threads.Configure 1 |> ignore
/// Minor page faults of this process so far (field 10 of /proc/self/stat).
let minorFaults () = (IO.File.ReadAllText "/proc/self/stat").Split(' ').[9] |> int64
let splits = Catalog.Load("fashion-mnist")
let epoch () =
    let members =
        [| for k in 0 .. 15 ->
            let seed = int64 (1000 + k)
            use perm = Subsets.Permutation(splits.Train.Count, Seeds.Derive(seed, "pool"))
            let model = ModelFactory.Create(ModelSpec.Mlp(100, 100), splits.Train.Shape, 10, Seeds.Derive(seed, "init"))
            StackedMember(model, Subsets.Prefix(perm, 2048L), Seeds.Derive(seed, "order"), StopRule.Epochs 1) |]
    let f0, sw = minorFaults (), Stopwatch.StartNew()
    StackedTrainer.Fit(members, splits.Train, StackedOptions(OptimizerSpec = OptimizerSpec.Adam 1e-3, BatchSize = 128)) |> ignore
    minorFaults () - f0, sw.Elapsed.TotalSeconds
let mutable second = (0L, 0.0)
let worker = Threading.Thread(fun () -> epoch () |> ignore; second <- epoch ())
worker.Start()
worker.Join()
printfn "second epoch: %d page faults, %.3f s" (fst second) (snd second)
printfn "malloc: %s" MallocTuning.Report
