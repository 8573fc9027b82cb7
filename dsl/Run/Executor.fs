/// The execution engine: runs a plan's nodes on the core, in dependency order, on `Jobs` worker threads,
/// against a content-hash result store. A node whose result is stored is read, not retrained; a node being
/// trained by another executor (another process on the same store) is waited for, via the store's file lock;
/// a stage killed mid-training resumes from its per-epoch checkpoint; a failed or diverged node's dependants
/// are skipped with the reason.
module WarmStart.Executor

open System
open System.Collections.Generic
open System.IO
open System.Threading
open System.Text.Json.Serialization
open TorchSharp
open WarmStart.Core.Data
open WarmStart.Core.Models
open WarmStart.Core.Native
open WarmStart.Core.Policies
open WarmStart.Core.Runs
open WarmStart.Core.Training
open WarmStart.Progress

/// How the executor trains nodes that are ready together and share an architecture, optimiser and batch size
/// (`--stack`): as one stacked model (the "stacked" engine) or one by one (the "single" engine).
type StackMode =
    /// Stack the models stacking speeds up on the CPU (MLPs, logistic regression), at most `autoStackMembers` per
    /// stack; everything else is trained one by one.
    | StackAuto
    /// Train every node one by one (the single engine).
    | StackOff
    /// Stack every model that has a stacked form (the small CNN too), at most n per stack.
    | StackUpTo of members: int

/// The most members `--stack auto` puts in one stack (the quickstart's stage 2 holds 5 seeds × 3 arms).
[<Literal>]
let autoStackMembers = 16

/// Where and how to execute.
type ExecOptions =
    { DataRoot: string option
      Device: Device
      /// Stacked or single engine (see `StackMode`).
      Stack: StackMode
      /// Independent nodes trained at once (worker threads; torch threads are divided among them), or
      /// `Parallelism.AutoJobs`: chosen from the plan's models, the device and the cores (`Parallelism.choose`).
      Jobs: int
      Store: ResultStore
      /// Recompute every node of this plan into a new version (old versions are kept).
      Rerun: bool
      /// Save a resumable checkpoint every N epochs (0 = never).
      CheckpointEvery: int
      Cancel: CancellationToken
      /// Write each node's training into a TensorBoard run under this folder while it trains (`--tensorboard DIR`).
      TensorBoard: string option }

/// The data a study's nodes share: both splits loaded once, and each seed's pool drawn once (thread-safe).
type StudyData(name: string, dataRoot: string option, halfNormalization: bool) =
    let entry = Catalog.Get(DataNames.catalogName name)
    let splits =
        let norm = if halfNormalization then Normalization.Half(entry.Channels) else null
        let loaded = Catalog.Load(entry.Name, Option.toObj dataRoot, norm)
        // A view ("fashion-mnist[classes=0,1]") is rebuilt from its key here, in whichever process trains the node.
        match DataNames.viewKey name with
        | "" -> loaded
        | key ->
            let view = DatasetView.Parse(key).Apply loaded
            loaded.Dispose()
            view
    let pools = Dictionary<struct (int64 * int option * WarmStart.EvalSplit), torch.Tensor * torch.Tensor option>()
    /// Training split.
    member _.Train = splits.Train
    /// Official test split.
    member _.Test = splits.Test
    /// The pool and (for held-out evaluation) the evaluation indices of a seed.
    member _.Pool(poolSeed: int64, poolSize: int option, eval: WarmStart.EvalSplit) =
        lock pools (fun () ->
            let k = struct (poolSeed, poolSize, eval)
            match pools.TryGetValue k with
            | true, v -> v
            | _ ->
                let poolFraction = match eval with OfficialTest -> Nullable() | HeldOut f -> Nullable f
                let struct (pool, e) = Subsets.StudyPool(int64 splits.Train.Count, poolSeed, Option.toNullable (Option.map int64 poolSize), poolFraction)
                let evalIdx = Option.ofObj e
                pools[k] <- (pool, evalIdx)
                (pool, evalIdx))
    interface IDisposable with
        member _.Dispose() =
            for (p, e) in pools.Values do
                p.Dispose()
                e |> Option.iter (fun t -> t.Dispose())
            splits.Dispose()

