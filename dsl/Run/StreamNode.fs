/// Stream nodes: one store node runs a whole task stream (the core's TaskStream) for one arm and seed, instead of
/// one node per task, so a 50–800-task stream is one job and one process. The stream's state is saved into the
/// node's `checkpoint/` folder at every task boundary and resumed from there after a kill (identical numbers: every
/// draw of the stream derives from its seed and the task, epoch or step); the finished node stores the per-task
/// results in result.json (`Tasks`) and as `tasks.csv` beside it.
module WarmStart.StreamNode

open System
open System.IO
open System.Globalization
open TorchSharp
open WarmStart.Core.Data
open WarmStart.Core.Plasticity
open WarmStart.Core.Runs
open WarmStart.Core.Training

/// A task's result as the store keeps it.
let taskPoint (t: TaskResult) : TaskPoint =
    let m = t.Metrics
    { Task = t.Task; Epochs = t.Epochs; Steps = t.Steps; OnlineAccuracy = t.OnlineAccuracy; EndAccuracy = t.EndAccuracy
      Loss = t.MeanLoss; Dormant = List.ofArray m.Dormant; Dead = List.ofArray m.Dead; EffectiveRank = m.EffectiveRank
      SRank = m.SRank
      WeightMagnitude = (if m.WeightMagnitude.Count = 0 then nan else m.WeightMagnitude.Values |> Seq.average)
      WeightMagnitudeByLayer =
          System.Text.Json.Serialization.Include [ for KeyValue(g, v) in m.WeightMagnitude -> { Layer = g; Value = v } ]
      DistanceFromInit = m.DistanceFromInit; GradientNorm = m.GradientNorm; Seconds = t.Seconds }

/// Fresh hook objects for a stream node (they hold state): L2-init from the node's penalties, then the arm's
/// methods in the order declared; each method's random draws come from its own seed derived from the stream's.
let hooks (d: StreamNodeDef) (penalties: PenaltySpec list) : ITrainingHook list =
    [ for p in penalties do
          match p with
          | L2InitPenaltySpec(l, dashForm, _) -> yield new StreamL2Init(l, ToCore.l2InitForm dashForm) :> ITrainingHook
          | EwcPenaltySpec _ -> invalidArg "penalties" "EWC is not supported in a task stream"
      for i, m in List.indexed d.Methods -> ToCore.continualHook (Seeds.Derive(d.Seed, sprintf "method-%d" i)) m ]

let private checkpointDir (store: ResultStore) key = Path.Combine(store.NodeFolder key, "checkpoint")

/// The stream checkpoint of a node, if one exists (a complete `checkpoint/`, or its `.old` twin mid-swap).
let tryCheckpoint (store: ResultStore) (key: string) : StreamCheckpoint option =
    [ checkpointDir store key; checkpointDir store key + ".old" ]
    |> List.map (fun d -> Path.Combine(d, "stream.bin"))
    |> List.tryFind File.Exists
    |> Option.map (fun f -> use s = File.OpenRead f in StreamCheckpoint.Load s)

/// Saves the state at a task boundary, replacing the previous one; at every instant one complete checkpoint exists
/// (the same swap as a stage's checkpoint, so `store verify` knows its scratch).
let saveCheckpoint (store: ResultStore) (key: string) (ck: StreamCheckpoint) =
    NodeStore.writeCheckpointFolder store key "stream checkpoint" (fun tmp ->
        use f = new FileStream(Path.Combine(tmp, "stream.bin"), FileMode.CreateNew)
        ck.Save f
        f.Flush(true))

/// The tasks as CSV: one row per task, the per-layer metrics as columns Dormant1…, Dead1…, and the weight magnitude
/// per layer group as WeightMagnitude_<group> after the earlier columns (WeightMagnitude stays the mean over groups).
let tasksCsv (tasks: TaskPoint list) =
    let f (x: float) = x.ToString("R", CultureInfo.InvariantCulture)
    let layers = tasks |> List.map (fun t -> t.Dormant.Length) |> List.fold max 0
    let groups = tasks |> List.collect (fun t -> t.WeightMagnitudeLayers |> List.map (fun x -> x.Layer)) |> List.distinct
    let header =
        [ "Task"; "Epochs"; "Steps"; "OnlineAcc"; "EndAcc"; "Loss"
          for l in 1 .. layers do sprintf "Dormant%d" l
          for l in 1 .. layers do sprintf "Dead%d" l
          "EffectiveRank"; "SRank"; "WeightMagnitude"; "DistanceFromInit"; "GradientNorm"; "Seconds"
          for g in groups do "WeightMagnitude_" + g ]
    let row (t: TaskPoint) =
        [ string t.Task; string t.Epochs; string t.Steps; f t.OnlineAccuracy; f t.EndAccuracy; f t.Loss
          for l in 0 .. layers - 1 do (if l < t.Dormant.Length then f t.Dormant[l] else "")
          for l in 0 .. layers - 1 do (if l < t.Dead.Length then f t.Dead[l] else "")
          f t.EffectiveRank; string t.SRank; f t.WeightMagnitude; f t.DistanceFromInit; f t.GradientNorm; f t.Seconds
          for g in groups do
              match t.WeightMagnitudeLayers |> List.tryFind (fun x -> x.Layer = g) with
              | Some x -> f x.Value
              | None -> "" ]
    (String.concat "," header :: [ for t in tasks -> String.concat "," (row t) ]) |> String.concat "\n" |> fun s -> s + "\n"

