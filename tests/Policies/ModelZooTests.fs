module WarmStart.Tests.Policies.ModelZooTests

open Expecto
open TorchSharp
open WarmStart.Core.Models
open WarmStart.Tests.Policies.PolicyFixtures

// Parameter counts computed independently with PyTorch 1.13 (Debian python3-torch) on the same architecture:
// a CIFAR ResNet-18 (kuangliu layout, stem 3×3 stride 1, no max-pool) and the two-block small CNN.
let private resnet16Cifar10 = 701466L
let private resnet16FashionMnist = 701178L
let private resnet64Cifar10 = 11173962L
let private smallCnnFashionMnist = 50186L
let private smallCnnCifar10 = 60362L

[<Tests>]
let tests =
    testList "policies.models" [
        test "ResNet-18 parameter counts: width 64 → 11,173,962; width 16 → 701,466 (3×32×32, 10 classes)" {
            use r64 = ModelFactory.Create(ModelSpec.ResNet18 64, struct (3L, 32L, 32L), 10, 1L)
            use r16 = ModelFactory.Create(ModelSpec.ResNet18 16, struct (3L, 32L, 32L), 10, 1L)
            use r16f = ModelFactory.Create(ModelSpec.ResNet18 16, struct (1L, 28L, 28L), 10, 1L)
            Expect.equal r64.ParameterCount resnet64Cifar10 "width 64"
            Expect.equal r16.ParameterCount resnet16Cifar10 "width 16"
            Expect.equal r16f.ParameterCount resnet16FashionMnist "width 16, 1 channel"
            Expect.equal (List.ofSeq r16.Groups) [ "stem"; "layer1"; "layer2"; "layer3"; "layer4"; "head" ] "groups"
        }
        test "ResNet-18 width 16: forward and backward on 8 images (3×32×32 and 1×28×28)" {
            for (c, hw) in [ 3L, 32L; 1L, 28L ] do
                use m = ModelFactory.Create(ModelSpec.ResNet18 16, struct (c, hw, hw), 10, 2L)
                use x = torch.randn(8L, c, hw, hw)
                use y = torch.arange(8L, dtype = torch.ScalarType.Int64)
                use logits = m.forward x
                Expect.equal logits.shape [| 8L; 10L |] "logits"
                use loss = torch.nn.functional.cross_entropy(logits, y)
                loss.backward()
                for struct (name, p) in m.named_parameters() do
                    Expect.isNotNull p.grad (name + " has a gradient")
                    Expect.isTrue (torch.isfinite(p.grad).all().item<bool>()) (name + " finite")
                let stemGrad = (paramsOf m).["stem.conv.weight"].grad.abs().sum().item<float32>()
                Expect.isGreaterThan stemGrad 0.0f "gradient reaches the stem"
        }
        test "ResNet-18 parameter names follow the PyTorch layout; shortcuts only where shape changes" {
            use m = ModelFactory.Create(ModelSpec.ResNet18 4, struct (3L, 8L, 8L), 10, 1L)
            let names = paramsOf m |> Map.keys |> Set.ofSeq
            for n in [ "stem.conv.weight"; "stem.bn.weight"; "layer1.0.conv1.weight"; "layer1.1.bn2.bias"
                       "layer2.0.shortcut.0.weight"; "layer2.0.shortcut.1.weight"; "head.weight"; "head.bias" ] do
                Expect.isTrue (names.Contains n) n
            Expect.isFalse (names.Contains "layer1.0.shortcut.0.weight") "identity shortcut in layer1"
            Expect.isFalse (names.Contains "stem.conv.bias") "convolutions have no bias"
        }
        test "default init covers conv and BN: conv |w| ≤ 1/√fan_in, BN γ = 1, β = 0, running mean 0, var 1" {
            use m = ModelFactory.Create(ModelSpec.ResNet18 8, struct (3L, 8L, 8L), 10, 3L)
            let ps = paramsOf m
            let w = ps.["layer2.0.conv1.weight"]
            let bound = 1.0 / sqrt (8.0 * 9.0)
            let maxAbs = w.abs().max().item<float32>() |> float
            Expect.isLessThanOrEqual maxAbs (bound + 1e-6) "conv bound"
            Expect.isGreaterThan maxAbs (0.9 * bound) "conv uses the range"
            Expect.isTrue (ps.["layer3.1.bn1.weight"].eq(torch.tensor 1.0f).all().item<bool>()) "BN γ = 1"
            Expect.isTrue (ps.["layer3.1.bn1.bias"].eq(torch.tensor 0.0f).all().item<bool>()) "BN β = 0"
            let bs = buffersOf m
            Expect.isTrue (bs.["layer3.1.bn1.running_var"].eq(torch.tensor 1.0f).all().item<bool>()) "running var 1"
            Expect.isTrue (bs.["layer3.1.bn1.running_mean"].eq(torch.tensor 0.0f).all().item<bool>()) "running mean 0"
            use m2 = ModelFactory.Create(ModelSpec.ResNet18 8, struct (3L, 8L, 8L), 10, 3L)
            for KeyValue(n, p) in ps do Expect.isTrue (WarmStart.Tests.Fixtures.same p (paramsOf m2).[n]) ("seeded: " + n)
        }
        test "small CNN: 50,186 parameters on 1×28×28 (60,362 on 3×32×32), groups conv1, conv2, head, logits shape" {
            use m = ModelFactory.Create(ModelSpec.SmallCnn(), struct (1L, 28L, 28L), 10, 1L)
            use c = ModelFactory.Create(ModelSpec.SmallCnn(), struct (3L, 32L, 32L), 10, 1L)
            Expect.equal m.ParameterCount smallCnnFashionMnist "1×28×28"
            Expect.equal c.ParameterCount smallCnnCifar10 "3×32×32"
            Expect.equal (List.ofSeq m.Groups) [ "conv1"; "conv2"; "head" ] "groups"
            use x = torch.randn(8L, 1L, 28L, 28L)
            use y = m.forward x
            Expect.equal y.shape [| 8L; 10L |] "logits"
            Expect.equal (ModelSpec.SmallCnn().ToString()) "small_cnn[32,64]" "name"
        }
        test "model kinds and groups without training" {
            Expect.containsAll ModelFactory.Kinds [ "resnet18"; "small_cnn"; "mlp"; "logistic_regression" ] "kinds"
            Expect.equal (List.ofSeq (ModelFactory.GroupsOf(ModelSpec.Mlp(5, 5), struct (1L, 2L, 2L), 3))) [ "hidden1"; "hidden2"; "head" ] "mlp"
            Expect.throwsT<System.ArgumentException> (fun () -> ModelFactory.Create(ModelSpec.ResNet18 0, struct (3L, 8L, 8L), 10, 1L) |> ignore) "width 0"
            Expect.throwsT<System.ArgumentException> (fun () -> ModelFactory.Create(ModelSpec.SmallCnn 3, struct (1L, 8L, 8L), 10, 1L) |> ignore) "one width"
        }
    ]
