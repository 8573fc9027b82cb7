/// `stacked` benchmark (issue 14): S models of one architecture trained as one stacked model against S separate
/// single-trainer runs, on the same samples (each member's own pool, init and data order, as in a study), at 1
/// and 2 torch threads, in one process run. Options: --epochs N (MLP and logistic regression; default 1),
/// --repeats N (default 3: singles and stack alternate N times and the fastest of each counts, so a burst of
/// load on a shared machine hits both sides alike and is dropped), --quick (smaller pools, for CI).
/// Prints one line per model and S at 1 thread, in exactly the form `stacked speed-up <model> S=<n>: <x>×`,
/// then the same ratios at 2 threads as a table.
module WarmStart.Bench.StackedBench

open System
open System.Diagnostics
open TorchSharp
open WarmStart.Core.Data
open WarmStart.Core.Models
open WarmStart.Core.Native
open WarmStart.Core.Runs
open WarmStart.Core.Training
open WarmStart.Core.Training.Stacked

type private Case = { Name: string; Spec: ModelSpec; Pool: int64; Epochs: int }

let private sizes = [ 1; 2; 4; 8; 16 ]

/// Member k of a case: its own pool (prefix of a seeded permutation), init and order seed.
let private memberInputs (splits: DataSplits) (c: Case) (k: int) =
    let seed = int64 (1000 + k)
    use perm = Subsets.Permutation(splits.Train.Count, Seeds.Derive(seed, "pool"))
    let idx = Subsets.Prefix(perm, c.Pool)
    let model = ModelFactory.Create(c.Spec, splits.Train.Shape, 10, Seeds.Derive(seed, "init"))
    model, idx, Seeds.Derive(seed, "order")

let private opt = OptimizerSpec.Adam 1e-3

/// Seconds for S single-trainer runs, one after another.
let private singles (splits: DataSplits) (c: Case) (s: int) =
    let inputs = [ for k in 0 .. s - 1 -> memberInputs splits c k ]
    let sw = Stopwatch.StartNew()
    for (m, idx, order) in inputs do
        let o = TrainOptions(OptimizerSpec = opt, BatchSize = 128, Stop = StopRule.Epochs c.Epochs, OrderSeed = order)
        let struct (_, optimizer) = Trainer.Fit(m, splits.Train, idx, o)
        optimizer.Dispose()
    let t = sw.Elapsed.TotalSeconds
    for (m, idx, _) in inputs do m.Dispose(); idx.Dispose()
    t

/// Seconds for one stacked run of S members.
let private stack (splits: DataSplits) (c: Case) (s: int) =
    let inputs = [ for k in 0 .. s - 1 -> memberInputs splits c k ]
    let members = [| for (m, idx, order) in inputs -> StackedMember(m, idx, order, StopRule.Epochs c.Epochs) |]
    let sw = Stopwatch.StartNew()
    StackedTrainer.Fit(members, splits.Train, StackedOptions(OptimizerSpec = opt, BatchSize = 128)) |> ignore
    let t = sw.Elapsed.TotalSeconds
    for (m, idx, _) in inputs do m.Dispose(); idx.Dispose()
    t

/// Speed-ups (S separate runs' time / the stack's time) per S at the current thread count: the fastest of
/// `repeats` alternating runs of each side.
let private measure (repeats: int) (splits: DataSplits) (c: Case) =
    // Warm-up: first calls pay for kernel selection and allocator growth.
    singles splits { c with Epochs = 1; Pool = 256L } 1 |> ignore
    stack splits { c with Epochs = 1; Pool = 256L } 2 |> ignore
    [ for s in sizes ->
        let runs = [ for _ in 1 .. repeats -> singles splits c s, stack splits c s ]
        let a, b = runs |> List.map fst |> List.min, runs |> List.map snd |> List.min
        // Progress as it comes (a busy machine makes the whole run slow); the summary lines follow at the end.
        printfn "  %d thread(s) %-9s S=%-2d singles %7.2fs  stacked %7.2fs" (torch.get_num_threads()) c.Name s a b
        s, a, b ]

/// Milliseconds of the GEMMs one training step of a stack of linear layers `widths` (input first, classes last)
/// cannot avoid at batch `batch`: each layer's forward product, its weight gradient and (past the first layer) its
/// input gradient, as plain `mm`s on random data, the fastest of several timed loops. Whatever an engine does, a
/// member-step costs at least this at the current thread count: stacking can remove the rest of a step, not this.
let private gemmFloorMs (widths: int64 list) (batch: int64) =
    let pairs = List.pairwise widths
    let shapes =
        [ for i, (fanIn, fanOut) in List.indexed pairs do
            yield (batch, fanIn, fanOut) // forward x·Wᵀ
            yield (fanIn, batch, fanOut) // weight gradient xᵀ·g
            if i > 0 then yield (batch, fanOut, fanIn) ] // input gradient g·W
    let ops = [ for (m, k, n) in shapes -> torch.randn(m, k), torch.randn(k, n) ]
    let once () = for (a, b) in ops do (use _ = a.mm(b) in ())
    for _ in 1 .. 20 do once ()
    let loops = 200
    let best =
        [ for _ in 1 .. 5 ->
            let sw = Stopwatch.StartNew()
            for _ in 1 .. loops do once ()
            sw.Elapsed.TotalMilliseconds / float loops ]
        |> List.min
    for (a, b) in ops do a.Dispose(); b.Dispose()
    let flops = shapes |> List.sumBy (fun (m, k, n) -> 2.0 * float m * float k * float n)
    best, flops / (best * 1e-3) / 1e9

