module WarmStart.Tests.Training.EvaluationHookTests

open System
open System.Collections.Generic
open Expecto
open TorchSharp
open WarmStart.Core.Data
open WarmStart.Core.Models
open WarmStart.Core.Runs
open WarmStart.Core.Training
open WarmStart.Tests.Fixtures
open WarmStart.Tests.StageJobs

let private job (idx: torch.Tensor) (epochs: int) (every: int) = mlpJob idx (StageStart.Fresh 4L) epochs every

let private messageOf (f: unit -> unit) =
    try f (); failwith "no exception" with :? ArgumentOutOfRangeException as e -> e.Message

let private evaluated (r: StageResult) = [ for e in r.Train.Curve do if e.Evaluated then e.Epoch ]

[<Tests>]
let tests =
    testList "training.evaluation" [
        test "every 2 of 5 epochs evaluates epochs 2 and 4 only; training is the same as without evaluation" {
            use pool = Subsets.Permutation(splits().Train.Count, 2L)
            use idx = Subsets.Prefix(pool, 300L)
            use r = StageRunner.Run(job idx 5 2)
            use plain = StageRunner.Run(job idx 5 0)
            Expect.equal (evaluated r) [ 2; 4 ] "epochs 2 and 4"
            for e in r.Train.Curve do
                if not e.Evaluated then
                    Expect.isTrue (Double.IsNaN e.TestLoss && Double.IsNaN e.TestAccuracy) (sprintf "epoch %d: NaN" e.Epoch)
                else
                    Expect.isTrue (e.TestAccuracy >= 0.0 && e.TestAccuracy <= 1.0 && e.TestLoss > 0.0) (sprintf "epoch %d: numbers" e.Epoch)
            Expect.isEmpty (evaluated plain) "0 = never"
            Expect.equal [ for e in r.Train.Curve -> e.Loss, e.TrainAccuracy ] [ for e in plain.Train.Curve -> e.Loss, e.TrainAccuracy ]
                "evaluation draws no randomness and changes no state: the same training curve"
            Expect.equal (r.TestLoss, r.TestAccuracy) (plain.TestLoss, plain.TestAccuracy) "the same final test accuracy"
        }
        test "evaluating every epoch: the last epoch's evaluation is the node's test loss and accuracy, exactly" {
            use pool = Subsets.Permutation(splits().Train.Count, 3L)
            use idx = Subsets.Prefix(pool, 300L)
            use r = StageRunner.Run(job idx 3 1)
            Expect.equal (evaluated r) [ 1; 2; 3 ] "every epoch"
            let last = r.Train.Curve[r.Train.Curve.Count - 1]
            Expect.equal (last.TestLoss, last.TestAccuracy) (r.TestLoss, r.TestAccuracy) "last epoch = the node's test numbers"
            // A different epoch's model gives different numbers (the hook evaluates the model of its epoch).
            Expect.notEqual r.Train.Curve[0].TestLoss last.TestLoss "epoch 1's loss differs from epoch 3's"
        }
        test "every 3 of 4 epochs: epoch 3 only; evaluation on held-out training indices uses those indices" {
            use pool = Subsets.Permutation(splits().Train.Count, 4L)
            use idx = Subsets.Prefix(pool, 200L)
            use held = Subsets.Slice(pool, 1000L, 500L)
            let j = job idx 4 3
            use r = StageRunner.Run(StageJob(Train = j.Train, Indices = idx, EvalData = splits().Train, EvalIndices = held, Fresh = fresh,
                                             Start = j.Start, Optimizer = j.Optimizer, Stop = j.Stop, BatchSize = 64, OrderSeed = 21L,
                                             EvaluateEvery = 3))
            Expect.equal (evaluated r) [ 3 ] "epoch 3"
            // 500 examples: every accuracy is a multiple of 1/500.
            let a = r.Train.Curve[2].TestAccuracy * 500.0
            Expect.floatClose Accuracy.veryHigh a (Math.Round a) "a count of 500 held-out examples"
        }
        test "a checkpoint's curve holds the evaluation of the epochs it saves" {
            use pool = Subsets.Permutation(splits().Train.Count, 5L)
            use idx = Subsets.Prefix(pool, 200L)
            let saved = List<EpochRecord list>()
            let j = job idx 4 2
            use r = StageRunner.Run(StageJob(Train = j.Train, Indices = idx, EvalData = j.EvalData, Fresh = fresh, Start = j.Start,
                                             Optimizer = j.Optimizer, Stop = j.Stop, BatchSize = 64, OrderSeed = 21L,
                                             EvaluateEvery = 2, CheckpointEvery = 2,
                                             SaveCheckpoint = Action<_, _, IReadOnlyList<EpochRecord>>(fun _ _ c -> saved.Add(List.ofSeq c))))
            Expect.equal [ for c in saved -> [ for e in c do if e.Evaluated then e.Epoch ] ] [ [ 2 ]; [ 2; 4 ] ] "checkpoints at 2 and 4"
            Expect.equal saved[1] (List.ofSeq r.Train.Curve) "the last checkpoint's curve is the stage's"
        }
        test "the hook restores training mode, and rejects n < 1 naming the value" {
            use m = fresh.Invoke 1L
            use opt = (OptimizerSpec.Adam 1e-3).Create(m.parameters())
            let h = EvaluationHook(1, splits().Test)
            m.train()
            (h :> ITrainingHook).EpochEnd(EpochEndInfo(m, opt, EpochRecord(1, 0.5, 0.5, 1.0)))
            Expect.isTrue m.training "back in training mode"
            Expect.equal h.Results.Count 1 "one evaluation"
            Expect.isGreaterThan h.Seconds 0.0 "its seconds are counted apart"
            Expect.stringContains (messageOf (fun () -> EvaluationHook(0, splits().Test) |> ignore)) "evaluate every 0 epochs; allowed: ≥ 1" "names the value and what is allowed"
            use pool = Subsets.Permutation(splits().Train.Count, 6L)
            use idx = Subsets.Prefix(pool, 100L)
            Expect.stringContains (messageOf (fun () -> StageRunner.Run(job idx 1 -1) |> ignore)) "EvaluateEvery = -1; allowed: 0 (never) or ≥ 1" "names the field"
        }
    ]
