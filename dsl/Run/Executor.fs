/// The execution engine: runs a plan's nodes on the core, in dependency order, on `Jobs` worker threads,
/// against a content-hash result store. A node whose result is stored is read, not retrained; a node being
/// trained by another executor (another process on the same store) is waited for, via the store's file lock;
/// a stage killed mid-training resumes from its per-epoch checkpoint; a failed or diverged node's dependants
/// are skipped with the reason.
module WarmStart.Executor

open System
open System.Collections.Generic
open System.Threading
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
      Device: string
      /// Independent nodes trained at once (worker threads; torch threads are divided among them).
      Jobs: int
      Store: ResultStore
      /// Recompute every node of this plan into a new version (old versions are kept).
      Rerun: bool
      /// Save a resumable checkpoint every N epochs (0 = never).
      CheckpointEvery: int
      Cancel: CancellationToken }

let internal toOptimizer (o: OptimizerDef) =
    OptimizerSpec(o.Kind, o.Lr, o.Momentum, o.WeightDecay)

let internal toStop (s: StopDef) =
    StopRule(Option.toNullable s.Epochs, Option.toNullable s.TrainAccuracy, s.MaxEpochs, Option.toNullable s.Patience)

let internal toPolicy (p: Policy) : IInitPolicy =
    match p with
    | Fresh -> FreshPolicy()
    | Warm -> WarmPolicy()
    | ShrinkPerturb(l, s, Gaussian) -> ShrinkPerturbPolicy(l, s, NoiseMode.Gaussian)
    | ShrinkPerturb(l, s, FreshInit) -> ShrinkPerturbPolicy(l, s, NoiseMode.FreshInit)
    | PartialWarm groups -> PartialWarmPolicy(groups)
    | HeadReset -> HeadResetPolicy()
    | Dash(a, l) -> DashPolicy(a, l)

/// The data a study's nodes share: both splits loaded once, and each seed's pool drawn once (thread-safe).
type StudyData(name: string, dataRoot: string option, halfNormalization: bool) =
    let entry = Catalog.Get name
    let splits =
        let norm = if halfNormalization then Normalization.Half(entry.Channels) else null
        Catalog.Load(name, Option.toObj dataRoot, norm)
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
                let n = splits.Train.Count
                let first, evalIdx =
                    match eval with
                    | OfficialTest -> Subsets.Permutation(n, poolSeed), None
                    | HeldOut f ->
                        let struct (a, b) = Subsets.Split(n, f, poolSeed)
                        a, Some b
                let pool =
                    match poolSize with
                    | Some m when int64 m < first.shape[0] ->
                        let p = Subsets.Prefix(first, int64 m)
                        first.Dispose()
                        p
                    | _ -> first
                pools[k] <- (pool, evalIdx)
                (pool, evalIdx))
    interface IDisposable with
        member _.Dispose() =
            for (p, e) in pools.Values do
                p.Dispose()
                e |> Option.iter (fun t -> t.Dispose())
            splits.Dispose()

let private curveOf (curve: IReadOnlyList<EpochRecord>) =
    [ for e in curve -> { Epoch = e.Epoch; Loss = e.Loss; TrainAccuracy = e.TrainAccuracy; Seconds = e.Seconds } ]

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
    let n = pool.shape[0]
    match spec.Subset with
    | PoolFraction f -> Subsets.Fraction(pool, f)
    | PoolCount c -> Subsets.Prefix(pool, min (int64 c) n)
    | PoolSlice(a, c) ->
        if int64 a >= n then failwithf "pool slice starts at %d but the pool holds %d examples" a n
        pool.narrow(0L, int64 a, min (int64 c) (n - int64 a)).clone()
    | Acquire(acq, count, seed) ->
        let parentKey = spec.Parent |> Option.defaultWith (fun () -> failwith "acquisition needs a parent node")
        let labelled =
            NodeStore.tryReadSubset o.Store parentKey
            |> Option.defaultWith (fun () -> failwithf "parent %s has no stored subset" (parentKey.Substring(0, 8)))
        use labelledT = torch.tensor(labelled)
        use mask = torch.zeros([| data.Train.Count |], dtype = torch.ScalarType.Bool)
        mask.index_fill_(0, labelledT, true) |> ignore
        use inPool = mask.index_select(0, pool)
        use candidates = pool.masked_select(inPool.logical_not())
        use model = parentModel ()
        model.``to``(device) |> ignore
        use probs = Evaluation.Probabilities(model, data.Train, candidates, device = device)
        let kind = match acq with Margin -> "margin" | Entropy -> "entropy" | RandomAcquisition -> "random"
        use picks = AcquisitionFunctions.Select(kind, probs, count, seed)
        use picked = candidates.index_select(0, picks)
        torch.cat([| labelledT; picked |], 0L)

