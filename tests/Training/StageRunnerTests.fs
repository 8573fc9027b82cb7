module WarmStart.Tests.Training.StageRunnerTests

open System
open System.IO
open Expecto
open TorchSharp
open WarmStart.Core.Data
open WarmStart.Core.Models
open WarmStart.Core.Runs
open WarmStart.Core.Training
open WarmStart.Tests.Fixtures
open WarmStart.Tests.StageJobs

let private job (idx: torch.Tensor) (start: StageStart) (epochs: int) = mlpJob idx start epochs 0

let private parametersEqual (a: Network) (b: Network) =
    Seq.zip (a.parameters()) (b.parameters()) |> Seq.forall (fun (x, y) -> same x y)

[<Tests>]
let tests =
    testList "training.stagerunner" [
        test "a fresh stage is Trainer.Fit from the seed's init plus evaluation on the test split, bit for bit" {
            use pool = Subsets.Permutation(splits().Train.Count, 2L)
            use idx = Subsets.Prefix(pool, 500L)
            use r = StageRunner.Run(job idx (StageStart.Fresh 4L) 2)
            use m = fresh.Invoke 4L
            let struct (t, o) = Trainer.Fit(m, splits().Train, idx, TrainOptions(OptimizerSpec = OptimizerSpec.Adam 1e-3, BatchSize = 64,
                                                                                  Stop = StopRule.Epochs 2, OrderSeed = 21L))
            o.Dispose()
            let struct (loss, acc) = Evaluation.Evaluate(m, splits().Test)
            Expect.isTrue (parametersEqual r.Model m) "same weights"
            Expect.equal [ for e in r.Train.Curve -> e.Loss ] [ for e in t.Curve -> e.Loss ] "same curve"
            Expect.equal (r.TestLoss, r.TestAccuracy) (loss, acc) "same evaluation"
            Expect.equal r.TrainSize 500L "train size"
            Expect.isEmpty r.Correlation "no diagnostics unless asked"
        }
        test "continuing a stage from its saved model and optimiser equals one uninterrupted run" {
            use d = new TempDir()
            use pool = Subsets.Permutation(splits().Train.Count, 3L)
            use idx = Subsets.Prefix(pool, 400L)
            use first = StageRunner.Run(job idx (StageStart.Fresh 4L) 1)
            let modelFile = Path.Combine(d.Path, "model.pt")
            let optFile = Path.Combine(d.Path, "optimizer.pt")
            first.Model.save(modelFile) |> ignore
            (first.Optimizer :?> TorchSharp.Modules.OptimizerHelper).save_state_dict(optFile)
            let loadParent () = let m = fresh.Invoke 0L in m.load(modelFile) |> ignore; m
            let j = job idx (StageStart.Continue(first.Train.Curve)) 2
            use cont = StageRunner.Run(StageJob(Train = j.Train, Indices = idx, EvalData = j.EvalData, Fresh = fresh, Start = j.Start,
                                                Optimizer = j.Optimizer, Stop = j.Stop, BatchSize = 64, OrderSeed = 21L,
                                                LoadParent = Func<Network>(loadParent), ParentOptimizerFile = optFile))
            use whole = StageRunner.Run(job idx (StageStart.Fresh 4L) 2)
            Expect.isTrue (parametersEqual cont.Model whole.Model) "same weights as two epochs in one go"
            Expect.equal cont.Train.Epochs 2 "the curve goes on"
            Expect.equal cont.Train.Curve[1].Loss whole.Train.Curve[1].Loss "epoch 2's loss"
        }
        test "diagnostics: correlation rows, gradient norms on old vs new data, a shrink grid ending at the test accuracy" {
            use pool = Subsets.Permutation(splits().Train.Count, 5L)
            use idx = Subsets.Prefix(pool, 300L)
            use parentIdx = Subsets.Prefix(pool, 100L)
            let parent = parentIdx.data<int64>().ToArray()
            use r =
                StageRunner.Run(
                    StageJob(Train = splits().Train, Indices = idx, EvalData = splits().Test, Fresh = fresh, Start = StageStart.Fresh 4L,
                             Optimizer = OptimizerSpec.Adam 1e-3, Stop = StopRule.Epochs 2, BatchSize = 64, OrderSeed = 21L,
                             OriginalInitSeed = 4L, ParentIndices = parent,
                             Diagnostics = StageDiagnostics(true, true, [| 0.0; 1.0 |])))
            Expect.equal [ for c in r.Correlation -> c.Group ] [ "all"; "hidden1"; "head" ] "overall, then each group"
            // θ₀ is the stage's own start here (fresh from the same seed): both references agree.
            for c in r.Correlation do Expect.equal c.VsStart c.VsInit (sprintf "%s: start is θ₀" c.Group)
            Expect.equal [ for g in r.GradientNorms -> g.Epoch ] [ 1; 2 ] "before each epoch"
            Expect.equal [ for g in r.GradientNorms -> g.OldBatches, g.NewBatches ] [ (2, 4); (2, 4) ] "100 old, 200 new examples in batches of 64"
            Expect.equal r.ShrinkAccuracy[1].Accuracy r.TestAccuracy "λ = 1 is the model itself"
        }
    ]
