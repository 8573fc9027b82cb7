/// Convergence flags: a stage that hits its epoch cap before its train-accuracy threshold is marked, in the core's
/// TrainResult and in the DSL's runs and by-arm summaries.
module WarmStart.Tests.Fidelity.ConvergenceTests

open Expecto
open TorchSharp
open WarmStart
open WarmStart.Core.Models
open WarmStart.Core.Runs
open WarmStart.Core.Training
open WarmStart.Tests.Fixtures

let private fit (stop: StopRule) =
    let s = fashionMnist.Force()
    use pool = WarmStart.Core.Data.Subsets.Permutation(s.Train.Count, 3L)
    use idx = WarmStart.Core.Data.Subsets.Prefix(pool, 512L)
    use m = ModelFactory.Create(ModelSpec.Mlp(16), s.Train.Shape, 10, 4L)
    let struct (r, o) = Trainer.Fit(m, s.Train, idx, TrainOptions(OptimizerSpec = OptimizerSpec.Adam 1e-3, BatchSize = 128, Stop = stop, OrderSeed = 5L))
    o.Dispose()
    r

[<Tests>]
let tests =
    testList "fidelity.convergence" [
        test "the core flags a stage stopped by its cap before the threshold; fixed epochs and reached thresholds converge" {
            let capped = fit (StopRule.UntilTrainAccuracy(0.999, 2))
            Expect.equal capped.Epochs 2 "ran to the cap"
            Expect.isFalse capped.Converged "0.999 not reached in 2 epochs"
            let reached = fit (StopRule.UntilTrainAccuracy(0.05, 5))
            Expect.equal reached.Epochs 1 "stopped at the threshold"
            Expect.isTrue reached.Converged "threshold reached"
            Expect.isTrue (fit (StopRule.Epochs 1)).Converged "fixed epochs have no threshold"
            Expect.isTrue (StopRule(System.Nullable(), System.Nullable 0.9, 10).Reached 0.9) "≥ threshold"
            Expect.isFalse (StopRule(System.Nullable(), System.Nullable 0.9, 10).Reached 0.89) "< threshold"
        }
        test "runs and by-arm summaries count runs that stopped at their cap, per arm × stage (old results judged alike)" {
            let s = study "conv" { seeds 3; arm "fresh" fresh; arm "warm" warm; train_until (train_accuracy 0.99) (max_epochs 50) }
            let p = Plan.ofStudy s
            let res key trainAcc =
                { Key = key; TestAccuracy = 0.8; TestLoss = 0.5; TrainAccuracy = trainAcc; TrainLoss = 0.1; Epochs = 50
                  Seconds = 1.0; SamplesPerSecond = 1.0; TrainSize = 10L; Diverged = false; Curve = []
                  Diagnostics = { Correlation = []; GradientNorms = []; ShrinkAccuracy = [] }; Tasks = System.Text.Json.Serialization.Skip }
            let results =
                [ for i in 0 .. 2 do
                    yield res (Plan.nodeAt p "fresh" i 1).Key 0.995
                    yield res (Plan.nodeAt p "fresh" i 2).Key (if i = 0 then 0.97 else 0.99)
                    yield res (Plan.nodeAt p "warm" i 2).Key (if i < 2 then 0.98 else 0.999) ]
                |> List.map (fun r -> r.Key, r) |> Map.ofList
            let r = { Plan = p; Results = results; Status = results |> Map.map (fun _ _ -> Trained); Quick = false; WallSeconds = 1.0 }
            let rows = Summary.rows r
            Expect.equal (rows |> List.filter (fun x -> not x.Converged) |> List.length) 3 "three runs below 0.99"
            let notConverged arm stage = (Summary.byArmRows r |> List.find (fun a -> a.Arm = arm && a.Stage = stage)).NotConverged
            Expect.equal (notConverged "fresh" 1) 0 "stage 1"
            Expect.equal (notConverged "fresh" 2) 1 "fresh stage 2"
            Expect.equal (notConverged "warm" 2) 2 "warm stage 2"
            Expect.isTrue ((Summary.runs r).ColumnKeys |> Seq.contains "Converged") "runs.csv has the column"
        }
    ]
