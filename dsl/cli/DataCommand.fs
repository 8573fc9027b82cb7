/// `warmstart data list | fetch NAME | verify NAME`: the datasets on this machine, downloads, checksums.
/// Compiled before Args.fs, which refers to `DataArgs` for the `data` subcommand.
module WarmStart.Cli.DataCommand

open System
open System.Net.Http
open System.Threading
open Argu
open WarmStart.Core.Data
open WarmStart.Core.Data.Download

[<HelpFlags("--help", "-h")>]
type DataListArgs =
    | Data_Root of dir: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Data_Root _ -> "also look in this folder (searched before $WARMSTART_DATA, the user cache and /usr/share/datasets)."

[<HelpFlags("--help", "-h")>]
type DataFetchArgs =
    | [<MainCommand; ExactlyOnce>] Dataset of name: string
    | From of url: string
    | Data_Root of dir: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Dataset _ -> "the dataset to download (see `warmstart data list`)."
            | From _ -> "a mirror: a base address the file names are appended to, or the file's own address."
            | Data_Root _ -> "download into this folder (default: $WARMSTART_DATA, else the user cache)."

[<HelpFlags("--help", "-h")>]
type DataVerifyArgs =
    | [<MainCommand; ExactlyOnce>] Dataset of name: string
    | Data_Root of dir: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Dataset _ -> "the dataset to re-check (every file is hashed again)."
            | Data_Root _ -> "look in this folder first."

[<CliPrefix(CliPrefix.None); HelpFlags("--help", "-h")>]
type DataArgs =
    | [<CustomCommandLine("list")>] List_Datasets of ParseResults<DataListArgs>
    | [<CustomCommandLine("fetch")>] Fetch_Dataset of ParseResults<DataFetchArgs>
    | [<CustomCommandLine("verify")>] Verify_Dataset of ParseResults<DataVerifyArgs>
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | List_Datasets _ -> "every known dataset and its status here: verified, system package, unverified, failed or missing."
            | Fetch_Dataset _ -> "download a dataset (resumable), check its published MD5, extract it safely, put it in place."
            | Verify_Dataset _ -> "re-hash a dataset's files against the published checksums (or dpkg's, for a Debian package)."

/// A usage error found after parsing (exit code 2).
exception private BadUsage of string

let private megabytes (b: int64) = sprintf "%.0f MB" (float b / 1048576.0)

let private stateWord =
    function
    | DataState.Missing -> "missing"
    | DataState.Unverified -> "unverified"
    | DataState.Verified -> "verified"
    | DataState.SystemPackage -> "system"
    | DataState.Modified -> "modified"
    | DataState.Failed -> "FAILED"
    | s -> string s

/// `data list`: one line per dataset.
let list (dataRoot: string option) =
    let root = Option.toObj dataRoot
    printfn "data roots, in search order:"
    for (r, origin) in DataRoots.Search root do
        printfn "  %s  (%s)" r origin
    printfn ""
    printfn "%-16s %-11s %-8s %s" "dataset" "status" "size" "where / what to do"
    for name in Catalog.Names do
        let e = Catalog.Get name
        let size = e.DownloadSize |> Option.ofNullable |> Option.map megabytes |> Option.defaultValue "?"
        let st = Catalog.Status(name, root)
        let where =
            match st.State with
            | DataState.Missing -> sprintf "warmstart data fetch %s" name
            | _ -> sprintf "%s  (%s)" st.Folder st.Detail
        printfn "%-16s %-11s %-8s %s" name (stateWord st.State) size where
    0

/// `data verify NAME`: re-hash; 0 when verified (or verified by dpkg), 1 otherwise.
let verify (name: string) (dataRoot: string option) =
    let e = Catalog.Get name
    match Catalog.Locate(name, Option.toObj dataRoot) with
    | null ->
        eprintfn "%s" (Catalog.NotFound(e, Option.toObj dataRoot)).Message
        1
    | dir ->
        printfn "verifying %s in %s" name dir
        let report = Verification.Verify(e, dir)
        for f in report.Files do
            printfn "  %-28s %-10s  %s" f.File (if f.Ok then "ok" elif f.Unverifiable then "unverified" else "FAILED") f.Detail
        printfn "%s: %s" name report.Detail
        match report.State with
        | DataState.Verified | DataState.SystemPackage -> 0
        | _ -> 1

