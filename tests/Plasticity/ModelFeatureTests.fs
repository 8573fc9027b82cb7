module WarmStart.Tests.Plasticity.ModelFeatureTests

open Expecto
open TorchSharp
open WarmStart.Core.Models
open WarmStart.Tests.Fixtures
open WarmStart.Tests.Plasticity.PlasticityFixtures

[<Tests>]
let tests =
    testList "plasticity.models" [
        test "MLP ForwardWithFeatures: same logits as forward, one post-ReLU feature map per hidden layer" {
            use m = ModelFactory.Create(ModelSpec.Mlp(20, 10), struct (1L, 4L, 4L), 3, 1L)
            use g = new torch.Generator(2UL)
            use x = torch.randn([| 5L; 1L; 4L; 4L |], generator = g)
            let y, fs = withFeatures m x
            Expect.isTrue (same y (m.forward x)) "logits"
            Expect.equal (fs |> List.map (fun f -> List.ofArray f.shape)) [ [ 5L; 20L ]; [ 5L; 10L ] ] "shapes"
            Expect.isTrue (fs |> List.forall (fun f -> f.min().item<float32>() >= 0.0f)) "after ReLU"
            // The second layer's features are the ReLU of the first layer's Linear applied to the first's features.
            let h2 = (param m "hidden2.weight").matmul(fs.[0].t()).t().add(param m "hidden2.bias").relu()
            Expect.isTrue (h2.allclose(fs.[1], 1e-6, 1e-6)) "h2 = relu(W2 h1 + b2)"
        }
        test "small CNN ForwardWithFeatures: same logits, per-channel maps after ReLU before pooling" {
            use m = ModelFactory.Create(ModelSpec.SmallCnn(4, 6), struct (1L, 8L, 8L), 3, 1L)
            use g = new torch.Generator(2UL)
            use x = torch.randn([| 2L; 1L; 8L; 8L |], generator = g)
            let y, fs = withFeatures m x
            Expect.isTrue (y.allclose(m.forward x, 1e-6, 1e-6)) "logits"
            Expect.equal (fs |> List.map (fun f -> List.ofArray f.shape)) [ [ 2L; 4L; 8L; 8L ]; [ 2L; 6L; 4L; 4L ] ] "shapes"
        }
        test "layer norm off is the network as before; on, each hidden group is Linear then norm (γ = 1, β = 0), seeded" {
            let shape = struct (1L, 4L, 4L)
            use plain = ModelFactory.Create(ModelSpec.Mlp(8, 8), shape, 3, 4L)
            use off = ModelFactory.Create(ModelSpec("mlp", [| 8; 8 |], LayerNorm = false), shape, 3, 4L)
            use on = ModelFactory.Create(ModelSpec("mlp", [| 8; 8 |], LayerNorm = true), shape, 3, 4L)
            let names (m: Network) = [ for struct (n, _) in m.named_parameters() -> n ]
            Expect.equal (names off) [ "hidden1.weight"; "hidden1.bias"; "hidden2.weight"; "hidden2.bias"; "head.weight"; "head.bias" ] "names"
            Expect.equal (ModelSpec.Mlp(8, 8)) (ModelSpec("mlp", [| 8; 8 |], LayerNorm = false)) "same spec"
            Expect.equal (string (ModelSpec.Mlp(8, 8))) "mlp[8,8] relu" "same description"
            for struct (n, p) in off.named_parameters() do Expect.isTrue (same p (param plain n)) n
            Expect.equal (names on) [ "hidden1.linear.weight"; "hidden1.linear.bias"; "hidden1.norm.weight"; "hidden1.norm.bias"
                                      "hidden2.linear.weight"; "hidden2.linear.bias"; "hidden2.norm.weight"; "hidden2.norm.bias"
                                      "head.weight"; "head.bias" ] "names with layer norm"
            use again = ModelFactory.Create(ModelSpec("mlp", [| 8; 8 |], LayerNorm = true), shape, 3, 4L)
            Expect.isTrue (same (param on "hidden2.linear.weight") (param again "hidden2.linear.weight")) "same seed, same draws"
            Expect.isTrue (same (param on "hidden1.norm.weight") (torch.ones(8L))) "γ = 1"
            Expect.equal (List.ofSeq on.Groups) [ "hidden1"; "hidden2"; "head" ] "groups"
            use x = torch.ones(3L, 1L, 4L, 4L)
            let _, fs = withFeatures on x
            Expect.equal fs.Length 2 "features with layer norm"
            Expect.notEqual (string (ModelSpec("mlp", [| 8 |], LayerNorm = true))) (string (ModelSpec.Mlp(8))) "described"
        }
    ]
