namespace WarmStart

open WarmStart.Canonical
open WarmStart.Core.Runs

/// How a node's starting weights are made.
type InitRule =
    /// A new draw of the default initialiser from this seed (stage 1, and every stage of a fresh arm).
    | Root of initSeed: int64
    /// The parent node's trained model transformed by a policy, with the policy's own seed.
    | FromParent of policy: Policy * policySeed: int64

/// Everything that determines one training job's result. Its canonical JSON, hashed, is the node's key.
type NodeSpec =
    { Dataset: string
      HalfNormalization: bool
      Augment: bool
      Eval: EvalSplit
      /// Seed of the permutation the pool (and, for held-out evaluation, the split) is drawn from.
      PoolSeed: int64
      /// Cap on the pool size.
      PoolSize: int option
      /// This stage trains on the first `Fraction` of the pool.
      Fraction: float
      Model: ModelDef
      Init: InitRule
      Optimizer: OptimizerDef
      BatchSize: int
      Stop: StopDef
      /// Seed of the data order (paired across arms).
      OrderSeed: int64
      KeepOptimizerState: bool
      /// The parent node's key when the init depends on it.
      Parent: string option }

/// One training job of a plan.
type PlanNode =
    { Key: string
      Spec: NodeSpec
      /// 1-based stage number.
      Stage: int
      /// 0-based seed (repetition) index.
      SeedIndex: int
      /// The arms whose chains pass through this node.
      Arms: string list }

/// A study interpreted into training jobs: nodes in dependency order and each arm's chain per seed.
type StudyPlan =
    { Study: Study
      /// Nodes in an order where every parent precedes its children.
      Nodes: PlanNode list
      /// (arm, seed index) → node keys, one per stage.
      Chains: Map<string * int, string list> }

