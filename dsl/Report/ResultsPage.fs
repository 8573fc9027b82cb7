/// A Markdown page whose tables are generated from result stores (docs/results.md): the page's prose is kept,
/// and every block between a directive and its end marker is replaced by what the directive renders, so running
/// the generator again on unchanged stores gives the same page. Directives:
///
///   <!-- table: byarm STUDY [STAGE] -->    … <!-- /table -->   Summary.byArm (one stage, or all)
///   <!-- table: gap STUDY [STAGE] -->      … <!-- /table -->   Summary.gapVsFresh: paired t and bootstrap intervals
///   <!-- table: pair STUDY_A ARM_A STUDY_B ARM_B -->  … <!-- /table -->   seed-paired gap of an arm of one study
///                                                      against an arm of another (same data, pool and seeds)
///   <!-- table: provenance STUDY… -->      … <!-- /table -->   the command, commit, versions, threads, engine, wall time
///   <!-- value: gap STUDY ARM STAGE -->    … <!-- /value -->   one paired gap with both intervals, inline
///   <!-- value: pair STUDY_A ARM_A STUDY_B ARM_B STAGE --> … <!-- /value -->
///
/// Every table that holds runs which stopped at their epoch cap before the stop rule's goal counts them (the
/// "not converged" column) and says so under the table.
module WarmStart.ResultsPage

open System
open System.Text.RegularExpressions
open Deedle

/// What rendering needs from outside the page: a study's result by its store folder name, the provenance lines
/// of a study's nodes (see `NodeStore.provenanceSummary`), and the command that ran a study, when known.
type Sources =
    { Study: string -> StudyResult
      Provenance: StudyResult -> string list
      Command: string -> string option }

/// One row of a cross-study paired gap (`pair`): arm A of study A minus arm B of study B, seed by seed.
type PairRow =
    { Step: string
      Stage: int
      N: int
      AMean: float
      BMean: float
      GapMean: float
      GapCiLow: float
      GapCiHigh: float
      GapBootLow: float
      GapBootHigh: float
      EpochsGapMean: float
      /// Runs of either side (of the N pairs) that stopped at their epoch cap before the stop rule's goal.
      NotConverged: int }

let private fail fmt = Printf.kprintf (fun s -> raise (ArgumentException s)) fmt

let private stageArg (directive: string) (s: string) =
    match Int32.TryParse s with
    | true, t when t >= 1 -> t
    | _ -> fail "page directive '%s': stage '%s' is not a stage number; allowed: an integer ≥ 1" directive s

/// Runs of one arm by (stage, seed), diverged runs left out (as every Summary table does).
let private runsOf (r: StudyResult) (arm: string) =
    if not (r.Study.Arms |> List.exists (fun a -> a.Name = arm)) then
        fail "study '%s' has no arm '%s'; arms: %s" r.Study.Name arm (r.Study.Arms |> List.map (fun a -> a.Name) |> String.concat ", ")
    Summary.rows r |> List.filter (fun x -> x.Arm = arm && not x.Diverged && x.Variant = "")

/// Seed-paired differences of test accuracy, arm A of `a` minus arm B of `b`, per stage after the first present in
/// both (as `Summary.gapVs`: stage 1 is the shared starting point). Seed i
/// of two studies shares its pool, data order and stage-1 initialisation only when both draw the same data and
/// pool from the same study seed, so anything else is refused.
let pairRows (a: StudyResult, armA: string) (b: StudyResult, armB: string) : PairRow list =
    let sa, sb = a.Study, b.Study
    if sa.Data <> sb.Data || sa.Subset <> sb.Subset || sa.Seed <> sb.Seed then
        fail "studies '%s' and '%s' cannot be paired by seed: their data, pool size or study seed differ (%s/%A/%d vs %s/%A/%d)"
            sa.Name sb.Name sa.Data.Name sa.Subset sa.Seed sb.Data.Name sb.Subset sb.Seed
    let ra, rb = runsOf a armA, runsOf b armB
    let bOf = rb |> List.map (fun x -> (x.Stage, x.Seed), x) |> Map.ofList
    ra
    |> List.filter (fun x -> x.Stage >= 2)
    |> List.groupBy (fun x -> x.Stage)
    |> List.sortBy fst
    |> List.choose (fun (t, xs) ->
        let pairs = xs |> List.sortBy (fun x -> x.Seed) |> List.choose (fun x -> bOf.TryFind(t, x.Seed) |> Option.map (fun y -> x, y))
        if pairs.IsEmpty then None
        else
            let diffs = pairs |> List.map (fun (x, y) -> x.TestAcc - y.TestAcc)
            let e = SeedStats.estimate diffs
            let lo, hi = PairedStats.bootstrapCi95 diffs
            Some
                { Step = (fst pairs.Head).Step; Stage = t; N = e.N
                  AMean = pairs |> List.averageBy (fun (x, _) -> x.TestAcc); BMean = pairs |> List.averageBy (fun (_, y) -> y.TestAcc)
                  GapMean = e.Mean; GapCiLow = e.CiLow; GapCiHigh = e.CiHigh; GapBootLow = lo; GapBootHigh = hi
                  EpochsGapMean = pairs |> List.averageBy (fun (x, y) -> float (x.Epochs - y.Epochs))
                  NotConverged = pairs |> List.sumBy (fun (x, y) -> (if x.Converged then 0 else 1) + (if y.Converged then 0 else 1)) })

