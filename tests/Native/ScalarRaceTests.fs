/// A stress harness for TorchSharp 0.107's Scalar-finaliser race (core/Native/Scalars.cs explains it): one thread
/// calls libtorch with Scalars while another allocates garbage and forces collections and finalisers in a loop.
/// It first shows that the harness reproduces the race with TorchSharp's implicit Scalars, then that the held
/// Scalars, the toolkit's optimisers and its trainer give exactly the numbers of an undisturbed run under it.
module WarmStart.Tests.Native.ScalarRaceTests

open System
open System.Threading
open Expecto
open TorchSharp
open WarmStart.Core.Data
open WarmStart.Core.Models
open WarmStart.Core.Native
open WarmStart.Core.Runs
open WarmStart.Core.Training
open WarmStart.Tests.Fixtures

/// Runs `work` while a second thread allocates garbage and calls GC.Collect 0 and WaitForPendingFinalizers in a loop.
let private underGcPressure (work: unit -> 'T) : 'T =
    let stop = ref false
    let mutable collections = 0
    let pressure =
        Thread((fun () ->
                   let mutable keep : byte[] = null
                   while not (Volatile.Read &stop.contents) do
                       for _ in 1 .. 200 do keep <- Array.zeroCreate 1024
                       // Generation 0 only: a temporary Scalar is young, and a young collection stays short however
                       // large the process's heap is (a full one, in the whole suite's heap, outlasts the window).
                       GC.Collect 0
                       GC.WaitForPendingFinalizers()
                       collections <- collections + 1),
               IsBackground = true)
    pressure.Start()
    try work ()
    finally
        Volatile.Write(&stop.contents, true)
        pressure.Join()

/// Calls `add d f` (d float64 zeros, f float32 ones, 2^20 elements: libtorch casts f before it reads alpha, which
/// widens the window in which a freed alpha is read) until `seconds` pass or `maxFailures` calls failed, under GC
/// pressure; every element must then be 1. Returns (calls, libtorch errors, wrong results).
let private addCalls (add: torch.Tensor -> torch.Tensor -> torch.Tensor) (seconds: float) (maxFailures: int) =
    // Warm-up: .NET first runs a method unoptimised, and such code keeps its arguments (the Scalar) alive to the end
    // of the call; the race needs TorchSharp's methods in their optimised tier, which comes after some calls.
    (use a = torch.zeros([| 64L |], dtype = torch.ScalarType.Float64)
     use b = torch.ones([| 64L |], dtype = torch.ScalarType.Float32)
     for round in 1 .. 3 do
         for _ in 1 .. 500 do add a b |> ignore
         Thread.Sleep 150)
    use d = torch.zeros([| 1L <<< 20 |], dtype = torch.ScalarType.Float64)
    use f = torch.ones([| 1L <<< 20 |], dtype = torch.ScalarType.Float32)
    underGcPressure (fun () ->
        let sw = Diagnostics.Stopwatch.StartNew()
        let mutable calls, errors, wrong = 0, 0, 0
        while sw.Elapsed.TotalSeconds < seconds && errors + wrong < maxFailures do
            calls <- calls + 1
            try
                add (d.zero_()) f |> ignore
                if d[7L].item<double>() <> 1.0 || d[1L <<< 19].item<double>() <> 1.0 then wrong <- wrong + 1
            with :? Runtime.InteropServices.ExternalException -> errors <- errors + 1
        calls, errors, wrong)

/// `steps` steps of an MLP 784-100-100-10 on real Fashion-MNIST batches with the toolkit's optimiser for `spec`;
/// the parameters afterwards, as float arrays.
let private trainSteps (spec: OptimizerSpec) (steps: int) =
    let s = fashionMnist.Force()
    use model = ModelFactory.Create(ModelSpec.Mlp(100, 100), s.Train.Shape, 10, Seeds.Derive(11L, "init"))
    use opt = spec.Create(model.parameters())
    use order = Subsets.Permutation(s.Train.Count, Seeds.Derive(11L, "order"))
    for step in 0 .. steps - 1 do
        use _ = torch.NewDisposeScope()
        let struct (x, y) = s.Train.Batch(order.narrow(0, int64 step * 128L, 128L))
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model.forward x, y).backward()
        opt.step() |> ignore
    [ for p in model.parameters() -> p.detach().flatten().data<float32>().ToArray() ]

