/// Everything a user can get wrong in a study, found before any training. Each problem names the field,
/// the value given and what is allowed; all problems are reported at once.
module WarmStart.Validate

open System
open WarmStart.Core.Data
open WarmStart.Core.Models

let private safeName (s: string) =
    not (String.IsNullOrWhiteSpace s) && s |> Seq.forall (fun c -> Char.IsLetterOrDigit c || c = '-' || c = '_' || c = '.')

let private fmt (x: float) = x.ToString("R", Globalization.CultureInfo.InvariantCulture)

let private catalogName = DataNames.catalogName
let private viewKey = DataNames.viewKey

/// The layer groups of the study's model on its dataset (None when the model or dataset is unknown).
let modelGroups (s: Study) =
    let dataset = catalogName (PlanSizes.poolDataset s)
    if not (Catalog.Contains dataset) then None
    else
        try
            let e = Catalog.Get dataset
            let spec = ToCore.modelSpec s.Model
            Some(List.ofSeq (ModelFactory.GroupsOf(spec, struct (int64 e.Channels, int64 e.Height, int64 e.Width), e.NumClasses)))
        with _ -> None

/// Pool sizes beyond the dataset: `subset`, `quick_subset` and swept `subset` values larger than the training split
/// (or than its held-out pool share) would be silently capped, so the study would not be the one written.
let sizeProblems (s: Study) : string list =
    let dataset = PlanSizes.poolDataset s
    match PlanSizes.trainCount dataset with
    | None -> []
    | Some n ->
        let pool, what =
            match s.Data.Eval with
            | HeldOut f ->
                int (WarmStart.Core.Data.Subsets.CountFor(f, int64 n)),
                sprintf "dataset '%s' has %d training examples, of which held_out %s leaves %d for the pool" dataset n (fmt f)
                    (int (WarmStart.Core.Data.Subsets.CountFor(f, int64 n)))
            | OfficialTest -> n, sprintf "dataset '%s' has %d training examples" dataset n
        [ match s.Subset with
          | Some c when c > pool -> sprintf "field 'subset' = %d: %s; allowed: 2 to %d" c what pool
          | _ -> ()
          if s.Quick.Subset > pool then sprintf "field 'quick_subset' = %d: %s; allowed: 2 to %d" s.Quick.Subset what pool
          for knob, values in s.Sweeps do
              if knob = Knob.Subset then
                  for v in values do
                      if v > float pool then sprintf "field 'sweep \"subset\"' = %s: %s; allowed: 2 to %d" (fmt v) what pool ]

/// Problems of a task stream on the study's dataset (sizes from the catalog when known).
let private streamProblems (s: Study) (t: StreamDef) : string list =
    let bad field value allowed = sprintf "field '%s' = %s: %s" field value allowed
    let entry = let n = catalogName s.Data.Name in if Catalog.Contains n then Some(Catalog.Get n) else None
    [ if t.Tasks < 1 then bad "stream.tasks" (string t.Tasks) "must be ≥ 1"
      let trainN = entry |> Option.bind (fun e -> Option.ofNullable e.TrainCount)
      match trainN with
      | Some n when t.Images < 1 || t.Images > n -> bad "stream.images" (string t.Images) (sprintf "allowed: 1 to %d (the training split of %s)" n s.Data.Name)
      | None when t.Images < 1 -> bad "stream.images" (string t.Images) "must be ≥ 1"
      | _ -> ()
      if t.Kind <> StreamKind.RandomLabels && t.TestImages < 1 then bad "stream.test_images" (string t.TestImages) "must be ≥ 1 (task-end accuracy is measured on them)"
      if t.EpochsPerTask < 1 then bad "stream.epochs_per_task" (string t.EpochsPerTask) "must be ≥ 1"
      match t.Threshold with
      | Some x when not (x > 0.0 && x <= 1.0) -> bad "stream.until_online_accuracy" (fmt x) "allowed: 0 < threshold ≤ 1"
      | _ -> ()
      if t.Probe < 1 then bad "stream.probe" (string t.Probe) "must be ≥ 1"
      if not (t.Tau >= 0.0 && Double.IsFinite t.Tau) then bad "stream.dormant_tau" (fmt t.Tau) "must be ≥ 0"
      if t.Kind = StreamKind.ClassIncremental then
          let k = entry |> Option.map (fun e -> e.NumClasses) |> Option.defaultValue Int32.MaxValue
          if t.ClassesFirst < 1 || t.ClassesFirst > k then bad "stream.classes_first" (string t.ClassesFirst) (sprintf "allowed: 1 to %d (the dataset's classes)" k)
          if t.ClassesPerTask < 0 then bad "stream.classes_per_task" (string t.ClassesPerTask) "must be ≥ 0"
      if t.Threshold.IsSome && s.Arms |> List.exists (fun a -> a.Continual |> List.exists (function RedoEveryTasks _ -> true | _ -> false)) then
          bad "stream.until_online_accuracy" (fmt t.Threshold.Value) "tasks of varying length: redo_every_task needs fixed epochs per task (use redo τ steps)"
      if not s.Sweeps.IsEmpty then bad "sweep" (sprintf "%d knob(s)" s.Sweeps.Length) "sweeps are not supported with a stream schedule; declare one study per value"
      if not s.StageOverrides.IsEmpty then bad "stage" (string s.StageOverrides.Head.FromStage) "a stream has no stages to override" ]

