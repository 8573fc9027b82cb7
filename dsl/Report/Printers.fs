/// What fsi prints for the toolkit's values (the prelude registers these with `fsi.AddPrinter`): a study as
/// its compact declaration, a plan as its description, a result as its summary tables, a frame as a readable
/// table — instead of hundreds of lines of raw records.
module WarmStart.Printers

open System
open Deedle

/// Frames longer than this print their first rows and a count of the rest.
[<Literal>]
let MaxFrameRows = 40

/// A study in a few lines: data, model, optimiser, batch, stop rule, seeds; schedule; arms; sweeps.
let study (s: Study) =
    let oneLine (o: obj) = Text.RegularExpressions.Regex.Replace(sprintf "%A" o, @"\s+", " ")
    String.concat "\n"
        [ yield sprintf "study \"%s\": %s%s · %s · %s · batch %d · %s · %d seeds"
                  s.Name s.Data.Name (match s.Subset with Some n -> sprintf " (subset %d)" n | None -> "")
                  (Describe.model s.Model) (Describe.optimizer s.Optimizer) s.BatchSize (Describe.stop s.Stop) s.Seeds
          yield sprintf "  schedule: %s" (oneLine s.Schedule)
          yield "  arms: " + (s.Arms |> List.map (fun a -> sprintf "%s (%s)" a.Name (Describe.policy a.Policy)) |> String.concat ", ")
          if not s.Sweeps.IsEmpty then
              yield "  sweeps: " + (s.Sweeps |> List.map (fun (k, vs) -> sprintf "%s ∈ {%s}" k.Name (vs |> List.map (sprintf "%g") |> String.concat ", ")) |> String.concat "; ") ]

/// A frame as `Display`'s table, capped at `MaxFrameRows` rows.
let frame (f: Frame<'R, string>) =
    if f.RowCount <= MaxFrameRows then Display.format f
    else
        let head = f |> Frame.take MaxFrameRows
        sprintf "%s\n… %d more rows (%d in all)" (Display.format head) (f.RowCount - MaxFrameRows) f.RowCount

/// A result as the lines a run ends with: nodes with results, the per-arm table and, when the study has one
/// fresh arm (by policy) and another, the paired gaps against it.
let result (r: StudyResult) =
    String.concat "\n"
        [ yield sprintf "study '%s'%s: %d of %d nodes have results" r.Study.Name (if r.Quick then " (quick mode)" else "") r.Results.Count r.Plan.Nodes.Length
          yield ""
          yield Display.format (Summary.byArm r)
          if Summary.hasFreshReference r.Study then
              yield ""
              yield sprintf "paired gap vs %s:" (Summary.freshArm r)
              yield Display.format (Summary.gapVsFresh r) ]