/// A whole Trainer.Fit (batch preparation, loss, epoch sums, the optimiser) and an evaluation on the test set.
let private fitAndEvaluate (spec: OptimizerSpec) =
    let s = fashionMnist.Force()
    use pool = Subsets.Permutation(s.Train.Count, Seeds.Derive(12L, "pool"))
    use idx = Subsets.Prefix(pool, 3000L)
    use model = ModelFactory.Create(ModelSpec.Mlp(100, 100), s.Train.Shape, 10, Seeds.Derive(12L, "init"))
    let struct (r, o) =
        Trainer.Fit(model, s.Train, idx,
                    TrainOptions(OptimizerSpec = spec, BatchSize = 128, Stop = StopRule.Epochs 2, OrderSeed = Seeds.Derive(12L, "order")))
    o.Dispose()
    let struct (loss, acc) = Evaluation.Evaluate(model, s.Test)
    [ for e in r.Curve -> e.Loss, e.TrainAccuracy ], loss, acc,
    [ for p in model.parameters() -> p.detach().flatten().data<float32>().ToArray() ]

[<Tests>]
let tests =
    // Sequenced: the pressure thread must not run beside other tests (it would stress code outside this list).
    testSequenced <| testList "native.scalars" [
        test "the harness reproduces the race: TorchSharp's implicit alpha in add_(Tensor) fails under GC pressure" {
            // TorchSharp's add_(Tensor) makes its alpha of 1 by implicit conversion, as `a + b` and `add_(x, 0.5)` do.
            // Stops after 3 failures; on a loaded machine the first can take a few seconds, hence the 8 s cap.
            let calls, errors, wrong = addCalls (fun d f -> d.add_(f)) 8.0 3
            printfn "native.scalars: implicit alpha: %d of %d add_ calls failed under GC pressure (%d libtorch errors, %d wrong values)"
                (errors + wrong) calls errors wrong
            Expect.isGreaterThan (errors + wrong) 0 "the unsafe form fails under this harness (else the harness proves nothing)"
        }
        test "a held Scalar in the same call never fails under GC pressure" {
            let calls, errors, wrong = addCalls (fun d f -> d.add_(f, Scalars.OneInt)) 2.0 1
            printfn "native.scalars: held alpha: %d of %d add_ calls failed under GC pressure" (errors + wrong) calls
            Expect.isGreaterThan calls 20 "enough calls to mean something"
            Expect.equal (errors, wrong) (0, 0) "no libtorch error, no wrong value"
        }
        for name, spec in [ "adam", OptimizerSpec.Adam(1e-3, 1e-4); "sgd with momentum", OptimizerSpec.Sgd(0.05, 0.9, 1e-4) ] do
            test (sprintf "the toolkit's %s trains bit-identically under GC pressure" name) {
                let quiet = trainSteps spec 150
                let stressed = underGcPressure (fun () -> trainSteps spec 150)
                Expect.isTrue (List.forall2 (fun (a: float32[]) b -> a = b) quiet stressed) "parameters identical to an undisturbed run"
            }
        test "Trainer.Fit and Evaluation give the same numbers under GC pressure" {
            let quiet = fitAndEvaluate (OptimizerSpec.Adam 1e-3)
            let stressed = underGcPressure (fun () -> fitAndEvaluate (OptimizerSpec.Adam 1e-3))
            let curve, loss, acc, ps = stressed
            let curve0, loss0, acc0, ps0 = quiet
            Expect.equal (curve, loss, acc) (curve0, loss0, acc0) "curve, test loss and accuracy"
            Expect.isTrue (List.forall2 (fun (a: float32[]) b -> a = b) ps ps0) "parameters"
        }
    ]
