/// `models`: training step time at batch 128 (ResNet-18 width 16 and 64, the small CNN, the MLP) and the epoch
/// overhead of gradient-norm tracking (protocol E10). Options: --threads N (torch intra-op threads; 0 = one
/// per core, the default), --steps N (timed steps per model; default 5, ResNet-18 width 64 uses ⌈N/2⌉),
/// --quick (fewer steps and a smaller epoch, for CI).
module WarmStart.Bench.ModelBench

open System
open System.Diagnostics
open TorchSharp
open WarmStart.Core.Data
open WarmStart.Core.Diagnostics
open WarmStart.Core.Models
open WarmStart.Core.Runs
open WarmStart.Core.Training

let private argValue (argv: string[]) (name: string) (fallback: int) =
    match Array.tryFindIndex ((=) name) argv with
    | Some i when i + 1 < argv.Length -> int argv.[i + 1]
    | _ -> fallback

/// Median of a list of seconds.
let private median (xs: float list) =
    let s = List.sort xs
    let n = s.Length
    if n % 2 = 1 then s.[n / 2] else (s.[n / 2 - 1] + s.[n / 2]) / 2.0

/// Times `steps` SGD steps (forward, cross-entropy, backward, step) of `spec` on one fixed random batch of 128
/// inputs of `shape`, after two warm-up steps. Returns per-step seconds.
let private stepTimes (spec: ModelSpec) (shape: struct (int64 * int64 * int64)) (steps: int) =
    let struct (c, h, w) = shape
    use model = ModelFactory.Create(spec, shape, 10, 1L)
    use opt = torch.optim.SGD(model.parameters(), 0.01, momentum = 0.9)
    use g = new torch.Generator(1UL)
    use x = torch.randn([| 128L; c; h; w |], generator = g)
    use y = torch.randint(0L, 10L, [| 128L |], generator = g)
    let step () =
        use scope = torch.NewDisposeScope()
        opt.zero_grad()
        let loss = torch.nn.functional.cross_entropy(model.forward x, y)
        loss.backward()
        opt.step() |> ignore
    model.train()
    step (); step ()
    [ for _ in 1 .. steps ->
        let sw = Stopwatch.StartNew()
        step ()
        sw.Elapsed.TotalSeconds ],
    model.ParameterCount

/// Per-epoch seconds of `epochs` epochs of `spec` on `train` (indices `all`), with or without gradient-norm
/// tracking of the old and new halves before every epoch (the tracker's time is part of its epoch), and the
/// tracker's own seconds per epoch. The first epoch (warm-up) is dropped from both lists.
let private epochTimes (spec: ModelSpec) (data: Dataset) (all: torch.Tensor) (oldIdx: torch.Tensor) (newIdx: torch.Tensor) epochs track (cap: int option) =
    use model = ModelFactory.Create(spec, data.Shape, data.NumClasses, 1L)
    let tracker = GradientNormTracker(model, data, oldIdx, newIdx, batchSize = 128, seed = 3L, maxBatches = Option.toNullable cap)
    let times = Collections.Generic.List<float>()
    let mutable start = Stopwatch.GetTimestamp()
    let opts =
        TrainOptions(
            OptimizerSpec = OptimizerSpec.Adam 1e-3, BatchSize = 128, Stop = StopRule.Epochs(epochs + 1), OrderSeed = 2L,
            BeforeEpoch = Action<int>(fun e -> start <- Stopwatch.GetTimestamp(); if track then tracker.BeforeEpoch e),
            AfterEpoch = Action<EpochRecord>(fun _ -> times.Add(Stopwatch.GetElapsedTime(start).TotalSeconds)))
    let struct (_, opt) = Trainer.Fit(model, data, all, opts)
    opt.Dispose()
    List.ofSeq times |> List.tail, [ for r in tracker.Records -> r.Seconds ] |> List.truncate (epochs + 1) |> fun l -> if l.IsEmpty then [] else List.tail l

