/// A study's plan on a Slurm cluster. The plan is written into the result store (which must be on a filesystem
/// every node sees); the nodes still missing are submitted as job arrays whose tasks each run
/// `warmstart exec-node` for one node. Nothing polls: a child waits for its parent through a Slurm dependency.
///
/// How the arrays are cut. A node's *level* is its depth among the nodes still to run: 0 when it has no
/// parent or its parent already has a result, else the parent's level + 1. Level 0 is one array (split every
/// 1000 tasks, Slurm's default MaxArraySize). The children of an array's tasks go into arrays that depend on it
/// with `aftercorr`: child slot j of the task with index i becomes task i of the j-th child array, so each task
/// starts as soon as *its own* parent task succeeded. A failed or killed task holds back only its own chain
/// (its dependants are cancelled: `--kill-on-invalid-dep=yes`), not the whole next level as a level-wide
/// `afterok` would; the price is a few more arrays per level (as many as a node has children, e.g. one per
/// warm-started arm), not one job per node.
module WarmStart.Slurm

open System
open System.Diagnostics
open System.IO
open System.Text
open WarmStart.Core.Runs

/// One task of an array: its index and the node it executes.
type TaskEntry = { Index: int; Key: string }

/// One job array of a submission.
type ArrayJob =
    { /// a0, a1, … in submission order (a child array always comes after its parent array).
      Name: string
      /// Dependency level of its nodes (0: runnable at once).
      Level: int
      /// The array whose task i this array's task i waits for (aftercorr), if any.
      After: string option
      Tasks: TaskEntry list
      /// Slurm's job id (None in a dry run).
      JobId: string option
      /// The sbatch script and the keys file (index → key), beside each other.
      Script: string
      KeysFile: string }

/// One `warmstart submit` of a study, as recorded in `<store>/slurm/<study>/submissions.json`.
type Submission =
    { Number: int
      SubmittedUtc: DateTime
      /// The study's folder name in the store.
      Study: string
      /// The submission's folder (scripts, keys files, logs/).
      Folder: string
      /// The sbatch options common to every array (partition, time, resources, pass-through arguments).
      SbatchOptions: string list
      Arrays: ArrayJob list }

/// Knobs of a submission.
type SubmitOptions =
    { Partition: string option
      Time: string option
      CpusPerTask: int option
      Mem: string option
      /// GPUs per task: requested with --gres=gpu:N, and the tasks train with --device cuda.
      GpusPerTask: int option
      /// At most N tasks of each array at once (the `%N` of --array).
      ArrayParallelism: int option
      Account: string option
      Qos: string option
      /// Passed to sbatch as they are (one `#SBATCH` line each), e.g. --constraint=a100.
      SbatchArgs: string list
      /// Checkpoint every N epochs, so a preempted (requeued) task resumes (0 = never).
      CheckpointEvery: int
      /// cpu or cuda (default: cuda when GPUs are requested, else cpu).
      Device: string option
      Threads: int option
      DataRoot: string option
      /// The command a task runs the toolkit's CLI with (default: dotnet and this warmstart.dll).
      Cli: string list
      DryRun: bool }

/// Defaults: no resource requests beyond the cluster's defaults, a checkpoint every epoch, CPU.
let defaultOptions =
    { Partition = None; Time = None; CpusPerTask = None; Mem = None; GpusPerTask = None; ArrayParallelism = None
      Account = None; Qos = None; SbatchArgs = []; CheckpointEvery = 1; Device = None; Threads = None; DataRoot = None
      Cli = []; DryRun = false }

/// Slurm's default MaxArraySize is 1001: task indices 0..1000. Arrays are cut at 1000 tasks.
[<Literal>]
let MaxArrayTasks = 1000

let private short (k: string) = k.Substring(0, min 8 k.Length)

/// `<store>/slurm/<study>`: submissions.json and one folder per submission.
let studyFolder (store: ResultStore) (study: string) = Path.Combine(store.Root, "slurm", study)

/// The log file of task `index` of an array (the `%A_%a` of its --output, resolved).
let logPath (sub: Submission) (a: ArrayJob) (index: int) =
    Path.Combine(sub.Folder, "logs", sprintf "%s-%s_%d.log" a.Name (defaultArg a.JobId "JOBID") index)

// ---- what to submit ---------------------------------------------------------------------------------------