let private curveOf (curve: IReadOnlyList<EpochRecord>) =
    let opt (evaluated: bool) v = if evaluated then Include v else Skip
    [ for e in curve ->
        { Epoch = e.Epoch; Loss = e.Loss; TrainAccuracy = e.TrainAccuracy; Seconds = e.Seconds
          TestLoss = opt e.Evaluated e.TestLoss; TestAccuracy = opt e.Evaluated e.TestAccuracy } ]

/// A stored curve point back as a core epoch record (test columns NaN where not evaluated).
let internal recordOf (e: EpochPoint) =
    EpochRecord(e.Epoch, e.Loss, e.TrainAccuracy, e.Seconds, TestLoss = e.TestLossOrNaN, TestAccuracy = e.TestAccuracyOrNaN)

let private loadInto (model: Network) (path: string) = model.load(path) |> ignore

/// The datasets of a plan, each loaded once on first use (transfer plans use two).
type DataSets(dataRoot: string option) =
    let sets = Dictionary<struct (string * bool), StudyData>()
    /// The data of `name` with the given normalisation mode.
    member _.Get(name: string, halfNormalization: bool) =
        lock sets (fun () ->
            match sets.TryGetValue(struct (name, halfNormalization)) with
            | true, d -> d
            | _ ->
                let d = new StudyData(name, dataRoot, halfNormalization)
                sets[struct (name, halfNormalization)] <- d
                d)
    interface IDisposable with
        member _.Dispose() = for d in sets.Values do (d :> IDisposable).Dispose()

/// The dataset indices a node trains on. Acquisition needs the parent's labelled set and its model.
let private resolveSubset (o: ExecOptions) (data: StudyData) (device: torch.Device) (spec: NodeSpec) (parentModel: unit -> Network) =
    let pool, _ = data.Pool(spec.PoolSeed, spec.PoolSize, spec.Eval)
    match spec.Subset with
    | PoolFraction f -> Subsets.Fraction(pool, f)
    | PoolCount c -> Subsets.AtMost(pool, int64 c)
    | PoolSlice(a, c) -> Subsets.Slice(pool, int64 a, int64 c)
    | Acquire(acq, count, seed) ->
        let parentKey = spec.Parent |> Option.defaultWith (fun () -> failwith "acquisition needs a parent node")
        let labelled =
            NodeStore.tryReadSubset o.Store parentKey
            |> Option.defaultWith (fun () -> failwithf "parent %s has no stored subset" (parentKey.Substring(0, 8)))
        use model = parentModel ()
        AcquisitionFunctions.Acquire(model, data.Train, pool, labelled, ToCore.acquisition acq, count, seed, device)

