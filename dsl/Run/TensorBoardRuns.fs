/// TensorBoard runs of a plan's nodes: the run folder of a node (shared by `run --tensorboard`, which writes it live,
/// and `report --tensorboard`, which exports stored results), its hyper-parameters for the HParams dashboard, and
/// the step its first epoch is plotted at (the chain's epoch).
module WarmStart.TensorBoardRuns

open System
open System.Collections.Generic
open System.IO

/// `DIR/<study>/stage<t>-seed<i>-<arms>-<key8>`: one run per node (a node shared by several arms is one run).
let runFolder (dir: string) (studyName: string) (n: PlanNode) =
    Path.Combine(dir, studyName, sprintf "stage%d-seed%d-%s-%s" n.Stage n.SeedIndex (String.concat "+" n.Arms) (n.Key.Substring(0, 8)))

/// The node's hyper-parameters: arm (several joined with "+"), policy (how its weights start: "fresh", "warm",
/// "shrink_perturb λ=… σ=…", "continue"), stage, seed, variant, learning rate, batch size, and every sweep knob
/// whose value all the node's variants share.
let hparams (plan: StudyPlan) (n: PlanNode) : IReadOnlyDictionary<string, obj> =
    let d = Dictionary<string, obj>()
    d["arm"] <- box (String.concat "+" n.Arms)
    d["policy"] <- box (match n.Spec.Init with
                        | Root _ -> "fresh"
                        | FromParent(p, _) -> Describe.policy p
                        | Continue -> "continue")
    d["stage"] <- box n.Stage
    d["seed"] <- box n.SeedIndex
    d["variant"] <- box (String.concat " | " (n.Variants |> List.filter (fun v -> v <> "")))
    d["lr"] <- box n.Spec.Optimizer.Lr
    d["batch_size"] <- box n.Spec.BatchSize
    let knobs = plan.Variants |> List.filter (fun v -> List.contains v.Name n.Variants) |> List.map (fun v -> Map.ofList v.Knobs)
    match knobs with
    | first :: rest ->
        for KeyValue(k, v) in first do
            if rest |> List.forall (fun m -> m.TryFind k = Some v) then d[k.Name] <- box v
    | [] -> ()
    d :> IReadOnlyDictionary<string, obj>

/// The epochs a node's chain ran before the node's first epoch, so that its epoch e is plotted at step offset + e
/// and a chain's stages follow one another (stage 2's first step is stage 1's last + 1). A node whose weights come
/// from a parent continues the parent's chain; a stage that continues its parent's training numbers its epochs
/// after the parent's already; a node that starts afresh (a fresh arm's later stage) follows the previous stage of
/// a chain through it. When that earlier stage has no result yet (it trains at the same time, `--jobs N`), its
/// epoch cap stands in for its epoch count: steps stay increasing along the chain, with a gap.
let stepOffset (plan: StudyPlan) (specOf: string -> NodeSpec) (tryResult: string -> NodeResult option) (key: string) =
    let previousInChain k =
        plan.Chains |> Map.toSeq |> Seq.tryPick (fun (_, keys) ->
            match List.tryFindIndex ((=) k) keys with
            | Some i when i > 0 -> Some keys[i - 1]
            | _ -> None)
    let rec offset k =
        let sp = specOf k
        match sp.Init, sp.Parent with
        | Continue, Some p -> offset p
        | _, Some p -> chainEnd p
        | _, None -> previousInChain k |> Option.map chainEnd |> Option.defaultValue 0
    and chainEnd k =
        let epochs =
            match tryResult k with
            | Some r -> r.Curve |> List.fold (fun m e -> max m e.Epoch) 0
            | None -> let s = (specOf k).Stop in s.FixedEpochs.GetValueOrDefault(s.MaxEpochs)
        offset k + epochs
    offset key

/// A stream node's run, written from its task points: one step per task (task t at step t) with the average online
/// accuracy, task-end accuracy, training loss, dormant and dead fractions (means over hidden layers) and srank,
/// under `stream/`, and the node's hparams; the session fails when a task's loss diverged. Earlier event files of
/// the run are replaced, so writing it again gives the same run.
let writeStream (dir: string) (plan: StudyPlan) (n: PlanNode) (tasks: TaskPoint list) =
    let run = runFolder dir plan.Study.Name n
    if Directory.Exists run then
        for f in Directory.GetFiles(run, "events.out.tfevents.*") do File.Delete f
    let w = WarmStart.Core.Training.TfEventWriter(run)
    w.SessionStart(hparams plan n)
    let meanOf (xs: float list) = if xs.IsEmpty then nan else List.average xs
    for t in tasks do
        let step = int64 t.Task
        w.Scalar("stream/online_accuracy", t.OnlineAccuracy, step)
        w.Scalar("stream/end_accuracy", t.EndAccuracy, step)
        w.Scalar("stream/loss", t.Loss, step)
        w.Scalar("stream/dormant", meanOf t.Dormant, step)
        w.Scalar("stream/dead", meanOf t.Dead, step)
        w.Scalar("stream/srank", float t.SRank, step)
    w.SessionEnd(tasks |> List.forall (fun t -> Double.IsFinite t.Loss))

/// The runs of every stream node of `plan` that has a result (`run --tensorboard`: written once the stream node
/// has finished or been read from the store, not task by task while it trains).
let writeStreams (dir: string) (plan: StudyPlan) (results: Map<string, NodeResult>) =
    for n in plan.Nodes do
        match n.Spec.Stream, results.TryFind n.Key with
        | System.Text.Json.Serialization.Include _, Some { Tasks = System.Text.Json.Serialization.Include tasks } ->
            writeStream dir plan n tasks
        | _ -> ()
