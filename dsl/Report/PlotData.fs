/// The numbers every plot of a study draws, computed once from the Summary so that the PNG/SVG plots and the
/// HTML report show the same values: accuracies in percent, intervals clipped to [0, 100], a stage-1 node that
/// several arms share as one point, and training curves as the mean and 95 % interval over every seed.
module WarmStart.PlotData

open System

/// One point of a test-accuracy series (percent), with its 95 % t-interval clipped to [0, 100], and how many of
/// its N runs stopped at their epoch cap before the stop rule's goal.
type AccuracyPoint = { X: float; Step: string; Mean: float; Low: float; High: float; N: int; NotConverged: int }

/// A series of the test-accuracy plot: one arm (and variant), or a node several arms share, drawn once.
type AccuracySeries = { Name: string; Arms: string list; Shared: bool; Points: AccuracyPoint list }

/// A training curve over seeds: at each cumulative epoch, the mean and clipped 95 % interval of the seeds that
/// trained it (percent), and how many did.
type Curve = { Name: string; Shared: bool; Epoch: int[]; Mean: float[]; Low: float[]; High: float[]; N: int[] }

/// Where a stage ends on the curves' epoch axis: the mean over arms and seeds of the cumulative epoch.
type StageBoundary = { Stage: int; Epoch: float }

/// Mean epochs to the stop rule of an arm at a stage, with its 95 % t-interval (lower bound at least 0).
type EpochBar = { Group: string; Arm: string; Mean: float; Low: float; High: float; N: int }

let private clip lo hi x = if Double.IsNaN x then x else max lo (min hi x)

/// Whether a schedule fans out one variant per x value (transfer fractions, pre-training lengths): their plot
/// shows the final stage of each variant, one series per arm.
let isFanOut (r: StudyResult) = match r.Study.Schedule with Transfer _ | PretrainEpochs _ -> true | _ -> false

let private seriesName (fanOut: bool) (variant: string) (arm: string) =
    if fanOut then
        let sweepPart = match variant.Split(" · ") with [| _ |] -> "" | parts -> parts[0]
        if sweepPart = "" then arm else sprintf "%s [%s]" arm sweepPart
    elif variant = "" then arm
    else sprintf "%s [%s]" arm variant

let private point (a: Summary.ArmRow) =
    { X = a.X; Step = a.Step; Mean = 100.0 * a.TestAccMean; Low = clip 0.0 100.0 (100.0 * a.TestAccCiLow)
      High = clip 0.0 100.0 (100.0 * a.TestAccCiHigh); N = a.N; NotConverged = a.NotConverged }

/// A series' legend text: its name, and how many of its runs hit the epoch cap when any did.
let legend (s: AccuracySeries) =
    let nc = s.Points |> List.sumBy (fun p -> p.NotConverged)
    if nc = 0 then s.Name
    else sprintf "%s (%d of %d runs not converged: epoch cap)" s.Name nc (s.Points |> List.sumBy (fun p -> p.N))

