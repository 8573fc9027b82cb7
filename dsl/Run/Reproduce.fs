/// `warmstart store reproduce`: re-trains sampled nodes of a store from their recorded parents, in a temporary store,
/// under their recorded provenance (device, torch threads, engine), and compares with what the store holds, bit for
/// bit: every number of result.json but timings, and the SHA-256 of the weights, optimiser state and subset.
module WarmStart.Reproduce

open System
open System.IO
open WarmStart.Core.Runs

/// The outcome of reproducing one node.
type Outcome =
    /// Every compared number and file is identical.
    | Identical
    /// What differs.
    | Different of string list
    /// Not reproducible here (why).
    | NotRun of string

/// A result without its timings (wall seconds, throughput, per-epoch seconds), which no two runs share.
let private untimed (r: NodeResult) =
    { r with Seconds = 0.0; SamplesPerSecond = 0.0; Curve = r.Curve |> List.map (fun e -> { e with Seconds = 0.0 }) }

/// The fields in which two results differ (timings ignored; floats compared exactly, through their JSON form).
let differences (stored: NodeResult) (again: NodeResult) : string list =
    let a, b = untimed stored, untimed again
    let j (v: obj) = NodeStore.toJson v
    [ let field name (x: obj) (y: obj) = if j x <> j y then Some(sprintf "%s: stored %s, reproduced %s" name (j x) (j y)) else None
      yield! [ field "TestAccuracy" a.TestAccuracy b.TestAccuracy; field "TestLoss" a.TestLoss b.TestLoss
               field "TrainAccuracy" a.TrainAccuracy b.TrainAccuracy; field "TrainLoss" a.TrainLoss b.TrainLoss
               field "Epochs" a.Epochs b.Epochs; field "TrainSize" a.TrainSize b.TrainSize; field "Diverged" a.Diverged b.Diverged
               field "Key" a.Key b.Key ] |> List.choose id
      if j a.Curve <> j b.Curve then "Curve: the per-epoch losses or accuracies differ"
      if j a.Diagnostics <> j b.Diagnostics then "Diagnostics: differ" ]

let private silent =
    { new Progress.IProgressSink with
        member _.Started _ = ()
        member _.Epoch(_, _) = ()
        member _.Finished(_, _, _) = () }

let private copyVersion (fromDir: string) (toDir: string) =
    Directory.CreateDirectory toDir |> ignore
    for f in Directory.GetFiles fromDir do File.Copy(f, Path.Combine(toDir, Path.GetFileName f))

