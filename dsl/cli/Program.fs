module WarmStart.Cli.Program

open System
open Argu
open WarmStart.Core.Data
open WarmStart.Cli.Args

/// Exit codes: 0 success, 1 a user-facing failure (missing data, bad file, impossible spec), 2 bad usage.
[<EntryPoint>]
let main argv =
    let parser = ArgumentParser.Create<Command>(programName = "warmstart")
    try
        let results = parser.ParseCommandLine(argv, raiseOnUsage = true)
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
        | Run a -> ScriptCommand.run a
        | Plan a -> ScriptCommand.plan a
        | Report a -> ReportCommand.run a
        | Datasets a -> DataCommand.run a
        | Submit a -> SlurmCommands.submit a
        | Status a -> SlurmCommands.status a
        | Exec_Node a -> SlurmCommands.execNode a
        | Result_Store a -> StoreCommand.run a
        | Version -> 0
    with
    | :? ArguParseException as e ->
        // Help asked for → stdout, exit 0; a wrong option → usage on stderr, exit 2.
        if e.ErrorCode = ErrorCode.HelpText then printfn "%s" e.Message; 0
        else eprintfn "%s" e.Message; 2
    | :? DatasetNotFoundException as e -> eprintfn "error: %s" e.Message; 1
    | :? DataFormatException as e -> eprintfn "error: malformed data file %s" e.Message; 1
    | :? DataVerificationException as e -> eprintfn "error: %s" e.Message; 1
    | :? ArgumentException as e -> eprintfn "error: %s" e.Message; 1
    | :? WarmStart.Core.Runs.StoreException as e -> eprintfn "error: %s" e.Message; 1
    | Failure msg -> eprintfn "error: %s" msg; 1