/// The test-accuracy plot's series (means and intervals are `Summary.byArmRows`, in percent). Where several arms
/// of a variant share a stage's nodes for every seed (stage 1 before the arms diverge), that stage is one
/// series of its own, `Shared`, named after the arms; the arms' series hold only their own stages.
let accuracySeries (r: StudyResult) : AccuracySeries list =
    let fanOut = isFanOut r
    let arms = r.Study.Arms |> List.map (fun a -> a.Name)
    let byArm = Summary.byArmRows r |> List.filter (fun a -> not fanOut || a.Stage = 2)
    let runs = Summary.rows r |> List.filter (fun x -> not x.Diverged)
    // (variant, stage) → arm groups with identical node keys over seeds.
    let groups =
        byArm |> List.map (fun a -> a.Variant, a.Stage) |> List.distinct
        |> List.map (fun (v, t) ->
            let keysOf arm = runs |> List.filter (fun x -> x.Variant = v && x.Stage = t && x.Arm = arm) |> List.sortBy (fun x -> x.Seed) |> List.map (fun x -> x.Node)
            (v, t),
            arms |> List.filter (fun a -> byArm |> List.exists (fun x -> x.Variant = v && x.Stage = t && x.Arm = a))
            |> List.groupBy keysOf |> List.map snd)
        |> Map.ofList
    let sharedAt (v, t) arm =
        (not fanOut) && (groups[(v, t)] |> List.exists (fun g -> g.Length > 1 && List.contains arm g))
    let own =
        byArm |> List.filter (fun a -> not (sharedAt (a.Variant, a.Stage) a.Arm))
        |> List.groupBy (fun a -> seriesName fanOut a.Variant a.Arm)
        |> List.map (fun (name, xs) -> { Name = name; Arms = [ xs.Head.Arm ]; Shared = false; Points = xs |> List.map point |> List.sortBy (fun p -> p.X) })
    let shared =
        [ if not fanOut then
            for KeyValue((v, t), gs) in groups do
                for g in gs do
                    if g.Length > 1 then
                        let a = byArm |> List.find (fun x -> x.Variant = v && x.Stage = t && x.Arm = g.Head)
                        let what = if g.Length = arms.Length then "all arms" else String.concat ", " g
                        let name = sprintf "stage %d, shared by %s%s" t what (if v = "" then "" else sprintf " [%s]" v)
                        yield { Name = name; Arms = g; Shared = true; Points = [ point a ] } ]
    // Shared points with the same name (several stages shared) form one series.
    let sharedMerged =
        shared |> List.groupBy (fun s -> s.Name) |> List.map (fun (_, ss) -> { ss.Head with Points = ss |> List.collect (fun s -> s.Points) })
    sharedMerged @ own

/// One seed's chain of curve values (`value` of each epoch record), stage by stage, as the per-stage lists.
let private chainCurves (value: EpochPoint -> float option) (r: StudyResult) (variant: string) (arm: string) (seed: int) =
    match r.Plan.Chains.TryFind { Variant = variant; Arm = arm; Seed = seed } with
    | Some keys -> keys |> List.map (fun k -> k, (match r.Results.TryFind k with Some res -> res.Curve |> List.choose value | None -> []))
    | None -> []

/// Mean and clipped interval at each cumulative epoch over the seeds' curves (each a list of percent values
/// starting at `offset` + 1).
let private aggregate (name: string) (perSeed: (int * float list) list) =
    let points =
        [ for off, ys in perSeed do
            for i, y in List.indexed ys -> off + i + 1, y ]
        |> List.groupBy fst |> List.sortBy fst
        |> List.map (fun (e, ys) ->
            let est = SeedStats.estimate (ys |> List.map snd)
            e, est.Mean, clip 0.0 100.0 est.CiLow, clip 0.0 100.0 est.CiHigh, est.N)
    { Name = name; Shared = false; Epoch = points |> List.map (fun (e, _, _, _, _) -> e) |> Array.ofList
      Mean = points |> List.map (fun (_, m, _, _, _) -> m) |> Array.ofList
      Low = points |> List.map (fun (_, _, l, _, _) -> l) |> Array.ofList
      High = points |> List.map (fun (_, _, _, h, _) -> h) |> Array.ofList
      N = points |> List.map (fun (_, _, _, _, n) -> n) |> Array.ofList }

