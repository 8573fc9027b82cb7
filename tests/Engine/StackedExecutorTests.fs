/// The stacked engine inside the executor (`--stack`): a node's numbers do not depend on its companions, the cache
/// never serves one engine's result for the other's, unsupported nodes fall back to the single engine, and the two
/// engines agree statistically on the quickstart.
module WarmStart.Tests.Engine.StackedExecutorTests

open System
open System.Collections.Generic
open System.IO
open Expecto
open WarmStart
open WarmStart.Core.Runs
open WarmStart.Tests
open WarmStart.Tests.Fixtures

/// Runs `s` through the executor with `stack` and `jobs` workers into `dir`, plain progress lines collected in `lines`.
let private executeWith (jobs: int) (dir: string) (stack: Executor.StackMode) (lines: List<string>) (s: Study) =
    let o = { Study.defaultOptions with Out = dir; Stack = stack }
    let plan = Plan.ofStudy (Study.configure o s)
    let exec : Executor.ExecOptions =
        { DataRoot = None; Device = Device.Cpu; Stack = stack; Jobs = jobs; Store = ResultStore(dir); Rerun = false
          CheckpointEvery = 0; Cancel = Threading.CancellationToken.None; TensorBoard = None }
    let sink = Progress.PlainSink(plan.Nodes.Length, (fun l -> lock lines (fun () -> lines.Add l)), TimeSpan.Zero)
    let status, results = Executor.run exec sink plan
    plan, status, results

/// `executeWith` one worker.
let private execute dir stack lines s = executeWith 1 dir stack lines s

let private engineOf (dir: string) (key: string) =
    (NodeStore.tryProvenance (ResultStore(dir)) key |> Option.get).Engine

/// Everything of a stored node a companion could change: every number of result.json but the timings, and the
/// SHA-256 of the weights, the optimiser state and the subset.
let private fingerprint (dir: string) (r: NodeResult) =
    let st = ResultStore(dir)
    let v = st.Latest r.Key
    let sha name = let p = Path.Combine(v, name) in if File.Exists p then Manifest.Sha256 p else "-"
    (r.Epochs, r.TrainLoss, r.TrainAccuracy, r.TestLoss, r.TestAccuracy, r.Diverged,
     [ for e in r.Curve -> e.Epoch, e.Loss, e.TrainAccuracy ]),
    (sha "model.pt", sha "optimizer.pt", sha "subset.bin")

/// Two stages, 3 seeds × 3 arms: 3 stage-1 nodes (300 examples) and 9 stage-2 nodes (600), whose stop epochs
/// differ, so stacks shrink around members as they stop.
let private invarianceStudy () =
    study "stack-invariance" {
        data fashion_mnist
        subset 600
        model (mlp [ 16 ])
        optimizer (adam 1e-3)
        batch_size 64
        train_until (train_accuracy 0.75) (max_epochs 4)
        seeds 3
        threads 1
        schedule (fractions [ 0.5; 1.0 ])
        arm "fresh" fresh
        arm "warm" warm
        arm "sp" (shrink_perturb 0.6 0.01)
    }

