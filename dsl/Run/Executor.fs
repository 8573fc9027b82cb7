/// Runs a plan's nodes in dependency order on the core: data loaded once, pools drawn per seed, each node's
/// model built from its init rule, trained, evaluated. Models are kept only while a child still needs them.
module WarmStart.Executor

open System
open System.Collections.Generic
open System.Diagnostics
open TorchSharp
open WarmStart.Core.Data
open WarmStart.Core.Models
open WarmStart.Core.Native
open WarmStart.Core.Policies
open WarmStart.Core.Runs
open WarmStart.Core.Training

/// Where and how to execute.
type ExecOptions =
    { DataRoot: string option
      Device: string
      /// Progress lines (one per node); ignore to be silent.
      Log: string -> unit }

let internal toModelSpec (m: ModelDef) =
    ModelSpec(m.Kind, List.toArray m.Widths, m.Activation, m.Bias, m.BaseWidth)

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

/// The data a study's nodes share: both splits, loaded once.
type StudyData(name: string, dataRoot: string option, halfNormalization: bool) =
    let entry = Catalog.Get name
    let splits =
        let norm = if halfNormalization then Normalization.Half(entry.Channels) else null
        Catalog.Load(name, Option.toObj dataRoot, norm)
    let pools = Dictionary<struct (int64 * int option * EvalSplit), torch.Tensor * torch.Tensor option>()
    /// Training split.
    member _.Train = splits.Train
    /// Official test split.
    member _.Test = splits.Test
    /// The pool and (for held-out evaluation) the evaluation indices of a seed, drawn once and cached.
    member _.Pool(poolSeed: int64, poolSize: int option, eval: EvalSplit) =
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
            (pool, evalIdx)
    interface IDisposable with
        member _.Dispose() =
            for (p, e) in pools.Values do
                p.Dispose()
                e |> Option.iter (fun t -> t.Dispose())
            splits.Dispose()

let private curveOf (r: TrainResult) =
    [ for e in r.Curve -> { Epoch = e.Epoch; Loss = e.Loss; TrainAccuracy = e.TrainAccuracy; Seconds = e.Seconds } ]

/// Trains one node given its parent's model (when its init needs one). Returns the result and the trained
/// model with its optimiser (kept for children).
let trainNode (data: StudyData) (device: torch.Device) (node: PlanNode) (parent: (Network * torch.optim.Optimizer) option) =
    let spec = node.Spec
    let pool, evalIdx = data.Pool(spec.PoolSeed, spec.PoolSize, spec.Eval)
    use indices = Subsets.Fraction(pool, spec.Fraction)
    let modelSpec = toModelSpec spec.Model
    let fresh (seed: int64) = ModelFactory.Create(modelSpec, data.Train.Shape, data.Train.NumClasses, seed)
    let model : Network =
        match spec.Init with
        | Root seed -> fresh seed
        | FromParent(policy, seed) ->
            let parentModel, _ =
                parent |> Option.defaultWith (fun () -> failwithf "node %s needs its parent %A, which is not available" node.Key spec.Parent)
            let ctx = StageContext(Parent = parentModel, Fresh = Func<int64, Network>(fresh), Seed = seed,
                                   Train = data.Train, Indices = indices, Device = device, BatchSize = spec.BatchSize)
            (toPolicy policy).Apply(ctx)
    model.``to``(device) |> ignore
    let opts =
        TrainOptions(OptimizerSpec = toOptimizer spec.Optimizer, BatchSize = spec.BatchSize, Stop = toStop spec.Stop,
                     OrderSeed = spec.OrderSeed, Device = device)
    let struct (r, optimizer) = Trainer.Fit(model, data.Train, indices, opts)
    let testLoss, testAcc =
        match evalIdx with
        | Some e -> let struct (l, a) = Evaluation.Evaluate(model, data.Train, e, device = device) in l, a
        | None -> let struct (l, a) = Evaluation.Evaluate(model, data.Test, device = device) in l, a
    let result =
        { Key = node.Key; TestAccuracy = testAcc; TestLoss = testLoss; TrainAccuracy = r.TrainAccuracy
          TrainLoss = r.TrainLoss; Epochs = r.Epochs; Seconds = r.Seconds; SamplesPerSecond = r.SamplesPerSecond
          TrainSize = indices.shape[0]; Diverged = r.Diverged; Curve = curveOf r }
    result, (model, optimizer)

/// Runs every node of the plan in order and returns the results by key.
let run (opts: ExecOptions) (plan: StudyPlan) : Map<string, NodeResult> =
    let s = plan.Study
    Threads.Configure(s.Threads) |> ignore
    let device = DeviceResolver.Resolve(opts.Device)
    use data = new StudyData(s.Data.Name, opts.DataRoot, s.Data.HalfNormalization)
    let children = plan.Nodes |> List.choose (fun n -> n.Spec.Parent) |> List.countBy id |> dict
    let pending = Dictionary<string, int>(children)
    let live = Dictionary<string, Network * torch.optim.Optimizer>()
    let release key =
        match live.TryGetValue key with
        | true, (m, o) ->
            o.Dispose(); m.Dispose()
            live.Remove key |> ignore
        | _ -> ()
    let mutable results = Map.empty
    let total = plan.Nodes.Length
    plan.Nodes
    |> List.iteri (fun i node ->
        let parent = node.Spec.Parent |> Option.bind (fun k -> match live.TryGetValue k with | true, v -> Some v | _ -> None)
        let sw = Stopwatch.StartNew()
        let result, trained = trainNode data device node parent
        results <- results |> Map.add node.Key result
        opts.Log(sprintf "[%d/%d] %s stage %d seed %d (%s): %d epochs, train acc %.4f, test acc %.4f, %.1fs%s"
                    (i + 1) total (node.Key.Substring(0, 8)) node.Stage node.SeedIndex (String.concat ", " node.Arms)
                    result.Epochs result.TrainAccuracy result.TestAccuracy sw.Elapsed.TotalSeconds
                    (if result.Diverged then " DIVERGED" else ""))
        // Keep the trained model only while children still need it.
        if children.ContainsKey node.Key then live[node.Key] <- trained
        else (let m, o = trained in o.Dispose(); m.Dispose())
        match node.Spec.Parent with
        | Some p ->
            pending[p] <- pending[p] - 1
            if pending[p] = 0 then release p
        | None -> ())
    for k in List.ofSeq live.Keys do release k
    results