/// The nearest ancestor of a node (its parent or above) whose stored result diverged, if any: such a node is
/// never trained (the executor would skip it).
let private divergedAncestor (store: ResultStore) (plan: StudyPlan) =
    let byKey = plan.Nodes |> List.map (fun n -> n.Key, n) |> Map.ofList
    let cache = Collections.Generic.Dictionary<string, string option>()
    let rec go (key: string) =
        match cache.TryGetValue key with
        | true, v -> v
        | _ ->
            let v =
                match NodeStore.tryRead store key with
                | Some r when r.Diverged -> Some key
                | Some _ -> None
                | None ->
                    match byKey.TryFind key |> Option.bind (fun n -> n.Spec.Parent) with
                    | Some p -> go p
                    | None -> None
            cache[key] <- v
            v
    fun (n: PlanNode) -> n.Spec.Parent |> Option.bind go

/// The nodes to submit: those without a result, minus those below a diverged result (they would be skipped).
let missing (store: ResultStore) (plan: StudyPlan) =
    let diverged = divergedAncestor store plan
    plan.Nodes |> List.filter (fun n -> not (store.Has n.Key) && (diverged n).IsNone)

/// Cuts the nodes to run into job arrays (see the module's comment). `nodes` must be in plan order (parents
/// first); their parents are either among them or already done. Names, scripts and job ids are filled later.
let arrays (nodes: PlanNode list) : ArrayJob list =
    let inSet = nodes |> List.map (fun n -> n.Key) |> Set.ofList
    let children =
        nodes
        |> List.choose (fun n -> match n.Spec.Parent with Some p when inSet.Contains p -> Some(p, n) | _ -> None)
        |> List.groupBy fst
        |> List.map (fun (p, cs) -> p, cs |> List.map snd)
        |> Map.ofList
    let roots = nodes |> List.filter (fun n -> match n.Spec.Parent with Some p -> not (inSet.Contains p) | None -> true)
    let result = Collections.Generic.List<ArrayJob>()
    let add level after (tasks: TaskEntry list) =
        let a = { Name = sprintf "a%d" result.Count; Level = level; After = after; Tasks = tasks; JobId = None; Script = ""; KeysFile = "" }
        result.Add a
        a
    let rec descend (parent: ArrayJob) =
        let kids = parent.Tasks |> List.map (fun t -> t.Index, children |> Map.tryFind t.Key |> Option.defaultValue [])
        let slots = kids |> List.map (snd >> List.length) |> List.fold max 0
        for j in 0 .. slots - 1 do
            let tasks = kids |> List.choose (fun (i, cs) -> List.tryItem j cs |> Option.map (fun c -> { Index = i; Key = c.Key }))
            descend (add (parent.Level + 1) (Some parent.Name) tasks)
    roots
    |> List.chunkBySize MaxArrayTasks
    |> List.iter (fun chunk -> descend (add 0 None (chunk |> List.mapi (fun i n -> { Index = i; Key = n.Key }))))
    // Breadth-first order (level by level) reads better in a dry run; dependencies only point backwards either way.
    result |> Seq.sortBy (fun a -> a.Level, int (a.Name.Substring 1)) |> List.ofSeq
    |> fun sorted ->
        let rename = sorted |> List.mapi (fun i a -> a.Name, sprintf "a%d" i) |> Map.ofList
        sorted |> List.map (fun a -> { a with Name = rename[a.Name]; After = a.After |> Option.map (fun p -> rename[p]) })

/// `--array` value: indices as ranges (`0-3,5,7-9`), with `%N` when a parallelism limit is set.
let arraySpec (indices: int list) (parallelism: int option) =
    let rec ranges acc (xs: int list) =
        match xs, acc with
        | [], _ -> List.rev acc
        | x :: rest, (a, b) :: accRest when x = b + 1 -> ranges ((a, x) :: accRest) rest
        | x :: rest, _ -> ranges ((x, x) :: acc) rest
    let text =
        ranges [] (List.sort (List.distinct indices))
        |> List.map (fun (a, b) -> if a = b then string a else sprintf "%d-%d" a b)
        |> String.concat ","
    match parallelism with
    | Some n -> sprintf "%s%%%d" text n
    | None -> text

// ---- scripts ------------------------------------------------------------------------------------------------

