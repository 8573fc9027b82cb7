module WarmStart.Tests.Dsl.DocsTests

open System
open System.Diagnostics
open System.IO
open System.Text.RegularExpressions
open Expecto
open WarmStart.Tests.Fixtures

/// A block whose first line is this comment is a fragment, not checked (counted and listed; keep them rare).
[<Literal>]
let SkipMarker = "// docs-check: skip"

/// The ```fsharp blocks of a Markdown file: (first line number, lines).
let fsharpBlocks (path: string) =
    let lines = File.ReadAllLines path
    [ let mutable i = 0
      while i < lines.Length do
          if lines[i].Trim() = "```fsharp" then
              let start = i + 1
              let mutable j = start
              while j < lines.Length && lines[j].Trim() <> "```" do j <- j + 1
              yield start + 1, lines[start .. j - 1] |> List.ofArray
              i <- j + 1
          else i <- i + 1 ]

/// Runs `dotnet fsi` with arguments and optional stdin, bounded by a timeout: (exit code, stdout + stderr).
let private fsi (args: string list) (stdin: string option) (timeoutMs: int) =
    let psi = ProcessStartInfo("dotnet", RedirectStandardOutput = true, RedirectStandardError = true,
                               RedirectStandardInput = stdin.IsSome, UseShellExecute = false)
    psi.ArgumentList.Add "fsi"
    for a in args do psi.ArgumentList.Add a
    psi.WorkingDirectory <- repoRoot.Value
    use p = Process.Start psi
    let out = p.StandardOutput.ReadToEndAsync()
    let err = p.StandardError.ReadToEndAsync()
    stdin |> Option.iter (fun s -> p.StandardInput.Write s; p.StandardInput.Close())
    if not (p.WaitForExit timeoutMs) then
        p.Kill true
        failtestf "dotnet fsi did not finish within %d s" (timeoutMs / 1000)
    p.ExitCode, out.Result + err.Result

[<Tests>]
let tests =
    testList "docs" [
        test "every ```fsharp block of README.md and studies/README.md type-checks (dotnet fsi --typecheck-only)" {
            let root = repoRoot.Value
            let blocks =
                [ for doc in [ "README.md"; "studies/README.md" ] do
                    for line, body in fsharpBlocks (Path.Combine(root, doc)) -> doc, line, body ]
            Expect.isNonEmpty blocks "the docs have F# blocks"
            let skipped, checkedBlocks = blocks |> List.partition (fun (_, _, body) -> match body with first :: _ -> first.Trim().StartsWith SkipMarker | [] -> true)
            // One script, one module per block (so names may repeat across blocks); the prelude loaded once.
            let sb = Text.StringBuilder()
            sb.AppendLine(sprintf "#load \"%s\"" (Path.Combine(root, "dsl", "WarmStart.fsx"))) |> ignore
            let origin = Collections.Generic.List<int * string>()   // script line → "doc:line"
            let emit (s: string) (where: string) = sb.AppendLine s |> ignore; origin.Add(origin.Count + 2, where)
            for i, (doc, line, body) in List.indexed checkedBlocks do
                emit (sprintf "module DocBlock%d =" i) (sprintf "%s:%d" doc line)
                for k, l in List.indexed body do
                    // The prelude is loaded above; a block's own #load of it is relative to where it lives.
                    let l = if Regex.IsMatch(l, "^\\s*#load\\s+\".*WarmStart\\.fsx\"") then "" else l
                    emit ("    " + l) (sprintf "%s:%d" doc (line + k))
                emit "    ()" (sprintf "%s:%d" doc line)
            use d = new TempDir()
            let script = d.File "docs.fsx"
            File.WriteAllText(script, sb.ToString())
            let code, out = fsi [ "--typecheck-only"; script ] None 240000
            // Map the script's line numbers in errors back to the docs.
            let mapped =
                Regex.Replace(out, "docs\\.fsx\\((\\d+),", fun m ->
                    let n = int m.Groups[1].Value
                    match origin |> Seq.tryFind (fun (l, _) -> l = n) with
                    | Some(_, w) -> sprintf "%s (script line %d)," w n
                    | None -> m.Value)
            Expect.equal code 0 (sprintf "F# blocks of the docs do not type-check:\n%s" mapped)
            printfn "docs: %d F# blocks type-checked; %d skipped as fragments%s" checkedBlocks.Length skipped.Length
                (skipped |> List.map (fun (doc, line, _) -> sprintf " %s:%d" doc line) |> String.concat ",")
            Expect.isLessThanOrEqual skipped.Length 2 "fragment marks stay rare"
        }
        test "the REPL prints a study, a plan, a result and frames readably; Deedle's Stats is not shadowed" {
            use d = new TempDir()
            let csv = d.File "runs.csv"
            let session =
                String.concat "\n"
                    [ "#load \"dsl/WarmStart.fsx\";;"
                      "open Deedle;;"
                      "open WarmStart;;"
                      "let s = study \"repl\" { data fashion_mnist; model (mlp [ 16 ]); optimizer (adam 1e-3); train_until (train_accuracy 0.9) (max_epochs 1); seeds 2; schedule (fractions [ 0.5; 1.0 ]); arm \"fresh\" fresh; arm \"warm\" warm };;"
                      "Plan.ofStudy s;;"
                      sprintf "let r = s |> Study.runFromArgs [| \"--quick\"; \"--threads\"; \"1\"; \"--out\"; \"%s\" |];;" (d.File "store")
                      "let runs = Summary.runs r;;"
                      "(runs |> Frame.filterRowsBy \"Stage\" 2).GetColumn<float>(\"TestAcc\") |> Stats.mean;;"
                      sprintf "Summary.saveCsv \"%s\" runs;;" csv
                      "#quit;;"; "" ]
            let _, out = fsi [] (Some session) 280000
            Expect.isFalse (out.Contains "error FS") (sprintf "no compile error:\n%s" out)
            for text, what in
                [ "val s: Study =\n  study \"repl\": fashion-mnist", "a study as its declaration"
                  "training nodes (a run per arm would train", "a plan as its description"
                  "val r: StudyResult =\n  study 'repl' (quick mode):", "a result's header"
                  "test acc %", "summary tables with plain names"
                  "paired gap vs fresh:", "the paired gaps"
                  "val runs: Frame<int,string> =", "a frame" ] do
                Expect.stringContains (out.Replace("\r", "")) text what
            Expect.isFalse (out.Contains "IsEmpty = false") "no raw object dump"
            Expect.isTrue (Regex.IsMatch(out, "val it: float = 0\\.\\d+")) "Deedle's Stats.mean over a column"
            Expect.equal (File.ReadAllLines csv).Length (1 + 2 * 2 * 2) "CSV: header + arms × stages × seeds"
        }
    ]
