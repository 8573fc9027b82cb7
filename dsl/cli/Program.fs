module WarmStart.Cli.Program

open System
open Argu
open WarmStart
open WarmStart.Core.Data
open WarmStart.Cli.Args

/// Exit codes: 0 success, 1 a user-facing failure (missing data, bad file, impossible spec), 2 bad usage.
/// The parser of a subcommand's own options (for "did you mean" over the right names).
let private parserOf (command: string) : ArgumentParser option =
    match command with
    | "train" -> Some(ArgumentParser.Create<TrainArgs>() :> ArgumentParser)
    | "report" -> Some(ArgumentParser.Create<ReportArgs>())
    | "data" -> Some(ArgumentParser.Create<DataCommand.DataArgs>())
    | "status" -> Some(ArgumentParser.Create<StatusArgs>())
    | "exec-node" -> Some(ArgumentParser.Create<ExecNodeArgs>())
    | _ -> None

[<EntryPoint>]
let main argv =
    let parser = ArgumentParser.Create<Command>(programName = "warmstart")
    try
        // Script subcommands parse only their own options and pass the study options (one union in the DSL,
        // `StudyArgs`) on to the script untouched.
        match List.ofArray argv with
        | "run" :: rest -> ScriptCommand.run rest
        | "plan" :: rest -> ScriptCommand.plan rest
        | "submit" :: rest ->
            match ScriptCommand.parse<SubmitArgs> "warmstart submit" rest with
            | Error code -> code
            | Ok(a, study) -> SlurmCommands.submit a study
        | _ ->
        let results = parser.ParseCommandLine(argv, raiseOnUsage = true)
        // Commands that load torch need libtorch, which the dotnet tool fetches on first use (`run` and `plan` do not:
        // their script restores it through its own `#r "nuget: WarmStart.Dsl"`).
        if results.Contains Version || results.TryGetSubCommand() |> Option.exists (function Status _ -> false | _ -> true) then
            ToolNatives.ensure ()
        if results.Contains Version then
            WarmStart.Core.Native.TorchRuntime.EnsureLoaded()
            printfn "warmstart %s, TorchSharp %s, libtorch %s"
                (typeof<Command>.Assembly.GetName().Version.ToString())
                (typeof<TorchSharp.torch>.Assembly.GetName().Version.ToString())
                TorchSharp.torch.__version__
            0
        else
        match results.GetSubCommand() with
        | Train a -> TrainCommand.run a
        | Run _ | Plan _ | Submit _ -> 2   // handled above
        | Report a -> ReportCommand.run a
        | Datasets a -> DataCommand.run a
        | Status a -> SlurmCommands.status a
        | Exec_Node a -> SlurmCommands.execNode a
        | Result_Store a -> StoreCommand.run a
        | Version -> 0
    with
    | :? ArguParseException as e ->
        // Help asked for → stdout, exit 0; a wrong option → usage on stderr, exit 2.
        if e.ErrorCode = ErrorCode.HelpText then printfn "%s" e.Message; 0
        else
            let command = argv |> Array.tryHead |> Option.defaultValue ""
            let own = parserOf command |> Option.defaultValue (parser :> ArgumentParser)
            let hint = if (parserOf command).IsSome then sprintf "(warmstart %s --help lists the options)" command else "(warmstart --help lists the commands)"
            eprintfn "error: %s" (CommandLine.explain own e hint)
            2
    | :? DatasetNotFoundException as e -> eprintfn "error: %s" e.Message; 1
    | :? DataFormatException as e -> eprintfn "error: malformed data file %s" e.Message; 1
    | :? DataVerificationException as e -> eprintfn "error: %s" e.Message; 1
    | :? ArgumentException as e -> eprintfn "error: %s" e.Message; 1
    | :? WarmStart.Core.Runs.StoreException as e -> eprintfn "error: %s" e.Message; 1
    | Failure msg -> eprintfn "error: %s" msg; 1
