/// ResNet18 and ResNet18Dash share one builder (stem option, init option). Both must keep the parameters and
/// outputs they had as two separate classes: the figures below were measured with those classes (width 8, seed 7,
/// a seeded 2×3×32×32 input, eval mode) just before the classes were merged.
module WarmStart.Tests.Fidelity.ResNetBuilderTests

open Expecto
open TorchSharp
open WarmStart.Core.Models

let private measure (spec: ModelSpec) =
    use m = ModelFactory.Create(spec, struct (3L, 32L, 32L), 10, 7L)
    let names = [ for struct (n, _) in m.named_parameters() -> n ]
    let paramAbsSum = [ for struct (_, p) in m.named_parameters() -> p.abs().sum().item<float32>() |> float ] |> List.sum
    m.eval()
    use g = new torch.Generator(3UL)
    use x = torch.randn([| 2L; 3L; 32L; 32L |], generator = g)
    use y = m.forward x
    names, paramAbsSum, (y.sum().item<float32>() |> float)

// The figures were printed to 6 decimals; float32 sums may differ in the last digits with the thread count.
let private close : Accuracy = { absolute = 1e-5; relative = 1e-5 }

[<Tests>]
let tests =
    testList "fidelity.resnetbuilder" [
        test "resnet18 and resnet18_dash keep their numbers and parameter names through the shared builder" {
            let names, psum, out = measure (ModelSpec.ResNet18 8)
            let dNames, dPsum, dOut = measure (ModelSpec.ResNet18Dash 8)
            Expect.equal names.Length 62 "62 parameter tensors"
            Expect.equal dNames names "the same parameter names"
            Expect.equal (List.head names, List.last names) ("stem.conv.weight", "head.bias") "PyTorch-style names"
            Expect.floatClose close psum 5276.443686 "resnet18: Σ|θ| as before"
            Expect.floatClose close out 0.060303 "resnet18: outputs as before"
            Expect.floatClose close dPsum 10362.260019 "resnet18_dash: Σ|θ| as before (kaiming-normal convolutions)"
            Expect.floatClose close dOut 15.460989 "resnet18_dash: outputs as before (max-pool stem)"
        }
    ]