/// Problems of one arm of a stream study: a stream trains one model through every task, so the arm must be
/// `continual` (or `warm`), with step-level methods and L2-init.
let private streamArmProblems (f: string) (a: ArmDef) : string list =
    let bad field value allowed = sprintf "field '%s' = %s: %s" field value allowed
    [ if a.Policy <> Warm then
          bad (f + ".policy") (Describe.policy a.Policy) "a stream arm trains one model through every task: use continual (add methods with |> continual_backprop …, |> redo …, |> l2_init …)"
      if a.Lr.IsSome || a.BatchSize.IsSome then bad f "with_lr / with_batch_size" "a stream has no later stages; set the study's optimizer and batch_size"
      if a.KeepOptimizerState then bad (f + ".keep_optimizer_state") "true" "a stream keeps its optimiser through every task already"
      for r in a.Regularizers do
          match r with
          | Ewc _ -> bad (f + ".ewc") "ewc" "EWC is not supported in a stream; allowed regularizer: l2_init"
          | L2Init(l, _) when not (l >= 0.0 && Double.IsFinite l) -> bad (f + ".l2_init") (fmt l) "λ must be ≥ 0"
          | _ -> ()
      for m in a.Continual do
          match m with
          | ContinualBackprop(r, mt, e) ->
              if not (r >= 0.0 && r <= 1.0) then bad (f + ".continual_backprop.rate") (fmt r) "allowed: 0 ≤ ρ ≤ 1"
              if mt < 0 then bad (f + ".continual_backprop.maturity") (string mt) "must be ≥ 0 steps"
              if not (e >= 0.0 && e < 1.0) then bad (f + ".continual_backprop.decay") (fmt e) "allowed: 0 ≤ η < 1"
          | Redo(tau, p) ->
              if not (tau >= 0.0 && Double.IsFinite tau) then bad (f + ".redo.tau") (fmt tau) "must be ≥ 0"
              if p < 1 then bad (f + ".redo.period") (string p) "must be ≥ 1 step"
          | ContinualShrinkPerturb(l, sg, k, task) ->
              if not (l >= 0.0 && l <= 1.0) then bad (f + ".shrink_perturb.shrink") (fmt l) "allowed: 0 ≤ p ≤ 1"
              if not (sg >= 0.0 && Double.IsFinite sg) then bad (f + ".shrink_perturb.sigma") (fmt sg) "must be ≥ 0"
              if k < 0 then bad (f + ".shrink_perturb_every") (string k) "must be ≥ 1 step"
              if k = 0 && not task then bad (f + ".shrink_perturb_every") "0" "must be ≥ 1 step"
          | RedoEveryTasks(tau, k) ->
              if not (tau >= 0.0 && Double.IsFinite tau) then bad (f + ".redo.tau") (fmt tau) "must be ≥ 0"
              if k < 1 then bad (f + ".redo_every_task") (string k) "must be ≥ 1 task"
          | HeadResetEveryTask _ -> () ]