/// The columns a page's gap tables keep (the Summary frame has more: the reference's name, sd, P(better)).
let private gapColumns = [ "Arm"; "Step"; "N"; "GapMean"; "GapCiLow"; "GapCiHigh"; "GapBootLow"; "GapBootHigh"; "EpochsGapMean"; "SeedsFor80Power"; "NotConverged" ]

/// Summary.gapVsFresh with, per row, how many runs of its pairs (the arm's and the fresh arm's) did not converge.
let gapFrame (r: StudyResult) (stage: int option) : Frame<int, string> =
    let reference = Summary.freshArm r
    let runs = Summary.rows r |> List.filter (fun x -> not x.Diverged && x.Variant = "")
    let notConverged arm t =
        let seeds = runs |> List.filter (fun x -> x.Arm = arm && x.Stage = t) |> List.map (fun x -> x.Seed) |> Set.ofList
        runs |> List.filter (fun x -> (x.Arm = arm || x.Arm = reference) && x.Stage = t && seeds.Contains x.Seed && not x.Converged) |> List.length
    let rows = Summary.gapVsRows reference r |> List.filter (fun g -> g.Variant = "" && (stage.IsNone || stage = Some g.Stage))
    let f = rows |> Frame.ofRecords
    let nc = rows |> List.map (fun g -> notConverged g.Arm g.Stage) |> Series.ofValues
    f.AddColumn("NotConverged", nc)
    f.Columns.[gapColumns |> List.filter (fun c -> f.ColumnKeys |> Seq.contains c)]

/// Summary.byArm of one stage or all, without the columns a page does not need (variant, stage number).
let byArmFrame (r: StudyResult) (stage: int option) : Frame<int, string> =
    let rows = Summary.byArmRows r |> List.filter (fun a -> a.Variant = "" && (stage.IsNone || stage = Some a.Stage))
    let f = rows |> Frame.ofRecords
    f.Columns.[[ "Arm"; "Step"; "N"; "TestAccMean"; "TestAccSd"; "TestAccCiLow"; "TestAccCiHigh"; "EpochsMean"; "SecondsMean"; "NotConverged" ]]

/// The `pair` rows as a frame with plain column names: each side's mean test accuracy in percent (as text with
/// two decimals, under the side's study and arm), then the gap columns under Display's names.
let pairFrame (a: StudyResult, armA: string) (b: StudyResult, armB: string) : Frame<int, string> =
    let rows = pairRows (a, armA) (b, armB)
    let f = rows |> Frame.ofRecords
    let pct (xs: float seq) = xs |> Seq.map (fun x -> Display.number 2 false (100.0 * x)) |> Series.ofValues
    let f2 = Frame.ofColumns [ "Step", (rows |> List.map (fun p -> box p.Step) |> Series.ofValues); "N", (rows |> List.map (fun p -> box p.N) |> Series.ofValues) ]
    f2.AddColumn(sprintf "%s %s test acc %%" a.Study.Name armA, pct (rows |> List.map (fun p -> p.AMean)))
    f2.AddColumn(sprintf "%s %s test acc %%" b.Study.Name armB, pct (rows |> List.map (fun p -> p.BMean)))
    for c in [ "GapMean"; "GapCiLow"; "GapCiHigh"; "GapBootLow"; "GapBootHigh"; "EpochsGapMean"; "NotConverged" ] do
        f2.AddColumn(c, f.GetColumn<obj> c)
    f2

/// The distinct trained nodes of a study's table that stopped at their epoch cap (a stage-1 node several arms
/// share is one node, though every arm's row counts it), among the runs `keep` keeps.
let private cappedNodes (r: StudyResult) (keep: Summary.RunRow -> bool) =
    Summary.rows r |> List.filter (fun x -> not x.Diverged && x.Variant = "" && keep x && not x.Converged)
    |> List.map (fun x -> r.Study.Name, x.Node) |> Set.ofList

/// The line under a table with nodes that stopped at their epoch cap, naming each study's stop rule; empty when
/// every node converged.
let private capNote (studies: StudyResult list) (capped: Set<string * string>) =
    if capped.IsEmpty then ""
    else
        let caps =
            studies |> List.map (fun r -> sprintf "%s: %s" r.Study.Name (Describe.stop r.Study.Stop)) |> List.distinct |> String.concat "; "
        sprintf "\n\n*not converged*: %d training%s of this table stopped at the epoch cap before reaching the stop rule's goal (%s)."
            capped.Count (if capped.Count = 1 then "" else "s") caps

