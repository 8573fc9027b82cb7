module WarmStart.Tests.Dsl.StreamStudyTests

open System.IO
open System.Threading
open Expecto
open WarmStart
open WarmStart.Tests
open WarmStart.Tests.Fixtures

/// A tiny random-label stream on real Fashion-MNIST: 3 tasks of 64 images, 2 epochs each, batch 16.
let private tinyStream () =
    study "stream-tiny" {
        model (mlp [ 16; 16 ])
        optimizer (adam 1e-3)
        batch_size 16
        seeds 2
        schedule (stream (random_label_tasks 3 |> images 64 |> epochs_per_task 2))
        arm "adam" continual
        arm "cbp" (continual |> continual_backprop 1e-2 4)
        arm "redo" (continual |> redo_every_task 0.1)
        threads 1
    }

let private opts dir = { Study.defaultOptions with Out = dir; Threads = Some 1 }

let private problemsOf (f: unit -> Study) =
    try f () |> ignore; [] with StudyValidationError(_, ps) -> ps

/// A sink that counts finished tasks and cancels after `after` of them (an in-process stand-in for a kill).
type private CancelAfter(after: int, cts: CancellationTokenSource) =
    let mutable tasks = 0
    interface Progress.IProgressSink with
        member _.Started _ = ()
        member _.Epoch(_, _) = if Interlocked.Increment(&tasks) >= after then cts.Cancel()
        member _.Finished(_, _, _) = ()

