module WarmStart.Tests.Slurm.SlurmTests

open System
open System.Diagnostics
open System.IO
open System.Text.RegularExpressions
open Expecto
open WarmStart
open WarmStart.Core.Runs
open WarmStart.Tests
open WarmStart.Tests.Fixtures

// ---- job arrays from plans (no Slurm needed) ---------------------------------------------------------------

let private studyOf arms (n: int) (fractions: float list) =
    let s = study "arrays" { seeds n; arm "fresh" fresh }
    { s with Arms = arms |> List.map (fun (n, a) -> { (a: ArmDef) with Name = n }); Schedule = Fractions fractions }
    |> Validate.orRaise

let private threeArms = [ "fresh", fresh; "warm", warm; "sp", shrink_perturb 0.6 0.01 ]

/// The properties every cut must have: each node in exactly one task; indices distinct and below Slurm's
/// MaxArraySize; an array depends on an earlier one, one level up; task i's node has task i of that array's
/// node as its parent (what aftercorr relies on); a node without a dependency has no parent left to run.
let private checkArrays (nodes: PlanNode list) (arrays: Slurm.ArrayJob list) =
    let keys = nodes |> List.map (fun n -> n.Key)
    let inSet = set keys
    let byKey = nodes |> List.map (fun n -> n.Key, n) |> Map.ofList
    Expect.equal (arrays |> List.collect (fun a -> a.Tasks |> List.map (fun t -> t.Key)) |> List.sort) (List.sort keys) "every node in exactly one task"
    let position = arrays |> List.mapi (fun i a -> a.Name, i) |> Map.ofList
    for i, a in List.indexed arrays do
        Expect.equal a.Name (sprintf "a%d" i) "arrays named in submission order"
        Expect.isNonEmpty a.Tasks "no empty array"
        Expect.isTrue (a.Tasks |> List.forall (fun t -> t.Index >= 0 && t.Index < Slurm.MaxArrayTasks)) "indices below MaxArraySize"
        Expect.equal (a.Tasks |> List.map (fun t -> t.Index) |> List.distinct).Length a.Tasks.Length "distinct indices"
        for t in a.Tasks do
            let n = byKey[t.Key]
            match a.After, n.Spec.Parent with
            | Some p, Some parent ->
                Expect.isLessThan position[p] i "the array waited for is submitted first"
                let pa = arrays[position[p]]
                Expect.equal a.Level (pa.Level + 1) "one level below"
                Expect.equal (pa.Tasks |> List.find (fun x -> x.Index = t.Index)).Key parent "task i waits for task i = its own parent"
            | None, parent ->
                Expect.equal a.Level 0 "no dependency: level 0"
                Expect.isFalse (parent |> Option.exists inSet.Contains) "a node whose parent runs too must wait for it"
            | Some _, None -> failtestf "node %s has no parent but its array depends on %s" t.Key a.After.Value

// ---- processes ---------------------------------------------------------------------------------------------

/// Runs a command with extra environment variables: (exit code, stdout, stderr); bounded (Processes.runWithin).
let private runEnv (env: (string * string) list) (exe: string) (args: string list) =
    Processes.runWithin (Processes.defaultLimit ()) env exe args

let private warmstart (env: (string * string) list) (args: string list) = runEnv env "dotnet" (cliDll () :: args)

/// Numbers of a study's results (everything a summary is made of), keyed by node.
let private numbers (store: string) (studyFolder: string) =
    let r = Study.load store studyFolder
    r.Results |> Map.map (fun _ x -> x.TestAccuracy, x.TestLoss, x.TrainAccuracy, x.TrainLoss, x.Epochs, x.Curve |> List.map (fun e -> e.Loss, e.TrainAccuracy))

let private versions (store: string) (keys: string list) =
    let s = ResultStore(store)
    keys |> List.map (fun k -> (s.Versions k).Count)

/// The study of the exec-node and cluster tests: 3 arms × 2 seeds, 8 nodes of 10 epochs each (long enough for
/// a stage-1 node to be caught between its first checkpoint and its end).
let private body =
    """data fashion_mnist
subset 6000
quick_subset 6000
model (mlp [ 64 ])
optimizer (adam 1e-3)
train_until (train_accuracy 0.999) (max_epochs 10)
quick_max_epochs 10
seeds 2
threads 1
arm "fresh" fresh
arm "warm" warm
arm "sp" (shrink_perturb 0.6 0.01)"""

