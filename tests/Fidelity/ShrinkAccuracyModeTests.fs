/// measure_shrink_accuracy's BatchNorm mode: running statistics (eval mode) or each batch's own (the
/// reproduction's Figure 6).
module WarmStart.Tests.Fidelity.ShrinkAccuracyModeTests

open Expecto
open TorchSharp
open WarmStart.Core.Diagnostics
open WarmStart.Core.Models
open WarmStart.Core.Training
open WarmStart.Tests.Policies.PolicyFixtures

let private sweep bn (m: Network) data lambdas =
    ShrinkAccuracy.Sweep(m, data, null, lambdas, 16, null, bn)

[<Tests>]
let tests =
    testList "fidelity.shrink-accuracy" [
        test "batch statistics ignore the running statistics; running statistics depend on them" {
            use data = tinyData 48L 1L 8L 8L 3 2L
            use m = build (ModelSpec.ResNet18 4) data 3L
            let lambdas = [ 0.5; 1.0 ]
            let batchBefore = sweep ShrinkBatchNorm.BatchStatistics m data lambdas
            let runningBefore = sweep ShrinkBatchNorm.RunningStatistics m data lambdas
            shiftBuffers m 7.0f   // corrupt the running means and variances
            let batchAfter = sweep ShrinkBatchNorm.BatchStatistics m data lambdas
            let runningAfter = sweep ShrinkBatchNorm.RunningStatistics m data lambdas
            Expect.equal batchAfter batchBefore "batch statistics: same points whatever the running statistics"
            Expect.notEqual [ for p in runningAfter -> p.Loss ] [ for p in runningBefore -> p.Loss ] "running statistics: the loss moves"
        }
        test "batch statistics at λ = 1 equal a hand evaluation in train mode; buffers and mode are restored" {
            use data = tinyData 40L 1L 8L 8L 3 4L
            use m = build (ModelSpec.ResNet18 4) data 5L
            shiftBuffers m 0.5f
            m.eval()
            let buffersBefore = buffersOf m |> Map.map (fun _ b -> values b)
            let point = (sweep ShrinkBatchNorm.BatchStatistics m data [ 1.0 ]).[0]
            Expect.isFalse m.training "eval mode restored"
            Expect.equal (buffersOf m |> Map.map (fun _ b -> values b)) buffersBefore "running statistics restored"
            // By hand: train-mode forward in batches of 16 (16, 16, 8), no gradients.
            use copy = build (ModelSpec.ResNet18 4) data 5L
            WarmStart.Core.Policies.NetworkCopy.CopyInto(m, copy)
            copy.train()
            use _ = torch.no_grad()
            let mutable correct = 0L
            let mutable loss = 0.0
            for start in [ 0L; 16L; 32L ] do
                let n = min 16L (40L - start)
                let struct (x, y) = data.Batch(torch.arange(start, start + n, dtype = torch.ScalarType.Int64))
                let logits = copy.forward x
                loss <- loss + float (torch.nn.functional.cross_entropy(logits, y, reduction = torch.nn.Reduction.Sum).item<float32>())
                correct <- correct + logits.argmax(1L).eq(y).sum().item<int64>()
            Expect.floatClose Accuracy.high point.Accuracy (float correct / 40.0) "accuracy"
            Expect.floatClose Accuracy.medium point.Loss (loss / 40.0) "loss"
        }
        test "running statistics (the default) is the eval-mode evaluation" {
            use data = tinyData 32L 1L 8L 8L 3 6L
            use m = build (ModelSpec.ResNet18 4) data 7L
            let p = (ShrinkAccuracy.Sweep(m, data, null, [ 1.0 ], 16)).[0]
            let struct (loss, acc) = Evaluation.Evaluate(m, data, null, 16)
            Expect.equal (p.Loss, p.Accuracy) (loss, acc) "λ = 1 is the model's evaluation"
        }
    ]
