module WarmStart.Tests.Models.ModelTests

open Expecto
open WarmStart.Tests.Fixtures
open TorchSharp
open WarmStart.Core.Models


[<Tests>]
let tests =
    testList "models.basic" [
        test "logistic regression: 784*10 + 10 parameters, one group" {
            use m = ModelFactory.Create(ModelSpec.LogisticRegression(), struct (1L, 28L, 28L), 10, 1L)
            Expect.equal m.ParameterCount 7850L "params"
            Expect.equal (List.ofSeq m.Groups) [ "head" ] "groups"
        }
        test "MLP 784-100-100-10: 89,610 parameters, named groups, logits shape" {
            use m = ModelFactory.Create(ModelSpec.Mlp(100, 100), struct (1L, 28L, 28L), 10, 1L)
            Expect.equal m.ParameterCount (784L * 100L + 100L + 100L * 100L + 100L + 100L * 10L + 10L) "params"
            Expect.equal (List.ofSeq m.Groups) [ "hidden1"; "hidden2"; "head" ] "groups"
            use x = torch.zeros(4L, 1L, 28L, 28L)
            use y = m.forward x
            Expect.equal y.shape [| 4L; 10L |] "logits"
        }
        test "bias-free MLP has no bias parameters" {
            use m = ModelFactory.Create(ModelSpec("mlp", [| 20 |], "tanh", false), struct (1L, 4L, 4L), 3, 1L)
            Expect.equal m.ParameterCount (16L * 20L + 20L * 3L) "weights only"
        }
        test "same seed, same weights; another seed, other weights" {
            use a = ModelFactory.Create(ModelSpec.Mlp(10), struct (1L, 4L, 4L), 3, 5L)
            use b = ModelFactory.Create(ModelSpec.Mlp(10), struct (1L, 4L, 4L), 3, 5L)
            use c = ModelFactory.Create(ModelSpec.Mlp(10), struct (1L, 4L, 4L), 3, 6L)
            let w (m: Network) = m.parameters() |> Seq.head
            Expect.isTrue (same (w a) (w b)) "same"
            Expect.isFalse (same (w a) (w c)) "different"
        }
        test "default init follows PyTorch's bounds: |w| ≤ 1/sqrt(fan_in)" {
            use m = ModelFactory.Create(ModelSpec.Mlp(50), struct (1L, 10L, 10L), 10, 1L)
            for KeyValue(name, p) in m.named_parameters() |> Seq.map (fun struct (n, p) -> System.Collections.Generic.KeyValuePair(n, p)) do
                let fanIn = if name.StartsWith "hidden1" then 100.0 else 50.0
                let maxAbs = p.abs().max().item<float32>() |> float
                Expect.isLessThanOrEqual maxAbs (1.0 / sqrt fanIn + 1e-6) name
                Expect.isGreaterThan maxAbs (0.8 / sqrt fanIn) (name + " uses the range")
        }
        test "an unknown model kind lists the known ones" {
            let message =
                try ModelFactory.Create(ModelSpec("vgg", [||]), struct (1L, 2L, 2L), 2, 1L) |> ignore; failtest "expected an ArgumentException"
                with :? System.ArgumentException as e -> e.Message
            Expect.stringContains message "'vgg'" "names the unknown kind"
            // The built-in kinds as the README's vocabulary names them (not read from the factory).
            Expect.stringContains message "allowed: logistic_regression, mlp, resnet18, resnet18_dash, small_cnn" "lists the known ones"
        }
        test "group of a parameter name is its first segment" {
            Expect.equal (Network.GroupOf "layer1.0.conv1.weight") "layer1" "nested"
            Expect.equal (Network.GroupOf "head") "head" "bare"
        }
    ]
