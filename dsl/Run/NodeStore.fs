/// Node results, trained weights, checkpoints and study indexes in a ResultStore folder. JSON for what people
/// and other tools read (result.json, spec.json, index.json); TorchSharp's format for weights.
module WarmStart.NodeStore

open System
open System.IO
open System.Text.Json
open System.Text.Json.Serialization
open WarmStart.Core.Runs
open WarmStart.Core.Training

/// JSON options: F# records, unions and options; NaN allowed (a diverged loss is a fact, not an error).
let jsonOptions =
    let o = JsonSerializerOptions(WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)
    o.Converters.Add(JsonFSharpConverter())
    o

/// Serialises a value as indented JSON.
let toJson (v: 'T) = JsonSerializer.Serialize(v, jsonOptions)

/// Reads a value from JSON.
let ofJson<'T> (text: string) = JsonSerializer.Deserialize<'T>(text, jsonOptions)

/// Reads a study index or node spec, saying what to do when an older toolkit wrote it (their settings' JSON shape
/// changes with the DSL's types; node keys and results do not, so running the study again rewrites it and
/// retrains nothing).
let private ofJsonWritten<'T> (path: string) (what: string) =
    try ofJson<'T> (File.ReadAllText path)
    with :? JsonException as e ->
        failwithf "%s %s cannot be read (%s); an older toolkit may have written it: run the study again with the same store (stored nodes are read, not retrained) to rewrite it" what path e.Message

/// The latest version of a node and its problems against its manifest (sizes and small files hashed; empty when
/// intact), or None when the node has no version.
let checkLatest (store: ResultStore) (key: string) : (string * string list) option =
    match store.Latest key with
    | null -> None
    | dir ->
        let problems = List.ofSeq (store.CheckVersion(key, dir, false))
        let problems =
            if not problems.IsEmpty then problems
            else
                try ofJson<NodeResult> (File.ReadAllText(Path.Combine(dir, "result.json"))) |> ignore; []
                with
                | :? JsonException as e -> [ sprintf "result.json does not parse (%s)" (e.Message.Split('.')[0]) ]
                | :? IOException as e -> [ sprintf "result.json cannot be read (%s)" e.Message ]
        Some(dir, problems)

/// The result of a node's latest version, if any and intact (a damaged version counts as missing).
let tryRead (store: ResultStore) (key: string) : NodeResult option =
    match checkLatest store key with
    | Some(dir, []) -> Some(ofJson<NodeResult> (File.ReadAllText(Path.Combine(dir, "result.json"))))
    | _ -> None

/// Reports a damaged version found by a run (stderr: the executor goes on and trains the node again).
let mutable reportCorrupt : string -> unit = fun line -> eprintfn "%s" line

/// What an executor reads under the node's lock before deciding to train: the intact latest result, or None. A
/// damaged latest version is never used: it is moved aside into the node's `corrupt/` folder (nothing is deleted),
/// the event is reported, and the node counts as missing, so it is trained again into a new version.
let tryReadForRun (store: ResultStore) (key: string) : NodeResult option =
    match checkLatest store key with
    | None -> None
    | Some(dir, []) -> Some(ofJson<NodeResult> (File.ReadAllText(Path.Combine(dir, "result.json"))))
    | Some(dir, problems) ->
        let aside = store.Quarantine(key, dir, problems)
        reportCorrupt (sprintf "warning: node %s %s is damaged (%s); moved to %s; training it again"
                           (key.Substring(0, 8)) (Path.GetFileName dir) (String.concat "; " problems)
                           (Path.GetRelativePath(store.Root, aside)))
        None

/// A file of a node's latest version, checked in full against the manifest before it is used.
let private checkedFile (store: ResultStore) (key: string) (name: string) =
    match store.Latest key with
    | null -> None
    | dir ->
        let p = Path.Combine(dir, name)
        // Whether the version has this file at all (a node without optimiser state has no optimizer.pt).
        let listed =
            try
                match Manifest.Read dir with
                | null -> File.Exists p
                | m -> m.Files |> Seq.exists (fun f -> f.Name = name)
            with _ -> true
        if not listed then None
        else
            match Manifest.CheckFile(dir, name) with
            | null -> Some p
            | problem ->
                failwithf "node %s %s is damaged (%s): it is not used; run `warmstart store verify %s --repair`, then the study again"
                    (key.Substring(0, 8)) (Path.GetFileName dir) problem store.Root

/// The trained weights of a node's latest version (hashed against its manifest before use).
let modelPath (store: ResultStore) (key: string) =
    match checkedFile store key "model.pt" with
    | Some p -> p
    | None -> failwithf "node %s has no stored result" key

/// The spec of a stored node (written beside its result), for rebuilding its model outside the plan.
let tryReadSpec (store: ResultStore) (key: string) : NodeSpec option =
    checkedFile store key "node.json" |> Option.map (fun p -> ofJsonWritten<NodeSpec> p "node spec")

/// The training subset (dataset indices) a stored node trained on.
let tryReadSubset (store: ResultStore) (key: string) : int64[] option =
    checkedFile store key "subset.bin" |> Option.map (fun p ->
        let bytes = File.ReadAllBytes p
        Array.init (bytes.Length / 8) (fun i -> BitConverter.ToInt64(bytes, 8 * i)))

/// The optimiser state of a node's latest version (present when a child keeps it).
let optimizerPath (store: ResultStore) (key: string) = checkedFile store key "optimizer.pt"

/// The provenance of a node's latest version (None for versions written before provenance was recorded).
let tryProvenance (store: ResultStore) (key: string) : Provenance option =
    match store.Latest key with
    | null -> None
    | dir -> try Option.ofObj (Provenance.Read dir) with _ -> None

/// Writes a node's result, spec and weights as a new version (atomically).
/// The provenance is written beside them, and the manifest last.
let commit (store: ResultStore) (node: PlanNode) (result: NodeResult) (model: TorchSharp.torch.nn.Module)
           (optimizer: TorchSharp.torch.optim.Optimizer option) (subset: int64[] option) (provenance: Provenance) =
    store.Commit(node.Key, (fun dir ->
        File.WriteAllText(Path.Combine(dir, "result.json"), toJson result)
        File.WriteAllText(Path.Combine(dir, "spec.json"), Canonical.render (Plan.specJson node.Spec))
        File.WriteAllText(Path.Combine(dir, "node.json"), toJson node.Spec)
        subset |> Option.iter (fun (idx: int64[]) ->
            File.WriteAllBytes(Path.Combine(dir, "subset.bin"), Array.collect (fun (i: int64) -> BitConverter.GetBytes i) idx))
        model.save(Path.Combine(dir, "model.pt")) |> ignore
        match optimizer with
        | Some (:? TorchSharp.Modules.OptimizerHelper as o) -> o.save_state_dict(Path.Combine(dir, "optimizer.pt"))
        | _ -> ()), provenance)
    |> ignore

// ---- per-epoch checkpoints (resume a stage killed mid-training) --------------------------------------------

let private checkpointDir (store: ResultStore) key = Path.Combine(store.NodeFolder key, "checkpoint")

/// Writes a node's `checkpoint/` folder with `fill` (given a scratch folder) and swaps it in: the old checkpoint moves
/// aside first, so at every instant one complete checkpoint exists (`checkpoint/` or, mid-swap, `checkpoint.old/`).
let writeCheckpointFolder (store: ResultStore) (key: string) (what: string) (fill: string -> unit) =
    let write () =
        let final = checkpointDir store key
        let tmp = final + sprintf ".tmp-%d-%s" Environment.ProcessId (Guid.NewGuid().ToString("N"))
        Directory.CreateDirectory tmp |> ignore
        fill tmp
        let old = final + ".old"
        if Directory.Exists old then Directory.Delete(old, true)
        if Directory.Exists final then Directory.Move(final, old)
        Directory.Move(tmp, final)
        if Directory.Exists old then Directory.Delete(old, true)
    StoreException.Guard(store.Root, sprintf "writing node %s's %s" (key.Substring(0, 8)) what, Action write)

/// Saves the state after an epoch: weights, optimiser state and the curve so far; replaces the previous one.
let saveCheckpoint (store: ResultStore) (key: string) (model: TorchSharp.torch.nn.Module) (optimizer: TorchSharp.torch.optim.Optimizer) (curve: EpochRecord list) =
    writeCheckpointFolder store key "checkpoint" (fun tmp ->
        model.save(Path.Combine(tmp, "model.pt")) |> ignore
        (optimizer :?> TorchSharp.Modules.OptimizerHelper).save_state_dict(Path.Combine(tmp, "optimizer.pt"))
        // Evaluated epochs add their test loss and accuracy; others keep the four columns of older checkpoints.
        let points =
            curve |> List.map (fun e ->
                if e.Evaluated then [| float e.Epoch; e.Loss; e.TrainAccuracy; e.Seconds; e.TestLoss; e.TestAccuracy |]
                else [| float e.Epoch; e.Loss; e.TrainAccuracy; e.Seconds |])
        File.WriteAllText(Path.Combine(tmp, "curve.json"), JsonSerializer.Serialize(points, jsonOptions)))

/// The checkpoint of a node, if one exists: (weights path, optimiser path, curve so far).
let tryCheckpoint (store: ResultStore) (key: string) =
    let dir =
        let d = checkpointDir store key
        if Directory.Exists d then Some d
        elif Directory.Exists(d + ".old") then Some(d + ".old")
        else None
    dir |> Option.bind (fun d ->
        let curveFile = Path.Combine(d, "curve.json")
        if File.Exists curveFile && File.Exists(Path.Combine(d, "model.pt")) && File.Exists(Path.Combine(d, "optimizer.pt")) then
            let points = JsonSerializer.Deserialize<float[][]>(File.ReadAllText curveFile, jsonOptions)
            let curve =
                [ for p in points ->
                    if p.Length >= 6 then EpochRecord(int p[0], p[1], p[2], p[3], TestLoss = p[4], TestAccuracy = p[5])
                    else EpochRecord(int p[0], p[1], p[2], p[3]) ]
            Some(Path.Combine(d, "model.pt"), Path.Combine(d, "optimizer.pt"), curve)
        else None)

/// Removes a node's checkpoint once its result is committed (a checkpoint is scratch, not a result).
let dropCheckpoint (store: ResultStore) (key: string) =
    for d in [ checkpointDir store key; checkpointDir store key + ".old" ] do
        if Directory.Exists d then Directory.Delete(d, true)

// ---- study indexes ----------------------------------------------------------------------------------------

/// One chain (variant, arm, seed), as stored in an index.
type ChainEntry = { Variant: string; Arm: string; Seed: int; Keys: string list }

/// What a store remembers of a study run: the study, its variants, nodes and chains.
type StudyIndex =
    { Study: Study
      Variants: VariantPlan list
      Nodes: PlanNode list
      Chains: ChainEntry list
      Quick: bool
      UpdatedUtc: DateTime }

/// The folder name of a study run in the store (`NAME` or `NAME.quick`).
let studyFolderName (study: string) (quick: bool) = if quick then study + ".quick" else study

/// Writes (atomically) the index of a study run.
let writeIndex (store: ResultStore) (plan: StudyPlan) (quick: bool) =
    let index =
        { Study = plan.Study; Variants = plan.Variants; Nodes = plan.Nodes
          Chains = [ for KeyValue(c, ks) in plan.Chains -> { Variant = c.Variant; Arm = c.Arm; Seed = c.Seed; Keys = ks } ]
          Quick = quick; UpdatedUtc = DateTime.UtcNow }
    let dir = store.StudyFolder(studyFolderName plan.Study.Name quick)
    ResultStore.WriteAllTextAtomic(Path.Combine(dir, "index.json"), toJson index)

/// Reads a study run's index back into a plan.
let readIndex (store: ResultStore) (folderName: string) : StudyPlan * bool =
    let path = Path.Combine(store.StudyFolder folderName, "index.json")
    if not (File.Exists path) then failwithf "no study '%s' in %s (studies: %s)" folderName store.Root (String.Join(", ", store.Studies()))
    let i = ofJsonWritten<StudyIndex> path "study index"
    { Study = i.Study; Variants = i.Variants; Nodes = i.Nodes
      Chains = i.Chains |> List.map (fun c -> { Variant = c.Variant; Arm = c.Arm; Seed = c.Seed }, c.Keys) |> Map.ofList }, i.Quick

/// What produced the stored versions of `keys`, grouped: one line per distinct (toolkit, commit, TorchSharp, libtorch,
/// device, threads, engine, OS) with the number of nodes and their total wall time; versions written before
/// provenance was recorded are counted on a line of their own.
let provenanceSummary (store: ResultStore) (keys: string seq) : string list =
    let provs = keys |> Seq.distinct |> Seq.filter store.Has |> Seq.map (fun k -> tryProvenance store k) |> List.ofSeq
    let unknown = provs |> List.filter Option.isNone |> List.length
    [ for (_, group) in provs |> List.choose id |> List.groupBy (fun p -> p.Setup) do
          let wall = group |> List.sumBy (fun x -> x.WallSeconds)
          let d = (List.head group).WithWallSeconds(wall).Describe()
          yield sprintf "provenance: %d node%s: %s wall in all" group.Length (if group.Length = 1 then "" else "s") d
      if unknown > 0 then yield sprintf "provenance: %d node%s written before provenance was recorded" unknown (if unknown = 1 then "" else "s") ]
