// Loaded by the tests as `dotnet fsi tests/scripts/torch-step.fsx`: the prelude must make TorchSharp load
// on this machine and a training step must run.
#load "../../dsl/WarmStart.fsx"
open TorchSharp
open WarmStart.Core.Models

let model = ModelFactory.Create(ModelSpec.Mlp(8), struct (1L, 4L, 4L), 3, 1L)
let opt = torch.optim.SGD(model.parameters(), 0.1)
let x = torch.ones(16L, 1L, 4L, 4L)
let y = torch.zeros([| 16L |], dtype = torch.ScalarType.Int64)
let lossOf () = torch.nn.functional.cross_entropy(model.forward x, y)
let before = (lossOf ()).item<float32>()
for _ in 1 .. 5 do
    opt.zero_grad()
    let l = lossOf ()
    l.backward()
    opt.step() |> ignore
let after = (lossOf ()).item<float32>()
printfn "torch %s loss %.4f -> %.4f" torch.__version__ before after
if not (after < before) then exit 1
