module WarmStart.Tests.Policies.DiagnosticTests

open Expecto
open TorchSharp
open WarmStart.Core.Data
open WarmStart.Core.Diagnostics
open WarmStart.Core.Models
open WarmStart.Core.Runs
open WarmStart.Core.Training
open WarmStart.Tests.Fixtures
open WarmStart.Tests.Policies.PolicyFixtures

[<Tests>]
let tests =
    testList "policies.diagnostics" [
        test "Pearson matches a hand computation; constant vectors give null" {
            let x = [| 1.0; 2.0; 3.0; 4.0; 6.0 |]
            let y = [| 2.0; 4.0; 5.0; 9.0; 7.0 |]
            let mx, my = Array.average x, Array.average y
            let sxy = Array.fold2 (fun s a b -> s + (a - mx) * (b - my)) 0.0 x y
            let sxx = x |> Array.sumBy (fun a -> (a - mx) ** 2.0)
            let syy = y |> Array.sumBy (fun b -> (b - my) ** 2.0)
            let r = sxy / sqrt (sxx * syy)
            use tx = torch.tensor(x |> Array.map float32)
            use ty = torch.tensor(y |> Array.map float32).reshape(5L, 1L)
            let got = WeightCorrelation.Pearson(tx, ty)
            Expect.isTrue got.HasValue "defined"
            Expect.floatClose Accuracy.high got.Value r "r"
            Expect.isFalse (WeightCorrelation.Pearson(torch.ones(4L), ty.narrow(0L, 0L, 4L)).HasValue) "constant → null"
        }
        test "correlation report: overall and per group, learnable parameters only" {
            use data = tinyData 4L 3L 8L 8L 10 1L
            use m = build (ModelSpec.ResNet18 4) data 1L
            let self = WeightCorrelation.Compare(m, m)
            Expect.floatClose Accuracy.high self.Overall.Value 1.0 "self"
            Expect.equal self.Count m.ParameterCount "counts learnable parameters"
            Expect.equal [ for g in self.Groups -> g.Group ] (List.ofSeq m.Groups) "groups in order"
            let neg = paramsOf m |> Map.map (fun _ p -> p.neg())
            let r = WeightCorrelation.Compare(m, System.Collections.Generic.Dictionary(neg))
            Expect.floatClose Accuracy.high r.Overall.Value -1.0 "negated"
            use other = build (ModelSpec.ResNet18 4) data 2L
            let c = WeightCorrelation.Compare(m, other)
            let head = c.Groups |> Array.find (fun g -> g.Group = "head")
            Expect.isLessThan (abs head.Pearson.Value) 0.3 "independent draws of the head: weakly correlated"
            Expect.isGreaterThan c.Overall.Value 0.3 "overall: BN γ = 1, β = 0 are shared by every draw"
            // Hand check for one group against the plain vector function.
            use a = torch.cat([| (paramsOf m).["head.weight"].flatten(); (paramsOf m).["head.bias"] |], 0L)
            use b = torch.cat([| (paramsOf other).["head.weight"].flatten(); (paramsOf other).["head.bias"] |], 0L)
            Expect.floatClose Accuracy.high head.Pearson.Value (WeightCorrelation.Pearson(a, b).Value) "group = its vector"
        }
        test "gradient norm of a minibatch equals the autograd norm of the flattened gradient" {
            use data = tinyData 16L 1L 3L 3L 4 2L
            use m = build (ModelSpec.Mlp 7) data 3L
            let struct (x, y) = data.Batch(torch.arange(16L, dtype = torch.ScalarType.Int64))
            use loss = torch.nn.functional.cross_entropy(m.forward x, y)
            let ps = m.parameters() |> Seq.map (fun p -> p :> torch.Tensor) |> Array.ofSeq
            let grads = torch.autograd.grad([| loss |], ps)
            let byHand = grads |> Seq.sumBy (fun g -> values g |> Array.sumBy (fun v -> v * v)) |> sqrt
            use n = GradientNorms.BatchGradientNorm(m, x, y)
            Expect.floatClose Accuracy.medium (float (n.item<float32>())) byHand "norm"
        }
        test "mean gradient norm averages per-minibatch norms in the seeded epoch order; BN statistics restored" {
            use data = tinyData 10L 3L 8L 8L 10 2L
            use m = build (ModelSpec.ResNet18 2) data 3L
            use idx = torch.arange(10L, dtype = torch.ScalarType.Int64)
            let before = buffersOf m |> Map.map (fun _ b -> b.clone())
            let struct (mean, count) = GradientNorms.Mean(m, data, idx, 4, 77L)
            Expect.equal count 3 "three minibatches (4, 4, 2)"
            for KeyValue(n, b) in buffersOf m do Expect.isTrue (same b before.[n]) ("buffer restored " + n)
            use batches = new EpochBatches(idx, 4, 77L)
            let norms = [ for i in 0 .. 2 -> let struct (x, y) = data.Batch(batches.[i]) in (GradientNorms.BatchGradientNorm(m, x, y)).item<float32>() |> float ]
            // Buffers changed by the manual pass are irrelevant to train-mode gradients.
            Expect.floatClose Accuracy.medium mean.Value (List.average norms) "mean of norms"
            let struct (capped, k) = GradientNorms.Mean(m, data, idx, 4, 77L, maxBatches = 1)
            Expect.equal k 1 "capped"
            Expect.floatClose Accuracy.medium capped.Value norms.Head "first batch"
        }
        test "gradient-norm tracker as the trainer's BeforeEpoch hook: one record per epoch, old and new halves" {
            use data = tinyData 40L 1L 4L 4L 4 3L
            use m = build (ModelSpec.Mlp 16) data 1L
            use all = torch.arange(40L, dtype = torch.ScalarType.Int64)
            use oldIdx = all.narrow(0L, 0L, 20L)
            use newIdx = all.narrow(0L, 20L, 20L)
            let tracker = GradientNormTracker(m, data, oldIdx, newIdx, batchSize = 8, seed = 5L)
            let opts = TrainOptions(OptimizerSpec = OptimizerSpec.Adam 1e-2, BatchSize = 8, Stop = StopRule.Epochs 3,
                                    OrderSeed = 1L, BeforeEpoch = System.Action<int>(tracker.BeforeEpoch))
            let struct (r, o) = Trainer.Fit(m, data, all, opts)
            o.Dispose()
            Expect.equal r.Epochs 3 "epochs"
            Expect.equal [ for g in tracker.Records -> g.Epoch ] [ 1; 2; 3 ] "one per epoch"
            for g in tracker.Records do
                Expect.equal (g.OldBatches, g.NewBatches) (3, 3) "minibatches per half"
                Expect.isTrue (g.OldMean.Value > 0.0 && g.NewMean.Value > 0.0) "positive norms"
            let sparse = GradientNormTracker(m, data, oldIdx, newIdx, batchSize = 8, maxBatches = 2, every = 2)
            for e in 1 .. 5 do sparse.BeforeEpoch e
            Expect.equal [ for g in sparse.Records -> g.Epoch, g.OldBatches ] [ 1, 2; 3, 2; 5, 2 ] "every 2nd epoch, 2 batches per half"
            let empty = GradientNormTracker(m, data, all.narrow(0L, 0L, 0L), newIdx).Measure(1)
            Expect.isFalse empty.OldMean.HasValue "no old data → null"
        }
        test "shrink accuracy: λ = 1 is the model, bias-free ReLU MLP keeps its accuracy for every λ > 0, model restored" {
            use data = tinyData 30L 1L 3L 3L 3 4L
            use m = build (ModelSpec("mlp", [| 12 |], "relu", false)) data 2L
            let before = paramsOf m |> Map.map (fun _ p -> p.clone())
            let grid = ShrinkAccuracy.Grid 5
            Expect.equal grid [| 0.0; 0.25; 0.5; 0.75; 1.0 |] "grid"
            Expect.equal (ShrinkAccuracy.Grid()).Length 81 "default grid of 81"
            let pts = ShrinkAccuracy.Sweep(m, data, null, grid)
            let struct (loss, acc) = Evaluation.Evaluate(m, data)
            Expect.floatClose Accuracy.high pts.[4].Accuracy acc "λ = 1"
            Expect.floatClose Accuracy.medium pts.[4].Loss loss "λ = 1 loss"
            for p in pts.[1..] do Expect.equal p.Accuracy acc (sprintf "accuracy kept at λ = %g" p.Lambda)
            Expect.floatClose Accuracy.medium pts.[0].Loss (log 3.0) "λ = 0: all logits 0, loss log C"
            for KeyValue(n, p) in paramsOf m do Expect.isTrue (same p before.[n]) ("restored " + n)
        }
    ]
