/// Tiny hand-set networks and helpers shared by the plasticity tests.
module WarmStart.Tests.Plasticity.PlasticityFixtures

open TorchSharp
open WarmStart.Core.Models
open WarmStart.Core.Plasticity

/// The parameter of <paramref name="m"/> called <paramref name="name"/>.
let param (m: Network) (name: string) =
    m.named_parameters() |> Seq.pick (fun struct (n, p) -> if n = name then Some p else None)

/// Overwrites a parameter with the given values (row-major), without recording gradients.
let setParam (m: Network) (name: string) (values: float32[]) =
    use _ = torch.no_grad()
    let p = param m name
    use t = torch.tensor(values).reshape(p.shape)
    p.copy_(t) |> ignore

/// The values of a tensor as a float array (row-major).
let values (t: torch.Tensor) = t.detach().contiguous().to_type(torch.ScalarType.Float32).data<float32>().ToArray()

/// An MLP over 1×1×2 inputs with the given hidden widths and 2 classes.
let tinyMlp (widths: int[]) = ModelFactory.Create(ModelSpec.Mlp(widths), struct (1L, 1L, 2L), 2, 7L)

/// The unit layers of a network.
let layersOf (m: Network) = (box m :?> IUnitLayers).UnitLayers

/// Forward with features: (logits, features).
let withFeatures (m: Network) (x: torch.Tensor) =
    let fs = System.Collections.Generic.List<torch.Tensor>()
    let y = m.ForwardWithFeatures(x, fs)
    y, List.ofSeq fs

/// Adam's state of one parameter.
let adamState (m: Network) (opt: torch.optim.Optimizer) name =
    let struct (_, st) = (WarmStart.Core.Policies.OptimizerCarry.StatesByName(m, opt)).[name]
    st :?> TorchSharp.Modules.Adam.State

/// One Adam step on a random batch so that the moments are non-zero.
let adamStep (m: Network) (opt: torch.optim.Optimizer) =
    use g = new torch.Generator(3UL)
    use x = torch.randn([| 8L; 1L; 1L; 2L |], generator = g)
    use y = torch.tensor([| 0L; 1L; 0L; 1L; 1L; 0L; 1L; 0L |])
    opt.zero_grad()
    use loss = torch.nn.functional.cross_entropy(m.forward x, y)
    loss.backward()
    opt.step() |> ignore
