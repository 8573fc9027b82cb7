/// Results as Deedle frames: one row per arm × stage × seed, per-arm aggregates with 95 % intervals, and
/// per-seed paired gaps against a reference arm. Plus a terminal table printer and CSV export.
module WarmStart.Summary

open System
open System.Globalization
open System.IO
open Deedle

/// One row of `Summary.runs`.
type RunRow =
    { Study: string
      /// Sweep combination and/or schedule fan-out ("" when the study has none).
      Variant: string
      Arm: string
      Stage: int
      /// What the stage means ("50% of pool", "round 3", …).
      Step: string
      /// The stage's x value for plots (% of pool, examples, epochs).
      X: float
      Seed: int
      Node: string
      Shared: bool
      TrainSize: int64
      TestAcc: float
      TrainAcc: float
      TrainLoss: float
      Epochs: int
      Seconds: float
      SamplesPerSec: float
      Diverged: bool
      /// Reached the stop rule's goal (its train-accuracy threshold, or its fixed epochs); false when the stage hit
      /// its epoch cap (or patience) first, or diverged.
      Converged: bool }

/// Every chain's nodes that have a result: variant, arm, seed, the stage's step, node key and result, in
/// variant, arm, seed, stage order.
let private chainResults (r: StudyResult) =
    let p = r.Plan
    [ for v in p.Variants do
      for a in v.Study.Arms do
        for i in 0 .. v.Study.Seeds - 1 do
            for t, key in List.indexed (p.Chains |> Map.tryFind { Variant = v.Name; Arm = a.Name; Seed = i } |> Option.defaultValue []) do
                match r.Results.TryFind key with
                | Some res -> yield v.Name, a.Name, i, v.Steps[t], key, res
                | None -> () ]

/// Whether a node reached its stop rule's goal: derived from the rule and the final train accuracy, as the core's
/// TrainResult.Converged, so results stored before the flag existed are judged the same way.
let converged (stop: WarmStart.Core.Training.StopRule) (res: NodeResult) =
    not res.Diverged && stop.Reached res.TrainAccuracy

/// The rows of a result: every arm's chain for every seed, stage by stage.
let rows (r: StudyResult) : RunRow list =
    let p = r.Plan
    [ for vName, arm, i, step, key, res in chainResults r do
                    let node = Plan.node p key
                    yield
                        { Study = p.Study.Name; Variant = vName; Arm = arm; Stage = step.Stage; Step = step.Label; X = step.X
                          Seed = i; Node = key.Substring(0, 12)
                          Shared = node.Arms.Length > 1; TrainSize = res.TrainSize; TestAcc = res.TestAccuracy
                          TrainAcc = res.TrainAccuracy; TrainLoss = res.TrainLoss; Epochs = res.Epochs
                          Seconds = res.Seconds; SamplesPerSec = res.SamplesPerSecond; Diverged = res.Diverged
                          Converged = converged node.Spec.Stop res } ]

