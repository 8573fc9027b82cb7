/// Small hand-made models and datasets shared by the policy, penalty and diagnostic tests.
module WarmStart.Tests.Policies.PolicyFixtures

open TorchSharp
open WarmStart.Core.Data
open WarmStart.Core.Models
open WarmStart.Core.Policies

/// A synthetic dataset of n uint8 images c×h×w (seeded noise) with labels i mod classes, identity normalisation (x = byte/255).
let tinyData (n: int64) (c: int64) (h: int64) (w: int64) (classes: int) (seed: int64) =
    use g = new torch.Generator(uint64 seed)
    let images = torch.randint(0L, 256L, [| n; c; h; w |], dtype = torch.ScalarType.Byte, generator = g)
    let labels = torch.arange(n, dtype = torch.ScalarType.Int64).remainder(torch.tensor(int64 classes))
    new Dataset("tiny", images, labels, classes, Normalization.Identity(int c))

/// A dataset from explicit bytes (one row of w pixels per image: shape [n, 1, 1, w]) and labels.
let rowData (rows: byte[][]) (labels: int64[]) (classes: int) =
    let w = int64 rows.[0].Length
    let images = torch.tensor(Array.concat rows, dtype = torch.ScalarType.Byte).reshape(int64 rows.Length, 1L, 1L, w)
    new Dataset("rows", images, torch.tensor(labels, dtype = torch.ScalarType.Int64), classes, Normalization.Identity 1)

/// Builds a model of spec for data's shape.
let build (spec: ModelSpec) (data: Dataset) (seed: int64) = ModelFactory.Create(spec, data.Shape, data.NumClasses, seed)

/// A stage context whose parent is `parent`, drawing fresh networks of spec for data's shape.
let context (spec: ModelSpec) (data: Dataset) (parent: Network) (indices: torch.Tensor) (parentIndices: torch.Tensor) (seed: int64) =
    StageContext(
        Parent = parent,
        Fresh = System.Func<int64, Network>(fun s -> build spec data s),
        Seed = seed,
        OriginalInitSeed = 1L,
        Train = data,
        Indices = indices,
        ParentIndices = parentIndices,
        BatchSize = 4)

/// Name → parameter of a model.
let paramsOf (m: Network) =
    m.named_parameters() |> Seq.map (fun struct (n, p) -> n, (p :> torch.Tensor)) |> Map.ofSeq

/// Name → buffer of a model.
let buffersOf (m: Network) =
    m.named_buffers() |> Seq.map (fun struct (n, b) -> n, b) |> Map.ofSeq

/// Sets a parameter's values (no grad).
let setParam (m: Network) (name: string) (values: float32[]) =
    use _ = torch.no_grad()
    let p = (paramsOf m).[name]
    p.copy_(torch.tensor(values).reshape(p.shape)) |> ignore

/// Adds v to every buffer of a model (so that keeping or resetting BN statistics becomes visible).
let shiftBuffers (m: Network) (v: float32) =
    use _ = torch.no_grad()
    for struct (_, b) in m.named_buffers() do
        if b.is_floating_point() then b.add_(torch.tensor v) |> ignore

/// A tensor's values as a float array.
let values (t: torch.Tensor) = t.detach().cpu().to_type(torch.ScalarType.Float64).data<float>().ToArray()

/// Element-wise closeness of two float arrays.
let close (tol: float) (a: float[]) (b: float[]) =
    a.Length = b.Length && Array.forall2 (fun (x: float) y -> abs (x - y) <= tol * (1.0 + abs y)) a b