/// All problems of a study (empty when it is valid).
let problems (s: Study) : string list =
    [ let bad field value allowed = sprintf "field '%s' = %s: %s" field value allowed
      if not (safeName s.Name) then
          bad "name" (sprintf "\"%s\"" s.Name) "must be non-empty and use only letters, digits, '-', '_' and '.'"
      // data: a catalog dataset, or a view of one whose steps parse and whose classes exist
      let datasetProblems field (name: string) =
        [ if not (Catalog.Contains(catalogName name)) then
              bad field (sprintf "\"%s\"" name) (sprintf "unknown dataset; known: %s" (String.Join(", ", Catalog.Names)))
          else
              let view = try Ok(WarmStart.Core.Data.DatasetView.Parse(viewKey name)) with e -> Error e.Message
              match view with
              | Error message -> bad field (sprintf "\"%s\"" name) message
              | Ok v ->
                  let k = (Catalog.Get(catalogName name)).NumClasses
                  match v.Steps |> Seq.tryPick (function :? WarmStart.Core.Data.ClassSubset as c -> Some c | _ -> None) with
                  | Some c when c.Classes |> Seq.exists (fun x -> x >= k) ->
                      bad (field + ".classes") (sprintf "[%s]" (String.Join("; ", c.Classes))) (sprintf "classes of %s are 0 to %d" (catalogName name) (k - 1))
                  | _ -> () ]
      yield! datasetProblems "data" s.Data.Name
      match s.Data.Eval with
      | HeldOut f when not (f > 0.0 && f < 1.0) -> bad "evaluate_on" (sprintf "held_out %s" (fmt f)) "the pool fraction must be in (0, 1)"
      | _ -> ()
      // model
      if s.Model.Kind = ModelKind.Mlp && s.Model.Widths.IsEmpty then
          bad "model" "mlp []" "an MLP needs at least one hidden width (use logistic_regression for none)"
      for w in s.Model.Widths do
          if w < 1 then bad "model" (sprintf "mlp %A" s.Model.Widths) "hidden widths must be ≥ 1"
      if s.Model.LayerNorm && s.Model.Kind <> ModelKind.Mlp then
          bad "model.layer_norm" "true" (sprintf "layer_norm applies to mlp models; this model is %s" s.Model.Kind.Name)
      if s.Model.BaseWidth < 1 then bad "model.base_width" (string s.Model.BaseWidth) "must be ≥ 1 (16 as the authors, 64 as usual)"
      // optimiser
      let checkOptimizer field (o: OptimizerDef) =
          [ if not (o.Lr > 0.0 && Double.IsFinite o.Lr) then bad (field + ".lr") (fmt o.Lr) "the learning rate must be > 0"
            if not (o.Momentum >= 0.0 && o.Momentum < 1.0) then bad (field + ".momentum") (fmt o.Momentum) "allowed: 0 ≤ momentum < 1"
            if not (o.WeightDecay >= 0.0 && Double.IsFinite o.WeightDecay) then bad (field + ".weight_decay") (fmt o.WeightDecay) "must be ≥ 0" ]
      yield! checkOptimizer "optimizer" s.Optimizer
      // Learning-rate and batch-size overrides (per arm, per stage) obey the study-wide rules.
      let overrides field (lr: float option) (batch: int option) =
          [ match lr with
            | Some lr when not (lr > 0.0 && Double.IsFinite lr) -> bad (field + ".lr") (fmt lr) "the learning rate must be > 0"
            | _ -> ()
            match batch with
            | Some b when b < 1 -> bad (field + ".batch_size") (string b) "must be ≥ 1"
            | _ -> () ]
      if s.BatchSize < 1 then bad "batch_size" (string s.BatchSize) "must be ≥ 1"
      // stop rule
      match Option.ofNullable s.Stop.FixedEpochs with
      | Some e when e < 1 -> bad "epochs" (string e) "must be ≥ 1"
      | _ -> ()
      match Option.ofNullable s.Stop.TrainAccuracy with
      | Some t when not (t > 0.0 && t <= 1.0) -> bad "train_until.train_accuracy" (fmt t) "allowed: 0 < threshold ≤ 1"
      | _ -> ()
      if s.Stop.MaxEpochs < 1 then bad "train_until.max_epochs" (string s.Stop.MaxEpochs) "must be ≥ 1"
      match Option.ofNullable s.Stop.Patience with
      | Some p when p < 1 -> bad "train_until.patience" (string p) "must be ≥ 1"
      | _ -> ()
      // repetitions and pool
      if s.Seeds < 1 then bad "seeds" (string s.Seeds) "must be ≥ 1"
      match s.Subset with
      | Some n when n < 2 -> bad "subset" (string n) "the pool must hold at least 2 examples"
      | _ -> ()
      if s.Threads < 0 then bad "threads" (string s.Threads) "must be ≥ 0 (0 = one per core)"
      // schedule
      let fractionsOk field shown (fs: float list) increasing =
          [ if fs.IsEmpty then bad field shown "needs at least one fraction"
            if fs |> List.exists (fun f -> not (f > 0.0 && f <= 1.0)) then bad field shown "each fraction must be in (0, 1]"
            if increasing && fs |> List.pairwise |> List.exists (fun (a, b) -> b <= a) then
                bad field shown "fractions must increase strictly (data only arrives)"
            if not increasing && (List.distinct fs).Length <> fs.Length then bad field shown "fractions must be distinct" ]
      let listOf (fs: float list) = fs |> List.map fmt |> String.concat "; "
      match s.Schedule with
      | Fractions fs -> yield! fractionsOk "schedule" (sprintf "fractions [%s]" (listOf fs)) fs true
      | Online o | Active(o, _) ->
          let shown = sprintf "chunk %d" o.Chunk
          let pool = PlanSizes.poolSize s
          if o.Chunk < 1 then bad "schedule" shown "the chunk must hold at least 1 example"
          if pool = 0 then bad "subset" "(none)" (sprintf "the size of dataset '%s' is not known: set the pool size with subset N" s.Data.Name)
          elif o.Chunk > pool then bad "schedule" shown (sprintf "the chunk is larger than the pool (%d examples)" pool)
          match o.Rounds with
          | Some r when r < 1 -> bad "schedule.rounds" (string r) "must be ≥ 1"
          | Some r when pool > 0 && o.Chunk > 0 && r > (pool + o.Chunk - 1) / o.Chunk ->
              bad "schedule.rounds" (string r) (sprintf "a pool of %d examples holds only %d chunks of %d" pool ((pool + o.Chunk - 1) / o.Chunk) o.Chunk)
          | _ -> ()
          match s.Schedule with
          | Active _ when o.NewOnly -> bad "schedule" "active … new_only" "active learning trains on everything labelled so far; new_only applies to online schedules"
          | Active _ when s.Data.Augment -> ()
          | _ -> ()
      | Transfer(source, target, fs) ->
          for d in [ source; target ] do
              yield! datasetProblems "schedule.transfer" d
          if source = target then bad "schedule.transfer" (sprintf "%s → %s" source target) "source and target must differ"
          yield! fractionsOk "schedule.transfer" (sprintf "[%s]" (listOf fs)) fs false
      | Stream st -> yield! streamProblems s st
      | PretrainEpochs es ->
          let shown = sprintf "pretrain_epochs [%s]" (es |> List.map string |> String.concat "; ")
          if es.IsEmpty then bad "schedule" shown "needs at least one epoch count"
          if es |> List.exists (fun e -> e < 1) then bad "schedule" shown "epoch counts must be ≥ 1"
          if es |> List.pairwise |> List.exists (fun (a, b) -> b <= a) then bad "schedule" shown "epoch counts must increase strictly"
      // sweeps
      for dup in s.Sweeps |> List.countBy fst |> List.filter (fun (_, n) -> n > 1) |> List.map fst do
          bad "sweep" (sprintf "\"%s\"" dup.Name) "each knob may be swept once"
      let stages = PlanSizes.stageCount s
      // The values of a swept (or drawn) knob; `f` names where they were given.
      let knobValues f (knob: Knob) (values: float list) =
        [ let shown = sprintf "[%s]" (listOf values)
          if values.IsEmpty then bad f shown "needs at least one value"
          let wholeAtLeast m = values |> List.exists (fun v -> not (v >= m && v = floor v))
          match knob with
          | Knob.Lr | Knob.Lr2 when values |> List.exists (fun v -> not (v > 0.0 && Double.IsFinite v)) -> bad f shown "learning rates must be > 0"
          | Knob.BatchSize | Knob.BatchSize2 when wholeAtLeast 1.0 -> bad f shown "batch sizes must be whole numbers ≥ 1"
          | Knob.Subset when wholeAtLeast 2.0 -> bad f shown "pool sizes must be whole numbers ≥ 2"
          | Knob.WeightDecay | Knob.Perturb when values |> List.exists (fun v -> not (v >= 0.0 && Double.IsFinite v)) -> bad f shown "values must be ≥ 0"
          | Knob.Momentum when values |> List.exists (fun v -> not (v >= 0.0 && v < 1.0)) -> bad f shown "allowed: 0 ≤ momentum < 1"
          | Knob.Shrink when values |> List.exists (fun v -> not (v >= 0.0 && v <= 1.0)) -> bad f shown "shrink λ must be in [0, 1]"
          | _ -> ()
          if (knob = Knob.Lr2 || knob = Knob.BatchSize2) && stages < 2 then
              bad f shown (sprintf "%s applies from stage 2; the schedule has %d stage" knob.Name stages)
          if (knob = Knob.Shrink || knob = Knob.Perturb) && not (s.Arms |> List.exists (fun a -> match a.Policy with ShrinkPerturb _ -> true | _ -> false)) then
              bad f shown "no shrink_perturb, shrink or perturb arm to apply it to" ]
      for knob, values in s.Sweeps do
          yield! knobValues (sprintf "sweep \"%s\"" knob.Name) knob values
      match s.RandomDraws with
      | None -> ()
      | Some(n, knobs) ->
          let shown = sprintf "random_draws %d [%s]" n (knobs |> List.map (fun (k, _) -> k.Name) |> String.concat "; ")
          if knobs.IsEmpty then bad "random_draws" shown "name at least one knob to draw, e.g. [ Knob.Lr2, [ 0.001; 0.01 ] ]"
          for dup in knobs |> List.countBy fst |> List.filter (fun (_, c) -> c > 1) |> List.map fst do
              bad "random_draws" (sprintf "\"%s\"" dup.Name) "each knob may be drawn once"
          for knob, values in knobs do
              yield! knobValues (sprintf "random_draws \"%s\"" knob.Name) knob values
              if s.Sweeps |> List.exists (fst >> (=) knob) then
                  bad "random_draws" (sprintf "\"%s\"" knob.Name) "a knob is either swept or drawn, not both"
          let cells = knobs |> List.fold (fun acc (_, vs) -> acc * (List.distinct vs).Length) 1
          if n < 1 then bad "random_draws" shown "draw at least 1 combination"
          elif not knobs.IsEmpty && n > cells then
              bad "random_draws" shown (sprintf "draws are distinct combinations and the knobs' values make only %d" cells)
      for cell in s.SweepExcept do
          let shown = sprintf "[%s]" (cell |> List.map (fun (k, v) -> sprintf "Knob.%A, %s" k (fmt v)) |> String.concat "; ")
          if cell.IsEmpty then bad "sweep_except" "[]" "name at least one (knob, value) of the sweep grid"
          for knob, v in cell do
              match s.Sweeps |> List.tryFind (fst >> (=) knob) with
              | None -> bad "sweep_except" shown (sprintf "\"%s\" is not swept; swept knobs: %s" knob.Name (if s.Sweeps.IsEmpty then "none" else s.Sweeps |> List.map (fun (k, _) -> k.Name) |> String.concat ", "))
              | Some(_, values) when not (List.contains v values) -> bad "sweep_except" shown (sprintf "%s is not one of sweep \"%s\" [%s]" (fmt v) knob.Name (listOf values))
              | Some _ -> ()
      let stages = PlanSizes.stageCount s
      // arms
      if s.Arms.IsEmpty then bad "arm" "(none)" "a study needs at least one arm, e.g. arm \"warm\" warm"
      for dup in s.Arms |> List.countBy (fun a -> a.Name) |> List.filter (fun (_, n) -> n > 1) |> List.map fst do
          bad "arm" (sprintf "\"%s\"" dup) "arm names must be unique"
      for a in s.Arms do
          let f = sprintf "arm \"%s\"" a.Name
          if not (safeName a.Name) then bad "arm" (sprintf "\"%s\"" a.Name) "arm names must be non-empty and use only letters, digits, '-', '_' and '.'"
          match a.Policy with
          | ShrinkPerturb(l, sg, _) ->
              if not (l >= 0.0 && l <= 1.0) then bad (f + ".lambda") (fmt l) "shrink λ must be in [0, 1]"
              if not (sg >= 0.0 && Double.IsFinite sg) then bad (f + ".sigma") (fmt sg) "perturb σ must be ≥ 0"
              // λ = 0 with σ = 0 zeroes every weight: a network with BatchNorm then gets zero gradients and never
              // trains. With sweeps, the cell (shrink 0, perturb 0) of the grid is checked unless sweep_except skips it.
              let swept knob = s.Sweeps |> List.tryFind (fst >> (=) knob) |> Option.map snd
              let lambdas = defaultArg (swept Knob.Shrink) [ l ]
              let sigmas = defaultArg (swept Knob.Perturb) [ sg ]
              let skipped =
                  s.SweepExcept |> List.exists (fun cell ->
                      not cell.IsEmpty && cell |> List.forall (fun (k, v) -> (k = Knob.Shrink || k = Knob.Perturb) && v = 0.0))
              if List.contains 0.0 lambdas && List.contains 0.0 sigmas && not skipped then
                  let field = if s.Sweeps |> List.exists (fun (k, _) -> k = Knob.Shrink || k = Knob.Perturb) then f + " × sweep" else f
                  bad field "λ = 0, σ = 0"
                      ("allowed: λ > 0 or σ > 0 (λ = 0 with no noise zeroes every weight: a BatchNorm network then gets zero gradients and never trains)"
                       + (if field = f then "" else "; leave the cell out with sweep_except [ Knob.Shrink, 0.0; Knob.Perturb, 0.0 ]"))
          | Dash(alpha, l) ->
              if not (alpha > 0.0 && alpha <= 1.0) then bad (f + ".alpha") (fmt alpha) "DASH's EMA rate α must be in (0, 1]"
              if not (l >= 0.0 && l <= 1.0) then bad (f + ".lambda") (fmt l) "DASH's shrink floor λ must be in [0, 1]"
          | PartialWarm groups ->
              match modelGroups s with
              | Some valid ->
                  if groups.IsEmpty then bad (f + ".groups") "[]" (sprintf "name at least one group to copy; groups of this model: %s" (String.concat ", " valid))
                  for g in groups do
                      if not (List.contains g valid) then
                          bad (f + ".groups") (sprintf "\"%s\"" g) (sprintf "unknown layer group; groups of this model: %s" (String.concat ", " valid))
              | None -> ()
          | Fresh | Warm | HeadReset -> ()
          for r in a.Regularizers do
              match r with
              | L2Init(l, _) when not (l >= 0.0 && Double.IsFinite l) -> bad (f + ".l2_init") (fmt l) "λ must be ≥ 0"
              | Ewc(l, _) when not (l >= 0.0 && Double.IsFinite l) -> bad (f + ".ewc") (fmt l) "λ must be ≥ 0"
              | Ewc _ when a.Policy = Fresh -> bad (f + ".ewc") "fresh" "EWC anchors to the previous stage's solution; a fresh arm has none"
              | _ -> ()
          if a.L2InitFromStart && not (a.Regularizers |> List.exists (function L2Init _ -> true | Ewc _ -> false)) then
              bad (f + ".l2_init_from_start") "no l2_init" "applies an arm's L2-init from stage 1: add l2_init λ (or l2_init_dash_form λ) first"
          if a.NewChunkOnly then
              match s.Schedule with
              | Online _ -> ()
              | other ->
                  let kind = match other with Fractions _ -> "fractions" | Active _ -> "active" | Transfer _ -> "transfer" | PretrainEpochs _ -> "pretrain_epochs" | Online _ -> "online" | Stream _ -> "stream"
                  bad (f + ".new_chunk_only") kind "training on the new chunk only applies to online schedules (online (chunk k))"
          if a.KeepOptimizerState && a.Policy = Fresh then
              bad (f + ".keep_optimizer_state") "fresh" "a fresh arm has no previous optimiser to keep"
          yield! overrides f a.Lr a.BatchSize
          let isStream = match s.Schedule with Stream _ -> true | _ -> false
          if isStream then yield! streamArmProblems f a
          elif not a.Continual.IsEmpty then
              bad (f + ".continual") (sprintf "%d method(s)" a.Continual.Length) "continual_backprop, redo, shrink_perturb_every(_task) and *_head_every_task act inside a task stream: use schedule (stream …)"
          if a.Policy <> Fresh && stages < 2 && not isStream then
              bad "schedule" (sprintf "%d stage" stages) (sprintf "%s starts from a previous stage, so the schedule needs at least 2 stages" f)
      // stage overrides
      for o in s.StageOverrides do
          let f = sprintf "stage %d" o.FromStage
          if o.FromStage < 2 || o.FromStage > max 2 stages then
              bad "stage" (string o.FromStage) (sprintf "overrides apply from stage 2 to %d (the schedule's last stage)" stages)
          yield! overrides f o.Lr o.BatchSize
          match o.Stop with
          | Some st ->
              match Option.ofNullable st.FixedEpochs with
              | Some e when e < 1 -> bad (f + ".stop") (sprintf "fixed_epochs %d" e) "must be ≥ 1"
              | _ -> ()
              match Option.ofNullable st.TrainAccuracy with
              | Some t when not (t > 0.0 && t <= 1.0) -> bad (f + ".stop.train_accuracy") (fmt t) "allowed: 0 < threshold ≤ 1"
              | _ -> ()
              if st.MaxEpochs < 1 then bad (f + ".stop.max_epochs") (string st.MaxEpochs) "must be ≥ 1"
              match Option.ofNullable st.Patience with
              | Some p when p < 1 -> bad (f + ".stop.patience") (string p) "must be ≥ 1"
              | _ -> ()
          | None -> ()
      // diagnostics
      if s.Diagnostics.ShrinkGrid |> List.exists (fun l -> not (l >= 0.0 && l <= 1.0)) then
          bad "measure_shrink_accuracy" (sprintf "%d points" s.Diagnostics.ShrinkGrid.Length) "needs at least 2 points (λ in [0, 1])"
      match s.EvaluateEvery with
      | Some n when n < 1 -> bad "evaluate_every" (string n) "must be ≥ 1 (epochs between evaluations)"
      | _ -> ()
      // quick mode
      if s.Quick.Subset < 2 then bad "quick_subset" (string s.Quick.Subset) "must be ≥ 2"
      if s.Quick.MaxEpochs < 1 then bad "quick_max_epochs" (string s.Quick.MaxEpochs) "must be ≥ 1"
      if s.Quick.Seeds < 1 then bad "quick_seeds" (string s.Quick.Seeds) "must be ≥ 1"
      yield! sizeProblems s ]

/// The study itself when valid; otherwise raises StudyValidationError listing every problem.
let orRaise (s: Study) =
    match problems s with
    | [] -> s
    | ps -> raise (StudyValidationError(s.Name, ps))
