/// `--tensorboard DIR` while training: one run per node, written epoch by epoch, with the hparams plugin's session
/// start (arm, policy, knobs, seed), steps continuing along a chain's stages. Read back with an independent parser.
module WarmStart.Tests.Engine.TensorBoardTests

open System
open System.IO
open Expecto
open WarmStart
open WarmStart.Core.Runs
open WarmStart.Tests
open WarmStart.Tests.Fixtures

let private eventFiles (dir: string) =
    if Directory.Exists dir then Directory.GetFiles(dir, "events.out.tfevents.*") |> List.ofArray else []

[<Tests>]
let tests =
    testList "tensorboard" [
        test "run --tensorboard writes each node's epochs while it trains, steps continuing across stages, with hparams" {
            use d = new TempDir()
            let tb = d.File "tb"
            let s =
                study "tblive" {
                    subset 600; model (mlp [ 16 ]); optimizer (adam 1e-3); train_until (train_accuracy 0.999) (max_epochs 3)
                    seeds 1; threads 1; schedule (fractions [ 0.5; 1.0 ]); sweep Knob.Lr [ 1e-3; 3e-3 ]
                    arm "fresh" fresh; arm "warm" warm }
            let plan = Plan.ofStudy s
            // Live: when a node reports epoch e ≥ 2, its run already holds epoch e - 1 (the hook writes at EpochEnd).
            let seenLive = Collections.Concurrent.ConcurrentBag<string>()
            let sink =
                { new Progress.IProgressSink with
                    member _.Started _ = ()
                    member _.Epoch(n, e) =
                        if e.Epoch >= 2 then
                            let steps =
                                eventFiles (TensorBoardRuns.runFolder tb s.Name n) |> List.collect TfEvents.scalars
                                |> List.filter (fun x -> x.Tag = "train/loss") |> List.length
                            if steps >= e.Epoch - 1 then seenLive.Add n.Key
                    member _.Finished(_, _, _) = () }
            let exec : Executor.ExecOptions =
                { DataRoot = None; Device = Device.Cpu; Stack = Executor.StackOff; Jobs = 1; Store = ResultStore(d.File "store"); Rerun = false
                  CheckpointEvery = 0; Cancel = Threading.CancellationToken.None; TensorBoard = Some tb }
            let status, results = Executor.run exec sink plan
            Expect.equal status.Count plan.Nodes.Length "every node ran"
            Expect.isTrue (plan.Nodes |> List.forall (fun n -> status[n.Key] = Trained)) "every node trained"
            Expect.isNonEmpty seenLive "event files grow while nodes train"
            let series (n: PlanNode) tag =
                eventFiles (TensorBoardRuns.runFolder tb s.Name n) |> List.collect TfEvents.scalars
                |> List.filter (fun x -> x.Tag = tag) |> List.map (fun x -> x.Step, x.Value)
            for n in plan.Nodes do
                let files = eventFiles (TensorBoardRuns.runFolder tb s.Name n)
                Expect.equal files.Length 1 (sprintf "one event file for node %s" n.Key)
                let r = results[n.Key]
                // The chain's epoch: a stage-2 node follows its seed's stage-1 node of the same variant.
                let offset =
                    if n.Stage = 1 then 0
                    else
                        let first = plan.Nodes |> List.find (fun m -> m.Stage = 1 && m.Variants = n.Variants)
                        results[first.Key].Epochs
                Expect.equal (series n "train/loss") [ for e in r.Curve -> int64 (offset + e.Epoch), float32 e.Loss ] "train/loss per epoch"
                Expect.equal (series n "train/accuracy") [ for e in r.Curve -> int64 (offset + e.Epoch), float32 e.TrainAccuracy ] "train/accuracy per epoch"
                Expect.equal (series n "test/accuracy") [ int64 (offset + r.Epochs), float32 r.TestAccuracy ] "test accuracy at the last step"
                let hp = TfEvents.hparams files.Head |> Option.defaultWith (fun () -> failtestf "no hparams in %s" files.Head)
                Expect.equal hp["arm"] (TfEvents.Text(String.concat "+" n.Arms)) "arm"
                Expect.equal hp["seed"] (TfEvents.Number 0.0) "seed"
                Expect.equal hp["stage"] (TfEvents.Number(float n.Stage)) "stage"
                Expect.equal hp["policy"] (TfEvents.Text(if n.Stage = 1 || n.Arms = [ "fresh" ] then "fresh" else "warm")) "policy"
                Expect.equal hp["lr"] (TfEvents.Number n.Spec.Optimizer.Lr) "the swept knob"
                Expect.isTrue (TfEvents.sessionSucceeded files.Head) "session end: success"
            // Steps along each chain: stage 2's first step is stage 1's last + 1.
            for KeyValue(chain, keys) in plan.Chains do
                let steps = keys |> List.collect (fun k -> series (Plan.node plan k) "train/loss" |> List.map fst)
                Expect.equal steps [ 1L .. int64 steps.Length ] (sprintf "steps of %A run 1, 2, … without a gap" chain)
            // A second run reads every node from the store and leaves the runs as they are (no duplicate events).
            let status2, _ = Executor.run exec sink plan
            Expect.isTrue (status2 |> Map.forall (fun _ st -> st = Cached)) "cached"
            for n in plan.Nodes do
                Expect.equal (eventFiles (TensorBoardRuns.runFolder tb s.Name n)).Length 1 "still one event file per run"
        }
        test "--tensorboard through the CLI: a quick study writes a run per node" {
            use d = new TempDir()
            let script =
                writeStudyScript d.Path "tbcli.fsx" "tbcli"
                    "subset 600\nmodel (mlp [ 16 ])\nepochs 2\nseeds 1\nthreads 1\nschedule (fractions [ 0.5; 1.0 ])\narm \"fresh\" fresh\narm \"warm\" warm"
            let tb = d.File "tb"
            let code, out, err = runProcess "dotnet" [ cliDll (); "run"; script; "--out"; d.File "store"; "--tensorboard"; tb ]
            Expect.equal code 0 (out + err)
            let runs = Directory.GetDirectories(Path.Combine(tb, "tbcli"))
            Expect.equal runs.Length 3 "stage 1 shared, stage 2 fresh and warm"
            for r in runs do
                let scalars = eventFiles r |> List.collect TfEvents.scalars |> List.filter (fun x -> x.Tag = "train/loss")
                Expect.equal (scalars |> List.map (fun x -> x.Step)) (if Path.GetFileName(r).StartsWith "stage1" then [ 1L; 2L ] else [ 3L; 4L ]) r
        }
    ]