/// The node's stage as a core job: data and indices, start, optimiser, stop rule, penalties, diagnostics, and the
/// store's checkpoint (resume and save) and progress callbacks.
let private stageJob (o: ExecOptions) (device: torch.Device) (sink: IProgressSink) (extraHooks: ITrainingHook list)
                     (node: PlanNode) (data: StudyData) (indices: torch.Tensor) (loadParent: unit -> Network) (resume: StageCheckpoint) =
    let spec = node.Spec
    let store = o.Store
    let _, evalIdx = data.Pool(spec.PoolSeed, spec.PoolSize, spec.Eval)
    let parentKey () = spec.Parent |> Option.defaultWith (fun () -> failwithf "node %s has no parent key" node.Key)
    let start =
        match spec.Init with
        | Root seed -> StageStart.Fresh(seed) :> StageStart
        | Continue ->
            let p = NodeStore.tryRead store (parentKey ()) |> Option.get
            StageStart.Continue([| for e in p.Curve -> recordOf e |])
        | FromParent(policyDef, seed) -> StageStart.FromPolicy(ToCore.policy policyDef, seed, spec.KeepOptimizerState)
    let saveCheckpoint (m: Network) (opt: torch.optim.Optimizer) (curve: IReadOnlyList<EpochRecord>) =
        NodeStore.saveCheckpoint store node.Key m opt (List.ofSeq curve)
    StageJob(
        Train = data.Train, Indices = indices,
        EvalData = (match evalIdx with Some _ -> data.Train | None -> data.Test), EvalIndices = Option.toObj evalIdx,
        Fresh = Func<int64, Network>(fun seed -> ModelFactory.Create(ToCore.modelSpec spec.Model, data.Train.Shape, data.Train.NumClasses, seed)),
        LoadParent = (match spec.Parent with Some _ -> Func<Network>(loadParent) | None -> null),
        ParentIndices = (spec.Parent |> Option.bind (NodeStore.tryReadSubset store) |> Option.toObj),
        ParentOptimizerFile = (spec.Parent |> Option.bind (NodeStore.optimizerPath store) |> Option.toObj),
        Start = start,
        Resume = resume,
        Optimizer = ToCore.optimizer spec.Optimizer, Stop = ToCore.stop spec.Stop, BatchSize = spec.BatchSize,
        OrderSeed = spec.OrderSeed, OriginalInitSeed = spec.OriginalInitSeed,
        Augmentation = (if spec.Augment then Augmentation.Standard else null),
        Penalties = [| for p in spec.Penalties -> ToCore.penalty p |],
        Diagnostics = ToCore.diagnostics spec.Diagnostics,
        EvaluateEvery = (match spec.EvaluateEvery with Include n -> n | Skip -> 0),
        Hooks = [| yield EpochCallbackHook(null, Action<EpochRecord>(fun e -> sink.Epoch(node, e))) :> ITrainingHook; yield! extraHooks |],
        CheckpointEvery = o.CheckpointEvery,
        SaveCheckpoint = Action<Network, torch.optim.Optimizer, IReadOnlyList<EpochRecord>>(saveCheckpoint),
        Device = device, Cancellation = o.Cancel)

/// The node's result as the store keeps it, read from the stage's result.
let private nodeResult (key: string) (r: StageResult) : NodeResult =
    let t = r.Train
    { Key = key; TestAccuracy = r.TestAccuracy; TestLoss = r.TestLoss; TrainAccuracy = t.TrainAccuracy
      TrainLoss = t.TrainLoss; Epochs = t.Epochs; Seconds = t.Seconds; SamplesPerSecond = t.SamplesPerSecond
      TrainSize = r.TrainSize; Diverged = t.Diverged; Curve = curveOf t.Curve
      Diagnostics =
        { Correlation = [ for c in r.Correlation -> { Group = c.Group; VsStart = c.VsStart; VsInit = c.VsInit } ]
          GradientNorms =
            let orNan (x: Nullable<float>) = if x.HasValue then x.Value else nan
            [ for g in r.GradientNorms -> { Epoch = g.Epoch; Old = orNan g.OldMean; New = orNan g.NewMean } ]
          ShrinkAccuracy = [ for p in r.ShrinkAccuracy -> { Lambda = p.Lambda; Accuracy = p.Accuracy } ] }
      Tasks = Skip }

/// The node's checkpoint in the store, if it has one (announced: training resumes from it).
let private checkpointOf (o: ExecOptions) (node: PlanNode) =
    match NodeStore.tryCheckpoint o.Store node.Key with
    | Some(modelFile, optFile, curve) ->
        eprintfn "node %s: resuming from its checkpoint after epoch %d" (node.Key.Substring(0, 8)) (match curve with [] -> 0 | c -> (List.last c).Epoch)
        StageCheckpoint(modelFile, optFile, Array.ofList curve)
    | None -> null

/// Epochs of a node's curve that the node trained itself (a stage continuing its parent's training stores the
/// parent's epochs first).
let private ownEpochs (o: ExecOptions) (spec: NodeSpec) (curve: EpochPoint list) =
    match spec.Init, spec.Parent with
    | Continue, Some p ->
        let before = NodeStore.tryRead o.Store p |> Option.map (fun r -> r.Curve.Length) |> Option.defaultValue 0
        curve |> List.filter (fun e -> e.Epoch > before)
    | _ -> curve