[<Tests>]
let tests =
    testSequenced (testList "engine.stacked" [
        test "--stack: off by default; auto; N ≥ 1; anything else names the option, the value and what is allowed" {
            let parse args = StudyOptions.parseAs "t" args
            match parse [||] with
            | RunWith o -> Expect.equal o.Stack Executor.StackOff "default off"
            | other -> failtestf "%A" other
            match parse [| "--stack"; "auto" |] with
            | RunWith o -> Expect.equal o.Stack Executor.StackAuto "auto"
            | other -> failtestf "%A" other
            match parse [| "--stack"; "4" |] with
            | RunWith o -> Expect.equal o.Stack (Executor.StackUpTo 4) "4"
            | other -> failtestf "%A" other
            for bad in [ "0"; "-2"; "many" ] do
                match parse [| "--stack"; bad |] with
                | BadOptions m ->
                    Expect.stringContains m "option --stack" "names the option"
                    Expect.stringContains m (sprintf "'%s'" bad) "names the value"
                    Expect.stringContains m "allowed: auto, off, or a member count N ≥ 1" "says what is allowed"
                | other -> failtestf "--stack %s: expected an error, got %A" bad other
        }

        test "the same node trained in stacks of 1, 3 and 8 by the executor: identical results, weights, optimiser state and subset" {
            use d1 = new TempDir()
            use d3 = new TempDir()
            use d8 = new TempDir()
            let s = invarianceStudy ()
            let l1, l3, l8 = List<string>(), List<string>(), List<string>()
            let plan, st1, r1 = execute d1.Path (Executor.StackUpTo 1) l1 s
            let _, st3, r3 = execute d3.Path (Executor.StackUpTo 3) l3 s
            let _, st8, r8 = execute d8.Path (Executor.StackUpTo 8) l8 s
            Expect.equal plan.Nodes.Length 12 "3 stage-1 and 9 stage-2 nodes"
            for st in [ st1; st3; st8 ] do
                Expect.isTrue (st |> Map.forall (fun _ x -> x = Trained)) (sprintf "all trained: %A" st)
            let epochs = r1 |> Map.toList |> List.map (fun (_, r) -> r.Epochs) |> List.distinct
            Expect.isGreaterThan epochs.Length 1 (sprintf "members stop at different epochs (%A), so stacks shrink" epochs)
            for n in plan.Nodes do
                let a = fingerprint d1.Path r1[n.Key]
                Expect.equal (fingerprint d3.Path r3[n.Key]) a (sprintf "node %s: stack of 3 = stack of 1" n.Key)
                Expect.equal (fingerprint d8.Path r8[n.Key]) a (sprintf "node %s: stack of 8 = stack of 1" n.Key)
                for d in [ d1; d3; d8 ] do Expect.equal (engineOf d.Path n.Key) "stacked" "recorded engine"
            // Progress names each stack's members: stage 1 is 3 seeds; stage 2 is 9 nodes, 8 + 1 with --stack 8.
            Expect.equal (l1 |> Seq.filter (fun l -> l.Contains "stack of 1 member:") |> Seq.length) 12 "twelve stacks of one"
            Expect.exists l3 (fun l -> l.Contains "stack of 3 members: " && l.Contains "stage 1 seed 2 (fresh, warm, sp)") "stage 1 stacked"
            Expect.exists l8 (fun l -> l.Contains "stack of 8 members: " && l.Contains "stage 2 seed 0 (warm)") "stage 2 stacked"
            Expect.exists l8 (fun l -> l.Contains "stack of 1 member: " && l.Contains "stage 2") "the ninth stage-2 node"
            for l in l8 do
                if l.Contains "stack of" then
                    Expect.isFalse (l.Contains "stage 1" && l.Contains "stage 2") (sprintf "one training-set size per stack: %s" l)
        }

        test "a learning-rate sweep shares stacks (each node its own rate), and --jobs 2 splits ready nodes into two stacks; results = stacks of 1" {
            use d1 = new TempDir()
            use dj = new TempDir()
            let s =
                study "stack-lr-sweep" {
                    data fashion_mnist
                    subset 400
                    model (mlp [ 16 ])
                    optimizer (adam 1e-3)
                    batch_size 64
                    epochs 2
                    seeds 2
                    threads 1
                    sweep Knob.Lr [ 1e-3; 3e-3; 1e-2 ]
                    schedule (fractions [ 0.5; 1.0 ])
                    arm "fresh" fresh
                    arm "warm" warm
                }
            let l1, lj = List<string>(), List<string>()
            let plan, st1, r1 = execute d1.Path (Executor.StackUpTo 1) l1 s
            let _, stj, rj = executeWith 2 dj.Path (Executor.StackUpTo 16) lj s
            Expect.equal plan.Nodes.Length 18 "2 seeds × 3 rates: 6 stage-1 and 12 stage-2 nodes"
            for st in [ st1; stj ] do
                Expect.isTrue (st |> Map.forall (fun _ x -> x = Trained)) (sprintf "all trained: %A" st)
            for n in plan.Nodes do
                Expect.equal (fingerprint dj.Path rj[n.Key]) (fingerprint d1.Path r1[n.Key]) (sprintf "node %s: two workers' stacks = stacks of 1" n.Key)
            let rates = plan.Nodes |> List.map (fun n -> n.Spec.Optimizer.Lr) |> List.distinct
            Expect.equal rates.Length 3 "three rates in the plan"
            // Six stage-1 nodes of three rates, split between two idle workers: stacks of 3 and 3 (never one of 6).
            let sizes = [ for l in lj do if l.Contains "stack of" && l.Contains "stage 1" then l ]
            Expect.isFalse (lj |> Seq.exists (fun l -> l.Contains "stack of 6 members")) (sprintf "ready nodes are shared between the workers: %A" sizes)
            Expect.exists lj (fun l -> l.Contains "stack of 3 members: " && l.Contains "stage 1") (sprintf "a stage-1 stack of 3: %A" sizes)
            Expect.exists lj (fun l -> l.Contains "stack of" && l.Contains "[lr=0.001]" && l.Contains "[lr=0.003]") (sprintf "rates share a stack: %A" sizes)
            // However the twelve stage-2 nodes split (it depends on which stage-1 stack ends first), some stack
            // holds two rates: each rate has only four nodes, and a worker takes at least half of what is ready.
            let ratesIn (l: string) = [ for r in [ "[lr=0.001]"; "[lr=0.003]"; "[lr=0.01]" ] do if l.Contains r then r ]
            Expect.isTrue (lj |> Seq.exists (fun l -> l.Contains "stack of" && l.Contains "stage 2" && (ratesIn l).Length >= 2))
                "stage-2 nodes of different rates share a stack"
        }

        test "the cache never mixes engines: a stacked run retrains single-engine results (and back) into new versions; node keys are the same" {
            use d = new TempDir()
            let s = study "engines" { subset 400; model (mlp [ 8 ]); epochs 1; seeds 1; threads 1; arm "fresh" fresh; arm "warm" warm }
            let lines = List<string>()
            let planOff, off1, _ = execute d.Path Executor.StackOff lines s
            let planAuto, auto1, _ = execute d.Path Executor.StackAuto lines s
            let _, auto2, _ = execute d.Path Executor.StackAuto lines s
            let _, off2, _ = execute d.Path Executor.StackOff lines s
            let _, off3, _ = execute d.Path Executor.StackOff lines s
            Expect.equal (planAuto.Nodes |> List.map (fun n -> n.Key)) (planOff.Nodes |> List.map (fun n -> n.Key)) "the engine is not in the key"
            let all st v = Expect.isTrue (st |> Map.forall (fun _ x -> x = v)) (sprintf "expected all %A: %A" v st)
            all off1 Trained
            all auto1 Trained
            all auto2 Cached
            all off2 Trained
            all off3 Cached
            let store = ResultStore(d.Path)
            for n in planOff.Nodes do
                Expect.equal (store.Versions n.Key).Count 3 "single, stacked, single: three versions, none deleted"
                Expect.equal (engineOf d.Path n.Key) "single" "latest is the single engine's"
        }

        test "--stack auto falls back to the single engine for what it does not stack; --stack N stacks the small CNN" {
            use d = new TempDir()
            let s =
                study "fallback" {
                    subset 300; model (mlp [ 8 ]); epochs 1; seeds 1; threads 1
                    arm "fresh" fresh
                    arm "keep" (warm |> keep_optimizer_state)
                    arm "l2" (warm |> l2_init 0.01)
                    arm "l2dash" (warm |> l2_init_dash_form 0.01)
                    arm "ewc" (warm |> ewc 1.0)
                }
            let plan, st, _ = execute d.Path Executor.StackAuto (List<string>()) s
            Expect.isTrue (st |> Map.forall (fun _ x -> x = Trained)) (sprintf "all trained: %A" st)
            let engine arm stage = engineOf d.Path (Plan.nodeAt plan arm 0 stage).Key
            Expect.equal (engine "fresh" 1) "stacked" "stage 1"
            Expect.equal (engine "fresh" 2) "stacked" "a fresh start"
            Expect.equal (engine "keep" 2) "single" "keep_optimizer_state"
            Expect.equal (engine "l2" 2) "stacked" "l2_init (textbook form) is stacked"
            Expect.equal (engine "l2dash" 2) "single" "the DASH code's l2_init form"
            Expect.equal (engine "ewc" 2) "single" "ewc"
            let o : Executor.ExecOptions =
                { DataRoot = None; Device = Device.Cpu; Stack = Executor.StackAuto; Jobs = 1; Store = ResultStore(d.Path)
                  Rerun = false; CheckpointEvery = 0; Cancel = Threading.CancellationToken.None; TensorBoard = None }
            let node = Plan.nodeAt plan "fresh" 0 1
            Expect.equal (Executor.stackRefusal { o with CheckpointEvery = 1 } node.Spec false) (Some "--checkpoint") "checkpoints"
            Expect.equal (Executor.stackRefusal o node.Spec true) (Some "it resumes a checkpoint") "a checkpoint to resume"
            Expect.equal (Executor.stackRefusal { o with Stack = Executor.StackOff } node.Spec false) (Some "--stack off") "off"
            let cnn = { node.Spec with Model = small_cnn }
            Expect.stringContains (Executor.stackRefusal o cnn false |> Option.defaultValue "") "does not stack small_cnn" "auto: not the CNN"
            Expect.isNone (Executor.stackRefusal { o with Stack = Executor.StackUpTo 2 } cnn false) "--stack 2 stacks it"
        }

        test "the engines agree statistically on the quickstart --quick: every arm's paired gap CI vs fresh overlaps" {
            use dOff = new TempDir()
            use dAuto = new TempDir()
            let s = Studies.quickstartStudy ()
            let run dir stack = Study.runWith { Study.defaultOptions with Quick = true; Out = dir; Stack = stack } s
            let off = run dOff.Path Executor.StackOff
            let auto = run dAuto.Path Executor.StackAuto
            for r in [ off; auto ] do Expect.isTrue (r.Status |> Map.forall (fun _ x -> x = Trained)) "all trained"
            Expect.isTrue (auto.Results |> Map.forall (fun k _ -> engineOf dAuto.Path k = "stacked")) "auto stacked every node"
            let gaps r = Summary.gapVsRows "fresh" r |> List.map (fun g -> (g.Arm, g.Stage), (g.GapCiLow, g.GapCiHigh, g.GapMean))
            let a, b = Map.ofList (gaps off), Map.ofList (gaps auto)
            Expect.isNonEmpty (Map.toList a) "gap rows"
            for KeyValue(k, (lo1, hi1, m1)) in a do
                let lo2, hi2, m2 = b[k]
                Expect.isTrue (lo1 <= hi2 && lo2 <= hi1)
                    (sprintf "%A: single [%.4f, %.4f] (mean %.4f), stacked [%.4f, %.4f] (mean %.4f) overlap" k lo1 hi1 m1 lo2 hi2 m2)
        }
    ])