/// The interpreter from studies to plans.
module Plan =

    /// Bumped whenever the meaning of a node spec changes, so old results are never mistaken for new ones.
    let schemaVersion = 1

    let private policyJson p =
        match p with
        | Fresh -> JObj [ "kind", JStr "fresh" ]
        | Warm -> JObj [ "kind", JStr "warm" ]
        | ShrinkPerturb(l, s, n) ->
            JObj [ "kind", JStr "shrink_perturb"; "lambda", JNum l; "sigma", JNum s
                   "noise", JStr (match n with Gaussian -> "gaussian" | FreshInit -> "fresh_init") ]

    /// The canonical JSON of a node spec (what its key hashes).
    let specJson (n: NodeSpec) =
        JObj [ "schema", JInt(int64 schemaVersion)
               "dataset", JStr n.Dataset
               "half_normalization", JBool n.HalfNormalization
               "augment", JBool n.Augment
               "eval", (match n.Eval with OfficialTest -> JStr "official_test" | HeldOut f -> JObj [ "held_out", JNum f ])
               "pool_seed", JInt n.PoolSeed
               "pool_size", opt (int64 >> JInt) n.PoolSize
               "fraction", JNum n.Fraction
               "model", JObj [ "kind", JStr n.Model.Kind
                               "widths", JArr (n.Model.Widths |> List.map (int64 >> JInt))
                               "activation", JStr n.Model.Activation
                               "bias", JBool n.Model.Bias
                               "base_width", JInt(int64 n.Model.BaseWidth) ]
               "init", (match n.Init with
                        | Root s -> JObj [ "root", JInt s ]
                        | FromParent(p, s) -> JObj [ "policy", policyJson p; "seed", JInt s ])
               "optimizer", JObj [ "kind", JStr n.Optimizer.Kind; "lr", JNum n.Optimizer.Lr
                                   "momentum", JNum n.Optimizer.Momentum; "weight_decay", JNum n.Optimizer.WeightDecay ]
               "batch_size", JInt(int64 n.BatchSize)
               "stop", JObj [ "epochs", opt (int64 >> JInt) n.Stop.Epochs
                              "train_accuracy", opt JNum n.Stop.TrainAccuracy
                              "max_epochs", JInt(int64 n.Stop.MaxEpochs)
                              "patience", opt (int64 >> JInt) n.Stop.Patience ]
               "order_seed", JInt n.OrderSeed
               "keep_optimizer_state", JBool n.KeepOptimizerState
               "parent", opt JStr n.Parent ]

    /// The content hash of a node spec.
    let keyOf (n: NodeSpec) = Canonical.hash (specJson n)

    /// The seed of repetition i: everything of that repetition is derived from it, identically for every arm.
    let seedBase (s: Study) (i: int) = Seeds.Derive(s.Seed, sprintf "seed-%d" i)

    let private fractionAt (s: Study) stage =
        match s.Schedule with
        | Fractions fs -> fs[stage - 1]

    /// Stage settings: arm override, else the latest stage override at or before this stage, else the study's.
    let private settingsAt (s: Study) (arm: ArmDef option) stage =
        let overrides = s.StageOverrides |> List.filter (fun o -> o.FromStage <= stage) |> List.sortBy (fun o -> o.FromStage)
        let stageLr = overrides |> List.choose (fun o -> o.Lr) |> List.tryLast
        let stageBatch = overrides |> List.choose (fun o -> o.BatchSize) |> List.tryLast
        let armLr, armBatch =
            match arm with
            | Some a when stage >= 2 -> a.Lr, a.BatchSize
            | _ -> None, None
        let lr = armLr |> Option.orElse stageLr |> Option.defaultValue s.Optimizer.Lr
        let batch = armBatch |> Option.orElse stageBatch |> Option.defaultValue s.BatchSize
        { s.Optimizer with Lr = lr }, batch

    /// Interprets a (validated) study: stage 1 is one node per seed shared by every arm; each later stage is
    /// one node per arm and seed, whose key includes its parent's key unless the arm starts fresh.
    let ofStudy (s: Study) : StudyPlan =
        let s = Validate.orRaise s
        let stages = Validate.stageCount s
        let nodes = System.Collections.Generic.List<PlanNode>()
        let index = System.Collections.Generic.Dictionary<string, int>()
        let add (spec: NodeSpec) stage seedIndex arm =
            let key = keyOf spec
            match index.TryGetValue key with
            | true, i -> nodes[i] <- { nodes[i] with Arms = nodes[i].Arms @ [ arm ] }
            | _ ->
                index[key] <- nodes.Count
                nodes.Add { Key = key; Spec = spec; Stage = stage; SeedIndex = seedIndex; Arms = [ arm ] }
            key
        let chains =
            [ for t in 1 .. stages do
                for i in 0 .. s.Seeds - 1 do
                    for a in s.Arms do
                        yield (t, i, a) ]
            |> List.fold (fun (chains: Map<string * int, string list>) (t, i, a) ->
                let b = seedBase s i
                let opt, batch = settingsAt s (if t = 1 then None else Some a) t
                let parentKey = if t = 1 then None else Some (List.last chains[(a.Name, i)])
                let init, parent, keep =
                    if t = 1 then Root(Seeds.Derive(b, "init")), None, false
                    else
                        match a.Policy with
                        | Fresh -> Root(Seeds.Derive(b, sprintf "policy/stage-%d" t)), None, false
                        | p -> FromParent(p, Seeds.Derive(b, sprintf "policy/stage-%d" t)), parentKey, a.KeepOptimizerState
                let spec =
                    { Dataset = s.Data.Name; HalfNormalization = s.Data.HalfNormalization; Augment = s.Data.Augment
                      Eval = s.Data.Eval; PoolSeed = Seeds.Derive(b, "pool"); PoolSize = s.Subset
                      Fraction = fractionAt s t; Model = s.Model; Init = init; Optimizer = opt; BatchSize = batch
                      Stop = s.Stop; OrderSeed = Seeds.Derive(b, sprintf "order/stage-%d" t)
                      KeepOptimizerState = keep; Parent = parent }
                let key = add spec t i a.Name
                let prev = chains |> Map.tryFind (a.Name, i) |> Option.defaultValue []
                chains |> Map.add (a.Name, i) (prev @ [ key ])) Map.empty
        { Study = s; Nodes = List.ofSeq nodes; Chains = chains }

    /// Nodes used by more than one arm.
    let shared (p: StudyPlan) = p.Nodes |> List.filter (fun n -> n.Arms.Length > 1)

    /// The node with this key.
    let node (p: StudyPlan) (key: string) = p.Nodes |> List.find (fun n -> n.Key = key)

    /// The node of an arm's chain for a seed (0-based) at a stage (1-based).
    let nodeAt (p: StudyPlan) (arm: string) (seedIndex: int) (stage: int) =
        match p.Chains.TryFind(arm, seedIndex) with
        | Some chain when stage >= 1 && stage <= chain.Length -> node p chain[stage - 1]
        | _ -> invalidArg "arm" (sprintf "no node for arm '%s', seed %d, stage %d" arm seedIndex stage)

    let private describeInit (p: StudyPlan) (n: PlanNode) =
        match n.Spec.Init with
        | Root _ -> "fresh init"
        | FromParent(pol, _) ->
            let parent = n.Spec.Parent |> Option.map (fun k -> k.Substring(0, 8)) |> Option.defaultValue "?"
            let what = Describe.policy pol
            sprintf "%s from %s%s" what parent (if n.Spec.KeepOptimizerState then ", optimizer state kept" else "")

    /// A readable account of the plan: totals, every node (stage, seed, arms, data, init), and each arm's chain.
    let describe (p: StudyPlan) =
        let s = p.Study
        let naive = s.Arms.Length * s.Seeds * Validate.stageCount s
        let lines = System.Collections.Generic.List<string>()
        lines.Add(sprintf "study '%s': %d arms × %d seeds × %d stages on %s, %s, %s lr=%g, batch %d"
                    s.Name s.Arms.Length s.Seeds (Validate.stageCount s) s.Data.Name (Describe.model s.Model)
                    s.Optimizer.Kind s.Optimizer.Lr s.BatchSize)
        lines.Add(sprintf "%d training nodes (a run per arm would train %d); %d shared by several arms"
                    p.Nodes.Length naive (shared p).Length)
        for n in p.Nodes do
            lines.Add(sprintf "  %s  stage %d  seed %d  %-28s  %5.1f%% of pool  %s, %s lr=%g batch %d"
                        (n.Key.Substring(0, 8)) n.Stage n.SeedIndex
                        (if n.Arms.Length > 1 then sprintf "shared: %s" (String.concat ", " n.Arms) else String.concat ", " n.Arms)
                        (100.0 * n.Spec.Fraction) (describeInit p n) n.Spec.Optimizer.Kind n.Spec.Optimizer.Lr n.Spec.BatchSize)
        lines.Add "chains (seed 0):"
        for a in s.Arms do
            let keys = p.Chains[(a.Name, 0)] |> List.map (fun k -> k.Substring(0, 8))
            lines.Add(sprintf "  %-20s %s" a.Name (String.concat " → " keys))
        String.concat "\n" lines