/// Fashion-MNIST when installed, else synthetic 1×28×28 data of the same size (the timing does not depend on pixels).
let private epochData (n: int64) =
    try
        let s = Catalog.Load "fashion-mnist"
        s.Train, "fashion-mnist"
    with _ ->
        use g = new torch.Generator(7UL)
        let images = torch.randint(0L, 256L, [| n; 1L; 28L; 28L |], dtype = torch.ScalarType.Byte, generator = g)
        let labels = torch.randint(0L, 10L, [| n |], generator = g)
        new Dataset("synthetic", images, labels, 10, Normalization.Half 1), "synthetic"

let run (argv: string[]) =
    let quick = Array.contains "--quick" argv
    let threads = WarmStart.Core.Native.Threads.Configure(argValue argv "--threads" 0)
    let steps = argValue argv "--steps" (if quick then 2 else 5)
    printfn "models benchmark: torch %s, %d thread(s), %d logical cores, batch 128, SGD momentum 0.9" torch.__version__ threads Environment.ProcessorCount
    printfn ""
    printfn "per-step wall time after 2 warm-up steps; min and median over the timed steps (the machine may be shared: min is the least disturbed)"
    printfn "%-34s %12s %10s %10s %12s" "model (input)" "parameters" "min ms" "median ms" "samples/s"
    let cifar = struct (3L, 32L, 32L)
    let rows =
        [ "resnet18 width 16 (3x32x32)", ModelSpec.ResNet18 16, cifar, steps
          "resnet18 width 64 (3x32x32)", ModelSpec.ResNet18 64, cifar, max 1 ((steps + 1) / 2)
          "small_cnn (3x32x32)", ModelSpec.SmallCnn(), cifar, steps * 4
          "mlp 100-100 relu (3x32x32)", ModelSpec.Mlp(100, 100), cifar, steps * 20
          "mlp 100-100 relu (1x28x28)", ModelSpec.Mlp(100, 100), struct (1L, 28L, 28L), steps * 20 ]
    for name, spec, shape, n in rows do
        let times, count = stepTimes spec shape n
        let m = List.min times
        printfn "%-34s %12d %10.1f %10.1f %12.0f" name count (m * 1000.0) (median times * 1000.0) (128.0 / m)
    // Gradient-norm tracking overhead on an epoch (E10 layout: old half and new half of the pool).
    let n = if quick then 2000L else 6000L
    let data, source = epochData n
    use pool = Subsets.Permutation(data.Count, 1L)
    use all = Subsets.Prefix(pool, n)
    use oldIdx = Subsets.Prefix(all, n / 2L)
    use newIdx = Subsets.Rest(all, n / 2L)
    let epochs = if quick then 2 else 3
    let rounds = if quick then 1 else 3
    printfn ""
    printfn "gradient-norm tracking overhead: %d examples of %s (old %d / new %d), batch 128, Adam;" n source (n / 2L) (n / 2L)
    printfn "%d round(s) of (plain run, tracked run) interleaved, %d timed epochs per run after one warm-up epoch; minima." rounds epochs
    printfn "'in-run' = tracked epoch / (tracked epoch - tracker time), the same run's training part: robust to load drift."
    printfn "%-28s %10s %10s %10s %10s %8s" "model" "plain s" "tracked s" "tracker s" "ratio" "in-run"
    let cap = 8
    for name, spec, cap in [ "mlp 100-100 relu", ModelSpec.Mlp(100, 100), None
                             "small_cnn", ModelSpec.SmallCnn(), None
                             sprintf "small_cnn, %d batches/half" cap, ModelSpec.SmallCnn(), Some cap ] do
        let results =
            [ for _ in 1 .. rounds ->
                let plain, _ = epochTimes spec data all oldIdx newIdx epochs false None
                let tracked, tracker = epochTimes spec data all oldIdx newIdx epochs true cap
                plain, List.zip tracked tracker ]
        let plain = results |> List.collect fst
        let tracked = results |> List.collect snd
        let p, t = List.min plain, List.min (List.map fst tracked)
        let tr = List.min (List.map snd tracked)
        let inRun = median [ for e, k in tracked -> e / (e - k) ]
        printfn "%-28s %10.3f %10.3f %10.3f %10.2f %8.2f" name p t tr (t / p) inRun
    0