/// `data fetch NAME`: download, check, extract, put in place.
let fetch (name: string) (from: string option) (dataRoot: string option) =
    let e = Catalog.Get name
    let mirror =
        from |> Option.map (fun u ->
            match Uri.TryCreate(u, UriKind.Absolute) with
            | true, uri when uri.Scheme = "http" || uri.Scheme = "https" -> uri
            | _ -> raise (BadUsage(sprintf "--from '%s': not an http(s) address" u)))
    let installed = if dataRoot.IsNone && mirror.IsNone then Catalog.Status(name) else DatasetStatus(name, DataState.Missing, null, "")
    if installed.State = DataState.SystemPackage
       && Verification.Verify(e, installed.Folder).State = DataState.SystemPackage then
        printfn "%s is installed by the Debian package %s in %s and verified by dpkg's md5sums: nothing to fetch" name e.DebianPackage installed.Folder
        printfn "(to download the published files anyway, give --data-root DIR)"
        0
    else
    let root = DataRoots.FetchTarget(Option.toObj dataRoot)
    let printer = ProgressPrinter(Console.Out, not Console.IsOutputRedirected)
    use cts = new CancellationTokenSource()
    let onCancel = ConsoleCancelEventHandler(fun _ a -> a.Cancel <- true; cts.Cancel())
    Console.CancelKeyPress.AddHandler onCancel
    try
        try
            printfn "fetching %s into %s%s" name root (match e.ChecksumSource with null -> "" | s -> sprintf " (checksums: %s)" s)
            let opts = FetchOptions(Mirror = Option.toObj mirror, Progress = Action<_>(printer.Report), Log = Action<string>(printfn "%s"))
            let dir = DatasetFetcher.FetchAsync(e, root, opts, cts.Token).GetAwaiter().GetResult()
            let st = Verification.Quick(e, dir)
            printfn "%s: %s in %s" name (stateWord st.State) dir
            if st.Loadable then 0 else 1
        with
        | :? OperationCanceledException ->
            eprintfn "interrupted; the partial download is kept: run the same command to resume"
            1
        | :? ChecksumMismatchException as ex -> eprintfn "error: %s" ex.Message; 1
        | :? UnsafeArchiveException as ex -> eprintfn "error: %s" ex.Message; 1
        | :? DownloadException as ex -> eprintfn "error: %s" ex.Message; 1
        | :? DataFormatException as ex -> eprintfn "error: malformed download %s" ex.Message; 1
        | :? HttpRequestException as ex -> eprintfn "error: %s" ex.Message; 1
        | :? System.IO.IOException as ex -> eprintfn "error: %s" ex.Message; 1
        | :? UnauthorizedAccessException as ex -> eprintfn "error: %s" ex.Message; 1
    finally
        Console.CancelKeyPress.RemoveHandler onCancel

/// Dispatches `warmstart data …`.
let run (args: ParseResults<DataArgs>) : int =
    try
        match args.TryGetSubCommand() with
        | Some (List_Datasets a) -> list (a.TryGetResult DataListArgs.Data_Root)
        | Some (Fetch_Dataset a) ->
            fetch (a.GetResult DataFetchArgs.Dataset) (a.TryGetResult DataFetchArgs.From) (a.TryGetResult DataFetchArgs.Data_Root)
        | Some (Verify_Dataset a) -> verify (a.GetResult DataVerifyArgs.Dataset) (a.TryGetResult DataVerifyArgs.Data_Root)
        | None -> raise (BadUsage(args.Parser.PrintUsage(message = "a subcommand is needed: list, fetch NAME or verify NAME")))
    with BadUsage msg ->
        eprintfn "%s" msg
        2