/// Percent points with sign and two decimals, as the gap tables show them.
let private pts (x: float) = Display.number 2 true (100.0 * x)

let private interval (lo: float) (hi: float) = sprintf "[%s, %s]" (pts lo) (pts hi)

let private gapText (mean: float) (tLo: float) (tHi: float) (bLo: float) (bHi: float) (n: int) =
    sprintf "%s points (95 %% CI %s t, %s paired bootstrap; n = %d)" (pts mean) (interval tLo tHi) (interval bLo bHi) n

/// What one directive renders (the text between its markers, without them).
let render (src: Sources) (kind: string) (directive: string) : string =
    let words = directive.Split([| ' '; '\t' |], StringSplitOptions.RemoveEmptyEntries) |> List.ofArray
    match kind, words with
    | "table", [ "byarm"; s ] | "table", [ "byarm"; s; _ ] ->
        let r = src.Study s
        let stage = match words with [ _; _; t ] -> Some(stageArg directive t) | _ -> None
        let f = byArmFrame r stage
        Display.markdown f + capNote [ r ] (cappedNodes r (fun x -> stage.IsNone || stage = Some x.Stage))
    | "table", [ "gap"; s ] | "table", [ "gap"; s; _ ] ->
        let r = src.Study s
        let stage = match words with [ _; _; t ] -> Some(stageArg directive t) | _ -> None
        let f = gapFrame r stage
        Display.markdown f + capNote [ r ] (cappedNodes r (fun x -> x.Stage >= 2 && (stage.IsNone || stage = Some x.Stage)))
    | "table", [ "pair"; a; armA; b; armB ] ->
        let ra, rb = src.Study a, src.Study b
        let f = pairFrame (ra, armA) (rb, armB)
        let keep arm (x: Summary.RunRow) = x.Arm = arm && x.Stage >= 2
        Display.markdown f + capNote [ ra; rb ] (Set.union (cappedNodes ra (keep armA)) (cappedNodes rb (keep armB)))
    | "table", "provenance" :: (_ :: _ as studies) ->
        let results = studies |> List.map src.Study
        let commands = studies |> List.choose src.Command |> List.distinct
        String.concat "\n"
            [ for c in commands -> sprintf "Command: `%s`  " c
              for r in results do
                  for line in src.Provenance r -> sprintf "`%s` %s  " r.Study.Name line ]
        |> fun s -> s.TrimEnd(' ')
    | "value", [ "gap"; s; arm; t ] ->
        let r = src.Study s
        let t = stageArg directive t
        match Summary.gapVsRows (Summary.freshArm r) r |> List.tryFind (fun g -> g.Variant = "" && g.Arm = arm && g.Stage = t) with
        | Some g -> gapText g.GapMean g.GapCiLow g.GapCiHigh g.GapBootLow g.GapBootHigh g.N
        | None -> fail "page directive '%s': study '%s' has no paired gap for arm '%s' at stage %d" directive s arm t
    | "value", [ "pair"; a; armA; b; armB; t ] ->
        let t = stageArg directive t
        match pairRows (src.Study a, armA) (src.Study b, armB) |> List.tryFind (fun p -> p.Stage = t) with
        | Some p -> gapText p.GapMean p.GapCiLow p.GapCiHigh p.GapBootLow p.GapBootHigh p.N
        | None -> fail "page directive '%s': no seed pairs at stage %d" directive t
    | _ ->
        fail "page directive '%s: %s' is not known; allowed: table: byarm STUDY [STAGE] | gap STUDY [STAGE] | pair STUDY_A ARM_A STUDY_B ARM_B | provenance STUDY…; value: gap STUDY ARM STAGE | pair STUDY_A ARM_A STUDY_B ARM_B STAGE"
            kind directive

/// A table block: the directive, the rendered lines, the end marker, each on its own lines; a value: inline.
let private blockPattern = Regex(@"<!-- (table|value): ([^>]*?) -->(.*?)<!-- /\1 -->", RegexOptions.Singleline)

/// The studies a page's directives name (store folder names), in order of first mention.
let studiesOf (page: string) : string list =
    [ for m in blockPattern.Matches page do
        let words = m.Groups[2].Value.Split([| ' '; '\t' |], StringSplitOptions.RemoveEmptyEntries) |> List.ofArray
        match words with
        | "provenance" :: studies -> yield! studies
        | "pair" :: a :: _ :: b :: _ -> yield a; yield b
        | _ :: s :: _ -> yield s
        | _ -> () ]
    |> List.distinct

/// The page with every directive's block re-rendered; text outside the blocks is kept as it is.
let fill (src: Sources) (page: string) : string =
    blockPattern.Replace(page, MatchEvaluator(fun m ->
        let kind, directive = m.Groups[1].Value, m.Groups[2].Value.Trim()
        let body = render src kind directive
        if kind = "table" then sprintf "<!-- table: %s -->\n%s\n<!-- /table -->" directive body
        else sprintf "<!-- value: %s -->%s<!-- /value -->" directive body))