/// GFLOP/s of a large square GEMM at the current thread count (what the core's matmul can reach at best).
let private peakGflops () =
    use a = torch.randn(1024L, 1024L)
    use b = torch.randn(1024L, 1024L)
    for _ in 1 .. 3 do (use _ = a.mm(b) in ())
    let best =
        [ for _ in 1 .. 5 ->
            let sw = Stopwatch.StartNew()
            for _ in 1 .. 10 do (use _ = a.mm(b) in ())
            sw.Elapsed.TotalSeconds / 10.0 ]
        |> List.min
    2.0 * 1024.0 ** 3.0 / best / 1e9

/// Runs the benchmark.
let run (argv: string[]) =
    TorchRuntime.EnsureLoaded()
    let quick = Array.contains "--quick" argv
    let epochs =
        match Array.tryFindIndex ((=) "--epochs") argv with
        | Some i when i + 1 < argv.Length -> int argv[i + 1]
        | _ -> 1
    let repeats =
        match Array.tryFindIndex ((=) "--repeats") argv with
        | Some i when i + 1 < argv.Length -> max 1 (int argv[i + 1])
        | _ -> 3
    let scale (n: int64) = if quick then n / 4L else n
    let cases =
        [ { Name = "mlp"; Spec = ModelSpec.Mlp(100, 100); Pool = scale 2048L; Epochs = epochs }
          { Name = "logreg"; Spec = ModelSpec.LogisticRegression(); Pool = scale 2048L; Epochs = epochs }
          { Name = "small_cnn"; Spec = ModelSpec.SmallCnn(); Pool = scale 256L; Epochs = 1 } ]
    use splits = Catalog.Load("fashion-mnist")
    printfn "stacked benchmark: torch %s, %d logical cores, Adam 1e-3, batch 128; each member its own pool, init and data order" torch.__version__ Environment.ProcessorCount
    printfn "  malloc: %s" MallocTuning.Report
    for c in cases do
        printfn "  %s: %O, pool %d, %d epoch(s) per member" c.Name c.Spec c.Pool c.Epochs
    printfn "time of S separate single-trainer runs vs one stack of S (seconds; fastest of %d alternating runs, the small CNN 1):" repeats
    let results =
        [ for threads in [ 1; 2 ] do
            Threads.Configure threads |> ignore
            for c in cases do
                for (s, a, b) in measure (if c.Name = "small_cnn" then 1 else repeats) splits c do
                    yield threads, c.Name, s, a, b ]
    for (threads, name, s, a, b) in results do
        if threads = 1 then printfn "stacked speed-up %s S=%d: %.2f×" name s (a / b)
    printfn "at 2 threads:"
    for (threads, name, s, a, b) in results do
        if threads = 2 then printfn "  %s S=%d at 2 threads: %.2f× speed-up" name s (a / b)
    // The bound: a member-step's GEMMs cost the same stacked or not, so the speed-up a stack can reach at one thread
    // is the single step's time over those GEMMs' time (MLP and logistic regression; the CNN's work is convolutions).
    Threads.Configure 1 |> ignore
    printfn "roofline at 1 thread (a 1024×1024 GEMM: %.1f GFLOP/s):" (peakGflops ())
    for c in cases do
        let widths =
            match c.Spec.Kind with
            | "mlp" -> Some([ 784L ] @ [ for w in c.Spec.Widths -> int64 w ] @ [ 10L ])
            | "logistic_regression" -> Some [ 784L; 10L ]
            | _ -> None
        match widths with
        | Some ws ->
            let floor, gflops = gemmFloorMs ws 128L
            let steps = float c.Epochs * ceil (float c.Pool / 128.0)
            // A single-trainer step at one thread: the fastest per-member time of the singles runs (all S).
            let singleMs =
                results
                |> List.choose (fun (t, n, s, a, _) -> if t = 1 && n = c.Name then Some(a * 1000.0 / steps / float s) else None)
                |> List.min
            printfn "  %s: GEMMs %.3f ms (%.1f GFLOP/s) of a %.3f ms single step (%.0f %%): at most %.2f× from stacking"
                c.Name floor gflops singleMs (100.0 * floor / singleMs) (singleMs / floor)
        | None -> ()
    0
