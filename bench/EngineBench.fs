/// `engine` benchmark (issue 6), all ratios measured in one process run:
///  1. the toolkit's Trainer against a bare TorchSharp loop (same MLP, batch, data, threads, DisposeScope per step), and
///     the Trainer with one no-op AfterStep hook (the cost of the hook path);
///  2. half-then-all with 3 arms: stage trainings the plan executes vs a naive one-run-per-arm driver;
///  3. re-running a finished study (everything cached) as a fraction of the first run;
///  4. --jobs 2 vs --jobs 1 on a study of many small nodes.
module WarmStart.Bench.EngineBench

open System
open System.Diagnostics
open System.IO
open TorchSharp
open WarmStart
open WarmStart.Core.Data
open WarmStart.Core.Models
open WarmStart.Core.Native
open WarmStart.Core.Runs
open WarmStart.Core.Training

/// The bare loop: permutation, gather, float + normalise, forward, loss, backward, step — nothing else.
let private bareLoop (model: Network) (data: Dataset) (indices: torch.Tensor) (epochs: int) (seed: int64) =
    use opt = torch.optim.Adam(model.parameters(), 1e-3)
    let n = indices.shape[0]
    let sw = Stopwatch.StartNew()
    for e in 1 .. epochs do
        use g = new torch.Generator(uint64 (seed + int64 e))
        use perm = torch.randperm(n, generator = g)
        use order = indices.index_select(0, perm)
        let mutable start = 0L
        while start < n do
            use scope = torch.NewDisposeScope()
            let idx = order.narrow(0, start, min 128L (n - start))
            let x = data.ToFloat(data.Images.index_select(0, idx))
            let y = data.Labels.index_select(0, idx)
            opt.zero_grad()
            let loss = torch.nn.functional.cross_entropy(model.forward x, y)
            loss.backward()
            opt.step() |> ignore
            start <- start + 128L
    float (n * int64 epochs) / sw.Elapsed.TotalSeconds

/// A hook that asks for every step and does nothing: the cost of the hook path itself (a StepInfo per step).
type private NoOpStepHook() =
    interface ITrainingHook with
        member _.AfterStep _ = ()

let private toolkitLoopWith (hooks: ITrainingHook[]) (model: Network) (data: Dataset) (indices: torch.Tensor) (epochs: int) (seed: int64) =
    let o = TrainOptions(OptimizerSpec = OptimizerSpec.Adam 1e-3, BatchSize = 128, Stop = StopRule.Epochs epochs, OrderSeed = seed,
                         Hooks = hooks)
    let struct (r, opt) = Trainer.Fit(model, data, indices, o)
    opt.Dispose()
    r.SamplesPerSecond

let private toolkitLoop = toolkitLoopWith [||]

let private throughput (splits: DataSplits) =
    use pool = Subsets.Permutation(splits.Train.Count, 1L)
    use idx = Subsets.Prefix(pool, 12000L)
    let spec = ModelSpec.Mlp(100, 100)
    // Interleave the loops (A B C, B C A, C A B, …) so machine noise hits all alike; report medians.
    let bare = ResizeArray()
    let ours = ResizeArray()
    let hooked = ResizeArray()
    let loops =
        [| bareLoop, bare; toolkitLoop, ours; toolkitLoopWith [| NoOpStepHook() |], hooked |]
    for round in 1 .. 6 do
        // Each round starts with another loop, so no loop always runs first or last.
        for k in 0 .. loops.Length - 1 do
            let loop, into = loops[(k + round) % loops.Length]
            use m = ModelFactory.Create(spec, splits.Train.Shape, 10, 7L)
            into.Add(loop m splits.Train idx 2 (int64 round))
    let median (xs: ResizeArray<float>) = xs |> Seq.sort |> Seq.item (xs.Count / 2)
    printfn "1. trainer throughput (MLP 784-100-100-10, Adam, batch 128, 12 000 images, 1 thread, median of 6 rounds, each starting with another loop)"
    printfn "   bare TorchSharp loop : %8.0f samples/s" (median bare)
    printfn "   toolkit Trainer      : %8.0f samples/s" (median ours)
    printfn "   Trainer + step hook  : %8.0f samples/s   (one no-op AfterStep hook)" (median hooked)
    printfn "   ratio                : %8.3f   (target ≥ 0.95)" (median ours / median bare)
    printfn "   ratio with the hook  : %8.3f   (trainer + no-op AfterStep hook / bare)" (median hooked / median bare)