/// Loads a node's parent's stored model (a new network per call).
let private parentLoader (o: ExecOptions) (sets: DataSets) (specOf: string -> NodeSpec) (node: PlanNode) () =
    let k = node.Spec.Parent |> Option.defaultWith (fun () -> failwithf "node %s has no parent key" node.Key)
    let sp = specOf k
    let d = sets.Get(sp.Dataset, sp.HalfNormalization)
    let m = ModelFactory.Create(ToCore.modelSpec sp.Model, d.Train.Shape, d.Train.NumClasses, 0L)
    loadInto m (NodeStore.modelPath o.Store k)
    m

/// Why the stacked engine does not train `spec` under `o` (it goes to the single engine), or None when it does.
/// Decided from the node's spec, the run's options and whether the node has a checkpoint to resume, never from the
/// nodes that happen to be ready with it: a node's engine (and so its numbers) does not depend on its companions.
let stackRefusal (o: ExecOptions) (spec: NodeSpec) (hasCheckpoint: bool) : string option =
    let model = ToCore.modelSpec spec.Model
    let mutable reason = ""
    let opt = ToCore.optimizer spec.Optimizer
    match o.Stack with
    | StackOff -> Some "--stack off"
    | _ when (match spec.Stream with Include _ -> true | Skip -> false) -> Some "a task stream (one node runs the whole stream)"
    | _ when o.TensorBoard.IsSome -> Some "--tensorboard (live runs are written by the single engine's hooks)"
    | _ when not (WarmStart.Core.Training.Stacked.StackedNetwork.Supports(model, &reason)) -> Some reason
    | StackAuto when not (StackedStageRunner.AutoStacks model) ->
        Some(sprintf "--stack auto does not stack %s (measured slower stacked than one by one; --stack N stacks it)" model.Kind)
    | _ when opt.Kind <> "adam" && opt.Kind <> "sgd" -> Some(sprintf "optimizer '%s' has no stacked form" opt.Kind)
    | _ ->
        match spec.Init with
        | Continue -> Some "it continues its parent's optimiser"
        | FromParent _ when spec.KeepOptimizerState -> Some "keep_optimizer_state"
        | _ when not spec.Penalties.IsEmpty && (StackedStageRunner.CannotStackPenalties [| for p in spec.Penalties -> ToCore.penalty p |]) <> null ->
            Some "penalties other than one l2_init (ewc, l2_init_dash_form)"
        | _ when (ToCore.diagnostics spec.Diagnostics).GradientNorms -> Some "measure_gradient_norms"
        | _ when (match spec.EvaluateEvery with Include _ -> true | Skip -> false) -> Some "evaluate_every"
        | _ when o.CheckpointEvery > 0 -> Some "--checkpoint"
        | _ when hasCheckpoint -> Some "it resumes a checkpoint"
        | _ -> None

/// The engine that trains `spec` under `o`: "stacked" or "single" (see `stackRefusal`).
let engineOf (o: ExecOptions) (spec: NodeSpec) (hasCheckpoint: bool) =
    match stackRefusal o spec hasCheckpoint with
    | None -> WarmStart.Core.Training.Stacked.StackedTrainer.Engine
    | Some _ -> Provenance.SingleEngine

/// What nodes must share to train in one stack: data, augmentation, architecture, optimiser but its learning rate,
/// and batch size (seeds, init policies, stop rules, learning rates and subsets are each member's own; the
/// training-set size is checked once resolved).
let private stackKeyOf (spec: NodeSpec) =
    // The subset rule's size, so that nodes picked together also train on sets of one size (stage 1's half pool
    // is not stacked with a stage-2 fresh start's whole pool, ready at the same time); `trainStacked` still splits
    // by the resolved size (acquisition).
    let size =
        match spec.Subset with
        | PoolFraction f -> sprintf "fraction %g" f
        | PoolCount c | PoolSlice(_, c) -> sprintf "count %d" c
        | Acquire _ -> "acquired"
    NodeStore.toJson (spec.Dataset, spec.HalfNormalization, spec.Augment, spec.Model, { spec.Optimizer with Lr = 0.0 }, spec.BatchSize, spec.PoolSize, size)