/// Single-quotes a word for bash.
let shellQuote (s: string) = "'" + s.Replace("'", "'\\''") + "'"

/// The device tasks train on.
let device (o: SubmitOptions) =
    match o.Device with
    | Some d -> d
    | None -> if o.GpusPerTask.IsSome then "cuda" else "cpu"

/// The sbatch options every array of a submission shares.
let commonOptions (o: SubmitOptions) =
    [ yield! o.Partition |> Option.map (sprintf "--partition=%s") |> Option.toList
      yield! o.Time |> Option.map (sprintf "--time=%s") |> Option.toList
      yield! o.CpusPerTask |> Option.map (sprintf "--cpus-per-task=%d") |> Option.toList
      yield! o.Mem |> Option.map (sprintf "--mem=%s") |> Option.toList
      // One task per job: --gres=gpu:N is that task's N GPUs, and works with and without select/cons_tres.
      yield! o.GpusPerTask |> Option.map (sprintf "--gres=gpu:%d") |> Option.toList
      yield! o.Account |> Option.map (sprintf "--account=%s") |> Option.toList
      yield! o.Qos |> Option.map (sprintf "--qos=%s") |> Option.toList
      yield! o.SbatchArgs ]

/// The CLI command of a task (default: dotnet + the warmstart.dll that is running now).
let cliCommand (o: SubmitOptions) =
    match o.Cli with
    | [] ->
        let dll = Reflection.Assembly.GetEntryAssembly() |> Option.ofObj |> Option.map (fun a -> a.Location) |> Option.defaultValue "warmstart.dll"
        [ "dotnet"; dll ]
    | cmd -> cmd

let private safeName (s: string) = String(s.ToCharArray() |> Array.map (fun c -> if Char.IsLetterOrDigit c || c = '.' || c = '-' || c = '_' then c else '_'))

/// The sbatch script of one array. `dependency` is the full `aftercorr:<job id>` (a placeholder in a dry run).
let script (o: SubmitOptions) (store: ResultStore) (study: string) (folder: string) (a: ArrayJob) (dependency: string option) =
    let sb = StringBuilder()
    let line (s: string) = sb.Append(s).Append('\n') |> ignore
    line "#!/bin/bash"
    line (sprintf "# warmstart: study '%s', array %s: %d node(s) of dependency level %d%s" study a.Name a.Tasks.Length a.Level
              (match a.After with Some p -> sprintf ", task i after task i of %s" p | None -> ""))
    line (sprintf "#SBATCH --job-name=ws-%s-%s" (safeName study) a.Name)
    line (sprintf "#SBATCH --array=%s" (arraySpec (a.Tasks |> List.map (fun t -> t.Index)) o.ArrayParallelism))
    line (sprintf "#SBATCH --output=%s" (Path.Combine(folder, "logs", sprintf "%s-%%A_%%a.log" a.Name)))
    // A requeued task (preemption, node failure) appends to its log, and resumes from the node's checkpoint.
    line "#SBATCH --open-mode=append"
    line "#SBATCH --requeue"
    line (sprintf "#SBATCH --chdir=%s" store.Root)
    for opt in commonOptions o do line (sprintf "#SBATCH %s" opt)
    match dependency with
    | Some d ->
        line (sprintf "#SBATCH --dependency=%s" d)
        line "#SBATCH --kill-on-invalid-dep=yes"
    | None -> ()
    line "set -uo pipefail"
    line (sprintf "keys=%s" (shellQuote (Path.Combine(folder, a.Name + ".keys"))))
    line "key=$(awk -v i=\"$SLURM_ARRAY_TASK_ID\" '$1 == i { print $2 }' \"$keys\")"
    line "if [ -z \"$key\" ]; then echo \"warmstart: no node for task $SLURM_ARRAY_TASK_ID in $keys\" >&2; exit 1; fi"
    line "echo \"warmstart: task ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} (restart ${SLURM_RESTART_COUNT:-0}) on $(hostname) at $(date -Is): node $key\""
    let args =
        [ yield! cliCommand o
          "exec-node"; "--store"; store.Root; "--study"; study
          "--checkpoint"; string o.CheckpointEvery; "--device"; device o
          yield! (match o.Threads with Some n -> [ "--threads"; string n ] | None -> [])
          yield! (match o.DataRoot with Some d -> [ "--data-root"; Path.GetFullPath d ] | None -> []) ]
    line ("exec " + (args |> List.map shellQuote |> String.concat " ") + " --key \"$key\"")
    sb.ToString()

