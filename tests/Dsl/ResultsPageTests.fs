module WarmStart.Tests.Dsl.ResultsPageTests

open System
open System.Globalization
open System.IO
open Expecto
open WarmStart
open WarmStart.Tests.Fixtures

/// A real study small enough for CI: three paired seeds (so intervals exist), two epochs per stage (so every run
/// stops at its cap and the "not converged" marks show).
let private tiny () =
    study "page" {
        data fashion_mnist
        model (mlp [ 32 ])
        optimizer (adam 1e-3)
        train_until (train_accuracy 0.99) (max_epochs 10)
        seeds 3
        arm "fresh" fresh
        arm "warm" warm
        arm "sp" (shrink_perturb 0.6 0.01)
        quick_subset 600
        quick_max_epochs 2
        quick_seeds 3
        threads 1
    }

/// The rows of the first Markdown table in `text`, header first, cells trimmed.
let private tableRows (text: string) =
    text.Split('\n')
    |> Array.filter (fun l -> l.StartsWith "|" && not (l.StartsWith "| ---"))
    |> Array.map (fun l -> l.Trim().Trim('|').Split('|') |> Array.map (fun c -> c.Trim()) |> List.ofArray)
    |> List.ofArray

let private num (s: string) = Double.Parse(s.Replace("+", ""), CultureInfo.InvariantCulture)

/// "[a, b]" as two numbers.
let private bounds (s: string) =
    match s.Trim('[', ']').Split(", ") with
    | [| a; b |] -> num a, num b
    | _ -> failtestf "'%s' is not an interval" s

/// A shown percentage (two decimals) equals the Summary's fraction.
let private samePct (shown: string) (fraction: float) what =
    Expect.floatClose { absolute = 0.0051; relative = 0.0 } (num shown) (100.0 * fraction) what

/// A shown interval "[lo, hi]" (percent, two decimals) equals the Summary's fractions.
let private sameInterval (shown: string) (low: float) (high: float) what =
    let lo, hi = bounds shown
    samePct (string lo) low (what + " low")
    samePct (string hi) high (what + " high")

let private column (header: string list) (name: string) =
    match List.tryFindIndex ((=) name) header with
    | Some i -> i
    | None -> failtestf "no column '%s' in %A" name header

let private sources (r: StudyResult) (command: string) : ResultsPage.Sources =
    { Study = fun n -> if n = r.Study.Name || n = "page.quick" then r else failtestf "unknown study %s" n
      Provenance = fun _ -> [ "provenance: 5 nodes: toolkit 1.0, TorchSharp 0.107.0, cpu, 1 thread, single engine, 1.0 s wall in all" ]
      Command = fun _ -> Some command }

let private between (page: string) (directive: string) =
    let start = page.IndexOf(sprintf "<!-- table: %s -->" directive)
    let stop = page.IndexOf("<!-- /table -->", start)
    page.Substring(start, stop - start)

