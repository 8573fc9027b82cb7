/// Reading the PyTorch conformance fixtures (tests/fixtures/conformance/*.json, written by generate.py there) into
/// TorchSharp tensors and core networks, and comparing results with them.
module WarmStart.Tests.Conformance.ConformanceFixture

open System
open System.IO
open System.Text.Json
open TorchSharp
open WarmStart.Core.Data
open WarmStart.Core.Models
open WarmStart.Core.Policies
open WarmStart.Tests.Fixtures

/// The largest absolute difference allowed between the core's result and PyTorch's.
let tolerance = 1e-6

/// The fixture models (tests/fixtures/conformance/models.py): a small MLP, a small CNN, a width-1 ResNet-18 with BatchNorm.
let modelNames = [ "mlp"; "small_cnn"; "resnet18" ]

/// The folder holding the committed fixtures.
let folder () = Path.Combine(repoRoot.Force(), "tests", "fixtures", "conformance")

/// One fixture: a case for one model, with named groups of named tensors and the case's scalars.
type Fixture =
    { Case: string
      ModelName: string
      Spec: ModelSpec
      Shape: int64 * int64 * int64
      Classes: int
      Scalars: JsonElement
      Tensors: Map<string, Map<string, torch.Tensor>> }
    /// The tensors of one group by name.
    member f.Group(name: string) =
        match f.Tensors.TryFind name with
        | Some g -> g
        | None -> failwithf "fixture %s-%s has no tensor group '%s'" f.Case f.ModelName name
    /// A scalar of the case as a float.
    member f.Float(name: string) = f.Scalars.GetProperty(name).GetDouble()
    /// A scalar of the case as an int.
    member f.Int(name: string) = f.Scalars.GetProperty(name).GetInt32()
    interface IDisposable with
        member f.Dispose() =
            for g in f.Tensors.Values do
                for t in g.Values do t.Dispose()

let private readTensor (e: JsonElement) =
    let shape = e.GetProperty("shape").EnumerateArray() |> Seq.map (fun x -> x.GetInt64()) |> Array.ofSeq
    let data = e.GetProperty("data").EnumerateArray()
    let flat =
        match e.GetProperty("dtype").GetString() with
        | "float32" -> torch.tensor(data |> Seq.map (fun x -> x.GetSingle()) |> Array.ofSeq)
        | "int64" -> torch.tensor(data |> Seq.map (fun x -> x.GetInt64()) |> Array.ofSeq, dtype = torch.ScalarType.Int64)
        | "uint8" -> torch.tensor(data |> Seq.map (fun x -> x.GetByte()) |> Array.ofSeq, dtype = torch.ScalarType.Byte)
        | d -> failwithf "fixture dtype '%s' is not known" d
    flat.reshape(shape)

/// Loads tests/fixtures/conformance/<case>-<model>.json.
let load (case: string) (model: string) =
    let path = Path.Combine(folder (), sprintf "%s-%s.json" case model)
    use doc = JsonDocument.Parse(File.ReadAllText path)
    let root = doc.RootElement
    let m = root.GetProperty("model")
    let ints (e: JsonElement) = e.EnumerateArray() |> Seq.map (fun x -> x.GetInt32()) |> Array.ofSeq
    let shape = ints (m.GetProperty("shape"))
    let spec = ModelSpec(m.GetProperty("kind").GetString(), ints (m.GetProperty("widths")), "relu", true, m.GetProperty("base_width").GetInt32())
    let tensors =
        [ for g in root.GetProperty("tensors").EnumerateObject() ->
            g.Name, (g.Value.EnumerateObject() |> Seq.map (fun t -> t.Name, readTensor t.Value) |> Map.ofSeq) ]
        |> Map.ofList
    { Case = case; ModelName = model; Spec = spec
      Shape = (int64 shape.[0], int64 shape.[1], int64 shape.[2])
      Classes = m.GetProperty("classes").GetInt32()
      Scalars = root.GetProperty("scalars").Clone()
      Tensors = tensors }

/// A core network of the fixture's model (any seed: every entry is then overwritten).
let emptyNetwork (f: Fixture) =
    let c, h, w = f.Shape
    ModelFactory.Create(f.Spec, struct (c, h, w), f.Classes, 0L)

/// Overwrites every parameter and buffer of net with the same-named tensor; the names must be the same sets.
let loadState (net: Network) (tensors: Map<string, torch.Tensor>) =
    let sd = net.state_dict()
    let mine = sd.Keys |> Set.ofSeq
    let theirs = tensors |> Map.keys |> Set.ofSeq
    if mine <> theirs then
        failwithf "state names differ: only in the core %A; only in the fixture %A" (mine - theirs) (theirs - mine)
    use _ = torch.no_grad()
    for KeyValue(n, t) in sd do t.copy_(tensors.[n]) |> ignore