/// Re-trains `node` (of `study`) in a temporary store holding only its parent's stored version, under the provenance
/// recorded with the node's stored version, and compares.
let node (store: ResultStore) (study: Study) (node: PlanNode) (dataRoot: string option) : Outcome =
    match store.Latest node.Key with
    | null -> NotRun "no stored result"
    | dir ->
    match List.ofSeq (store.CheckVersion(node.Key, dir, true)) with
    | (_ :: _) as problems -> Different [ "the stored version is damaged: " + String.concat "; " problems ]
    | [] ->
    match (try Option.ofObj (Provenance.Read dir) with _ -> None) with
    | None -> NotRun "no provenance recorded (written before provenance existed)"
    | Some prov when prov.Engine <> Provenance.SingleEngine && prov.Engine <> WarmStart.Core.Training.Stacked.StackedTrainer.Engine ->
        NotRun(sprintf "trained by the '%s' engine; 'single' and 'stacked' run here" prov.Engine)
    | Some prov when prov.Device.StartsWith "cuda" && not (TorchSharp.torch.cuda.is_available ()) -> NotRun(sprintf "trained on %s; no CUDA device here" prov.Device)
    | Some prov ->
    let parentMissing = node.Spec.Parent |> Option.filter (fun p -> isNull (store.Latest p))
    match parentMissing with
    | Some p -> NotRun(sprintf "parent %s has no stored result" (p.Substring(0, 8)))
    | None ->
    let tmpRoot = Path.Combine(Path.GetTempPath(), "warmstart-reproduce-" + Guid.NewGuid().ToString("N"))
    try
        let temp = ResultStore(tmpRoot)
        node.Spec.Parent |> Option.iter (fun p -> copyVersion (store.Latest p) (Path.Combine(temp.NodeFolder p, "v1")))
        let plan = { Study = { study with Threads = max 1 prov.TorchThreads }; Variants = []; Nodes = [ node ]; Chains = Map.empty }
        let exec : Executor.ExecOptions =
            { DataRoot = dataRoot; Device = (match Device.Parse prov.Device with Ok d -> d | Error _ -> Device.Cpu); Jobs = 1; Store = temp
              // The recorded engine: a stacked member alone (a stack of one gives a member's numbers in any stack).
              Stack = (if prov.Engine = WarmStart.Core.Training.Stacked.StackedTrainer.Engine then Executor.StackUpTo 1 else Executor.StackOff)
              Rerun = false; CheckpointEvery = 0; Cancel = Threading.CancellationToken.None
              TensorBoard = None }
        let status, results = Executor.run exec silent plan
        match status.TryFind node.Key, results.TryFind node.Key with
        | Some(Failed m), _ -> NotRun("training failed: " + m)
        | _, Some again ->
            let stored = NodeStore.ofJson<NodeResult> (File.ReadAllText(Path.Combine(dir, "result.json")))
            let newDir = temp.Latest node.Key
            let files =
                [ for name in [ "model.pt"; "optimizer.pt"; "subset.bin" ] do
                      let a, b = Path.Combine(dir, name), Path.Combine(newDir, name)
                      match File.Exists a, File.Exists b with
                      | true, true when Manifest.Sha256 a <> Manifest.Sha256 b -> yield sprintf "%s: SHA-256 differs" name
                      | true, false | false, true -> yield sprintf "%s: present in only one of the two" name
                      | _ -> () ]
            match differences stored again @ files with
            | [] -> Identical
            | ds -> Different ds
        | _ -> NotRun "no result"
    finally
        try Directory.Delete(tmpRoot, true) with _ -> ()

/// The nodes of a store's studies (or one) that have a stored result, each with its study; distinct by key.
let candidates (store: ResultStore) (studyFolder: string option) =
    let folders = match studyFolder with Some s -> [ s ] | None -> List.ofSeq (store.Studies())
    [ for f in folders do
          let p, _ = NodeStore.readIndex store f
          for n in p.Nodes do
              if store.Has n.Key then yield f, p.Study, n ]
    |> List.distinctBy (fun (_, _, n) -> n.Key)

/// Picks `n` of the candidates: a fixed-seed shuffle, so the same command samples the same nodes.
let sample (n: int) (xs: 'a list) =
    let rng = Random(20201206)
    xs |> List.map (fun x -> rng.Next(), x) |> List.sortBy fst |> List.map snd |> List.truncate n

/// `warmstart store reproduce`: prints one line per node and the tally `N identical, N different, N not run`;
/// returns 1 when any node differs or none could be reproduced, else 0.
let run (root: string) (studyFolder: string option) (n: int) (dataRoot: string option) (write: string -> unit) =
    if not (Directory.Exists(Path.Combine(root, "nodes"))) then failwithf "'%s' is not a result store (no nodes/ folder)" root
    let store = ResultStore(root)
    let all = candidates store studyFolder
    let picked = sample n all
    write (sprintf "reproducing %d of %d stored nodes%s" picked.Length all.Length
               (match studyFolder with Some s -> sprintf " of study %s" s | None -> ""))
    let outcomes =
        [ for folder, study, pn in picked ->
            let o = node store study pn dataRoot
            let what =
                match o with
                | Identical -> "identical"
                | Different ds -> "DIFFERENT: " + String.concat "; " ds
                | NotRun why -> "not run: " + why
            write (sprintf "  %s %s stage %d seed %d: %s" (pn.Key.Substring(0, 8)) folder pn.Stage pn.SeedIndex what)
            o ]
    let count f = outcomes |> List.filter f |> List.length
    let same = count (function Identical -> true | _ -> false)
    let diff = count (function Different _ -> true | _ -> false)
    let notRun = count (function NotRun _ -> true | _ -> false)
    write (sprintf "%d identical, %d different, %d not run" same diff notRun)
    if diff > 0 || same = 0 then 1 else 0
