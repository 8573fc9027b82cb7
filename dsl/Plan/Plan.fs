namespace WarmStart

open WarmStart.Canonical
open WarmStart.Core.Runs
open WarmStart.Core.Training

/// Which examples of the pool a node trains on.
type SubsetRule =
    /// The first fraction of the pool (nested prefixes of one seeded permutation).
    | PoolFraction of fraction: float
    /// The first n examples of the pool (online: everything seen so far).
    | PoolCount of count: int
    /// Pool positions [start, start + count) (online, new chunk only).
    | PoolSlice of start: int * count: int
    /// The parent's labelled set plus `count` examples picked from the rest of the pool by the parent's model.
    | Acquire of acquisition: Acquisition * count: int * seed: int64

/// How a node's starting weights are made.
type InitRule =
    /// A new draw of the default initialiser from this seed (stage 1, and every stage of a fresh arm).
    | Root of initSeed: int64
    /// The parent node's trained model transformed by a policy, with the policy's own seed.
    | FromParent of policy: Policy * policySeed: int64
    /// The parent's model, optimiser state and epoch count, trained further (pre-training checkpoints).
    | Continue

/// What a stream node runs besides the common settings: the stream, its seed (images, labels, permutations, data
/// order and init derive from it, the same for every arm of a seed: arms are paired) and the arm's methods.
type StreamNodeDef =
    { Stream: StreamDef
      Seed: int64
      Methods: ContinualMethod list }

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
      Subset: SubsetRule
      Model: ModelDef
      Init: InitRule
      Optimizer: OptimizerDef
      BatchSize: int
      Stop: StopRule
      /// Seed of the data order (paired across arms).
      OrderSeed: int64
      KeepOptimizerState: bool
      /// Loss terms besides cross-entropy.
      Penalties: PenaltySpec list
      /// Measurements to record.
      Diagnostics: DiagnosticsDef
      /// Seed of the chain's original random initialisation (stage 1's, or a fresh arm's own): the θ₀ of
      /// L2-init and of the correlation diagnostic. Part of the key only where one of those uses it.
      OriginalInitSeed: int64
      /// The node this one depends on (for its weights, its optimiser state or its labelled set).
      Parent: string option
      /// Evaluate after every n epochs (`evaluate_every`); skipped in node.json and the key when not set, so nodes
      /// without it keep the keys and stored JSON they had before the field existed.
      EvaluateEvery: System.Text.Json.Serialization.Skippable<int>
      /// A task stream (stream schedules): the node trains one model through every task. Skipped in node.json and
      /// the key otherwise.
      Stream: System.Text.Json.Serialization.Skippable<StreamNodeDef> }

/// One training job of a plan.
type PlanNode =
    { Key: string
      Spec: NodeSpec
      /// 1-based stage (round) number.
      Stage: int
      /// 0-based seed (repetition) index.
      SeedIndex: int
      /// The arms whose chains pass through this node.
      Arms: string list
      /// The variants (sweep values, transfer fractions, pre-training lengths) whose chains pass through it.
      Variants: string list }

/// One reported chain: a variant, an arm and a seed.
type ChainId = { Variant: string; Arm: string; Seed: int }

/// What a stage of a variant means, for tables and plots.
type StepInfo =
    { Stage: int
      /// "50% of pool", "round 3", "svhn 30%", …
      Label: string
      /// The x value plots use: % of the pool, examples labelled, …
      X: float }

/// One variant of a study: a sweep combination and/or a fan-out of the schedule.
type VariantPlan =
    { /// "lr=0.01,batch_size=32", "svhn 30%", "lr=0.01 · pretrain 20 epochs", or "" for the study itself.
      Name: string
      /// The sweep values of this variant, typed (empty without sweeps).
      Knobs: (Knob * float) list
      /// The concrete study of this variant (sweep values applied).
      Study: Study
      Steps: StepInfo list
      XLabel: string }

