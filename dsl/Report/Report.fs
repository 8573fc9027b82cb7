/// Reports of a study run: Markdown and CSV tables from the Summary frames.
module WarmStart.Report

open System
open System.Globalization
open System.IO
open Deedle

/// A frame as a GitHub-flavoured Markdown table (numbers to 4 decimals).
let markdownTable (f: Frame<'R, string>) =
    let cols = f.ColumnKeys |> List.ofSeq
    let rows =
        [ for r in f.RowKeys ->
            let row = f.Rows[r]
            [ for c in cols ->
                match row.TryGet c with
                | OptionalValue.Present(:? float as x) when Double.IsNaN x -> "–"
                | OptionalValue.Present(:? float as x) -> x.ToString("F4", CultureInfo.InvariantCulture)
                | OptionalValue.Present(:? bool as b) -> (if b then "yes" else "")
                | OptionalValue.Present v -> Convert.ToString(v, CultureInfo.InvariantCulture)
                | _ -> "" ] ]
    let line (cells: string list) = "| " + String.concat " | " cells + " |"
    String.concat "\n" (line cols :: line (cols |> List.map (fun _ -> "---")) :: (rows |> List.map line))

/// The whole Markdown report of a study run: settings, per-arm table, paired gaps vs fresh, node tally.
let markdown (r: StudyResult) =
    let s = r.Study
    let gap =
        if Summary.hasFreshReference s then
            [ sprintf "## Paired gap vs %s (test accuracy, per-seed differences, 95 %% t-interval)" (Summary.freshArm r); ""
              markdownTable (Summary.gapVsFresh r); "" ]
        else []
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
