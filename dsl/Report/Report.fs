/// Reports of a study run: Markdown and CSV tables from the Summary frames.
module WarmStart.Report

open System
open System.Globalization
open System.IO
open Deedle

/// A frame as a GitHub-flavoured Markdown table (plain column names, percent, merged intervals: see `Display`).
let markdownTable (f: Frame<'R, string>) = Display.markdown f

/// The whole Markdown report of a study run: settings, per-arm table, paired gaps vs fresh, node tally.
let markdown (r: StudyResult) =
    let s = r.Study
    let gap =
        if Summary.hasFreshReference s then
            [ sprintf "## Paired gap vs %s (test accuracy, per-seed differences, 95 %% t-interval)" (Summary.freshArm r); ""
              markdownTable (Summary.gapVsFresh r); "" ]
        else []
    // Task streams: first vs last tasks per arm, and paired gaps over the last tasks vs the first arm.
    let streams =
        if not (Summary.hasStreams r) || r.Study.Arms.Length = 0 then []
        else
            let first = r.Study.Arms.Head.Name
            [ "## Task streams: accuracy over the first and the last 10 % of the tasks (per-seed change, 95 % t-interval)"; ""
              markdownTable (Summary.plasticityLoss r); ""
              if r.Study.Arms.Length > 1 then
                  sprintf "## Task streams: paired gap vs %s over the last 10 %% of the tasks" first; ""
                  markdownTable (Summary.streamGapVs first r); "" ]
    String.concat "\n"
        ([ sprintf "# Study `%s`%s" s.Name (if r.Quick then " (quick mode)" else "")
           ""
           sprintf "%s · %s · %s · batch %d · %s · %d seeds · schedule %A"
               s.Data.Name (Describe.model s.Model) (Describe.optimizer s.Optimizer) s.BatchSize (Describe.stop s.Stop) s.Seeds s.Schedule
           ""
           "Arms: " + (s.Arms |> List.map (fun a -> sprintf "`%s` (%s)" a.Name (Describe.policy a.Policy)) |> String.concat ", ")
           ""
           "## Test accuracy by arm and stage (mean, sample sd, n, 95 % t-interval)"
           ""
           markdownTable (Summary.byArm r)
           "" ]
         @ gap
         @ streams
         @ [ sprintf "%d of %d nodes have results." r.Results.Count r.Plan.Nodes.Length; "" ])

/// Writes report.md (format "md") or the three CSV tables (format "csv") into `dir`; returns the files written.
let write (format: string) (dir: string) (r: StudyResult) =
    Directory.CreateDirectory dir |> ignore
    match format with
    | "md" ->
        let path = Path.Combine(dir, r.Study.Name + ".md")
        File.WriteAllText(path, markdown r)
        [ path ]
    | "csv" ->
        let paths = [ "runs.csv"; "by-arm.csv"; "gap-vs-fresh.csv" ] |> List.map (fun f -> Path.Combine(dir, r.Study.Name + "." + f))
        Summary.saveCsv paths[0] (Summary.runs r)
        Summary.saveCsv paths[1] (Summary.byArm r)
        if Summary.hasFreshReference r.Study then
            Summary.saveCsv paths[2] (Summary.gapVsFresh r)
            paths
        else paths |> List.take 2
    | other -> invalidArg "format" (sprintf "report format '%s' is not known; allowed: md, csv" other)
