/// The DASH code's ResNet-18 variant, and L2-init on a first stage (θ₀ = the node's own initialisation).
module WarmStart.Tests.Fidelity.ModelAndPenaltyTests

open Expecto
open TorchSharp
open WarmStart.Core.Models
open WarmStart.Core.Policies
open WarmStart.Tests.Conformance.ConformanceFixture
open WarmStart.Tests.Policies.PolicyFixtures

[<Tests>]
let tests =
    testList "fidelity.models" [
        test "resnet18_dash: the DASH code's size (11,173,962 parameters at width 64), max-pool stem, same groups as resnet18" {
            use m = ModelFactory.Create(ModelSpec.ResNet18Dash(), struct (3L, 32L, 32L), 10, 1L)
            Expect.equal m.ParameterCount 11173962L "parameters"
            Expect.equal (List.ofSeq m.Groups) [ "stem"; "layer1"; "layer2"; "layer3"; "layer4"; "head" ] "groups"
            use x = torch.zeros([| 2L; 3L; 32L; 32L |])
            use y = m.forward x
            Expect.equal y.shape [| 2L; 10L |] "logits"
            Expect.equal (ModelSpec.ResNet18Dash().ToString()) "resnet18_dash width 64" "name"
        }
        test "resnet18_dash draws convolutions from N(0, 2/fan_out) (kaiming-normal, fan-out); the head keeps the default" {
            use m = ModelFactory.Create(ModelSpec.ResNet18Dash(), struct (3L, 32L, 32L), 10, 2L)
            let ps = paramsOf m
            // layer4's 3×3 convolutions: 512 × 512 × 9 weights, fan_out = 512 · 9.
            let w = ps.["layer4.1.conv2.weight"]
            let std = w.std().item<float32>() |> float
            let expected = sqrt (2.0 / (512.0 * 9.0))
            Expect.isLessThan (abs (std / expected - 1.0)) 0.01 (sprintf "std %g vs %g" std expected)
            Expect.isLessThan (abs (w.mean().item<float32>() |> float)) (expected / 100.0) "mean ≈ 0"
            let stem = ps.["stem.conv.weight"]   // fan_out = 64 · 9
            Expect.isLessThan (abs ((stem.std().item<float32>() |> float) / sqrt (2.0 / 576.0) - 1.0)) 0.1 "stem"
            let head = ps.["head.weight"]
            Expect.isLessThanOrEqual (head.abs().max().item<float32>() |> float) (1.0 / sqrt 512.0 * (1.0 + 1e-6)) "head: U(±1/√fan_in)"
            // Same seed, same network; the plain resnet18 is unchanged (uniform convolutions).
            use again = ModelFactory.Create(ModelSpec.ResNet18Dash(), struct (3L, 32L, 32L), 10, 2L)
            Expect.isTrue (WarmStart.Tests.Fixtures.same w (paramsOf again).["layer4.1.conv2.weight"]) "deterministic"
            use plain = ModelFactory.Create(ModelSpec.ResNet18 64, struct (3L, 32L, 32L), 10, 2L)
            Expect.isLessThanOrEqual ((paramsOf plain).["layer4.1.conv2.weight"].abs().max().item<float32>() |> float) (1.0 / sqrt (512.0 * 9.0) * (1.0 + 1e-6)) "resnet18 stays uniform"
        }
        test "resnet18_dash forward = the DASH code's ResNet in PyTorch (eval mode, given weights and running statistics)" {
            use f = load "forward" "resnet18_dash"
            use net = network f "parent"
            use data = dataset f
            net.eval()
            use _ = torch.no_grad()
            let struct (x, _) = data.Batch(torch.arange(data.Count, dtype = torch.ScalarType.Int64))
            expectClose "logits" (Map.ofList [ "logits", net.forward x ]) (f.Group "logits")
        }
        test "L2-init on a first stage: θ₀ is the node's own initialisation (zero penalty and gradient at the start)" {
            use data = tinyData 8L 1L 4L 4L 3 1L
            let spec = ModelSpec.Mlp(5)
            use m = build spec data 42L
            let ctx = StageContext(Parent = null, Fresh = System.Func<int64, Network>(fun s -> build spec data s), Seed = 9L,
                                   OriginalInitSeed = 42L, Train = data, Indices = torch.arange(8L, dtype = torch.ScalarType.Int64))
            use penalty = L2InitPenalty.ForStage(0.5, ctx)
            use v0 = penalty.Compute m
            Expect.equal (v0.item<float32>()) 0.0f "zero at the node's init"
            v0.backward()
            for KeyValue(n, g) in gradsOf m do Expect.equal (g.abs().max().item<float32>()) 0.0f (sprintf "zero gradient: %s" n)
            // Move one weight by 0.1: λ·0.01.
            let bump () =
                use _ = torch.no_grad()
                (paramsOf m).["head.bias"].[0L].add_(torch.tensor 0.1f) |> ignore
            bump ()
            use v1 = penalty.Compute m
            Expect.floatClose Accuracy.medium (float (v1.item<float32>())) (0.5 * 0.01) "λ‖θ − θ₀‖²"
        }
    ]