/// Trains one node and commits its result, weights, optimiser state and training subset to the store. The
/// parent (when the node needs one) is read from the store; a checkpoint of this node, if any, is resumed.
let trainNode (o: ExecOptions) (sets: DataSets) (device: torch.Device) (sink: IProgressSink) (specOf: string -> NodeSpec) (node: PlanNode) : NodeResult =
    let started = DateTime.UtcNow
    let spec = node.Spec
    let store = o.Store
    let data = sets.Get(spec.Dataset, spec.HalfNormalization)
    let _, evalIdx = data.Pool(spec.PoolSeed, spec.PoolSize, spec.Eval)
    let build (sp: NodeSpec) (seed: int64) =
        let d = sets.Get(sp.Dataset, sp.HalfNormalization)
        ModelFactory.Create(Validate.modelSpec sp.Model, d.Train.Shape, d.Train.NumClasses, seed)
    let fresh = build spec
    let parentKey () = spec.Parent |> Option.defaultWith (fun () -> failwithf "node %s has no parent key" node.Key)
    let loadParent () =
        let k = parentKey ()
        let m = build (specOf k) 0L
        loadInto m (NodeStore.modelPath store k)
        m
    use indices = resolveSubset o data device spec loadParent
    let optimizerSpec = toOptimizer spec.Optimizer
    let loadOptimizer (opt: torch.optim.Optimizer) (file: string) = (opt :?> TorchSharp.Modules.OptimizerHelper).load_state_dict(file)
    let parentOptimizer () =
        NodeStore.optimizerPath store (parentKey ())
        |> Option.defaultWith (fun () -> failwithf "node %s continues its parent's optimiser, but the parent's result has none" node.Key)
    // The parent's model (kept while its Fisher, its optimiser state or diagnostics need it) and training subset.
    let needsParent =
        match spec.Init with
        | FromParent _ | Continue -> true
        | Root _ -> spec.Penalties |> List.exists (function EwcPenaltySpec _ -> true | _ -> false)
    use parent = if needsParent then loadParent () else null
    use parentIndices =
        match spec.Parent |> Option.bind (NodeStore.tryReadSubset store) with
        | Some idx -> torch.tensor(idx)
        | None -> null
    let ctx seed =
        StageContext(Parent = parent, Fresh = Func<int64, Network>(fresh), Seed = seed, Train = data.Train, Indices = indices,
                     ParentIndices = parentIndices, Device = device, BatchSize = spec.BatchSize,
                     OriginalInitSeed = spec.OriginalInitSeed)
    let model, optimizer, prior =
        match NodeStore.tryCheckpoint store node.Key with
        | Some(modelFile, optFile, curve) ->
            let m = fresh 0L
            loadInto m modelFile
            m.``to``(device) |> ignore
            let opt = optimizerSpec.Create(m.parameters())
            loadOptimizer opt optFile
            m, opt, curve
        | None ->
            match spec.Init with
            | Root seed ->
                let m = fresh seed
                m.``to``(device) |> ignore
                m, optimizerSpec.Create(m.parameters()), []
            | Continue ->
                let m = loadParent ()
                m.``to``(device) |> ignore
                let opt = optimizerSpec.Create(m.parameters())
                loadOptimizer opt (parentOptimizer ())
                let p = NodeStore.tryRead store (parentKey ()) |> Option.get
                m, opt, [ for e in p.Curve -> EpochRecord(e.Epoch, e.Loss, e.TrainAccuracy, e.Seconds) ]
            | FromParent(policyDef, seed) ->
                let policy = toPolicy policyDef
                let m = policy.Apply(ctx seed)
                m.``to``(device) |> ignore
                let opt =
                    if spec.KeepOptimizerState then
                        // Carry the parent's state by parameter name; groups the policy re-initialised start fresh.
                        use parentOpt = optimizerSpec.Create(parent.parameters())
                        loadOptimizer parentOpt (parentOptimizer ())
                        OptimizerCarry.CarryOver(parent, parentOpt, m, optimizerSpec, OptimizerCarry.ResetFor(policy, m))
                    else optimizerSpec.Create(m.parameters())
                m, opt, []
    use _m = model
    use _o = optimizer
    let penalties : IPenalty list =
        spec.Penalties |> List.map (fun p ->
            match p with
            | L2InitPenaltySpec(l, dashForm, _) ->
                L2InitPenalty.ForStage(l, ctx 0L, (if dashForm then L2InitForm.DashCompatible else L2InitForm.Textbook)) :> IPenalty
            | EwcPenaltySpec(l, empirical, seed) ->
                EwcPenalty.ForStage(l, ctx 0L, FisherOptions((if empirical then FisherKind.Empirical else FisherKind.Sampled), Seed = seed)) :> IPenalty)
    use _penalties = { new IDisposable with member _.Dispose() = for p in penalties do match p with :? IDisposable as d -> d.Dispose() | _ -> () }
    // Diagnostics: the starting weights, and gradient norms on old vs new data before each epoch.
    use start = if spec.Diagnostics.Correlation then ParameterSet.Of(model) else null
    use newIndices =
        if spec.Diagnostics.GradientNorms && not (isNull parentIndices) then
            use mask = torch.zeros([| data.Train.Count |], dtype = torch.ScalarType.Bool)
            mask.index_fill_(0, parentIndices, true) |> ignore
            use seen = mask.index_select(0, indices)
            indices.masked_select(seen.logical_not())
        else null
    let tracker =
        if isNull newIndices then None
        else Some(WarmStart.Core.Diagnostics.GradientNormTracker(model, data.Train, parentIndices, newIndices, spec.BatchSize, spec.OrderSeed, device))
    let curveSoFar = List<EpochRecord>(prior)
    let afterEpoch (e: EpochRecord) =
        curveSoFar.Add e
        sink.Epoch(node, e)
        if o.CheckpointEvery > 0 && e.Epoch % o.CheckpointEvery = 0 then
            NodeStore.saveCheckpoint store node.Key model optimizer (List.ofSeq curveSoFar)
    let opts =
        TrainOptions(OptimizerSpec = optimizerSpec, BatchSize = spec.BatchSize, Stop = toStop spec.Stop,
                     OrderSeed = spec.OrderSeed, Device = device, Optimizer = optimizer, PriorCurve = prior,
                     Augmentation = (if spec.Augment then Augmentation.Standard else null),
                     AfterEpoch = Action<EpochRecord>(afterEpoch), Cancellation = o.Cancel,
                     Penalties = Array.ofList penalties,
                     BeforeEpoch = (match tracker with Some t -> Action<int>(t.BeforeEpoch) | None -> null))
    let struct (r, _) = Trainer.Fit(model, data.Train, indices, opts)
    let testLoss, testAcc =
        if r.Diverged then nan, nan
        else
            match evalIdx with
            | Some e -> let struct (l, a) = Evaluation.Evaluate(model, data.Train, e, device = device) in l, a
            | None -> let struct (l, a) = Evaluation.Evaluate(model, data.Test, device = device) in l, a
    let orNan (x: Nullable<float>) = if x.HasValue then x.Value else nan
    let diagnostics =
        { Correlation =
            if isNull start then []
            else
                use init = fresh spec.OriginalInitSeed
                let vsStart = WarmStart.Core.Diagnostics.WeightCorrelation.Compare(model, start)
                let vsInit = WarmStart.Core.Diagnostics.WeightCorrelation.Compare(model, init)
                [ yield { Group = "all"; VsStart = orNan vsStart.Overall; VsInit = orNan vsInit.Overall }
                  for g in vsStart.Groups do
                      let gi = vsInit.Groups |> Array.tryFind (fun x -> x.Group = g.Group)
                      yield { Group = g.Group; VsStart = orNan g.Pearson; VsInit = (match gi with Some x -> orNan x.Pearson | None -> nan) } ]
          GradientNorms =
            match tracker with
            | Some t -> [ for g in t.Records -> { Epoch = g.Epoch; Old = orNan g.OldMean; New = orNan g.NewMean } ]
            | None -> []
          ShrinkAccuracy =
            if spec.Diagnostics.ShrinkGrid.IsEmpty || r.Diverged then []
            else
                // The same evaluation data as the node's test accuracy (the held-out part of the training split
                // under `evaluate_on (held_out f)`), so the λ = 1 point is the node's test accuracy.
                let evalData, evalIndices = match evalIdx with Some e -> data.Train, e | None -> data.Test, null
                [ for p in WarmStart.Core.Diagnostics.ShrinkAccuracy.Sweep(model, evalData, evalIndices, spec.Diagnostics.ShrinkGrid, device = device) ->
                    { Lambda = p.Lambda; Accuracy = p.Accuracy } ] }
    let result =
        { Key = node.Key; TestAccuracy = testAcc; TestLoss = testLoss; TrainAccuracy = r.TrainAccuracy
          TrainLoss = r.TrainLoss; Epochs = r.Epochs; Seconds = r.Seconds; SamplesPerSecond = r.SamplesPerSecond
          TrainSize = indices.shape[0]; Diverged = r.Diverged; Curve = curveOf r.Curve; Diagnostics = diagnostics }
    NodeStore.commit store node result model (Some optimizer) (Some(indices.data<int64>().ToArray()))
        (Provenance.Capture(device.ToString(), Provenance.SingleEngine, started))
    NodeStore.dropCheckpoint store node.Key
    result

