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

/// Where and how to execute.
type ExecOptions =
    { DataRoot: string option
      Device: Device
      /// Independent nodes trained at once (worker threads; torch threads are divided among them).
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

/// Trains one node and commits its result, weights, optimiser state and training subset to the store. The
/// parent (when the node needs one) is read from the store; a checkpoint of this node, if any, is resumed.
/// `tensorBoard` makes the node's TensorBoard hook (given whether the run starts over), when one is wanted.
let trainNode (o: ExecOptions) (sets: DataSets) (device: torch.Device) (sink: IProgressSink) (specOf: string -> NodeSpec)
              (tensorBoard: PlanNode -> bool -> TensorBoardHook option) (node: PlanNode) : NodeResult =
    let started = DateTime.UtcNow
    let spec = node.Spec
    let data = sets.Get(spec.Dataset, spec.HalfNormalization)
    let loadParent () =
        let k = spec.Parent |> Option.defaultWith (fun () -> failwithf "node %s has no parent key" node.Key)
        let sp = specOf k
        let d = sets.Get(sp.Dataset, sp.HalfNormalization)
        let m = ModelFactory.Create(ToCore.modelSpec sp.Model, d.Train.Shape, d.Train.NumClasses, 0L)
        loadInto m (NodeStore.modelPath o.Store k)
        m
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
    let jobs = max 1 o.Jobs
    Threads.Configure(s.Threads, jobs) |> ignore
    let device = ToCore.device o.Device
    let status = Dictionary<string, NodeStatus>()
    let results = Dictionary<string, NodeResult>()
    let pending = List<PlanNode>(plan.Nodes)
    let gate = obj ()
    let mutable running = 0
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
    let execute (n: PlanNode) =
        match lock gate (fun () -> skipReason n) with
        | Some why -> finish n (Skipped why) None
        | None ->
            sink.Started n
            try
                use _lock = o.Store.Lock(n.Key, TimeSpan.FromMilliseconds 500.0, o.Cancel)
                match (if o.Rerun then None else NodeStore.tryReadForRun o.Store n.Key) with
                | Some r ->
                    tensorBoardCached n r
                    finish n Cached (Some r)
                | None ->
                    // One retry for errors raised inside libtorch: with several worker threads an intermittent
                    // native failure was seen in an optimiser step (a Scalar check in addcmul_) whose cause lies
                    // below us. Training is deterministic, so the retry gives the result an untroubled run gives.
                    let result =
                        try trainAnyNode o sets device sink specOf tensorBoard n
                        with :? System.Runtime.InteropServices.ExternalException as e ->
                            eprintfn "warning: node %s: %s: %s" (n.Key.Substring(0, 8)) RetryWarning (e.Message.Split('\n')[0])
                            Interlocked.Increment(&retried.contents) |> ignore
                            Interlocked.Increment(&retriedInProcess.contents) |> ignore
                            trainAnyNode o sets device sink specOf tensorBoard n
                    finish n Trained (Some result)
            with
            | :? OperationCanceledException ->
                lock gate (fun () -> cancelled <- true)
                finish n (Failed "interrupted") None
            | :? StoreException as e ->
                lock gate (fun () -> cancelled <- true; (if storeError.IsNone then storeError <- Some e))
                finish n (Failed e.Message) None
            | e -> finish n (Failed(e.GetBaseException().Message)) None
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
                                pending.Remove n |> ignore
                                running <- running + 1
                                Some n
                            | None when pending.Count = 0 -> None
                            | None -> Monitor.Wait gate |> ignore; pick ()
                    pick ())
            match next with
            | Some n -> execute n
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