/// The stored result a run that trains `key` with `engine` may use: the intact latest version, when that engine
/// wrote it (a version without provenance was written by the single engine). A result of the other engine is never
/// served in its place: the node is trained again into a new version, and the old one stays.
let private tryReadForEngine (store: ResultStore) (key: string) (engine: string) =
    match NodeStore.tryReadForRun store key with
    | Some r ->
        let stored = match NodeStore.tryProvenance store key with Some p -> p.Engine | None -> Provenance.SingleEngine
        if stored = engine then Some r
        else
            eprintfn "node %s: its stored result is the '%s' engine's; this run trains with the '%s' engine, so it trains it again (engines are not mixed)"
                (key.Substring(0, 8)) stored engine
            None
    | None -> None

/// Trains one node and commits its result, weights, optimiser state and training subset to the store. The
/// parent (when the node needs one) is read from the store; a checkpoint of this node, if any, is resumed.
/// `tensorBoard` makes the node's TensorBoard hook (given whether the run starts over), when one is wanted.
let trainNode (o: ExecOptions) (sets: DataSets) (device: torch.Device) (sink: IProgressSink) (specOf: string -> NodeSpec)
              (tensorBoard: PlanNode -> bool -> TensorBoardHook option) (node: PlanNode) : NodeResult =
    let started = DateTime.UtcNow
    let spec = node.Spec
    let data = sets.Get(spec.Dataset, spec.HalfNormalization)
    let loadParent = parentLoader o sets specOf node
    use indices = resolveSubset o data device spec loadParent
    let resume = checkpointOf o node
    let tb = tensorBoard node (isNull resume)
    use r = StageRunner.Run(stageJob o device sink (Option.toList tb |> List.map (fun h -> h :> ITrainingHook)) node data indices loadParent resume)
    let result = nodeResult node.Key r
    tb |> Option.iter (fun h ->
        h.Finish([| for e in ownEpochs o spec result.Curve -> recordOf e |], result.TestLoss, result.TestAccuracy, result.Diverged))
    NodeStore.commit o.Store node result r.Model (Some r.Optimizer) (Some(indices.data<int64>().ToArray()))
        (Provenance.Capture(device.ToString(), Provenance.SingleEngine, started))
    NodeStore.dropCheckpoint o.Store node.Key
    result

/// Trains a node of either kind: a stream node runs its whole task stream (StreamNode), any other node one stage.
let trainAnyNode (o: ExecOptions) (sets: DataSets) (device: torch.Device) (sink: IProgressSink) (specOf: string -> NodeSpec)
                 (tensorBoard: PlanNode -> bool -> TensorBoardHook option) (node: PlanNode) : NodeResult =
    match node.Spec.Stream with
    | Include stream ->
        let data = sets.Get(node.Spec.Dataset, node.Spec.HalfNormalization)
        StreamNode.train o.Store node stream data.Train data.Test device (fun e -> sink.Epoch(node, e)) o.Cancel
    | Skip -> trainNode o sets device sink specOf tensorBoard node

/// Trains `nodes` with the stacked engine and commits each one's result, weights, optimiser state and subset as
/// `trainNode` commits a single-engine result (provenance engine "stacked"; its wall time is its training seconds
/// plus an equal share of the stack's other time, so the members' walls add up to the stack's). Nodes whose training
/// sets differ in size go into separate stacks. Results in node order.
let trainStacked (o: ExecOptions) (sets: DataSets) (device: torch.Device) (sink: IProgressSink) (specOf: string -> NodeSpec)
                 (nodes: PlanNode list) : NodeResult list =
    let mutable started = DateTime.UtcNow
    let prepared = List<PlanNode * StudyData * torch.Tensor * (unit -> Network)>()
    try
        for node in nodes do
            let data = sets.Get(node.Spec.Dataset, node.Spec.HalfNormalization)
            let loadParent = parentLoader o sets specOf node
            prepared.Add((node, data, resolveSubset o data device node.Spec loadParent, loadParent))
        let results = Dictionary<string, NodeResult>()
        for _, group in prepared |> List.ofSeq |> List.groupBy (fun (_, _, idx, _) -> idx.shape[0]) do
            match sink with :? IStackProgress as sp -> sp.Stacked [ for node, _, _, _ in group -> node ] | _ -> ()
            let jobs = [| for node, data, idx, lp in group -> stageJob o device sink [] node data idx lp null |]
            let rs = StackedStageRunner.Run jobs
            try
                let wall = (DateTime.UtcNow - started).TotalSeconds
                let other = max 0.0 (wall - (rs |> Seq.sumBy (fun r -> r.Train.Seconds))) / float group.Length
                for (node, _, idx, _), r in Seq.zip group rs do
                    let result = nodeResult node.Key r
                    let prov = Provenance.Capture(device.ToString(), WarmStart.Core.Training.Stacked.StackedTrainer.Engine, started)
                    NodeStore.commit o.Store node result r.Model (Some r.Optimizer) (Some(idx.data<int64>().ToArray()))
                        (prov.WithWallSeconds(r.Train.Seconds + other))
                    results[node.Key] <- result
            finally
                for r in rs do r.Dispose()
            started <- DateTime.UtcNow
        [ for n in nodes -> results[n.Key] ]
    finally
        for _, _, idx, _ in prepared do idx.Dispose()