/// Runs the plan: returns every node's status and the results that exist. Raises OperationCanceledException
/// after the running nodes stop when `Cancel` fires (finished nodes stay in the store).
let run (o: ExecOptions) (sink: IProgressSink) (plan: StudyPlan) : Map<string, NodeStatus> * Map<string, NodeResult> =
    let s = plan.Study
    let jobs = max 1 o.Jobs
    Threads.Configure(s.Threads, jobs) |> ignore
    let device = DeviceResolver.Resolve(o.Device)
    let status = Dictionary<string, NodeStatus>()
    let results = Dictionary<string, NodeResult>()
    let pending = List<PlanNode>(plan.Nodes)
    let gate = obj ()
    let mutable running = 0
    let mutable cancelled = false
    // An IO failure on the store (disk full, read-only) stops the run: every further node would fail the same way.
    let mutable storeError : StoreException option = None
    let sets = new DataSets(o.DataRoot)
    let specs = plan.Nodes |> List.map (fun n -> n.Key, n.Spec) |> dict
    let specOf key =
        match specs.TryGetValue key with
        | true, sp -> sp
        | _ -> NodeStore.tryReadSpec o.Store key |> Option.defaultWith (fun () -> failwithf "node %s is neither in the plan nor in the store" key)
    let inPlan = plan.Nodes |> List.map (fun n -> n.Key) |> Set.ofList
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
                | Some r -> finish n Cached (Some r)
                | None ->
                    // One retry for errors raised inside libtorch: with several worker threads an intermittent
                    // native failure was seen in an optimiser step (a Scalar check in addcmul_) whose cause lies
                    // below us. Training is deterministic, so the retry gives the result an untroubled run gives.
                    let result =
                        try trainNode o sets device sink specOf n
                        with :? System.Runtime.InteropServices.ExternalException as e ->
                            eprintfn "warning: node %s: libtorch error, training it again: %s" (n.Key.Substring(0, 8)) (e.Message.Split('\n')[0])
                            trainNode o sets device sink specOf n
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
    (status |> Seq.map (fun kv -> kv.Key, kv.Value) |> Map.ofSeq), (results |> Seq.map (fun kv -> kv.Key, kv.Value) |> Map.ofSeq)