/// Overwrites the learnable parameters of net (names must be the same sets); buffers stay as built.
let loadParams (net: Network) (tensors: Map<string, torch.Tensor>) =
    let ps = net.named_parameters() |> Seq.map (fun struct (n, p) -> n, p) |> Map.ofSeq
    let mine = ps |> Map.keys |> Set.ofSeq
    let theirs = tensors |> Map.keys |> Set.ofSeq
    if mine <> theirs then
        failwithf "parameter names differ: only in the core %A; only in the fixture %A" (mine - theirs) (theirs - mine)
    use _ = torch.no_grad()
    for KeyValue(n, p) in ps do p.copy_(tensors.[n]) |> ignore

/// A core network holding the fixture's state group (parameters and buffers).
let network (f: Fixture) (group: string) =
    let net = emptyNetwork f
    loadState net (f.Group group)
    net

/// The fixture's data group as a dataset with the core's identity normalisation (x = byte / 255, as generate.py).
let dataset (f: Fixture) =
    let g = f.Group "data"
    let c, _, _ = f.Shape
    new Dataset("conformance", g.["images"].clone(), g.["labels"].clone(), f.Classes, Normalization.Identity(int c))

/// A stage context over the fixture's data whose fresh draws are copies of the fixture's "fresh" group (the
/// injected noise network), whatever the seed.
let context (f: Fixture) (parent: Network) (data: Dataset) =
    StageContext(
        Parent = parent,
        Fresh = Func<int64, Network>(fun _ -> if f.Tensors.ContainsKey "fresh" then network f "fresh" else emptyNetwork f),
        Seed = 7L,
        OriginalInitSeed = 1L,
        Train = data,
        Indices = torch.arange(data.Count, dtype = torch.ScalarType.Int64),
        ParentIndices = torch.arange(data.Count, dtype = torch.ScalarType.Int64),
        BatchSize = 8)

/// A data set standing in where a case has no data (the policy does not read it).
let noData (f: Fixture) =
    let c, h, w = f.Shape
    new Dataset("none", torch.zeros([| 1L; c; h; w |], dtype = torch.ScalarType.Byte), torch.zeros([| 1L |], dtype = torch.ScalarType.Int64), f.Classes, Normalization.Identity(int c))

/// max |a − b| over two tensors of the same shape (a shape mismatch is +∞), in float64.
let maxAbsDiff (a: torch.Tensor) (b: torch.Tensor) =
    if a.shape <> b.shape then Double.PositiveInfinity
    else
        use d = (a.detach().cpu().to_type(torch.ScalarType.Float64) - b.detach().cpu().to_type(torch.ScalarType.Float64)).abs_()
        if d.numel() = 0L then 0.0 else d.max().item<double>()

/// The worst (name, error) over the named tensors of expected; a name missing from actual is +∞.
let worst (actual: Map<string, torch.Tensor>) (expected: Map<string, torch.Tensor>) =
    let errors =
        [ for KeyValue(n, e) in expected ->
            n, (match actual.TryFind n with Some a -> maxAbsDiff a e | None -> Double.PositiveInfinity) ]
    let extra = actual |> Map.keys |> Seq.filter (fun n -> not (expected.ContainsKey n)) |> List.ofSeq
    let n, e = errors |> List.maxBy snd
    if extra.IsEmpty then n, e else (String.Join(", ", extra) + " (not in the fixture)"), Double.PositiveInfinity

/// A network's state (parameters and buffers) by name.
let stateOf (net: Network) = net.state_dict() |> Seq.map (fun kv -> kv.Key, kv.Value) |> Map.ofSeq

/// A network's gradients by parameter name.
let gradsOf (net: Network) =
    net.named_parameters() |> Seq.choose (fun struct (n, p) -> match p.grad with null -> None | g -> Some(n, g)) |> Map.ofSeq

/// Fails unless every tensor of expected is within tolerance of actual's.
let expectClose (label: string) (actual: Map<string, torch.Tensor>) (expected: Map<string, torch.Tensor>) =
    let n, e = worst actual expected
    if not (e <= tolerance) then
        failwithf "%s: max abs error %g at '%s' (allowed %g)" label e n tolerance

/// Fails unless two scalars are within tolerance.
let expectScalar (label: string) (actual: float) (expected: float) =
    if not (abs (actual - expected) <= tolerance) then
        failwithf "%s: %.9g, PyTorch %.9g (abs error %g, allowed %g)" label actual expected (abs (actual - expected)) tolerance