[<Tests>]
let tests =
    testSequenced (testList "dsl.streams" [
        test "a stream study plans one node per arm × seed, whatever the number of tasks" {
            let p = Plan.ofStudy (tinyStream ())
            Expect.equal p.Nodes.Length (3 * 2) "3 arms × 2 seeds"
            for n in p.Nodes do
                match n.Spec.Stream with
                | System.Text.Json.Serialization.Include d ->
                    Expect.equal d.Stream.Tasks 3 "the node covers every task"
                | _ -> failtest "a stream node"
            // redo_every_task resolves to the stream's steps per task: 64 images / 16 × 2 epochs = 8 steps.
            let redo = p.Nodes |> List.find (fun n -> n.Arms = [ "redo" ])
            match redo.Spec.Stream with
            | System.Text.Json.Serialization.Include d -> Expect.equal d.Methods [ Redo(0.1, 8) ] "period in steps"
            | _ -> failtest "a stream node"
            // Arms of a seed share the stream's seed (same images, labels and init): they are paired.
            let seeds = p.Nodes |> List.filter (fun n -> n.SeedIndex = 0) |> List.map (fun n -> match n.Spec.Stream with System.Text.Json.Serialization.Include d -> d.Seed | _ -> 0L) |> List.distinct
            Expect.equal seeds.Length 1 "one stream seed per seed index"
        }

        test "layer_norm is part of a node key only when set" {
            let s = WarmStart.Tests.Studies.quickstartStudy ()
            let plain = Plan.ofStudy s
            let ln = Plan.ofStudy { s with Model = s.Model |> layer_norm }
            let json = Canonical.render (Plan.specJson plain.Nodes.Head.Spec)
            Expect.isFalse (json.Contains "layer_norm") "absent when off"
            Expect.stringContains (Canonical.render (Plan.specJson ln.Nodes.Head.Spec)) "\"layer_norm\":true" "present when on"
            Expect.notEqual ln.Nodes.Head.Key plain.Nodes.Head.Key "a different model, a different key"
            Expect.isTrue (ToCore.modelSpec (mlp [ 8 ] |> layer_norm)).LayerNorm "passed to the core"
        }

        test "stream mistakes are rejected with the field, the value and what is allowed" {
            let ps =
                problemsOf (fun () ->
                    study "bad-stream" {
                        schedule (stream (random_label_tasks 0 |> images 70000 |> epochs_per_task 0))
                        arm "fresh" fresh
                        arm "cbp" (continual |> continual_backprop 2.0 -1)
                    })
            let has (text: string) = Expect.isTrue (ps |> List.exists (fun p -> p.Contains text)) (sprintf "a problem mentions %s: %A" text ps)
            has "field 'stream.tasks' = 0"
            has "field 'stream.images' = 70000: allowed: 1 to 60000"
            has "field 'stream.epochs_per_task' = 0"
            has "field 'arm \"fresh\".policy' = fresh"
            has "field 'arm \"cbp\".continual_backprop.rate' = 2: allowed: 0 ≤ ρ ≤ 1"
            has "field 'arm \"cbp\".continual_backprop.maturity' = -1"
            let outside =
                problemsOf (fun () -> study "cbp-outside" { arm "cbp" (continual |> continual_backprop 1e-3 100) })
            Expect.isTrue (outside |> List.exists (fun p -> p.Contains "arm \"cbp\".continual" && p.Contains "schedule (stream")) (sprintf "%A" outside)
            let ln = problemsOf (fun () -> study "ln-lr" { model (logistic_regression |> layer_norm); arm "fresh" fresh })
            Expect.isTrue (ln |> List.exists (fun p -> p.Contains "model.layer_norm")) (sprintf "%A" ln)
        }

        test "a stream study runs end to end on Fashion-MNIST: per-task results, CSVs, plots, a cached rerun" {
            use d = new TempDir()
            let r = tinyStream () |> Study.runWith (opts d.Path)
            Expect.equal r.Results.Count 6 "every stream node has a result"
            let rows = Summary.taskRows r
            Expect.equal rows.Length (3 * 2 * 3) "arm × seed × task"
            for x in rows do
                Expect.isTrue (x.OnlineAcc >= 0.0 && x.OnlineAcc <= 1.0) "an accuracy"
                Expect.isTrue (x.Dormant >= 0.0 && x.Dormant <= 1.0) "a fraction"
                Expect.isGreaterThanOrEqual x.SRank 1 "a rank"
            // Paired arms start from the same init on the same labels: task 1's first minibatch is scored by the same
            // network, but the methods act after steps, so only the plain arms of two stores may be compared exactly.
            let cbpReplaced = rows |> List.filter (fun x -> x.Arm = "cbp") |> List.map (fun x -> x.OnlineAcc)
            let adam = rows |> List.filter (fun x -> x.Arm = "adam") |> List.map (fun x -> x.OnlineAcc)
            Expect.notEqual cbpReplaced adam "continual backprop changes the stream"
            Expect.equal (Summary.perTaskRows r).Length (3 * 3) "arm × task"
            Expect.equal (Summary.plasticityLossRows r |> List.filter (fun x -> x.Metric = "online_acc")).Length 3 "one per arm"
            let gaps = Summary.streamGapVsRows "adam" r
            Expect.equal (gaps |> List.map (fun g -> g.Arm) |> List.distinct) [ "cbp"; "redo" ] "vs adam"
            let dir = Path.Combine(d.Path, "studies", "stream-tiny")
            for f in [ "tasks.csv"; "per-task.csv"; "plasticity.csv"; "plasticity-loss.csv"; "runs.csv" ] do
                Expect.isTrue (File.Exists(Path.Combine(dir, f))) f
            Expect.equal (File.ReadAllLines(Path.Combine(dir, "tasks.csv")).Length) (1 + 18) "header + rows"
            let st = WarmStart.Core.Runs.ResultStore(d.Path)
            let key = r.Plan.Nodes.Head.Key
            let nodeCsv = File.ReadAllLines(Path.Combine(st.Latest key, "tasks.csv"))
            Expect.equal nodeCsv.Length 4 "the node keeps its own per-task CSV"
            Expect.stringStarts nodeCsv[0] "Task,Epochs,Steps,OnlineAcc,EndAcc,Loss,Dormant1,Dormant2,Dead1,Dead2" "per-layer columns"
            Expect.stringEnds nodeCsv[0] ",Seconds,WeightMagnitude_hidden1,WeightMagnitude_hidden2,WeightMagnitude_head" "weight magnitude per layer group"
            Expect.isFalse (Directory.Exists(Path.Combine(st.NodeFolder key, "checkpoint"))) "no checkpoint left once committed"
            let plots = StreamPlots.saveAll (Path.Combine(d.Path, "plots")) r
            Expect.equal plots.Length StreamPlots.drawn.Length "one PNG per metric"
            for p in plots do Expect.isGreaterThan (FileInfo(p).Length) 1000L "a drawn PNG"
            Expect.stringContains (Report.markdown r) "Task streams" "the report shows the streams"
            let again = tinyStream () |> Study.runWith (opts d.Path)
            Expect.isTrue (again.Status |> Map.forall (fun _ s -> s = Cached)) "read, not retrained"
            Expect.equal (Summary.taskRows again |> List.map (fun x -> { x with Seconds = 0.0 })) (rows |> List.map (fun x -> { x with Seconds = 0.0 })) "same numbers"
        }

        test "--tensorboard: a stream node writes one run with a step per task, its numbers those of Summary.tasks" {
            use d = new TempDir()
            let tb = Path.Combine(d.Path, "tb")
            let s =
                study "stream-tb" {
                    model (mlp [ 16 ])
                    optimizer (adam 1e-3)
                    batch_size 16
                    seeds 1
                    threads 1
                    schedule (stream (random_label_tasks 3 |> images 64 |> epochs_per_task 1))
                    arm "adam" continual
                }
            let r = s |> Study.runWith { opts d.Path with TensorBoard = Some tb }
            let n = r.Plan.Nodes |> List.exactlyOne
            let files = Directory.GetFiles(TensorBoardRuns.runFolder tb s.Name n, "events.out.tfevents*") |> List.ofArray
            Expect.equal files.Length 1 "one event file in the node's run"
            let scalars = TfEvents.scalars files.Head
            let series tag = scalars |> List.filter (fun x -> x.Tag = tag) |> List.map (fun x -> x.Step, x.Value)
            let rows = Summary.taskRows r
            Expect.equal (series "stream/online_accuracy") [ for x in rows -> int64 x.Task, float32 x.OnlineAcc ] "online accuracy per task"
            Expect.equal (series "stream/end_accuracy") [ for x in rows -> int64 x.Task, float32 x.EndAcc ] "task-end accuracy per task"
            Expect.equal (series "stream/dormant") [ for x in rows -> int64 x.Task, float32 x.Dormant ] "dormant fraction per task"
            Expect.equal (series "stream/dead") [ for x in rows -> int64 x.Task, float32 x.Dead ] "dead fraction per task"
            Expect.equal (series "stream/srank") [ for x in rows -> int64 x.Task, float32 x.SRank ] "srank per task"
            Expect.equal (series "stream/online_accuracy" |> List.map fst) [ 1L; 2L; 3L ] "steps are the tasks"
            Expect.equal (TfEvents.hparams files.Head |> Option.map (fun h -> h.ContainsKey "arm")) (Some true) "hparams"
            Expect.isTrue (TfEvents.sessionSucceeded files.Head) "the session ended"
            // A cached rerun writes the same run again, not a second event file.
            s |> Study.runWith { opts d.Path with TensorBoard = Some tb } |> ignore
            let again = Directory.GetFiles(TensorBoardRuns.runFolder tb s.Name n, "events.out.tfevents*") |> List.ofArray
            Expect.equal again.Length 1 "still one event file"
            Expect.equal (TfEvents.scalars again.Head) scalars "same scalars"
        }

        test "kill -9 mid-stream, then the same command: the stream resumes after its last task and ends identical" {
            use d = new TempDir()
            // One stream long enough (8 tasks) for a kill to land after a task boundary and before the end.
            let body = "model (mlp [ 16 ])\nbatch_size 16\nseeds 1\nthreads 1\nschedule (stream (random_label_tasks 8 |> images 128 |> epochs_per_task 3))\narm \"cbp\" (continual |> continual_backprop 1e-2 4)"
            let script = writeStudyScript d.Path "kill.fsx" "stream-kill" body
            let clean = Path.Combine(d.Path, "clean")
            let code, out, err = runProcess "dotnet" [ "fsi"; script; "--"; "--out"; clean ]
            Expect.equal code 0 (sprintf "clean run: %s %s" out err)
            let cut = Path.Combine(d.Path, "cut")
            let store = WarmStart.Core.Runs.ResultStore(cut)
            let key = (Study.load clean "stream-kill").Plan.Nodes.Head.Key
            do
                use p = new WarmStart.Tests.Processes.Child("dotnet", [ "fsi"; script; "--"; "--out"; cut ], [])
                let sw = System.Diagnostics.Stopwatch.StartNew()
                let checkpointed () = try (StreamNode.tryCheckpoint store key |> Option.map (fun c -> c.TasksDone)) with _ -> None
                while (checkpointed () |> Option.defaultValue 0) < 2 do
                    if p.HasExited then failtestf "the run ended before a checkpoint:\n%s" (p.Describe())
                    if sw.Elapsed > WarmStart.Tests.Processes.defaultLimit () then p.KillTree(); failtest "timed out"
                    Thread.Sleep 10
                p.KillTree()
                Expect.equal (p.Wait(WarmStart.Tests.Processes.limit 60.0)) 137 "killed by SIGKILL"
            Expect.isFalse (store.Has key) "killed before the result"
            let code2, out2, err2 = runProcess "dotnet" [ "fsi"; script; "--"; "--out"; cut ]
            Expect.equal code2 0 (sprintf "resumed run: %s %s" out2 err2)
            Expect.stringContains err2 (sprintf "node %s: resuming the stream after task" (key.Substring(0, 8))) "resumed from the checkpoint"
            let tasks store = (Study.load store "stream-kill" |> Summary.taskRows) |> List.map (fun x -> { x with Seconds = 0.0 })
            Expect.equal (tasks cut) (tasks clean) "identical per-task numbers"
        }

        test "a stream interrupted after a task boundary resumes from its checkpoint to identical numbers" {
            use whole = new TempDir()
            use cut = new TempDir()
            let s = { tinyStream () with Seeds = 1; Arms = [ { (continual |> continual_backprop 1e-2 4) with Name = "cbp" } ] }
            let full = s |> Study.runWith (opts whole.Path)
            // Run the same plan on the executor and stop it once two tasks have finished.
            let p = Plan.ofStudy s
            let store = WarmStart.Core.Runs.ResultStore(cut.Path)
            use cts = new CancellationTokenSource()
            let exec : Executor.ExecOptions =
                { DataRoot = None; Device = Device.Cpu; Stack = Executor.StackOff; Jobs = 1; Store = store; Rerun = false; CheckpointEvery = 0; Cancel = cts.Token; TensorBoard = None }
            Expect.throwsT<System.OperationCanceledException> (fun () -> Executor.run exec (CancelAfter(2, cts)) p |> ignore) "interrupted"
            let key = p.Nodes.Head.Key
            match StreamNode.tryCheckpoint store key with
            | Some ck -> Expect.equal ck.TasksDone 2 "checkpoint at the task boundary"
            | None -> failtest "a checkpoint after task 2"
            Expect.isFalse (store.Has key) "no result yet"
            let resumed = s |> Study.runWith (opts cut.Path)
            let strip (r: StudyResult) = Summary.taskRows r |> List.map (fun x -> { x with Seconds = 0.0 })
            Expect.equal (strip resumed) (strip full) "identical per-task numbers"
            let weights (dir: string) = File.ReadAllBytes(Path.Combine(WarmStart.Core.Runs.ResultStore(dir).Latest key, "model.pt"))
            Expect.equal (weights cut.Path) (weights whole.Path) "identical final weights"
        }
    ])