/// The keys file of an array: `index key` per line.
let keysText (a: ArrayJob) =
    a.Tasks |> List.map (fun t -> sprintf "%d %s\n" t.Index t.Key) |> String.concat ""

// ---- talking to Slurm -----------------------------------------------------------------------------------------

/// Runs a program; None when it cannot be started (not installed), else (exit code, stdout, stderr).
let private exec (exe: string) (args: string list) =
    try
        let psi = ProcessStartInfo(exe, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)
        for a in args do psi.ArgumentList.Add a
        use p = Process.Start psi
        let out = p.StandardOutput.ReadToEndAsync()
        let err = p.StandardError.ReadToEndAsync()
        p.WaitForExit()
        Some(p.ExitCode, out.Result, err.Result)
    with :? ComponentModel.Win32Exception -> None

/// `sbatch --parsable SCRIPT` → the job id.
let sbatch (scriptPath: string) =
    match exec "sbatch" [ "--parsable"; scriptPath ] with
    | None -> Error "sbatch was not found: run this on a Slurm login node (or use --dry-run)"
    | Some(0, out, _) ->
        let id = out.Trim().Split(';').[0].Trim()
        if id <> "" && id |> Seq.forall Char.IsDigit then Ok id else Error(sprintf "sbatch printed no job id: %s" out)
    | Some(code, out, err) -> Error(sprintf "sbatch failed (exit code %d): %s%s" code (err.Trim()) (out.Trim()))

/// A task's state as Slurm reports it: (state, reason), e.g. ("PENDING", "Dependency"), ("FAILED", "NonZeroExitCode").
type TaskState = { State: string; Reason: string }

/// States in which a task will still run (or is running).
let isActive (s: TaskState) =
    match s.State with
    | "PENDING" when s.Reason = "DependencyNeverSatisfied" -> false
    | "PENDING" | "RUNNING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED" | "CONFIGURING" | "COMPLETING"
    | "SUSPENDED" | "RESIZING" | "SIGNALING" | "STAGE_OUT" | "RESV_DEL_HOLD" | "STOPPED" -> true
    | _ -> false

/// The states of the tasks of these array jobs: from squeue (jobs the controller still knows), then sacct for
/// the rest when accounting is enabled. Error (with the reason) when squeue is not available or fails.
let queryTasks (jobIds: string list) : Result<Map<string * int, TaskState>, string> =
    let wanted = set jobIds
    let fields (text: string) =
        [ for l in text.Split('\n') do
            let f = l.Trim().Split('|')
            if f.Length >= 3 then yield f ]
    // With several ids squeue ignores the ones it no longer knows; with one unknown id it fails: "Invalid job id".
    match exec "squeue" [ "-h"; "-r"; "-t"; "all"; "-o"; "%F|%K|%T|%r"; "-j"; String.Join(",", jobIds) ] with
    | None -> Error "squeue is not available here"
    | Some(code, _, err) when code <> 0 && not (err.Contains "Invalid job id") -> Error(sprintf "squeue failed: %s" (err.Trim()))
    | Some(code, out, _) ->
        let fromQueue =
            if code <> 0 then Map.empty
            else
                fields out
                |> List.choose (fun f ->
                    match Int32.TryParse f[1] with
                    | true, i when wanted.Contains f[0] -> Some((f[0], i), { State = f[2]; Reason = (if f.Length > 3 then f[3] else "") })
                    | _ -> None)
                |> Map.ofList
        let unseen = jobIds |> List.filter (fun j -> not (fromQueue |> Map.exists (fun (jj, _) _ -> jj = j)))
        let fromAccounting =
            if unseen.IsEmpty then Map.empty
            else
                match exec "sacct" [ "-n"; "-P"; "-X"; "-o"; "JobID,State,ExitCode"; "-j"; String.Join(",", unseen) ] with
                | Some(0, out, _) ->
                    fields out
                    |> List.choose (fun f ->
                        match f[0].Split('_') with
                        | [| j; i |] when wanted.Contains j ->
                            match Int32.TryParse i with
                            | true, i -> Some((j, i), { State = f[1].Split(' ').[0]; Reason = "exit code " + f[2] })
                            | _ -> None
                        | _ -> None)
                    |> Map.ofList
                | _ -> Map.empty   // accounting disabled or unreachable: what squeue knows is all there is
        Ok(Map.fold (fun acc k v -> Map.add k v acc) fromAccounting fromQueue)