// ---- the single-node cluster -------------------------------------------------------------------------------

/// A throw-away Slurm cluster of this machine (tests/slurm/cluster.sh), stopped on Dispose.
type private Cluster(dir: string) =
    let script = Path.Combine(repoRoot.Force(), "tests", "slurm", "cluster.sh")
    let conf = Path.Combine(dir, "slurm.conf")
    member _.Env = [ "SLURM_CONF", conf ]
    member _.Start() =
        let code, out, err = runEnv [] "bash" [ script; "start"; dir ]
        if code <> 0 then failtestf "the test cluster did not start (exit %d):\n%s\n%s" code out err
    member _.Pids =
        [ "munged"; "slurmctld"; "slurmd" ]
        |> List.choose (fun d -> let f = Path.Combine(dir, "run", d + ".pid") in if File.Exists f then Some(d, int (File.ReadAllText(f).Trim())) else None)
    member _.Stop() =
        let code, out, err = runEnv [] "bash" [ script; "stop"; dir ]
        if code <> 0 then eprintfn "cluster stop (exit %d): %s %s" code out err
    interface IDisposable with
        member c.Dispose() = c.Stop()

/// `/proc` entries of the processes that execute a node (the exec-node of a Slurm task): their PIDs.
let private execNodePids (key: string) =
    [ for d in Directory.GetDirectories "/proc" do
        match Int32.TryParse(Path.GetFileName d) with
        | true, pid ->
            let args = try File.ReadAllText(Path.Combine(d, "cmdline")).Split('\000') with _ -> [||]
            if Array.contains "exec-node" args && Array.contains key args then yield pid
        | _ -> () ]

let private signal (name: string) (pid: int) = runEnv [] "kill" [ "-" + name; string pid ] |> ignore

