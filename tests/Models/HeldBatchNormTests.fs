/// The ResNet's batch norm (TorchSharp's BatchNorm2d forward with its Scalar held) against TorchSharp's own.
module WarmStart.Tests.Models.HeldBatchNormTests

open Expecto
open TorchSharp
open WarmStart.Core.Models
open WarmStart.Tests.Fixtures

[<Tests>]
let tests =
    testList "models.batchnorm" [
        test "HeldBatchNorm2d computes what nn.BatchNorm2d computes, bit for bit, in training and eval mode" {
            use g = new torch.Generator(5UL)
            use reference = torch.nn.BatchNorm2d(6L)
            use held = new HeldBatchNorm2d(6L)
            Expect.equal [ for KeyValue(k, _) in held.state_dict() -> k ] [ for KeyValue(k, _) in reference.state_dict() -> k ]
                "the same parameter and buffer names (saved models load either way)"
            use _ = torch.no_grad()
            held.weight.copy_(torch.rand([| 6L |], generator = g)) |> ignore
            reference.weight.copy_(held.weight) |> ignore
            for step in 1 .. 5 do
                use x = torch.randn([| 8L; 6L; 5L; 5L |], generator = g).mul(torch.tensor(float32 step))
                Expect.isTrue (same (held.forward x) (reference.forward x)) (sprintf "training-mode output, batch %d" step)
            for KeyValue(k, v) in reference.state_dict() do
                Expect.isTrue (same (held.state_dict()[k]) v) (sprintf "%s after five training batches" k)
            Expect.equal (held.num_batches_tracked.item<int64>()) 5L "batches counted"
            held.eval()
            reference.eval()
            use x = torch.randn([| 4L; 6L; 5L; 5L |], generator = g)
            Expect.isTrue (same (held.forward x) (reference.forward x)) "eval-mode output (running statistics)"
        }
        test "HeldBatchNorm2d rejects input that is not 4-D, as nn.BatchNorm2d does" {
            use held = new HeldBatchNorm2d(3L)
            use x = torch.zeros([| 2L; 3L |])
            Expect.throwsT<System.ArgumentException> (fun () -> held.forward x |> ignore) "2-D input"
        }
    ]
