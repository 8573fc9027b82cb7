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
      Diverged: bool }

/// The rows of a result: every arm's chain for every seed, stage by stage.
let rows (r: StudyResult) : RunRow list =
    let p = r.Plan
    [ for v in p.Variants do
      for a in v.Study.Arms do
        for i in 0 .. v.Study.Seeds - 1 do
            for t, key in List.indexed (p.Chains |> Map.tryFind { Variant = v.Name; Arm = a.Name; Seed = i } |> Option.defaultValue []) do
                match r.Results.TryFind key with
                | Some res ->
                    let node = Plan.node p key
                    let step = v.Steps[t]
                    yield
                        { Study = p.Study.Name; Variant = v.Name; Arm = a.Name; Stage = t + 1; Step = step.Label; X = step.X
                          Seed = i; Node = key.Substring(0, 12)
                          Shared = node.Arms.Length > 1; TrainSize = res.TrainSize; TestAcc = res.TestAccuracy
                          TrainAcc = res.TrainAccuracy; TrainLoss = res.TrainLoss; Epochs = res.Epochs
                          Seconds = res.Seconds; SamplesPerSec = res.SamplesPerSecond; Diverged = res.Diverged }
                | None -> () ]

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
      SecondsMean: float }

/// Arm × stage: mean, sample sd, n and 95 % t-interval of test accuracy, mean epochs and seconds.
/// Diverged runs are left out of the means (they are counted in `runs`).
let byArmRows (r: StudyResult) =
    let arms = r.Study.Arms |> List.map (fun a -> a.Name)
    let variants = r.Plan.Variants |> List.map (fun v -> v.Name)
    rows r
    |> List.filter (fun x -> not x.Diverged)
    |> List.groupBy (fun x -> x.Variant, x.Arm, x.Stage)
    |> List.sortBy (fun ((v, a, t), _) -> List.findIndex ((=) v) variants, t, List.findIndex ((=) a) arms)
    |> List.map (fun ((v, a, t), xs) ->
        let e = Stats.estimate (xs |> List.map (fun x -> x.TestAcc))
        { Variant = v; Arm = a; Stage = t; Step = xs.Head.Step; X = xs.Head.X; N = e.N; TestAccMean = e.Mean; TestAccSd = e.Sd; TestAccCiLow = e.CiLow
          TestAccCiHigh = e.CiHigh; EpochsMean = xs |> List.averageBy (fun x -> float x.Epochs)
          SecondsMean = xs |> List.averageBy (fun x -> x.Seconds) })

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
      EpochsGapMean: float }

/// Per-seed paired differences of test accuracy (arm − reference) for the stages after the first, with mean,
/// sd and 95 % t-interval; pairing by seed removes the split/order/stage-1 variance that unpaired means carry.
let gapVsRows (reference: string) (r: StudyResult) =
    let all = rows r |> List.filter (fun x -> not x.Diverged)
    if not (r.Study.Arms |> List.exists (fun a -> a.Name = reference)) then
        invalidArg "reference" (sprintf "no arm named '%s' in study '%s'; arms: %s" reference r.Study.Name
                                    (r.Study.Arms |> List.map (fun a -> a.Name) |> String.concat ", "))
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
                    let e = Stats.estimate (pairs |> List.map (fun (x, f) -> x.TestAcc - f.TestAcc))
                    yield
                        { Variant = v.Name; Arm = a.Name; Versus = reference; Stage = t; Step = step.Label; N = e.N; GapMean = e.Mean; GapSd = e.Sd
                          GapCiLow = e.CiLow; GapCiHigh = e.CiHigh
                          EpochsGapMean = pairs |> List.averageBy (fun (x, f) -> float (x.Epochs - f.Epochs)) } ]

/// Paired gaps against a reference arm as a frame: `result |> Summary.gapVs "fresh"`.
let gapVs (reference: string) (r: StudyResult) : Frame<int, string> = gapVsRows reference r |> Frame.ofRecords |> tidy r

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

/// Paired gaps of several studies in one frame (a Study column first): `results |> Summary.gapVsAll "fresh"`.
let gapVsAll (reference: string) (rs: StudyResult list) : Frame<int, string> =
    [ for r in rs do
        for g in gapVsRows reference r ->
            { StudyGapRow.Study = r.Study.Name; Variant = g.Variant; Arm = g.Arm; Stage = g.Stage; Step = g.Step; N = g.N
              GapMean = g.GapMean; GapCiLow = g.GapCiLow; GapCiHigh = g.GapCiHigh; EpochsGapMean = g.EpochsGapMean } ]
    |> Frame.ofRecords |> dropEmptyVariant

/// Per-arm aggregates of several studies in one frame (a Study column first).
let byArmAll (rs: StudyResult list) : Frame<int, string> =
    [ for r in rs do
        for a in byArmRows r ->
            { StudyArmRow.Study = r.Study.Name; Variant = a.Variant; Arm = a.Arm; Stage = a.Stage; Step = a.Step; N = a.N
              TestAccMean = a.TestAccMean; TestAccCiLow = a.TestAccCiLow; TestAccCiHigh = a.TestAccCiHigh
              EpochsMean = a.EpochsMean; SecondsMean = a.SecondsMean } ]
    |> Frame.ofRecords |> dropEmptyVariant

let private cell (o: obj) =
    match o with
    | :? float as f when Double.IsNaN f -> "–"
    | :? float as f when abs f >= 1000.0 -> f.ToString("F0", CultureInfo.InvariantCulture)
    | :? float as f -> f.ToString("F4", CultureInfo.InvariantCulture)
    | :? bool as b -> if b then "yes" else ""
    | null -> ""
    | o -> Convert.ToString(o, CultureInfo.InvariantCulture)

/// A frame as an aligned text table (numbers to 4 decimals), for the terminal and fsi.
let format (f: Frame<'R, string>) =
    let cols = f.ColumnKeys |> List.ofSeq
    let body =
        [ for r in f.RowKeys ->
            let row = f.Rows[r]
            [ for c in cols -> match row.TryGet c with | OptionalValue.Present v -> cell v | _ -> "" ] ]
    let widths = cols |> List.mapi (fun i c -> body |> List.fold (fun w row -> max w (row[i].Length)) c.Length)
    let line (cells: string list) =
        List.zip cells widths |> List.map (fun (s, w) -> s.PadLeft w) |> String.concat "  "
    String.concat "\n" (line cols :: (widths |> List.map (fun w -> String('-', w)) |> String.concat "  ") :: (body |> List.map line))

/// Prints a frame as an aligned table.
let print (f: Frame<'R, string>) =
    printfn "%s\n" (format f)

/// Writes a frame as CSV (invariant culture), creating the folder.
let saveCsv (path: string) (f: Frame<'R, string>) =
    let dir = Path.GetDirectoryName(Path.GetFullPath path)
    Directory.CreateDirectory dir |> ignore
    f.SaveCsv(path, includeRowKeys = false, culture = CultureInfo.InvariantCulture)
