module WarmStart.Tests.Training.TrainerTests

open Expecto
open TorchSharp
open WarmStart.Core.Data
open WarmStart.Core.Models
open WarmStart.Core.Runs
open WarmStart.Core.Training
open WarmStart.Tests.Fixtures

let private fit (spec: ModelSpec) (n: int64) (stop: StopRule) (opt: OptimizerSpec) seed =
    let s = fashionMnist.Force()
    use pool = Subsets.Permutation(s.Train.Count, Seeds.Derive(seed, "pool"))
    use idx = Subsets.Prefix(pool, n)
    let m = ModelFactory.Create(spec, s.Train.Shape, 10, Seeds.Derive(seed, "init"))
    let struct (r, o) = Trainer.Fit(m, s.Train, idx, TrainOptions(OptimizerSpec = opt, BatchSize = 128, Stop = stop, OrderSeed = Seeds.Derive(seed, "order")))
    o.Dispose()
    m, r

[<Tests>]
let tests =
    testList "training" [
        test "logistic regression reaches ≥ 0.80 test accuracy on real Fashion-MNIST in ≤ 3 epochs" {
            let m, r = fit (ModelSpec.LogisticRegression()) 60000L (StopRule.Epochs 3) (OptimizerSpec.Adam 1e-3) 0L
            use _ = m
            let struct (_, acc) = Evaluation.Evaluate(m, fashionMnist.Force().Test)
            Expect.equal r.Epochs 3 "three epochs"
            Expect.isGreaterThanOrEqual acc 0.80 "test accuracy"
            Expect.isGreaterThan r.SamplesPerSecond 0.0 "throughput"
        }
        test "same seed gives identical metrics and weights (CPU determinism)" {
            let run () = fit (ModelSpec.Mlp(32)) 2000L (StopRule.Epochs 2) (OptimizerSpec.Sgd(0.05, 0.9)) 42L
            let m1, r1 = run ()
            let m2, r2 = run ()
            use _ = m1
            use _ = m2
            Expect.equal [ for e in r1.Curve -> e.Loss, e.TrainAccuracy ] [ for e in r2.Curve -> e.Loss, e.TrainAccuracy ] "curves"
            for (p1, p2) in Seq.zip (m1.parameters()) (m2.parameters()) do Expect.isTrue (same p1 p2) "weights"
        }
        test "another seed gives other numbers" {
            let _, r1 = fit (ModelSpec.Mlp(32)) 2000L (StopRule.Epochs 1) (OptimizerSpec.Adam 1e-3) 1L
            let _, r2 = fit (ModelSpec.Mlp(32)) 2000L (StopRule.Epochs 1) (OptimizerSpec.Adam 1e-3) 2L
            Expect.notEqual r1.TrainLoss r2.TrainLoss "seed matters"
        }
        test "train-accuracy stop ends as soon as the threshold is reached; max epochs caps it" {
            let _, r = fit (ModelSpec.Mlp(64)) 500L (StopRule.UntilTrainAccuracy(0.9, 50)) (OptimizerSpec.Adam 1e-2) 3L
            Expect.isGreaterThanOrEqual r.TrainAccuracy 0.9 "reached"
            Expect.isTrue (r.Curve |> Seq.take (r.Epochs - 1) |> Seq.forall (fun e -> e.TrainAccuracy < 0.9)) "stopped at first epoch over"
            let _, capped = fit (ModelSpec.LogisticRegression()) 500L (StopRule.UntilTrainAccuracy(0.999, 2)) (OptimizerSpec.Sgd 1e-4) 3L
            Expect.equal capped.Epochs 2 "capped"
        }
        test "a diverging run is flagged, not looped forever" {
            let _, r = fit (ModelSpec.Mlp(32)) 500L (StopRule.UntilTrainAccuracy(0.99, 20)) (OptimizerSpec.Sgd 1e6) 4L
            Expect.isTrue r.Diverged "diverged"
            Expect.isLessThan r.Epochs 20 "stopped early"
        }
        test "stop rule arithmetic" {
            let s = StopRule(System.Nullable(), System.Nullable 0.99, 10, System.Nullable 2)
            Expect.isFalse (s.ShouldStop(1, 0.5, 0)) "keep going"
            Expect.isTrue (s.ShouldStop(1, 0.99, 0)) "threshold"
            Expect.isTrue (s.ShouldStop(10, 0.5, 0)) "cap"
            Expect.isTrue (s.ShouldStop(3, 0.5, 2)) "patience"
        }
    ]