/// A study interpreted into training jobs: nodes in dependency order and each chain's node keys.
type StudyPlan =
    { Study: Study
      Variants: VariantPlan list
      /// Nodes in an order where every parent precedes its children.
      Nodes: PlanNode list
      /// (variant, arm, seed) → node keys, one per stage.
      Chains: Map<ChainId, string list> }

/// The interpreter from studies to plans.
module Plan =

    /// Bumped whenever the meaning of a node spec changes, so old results are never mistaken for new ones.
    let schemaVersion = 3

    let private policyJson p =
        match p with
        | Fresh -> JObj [ "kind", JStr "fresh" ]
        | Warm -> JObj [ "kind", JStr "warm" ]
        | ShrinkPerturb(l, s, n) ->
            JObj [ "kind", JStr "shrink_perturb"; "lambda", JNum l; "sigma", JNum s
                   "noise", JStr (match n with Gaussian -> "gaussian" | FreshInit -> "fresh_init") ]
        | PartialWarm gs -> JObj [ "kind", JStr "partial_warm"; "groups", JArr (gs |> List.map JStr) ]
        | HeadReset -> JObj [ "kind", JStr "head_reset" ]
        | Dash(a, l) -> JObj [ "kind", JStr "dash"; "alpha", JNum a; "lambda", JNum l ]

    /// Adds `evaluate_every` to a spec's JSON only when set, so a study without it keeps its node keys.
    let private withEvaluateEvery (n: NodeSpec) (j: Json) =
        match j, n.EvaluateEvery with
        | JObj fields, System.Text.Json.Serialization.Include e -> JObj(fields @ [ "evaluate_every", JInt(int64 e) ])
        | _ -> j

    /// The canonical JSON of a task stream and its methods (part of a stream node's key).
    let private streamJson (d: StreamNodeDef) =
        let t = d.Stream
        JObj [ "kind", JStr t.Kind.Name; "tasks", JInt(int64 t.Tasks); "images", JInt(int64 t.Images)
               "test_images", JInt(int64 t.TestImages); "epochs_per_task", JInt(int64 t.EpochsPerTask)
               "threshold", opt JNum t.Threshold
               "classes_first", JInt(int64 t.ClassesFirst); "classes_per_task", JInt(int64 t.ClassesPerTask)
               "probe", JInt(int64 t.Probe); "tau", JNum t.Tau; "seed", JInt d.Seed
               "methods", JArr [ for m in d.Methods ->
                                  match m with
                                  | ContinualBackprop(r, mt, e) -> JObj [ "cbp", JNum r; "maturity", JInt(int64 mt); "decay", JNum e ]
                                  | Redo(tau, p) -> JObj [ "redo", JNum tau; "period", JInt(int64 p) ]
                                  | RedoEveryTasks(tau, k) -> JObj [ "redo", JNum tau; "period_tasks", JInt(int64 k) ]
                                  | ContinualShrinkPerturb(l, sg, k, task) ->
                                      JObj [ "shrink_perturb", JNum l; "sigma", JNum sg; "every_steps", JInt(int64 k); "every_task", JBool task ]
                                  | HeadResetEveryTask z -> JObj [ "head_reset", JBool z ] ] ]

    /// Adds the stream to a spec's JSON only when the node is a stream node, so other nodes keep their keys.
    let private withStream (n: NodeSpec) (j: Json) =
        match j, n.Stream with
        | JObj fields, System.Text.Json.Serialization.Include d -> JObj(fields @ [ "stream", streamJson d ])
        | _ -> j

    /// The canonical JSON of a node spec (what its key hashes).
    let specJson (n: NodeSpec) =
        JObj [ "schema", JInt(int64 schemaVersion)
               "dataset", JStr n.Dataset
               "half_normalization", JBool n.HalfNormalization
               "augment", JBool n.Augment
               "eval", (match n.Eval with OfficialTest -> JStr "official_test" | HeldOut f -> JObj [ "held_out", JNum f ])
               "pool_seed", JInt n.PoolSeed
               "pool_size", opt (int64 >> JInt) n.PoolSize
               "subset", (match n.Subset with
                          | PoolFraction f -> JObj [ "fraction", JNum f ]
                          | PoolCount c -> JObj [ "count", JInt(int64 c) ]
                          | PoolSlice(a, c) -> JObj [ "slice_start", JInt(int64 a); "count", JInt(int64 c) ]
                          | Acquire(a, c, s) -> JObj [ "acquire", JStr(ToCore.acquisition a); "count", JInt(int64 c); "seed", JInt s ])
               "model", JObj [ "kind", JStr n.Model.Kind.Name
                               "widths", JArr (n.Model.Widths |> List.map (int64 >> JInt))
                               "activation", JStr n.Model.Activation.Name
                               "bias", JBool n.Model.Bias
                               "base_width", JInt(int64 n.Model.BaseWidth)
                               // Only when set, so models without it keep their keys.
                               if n.Model.LayerNorm then "layer_norm", JBool true ]
               "init", (match n.Init with
                        | Root s -> JObj [ "root", JInt s ]
                        | FromParent(p, s) -> JObj [ "policy", policyJson p; "seed", JInt s ]
                        | Continue -> JStr "continue")
               "optimizer", JObj [ "kind", JStr n.Optimizer.Kind.Name; "lr", JNum n.Optimizer.Lr
                                   "momentum", JNum n.Optimizer.Momentum; "weight_decay", JNum n.Optimizer.WeightDecay ]
               "batch_size", JInt(int64 n.BatchSize)
               "stop", JObj [ "epochs", opt (int64 >> JInt) (Option.ofNullable n.Stop.FixedEpochs)
                              "train_accuracy", opt JNum (Option.ofNullable n.Stop.TrainAccuracy)
                              "max_epochs", JInt(int64 n.Stop.MaxEpochs)
                              "patience", opt (int64 >> JInt) (Option.ofNullable n.Stop.Patience) ]
               "order_seed", JInt n.OrderSeed
               "keep_optimizer_state", JBool n.KeepOptimizerState
               "penalties", JArr [ for p in n.Penalties ->
                                    match p with
                                    | L2InitPenaltySpec(l, d, s) -> JObj [ "l2_init", JNum l; "dash_form", JBool d; "theta0_seed", JInt s ]
                                    | EwcPenaltySpec(l, e, s) -> JObj [ "ewc", JNum l; "empirical", JBool e; "seed", JInt s ] ]
               "original_init", (if n.Diagnostics.Correlation then JInt n.OriginalInitSeed else JNull)
               "diagnostics", JObj [ "correlation", JBool n.Diagnostics.Correlation
                                     "gradient_norms", JBool n.Diagnostics.GradientNorms
                                     "shrink_grid", JArr (n.Diagnostics.ShrinkGrid |> List.map JNum)
                                     // Only when not the default, so nodes keyed before the option keep their keys.
                                     if n.Diagnostics.ShrinkBatchNorm = BatchStatistics then "shrink_batch_norm", JStr "batch_statistics" ]
               "parent", opt JStr n.Parent ]
        |> withEvaluateEvery n
        |> withStream n

    /// The content hash of a node spec.
    let keyOf (n: NodeSpec) = Canonical.hash (specJson n)

    /// The seed of repetition i: everything of that repetition is derived from it, identically for every arm.
    let seedBase (s: Study) (i: int) = Seeds.Derive(s.Seed, sprintf "seed-%d" i)

    /// Stage settings: arm override, else the latest stage override at or before this stage, else the study's;
    /// the stop rule: the latest stage override's, else the study's.
    let private settingsAt (s: Study) (arm: ArmDef option) stage =
        let overrides = s.StageOverrides |> List.filter (fun o -> o.FromStage <= stage) |> List.sortBy (fun o -> o.FromStage)
        let stageLr = overrides |> List.choose (fun o -> o.Lr) |> List.tryLast
        let stageBatch = overrides |> List.choose (fun o -> o.BatchSize) |> List.tryLast
        let stop = overrides |> List.choose (fun o -> o.Stop) |> List.tryLast |> Option.defaultValue s.Stop
        let armLr, armBatch =
            match arm with
            | Some a when stage >= 2 -> a.Lr, a.BatchSize
            | _ -> None, None
        let lr = armLr |> Option.orElse stageLr |> Option.defaultValue s.Optimizer.Lr
        let batch = armBatch |> Option.orElse stageBatch |> Option.defaultValue s.BatchSize
        { s.Optimizer with Lr = lr }, batch, stop

    let private fmt (x: float) = x.ToString("G6", System.Globalization.CultureInfo.InvariantCulture)

    /// The number of examples in a study's pool (the training split or its held-out share, capped by `subset`).
    let poolSize (s: Study) = PlanSizes.poolSize s

    /// The number of stages (rounds) a study's schedule makes.
    let stageCount (s: Study) = PlanSizes.stageCount s

    /// Applies one sweep value to a study.
    let private applyKnob (s: Study) (knob: Knob, v: float) =
        match knob with
        | Knob.Lr -> { s with Optimizer = { s.Optimizer with Lr = v } }
        | Knob.BatchSize -> { s with BatchSize = int v }
        | Knob.WeightDecay -> { s with Optimizer = { s.Optimizer with WeightDecay = v } }
        | Knob.Momentum -> { s with Optimizer = { s.Optimizer with Momentum = v } }
        | Knob.Subset -> { s with Subset = Some(int v) }
        // Appended last, so among overrides from stage 2 the swept value wins (settingsAt takes the latest).
        | Knob.Lr2 -> { s with StageOverrides = s.StageOverrides @ [ { FromStage = 2; Lr = Some v; BatchSize = None; Stop = None } ] }
        | Knob.BatchSize2 -> { s with StageOverrides = s.StageOverrides @ [ { FromStage = 2; Lr = None; BatchSize = Some(int v); Stop = None } ] }
        | Knob.Shrink | Knob.Perturb ->
            let arms =
                s.Arms |> List.map (fun a ->
                    match a.Policy with
                    | ShrinkPerturb(_, sg, n) when knob = Knob.Shrink -> { a with Policy = ShrinkPerturb(v, sg, n) }
                    | ShrinkPerturb(l, _, n) -> { a with Policy = ShrinkPerturb(l, v, n) }
                    | _ -> a)
            { s with Arms = arms }

    /// The name of a sweep combination in tables and plots: "lr=0.01,batch_size=32".
    let knobsName (knobs: (Knob * float) list) =
        knobs |> List.map (fun (k, v) -> sprintf "%s=%s" k.Name (fmt v)) |> String.concat ","

    /// The sweep grid: (knob values, study with the values applied); one combination without knobs when the
    /// study sweeps nothing.
    let sweepVariants (s: Study) =
        let rec grid = function
            | [] -> [ [] ]
            | (knob, values) :: rest -> [ for v in values do for tail in grid rest -> (knob, v) :: tail ]
        let excluded combo = s.SweepExcept |> List.exists (fun cell -> cell |> List.forall (fun kv -> List.contains kv combo))
        let combos =
            match s.RandomDraws with
            | None -> grid s.Sweeps |> List.filter (excluded >> not)
            | Some(n, knobs) ->
                [ for combo in grid s.Sweeps do
                    // A seeded Fisher–Yates shuffle of the draw grid, its first n cells: n distinct draws per
                    // combination, the same on every machine and for every seed (so seeds stay paired).
                    let cells = grid (knobs |> List.map (fun (k, vs) -> k, List.distinct vs)) |> List.toArray
                    let seed = Seeds.Derive(s.Seed, "draws/" + knobsName combo)
                    for i in cells.Length - 1 .. -1 .. 1 do
                        let j = int (uint64 (Seeds.Derive(seed, sprintf "swap-%d" i)) % uint64 (i + 1))
                        let t = cells[i] in cells[i] <- cells[j]; cells[j] <- t
                    yield! cells |> Seq.map (fun d -> combo @ d) |> Seq.filter (excluded >> not) |> Seq.truncate n ]
        [ for combo in combos -> combo, List.fold applyKnob s combo ]

    let private join a b = match a, b with "", x | x, "" -> x | a, b -> a + " · " + b

    /// Interprets a (validated) study. Nodes shared by several arms or variants (stage 1 of half-then-all,
    /// the source model of transfer, the pre-training runs) appear once; a fresh arm's later stages do not
    /// depend on earlier ones (unless active learning needs its previous model to pick data).
    let ofStudy (study: Study) : StudyPlan =
        let nodes = System.Collections.Generic.List<PlanNode>()
        let index = System.Collections.Generic.Dictionary<string, int>()
        let add (spec: NodeSpec) stage seedIndex arm variant =
            let key = keyOf spec
            match index.TryGetValue key with
            | true, i ->
                let n = nodes[i]
                nodes[i] <- { n with Arms = (if List.contains arm n.Arms then n.Arms else n.Arms @ [ arm ])
                                     Variants = (if List.contains variant n.Variants then n.Variants else n.Variants @ [ variant ]) }
            | _ ->
                index[key] <- nodes.Count
                nodes.Add { Key = key; Spec = spec; Stage = stage; SeedIndex = seedIndex; Arms = [ arm ]; Variants = [ variant ] }
            key
        let chains = System.Collections.Generic.Dictionary<ChainId, string list>()
        let variants = System.Collections.Generic.List<VariantPlan>()
        for knobs, s in sweepVariants study do
            let sweepName = knobsName knobs
            let pool = poolSize s
            let spec (b: int64) dataset t (arm: ArmDef option) subset init parent keep =
                let opt, batch, stop = settingsAt s arm t
                // θ₀ of L2-init is the chain's original initialisation: stage 1's, or a fresh arm's own.
                let theta0 = match init with Root seed -> seed | _ -> Seeds.Derive(b, "init")
                let penalties =
                    match arm with
                    | Some a when t >= 2 ->
                        a.Regularizers |> List.map (function
                            | L2Init(l, d) -> L2InitPenaltySpec(l, d, theta0)
                            | Ewc(l, e) -> EwcPenaltySpec(l, e, Seeds.Derive(b, sprintf "fisher/stage-%d" t)))
                    // L2-init from step 0 (Kumar et al., the DASH code): stage 1 anchors to its own initialisation.
                    | Some a when a.L2InitFromStart ->
                        a.Regularizers |> List.choose (function L2Init(l, d) -> Some(L2InitPenaltySpec(l, d, theta0)) | Ewc _ -> None)
                    | _ -> []
                { Dataset = dataset; HalfNormalization = s.Data.HalfNormalization; Augment = s.Data.Augment
                  Eval = s.Data.Eval; PoolSeed = Seeds.Derive(b, "pool/" + dataset); PoolSize = s.Subset
                  Subset = subset; Model = s.Model; Init = init; Optimizer = opt; BatchSize = batch; Stop = stop
                  OrderSeed = Seeds.Derive(b, sprintf "order/stage-%d" t); KeepOptimizerState = keep
                  Penalties = penalties; Diagnostics = s.Diagnostics; OriginalInitSeed = theta0; Parent = parent
                  EvaluateEvery = match s.EvaluateEvery with Some e -> System.Text.Json.Serialization.Include e | None -> System.Text.Json.Serialization.Skip
                  Stream = System.Text.Json.Serialization.Skip }
            // The init of an arm's stage t ≥ 2 from `parent` (fresh arms need no parent for their weights).
            let armInit (b: int64) (a: ArmDef) t parent =
                match a.Policy with
                | Fresh -> Root(Seeds.Derive(b, sprintf "policy/stage-%d" t)), None, false
                | p -> FromParent(p, Seeds.Derive(b, sprintf "policy/stage-%d" t)), parent, a.KeepOptimizerState
            // Stage 1 of an arm: the node every arm shares, unless the arm's L2-init applies from step 0.
            let stage1Arm (a: ArmDef) = if a.L2InitFromStart then Some a else None
            // A linear schedule: stage t trains on subsets[t-1] (an arm with new_chunk_only on newChunk t from stage 2);
            // each arm's stage t starts from its stage t-1.
            let linear (variant: string) (steps: StepInfo list) xLabel (subsetAt: int64 -> int -> SubsetRule) (newChunk: int -> SubsetRule)
                       (acquiring: bool) =
                variants.Add { Name = variant; Knobs = knobs; Study = s; Steps = steps; XLabel = xLabel }
                for i in 0 .. s.Seeds - 1 do
                    let b = seedBase s i
                    for a in s.Arms do
                        let keys =
                            steps |> List.fold (fun (keys: string list) step ->
                                let t = step.Stage
                                let prev = List.tryLast keys
                                let sp =
                                    if t = 1 then spec b s.Data.Name 1 (stage1Arm a) (subsetAt b 1) (Root(Seeds.Derive(b, "init"))) None false
                                    else
                                        let init, parent, keep = armInit b a t prev
                                        // Active learning: the previous model picks the data, so every arm depends on it.
                                        let parent = if acquiring then prev else parent
                                        let subset = if a.NewChunkOnly then newChunk t else subsetAt b t
                                        spec b s.Data.Name t (Some a) subset init parent keep
                                keys @ [ add sp t i a.Name variant ]) []
                        chains[{ Variant = variant; Arm = a.Name; Seed = i }] <- keys
            match s.Schedule with
            | Fractions fs ->
                let steps = fs |> List.mapi (fun j f -> { Stage = j + 1; Label = sprintf "%g%% of pool" (100.0 * f); X = 100.0 * f })
                let noNewChunk t = invalidOp (sprintf "new_chunk_only on a fractions schedule (stage %d): validation rejects it" t)
                linear sweepName steps "training data (% of pool)" (fun _ t -> PoolFraction fs[t - 1]) noNewChunk false
            | Online o ->
                let n = stageCount s
                let steps = [ for t in 1 .. n -> { Stage = t; Label = sprintf "round %d" t; X = float (min (t * o.Chunk) pool) } ]
                let newChunk t = PoolSlice((t - 1) * o.Chunk, min o.Chunk (pool - (t - 1) * o.Chunk))
                let subsetAt _ t = if o.NewOnly then newChunk t else PoolCount(min (t * o.Chunk) pool)
                linear sweepName steps (if o.NewOnly then "examples seen (training on the new chunk)" else "examples seen") subsetAt newChunk false
            | Active(o, acq) ->
                let n = stageCount s
                let steps = [ for t in 1 .. n -> { Stage = t; Label = sprintf "round %d" t; X = float (min (t * o.Chunk) pool) } ]
                let subsetAt b t =
                    if t = 1 then PoolCount(min o.Chunk pool)
                    else Acquire(acq, min o.Chunk (pool - (t - 1) * o.Chunk), Seeds.Derive(b, sprintf "acquire/stage-%d" t))
                let noNewChunk t = invalidOp (sprintf "new_chunk_only on an active schedule (stage %d): validation rejects it" t)
                linear sweepName steps "examples labelled" subsetAt noNewChunk true
            | Transfer(source, target, fs) ->
                for f in fs do
                    let variant = join sweepName (sprintf "%s %g%%" target (100.0 * f))
                    variants.Add { Name = variant; Knobs = knobs; Study = s; XLabel = sprintf "%s data (%% of pool)" target
                                   Steps = [ { Stage = 1; Label = source; X = 0.0 }; { Stage = 2; Label = sprintf "%s %g%%" target (100.0 * f); X = 100.0 * f } ] }
                    for i in 0 .. s.Seeds - 1 do
                        let b = seedBase s i
                        for a in s.Arms do
                            let k1 = add (spec b source 1 (stage1Arm a) (PoolFraction 1.0) (Root(Seeds.Derive(b, "init"))) None false) 1 i a.Name variant
                            let init, parent, keep = armInit b a 2 (Some k1)
                            let k2 = add (spec b target 2 (Some a) (PoolFraction f) init parent keep) 2 i a.Name variant
                            chains[{ Variant = variant; Arm = a.Name; Seed = i }] <- [ k1; k2 ]
            | PretrainEpochs es ->
                let preStop (e: int) = StopRule.Epochs e
                for j, e in List.indexed es do
                    let variant = join sweepName (sprintf "pretrain %d epochs" e)
                    variants.Add { Name = variant; Knobs = knobs; Study = s; XLabel = "pre-training epochs"
                                   Steps = [ { Stage = 1; Label = sprintf "half, %d epochs" e; X = float e }; { Stage = 2; Label = "all"; X = float e } ] }
                    for i in 0 .. s.Seeds - 1 do
                        let b = seedBase s i
                        for a in s.Arms do
                            // Pre-training to e continues the run to the previous e: one long run, checkpointed.
                            let pre =
                                es |> List.take (j + 1) |> List.fold (fun prev ei ->
                                    let init, parent = match prev with None -> Root(Seeds.Derive(b, "init")), None | Some p -> Continue, Some p
                                    let sp = { spec b s.Data.Name 1 (stage1Arm a) (PoolFraction 0.5) init parent false with Stop = preStop ei }
                                    Some(add sp 1 i a.Name variant)) None
                            let init, parent, keep = armInit b a 2 pre
                            let k2 = add (spec b s.Data.Name 2 (Some a) (PoolFraction 1.0) init parent keep) 2 i a.Name variant
                            chains[{ Variant = variant; Arm = a.Name; Seed = i }] <- [ pre.Value; k2 ]
            | Stream st ->
                // One node per arm × seed runs the whole stream (checkpointed at task boundaries), not one per task.
                variants.Add { Name = sweepName; Knobs = knobs; Study = s; XLabel = "task"
                               Steps = [ { Stage = 1; Label = sprintf "%d %s tasks" st.Tasks st.Kind.Name; X = float st.Tasks } ] }
                for i in 0 .. s.Seeds - 1 do
                    let b = seedBase s i
                    for a in s.Arms do
                        let init = Seeds.Derive(b, "stream")
                        let sp = spec b s.Data.Name 1 None (PoolFraction 1.0) (Root init) None false
                        let penalties = a.Regularizers |> List.choose (function L2Init(l, d) -> Some(L2InitPenaltySpec(l, d, init)) | Ewc _ -> None)
                        // ReDo "every k tasks" becomes a period in steps (tasks of a fixed length: validation checks).
                        let stepsPerTask = (st.Images + s.BatchSize - 1) / s.BatchSize * st.EpochsPerTask
                        let methods = a.Continual |> List.map (function RedoEveryTasks(tau, k) -> Redo(tau, k * stepsPerTask) | m -> m)
                        let sp = { sp with Penalties = penalties; Stop = StopRule.Epochs st.Tasks; Stream = System.Text.Json.Serialization.Include { Stream = st; Seed = init; Methods = methods } }
                        chains[{ Variant = sweepName; Arm = a.Name; Seed = i }] <- [ add sp 1 i a.Name sweepName ]
        // Stage-major order (stable, so a pre-training run's continuations keep theirs): every parent still comes
        // first, and all of a stage's independent nodes are ready together for parallel workers and job arrays.
        { Study = study; Variants = List.ofSeq variants; Nodes = nodes |> List.ofSeq |> List.sortBy (fun n -> n.Stage)
          Chains = chains |> Seq.map (fun kv -> kv.Key, kv.Value) |> Map.ofSeq }

    /// Nodes used by more than one arm.
    let shared (p: StudyPlan) = p.Nodes |> List.filter (fun n -> n.Arms.Length > 1)

    /// The node with this key.
    let node (p: StudyPlan) (key: string) = p.Nodes |> List.find (fun n -> n.Key = key)

    /// The node of a chain for a seed (0-based) at a stage (1-based); `variant` is "" without sweeps or fan-out.
    let nodeIn (p: StudyPlan) (variant: string) (arm: string) (seedIndex: int) (stage: int) =
        match p.Chains.TryFind { Variant = variant; Arm = arm; Seed = seedIndex } with
        | Some chain when stage >= 1 && stage <= chain.Length -> node p chain[stage - 1]
        | _ -> invalidArg "arm" (sprintf "no node for variant '%s', arm '%s', seed %d, stage %d" variant arm seedIndex stage)

    /// The node of an arm's chain for a seed (0-based) at a stage (1-based), in a study without variants.
    let nodeAt (p: StudyPlan) (arm: string) (seedIndex: int) (stage: int) = nodeIn p "" arm seedIndex stage

    let private describeSubset (s: SubsetRule) =
        match s with
        | PoolFraction f -> sprintf "%5.1f%% of pool" (100.0 * f)
        | PoolCount c -> sprintf "first %d of pool" c
        | PoolSlice(a, c) -> sprintf "pool[%d..%d)" a (a + c)
        | Acquire(a, c, _) -> sprintf "+%d by %s" c (ToCore.acquisition a)

    let private describeInit (n: PlanNode) =
        let parent = n.Spec.Parent |> Option.map (fun k -> k.Substring(0, 8)) |> Option.defaultValue "?"
        match n.Spec.Init with
        | Root _ -> "fresh init" + (match n.Spec.Parent with Some _ -> sprintf " (data picked by %s)" parent | None -> "")
        | Continue -> sprintf "continues %s" parent
        | FromParent(pol, _) ->
            sprintf "%s from %s%s" (Describe.policy pol) parent (if n.Spec.KeepOptimizerState then ", optimizer state kept" else "")

    /// A stream node's data: "20 random_labels tasks × 300 images, cbp" (None for other nodes).
    let private describeStream (n: PlanNode) =
        match n.Spec.Stream with
        | System.Text.Json.Serialization.Include d ->
            Some(sprintf "%d %s tasks × %d images" d.Stream.Tasks d.Stream.Kind.Name d.Stream.Images)
        | _ -> None

    /// A readable account of the plan: totals, every node (stage, seed, arms, data, init), and each arm's chain.
    let describe (p: StudyPlan) =
        let s = p.Study
        let naive = p.Chains |> Seq.sumBy (fun kv -> kv.Value.Length)
        let lines = System.Collections.Generic.List<string>()
        lines.Add(sprintf "study '%s': %d arms × %d seeds%s on %s, %s, %s lr=%g, batch %d"
                    s.Name s.Arms.Length s.Seeds
                    (if p.Variants.Length > 1 then sprintf " × %d variants" p.Variants.Length else sprintf " × %d stages" (stageCount s))
                    s.Data.Name (Describe.model s.Model) s.Optimizer.Kind.Name s.Optimizer.Lr s.BatchSize)
        lines.Add(sprintf "%d training nodes (a run per arm would train %d); %d shared by several arms"
                    p.Nodes.Length naive (shared p).Length)
        for n in p.Nodes do
            lines.Add(sprintf "  %s  stage %d  seed %d  %-28s  %-10s %s  %s, %s lr=%g batch %d"
                        (n.Key.Substring(0, 8)) n.Stage n.SeedIndex
                        (if n.Arms.Length > 1 then sprintf "shared: %s" (String.concat ", " n.Arms) else String.concat ", " n.Arms)
                        n.Spec.Dataset (describeStream n |> Option.defaultWith (fun () -> describeSubset n.Spec.Subset)) (describeInit n) n.Spec.Optimizer.Kind.Name n.Spec.Optimizer.Lr n.Spec.BatchSize)
        lines.Add "chains (seed 0):"
        for KeyValue(c, keys) in p.Chains do
            if c.Seed = 0 then
                let name = if c.Variant = "" then c.Arm else sprintf "%s [%s]" c.Arm c.Variant
                lines.Add(sprintf "  %-28s %s" name (keys |> List.map (fun k -> k.Substring(0, 8)) |> String.concat " → "))
        String.concat "\n" lines