/// Groups items by chain position (variant, arm, stage) and one more key, the groups in declared order: variants as
/// planned, arms as declared, stages ascending (stage before arm when `stageMajor`, as tables by stage read best),
/// then the extra key ascending. Every per-arm summary is grouped by this one function.
let private groupDeclared (r: StudyResult) (stageMajor: bool) (key: 'T -> (string * string * int) * 'K) (xs: 'T list) =
    let variants = r.Plan.Variants |> List.mapi (fun i v -> v.Name, i) |> Map.ofList
    let arms = r.Study.Arms |> List.mapi (fun i a -> a.Name, i) |> Map.ofList
    xs
    |> List.groupBy key
    |> List.sortBy (fun (((v, a, t), k), _) ->
        if stageMajor then (variants[v], t, arms[a]), k else (variants[v], arms[a], t), k)

/// Frames without a Variant column when the study has no variants (one unnamed variant).
let private tidy (r: StudyResult) (f: Frame<int, string>) =
    if r.Plan.Variants |> List.forall (fun v -> v.Name = "") && f.ColumnKeys |> Seq.contains "Variant" then f.DropColumn "Variant"
    f

/// One row per arm × stage × seed (shared stage-1 nodes appear under every arm that uses them).
let runs (r: StudyResult) : Frame<int, string> = rows r |> Frame.ofRecords |> tidy r

/// One row of `Summary.byArm`.
type ArmRow =
    { Variant: string
      Arm: string
      Stage: int
      Step: string
      X: float
      N: int
      TestAccMean: float
      TestAccSd: float
      TestAccCiLow: float
      TestAccCiHigh: float
      EpochsMean: float
      SecondsMean: float
      /// Of the N runs, how many stopped at their epoch cap (or patience) before their train-accuracy threshold.
      NotConverged: int }

/// Arm × stage: mean, sample sd, n and 95 % t-interval of test accuracy, mean epochs and seconds, and how many of
/// the runs did not converge. Diverged runs are left out of the means (they are counted in `runs`).
let byArmRows (r: StudyResult) =
    rows r
    |> List.filter (fun x -> not x.Diverged)
    |> groupDeclared r true (fun x -> (x.Variant, x.Arm, x.Stage), ())
    |> List.map (fun (((v, a, t), ()), xs) ->
        let e = SeedStats.estimate (xs |> List.map (fun x -> x.TestAcc))
        { Variant = v; Arm = a; Stage = t; Step = xs.Head.Step; X = xs.Head.X; N = e.N; TestAccMean = e.Mean; TestAccSd = e.Sd; TestAccCiLow = e.CiLow
          TestAccCiHigh = e.CiHigh; EpochsMean = xs |> List.averageBy (fun x -> float x.Epochs)
          SecondsMean = xs |> List.averageBy (fun x -> x.Seconds)
          NotConverged = xs |> List.filter (fun x -> not x.Converged) |> List.length })

/// Arm × stage aggregates as a frame (see `byArmRows`).
let byArm (r: StudyResult) : Frame<int, string> = byArmRows r |> Frame.ofRecords |> tidy r

/// One row of `Summary.gapVs`.
type GapRow =
    { Variant: string
      Arm: string
      Versus: string
      Stage: int
      Step: string
      N: int
      GapMean: float
      GapSd: float
      GapCiLow: float
      GapCiHigh: float
      EpochsGapMean: float
      /// 95 % percentile bootstrap interval of the mean paired difference (seeded; within the differences' range).
      GapBootLow: float
      GapBootHigh: float
      /// Share of paired seeds where the arm beat the reference (ties count one half).
      PImprove: float
      /// Paired seeds a t-test (α = 0.05) needs to detect the observed mean gap at 80 % power (NaN: no gap, unknown spread, or over 1000).
      SeedsFor80Power: float }

/// Per-seed paired differences of test accuracy (arm − reference) for the stages after the first, with mean,
/// sd and 95 % t-interval; pairing by seed removes the split/order/stage-1 variance that unpaired means carry.
let gapVsRows (reference: string) (r: StudyResult) =
    let all = rows r |> List.filter (fun x -> not x.Diverged)
    if not (r.Study.Arms |> List.exists (fun a -> a.Name = reference)) then
        let fresh = r.Study.Arms |> List.filter (fun a -> a.Policy = Fresh) |> List.map (fun a -> a.Name)
        invalidArg "reference" (sprintf "no arm named '%s' in study '%s'; arms: %s%s" reference r.Study.Name
                                    (r.Study.Arms |> List.map (fun a -> a.Name) |> String.concat ", ")
                                    (match fresh with
                                     | [ f ] -> sprintf " (the fresh arm is '%s': Summary.gapVs \"%s\" or Summary.gapVsFresh)" f f
                                     | _ -> ""))
    let refOf = all |> List.filter (fun x -> x.Arm = reference) |> List.map (fun x -> (x.Variant, x.Stage, x.Seed), x) |> Map.ofList
    [ for v in r.Plan.Variants do
      for a in r.Study.Arms do
        if a.Name <> reference then
            for step in v.Steps |> List.filter (fun st -> st.Stage >= 2) do
                let t = step.Stage
                let pairs =
                    all |> List.filter (fun x -> x.Variant = v.Name && x.Arm = a.Name && x.Stage = t)
                    |> List.choose (fun x -> refOf.TryFind (v.Name, t, x.Seed) |> Option.map (fun f -> x, f))
                if not pairs.IsEmpty then
                    let diffs = pairs |> List.map (fun (x, f) -> x.TestAcc - f.TestAcc)
                    let e = SeedStats.estimate diffs
                    let bootLow, bootHigh = PairedStats.bootstrapCi95 diffs
                    yield
                        { Variant = v.Name; Arm = a.Name; Versus = reference; Stage = t; Step = step.Label; N = e.N; GapMean = e.Mean; GapSd = e.Sd
                          GapCiLow = e.CiLow; GapCiHigh = e.CiHigh
                          EpochsGapMean = pairs |> List.averageBy (fun (x, f) -> float (x.Epochs - f.Epochs))
                          GapBootLow = bootLow; GapBootHigh = bootHigh; PImprove = PairedStats.probabilityOfImprovement diffs
                          SeedsFor80Power = PairedStats.seedsFor80Power e.Mean e.Sd |> Option.map float |> Option.defaultValue nan } ]

/// Paired gaps against a reference arm as a frame: `result |> Summary.gapVs "fresh"`.
let gapVs (reference: string) (r: StudyResult) : Frame<int, string> = gapVsRows reference r |> Frame.ofRecords |> tidy r

/// The reference arm of a gap table, found by policy: the study's one `fresh` arm, whatever its name. A study
/// with none, or with several, gets an error that says so and how to name the reference instead.
let freshArm (r: StudyResult) : string =
    let arms = r.Study.Arms |> List.map (fun a -> a.Name) |> String.concat ", "
    match r.Study.Arms |> List.filter (fun a -> a.Policy = Fresh) with
    | [ a ] -> a.Name
    | [] ->
        invalidArg "reference"
            (sprintf "study '%s' has no fresh arm to measure gaps against (arms: %s); name the reference arm: Summary.gapVs \"ARM\"" r.Study.Name arms)
    | several ->
        invalidArg "reference"
            (sprintf "study '%s' has %d fresh arms (%s); name the reference arm: Summary.gapVs \"%s\"" r.Study.Name several.Length
                 (several |> List.map (fun a -> a.Name) |> String.concat ", ") several.Head.Name)

/// True when the study has exactly one fresh arm and another arm to compare with it (a gap table exists).
let hasFreshReference (s: Study) =
    s.Arms.Length > 1 && (s.Arms |> List.filter (fun a -> a.Policy = Fresh) |> List.length) = 1

/// Paired gaps against the study's fresh arm (found by policy, see `freshArm`): `result |> Summary.gapVsFresh`.
let gapVsFresh (r: StudyResult) : Frame<int, string> = gapVs (freshArm r) r

/// One row of `Summary.gapVsAll`.
type StudyGapRow =
    { Study: string; Variant: string; Arm: string; Stage: int; Step: string; N: int
      GapMean: float; GapCiLow: float; GapCiHigh: float; EpochsGapMean: float }

/// One row of `Summary.byArmAll`.
type StudyArmRow =
    { Study: string; Variant: string; Arm: string; Stage: int; Step: string; N: int
      TestAccMean: float; TestAccCiLow: float; TestAccCiHigh: float; EpochsMean: float; SecondsMean: float }

let private dropEmptyVariant (f: Frame<int, string>) =
    let empty = f.ColumnKeys |> Seq.contains "Variant" && f.GetColumn<string>("Variant").Values |> Seq.forall ((=) "")
    if empty then f.DropColumn "Variant"
    f

let private gapsAll (referenceOf: StudyResult -> string) (rs: StudyResult list) : Frame<int, string> =
    [ for r in rs do
        for g in gapVsRows (referenceOf r) r ->
            { StudyGapRow.Study = r.Study.Name; Variant = g.Variant; Arm = g.Arm; Stage = g.Stage; Step = g.Step; N = g.N
              GapMean = g.GapMean; GapCiLow = g.GapCiLow; GapCiHigh = g.GapCiHigh; EpochsGapMean = g.EpochsGapMean } ]
    |> Frame.ofRecords |> dropEmptyVariant

/// Paired gaps of several studies in one frame (a Study column first): `results |> Summary.gapVsAll "fresh"`.
let gapVsAll (reference: string) (rs: StudyResult list) : Frame<int, string> = gapsAll (fun _ -> reference) rs

/// Paired gaps of several studies, each against its own fresh arm (found by policy): `results |> Summary.gapVsFreshAll`.
let gapVsFreshAll (rs: StudyResult list) : Frame<int, string> = gapsAll freshArm rs

/// Per-arm aggregates of several studies in one frame (a Study column first).
let byArmAll (rs: StudyResult list) : Frame<int, string> =
    [ for r in rs do
        for a in byArmRows r ->
            { StudyArmRow.Study = r.Study.Name; Variant = a.Variant; Arm = a.Arm; Stage = a.Stage; Step = a.Step; N = a.N
              TestAccMean = a.TestAccMean; TestAccCiLow = a.TestAccCiLow; TestAccCiHigh = a.TestAccCiHigh
              EpochsMean = a.EpochsMean; SecondsMean = a.SecondsMean } ]
    |> Frame.ofRecords |> dropEmptyVariant

// ---- diagnostics (measure_correlation, measure_gradient_norms, measure_shrink_accuracy) -------------------

/// One row of `Summary.correlations`: one node of a chain and one layer group ("all" = every parameter).
type CorrelationRow =
    { Variant: string
      Arm: string
      Stage: int
      Step: string
      Seed: int
      Group: string
      /// Pearson correlation of the final weights with the weights the stage started from.
      VsStart: float
      /// … with the chain's original random initialisation.
      VsInit: float
      /// The node's test accuracy, so correlation can be plotted against it (the paper's appendix figure).
      TestAcc: float }

/// Every recorded correlation, per chain node and layer group (empty unless the study used `measure_correlation`).
let correlationRows (r: StudyResult) : CorrelationRow list =
    [ for v, arm, seed, step, _, res in chainResults r do
        for c in res.Diagnostics.Correlation ->
            { Variant = v; Arm = arm; Stage = step.Stage; Step = step.Label; Seed = seed; Group = c.Group
              VsStart = c.VsStart; VsInit = c.VsInit; TestAcc = res.TestAccuracy } ]

/// Whole-network ("all") correlations as a frame, one row per arm × stage × seed, with the node's test accuracy:
/// warm-started models that generalise well have low correlation with their starting weights (Ash & Adams, E6).
let correlations (r: StudyResult) : Frame<int, string> =
    correlationRows r |> List.filter (fun c -> c.Group = "all") |> Frame.ofRecords |> tidy r

/// Correlations of every layer group as a frame (the "all" rows included), one row per chain node and group.
let correlationsByGroup (r: StudyResult) : Frame<int, string> = correlationRows r |> Frame.ofRecords |> tidy r

/// One row of `Summary.gradientNorms`: an epoch of an arm's stage, averaged over seeds.
type GradientNormRow =
    { Variant: string
      Arm: string
      Stage: int
      Step: string
      Epoch: int
      /// Seeds that trained this epoch (a seed that met its stop rule earlier has no row for it).
      N: int
      /// Mean gradient norm on minibatches of the data the previous stage trained on.
      OldMean: float
      /// … on minibatches of the data new in this stage.
      NewMean: float
      /// NewMean / OldMean: far above 1 under warm start, near 1 after shrinking (the paper's Figure 5).
      NewOverOld: float }

/// Gradient norms on old and new data before each epoch, per arm × stage × epoch, mean over seeds. Only nodes
/// with a parent whose data they extend record them (not stage 1, nor a fresh arm's stages); diverged runs are left out.
let gradientNormRows (r: StudyResult) : GradientNormRow list =
    [ for v, arm, _, step, _, res in chainResults r do
        if not res.Diverged then
            for g in res.Diagnostics.GradientNorms -> (v, arm, step.Stage, step.Label, g.Epoch), g ]
    |> groupDeclared r false (fun ((v, a, t, label, e), _) -> (v, a, t), (e, label))
    |> List.map (fun (((v, a, t), (e, label)), gs) ->
        let old = gs |> List.averageBy (fun (_, g) -> g.Old)
        let nw = gs |> List.averageBy (fun (_, g) -> g.New)
        { Variant = v; Arm = a; Stage = t; Step = label; Epoch = e; N = gs.Length; OldMean = old; NewMean = nw; NewOverOld = nw / old })

/// Gradient norms on old vs new data as a frame (see `gradientNormRows`).
let gradientNorms (r: StudyResult) : Frame<int, string> = gradientNormRows r |> Frame.ofRecords |> tidy r

/// One row of `Summary.shrinkAccuracy`: test accuracy of an arm's final stage models scaled by λ, over seeds.
type ShrinkAccuracyRow =
    { Variant: string
      Arm: string
      Stage: int
      Step: string
      Lambda: float
      N: int
      AccuracyMean: float
      AccuracySd: float }

/// Test accuracy with every parameter multiplied by λ, per arm × stage × λ, mean and sample sd over seeds (the
/// paper's Figure 6: a bias-free ReLU network keeps its predictions for every λ > 0). Diverged runs are left out.
let shrinkAccuracyRows (r: StudyResult) : ShrinkAccuracyRow list =
    [ for v, arm, _, step, _, res in chainResults r do
        if not res.Diverged then
            for p in res.Diagnostics.ShrinkAccuracy -> (v, arm, step.Stage, step.Label, p.Lambda), p.Accuracy ]
    |> groupDeclared r false (fun ((v, a, t, label, l), _) -> (v, a, t), (l, label))
    |> List.map (fun (((v, a, t), (l, label)), xs) ->
        let e = SeedStats.estimate (xs |> List.map snd)
        { Variant = v; Arm = a; Stage = t; Step = label; Lambda = l; N = e.N; AccuracyMean = e.Mean; AccuracySd = e.Sd })

/// Accuracy against the shrink factor λ as a frame (see `shrinkAccuracyRows`).
let shrinkAccuracy (r: StudyResult) : Frame<int, string> = shrinkAccuracyRows r |> Frame.ofRecords |> tidy r

/// One row of `Summary.curves`: one epoch of one arm's chain for one seed.
type CurveRow =
    { Variant: string
      Arm: string
      Stage: int
      Seed: int
      /// The chain's epoch: epochs of its earlier stages come first, so a warm arm's stage 2 starts after stage 1's
      /// last epoch (a fresh arm's stage 2 too: its chain passed through stage 1 before starting afresh).
      Epoch: int
      TrainLoss: float
      TrainAcc: float
      /// Evaluation-set loss after the epoch; NaN for epochs not evaluated (`evaluate_every n`).
      TestLoss: float
      /// Evaluation-set accuracy after the epoch (the same data as the node's test accuracy); NaN when not evaluated.
      TestAcc: float
      /// Wall seconds of the epoch's training (evaluation excluded).
      Seconds: float }

/// Every epoch of every arm's chain for every seed, stage by stage (shared stage-1 nodes appear under every arm
/// that uses them). A stage that continues its parent's training stores the parent's epochs too; they are listed
/// once, under the stage that trained them.
let curveRows (r: StudyResult) : CurveRow list =
    let p = r.Plan
    [ for v in p.Variants do
      for a in v.Study.Arms do
        for i in 0 .. v.Study.Seeds - 1 do
            let last = ref 0
            for key in p.Chains |> Map.tryFind { Variant = v.Name; Arm = a.Name; Seed = i } |> Option.defaultValue [] do
                match r.Results.TryFind key with
                | Some res ->
                    let node = Plan.node p key
                    let continues = node.Spec.Init = Continue
                    let offset = if continues then 0 else last.Value
                    for e in res.Curve do
                        if not continues || e.Epoch > last.Value then
                            yield { Variant = v.Name; Arm = a.Name; Stage = node.Stage; Seed = i; Epoch = offset + e.Epoch
                                    TrainLoss = e.Loss; TrainAcc = e.TrainAccuracy; TestLoss = e.TestLossOrNaN
                                    TestAcc = e.TestAccuracyOrNaN; Seconds = e.Seconds }
                    last.Value <- offset + (res.Curve |> List.fold (fun m e -> max m e.Epoch) 0)
                | None -> () ]

/// Training curves as a frame (see `curveRows`): columns Variant ("" when the study has no variants), Arm, Stage,
/// Seed, Epoch, TrainLoss, TrainAcc, TestLoss, TestAcc, Seconds. The test columns are NaN except on the epochs a
/// study with `evaluate_every n` evaluated. A study run writes it as `curves.csv` next to `runs.csv`.
let curves (r: StudyResult) : Frame<int, string> = curveRows r |> Frame.ofRecords

// ---- sweeps as grids ---------------------------------------------------------------------------------

/// A two-knob sweep as a grid for heat maps (the paper's Figure 8, λ × σ): one row per value of `rowKnob` (its
/// value in the first column), one column per value of `colKnob` ("perturb=0.01"), each cell `value` of the arm's
/// `byArm` row at that stage (e.g. `fun a -> a.TestAccMean` or `a.SecondsMean`), averaged over any other knob.
/// Knob values come typed from each variant of the plan.
/// `result |> Summary.sweepGridOf Knob.Shrink Knob.Perturb "sp" 2 (fun a -> a.TestAccMean)`.
let sweepGridOf (rowKnob: Knob) (colKnob: Knob) (arm: string) (stage: int) (value: ArmRow -> float) (r: StudyResult) : Frame<int, string> =
    // Knobs of `random_draws` are swept too (their values drawn per combination).
    let sweeps = r.Study.Sweeps @ (match r.Study.RandomDraws with Some(_, knobs) -> knobs | None -> [])
    let swept = sweeps |> List.map fst
    for k in [ rowKnob; colKnob ] do
        if not (List.contains k swept) then
            invalidArg "knob" (sprintf "study '%s' does not sweep '%s'; it sweeps: %s" r.Study.Name k.Name
                                   (if swept.IsEmpty then "nothing" else swept |> List.map (fun k -> k.Name) |> String.concat ", "))
    let knobsOf = r.Plan.Variants |> List.map (fun v -> v.Name, Map.ofList v.Knobs) |> Map.ofList
    let cells =
        byArmRows r
        |> List.filter (fun a -> a.Arm = arm && a.Stage = stage)
        |> List.map (fun a -> let k = knobsOf[a.Variant] in (k[rowKnob], k[colKnob]), value a)
        |> List.groupBy fst
        |> List.map (fun (k, xs) -> k, xs |> List.averageBy snd)
        |> Map.ofList
    let valuesOf k = sweeps |> List.find (fun (n, _) -> n = k) |> snd |> List.distinct
    let fmt (x: float) = x.ToString("G6", CultureInfo.InvariantCulture)
    let cols = valuesOf colKnob
    let rowsOut =
        [ for rv in valuesOf rowKnob ->
            Series.ofObservations
                [ yield rowKnob.Name, box rv
                  for cv in cols -> sprintf "%s=%s" colKnob.Name (fmt cv), box (cells |> Map.tryFind (rv, cv) |> Option.defaultValue nan) ] ]
    rowsOut |> List.mapi (fun i row -> i, row) |> Frame.ofRows

/// `sweepGridOf` with knobs by name, for the REPL: `result |> Summary.sweepGrid "shrink" "perturb" "sp" 2 (fun a -> a.TestAccMean)`.
let sweepGrid (rowKnob: string) (colKnob: string) (arm: string) (stage: int) (value: ArmRow -> float) (r: StudyResult) : Frame<int, string> =
    let knob (name: string) =
        Knob.TryParse name |> Option.defaultWith (fun () ->
            invalidArg "knob" (sprintf "'%s' is not a sweep knob; knobs: %s" name (Knob.All |> List.map (fun k -> k.Name) |> String.concat ", ")))
    sweepGridOf (knob rowKnob) (knob colKnob) arm stage value r

/// A frame as an aligned text table for the terminal and fsi: plain column names, accuracies in percent,
/// intervals as one "[lo, hi]" column (see `Display`).
let format (f: Frame<'R, string>) = Display.format f

/// Prints a frame as an aligned table.
let print (f: Frame<'R, string>) =
    printfn "%s\n" (format f)

/// Writes a frame as CSV (invariant culture), creating the folder.
let saveCsv (path: string) (f: Frame<'R, string>) =
    let dir = Path.GetDirectoryName(Path.GetFullPath path)
    Directory.CreateDirectory dir |> ignore
    f.SaveCsv(path, includeRowKeys = false, culture = CultureInfo.InvariantCulture)

// ---- task streams (loss of plasticity) ------------------------------------------------------------------------

/// How many tasks at each end of a stream its summary numbers average over: 10 % of them (at least one).
let lastTasks (tasks: int) = max 1 (tasks / 10)

/// One row of `Summary.tasks`: one task of one arm's stream for one seed.
type TaskRow =
    { Arm: string
      Seed: int
      Task: int
      /// Average online accuracy of the task (pre-update forward passes).
      OnlineAcc: float
      /// Accuracy at the task's end on its held-out images (random labels: its own images and labels).
      EndAcc: float
      Loss: float
      /// τ-dormant fraction, mean over hidden layers (per layer: the node's tasks.csv).
      Dormant: float
      /// Exactly-zero (dead) fraction, mean over hidden layers.
      Dead: float
      EffectiveRank: float
      SRank: int
      /// Mean |w| over layer groups (the mean of WeightMagnitudeByLayer).
      WeightMagnitude: float
      DistanceFromInit: float
      GradientNorm: float
      Seconds: float
      /// Mean |w| of each layer group's weight matrices, in the model's layer order ([] for results stored before
      /// it was recorded); columns WeightMagnitude_<group> of `tasks`, metrics weight_magnitude_<group> of `plasticity`.
      WeightMagnitudeByLayer: LayerValue list }

/// The stream results of a study: (arm, seed, task points) for every stream node with a result, arms as declared.
let private streamResults (r: StudyResult) =
    [ for v in r.Plan.Variants do
      for a in v.Study.Arms do
        for i in 0 .. v.Study.Seeds - 1 do
            match r.Plan.Chains |> Map.tryFind { Variant = v.Name; Arm = a.Name; Seed = i } with
            | Some [ key ] ->
                match r.Results.TryFind key with
                | Some { Tasks = System.Text.Json.Serialization.Include tasks } -> yield a.Name, i, tasks
                | _ -> ()
            | _ -> () ]

/// Whether a result holds task streams (a `stream` schedule).
let hasStreams (r: StudyResult) = match r.Study.Schedule with Stream _ -> true | _ -> false

/// Every task of every arm's stream for every seed.
let taskRows (r: StudyResult) : TaskRow list =
    let meanOf (xs: float list) = if xs.IsEmpty then nan else List.average xs
    [ for arm, seed, tasks in streamResults r do
        for t in tasks ->
            { Arm = arm; Seed = seed; Task = t.Task; OnlineAcc = t.OnlineAccuracy; EndAcc = t.EndAccuracy; Loss = t.Loss
              Dormant = meanOf t.Dormant; Dead = meanOf t.Dead; EffectiveRank = t.EffectiveRank; SRank = t.SRank
              WeightMagnitude = t.WeightMagnitude; DistanceFromInit = t.DistanceFromInit; GradientNorm = t.GradientNorm
              Seconds = t.Seconds; WeightMagnitudeByLayer = t.WeightMagnitudeLayers } ]

/// The layer groups of the rows' per-layer weight magnitudes, in first-seen order.
let private weightLayerNames (rows: TaskRow list) =
    rows |> List.collect (fun x -> x.WeightMagnitudeByLayer |> List.map (fun l -> l.Layer)) |> List.distinct

/// A row's weight magnitude of one layer group, NaN when the row does not have it.
let private weightOfLayer (layer: string) (x: TaskRow) =
    x.WeightMagnitudeByLayer |> List.tryFind (fun l -> l.Layer = layer) |> Option.map (fun l -> l.Value) |> Option.defaultValue nan

/// One row per arm × seed × task of a stream study (written as `tasks.csv`); the per-layer weight magnitude as
/// columns WeightMagnitude_<group> after the others.
let tasks (r: StudyResult) : Frame<int, string> =
    let rows = taskRows r
    let f = rows |> Frame.ofRecords
    f.DropColumn "WeightMagnitudeByLayer"
    for layer in weightLayerNames rows do
        f.AddColumn("WeightMagnitude_" + layer, rows |> List.mapi (fun i x -> i, weightOfLayer layer x) |> Series.ofObservations)
    f

/// One row of `Summary.perTask`.
type PerTaskRow =
    { Arm: string
      Task: int
      N: int
      OnlineAccMean: float
      OnlineAccCiLow: float
      OnlineAccCiHigh: float
      EndAccMean: float
      EndAccCiLow: float
      EndAccCiHigh: float }

/// Arm × task: mean and 95 % t-interval over seeds of the online and the task-end accuracy.
let perTaskRows (r: StudyResult) : PerTaskRow list =
    taskRows r
    |> List.groupBy (fun x -> x.Arm, x.Task)
    |> List.map (fun ((arm, task), xs) ->
        let o = SeedStats.estimate (xs |> List.map (fun x -> x.OnlineAcc))
        let e = SeedStats.estimate (xs |> List.map (fun x -> x.EndAcc))
        { Arm = arm; Task = task; N = o.N; OnlineAccMean = o.Mean; OnlineAccCiLow = o.CiLow; OnlineAccCiHigh = o.CiHigh
          EndAccMean = e.Mean; EndAccCiLow = e.CiLow; EndAccCiHigh = e.CiHigh })

/// Arm × task accuracies with 95 % intervals over seeds, as a frame (written as `per-task.csv`).
let perTask (r: StudyResult) : Frame<int, string> = perTaskRows r |> Frame.ofRecords

/// One row of `Summary.plasticity`: one metric of one arm at one task.
type PlasticityRow =
    { Arm: string
      Task: int
      Metric: string
      N: int
      Mean: float
      CiLow: float
      CiHigh: float }

/// The plasticity metrics in the order tables and plots show them, with how each is read from a task row.
let plasticityMetrics : (string * (TaskRow -> float)) list =
    [ "online_acc", (fun x -> x.OnlineAcc); "end_acc", (fun x -> x.EndAcc); "loss", (fun x -> x.Loss)
      "dormant", (fun x -> x.Dormant); "dead", (fun x -> x.Dead); "effective_rank", (fun x -> x.EffectiveRank)
      "srank", (fun x -> float x.SRank); "weight_magnitude", (fun x -> x.WeightMagnitude)
      "distance_from_init", (fun x -> x.DistanceFromInit); "gradient_norm", (fun x -> x.GradientNorm) ]

/// Arm × task × metric: mean and 95 % t-interval over seeds of every plasticity metric, then of the weight
/// magnitude of each layer group (weight_magnitude_<group>).
let plasticityRows (r: StudyResult) : PlasticityRow list =
    let rows = taskRows r
    let perLayer = [ for layer in weightLayerNames rows -> "weight_magnitude_" + layer, weightOfLayer layer ]
    [ for name, read in plasticityMetrics @ perLayer do
        for (arm, task), xs in rows |> List.groupBy (fun x -> x.Arm, x.Task) do
            let e = SeedStats.estimate (xs |> List.map read)
            yield { Arm = arm; Task = task; Metric = name; N = e.N; Mean = e.Mean; CiLow = e.CiLow; CiHigh = e.CiHigh } ]

/// The plasticity metrics per arm and task, long form (written as `plasticity.csv`).
let plasticity (r: StudyResult) : Frame<int, string> = plasticityRows r |> Frame.ofRecords

/// One row of `Summary.streamGapVs`.
type StreamGapRow =
    { Arm: string
      Versus: string
      /// "online_acc" or "end_acc", averaged over the last `LastTasks` tasks of each stream.
      Metric: string
      LastTasks: int
      N: int
      ArmMean: float
      VersusMean: float
      GapMean: float
      GapCiLow: float
      GapCiHigh: float
      GapBootLow: float
      GapBootHigh: float
      PImprove: float }

/// One row of `Summary.plasticityLoss`.
type PlasticityLossRow =
    { Arm: string
      Metric: string
      /// Tasks averaged at each end (the first and the last 10 % of the stream, at least one).
      Tasks: int
      N: int
      FirstMean: float
      LastMean: float
      /// Per-seed last − first, mean and 95 % t-interval: below zero when the stream lost plasticity.
      ChangeMean: float
      ChangeCiLow: float
      ChangeCiHigh: float }

let private windowMean (read: TaskRow -> float) (take: TaskRow list -> TaskRow list) (xs: TaskRow list) =
    xs |> List.sortBy (fun x -> x.Task) |> take |> List.averageBy read

let private accuracyMetrics = [ "online_acc", (fun (x: TaskRow) -> x.OnlineAcc); "end_acc", (fun (x: TaskRow) -> x.EndAcc) ]

/// Paired per-seed differences (arm − reference) of the online and task-end accuracy averaged over the last 10 %
/// of the tasks (at least one), with 95 % t and bootstrap intervals: `result |> Summary.streamGapVs "adam"`.
let streamGapVsRows (reference: string) (r: StudyResult) : StreamGapRow list =
    if not (r.Study.Arms |> List.exists (fun a -> a.Name = reference)) then
        invalidArg "reference" (sprintf "no arm named '%s' in study '%s'; arms: %s" reference r.Study.Name
                                    (r.Study.Arms |> List.map (fun a -> a.Name) |> String.concat ", "))
    let rows = taskRows r
    let bySeed = rows |> List.groupBy (fun x -> x.Arm, x.Seed) |> Map.ofList
    [ for metric, read in accuracyMetrics do
        for a in r.Study.Arms do
            if a.Name <> reference then
                let pairs =
                    [ for i in 0 .. r.Study.Seeds - 1 do
                        match bySeed.TryFind(a.Name, i), bySeed.TryFind(reference, i) with
                        | Some xs, Some ys when xs.Length = ys.Length ->
                            let n = lastTasks xs.Length
                            let last = fun (l: TaskRow list) -> List.skip (l.Length - n) l
                            yield n, windowMean read last xs, windowMean read last ys
                        | _ -> () ]
                if not pairs.IsEmpty then
                    let diffs = pairs |> List.map (fun (_, x, y) -> x - y)
                    let e = SeedStats.estimate diffs
                    let lo, hi = PairedStats.bootstrapCi95 diffs
                    let n, _, _ = pairs.Head
                    yield { Arm = a.Name; Versus = reference; Metric = metric; LastTasks = n; N = e.N
                            ArmMean = pairs |> List.averageBy (fun (_, x, _) -> x); VersusMean = pairs |> List.averageBy (fun (_, _, y) -> y)
                            GapMean = e.Mean; GapCiLow = e.CiLow; GapCiHigh = e.CiHigh; GapBootLow = lo; GapBootHigh = hi
                            PImprove = PairedStats.probabilityOfImprovement diffs } ]

/// Paired gaps over the last tasks of the streams against a reference arm, as a frame.
let streamGapVs (reference: string) (r: StudyResult) : Frame<int, string> = streamGapVsRows reference r |> Frame.ofRecords

/// Per arm: accuracy averaged over the first and over the last 10 % of the tasks, and the per-seed change with a
/// 95 % t-interval (an interval below zero: the stream lost plasticity).
let plasticityLossRows (r: StudyResult) : PlasticityLossRow list =
    let rows = taskRows r
    [ for metric, read in accuracyMetrics do
        for a in r.Study.Arms do
            let seeds = rows |> List.filter (fun x -> x.Arm = a.Name) |> List.groupBy (fun x -> x.Seed) |> List.map snd
            if not seeds.IsEmpty then
                let n = lastTasks seeds.Head.Length
                let firsts = seeds |> List.map (windowMean read (List.take n))
                let lasts = seeds |> List.map (windowMean read (fun l -> List.skip (l.Length - n) l))
                let e = SeedStats.estimate (List.map2 (-) lasts firsts)
                yield { Arm = a.Name; Metric = metric; Tasks = n; N = e.N; FirstMean = List.average firsts; LastMean = List.average lasts
                        ChangeMean = e.Mean; ChangeCiLow = e.CiLow; ChangeCiHigh = e.CiHigh } ]

/// First-versus-last-tasks accuracy per arm, as a frame (written as `plasticity-loss.csv`).
let plasticityLoss (r: StudyResult) : Frame<int, string> = plasticityLossRows r |> Frame.ofRecords
