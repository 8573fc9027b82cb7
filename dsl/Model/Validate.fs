/// Everything a user can get wrong in a study, found before any training. Each problem names the field,
/// the value given and what is allowed; all problems are reported at once.
module WarmStart.Validate

open System
open WarmStart.Core.Data
open WarmStart.Core.Models

let private safeName (s: string) =
    not (String.IsNullOrWhiteSpace s) && s |> Seq.forall (fun c -> Char.IsLetterOrDigit c || c = '-' || c = '_' || c = '.')

let private fmt (x: float) = x.ToString("R", Globalization.CultureInfo.InvariantCulture)

/// The number of stages the schedule declares.
let stageCount (s: Study) =
    match s.Schedule with
    | Fractions fs -> fs.Length

/// All problems of a study (empty when it is valid).
let problems (s: Study) : string list =
    [ let bad field value allowed = sprintf "field '%s' = %s: %s" field value allowed
      if not (safeName s.Name) then
          bad "name" (sprintf "\"%s\"" s.Name) "must be non-empty and use only letters, digits, '-', '_' and '.'"
      // data
      if not (Catalog.Contains s.Data.Name) then
          bad "data" (sprintf "\"%s\"" s.Data.Name) (sprintf "unknown dataset; known: %s" (String.Join(", ", Catalog.Names)))
      match s.Data.Eval with
      | HeldOut f when not (f > 0.0 && f < 1.0) -> bad "evaluate_on" (sprintf "held_out %s" (fmt f)) "the pool fraction must be in (0, 1)"
      | _ -> ()
      // model
      if not (List.contains s.Model.Kind (List.ofSeq ModelFactory.Kinds)) then
          bad "model" s.Model.Kind (sprintf "unknown model; known: %s" (String.Join(", ", ModelFactory.Kinds)))
      if s.Model.Kind = "mlp" && s.Model.Widths.IsEmpty then
          bad "model" "mlp []" "an MLP needs at least one hidden width (use logistic_regression for none)"
      for w in s.Model.Widths do
          if w < 1 then bad "model" (sprintf "mlp %A" s.Model.Widths) "hidden widths must be ≥ 1"
      if s.Model.Activation <> "relu" && s.Model.Activation <> "tanh" then
          bad "model.activation" (sprintf "\"%s\"" s.Model.Activation) "allowed: relu, tanh"
      if s.Model.BaseWidth < 1 then bad "model.base_width" (string s.Model.BaseWidth) "must be ≥ 1 (16 as the authors, 64 as usual)"
      // optimiser
      let checkOptimizer field (o: OptimizerDef) =
          [ if o.Kind <> "sgd" && o.Kind <> "adam" then bad field (sprintf "\"%s\"" o.Kind) "allowed: sgd, adam"
            if not (o.Lr > 0.0 && Double.IsFinite o.Lr) then bad (field + ".lr") (fmt o.Lr) "the learning rate must be > 0"
            if not (o.Momentum >= 0.0 && o.Momentum < 1.0) then bad (field + ".momentum") (fmt o.Momentum) "allowed: 0 ≤ momentum < 1"
            if not (o.WeightDecay >= 0.0 && Double.IsFinite o.WeightDecay) then bad (field + ".weight_decay") (fmt o.WeightDecay) "must be ≥ 0" ]
      yield! checkOptimizer "optimizer" s.Optimizer
      if s.BatchSize < 1 then bad "batch_size" (string s.BatchSize) "must be ≥ 1"
      // stop rule
      match s.Stop.Epochs with
      | Some e when e < 1 -> bad "epochs" (string e) "must be ≥ 1"
      | _ -> ()
      match s.Stop.TrainAccuracy with
      | Some t when not (t > 0.0 && t <= 1.0) -> bad "train_until.train_accuracy" (fmt t) "allowed: 0 < threshold ≤ 1"
      | _ -> ()
      if s.Stop.MaxEpochs < 1 then bad "train_until.max_epochs" (string s.Stop.MaxEpochs) "must be ≥ 1"
      match s.Stop.Patience with
      | Some p when p < 1 -> bad "train_until.patience" (string p) "must be ≥ 1"
      | _ -> ()
      // repetitions and pool
      if s.Seeds < 1 then bad "seeds" (string s.Seeds) "must be ≥ 1"
      match s.Subset with
      | Some n when n < 2 -> bad "subset" (string n) "the pool must hold at least 2 examples"
      | _ -> ()
      if s.Threads < 0 then bad "threads" (string s.Threads) "must be ≥ 0 (0 = one per core)"
      // schedule
      match s.Schedule with
      | Fractions fs ->
          let shown = sprintf "fractions [%s]" (fs |> List.map fmt |> String.concat "; ")
          if fs.IsEmpty then bad "schedule" shown "needs at least one fraction"
          if fs |> List.exists (fun f -> not (f > 0.0 && f <= 1.0)) then bad "schedule" shown "each fraction must be in (0, 1]"
          if fs |> List.pairwise |> List.exists (fun (a, b) -> b <= a) then bad "schedule" shown "fractions must increase strictly (data only arrives)"
      let stages = stageCount s
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
          | Fresh | Warm -> ()
          match a.Lr with
          | Some lr when not (lr > 0.0 && Double.IsFinite lr) -> bad (f + ".lr") (fmt lr) "the learning rate must be > 0"
          | _ -> ()
          match a.BatchSize with
          | Some b when b < 1 -> bad (f + ".batch_size") (string b) "must be ≥ 1"
          | _ -> ()
          if a.Policy <> Fresh && stages < 2 then
              bad "schedule" (sprintf "%d stage" stages) (sprintf "%s starts from a previous stage, so the schedule needs at least 2 stages" f)
      // stage overrides
      for o in s.StageOverrides do
          let f = sprintf "stage %d" o.FromStage
          if o.FromStage < 2 || o.FromStage > max 2 stages then
              bad "stage" (string o.FromStage) (sprintf "overrides apply from stage 2 to %d (the schedule's last stage)" stages)
          match o.Lr with
          | Some lr when not (lr > 0.0 && Double.IsFinite lr) -> bad (f + ".lr") (fmt lr) "the learning rate must be > 0"
          | _ -> ()
          match o.BatchSize with
          | Some b when b < 1 -> bad (f + ".batch_size") (string b) "must be ≥ 1"
          | _ -> ()
      // quick mode
      if s.Quick.Subset < 2 then bad "quick_subset" (string s.Quick.Subset) "must be ≥ 2"
      if s.Quick.MaxEpochs < 1 then bad "quick_max_epochs" (string s.Quick.MaxEpochs) "must be ≥ 1"
      if s.Quick.Seeds < 1 then bad "quick_seeds" (string s.Quick.Seeds) "must be ≥ 1" ]

/// The study itself when valid; otherwise raises StudyValidationError listing every problem.
let orRaise (s: Study) =
    match problems s with
    | [] -> s
    | ps -> raise (StudyValidationError(s.Name, ps))