// ---- submission records -----------------------------------------------------------------------------------

let private submissionsFile (store: ResultStore) (study: string) = Path.Combine(studyFolder store study, "submissions.json")

/// Every submission of a study, oldest first.
let submissions (store: ResultStore) (study: string) : Submission list =
    let f = submissionsFile store study
    if File.Exists f then NodeStore.ofJson<Submission list> (File.ReadAllText f) else []

/// The latest task submitted for each node: key → (submission, array, index).
let latestTasks (subs: Submission list) =
    subs
    |> List.collect (fun s -> s.Arrays |> List.collect (fun a -> a.Tasks |> List.map (fun t -> t.Key, (s, a, t.Index))))
    |> List.fold (fun m (k, v) -> Map.add k v m) Map.empty

// ---- status -----------------------------------------------------------------------------------------------

/// Where a node stands.
type NodeState =
    /// Its result is in the store (diverged results included: a diverged run is a result).
    | Done of diverged: bool
    /// Its lock is held (an executor trains it), or Slurm runs its task.
    | Running of task: string option
    /// Queued in Slurm (state and reason, e.g. PENDING Dependency), not started.
    | Queued of task: string * state: string
    /// Not submitted, or its task never started because a node it depends on failed.
    | Pending of why: string
    /// Its task ran and ended without a result.
    | Failed of task: string * what: string * log: string option
    /// Not trained because a node it depends on diverged.
    | Skipped of why: string

/// Whether another executor holds a node's lock (it is being trained). Takes and drops the lock when free.
let private locked (store: ResultStore) (key: string) =
    match store.TryLock key with
    | null -> true
    | l -> l.Dispose(); false

/// The state of every node of a study (plan order); the Slurm states come from `tasks` (None: not queried).
let nodeStates (store: ResultStore) (plan: StudyPlan) (subs: Submission list) (tasks: Map<string * int, TaskState> option) =
    let latest = latestTasks subs
    let diverged = divergedAncestor store plan
    [ for n in plan.Nodes ->
        let state =
            match NodeStore.tryRead store n.Key with
            | Some r -> Done r.Diverged
            | None ->
            let task = latest.TryFind n.Key
            let taskName = task |> Option.map (fun (_, a, i) -> sprintf "%s_%d" (defaultArg a.JobId "?") i)
            if locked store n.Key then Running taskName
            else
            match diverged n with
            | Some d -> Skipped(sprintf "%s diverged" (short d))
            | None ->
            match task with
            | None -> Pending "not submitted"
            | Some(sub, a, i) ->
                let name = taskName.Value
                let st = match tasks, a.JobId with Some m, Some j -> m.TryFind(j, i) | _ -> None
                let log = logPath sub a i
                let parentMissing = n.Spec.Parent |> Option.exists (fun p -> not (store.Has p))
                match st with
                | Some s when isActive s && (s.State = "RUNNING" || s.State = "COMPLETING" || s.State = "CONFIGURING") -> Running(Some name)
                | Some s when isActive s -> Queued(name, (s.State + (if s.Reason <> "" && s.Reason <> "None" then " " + s.Reason else "")))
                | _ ->
                    let what =
                        match st, tasks with
                        | Some s, _ -> s.State + (if s.Reason <> "" && s.Reason <> "None" then sprintf " (%s)" s.Reason else "")
                        | None, Some _ -> "ended (no longer known to Slurm)"
                        | None, None -> "state unknown (no answer from Slurm)"
                    if File.Exists log then Failed(name, what, Some log)
                    elif parentMissing then Pending(sprintf "task %s %s before it started: its parent %s has no result" name what (short n.Spec.Parent.Value))
                    else Failed(name, what + " without starting", None)
        n, state ]