let private halfThenAll (name: string) (seedsN: int) =
    study name {
        data fashion_mnist
        subset 3000
        model (mlp [ 100; 100 ])
        optimizer (adam 1e-3)
        epochs 3
        seeds seedsN
        threads 1
        arm "fresh" fresh
        arm "warm" warm
        arm "shrink-perturb" (shrink_perturb 0.6 0.01)
    }

let private runQuiet (o: RunOptions) (s: Study) =
    let out = Console.Out
    Console.SetOut TextWriter.Null
    try
        let sw = Stopwatch.StartNew()
        let r = Study.runWith o s
        r, sw.Elapsed.TotalSeconds
    finally Console.SetOut out

let private sharing (root: string) =
    let seedsN = 3
    let s = halfThenAll "bench-sharing" seedsN
    let r, secs = runQuiet { StudyOptions.defaults with Out = Path.Combine(root, "sharing") } s
    let trained = r.Status |> Map.filter (fun _ st -> st = Trained) |> Map.count
    // The naive driver: every arm trains its own stage 1 and stage 2 (what one-script-per-arm does).
    let naiveStore = Path.Combine(root, "naive")
    let naiveSecs =
        s.Arms |> List.sumBy (fun a ->
            let single = { s with Name = "naive-" + a.Name; Arms = [ a ]; Seed = s.Seed }
            // A separate store per arm: nothing is shared, as with independent scripts.
            snd (runQuiet { StudyOptions.defaults with Out = Path.Combine(naiveStore, a.Name) } single))
    let naive = s.Arms.Length * 2 * seedsN
    printfn "2. half-then-all, 3 arms × %d seeds (3 000-image pool, 3 epochs per stage)" seedsN
    printfn "   stage trainings: plan %d, naive one-run-per-arm %d  (%d vs %d per seed)" trained naive (trained / seedsN) (naive / seedsN)
    printfn "   wall time      : plan %.1fs, naive %.1fs  (ratio %.2f)" secs naiveSecs (secs / naiveSecs)
    r, secs

let private cachedRerun (root: string) =
    // A realistic small study (train to 99 % train accuracy on a 6 000-image pool), not a toy of fixed epochs:
    // the rerun's fixed costs (plan, index, reading results, CSV) are compared with real training time.
    let s = { halfThenAll "bench-rerun" 3 with Subset = Some 6000; Stop = WarmStart.Core.Training.StopRule.UntilTrainAccuracy(0.99, 60) }
    let o = { StudyOptions.defaults with Out = Path.Combine(root, "rerun") }
    let _, first = runQuiet o s
    let r2, second = runQuiet o s
    let cached = r2.Status |> Map.forall (fun _ st -> st = Cached)
    printfn "3. re-running a finished study (3 arms × 3 seeds, 6 000-image pool, to 99%% train accuracy): first %.2fs, rerun %.3fs = %.2f%% of the first (all cached: %b; target ≤ 2%%)"
        first second (100.0 * second / first) cached

let private jobs (root: string) =
    let s =
        { (halfThenAll "bench-jobs" 6) with
            Subset = Some 1500; Model = mlp [ 32 ]; Arms = [ { fresh with Name = "fresh" }; { warm with Name = "warm" } ] }
    let _, one = runQuiet { StudyOptions.defaults with Out = Path.Combine(root, "jobs1"); Jobs = 1 } s
    let _, two = runQuiet { StudyOptions.defaults with Out = Path.Combine(root, "jobs2"); Jobs = 2 } s
    printfn "4. many small nodes (2 arms × 6 seeds × 2 stages = 18 nodes, MLP 784-32-10): --jobs 1 %.2fs, --jobs 2 %.2fs, speed-up %.2f×"
        one two (one / two)

/// Runs the four measurements; `keep` leaves the temporary stores on disk.
let run (keep: bool) =
    TorchRuntime.EnsureLoaded()
    Threads.Configure(1) |> ignore
    let root = Path.Combine(Path.GetTempPath(), "warmstart-bench-" + Guid.NewGuid().ToString("N"))
    try
        use splits = Catalog.Load("fashion-mnist")
        throughput splits
        sharing root |> ignore
        cachedRerun root
        jobs root
        0
    finally
        if not keep && Directory.Exists root then Directory.Delete(root, true)