/// Nodes trained a second time after a libtorch error, in this process so far: the engine's tests fail when it
/// moves, so a retry cannot hide an error there.
let private retriedInProcess = ref 0

/// How many nodes this process has trained again after a libtorch error (see `run`).
let retriesInProcess () = Volatile.Read(&retriedInProcess.contents)

/// The warning printed when a node is trained again after a libtorch error (tests look for it).
[<Literal>]
let RetryWarning = "libtorch error, training it again"

/// Runs the plan: returns every node's status, the results that exist, and how many nodes were trained again after
/// a libtorch error. Raises OperationCanceledException after the running nodes stop when `Cancel` fires (finished
/// nodes stay in the store).
let runCounted (o: ExecOptions) (sink: IProgressSink) (plan: StudyPlan) : Map<string, NodeStatus> * Map<string, NodeResult> * int =
    let s = plan.Study
    let chosen = Parallelism.forPlan o.Device o.Jobs plan
    let jobs = chosen.Jobs
    Threads.Configure(chosen.Threads, jobs) |> ignore
    let device = ToCore.device o.Device
    let status = Dictionary<string, NodeStatus>()
    let results = Dictionary<string, NodeResult>()
    let pending = List<PlanNode>(plan.Nodes)
    let gate = obj ()
    let mutable running = 0
    // Workers training something now (a node or a stack); the others are idle.
    let mutable busyWorkers = 0
    let mutable cancelled = false
    // An IO failure on the store (disk full, read-only) stops the run: every further node would fail the same way.
    let mutable storeError : StoreException option = None
    let retried = ref 0
    let sets = new DataSets(o.DataRoot)
    let specs = plan.Nodes |> List.map (fun n -> n.Key, n.Spec) |> dict
    let specOf key =
        match specs.TryGetValue key with
        | true, sp -> sp
        | _ -> NodeStore.tryReadSpec o.Store key |> Option.defaultWith (fun () -> failwithf "node %s is neither in the plan nor in the store" key)
    let inPlan = plan.Nodes |> List.map (fun n -> n.Key) |> Set.ofList
    let tensorBoard (n: PlanNode) (restart: bool) =
        o.TensorBoard |> Option.map (fun dir ->
            let tryResult k = match lock gate (fun () -> results.TryGetValue k) with | true, r -> Some r | _ -> NodeStore.tryRead o.Store k
            let offset = TensorBoardRuns.stepOffset plan specOf tryResult n.Key
            new TensorBoardHook(TensorBoardRuns.runFolder dir plan.Study.Name n, offset, TensorBoardRuns.hparams plan n, restart))
    // A node read from the store gets its run written from its stored curve, unless the folder has one already.
    let tensorBoardCached (n: PlanNode) (r: NodeResult) =
        let hasRun dir =
            let run = TensorBoardRuns.runFolder dir plan.Study.Name n
            Directory.Exists run && not (Seq.isEmpty (Directory.EnumerateFiles(run, "events.out.tfevents.*")))
        match o.TensorBoard with
        | Some dir when not (hasRun dir) ->
            tensorBoard n true |> Option.iter (fun h ->
                let own = [| for e in ownEpochs o n.Spec r.Curve -> recordOf e |]
                for e in own do h.Epoch e
                h.Finish(own, r.TestLoss, r.TestAccuracy, r.Diverged))
        | _ -> ()
    // Each node's stack key, or None for a node the single engine trains (decided once, before any training).
    let stackKeys =
        plan.Nodes |> List.map (fun n ->
            let hasCheckpoint = o.Stack <> StackOff && (NodeStore.tryCheckpoint o.Store n.Key).IsSome
            n.Key, (match stackRefusal o n.Spec hasCheckpoint with None -> Some(stackKeyOf n.Spec) | Some _ -> None))
        |> dict
    let stackCap = match o.Stack with StackUpTo n -> max 1 n | _ -> autoStackMembers
    // A parent outside this plan (e.g. one node executed alone by a cluster task) must already be in the store.
    let blocked (n: PlanNode) =
        match n.Spec.Parent with
        | Some p when inPlan.Contains p -> not (status.ContainsKey p)
        | _ -> false
    let skipReason (n: PlanNode) =
        n.Spec.Parent |> Option.bind (fun p ->
            match status.TryGetValue p |> function | true, st -> st | _ -> (if o.Store.Has p then Cached else Skipped "not in the store") with
            | Failed _ -> Some(sprintf "parent %s failed" (p.Substring(0, 8)))
            | Skipped _ -> Some(sprintf "parent %s was skipped" (p.Substring(0, 8)))
            | _ ->
                match (match results.TryGetValue p with | true, r -> Some r | _ -> NodeStore.tryRead o.Store p) with
                | Some r when r.Diverged -> Some(sprintf "parent %s diverged at epoch %d" (p.Substring(0, 8)) r.Epochs)
                | Some _ -> None
                | None -> Some(sprintf "parent %s has no result in the store" (p.Substring(0, 8))))
    let finish (n: PlanNode) st (r: NodeResult option) =
        lock gate (fun () ->
            status[n.Key] <- st
            r |> Option.iter (fun r -> results[n.Key] <- r)
            running <- running - 1
            Monitor.PulseAll gate)
        sink.Finished(n, st, r)
    let failed (n: PlanNode) (e: exn) =
        match e with
        | :? OperationCanceledException ->
            lock gate (fun () -> cancelled <- true)
            finish n (Failed "interrupted") None
        | :? StoreException as e ->
            lock gate (fun () -> cancelled <- true; (if storeError.IsNone then storeError <- Some e))
            finish n (Failed e.Message) None
        | e -> finish n (Failed(e.GetBaseException().Message)) None
    // One retry for errors raised inside libtorch: with several worker threads an intermittent native failure was
    // seen in an optimiser step (a Scalar check in addcmul_). The cause was in TorchSharp: a temporary Scalar's native
    // value can be freed by its finalizer while libtorch still reads it, when another thread's allocation triggers a
    // collection mid-call. The toolkit's training paths now hold their Scalars (core/Native/Scalars.cs); the retry
    // stays as a backstop for causes below us (README, "Troubleshooting"). Training is deterministic, so the retry
    // gives the result an untroubled run gives.
    let retryOnce (what: string) (train: unit -> 'T) =
        try train ()
        with :? System.Runtime.InteropServices.ExternalException as e ->
            eprintfn "warning: %s: %s: %s" what RetryWarning (e.Message.Split('\n')[0])
            Interlocked.Increment(&retried.contents) |> ignore
            Interlocked.Increment(&retriedInProcess.contents) |> ignore
            train ()
    let execute (n: PlanNode) =
        match lock gate (fun () -> skipReason n) with
        | Some why -> finish n (Skipped why) None
        | None ->
            sink.Started n
            try
                use _lock = o.Store.Lock(n.Key, TimeSpan.FromMilliseconds 500.0, o.Cancel)
                match (if o.Rerun then None else tryReadForEngine o.Store n.Key Provenance.SingleEngine) with
                | Some r ->
                    tensorBoardCached n r
                    finish n Cached (Some r)
                | None ->
                    let result = retryOnce (sprintf "node %s" (n.Key.Substring(0, 8))) (fun () -> trainAnyNode o sets device sink specOf tensorBoard n)
                    finish n Trained (Some result)
            with e -> failed n e
    // A stack: each node is skipped, read from the store (a stacked result) or trained; the nodes to train hold
    // their locks (taken in key order, so two executors never wait on each other in a cycle) until committed.
    let executeStack (group: PlanNode list) =
        let locks = List<IDisposable>()
        let toTrain = List<PlanNode>()
        try
            for n in group |> List.sortBy (fun n -> n.Key) do
                match lock gate (fun () -> skipReason n) with
                | Some why -> finish n (Skipped why) None
                | None ->
                    sink.Started n
                    try
                        let l = o.Store.Lock(n.Key, TimeSpan.FromMilliseconds 500.0, o.Cancel)
                        match (if o.Rerun then None else tryReadForEngine o.Store n.Key WarmStart.Core.Training.Stacked.StackedTrainer.Engine) with
                        | Some r -> l.Dispose(); finish n Cached (Some r)
                        | None -> locks.Add l; toTrain.Add n
                    with e -> failed n e
            if toTrain.Count > 0 then
                let members = [ for n in group do if toTrain.Contains n then n ]
                try
                    let results = retryOnce (sprintf "stack of %d (%s)" members.Length (members.Head.Key.Substring(0, 8)))
                                      (fun () -> trainStacked o sets device sink specOf members)
                    for n, r in List.zip members results do finish n Trained (Some r)
                with e -> for n in members do failed n e
        finally
            for l in locks do l.Dispose()
    let worker () =
        let mutable go = true
        while go do
            let next =
                lock gate (fun () ->
                    let rec pick () =
                        if cancelled || o.Cancel.IsCancellationRequested then (pending.Clear(); None)
                        else
                            match pending |> Seq.tryFind (blocked >> not) with
                            | Some n ->
                                // A stackable node takes the ready nodes of its stack key with it, in plan order: its
                                // share of them when other workers are idle, so that with --jobs N the ready nodes
                                // train as N stacks at once rather than one (a member's numbers do not depend on its
                                // companions, so how they are split changes no result).
                                let group =
                                    match stackKeys[n.Key] with
                                    | Some k ->
                                        let ready = pending |> Seq.filter (fun m -> not (blocked m) && stackKeys[m.Key] = Some k) |> List.ofSeq
                                        let idle = max 1 (jobs - busyWorkers)
                                        ready |> List.truncate (min stackCap ((ready.Length + idle - 1) / idle))
                                    | None -> [ n ]
                                for m in group do pending.Remove m |> ignore
                                running <- running + group.Length
                                busyWorkers <- busyWorkers + 1
                                Some(n, group)
                            | None when pending.Count = 0 -> None
                            | None -> Monitor.Wait gate |> ignore; pick ()
                    pick ())
            match next with
            | Some(n, group) ->
                try
                    match group with
                    | [ _ ] when stackKeys[n.Key].IsNone -> execute n
                    | _ -> executeStack group
                finally
                    lock gate (fun () -> busyWorkers <- busyWorkers - 1)
            | None -> go <- false
    try
        let threads = [ for _ in 1 .. jobs -> Thread(worker, 64 * 1024 * 1024) ]
        for t in threads do t.Start()
        for t in threads do t.Join()
    finally
        (sets :> IDisposable).Dispose()
    match storeError with Some e -> raise (e :> exn) | None -> ()
    if cancelled || o.Cancel.IsCancellationRequested then raise (OperationCanceledException "execution interrupted")
    (status |> Seq.map (fun kv -> kv.Key, kv.Value) |> Map.ofSeq), (results |> Seq.map (fun kv -> kv.Key, kv.Value) |> Map.ofSeq),
    retried.Value

/// Runs the plan: returns every node's status and the results that exist (`runCounted` without the retry count).
let run (o: ExecOptions) (sink: IProgressSink) (plan: StudyPlan) : Map<string, NodeStatus> * Map<string, NodeResult> =
    let status, results, _ = runCounted o sink plan
    status, results
