/// `warmstart run` and `warmstart plan`: a study script runs as a `dotnet fsi` child process (fast to start,
/// isolates native crashes, and the script reads its options from fsi.CommandLineArgs).
module WarmStart.Cli.ScriptCommand

open System
open System.Diagnostics
open System.IO
open Argu
open WarmStart.Cli.Args

/// Lines of an fsi failure worth showing a user: the exception's message without the stack trace and fsi's
/// "Stopped due to error"; our own error types lose their .NET type prefix.
let cleanStderr (text: string) =
    text.Split('\n')
    |> Array.map (fun l -> l.TrimEnd '\r')
    |> Array.filter (fun l -> not (l.StartsWith "   at ") && l <> "Stopped due to error" && l.Trim() <> "")
    |> Array.map (fun l ->
        let prefixes =
            [ "WarmStart.StudyValidationError: "; "WarmStart.Core.Data.DatasetNotFoundException: "
              "WarmStart.Core.Data.DataFormatException: "; "System.ArgumentException: " ]
        match prefixes |> List.tryFind l.StartsWith with
        | Some p -> "error: " + l.Substring p.Length
        | None -> l)
    |> String.concat "\n"

/// Runs `dotnet fsi script -- args`; stdout streams through, stderr is cleaned on failure. Returns the exit code.
let runScript (script: string) (args: string list) =
    if not (File.Exists script) then
        eprintfn "error: study script '%s' not found" script
        1
    elif not (script.EndsWith(".fsx", StringComparison.OrdinalIgnoreCase)) then
        eprintfn "error: '%s' is not an F# script (.fsx)" script
        1
    else
        let psi = ProcessStartInfo("dotnet", RedirectStandardError = true, UseShellExecute = false)
        for a in [ "fsi"; Path.GetFullPath script; "--" ] @ args do psi.ArgumentList.Add a
        use p = Process.Start psi
        let err = p.StandardError.ReadToEndAsync()
        p.WaitForExit()
        let stderr = err.Result
        if p.ExitCode <> 0 then
            let cleaned = cleanStderr stderr
            if cleaned <> "" then eprintfn "%s" cleaned
        elif stderr.Trim() <> "" then eprintf "%s" stderr
        p.ExitCode

let private optionArgs (quick: bool) (seeds: int option) =
    [ if quick then "--quick"
      match seeds with Some n -> yield! [ "--seeds"; string n ] | None -> () ]

/// The study options passed through to every script.
let private studyArgs (a: ParseResults<RunArgs>) =
    optionArgs (a.Contains RunArgs.Quick) (a.TryGetResult RunArgs.Seeds)
    @ [ match a.TryGetResult RunArgs.Out with Some d -> yield! [ "--out"; d ] | None -> ()
        match a.TryGetResult RunArgs.Data_Root with Some d -> yield! [ "--data-root"; d ] | None -> ()
        match a.TryGetResult RunArgs.Device with Some d -> yield! [ "--device"; d ] | None -> ()
        match a.TryGetResult RunArgs.Threads with Some n -> yield! [ "--threads"; string n ] | None -> ()
        match a.TryGetResult RunArgs.Jobs with Some n -> yield! [ "--jobs"; string n ] | None -> ()
        if a.Contains RunArgs.Rerun then "--rerun"
        if a.Contains RunArgs.Fetch then "--fetch"
        match a.TryGetResult RunArgs.Checkpoint with Some n -> yield! [ "--checkpoint"; string n ] | None -> () ]

/// `warmstart run TARGET …`: one script, or every script of a folder (batch mode).
let run (a: ParseResults<RunArgs>) =
    let target = a.GetResult RunArgs.Target
    if Directory.Exists target then
        BatchRun.run target (a.TryGetResult RunArgs.Filter) (a.Contains RunArgs.List) (a.TryGetResult RunArgs.Junit)
            (fun script -> runScript script (studyArgs a))
    else
        if a.Contains RunArgs.Filter || a.Contains RunArgs.List || a.Contains RunArgs.Junit then
            eprintfn "note: --filter, --list and --junit apply to a folder of studies; '%s' is a single script" target
        runScript target (studyArgs a)

/// `warmstart plan SCRIPT [--quick] [--seeds N]`.
let plan (a: ParseResults<PlanArgs>) =
    runScript (a.GetResult PlanArgs.Script) (optionArgs (a.Contains PlanArgs.Quick) (a.TryGetResult PlanArgs.Seeds) @ [ "--plan" ])
