/// One node of a stored plan, executed on its own: what a cluster task runs (`warmstart exec-node`). The plan
/// comes from the study index in the store (written by `--plan-to` or a run); the parent's weights come from
/// the store; the node's file lock keeps two executors from training it at once; a checkpoint left by a killed
/// or requeued earlier attempt is resumed.
module WarmStart.NodeRun

open System
open System.IO
open System.Runtime.InteropServices
open System.Threading
open WarmStart.Core.Runs

/// What to execute, and how.
type Options =
    { Store: string
      /// The study's folder name in the store (`NAME` or `NAME.quick`).
      Study: string
      /// The node's key (or an unambiguous prefix of at least 8 characters).
      Key: string
      /// Save a resumable checkpoint every N epochs (0 = never).
      CheckpointEvery: int
      Device: Device
      /// Torch threads; default: the study's `threads`, else $SLURM_CPUS_PER_TASK, else one per core.
      Threads: int option
      DataRoot: string option }

/// Exit codes: 0 the node's result is in the store (trained now, or already there); 1 an error (no such
/// store/study/node, parent without a result, training failed); 3 not trained because its parent diverged;
/// 143 stopped by SIGTERM (preemption, scancel, time limit) — the checkpoint is kept for the next attempt.
[<Literal>]
let ExitSkipped = 3

[<Literal>]
let ExitTerminated = 143

let private short (k: string) = k.Substring(0, min 8 k.Length)

/// The torch thread count of a node executed alone (see Options.Threads).
let threadsFor (requested: int option) (studyThreads: int) =
    match requested with
    | Some n -> n
    | None when studyThreads > 0 -> studyThreads
    | None ->
        match Int32.TryParse(Environment.GetEnvironmentVariable "SLURM_CPUS_PER_TASK") with
        | true, n when n > 0 -> n
        | _ -> 0

/// Executes one node; prints what it does (plain lines: this usually writes to a cluster log) and returns the
/// exit code described above.
let run (o: Options) : int =
    let fail (msg: string) = eprintfn "error: %s" msg; 1
    if not (Directory.Exists(Path.Combine(o.Store, "studies"))) then
        fail (sprintf "'%s' is not a result store (no studies/ folder)" o.Store)
    elif not (File.Exists(Path.Combine(o.Store, "studies", o.Study, "index.json"))) then
        let store = ResultStore(o.Store)
        fail (sprintf "no study '%s' in %s (studies: %s); write its plan first (`warmstart submit`, or the script's --plan-to)"
                  o.Study store.Root (String.Join(", ", store.Studies())))
    else
    let store = ResultStore(o.Store)
    let plan, _ = NodeStore.readIndex store o.Study
    match plan.Nodes |> List.filter (fun n -> n.Key = o.Key || (o.Key.Length >= 8 && n.Key.StartsWith o.Key)) with
    | [] -> fail (sprintf "no node '%s' in the plan of study '%s' (%d nodes)" o.Key o.Study plan.Nodes.Length)
    | _ :: _ :: _ -> fail (sprintf "'%s' matches several nodes of study '%s'; give more of the key" o.Key o.Study)
    | [ node ] ->
    let label = sprintf "node %s (stage %d, seed %d, %s) of study '%s'" (short node.Key) node.Stage node.SeedIndex (String.concat ", " node.Arms) o.Study
    let parentProblem =
        match node.Spec.Parent with
        | Some p when not (store.Has p) ->
            Some(1, sprintf "the parent %s of %s has no result in the store; execute it first (warmstart exec-node --key %s) or submit the study again"
                        (short p) label p)
        | Some p ->
            match NodeStore.tryRead store p with
            | Some r when r.Diverged -> Some(ExitSkipped, sprintf "%s not trained: its parent %s diverged at epoch %d" label (short p) r.Epochs)
            | _ -> None
        | None -> None
    match store.Latest node.Key, parentProblem with
    | null, Some(code, msg) -> eprintfn "%s%s" (if code = 1 then "error: " else "") msg; code
    | null, None ->
        let threads = threadsFor o.Threads plan.Study.Threads
        printfn "exec-node: %s on %s, %s" label o.Device.Name (if threads > 0 then sprintf "%d torch thread(s)" threads else "one torch thread per core")
        match NodeStore.tryCheckpoint store node.Key with
        | Some(_, _, curve) when not curve.IsEmpty -> printfn "exec-node: resuming from the checkpoint after epoch %d" (List.last curve).Epoch
        | _ -> ()
        // Another executor (a local run, another task) holding the node's lock makes the wait below long and
        // silent otherwise: say what is being waited for.
        match store.TryLock node.Key with
        | null -> printfn "exec-node: waiting for the lock of %s (another executor is training it)" (short node.Key)
        | free -> free.Dispose()
        use cts = new CancellationTokenSource()
        // Slurm stops a task (preemption with requeue, scancel, time limit) with SIGTERM and SIGKILL KillWait
        // seconds later: stop after the current step; the last per-epoch checkpoint stays for the next attempt.
        use _term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, fun ctx ->
            ctx.Cancel <- true
            eprintfn "exec-node: SIGTERM: stopping after the current step"
            cts.Cancel())
        let exec : Executor.ExecOptions =
            // The single engine: cluster tasks checkpoint, which the stacked engine does not support.
            { DataRoot = o.DataRoot; Device = o.Device; Stack = Executor.StackOff; Jobs = 1; Store = store; Rerun = false
              CheckpointEvery = o.CheckpointEvery; Cancel = cts.Token
              TensorBoard = None }
        let one = { plan with Study = { plan.Study with Threads = threads }; Nodes = [ node ] }
        let sink = Progress.PlainSink(1, (fun s -> Console.Out.WriteLine s; Console.Out.Flush()), TimeSpan.Zero)
        try
            let status, results = Executor.run exec sink one
            match status.TryFind node.Key, results.TryFind node.Key with
            | Some Trained, Some r ->
                printfn "exec-node: trained %s: %d epochs, test accuracy %.4f%s" (short node.Key) r.Epochs r.TestAccuracy
                    (if r.Diverged then " (DIVERGED)" else "")
                0
            | Some Cached, _ -> printfn "exec-node: %s was trained by another executor meanwhile" (short node.Key); 0
            | Some(Skipped why), _ -> eprintfn "exec-node: %s skipped: %s" (short node.Key) why; ExitSkipped
            | Some(Failed msg), _ -> fail (sprintf "%s failed: %s" label msg)
            | other, _ -> fail (sprintf "%s: unexpected outcome %A" label other)
        with :? OperationCanceledException ->
            let after =
                match NodeStore.tryCheckpoint store node.Key with
                | Some(_, _, curve) when not curve.IsEmpty -> sprintf "its checkpoint after epoch %d" (List.last curve).Epoch
                | _ -> "the start (no checkpoint yet)"
            eprintfn "exec-node: %s stopped; the next attempt resumes from %s" (short node.Key) after
            ExitTerminated
    | dir, _ ->
        printfn "exec-node: %s is already done (%s): nothing to do" label (Path.GetFileName dir)
        0