/// Training curves of every variant × arm over all seeds, `value` (in percent) against epochs cumulated over
/// the chain's stages. The leading stages whose nodes every arm of a variant shares (for every seed) form one
/// curve of their own, drawn once; each arm's curve continues from there. `value` picks what is drawn:
/// `trainCurves` passes train accuracy. When evaluation during training records a test accuracy per epoch,
/// a test-curve plot is `curves (fun e -> Some(100.0 * e.TestAccuracy)) r` — the hook is this parameter.
let curves (value: EpochPoint -> float option) (r: StudyResult) : Curve list =
    let fanOut = isFanOut r
    [ for v in r.Plan.Variants do
        let arms = v.Study.Arms |> List.map (fun a -> a.Name)
        let chains = [ for a in arms -> a, [ for s in 0 .. v.Study.Seeds - 1 -> chainCurves value r v.Name a s ] ]
        // The number of leading stages with the same key for every arm and seed.
        let keysAt t = chains |> List.map (fun (_, seeds) -> seeds |> List.map (fun c -> c |> List.tryItem t |> Option.map fst))
        let rec prefix t =
            let ks = keysAt t
            if arms.Length > 1 && ks |> List.forall (fun k -> k = ks.Head && k |> List.forall Option.isSome) then prefix (t + 1) else t
        let shared = prefix 0
        let chainOf seeds = seeds |> List.filter (fun c -> not (List.isEmpty c))
        if shared > 0 then
            let _, seeds = chains.Head
            let perSeed = [ for c in chainOf seeds -> 0, c |> List.take shared |> List.collect snd ]
            let stages = if shared = 1 then "stage 1" else sprintf "stages 1–%d" shared
            yield { aggregate (sprintf "%s, shared by all arms%s" stages (if v.Name = "" then "" else sprintf " [%s]" v.Name)) perSeed with Shared = true }
        for a, seeds in chains do
            let perSeed =
                [ for c in chainOf seeds ->
                    let offset = c |> List.take (min shared c.Length) |> List.sumBy (fun (_, ys) -> ys.Length)
                    offset, c |> List.skip (min shared c.Length) |> List.collect snd ]
            let c = aggregate (seriesName fanOut v.Name a) perSeed
            if c.Epoch.Length > 0 then yield c ]

/// Train-accuracy curves (percent) over all seeds (see `curves`).
let trainCurves (r: StudyResult) = curves (fun e -> Some(100.0 * e.TrainAccuracy)) r

/// Where each stage but the last ends on the curves' axis, per variant of the first: the mean over arms and
/// seeds of the cumulative epoch count (arms that share a stage end it together).
let stageBoundaries (r: StudyResult) : StageBoundary list =
    match r.Plan.Variants with
    | [] -> []
    | v :: _ ->
        let ends =
            [ for a in v.Study.Arms do
                for s in 0 .. v.Study.Seeds - 1 do
                    let c = chainCurves (fun e -> Some e.TrainAccuracy) r v.Name a.Name s
                    yield! c |> List.mapi (fun i _ -> i + 1, c |> List.take (i + 1) |> List.sumBy (fun (_, ys) -> ys.Length)) ]
        let last = v.Steps.Length
        ends |> List.filter (fun (t, _) -> t < last) |> List.groupBy fst |> List.sortBy fst
        |> List.map (fun (t, es) -> { Stage = t; Epoch = es |> List.averageBy (snd >> float) })

/// Mean epochs to the stop rule per arm at each stage after the first, with 95 % t-intervals (lower bound ≥ 0).
/// Means are `Summary.byArmRows`'s EpochsMean.
let epochBars (r: StudyResult) : EpochBar list =
    let runs = Summary.rows r |> List.filter (fun x -> not x.Diverged && x.Stage >= 2)
    [ for a in Summary.byArmRows r |> List.filter (fun x -> x.Stage >= 2) ->
        let eps = runs |> List.filter (fun x -> x.Variant = a.Variant && x.Arm = a.Arm && x.Stage = a.Stage) |> List.map (fun x -> float x.Epochs)
        let e = SeedStats.estimate eps
        { Group = (if a.Variant = "" then a.Step else sprintf "%s %s" a.Variant a.Step); Arm = a.Arm; Mean = a.EpochsMean
          Low = clip 0.0 infinity e.CiLow; High = e.CiHigh; N = e.N } ]
