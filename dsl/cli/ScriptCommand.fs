/// `warmstart run` and `warmstart plan`: a study script runs as a `dotnet fsi` child process (fast to start,
/// isolates native crashes, and the script reads its options from fsi.CommandLineArgs).
module WarmStart.Cli.ScriptCommand

open System
open System.Diagnostics
open System.IO
open Argu
open WarmStart
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
/// Progress: the child inherits stdout, so when the user sits at a terminal the child draws the live bars there
/// itself, told so by WARMSTART_TTY=1 (its stderr is a pipe to us, which would make it fall back to plain lines).
/// The child renders rather than us from a progress stream: the display is the one `dotnet fsi study.fsx` shows,
/// with no protocol between the processes, and a script's own output (tables, prints) keeps its place in the stream.
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
        if Progress.userAtTerminal () then psi.Environment[Progress.TerminalVariable] <- "1"
        else psi.Environment.Remove Progress.TerminalVariable |> ignore
        use p = Process.Start psi
        let err = p.StandardError.ReadToEndAsync()
        p.WaitForExit()
        let stderr = err.Result
        if p.ExitCode <> 0 then
            let cleaned = cleanStderr stderr
            if cleaned <> "" then eprintfn "%s" cleaned
        elif stderr.Trim() <> "" then eprintf "%s" stderr
        p.ExitCode

/// An option's command-line names and whether it takes a value, for every case of an Argu union.
let private optionTable (parser: ArgumentParser) =
    [ for c in parser.GetArgumentCases() do
        if not c.IsMainCommand then
            for n in c.CommandLineNames.Value -> n, c.UnionCaseInfo.GetFields().Length > 0 ]
    |> Map.ofList

/// A subcommand's arguments split into its own (for `own`, an Argu parser) and the study options, passed on to the
/// script untouched and in order. A word that is neither gets "did you mean" over both sets of options.
let split (own: ArgumentParser) (args: string list) : Result<string list * string list, string> =
    let mine = optionTable own
    let study = optionTable (StudyOptions.parser "study")
    let rec go ownArgs studyArgs (args: string list) =
        match args with
        | [] -> Ok(List.rev ownArgs, List.rev studyArgs)
        // `--name=value` (Argu's equals form, e.g. --sbatch-arg=--constraint=a100) goes whole to its owner.
        | a :: rest when a.StartsWith "--" && a.Contains '=' && mine.ContainsKey(a.Substring(0, a.IndexOf '=')) ->
            go (a :: ownArgs) studyArgs rest
        | a :: rest when a.StartsWith "--" && a.Contains '=' && study.ContainsKey(a.Substring(0, a.IndexOf '=')) ->
            go ownArgs (a :: studyArgs) rest
        | a :: rest when mine.ContainsKey a ->
            match mine[a], rest with
            | true, v :: rest' -> go (v :: a :: ownArgs) studyArgs rest'
            | _ -> go (a :: ownArgs) studyArgs rest
        | a :: rest when study.ContainsKey a ->
            match study[a], rest with
            | true, v :: rest' -> go ownArgs (v :: a :: studyArgs) rest'
            | _ -> go ownArgs (a :: studyArgs) rest
        | a :: _ when a.StartsWith "-" && a.Length > 1 && not (Char.IsDigit a[1]) ->
            match CommandLine.suggest (Seq.append mine.Keys study.Keys |> Seq.append [ "--help"; "-h" ]) a with
            | Some s -> Error(sprintf "unknown option '%s'; did you mean %s?" a s)
            | None -> Error(sprintf "unknown option '%s'" a)
        | a :: rest -> go (a :: ownArgs) studyArgs rest
    go [] [] args

/// The usage of a script subcommand: its own options, then the study options (from the one `StudyArgs` union).
let usage (own: ArgumentParser) =
    sprintf "%s\nSTUDY OPTIONS (passed on to the script):\n\n%s" (own.PrintUsage())
        ((StudyOptions.parser "study").PrintUsage().Split('\n') |> Array.skipWhile (fun l -> not (l.StartsWith "OPTIONS:")) |> Array.skip 2
         |> Array.filter (fun l -> not (l.TrimStart().StartsWith "--help"))
         |> String.concat "\n")

/// Parses a script subcommand: `Ok (own results, study options)`, or the exit code after printing the usage
/// (`--help`/`-h`: stdout, 0) or an error (stderr, 2).
let parse<'T when 'T :> IArgParserTemplate> (programName: string) (args: string list) : Result<ParseResults<'T> * string list, int> =
    let own = ArgumentParser.Create<'T>(programName = programName)
    if args |> List.exists (fun a -> a = "--help" || a = "-h") then
        printfn "%s" (usage own)
        Error 0
    else
        match split own args with
        | Error e ->
            eprintfn "error: %s\n(%s --help lists the options)" e programName
            Error 2
        | Ok(mine, study) ->
            match StudyOptions.parseAs programName (Array.ofList study) with
            | BadOptions e ->
                eprintfn "error: %s" e
                Error 2
            | _ ->
                try Ok(own.ParseCommandLine(Array.ofList mine, raiseOnUsage = true), study)
                with :? ArguParseException as e ->
                    eprintfn "error: %s" (CommandLine.explain own e (sprintf "(%s --help lists the options)" programName))
                    Error 2

/// `warmstart run TARGET …`: one script, or every script of a folder (batch mode); study options pass through.
let run (args: string list) =
    match parse<RunArgs> "warmstart run" args with
    | Error code -> code
    | Ok(a, study) ->
    let target = a.GetResult RunArgs.Target
    if Directory.Exists target then
        BatchRun.run target (a.TryGetResult RunArgs.Filter) (a.Contains RunArgs.List) (a.TryGetResult RunArgs.Junit)
            (fun script -> runScript script study)
    else
        if a.Contains RunArgs.Filter || a.Contains RunArgs.List || a.Contains RunArgs.Junit then
            eprintfn "note: --filter, --list and --junit apply to a folder of studies; '%s' is a single script" target
        runScript target study

/// `warmstart plan SCRIPT [study options]`: the script's plan (with `--quick`, the quick variant's).
let plan (args: string list) =
    match parse<PlanArgs> "warmstart plan" args with
    | Error code -> code
    | Ok(a, study) -> runScript (a.GetResult PlanArgs.Script) (study @ [ "--plan" ])
