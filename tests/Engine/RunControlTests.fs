/// Controlling a run: `--jobs N` trains independent nodes at once in one process; Ctrl-C (SIGINT) stops the run,
/// keeps the finished nodes, and the same command continues from them.
module WarmStart.Tests.Engine.RunControlTests

open System
open System.IO
open System.Threading
open Expecto
open WarmStart
open WarmStart.Core.Runs
open WarmStart.Tests
open WarmStart.Tests.Fixtures

/// 3 arms × 2 seeds (8 nodes) of a few epochs each on real data.
let private body =
    """data fashion_mnist
subset 1500
model (mlp [ 64 ])
optimizer (adam 1e-3)
train_until (train_accuracy 0.999) (max_epochs 4)
seeds 2
threads 1
arm "fresh" fresh
arm "warm" warm
arm "sp" (shrink_perturb 0.6 0.01)"""

[<Tests>]
let tests =
    withoutRetries <| testSequenced (testList "engine.control" [
        test "--jobs 2: one process trains two independent nodes at once; the numbers equal a --jobs 1 run" {
            use d = new TempDir()
            let s = study "jobs" { subset 1500; model (mlp [ 64 ]); optimizer (adam 1e-3); epochs 3; seeds 2; threads 1; arm "fresh" fresh; arm "warm" warm }
            let keys = (Plan.ofStudy s).Nodes |> List.map (fun n -> n.Key)
            let store = d.File "jobs2"
            let run = Tasks.Task.Run(fun () -> Study.runWith { Study.defaultOptions with Out = store; Jobs = 2 } s)
            // Watch the store's node locks (OS file locks, held while a node trains): two held at one instant.
            let mutable most = 0
            while not run.IsCompleted do
                if Directory.Exists(Path.Combine(store, "nodes")) then
                    let st = ResultStore(store)
                    let free = keys |> List.map (fun k -> st.TryLock k)
                    let held = free |> List.filter isNull |> List.length
                    for l in free do if not (isNull l) then l.Dispose()
                    most <- max most held
                Thread.Sleep 25
            let r2 = run.Result
            Expect.isGreaterThanOrEqual most 2 "two nodes held their locks (trained) at the same time"
            let r1 = Study.runWith { Study.defaultOptions with Out = d.File "jobs1"; Jobs = 1 } s
            for KeyValue(k, x) in r1.Results do
                let y = r2.Results[k]
                Expect.equal (y.TestAccuracy, y.TrainLoss, y.Epochs) (x.TestAccuracy, x.TrainLoss, x.Epochs) (sprintf "node %s: same numbers with --jobs 2" k)
        }
        test "Ctrl-C (SIGINT) stops the run with exit 130 and keeps the finished nodes; the same command continues" {
            use d = new TempDir()
            let script = writeStudyScript d.Path "stop.fsx" "stop" body
            let store = d.File "store"
            use p = new Processes.Child("dotnet", [ "fsi"; script; "--"; "--out"; store ], [])
            p.WaitForLine((fun l -> l.StartsWith "[1/"), Processes.defaultLimit (), "the first finished node") |> ignore
            p.SignalTree Processes.Signal.INT
            let code = p.Wait(Processes.limit 300.0)
            Expect.equal code 130 (sprintf "stopped on SIGINT:\n%s" (p.Describe()))
            noRetryWarning "the interrupted run" p.Err
            Expect.stringContains p.Err "interrupted: stopping after the running nodes' current step" "says it stops"
            Expect.stringContains p.Err "finished nodes are kept" "says what is kept"
            let kept = (Study.load store "stop").Results
            Expect.isGreaterThanOrEqual kept.Count 1 "the finished node is in the store"
            Expect.isLessThan kept.Count 8 "the run stopped before the end"
            let code2, out2, err2 = runProcess "dotnet" [ "fsi"; script; "--"; "--out"; store ]
            Expect.equal code2 0 (out2 + err2)
            Expect.stringContains out2 (sprintf "nodes: %d trained, %d cached" (8 - kept.Count) kept.Count) "the kept nodes are read, the rest trained"
        }
    ])