[<Tests>]
let tests =
    withoutRetries <| testSequenced (testList "report.page" [
        test "a page rendered from a quick store shows the Summary's numbers, marks the capped runs, and re-renders identically" {
            use d = new TempDir()
            let r0 = tiny () |> Study.runWith { Study.defaultOptions with Quick = true; Out = d.Path }
            let name = WarmStart.Core.Runs.ResultStore(d.Path).Studies() |> Seq.exactlyOne
            // What the page generator reads: the study loaded back from its store.
            let r = Study.load d.Path name
            Expect.equal r.Results.Count r0.Results.Count "every node read back from the store"
            let page =
                String.concat "\n"
                    [ "# prose kept as it is"; ""
                      sprintf "<!-- table: byarm %s -->" name; "stale"; "<!-- /table -->"; ""
                      sprintf "<!-- table: gap %s -->" name; "<!-- /table -->"; ""
                      sprintf "<!-- table: pair %s warm %s fresh -->" name name; "<!-- /table -->"; ""
                      sprintf "Warm: <!-- value: gap %s warm 2 -->old<!-- /value -->." name; ""
                      sprintf "<!-- table: provenance %s -->" name; "<!-- /table -->"; "end of page" ]
            let src = { sources r "./warmstart run x.fsx --quick" with Study = fun _ -> r }
            let filled = ResultsPage.fill src page
            Expect.stringStarts filled "# prose kept as it is\n" "text before the blocks kept"
            Expect.stringEnds filled "end of page" "text after the blocks kept"
            Expect.isFalse (filled.Contains "stale") "the old block content replaced"
            Expect.equal (ResultsPage.fill src filled) filled "rendering again gives the same page"

            // By arm: every row's numbers are Summary.byArmRows'.
            let byArm = Summary.byArmRows r
            match tableRows (between filled (sprintf "byarm %s" name)) with
            | header :: rows ->
                Expect.equal rows.Length byArm.Length "one row per arm × stage"
                let c = column header
                for row, a in List.zip rows byArm do
                    Expect.equal row[c "arm"] a.Arm "arm"
                    Expect.equal row[c "step"] a.Step "step"
                    Expect.equal (int row[c "n"]) a.N "n"
                    samePct row[c "test acc %"] a.TestAccMean "mean"
                    sameInterval row[c "95% CI"] a.TestAccCiLow a.TestAccCiHigh "CI"
                    Expect.floatClose { absolute = 0.051; relative = 0.0 } (num row[c "epochs"]) a.EpochsMean "epochs"
                    Expect.equal (int row[c "not converged"]) a.NotConverged "not converged"
                    Expect.equal a.NotConverged a.N "two epochs never reach 99 %: every run is counted as not converged"
            | [] -> failtest "no by-arm table"
            Expect.stringContains (between filled (sprintf "byarm %s" name))
                (sprintf "*not converged*: %d trainings of this table stopped at the epoch cap" r.Results.Count) "the capped trainings are said under the table, a shared stage-1 node once"

            // Gaps: t and bootstrap intervals are Summary.gapVsRows'.
            let gaps = Summary.gapVsRows "fresh" r
            match tableRows (between filled (sprintf "gap %s" name)) with
            | header :: rows ->
                Expect.equal rows.Length gaps.Length "one row per arm × stage after the first"
                let c = column header
                for row, g in List.zip rows gaps do
                    Expect.equal row[c "arm"] g.Arm "arm"
                    samePct row[c "gap (pts)"] g.GapMean "gap"
                    sameInterval row[c "95% CI (t)"] g.GapCiLow g.GapCiHigh "t"
                    sameInterval row[c "95% CI (bootstrap)"] g.GapBootLow g.GapBootHigh "bootstrap"
                    Expect.equal (int row[c "not converged"]) (2 * g.N) "the arm's and fresh's runs of every pair hit the cap"
            | [] -> failtest "no gap table"

            // The cross-study pair table, here a study against itself: both sides' means and the warm gap.
            match tableRows (between filled (sprintf "pair %s warm %s fresh" name name)) with
            | header :: [ row ] ->
                let c = column header
                let g = gaps |> List.find (fun g -> g.Arm = "warm")
                let mean arm = byArm |> List.find (fun a -> a.Arm = arm && a.Stage = 2) |> fun a -> a.TestAccMean
                samePct row[c (sprintf "%s warm test acc %%" r.Study.Name)] (mean "warm") "side A mean"
                samePct row[c (sprintf "%s fresh test acc %%" r.Study.Name)] (mean "fresh") "side B mean"
                samePct row[c "gap (pts)"] g.GapMean "pair gap"
                sameInterval row[c "95% CI (t)"] g.GapCiLow g.GapCiHigh "pair t"
            | rows -> failtestf "pair table: expected a header and one row, got %A" rows

            // The inline value is the warm row's gap.
            let w = gaps |> List.find (fun g -> g.Arm = "warm")
            Expect.stringContains filled
                (sprintf "%s points (95 %% CI [%s, %s] t" (Display.number 2 true (100.0 * w.GapMean))
                    (Display.number 2 true (100.0 * w.GapCiLow)) (Display.number 2 true (100.0 * w.GapCiHigh))) "inline gap"
            Expect.stringContains filled "Command: `./warmstart run x.fsx --quick`" "the command"
            Expect.stringContains filled "TorchSharp 0.107.0" "the provenance"

            // A study paired with itself by seed gives Summary.gapVs exactly.
            for p, g in List.zip (ResultsPage.pairRows (r, "warm") (r, "fresh")) (gaps |> List.filter (fun g -> g.Arm = "warm")) do
                Expect.equal (p.GapMean, p.GapCiLow, p.GapCiHigh, p.GapBootLow, p.GapBootHigh, p.N)
                             (g.GapMean, g.GapCiLow, g.GapCiHigh, g.GapBootLow, g.GapBootHigh, g.N) "pair = gapVs"
        }
        test "an unknown directive, a bad stage and unpairable studies are refused with what is allowed" {
            let s = tiny ()
            let r = { Plan = Plan.ofStudy s; Results = Map.empty; Status = Map.empty; Quick = false; WallSeconds = 0.0 }
            let src = sources r "x"
            let err (f: unit -> string) = try f () |> ignore; "" with :? ArgumentException as e -> e.Message
            let m = err (fun () -> ResultsPage.fill src "<!-- table: bogus page -->\n<!-- /table -->")
            Expect.stringContains m "'table: bogus page' is not known; allowed: table: byarm STUDY [STAGE]" "unknown directive"
            let m = err (fun () -> ResultsPage.fill src "<!-- table: byarm page zero -->\n<!-- /table -->")
            Expect.stringContains m "stage 'zero' is not a stage number; allowed: an integer ≥ 1" "bad stage"
            let other = { r with Plan = Plan.ofStudy { s with Subset = Some 1000 } }
            let m = err (fun () -> ResultsPage.pairRows (r, "warm") (other, "fresh") |> ignore; "")
            Expect.stringContains m "cannot be paired by seed" "different pools"
            let m = err (fun () -> ResultsPage.pairRows (r, "cold") (r, "fresh") |> ignore; "")
            Expect.stringContains m "has no arm 'cold'; arms: fresh, warm, sp" "unknown arm"
            Expect.equal (ResultsPage.studiesOf "<!-- table: pair a x b y -->\n<!-- /table --> <!-- value: gap c warm 2 -->1<!-- /value -->") [ "a"; "b"; "c" ] "studies a page names"
        }
    ])
