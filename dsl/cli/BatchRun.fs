/// Batch runs of a folder of studies (CI): every .fsx under the folder, one after the other, with a one-line
/// tally `studies: N passed, N failed`, a non-zero exit code on any failure, and optional JUnit XML.
module WarmStart.Cli.BatchRun

open System
open System.Diagnostics
open System.IO
open System.Xml.Linq

/// One script's outcome.
type Outcome = { Script: string; ExitCode: int; Seconds: float }

/// The scripts of a folder (recursively, sorted), optionally those whose relative path contains `filter`.
let scripts (folder: string) (filter: string option) =
    Directory.GetFiles(folder, "*.fsx", SearchOption.AllDirectories)
    |> Array.map (fun p -> Path.GetRelativePath(folder, p), p)
    |> Array.filter (fun (rel, _) -> match filter with Some f -> rel.Contains(f, StringComparison.OrdinalIgnoreCase) | None -> true)
    |> Array.sortBy fst
    |> List.ofArray

/// A JUnit XML document of the outcomes (one testcase per script; a failure element on non-zero exit).
let junit (outcomes: Outcome list) =
    let failures = outcomes |> List.filter (fun o -> o.ExitCode <> 0) |> List.length
    let x n = XName.Get n
    XDocument(
        XElement(x "testsuites",
            XElement(x "testsuite",
                XAttribute(x "name", "studies"), XAttribute(x "tests", outcomes.Length), XAttribute(x "failures", failures),
                XAttribute(x "time", (outcomes |> List.sumBy (fun o -> o.Seconds)).ToString("F3", Globalization.CultureInfo.InvariantCulture)),
                [ for o in outcomes ->
                    XElement(x "testcase",
                        XAttribute(x "classname", "studies"), XAttribute(x "name", o.Script),
                        XAttribute(x "time", o.Seconds.ToString("F3", Globalization.CultureInfo.InvariantCulture)),
                        (if o.ExitCode <> 0 then [ XElement(x "failure", XAttribute(x "message", sprintf "exit code %d" o.ExitCode)) ] else [])) ])))

/// Runs the folder's scripts with `runOne`; prints the tally; returns 0 when all passed, 1 otherwise
/// (and 1 when nothing matched, so a mistyped filter never looks like success).
let run (folder: string) (filter: string option) (listOnly: bool) (junitFile: string option) (runOne: string -> int) =
    let found = scripts folder filter
    if listOnly then
        for rel, _ in found do printfn "%s" rel
        0
    elif found.IsEmpty then
        eprintfn "error: no study scripts (.fsx) under %s%s" folder (match filter with Some f -> sprintf " matching '%s'" f | None -> "")
        1
    else
        let outcomes =
            [ for rel, path in found ->
                printfn "== %s" rel
                let sw = Stopwatch.StartNew()
                let code = runOne path
                let o = { Script = rel; ExitCode = code; Seconds = sw.Elapsed.TotalSeconds }
                printfn "== %s: %s (%.1fs)" rel (if code = 0 then "passed" else sprintf "FAILED, exit code %d" code) o.Seconds
                o ]
        junitFile |> Option.iter (fun f ->
            let full = Path.GetFullPath f
            Directory.CreateDirectory(Path.GetDirectoryName full) |> ignore
            (junit outcomes).Save full)
        let failed = outcomes |> List.filter (fun o -> o.ExitCode <> 0)
        for o in failed do printfn "failed: %s" o.Script
        printfn "studies: %d passed, %d failed" (outcomes.Length - failed.Length) failed.Length
        if failed.IsEmpty then 0 else 1