/// The per-study report of `warmstart status`: counts, submissions, and every node not done.
let statusReport (store: ResultStore) (study: string) =
    let plan, _ = NodeStore.readIndex store study
    let subs = submissions store study
    let jobIds = subs |> List.collect (fun s -> s.Arrays |> List.choose (fun a -> a.JobId)) |> List.distinct
    let tasks = if jobIds.IsEmpty then Ok Map.empty else queryTasks jobIds
    let states = nodeStates store plan subs (match tasks with Ok m -> Some m | Error _ -> None)
    let count f = states |> List.filter (snd >> f) |> List.length
    let isDone = function Done _ -> true | _ -> false
    let isRunning = function Running _ -> true | _ -> false
    let isPending = function Pending _ | Queued _ -> true | _ -> false
    let isFailed = function Failed _ -> true | _ -> false
    let isSkipped = function Skipped _ -> true | _ -> false
    let lines = Collections.Generic.List<string>()
    let skipped = count isSkipped
    let divergedCount = count (function Done true -> true | _ -> false)
    lines.Add(sprintf "study %s: %d nodes: %d done%s, %d running, %d pending, %d failed%s"
                study states.Length (count isDone) (if divergedCount > 0 then sprintf " (%d diverged)" divergedCount else "")
                (count isRunning) (count isPending) (count isFailed) (if skipped > 0 then sprintf ", %d skipped" skipped else ""))
    match tasks with
    | Error why -> lines.Add(sprintf "  (%s: Slurm states unknown; the states below come from the store, its locks and the logs)" why)
    | Ok _ -> ()
    for s in subs do
        lines.Add(sprintf "  submission %d (%s UTC): %s" s.Number (s.SubmittedUtc.ToString "yyyy-MM-dd HH:mm:ss")
                    (s.Arrays |> List.map (fun a -> sprintf "%s job %s (%d tasks)" a.Name (defaultArg a.JobId "?") a.Tasks.Length) |> String.concat ", "))
    let label (n: PlanNode) = sprintf "%s stage %d seed %d (%s)" (short n.Key) n.Stage n.SeedIndex (String.concat ", " n.Arms)
    let limit = 50
    let section title (pick: NodeState -> string option) =
        let rows = states |> List.choose (fun (n, s) -> pick s |> Option.map (fun t -> sprintf "    %s: %s" (label n) t))
        if not rows.IsEmpty then
            lines.Add(sprintf "  %s:" title)
            for r in List.truncate limit rows do lines.Add r
            if rows.Length > limit then lines.Add(sprintf "    … and %d more" (rows.Length - limit))
    section "failed" (function Failed(t, what, log) -> Some(sprintf "task %s %s; log: %s" t what (defaultArg log "none (it never started)")) | _ -> None)
    section "running" (function Running t -> Some(match t with Some t -> sprintf "task %s" t | None -> "lock held by an executor outside Slurm") | _ -> None)
    section "pending" (function Queued(t, st) -> Some(sprintf "task %s %s" t st) | Pending why -> Some why | _ -> None)
    section "skipped" (function Skipped why -> Some why | _ -> None)
    String.concat "\n" lines, states

// ---- submit -----------------------------------------------------------------------------------------------