/// Waits until `f ()` is Some, polling every `ms`; fails with `what` after `timeout`.
let private waitFor (timeout: TimeSpan) (ms: int) (what: unit -> string) (f: unit -> 'T option) =
    let sw = Stopwatch.StartNew()
    let rec go () =
        match f () with
        | Some v -> v
        | None when sw.Elapsed > timeout -> failtestf "timed out after %.0fs waiting for %s" timeout.TotalSeconds (what ())
        | None -> Threading.Thread.Sleep ms; go ()
    go ()

let private jobIds (submitOutput: string) =
    [ for m in Regex.Matches(submitOutput, @"(a\d+): job (\d+)") -> m.Groups[1].Value, m.Groups[2].Value ] |> Map.ofList

/// Waits until none of these jobs has a task queued or running.
let private waitJobs (env: (string * string) list) (ids: string list) (timeout: TimeSpan) =
    waitFor timeout 500
        (fun () -> let _, q, _ = runEnv env "squeue" [ "-r"; "-t"; "all" ] in "the jobs to finish; squeue:\n" + q)
        (fun () ->
            let code, out, _ = runEnv env "squeue" [ "-h"; "-r"; "-t"; "pending,running,completing,configuring,suspended,requeued"; "-o"; "%F"; "-j"; String.Join(",", ids) ]
            if code = 0 && out.Trim() = "" then Some() else None)

[<Tests>]
let tests =
    testSequenced <| testList "slurm" [
        testList "arrays" [
            test "half-then-all, 3 arms × 2 seeds: level 0 = stage-1 and fresh nodes; warm-started children per chain" {
                let p = Plan.ofStudy (studyOf threeArms 2 [ 0.5; 1.0 ])
                let arrays = Slurm.arrays p.Nodes
                checkArrays p.Nodes arrays
                Expect.equal (arrays |> List.map (fun a -> a.Level, a.Tasks.Length, a.After)) [ 0, 4, None; 1, 2, Some "a0"; 1, 2, Some "a0" ] "a0 (4 tasks), then a1 and a2 after it"
                let a0 = arrays.Head.Tasks |> List.map (fun t -> (Plan.node p t.Key).Stage, (Plan.node p t.Key).Arms)
                Expect.equal a0 [ 1, [ "fresh"; "warm"; "sp" ]; 1, [ "fresh"; "warm"; "sp" ]; 2, [ "fresh" ]; 2, [ "fresh" ] ] "stage-1 nodes and the fresh arm's stage 2"
            }
            test "three stages and five seeds: every chain waits only for its own parent" {
                let p = Plan.ofStudy (studyOf threeArms 5 [ 0.25; 0.5; 1.0 ])
                let arrays = Slurm.arrays p.Nodes
                checkArrays p.Nodes arrays
                Expect.equal (arrays |> List.map (fun a -> a.Level) |> List.max) 2 "levels 0, 1, 2"
            }
            test "nodes whose parent is done start at once (level 0)" {
                let p = Plan.ofStudy (studyOf threeArms 3 [ 0.5; 1.0 ])
                let todo = p.Nodes |> List.filter (fun n -> n.Stage = 2)
                let arrays = Slurm.arrays todo
                checkArrays todo arrays
                Expect.equal (arrays |> List.map (fun a -> a.Tasks.Length)) [ 9 ] "one array of the 9 stage-2 nodes"
            }
            test "more than 1000 runnable nodes: arrays of at most 1000 tasks, children aligned with their chunk" {
                let p = Plan.ofStudy (studyOf [ "fresh", fresh; "warm", warm ] 1100 [ 0.5; 1.0 ])
                let arrays = Slurm.arrays p.Nodes
                checkArrays p.Nodes arrays
                Expect.equal (arrays |> List.filter (fun a -> a.Level = 0) |> List.map (fun a -> a.Tasks.Length)) [ 1000; 1000; 200 ] "level 0 in chunks"
                Expect.equal (arrays |> List.filter (fun a -> a.Level = 1) |> List.sumBy (fun a -> a.Tasks.Length)) 1100 "every warm node"
            }
            test "--array ranges and the parallelism limit" {
                Expect.equal (Slurm.arraySpec [ 0; 1; 2; 3; 5; 7; 8; 9 ] None) "0-3,5,7-9" "ranges"
                Expect.equal (Slurm.arraySpec [ 9; 8; 7 ] (Some 2)) "7-9%2" "sorted, with %N"
                Expect.equal (Slurm.arraySpec [ 4 ] None) "4" "one task"
            }
        ]
        test "script: every knob becomes an #SBATCH line, and a task finds its node in the keys file" {
            use d = new TempDir()
            let store = ResultStore(d.File "store")
            let o =
                { Slurm.defaultOptions with
                    Partition = Some "gpu"; Time = Some "1:00:00"; CpusPerTask = Some 4; Mem = Some "8G"; GpusPerTask = Some 1
                    ArrayParallelism = Some 2; Account = Some "proj"; Qos = Some "high"; SbatchArgs = [ "--constraint=a100"; "--exclusive" ]
                    Cli = [ "echo" ] }
            let a : Slurm.ArrayJob =
                { Name = "a1"; Level = 1; After = Some "a0"; JobId = None; Script = ""; KeysFile = ""
                  Tasks = [ { Index = 0; Key = String('a', 64) }; { Index = 3; Key = String('b', 64) } ] }
            let folder = d.File "sub"
            let text = Slurm.script o store "st'udy" folder a (Some "aftercorr:123")
            for line in [ "#SBATCH --array=0,3%2"; "#SBATCH --partition=gpu"; "#SBATCH --time=1:00:00"; "#SBATCH --cpus-per-task=4"
                          "#SBATCH --mem=8G"; "#SBATCH --gres=gpu:1"; "#SBATCH --account=proj"; "#SBATCH --qos=high"
                          "#SBATCH --constraint=a100"; "#SBATCH --exclusive"; "#SBATCH --requeue"; "#SBATCH --open-mode=append"
                          "#SBATCH --dependency=aftercorr:123"; "#SBATCH --kill-on-invalid-dep=yes"
                          sprintf "#SBATCH --output=%s/logs/a1-%%A_%%a.log" folder ] do
                Expect.stringContains text (line + "\n") line
            Expect.stringContains text "'--device' 'cuda'" "GPUs ⇒ cuda"
            Directory.CreateDirectory folder |> ignore
            File.WriteAllText(Path.Combine(folder, "a1.keys"), Slurm.keysText a)
            let path = Path.Combine(folder, "a1.sbatch")
            File.WriteAllText(path, text)
            let code, out, err = runEnv [ "SLURM_ARRAY_TASK_ID", "3"; "SLURM_ARRAY_JOB_ID", "77" ] "bash" [ path ]
            Expect.equal code 0 err
            Expect.stringContains out "task 77_3" "announces the task"
            Expect.stringContains out (sprintf "exec-node --store %s --study st'udy --checkpoint 1 --device cuda --key %s" store.Root (String('b', 64))) "runs exec-node for task 3's node"
            let code2, _, err2 = runEnv [ "SLURM_ARRAY_TASK_ID", "1"; "SLURM_ARRAY_JOB_ID", "77" ] "bash" [ path ]
            Expect.equal code2 1 "an index without a node fails"
            Expect.stringContains err2 "no node for task 1" "and says so"
        }
        test "exec-node: plan written without training; parent missing → exit 1; done → no-op; waits on a held lock" {
            use d = new TempDir()
            let script = writeStudyScript d.Path "ex.fsx" "ex" body
            let store = d.File "store"
            let code, out, err = runProcess "dotnet" [ "fsi"; script; "--"; "--quick"; "--plan-to"; store ]
            Expect.equal code 0 (out + err)
            Expect.stringContains out (sprintf "plan written: %s" (Path.Combine(store, "studies", "ex.quick", "index.json"))) "names the index"
            Expect.stringContains out "8 training nodes, 0 already in the store" "nothing trained"
            let p, _ = NodeStore.readIndex (ResultStore store) "ex.quick"
            let stage1 = Plan.nodeAt p "warm" 0 1
            let child = Plan.nodeAt p "warm" 0 2
            let exec (key: string) = warmstart [] [ "exec-node"; "--store"; store; "--study"; "ex.quick"; "--key"; key ]
            let c1, _, e1 = exec child.Key
            Expect.equal c1 1 "parent missing: exit 1"
            Expect.stringContains e1 (sprintf "parent %s" (stage1.Key.Substring(0, 8))) "names the parent"
            Expect.stringContains e1 "has no result in the store" "and the problem"
            let c2, o2, e2 = exec (stage1.Key.Substring(0, 12))
            Expect.equal c2 0 (o2 + e2)
            Expect.stringContains o2 "exec-node: trained" "trained from a key prefix"
            let c3, o3, _ = exec stage1.Key
            Expect.equal c3 0 "done: exit 0"
            Expect.stringContains o3 "already done (v1): nothing to do" "no-op"
            // Another executor holds the child's lock: exec-node waits, and trains once it is released.
            let held = (ResultStore store).TryLock child.Key
            Expect.isNotNull held "lock taken"
            use proc = new Processes.Child("dotnet", [ cliDll (); "exec-node"; "--store"; store; "--study"; "ex.quick"; "--key"; child.Key ], [])
            let waiting = proc.WaitForLine((fun l -> l.Contains "waiting for the lock"), Processes.limit 120.0, "a 'waiting for the lock' line")
            Expect.stringContains waiting.Text (child.Key.Substring(0, 8)) "names the node it waits for"
            Expect.isFalse proc.HasExited "still waiting while the lock is held"
            Expect.isFalse ((ResultStore store).Has child.Key) "nothing stored while the lock is held"
            held.Dispose()
            let code = proc.Wait(Processes.defaultLimit ())
            Expect.equal code 0 (proc.Describe())
            Expect.stringContains proc.Out "exec-node: trained" "trained once the lock was released"
            Expect.isTrue ((ResultStore store).Has child.Key) "trained after the release"
            let c4, _, e4 = warmstart [] [ "exec-node"; "--store"; store; "--study"; "nope"; "--key"; child.Key ]
            Expect.equal c4 1 "unknown study"
            Expect.stringContains e4 "no study 'nope'" "says so"
            let c5, _, e5 = exec "0123456789abcdef"
            Expect.equal c5 1 "unknown key"
            Expect.stringContains e5 "no node '0123456789abcdef'" "says so"
        }
        test "submit: --slurm is required; --dry-run prints the scripts and keys, submits nothing" {
            use d = new TempDir()
            let script = writeStudyScript d.Path "dry.fsx" "dry" body
            let store = d.File "store"
            let c0, _, e0 = warmstart [] [ "submit"; script; "--store"; store ]
            Expect.equal c0 2 "no launcher named"
            Expect.stringContains e0 "--slurm" "says which"
            let code, out, err =
                warmstart [] [ "submit"; script; "--slurm"; "--store"; store; "--quick"; "--dry-run"; "--gpus-per-task"; "2"; "--partition"; "gpu"
                               "--array-parallelism"; "3"; "--sbatch-arg"; "--exclusive"; "--sbatch-arg=--constraint=h100" ]
            Expect.equal code 0 (out + err)
            Expect.stringContains out "8 nodes, 0 done, 8 to run in 3 job array(s) over 2 dependency level(s)" "summary"
            for line in [ "#SBATCH --array=0-3%3"; "#SBATCH --array=0-1%3"; "#SBATCH --gres=gpu:2"; "#SBATCH --partition=gpu"; "#SBATCH --exclusive"
                          "#SBATCH --constraint=h100"; "#SBATCH --dependency=aftercorr:<job id of a0>"; "'--device' 'cuda'"; "a0.keys ----" ] do
                Expect.stringContains out line line
            Expect.stringContains out "dry run: nothing submitted" "says it"
            Expect.isFalse (Directory.Exists(Path.Combine(store, "slurm", "dry.quick", "submit-001"))) "no submission folder"
            Expect.isTrue (File.Exists(Path.Combine(store, "studies", "dry.quick", "index.json"))) "the plan is in the store"
        }
        test "single-node cluster: submit, requeue and kill tasks, status, resubmit; results equal the local run" {
            if Environment.GetEnvironmentVariable "WARMSTART_SKIP_SLURM" = "1" then skiptest "WARMSTART_SKIP_SLURM=1 (allowed only with --allow-skip slurm)"
            use d = new TempDir()
            let script = writeStudyScript d.Path "sl.fsx" "sl" body
            // The same study locally: the reference numbers, and the local time.
            let local = d.File "local"
            let swLocal = Stopwatch.StartNew()
            // --stack off: cluster tasks checkpoint every epoch, so they train with the single engine (the stacked one
            // writes no checkpoints), and the reference must be that engine's numbers.
            let lc, lo, le = runProcess "dotnet" [ "fsi"; script; "--"; "--quick"; "--stack"; "off"; "--out"; local ]
            let localSeconds = swLocal.Elapsed.TotalSeconds
            Expect.equal lc 0 (lo + le)
            // Waits on the cluster scale with the measured local time (the same 8 nodes, run in one process):
            // k local runs' worth plus a minute for Slurm's own start-up and scheduling.
            let budget (k: float) = Processes.limit (60.0 + k * localSeconds)
            use cluster = new Cluster(d.File "cluster")
            cluster.Start()
            let env = cluster.Env
            let store = d.File "store"
            let swSlurm = Stopwatch.StartNew()
            let sc, so, se = warmstart env [ "submit"; script; "--slurm"; "--store"; store; "--quick"; "--cpus-per-task"; "1"; "--mem"; "2G"; "--time"; "10:00" ]
            Expect.equal sc 0 (so + se)
            Expect.stringContains so "8 nodes, 0 done, 8 to run in 3 job array(s)" "the whole plan"
            let ids = jobIds so
            let p, _ = NodeStore.readIndex (ResultStore store) "sl.quick"
            let seed0, seed1 = Plan.nodeAt p "warm" 0 1, Plan.nodeAt p "warm" 1 1
            // Tasks 0 and 1 of a0 are the stage-1 nodes of seeds 0 and 1. Freeze each (SIGSTOP) once its first
            // checkpoint is written, then preempt seed 0's task (requeue) and kill seed 1's (scancel).
            let frozen = Collections.Generic.List<int>()
            try
                let waiting = Collections.Generic.HashSet<string>([ seed0.Key; seed1.Key ])
                waitFor (budget 1.0) 20 (fun () -> sprintf "a first checkpoint of %s" (String.Join(", ", waiting)))
                    (fun () ->
                        for key in List.ofSeq waiting do
                            if Directory.Exists(Path.Combine((ResultStore store).NodeFolder key, "checkpoint")) then
                                match execNodePids key with
                                | [] -> ()
                                | pids ->
                                    for pid in pids do signal "STOP" pid; frozen.Add pid
                                    waiting.Remove key |> ignore
                        if waiting.Count = 0 then Some() else None)
                for n in [ seed0; seed1 ] do
                    Expect.isFalse ((ResultStore store).Has n.Key) (sprintf "%s frozen before its end" (n.Key.Substring(0, 8)))
                let a0 = ids["a0"]
                let rq = runEnv env "scontrol" [ "requeue"; a0 + "_0" ]
                Expect.equal (let c, _, _ = rq in c) 0 (sprintf "scontrol requeue: %A" rq)
                let kc, _, ke = runEnv env "scancel" [ a0 + "_1" ]
                Expect.equal kc 0 ke
                for pid in frozen do signal "CONT" pid
                // Slurm holds a requeued job back for two minutes; let it start as soon as it can.
                waitFor (Processes.limit 60.0) 200 (fun () -> "the requeued task to be pending again")
                    (fun () ->
                        let _, out, _ = runEnv env "squeue" [ "-h"; "-r"; "-j"; a0 + "_0"; "-o"; "%T" ]
                        if out.Trim() = "PENDING" then Some() else None)
                let uc, uo, ue = runEnv env "scontrol" [ "update"; sprintf "JobId=%s_0" a0; "StartTime=now" ]
                Expect.equal uc 0 (uo + ue)
                waitJobs env (ids |> Map.toList |> List.map snd) (budget 3.0)
            finally
                for pid in frozen do signal "CONT" pid
            let a0 = ids["a0"]
            let log0 = File.ReadAllText(Path.Combine(store, "slurm", "sl.quick", "submit-001", "logs", sprintf "a0-%s_0.log" a0))
            Expect.stringContains log0 "(restart 1)" "the requeued task ran again"
            Expect.stringContains log0 "exec-node: resuming from the checkpoint after epoch" "and resumed from its checkpoint"
            // Status: seed 1's stage-1 node failed (its log is named); its two children never started.
            let tc, status1, te = warmstart env [ "status"; store ]
            Expect.equal tc 0 te
            Expect.stringContains status1 "study sl.quick: 8 nodes: 5 done, 0 running, 2 pending, 1 failed" status1
            Expect.stringContains status1 (sprintf "task %s_1 CANCELLED" a0) status1
            Expect.stringContains status1 (sprintf "log: %s" (Path.Combine(store, "slurm", "sl.quick", "submit-001", "logs", sprintf "a0-%s_1.log" a0))) status1
            Expect.stringContains status1 "DependencyNeverSatisfied" status1
            Expect.stringContains status1 (sprintf "submission 1 (") status1
            // exec-node refuses a child whose parent has no result.
            let ec, _, ee = warmstart env [ "exec-node"; "--store"; store; "--study"; "sl.quick"; "--key"; (Plan.nodeAt p "warm" 1 2).Key ]
            Expect.equal ec 1 "parent missing"
            Expect.stringContains ee "has no result in the store" ee
            // Submit again: only the three missing nodes; the killed one resumes from its checkpoint.
            let rc, ro, re = warmstart env [ "submit"; script; "--slurm"; "--store"; store; "--quick"; "--cpus-per-task"; "1"; "--mem"; "2G" ]
            Expect.equal rc 0 (ro + re)
            Expect.stringContains ro "8 nodes, 5 done, 3 to run" ro
            let ids2 = jobIds ro
            waitJobs env (ids2 |> Map.toList |> List.map snd) (budget 2.0)
            let slurmSeconds = swSlurm.Elapsed.TotalSeconds
            let log1 = File.ReadAllText(Path.Combine(store, "slurm", "sl.quick", "submit-002", "logs", sprintf "a0-%s_0.log" ids2["a0"]))
            Expect.stringContains log1 seed1.Key "the resubmitted task is seed 1's stage-1 node"
            Expect.stringContains log1 "resuming from the checkpoint after epoch" "resumed the killed attempt"
            let _, status2, _ = warmstart env [ "status"; store; "--study"; "sl.quick" ]
            Expect.stringContains status2 "8 nodes: 8 done, 0 running, 0 pending, 0 failed" status2
            Expect.stringContains status2 "submission 2 (" status2
            // Same numbers as the local run; every node trained exactly once.
            Expect.equal (numbers store "sl.quick") (numbers local "sl.quick") "Slurm results = local results"
            Expect.equal (versions store (p.Nodes |> List.map (fun n -> n.Key))) (List.replicate 8 1) "one version per node"
            let nc, no, _ = warmstart env [ "submit"; script; "--slurm"; "--store"; store; "--quick" ]
            Expect.equal nc 0 no
            Expect.stringContains no "nothing to submit" no
            let pids = cluster.Pids
            cluster.Stop()
            for name, pid in pids do
                Expect.isFalse (Directory.Exists(sprintf "/proc/%d" pid) && (try File.ReadAllText(sprintf "/proc/%d/cmdline" pid).Contains name with _ -> false))
                    (sprintf "%s (%d) stopped" name pid)
            printfn "slurm: quick study locally %.1fs (incl. fsi start), through Slurm %.1fs (submit, requeue, kill, resubmit)" localSeconds slurmSeconds
        }
    ]
