/// `warmstart submit … --slurm`, `warmstart status` and `warmstart exec-node`: a study's plan on a cluster.
module WarmStart.Cli.SlurmCommands

open System
open System.Diagnostics
open System.IO
open Argu
open WarmStart
open WarmStart.Core.Runs
open WarmStart.Cli.Args

/// `warmstart exec-node --store DIR --study NAME --key K`: one node of a stored plan.
let execNode (a: ParseResults<ExecNodeArgs>) =
    let checkpoint = a.GetResult(ExecNodeArgs.Checkpoint, defaultValue = 1)
    if checkpoint < 0 then failwithf "--checkpoint %d: must be ≥ 0" checkpoint
    let threads = a.TryGetResult ExecNodeArgs.Threads
    if threads |> Option.exists (fun n -> n < 0) then failwithf "--threads %d: must be ≥ 0" threads.Value
    NodeRun.run
        { Store = Path.GetFullPath(a.GetResult ExecNodeArgs.Store); Study = a.GetResult ExecNodeArgs.Study
          Key = a.GetResult ExecNodeArgs.Key; CheckpointEvery = checkpoint
          Device = (match Device.Parse(a.GetResult(ExecNodeArgs.Device, defaultValue = "cpu")) with Ok d -> d | Error e -> failwith e)
          Threads = threads
          DataRoot = a.TryGetResult ExecNodeArgs.Data_Root }

/// Runs `dotnet fsi SCRIPT -- --plan-to STORE …` and returns the study folder name the script wrote its plan
/// under (read from the script's `plan written: INDEX` line).
let planInto (script: string) (store: string) (extra: string list) : Result<string, string> =
    let psi = ProcessStartInfo("dotnet", RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)
    for x in [ "fsi"; Path.GetFullPath script; "--"; "--plan-to"; store ] @ extra do psi.ArgumentList.Add x
    use p = Process.Start psi
    let out = p.StandardOutput.ReadToEndAsync()
    let err = p.StandardError.ReadToEndAsync()
    p.WaitForExit()
    let marker = "plan written: "
    let written = out.Result.Split('\n') |> Array.tryFind (fun l -> l.StartsWith marker)
    match p.ExitCode, written with
    | 0, Some l -> Ok(Path.GetFileName(Path.GetDirectoryName(l.Substring(marker.Length).Trim())))
    | 0, None -> Error(sprintf "%s wrote no plan: does it end with `Study.runFromArgs fsi.CommandLineArgs`?" script)
    | code, _ ->
        let why = ScriptCommand.cleanStderr err.Result
        Error(sprintf "%s failed (exit code %d)%s" script code (if why = "" then "" else ":\n" + why))

let private positive name (v: int option) =
    match v with
    | Some n when n < 1 -> failwithf "--%s %d: must be ≥ 1" name n
    | _ -> v

/// `warmstart submit TARGET --slurm --store DIR …`.
let submit (a: ParseResults<SubmitArgs>) (studyArgs: string list) =
    if not (a.Contains SubmitArgs.Slurm) then
        eprintfn "error: say where to submit: --slurm (the only launcher so far)"
        2
    else
    let store = Path.GetFullPath(a.GetResult SubmitArgs.Store)
    let checkpoint = a.GetResult(SubmitArgs.Checkpoint, defaultValue = 1)
    if checkpoint < 0 then failwithf "--checkpoint %d: must be ≥ 0" checkpoint
    let threads = a.TryGetResult SubmitArgs.Threads
    if threads |> Option.exists (fun n -> n < 0) then failwithf "--threads %d: must be ≥ 0" threads.Value
    match a.TryGetResult SubmitArgs.Device |> Option.map Device.Parse with
    | Some(Error e) -> failwith e
    | _ -> ()
    let options : Slurm.SubmitOptions =
        { Slurm.defaultOptions with
            Partition = a.TryGetResult SubmitArgs.Partition
            Time = a.TryGetResult SubmitArgs.Time
            CpusPerTask = positive "cpus-per-task" (a.TryGetResult SubmitArgs.Cpus_Per_Task)
            Mem = a.TryGetResult SubmitArgs.Mem
            GpusPerTask = positive "gpus-per-task" (a.TryGetResult SubmitArgs.Gpus_Per_Task)
            ArrayParallelism = positive "array-parallelism" (a.TryGetResult SubmitArgs.Array_Parallelism)
            Account = a.TryGetResult SubmitArgs.Account
            Qos = a.TryGetResult SubmitArgs.Qos
            SbatchArgs = a.GetResults SubmitArgs.Sbatch_Arg
            CheckpointEvery = checkpoint
            Device = a.TryGetResult SubmitArgs.Device
            Threads = threads
            DataRoot = a.TryGetResult SubmitArgs.Data_Root |> Option.map Path.GetFullPath
            DryRun = a.Contains SubmitArgs.Dry_Run }
    // Study options (--quick, --seeds N, …) go to the script that writes the plan, untouched.
    let extra = studyArgs
    let target = a.GetResult SubmitArgs.Target
    let scripts =
        if Directory.Exists target then BatchRun.scripts target None |> List.map snd
        elif File.Exists target && target.EndsWith(".fsx", StringComparison.OrdinalIgnoreCase) then [ target ]
        elif File.Exists target then failwithf "'%s' is not an F# script (.fsx)" target
        else failwithf "study script or folder '%s' not found" target
    if scripts.IsEmpty then failwithf "no study scripts (.fsx) under %s" target
    let codes =
        [ for script in scripts ->
            match planInto script store extra with
            | Error e -> eprintfn "error: %s" e; 1
            | Ok study -> Slurm.submit (ResultStore store) study options ]
    if scripts.Length > 1 then
        let failed = codes |> List.filter ((<>) 0) |> List.length
        printfn "studies: %d submitted, %d failed" (codes.Length - failed) failed
    if List.forall ((=) 0) codes then 0 else 1

/// `warmstart status STORE [--study NAME]`.
let status (a: ParseResults<StatusArgs>) =
    let root = a.GetResult StatusArgs.Store
    if not (Directory.Exists(Path.Combine(root, "studies"))) then
        eprintfn "error: '%s' is not a result store (no studies/ folder)" root
        1
    else
        let store = ResultStore(root)
        let names =
            match a.TryGetResult StatusArgs.Study with
            | Some n -> [ n ]
            | None -> List.ofSeq (store.Studies())
        if names.IsEmpty then printfn "no studies in %s" store.Root
        for name in names do
            let report, _ = Slurm.statusReport store name
            printfn "%s" report
        0