/// The node result of a finished stream: accuracy columns are means over the last 10 % of the tasks (TestAccuracy:
/// task-end accuracy; TrainAccuracy: average online accuracy; TrainLoss: mean training loss), Epochs the epochs of
/// all tasks, Seconds the summed task times (resumed parts included).
let nodeResult (key: string) (images: int) (batchSize: int) (tasks: TaskPoint list) : NodeResult =
    let last = tasks |> List.skip (tasks.Length - Summary.lastTasks tasks.Length)
    let mean f = last |> List.averageBy f
    let seconds = tasks |> List.sumBy (fun t -> t.Seconds)
    let steps = tasks |> List.sumBy (fun t -> t.Steps)
    { Key = key; TestAccuracy = mean (fun t -> t.EndAccuracy); TestLoss = nan; TrainAccuracy = mean (fun t -> t.OnlineAccuracy)
      TrainLoss = mean (fun t -> t.Loss); Epochs = tasks |> List.sumBy (fun t -> t.Epochs); Seconds = seconds
      SamplesPerSecond = (if seconds > 0.0 then float steps * float batchSize / seconds else 0.0)
      TrainSize = int64 images
      Diverged = tasks |> List.exists (fun t -> not (Double.IsFinite t.Loss))
      Curve = []; Diagnostics = { Correlation = []; GradientNorms = []; ShrinkAccuracy = [] }
      Tasks = System.Text.Json.Serialization.Include tasks }

/// Trains a stream node on `train`/`test` (resuming from its checkpoint when one exists) and commits it: result.json
/// with the per-task points, spec.json, node.json, tasks.csv, the final weights, provenance and manifest.
/// `onTask` sees each finished task (progress: the task as an "epoch" with its loss and online accuracy).
let train (store: ResultStore) (node: PlanNode) (d: StreamNodeDef) (train: Dataset) (test: Dataset) (device: torch.Device)
          (onTask: EpochRecord -> unit) (cancel: Threading.CancellationToken) : NodeResult =
    let started = DateTime.UtcNow
    let s = node.Spec
    let resume = tryCheckpoint store node.Key
    resume |> Option.iter (fun ck -> eprintfn "node %s: resuming the stream after task %d" (node.Key.Substring(0, 8)) ck.TasksDone)
    let hookList = hooks d s.Penalties
    let mutable final : byte[] = null
    let o =
        TaskStreamOptions(
            Spec = ToCore.streamSpec d.Stream s.BatchSize, Model = ToCore.modelSpec s.Model, Optimizer = ToCore.optimizer s.Optimizer,
            Seed = d.Seed, Hooks = Array.ofList hookList, Device = device, Cancellation = cancel,
            Resume = Option.toObj resume,
            OnTaskEnd = Action<TaskResult>(fun t -> onTask (EpochRecord(t.Task, t.MeanLoss, t.OnlineAccuracy, t.Seconds))),
            // The last checkpoint holds the final weights; the others are saved for a resume after a kill.
            OnCheckpoint = Action<StreamCheckpoint>(fun ck ->
                if ck.TasksDone = d.Stream.Tasks then final <- ck.Model
                else saveCheckpoint store node.Key ck))
    let r =
        try TaskStream.Run(new DataSplits(train, test, Array.empty), o)
        finally for h in hookList do match h with :? IDisposable as x -> x.Dispose() | _ -> ()
    let tasks = [ for t in r.Tasks -> taskPoint t ]
    let result = nodeResult node.Key d.Stream.Images s.BatchSize tasks
    store.Commit(node.Key, (fun dir ->
        File.WriteAllText(Path.Combine(dir, "result.json"), NodeStore.toJson result)
        File.WriteAllText(Path.Combine(dir, "spec.json"), Canonical.render (Plan.specJson s))
        File.WriteAllText(Path.Combine(dir, "node.json"), NodeStore.toJson s)
        File.WriteAllText(Path.Combine(dir, "tasks.csv"), tasksCsv tasks)
        if not (isNull final) then File.WriteAllBytes(Path.Combine(dir, "model.pt"), final)),
        Provenance.Capture(device.ToString(), Provenance.SingleEngine, started))
    |> ignore
    NodeStore.dropCheckpoint store node.Key
    result