/// Submits the missing nodes of a study whose plan is in the store; prints what it does and returns an exit
/// code. With DryRun, prints the scripts instead (nothing is written or submitted).
let rec submit (store: ResultStore) (study: string) (o: SubmitOptions) : int =
    if o.DryRun then submitLocked store study o
    else
        // One submit of a study at a time: two at once would queue duplicates and race on submissions.json.
        let root = studyFolder store study
        Directory.CreateDirectory root |> ignore
        let lock =
            try Some(new FileStream(Path.Combine(root, ".submit.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
            with :? IOException -> None
        match lock with
        | None ->
            eprintfn "error: another `warmstart submit` of study %s is running; try again when it has finished" study
            1
        | Some l ->
            use _l = l
            submitLocked store study o

and private submitLocked (store: ResultStore) (study: string) (o: SubmitOptions) : int =
    let plan, _ = NodeStore.readIndex store study
    let todo = missing store plan
    let done' = plan.Nodes |> List.filter (fun n -> store.Has n.Key) |> List.length
    let root = studyFolder store study
    if todo.IsEmpty then
        printfn "study %s: all %d nodes are done or skipped; nothing to submit" study plan.Nodes.Length
        0
    else
    // Tasks of an earlier submission that will still run: submitting their nodes again would queue duplicates,
    // and their children would not wait for them. Ask the user to wait or cancel.
    let subs = submissions store study
    let earlierJobs = subs |> List.collect (fun s -> s.Arrays |> List.choose (fun a -> a.JobId)) |> List.distinct
    let active =
        match (if o.DryRun || earlierJobs.IsEmpty then Ok Map.empty else queryTasks earlierJobs) with
        | Error why -> eprintfn "note: %s: cannot check for tasks of earlier submissions still in the queue" why; []
        | Ok m ->
            let latest = latestTasks subs
            todo |> List.choose (fun n ->
                match latest.TryFind n.Key with
                | Some(_, a, i) ->
                    a.JobId |> Option.bind (fun j -> m.TryFind(j, i)) |> Option.filter isActive
                    |> Option.map (fun s -> sprintf "%s_%d (%s, %s)" a.JobId.Value i (short n.Key) s.State)
                | None -> None)
    if not active.IsEmpty then
        eprintfn "error: study %s still has %d task(s) queued or running from an earlier submission: %s" study active.Length
            (String.concat ", " (List.truncate 10 active))
        eprintfn "wait for them (warmstart status %s) or cancel them (scancel), then submit again" store.Root
        1
    else
    let arrays0 = arrays todo
    let number = (subs |> List.map (fun s -> s.Number) |> List.fold max 0) + 1
    let folder = Path.Combine(root, sprintf "submit-%03d" number)
    printfn "study %s: %d nodes, %d done, %d to run in %d job array(s) over %d dependency level(s)"
        study plan.Nodes.Length done' todo.Length arrays0.Length ((arrays0 |> List.map (fun a -> a.Level) |> List.fold max 0) + 1)
    let dependencyOf (a: ArrayJob) (ids: Map<string, string>) =
        a.After |> Option.map (fun p -> sprintf "aftercorr:%s" (ids.TryFind p |> Option.defaultValue (sprintf "<job id of %s>" p)))
    if o.DryRun then
        for a in arrays0 do
            printfn "\n# ---- %s (%s) ----" (Path.Combine(folder, a.Name + ".sbatch")) (sprintf "%d tasks" a.Tasks.Length)
            printf "%s" (script o store study folder a (dependencyOf a Map.empty))
            printfn "# ---- %s ----" (Path.Combine(folder, a.Name + ".keys"))
            printf "%s" (keysText a)
        printfn "\n(dry run: nothing submitted; only the plan was written into the store)"
        0
    else
    Directory.CreateDirectory(Path.Combine(folder, "logs")) |> ignore
    let record (arrays: ArrayJob list) =
        let sub = { Number = number; SubmittedUtc = DateTime.UtcNow; Study = study; Folder = folder; SbatchOptions = commonOptions o; Arrays = arrays }
        ResultStore.WriteAllTextAtomic(submissionsFile store study, NodeStore.toJson (subs @ [ sub ]))
    let rec go (ids: Map<string, string>) (submitted: ArrayJob list) (rest: ArrayJob list) =
        match rest with
        | [] -> Ok(List.rev submitted)
        | a :: rest ->
            let scriptPath = Path.Combine(folder, a.Name + ".sbatch")
            let keysPath = Path.Combine(folder, a.Name + ".keys")
            ResultStore.WriteAllTextAtomic(keysPath, keysText a)
            ResultStore.WriteAllTextAtomic(scriptPath, script o store study folder a (dependencyOf a ids))
            match sbatch scriptPath with
            | Ok id ->
                let a = { a with JobId = Some id; Script = scriptPath; KeysFile = keysPath }
                printfn "  %s: job %s, %d task(s), level %d%s" a.Name id a.Tasks.Length a.Level
                    (match dependencyOf a ids with Some d -> ", " + d | None -> "")
                let submitted = a :: submitted
                record (List.rev submitted)   // recorded as it goes: a failure half-way leaves a true record
                go (ids.Add(a.Name, id)) submitted rest
            | Error e -> Error e
    match go Map.empty [] arrays0 with
    | Ok arrays ->
        record arrays
        printfn "  logs: %s" (Path.Combine(folder, "logs"))
        printfn "  follow with: warmstart status %s --study %s" store.Root study
        0
    | Error e ->
        eprintfn "error: %s" e
        eprintfn "the arrays submitted before this one (if any) are recorded in %s; once they have finished or been cancelled, submit again to queue the rest"
            (submissionsFile store study)
        1
