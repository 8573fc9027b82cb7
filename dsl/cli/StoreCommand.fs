/// `warmstart store verify STORE [--repair]` and `warmstart store reproduce STORE [--study S] [--sample N]`: proof
/// that what a result store returns is what was trained. Compiled before Args.fs, which refers to `StoreArgs`.
module WarmStart.Cli.StoreCommand

open Argu
open WarmStart

type StoreVerifyArgs =
    | [<MainCommand; ExactlyOnce>] Store of dir: string
    | Repair
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Store _ -> "the result store to check."
            | Repair -> "move corrupt versions into their node's corrupt/ folder (never deleting results) and remove orphaned scratch."

type StoreReproduceArgs =
    | [<MainCommand; ExactlyOnce>] Store of dir: string
    | Study of name: string
    | Sample of n: int
    | Data_Root of dir: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Store _ -> "the result store whose nodes to re-train."
            | Study _ -> "only nodes of this study (its folder name under studies/, e.g. quickstart.quick)."
            | Sample _ -> "re-train this many nodes, picked by a fixed-seed shuffle (default 3)."
            | Data_Root _ -> "folder holding datasets (searched before $WARMSTART_DATA, the user cache and /usr/share/datasets)."

[<CliPrefix(CliPrefix.None)>]
type StoreArgs =
    | [<CustomCommandLine("verify")>] Verify of ParseResults<StoreVerifyArgs>
    | [<CustomCommandLine("reproduce")>] Reproduce of ParseResults<StoreReproduceArgs>
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Verify _ -> "check every node version (manifest, hashes, JSON), scratch of killed writers and study indexes; ends with `N ok, N corrupt, N orphaned`."
            | Reproduce _ -> "re-train sampled nodes from their recorded parents under their recorded provenance and compare bit for bit."

/// Dispatches `warmstart store …`; exit 0 when the store is sound (or reproduces), 1 on problems, 2 on bad usage.
let run (args: ParseResults<StoreArgs>) : int =
    match args.TryGetSubCommand() with
    | Some (Verify a) -> StoreVerify.run (a.GetResult StoreVerifyArgs.Store) (a.Contains StoreVerifyArgs.Repair) (printfn "%s")
    | Some (Reproduce a) ->
        let n = a.GetResult(StoreReproduceArgs.Sample, defaultValue = 3)
        if n < 1 then
            eprintfn "error: --sample %d: must be ≥ 1" n
            2
        else
            WarmStart.Core.Native.TorchRuntime.EnsureLoaded()
            Reproduce.run (a.GetResult StoreReproduceArgs.Store) (a.TryGetResult StoreReproduceArgs.Study) n
                (a.TryGetResult StoreReproduceArgs.Data_Root) (printfn "%s")
    | None ->
        eprintfn "%s" (args.Parser.PrintUsage(message = "a subcommand is needed: verify STORE or reproduce STORE"))
        2
