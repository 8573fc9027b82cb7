module WarmStart.Tests.Engine.EngineTests

open System
open System.Diagnostics
open System.IO
open Expecto
open WarmStart
open WarmStart.Core.Runs
open WarmStart.Tests
open WarmStart.Tests.Fixtures

/// A small study of 3 arms × 2 seeds (8 nodes) that trains a few epochs per node on real data.
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

let private results (store: string) (name: string) =
    let r = Study.load store name
    r.Results |> Map.map (fun _ x -> x.TestAccuracy, x.TrainLoss, x.Epochs, x.Curve |> List.map (fun e -> e.Loss))

let private versionsPerNode (store: string) =
    let s = ResultStore(store)
    Directory.GetDirectories(Path.Combine(store, "nodes"), "*", SearchOption.TopDirectoryOnly)
    |> Array.collect Directory.GetDirectories
    |> Array.map (fun d -> Path.GetFileName d, s.Versions(Path.GetFileName d).Count)

/// Nodes of a store that have a checkpoint but no result: stages a kill caught mid-training.
let private checkpointedUnfinished (store: string) =
    let nodes = Path.Combine(store, "nodes")
    if not (Directory.Exists nodes) then []
    else
        let s = ResultStore(store)
        [ for d in Directory.GetDirectories nodes |> Array.collect Directory.GetDirectories do
            let key = Path.GetFileName d
            let cp = Path.Combine(d, "checkpoint")
            if Directory.Exists cp && Directory.GetFiles(cp).Length > 0 && not (s.Has key) then yield key ]

/// Starts the study script and SIGKILLs its whole process tree once `ready` holds (polled), after `extraMs`
/// more milliseconds; asserts that the kill is what ended it (exit 137 = 128 + SIGKILL).
let private runAndKill (script: string) (store: string) (what: string) (ready: Processes.Child -> bool) (extraMs: int) =
    use p = new Processes.Child("dotnet", [ "fsi"; script; "--"; "--out"; store; "--checkpoint"; "1" ], [])
    let sw = Stopwatch.StartNew()
    while not (ready p) do
        if p.HasExited then failtestf "the run ended before %s:\n%s" what (p.Describe())
        if sw.Elapsed > Processes.defaultLimit () then p.KillTree(); failtestf "timed out waiting for %s:\n%s" what (p.Describe())
        Threading.Thread.Sleep 10
    Threading.Thread.Sleep extraMs
    p.KillTree()
    let code = p.Wait(Processes.limit 60.0)
    noRetryWarning "the killed run" p.Err
    Expect.equal code 137 (sprintf "killed by SIGKILL %s:\n%s" what (p.Describe()))

/// A stdout line `[k/…]`: the k-th node finished (trained, cached, failed or skipped).
let private finishedNodes (k: int) (p: Processes.Child) = p.OutLines |> List.exists (fun l -> l.Text.StartsWith(sprintf "[%d/" k))

[<Tests>]
let tests =
    withoutRetries <| testSequenced (testList "engine" [
        test "the nodes: line counts retries only when there were any; a retry warning in a child's output fails" {
            let st = [ "a", Trained; "b", Trained; "c", Cached; "d", Failed "x"; "e", Skipped "y" ] |> Map.ofList
            let none = Map.empty
            Expect.equal (Progress.tally st none) "nodes: 2 trained, 1 cached, 0 diverged, 1 failed, 1 skipped" "the existing form"
            Expect.equal (Progress.tallyWith 0 st none) (Progress.tally st none) "no retries: unchanged"
            Expect.equal (Progress.tallyWith 2 st none) "nodes: 2 trained, 1 cached, 0 diverged, 1 failed, 1 skipped, 2 retried" "retries appended"
            Expect.equal (Progress.tallyWith 1 (Map.ofList [ "a", Trained ]) none) "nodes: 1 trained, 0 cached, 0 diverged, 0 failed, 1 retried" "without skips"
            let line = sprintf "warning: node 0123abcd: %s: Scalar check failed" Executor.RetryWarning
            Expect.throwsT<Expecto.AssertException> (fun () -> noRetryWarning "child" ("ok\n" + line)) "the warning fails the test"
            noRetryWarning "child" "nodes: 1 trained, 0 cached, 0 diverged, 0 failed"
        }
        test "kill -9 at several points, then the same command: results identical to an uninterrupted run" {
            use d = new TempDir()
            let script = writeStudyScript d.Path "resume.fsx" "resume" body
            let clean = Path.Combine(d.Path, "clean")
            // With the killed runs' --checkpoint 1, which trains with the single engine (the stacked one writes no
            // checkpoints), so both stores hold the same engine's numbers.
            let code, out, err = runProcess "dotnet" [ "fsi"; script; "--"; "--out"; clean; "--checkpoint"; "1" ]
            Expect.equal code 0 (sprintf "clean run: %s %s" out err)
            let interrupted = Path.Combine(d.Path, "interrupted")
            // Kill right after the 1st finished node, 80 ms after the 3rd, and last mid-stage, once a checkpoint of
            // an unfinished node is on disk (again if that node happened to finish before the kill landed), so the
            // final run has a stage to resume. The second kill leaves five of the 8 nodes: two workers (the default)
            // finish nodes in parallel, and a kill 80 ms after the 6th once found all 8 done, leaving the last kill
            // no stage to catch.
            runAndKill script interrupted "the 1st node" (finishedNodes 1) 0
            runAndKill script interrupted "the 3rd node" (finishedNodes 3) 80
            let mutable caught = []
            let mutable attempts = 0
            while caught.IsEmpty && attempts < 3 do
                attempts <- attempts + 1
                runAndKill script interrupted "a checkpoint of an unfinished node" (fun _ -> not (checkpointedUnfinished interrupted).IsEmpty) 0
                caught <- checkpointedUnfinished interrupted
            Expect.isNonEmpty caught "a kill landed mid-stage, after a checkpoint"
            let midStage = caught
            let code2, out2, err2 = runProcess "dotnet" [ "fsi"; script; "--"; "--out"; interrupted; "--checkpoint"; "1" ]
            Expect.equal code2 0 (sprintf "resumed run: %s %s" out2 err2)
            Expect.stringContains out2 "cached" "earlier work was reused"
            for key in midStage do
                Expect.stringContains err2 (sprintf "node %s: resuming from its checkpoint after epoch" (key.Substring(0, 8))) "the killed stage resumed from its checkpoint"
            Expect.isEmpty (checkpointedUnfinished interrupted) "no checkpoint left behind"
            Expect.equal (results interrupted "resume") (results clean "resume") "identical numbers"
            for key, n in versionsPerNode interrupted do Expect.equal n 1 (sprintf "node %s has exactly one version" key)
        }
        test "two executors on one store at once: both finish, each node trained once" {
            use d = new TempDir()
            let script = writeStudyScript d.Path "twin.fsx" "twin" body
            let store = Path.Combine(d.Path, "store")
            let start () = new Processes.Child("dotnet", [ "fsi"; script; "--"; "--out"; store ], [])
            use a = start ()
            use b = start ()
            Expect.equal (a.Wait(Processes.defaultLimit ()), b.Wait(Processes.defaultLimit ())) (0, 0) (sprintf "both succeed: %s\n%s" (a.Describe()) (b.Describe()))
            noRetryWarning "executor A" a.Err
            noRetryWarning "executor B" b.Err
            let trained (p: Processes.Child) =
                let line = p.OutLines |> List.find (fun l -> l.Text.StartsWith "nodes:")
                Int32.Parse(line.Text.Split(' ')[1])
            Expect.equal (trained a + trained b) 8 "8 nodes trained in all, none twice"
            // Both executed at once: each one's span (from its plan line to its tally line) overlaps the other's.
            let span (p: Processes.Child) =
                let ls = p.OutLines
                (List.head ls).At, (ls |> List.find (fun l -> l.Text.StartsWith "nodes:")).At
            let (a0, a1), (b0, b1) = span a, span b
            Expect.isTrue (a0 < b1 && b0 < a1) (sprintf "the two runs overlap in time: A %O–%O, B %O–%O" a0 a1 b0 b1)
            for key, n in versionsPerNode store do Expect.equal n 1 (sprintf "node %s has one version" key)
        }
        test "adding an arm trains only the new arm's nodes; a finished study reruns from cache" {
            use d = new TempDir()
            let twoArms = study "grow" { subset 800; model (mlp [ 16 ]); epochs 2; seeds 2; threads 1; arm "fresh" fresh; arm "warm" warm }
            let o = { Study.defaultOptions with Out = d.Path }
            let r1 = Study.runWith o twoArms
            Expect.equal (r1.Status |> Map.filter (fun _ s -> s = Trained)).Count 6 "first run trains 6"
            let threeArms = { twoArms with Arms = twoArms.Arms @ [ { shrink 0.5 with Name = "shrink" } ] }
            let r2 = Study.runWith o threeArms
            Expect.equal (r2.Status |> Map.filter (fun _ s -> s = Trained)).Count 2 "only the new arm's 2 nodes"
            Expect.equal (r2.Status |> Map.filter (fun _ s -> s = Cached)).Count 6 "the rest cached"
            let r3 = Study.runWith o threeArms
            Expect.isTrue (r3.Status |> Map.forall (fun _ s -> s = Cached)) "all cached"
            let rerun = Study.runWith { o with Rerun = true } twoArms
            Expect.isTrue (rerun.Status |> Map.forall (fun _ s -> s = Trained)) "--rerun recomputes"
            let store = ResultStore(d.Path)
            for KeyValue(k, _) in rerun.Results do Expect.equal (store.Versions k).Count 2 "a new version beside the old"
            Expect.equal (Study.load d.Path "grow").Results.Count 6 "the index holds the latest run's plan (two arms)"
        }
        test "a diverging stage is recorded with its epoch; its dependants are skipped; the study finishes" {
            use d = new TempDir()
            let s = study "nan" { subset 500; model (mlp [ 16 ]); optimizer (sgd 1e8); epochs 3; seeds 1; threads 1; arm "fresh" fresh; arm "warm" warm }
            let r = Study.runWith { Study.defaultOptions with Out = d.Path } s
            let stage1 = Plan.nodeAt r.Plan "warm" 0 1
            Expect.isTrue r.Results[stage1.Key].Diverged "stage 1 diverged"
            match r.Status[(Plan.nodeAt r.Plan "warm" 0 2).Key] with
            | Skipped why -> Expect.stringContains why "diverged at epoch" "reason names the epoch"
            | other -> failtestf "expected Skipped, got %A" other
            let rows = Summary.rows r
            Expect.exists rows (fun x -> x.Diverged) "summary shows the diverged run"
        }
        test "a folder batch run: one failing study gives a tally, exit code 1 and a JUnit failure" {
            use d = new TempDir()
            let folder = Path.Combine(d.Path, "studies")
            Directory.CreateDirectory folder |> ignore
            writeStudyScript folder "good.fsx" "good" "subset 400\nmodel (mlp [ 8 ])\nepochs 1\nseeds 1\narm \"fresh\" fresh" |> ignore
            writeStudyScript folder "bad.fsx" "bad" "seeds 0\narm \"fresh\" fresh" |> ignore
            let junit = Path.Combine(d.Path, "junit.xml")
            let code, out, err = runProcess "dotnet" [ cliDll (); "run"; folder; "--quick"; "--out"; Path.Combine(d.Path, "r"); "--junit"; junit ]
            Expect.equal code 1 "non-zero exit"
            Expect.stringContains out "studies: 1 passed, 1 failed" (sprintf "tally in: %s" out)
            Expect.stringContains err "field 'seeds' = 0" "the bad study's error is shown cleanly"
            Expect.isFalse (err.Contains "   at ") "no stack trace"
            let xml = File.ReadAllText junit
            Expect.stringContains xml "failures=\"1\"" "JUnit failure count"
            Expect.stringContains xml "name=\"bad.fsx\"" "JUnit case"
            let code2, list, _ = runProcess "dotnet" [ cliDll (); "run"; folder; "--list" ]
            Expect.equal code2 0 "list"
            Expect.equal (list.Trim().Split('\n') |> Array.map (fun s -> s.Trim())) [| "bad.fsx"; "good.fsx" |] "both listed"
            let code3, _, _ = runProcess "dotnet" [ cliDll (); "run"; folder; "--filter"; "nothing-matches" ]
            Expect.equal code3 1 "an empty selection is a failure"
        }
        test "report writes Markdown with the summary's numbers, CSV, PNG plots and TensorBoard scalars; --study picks one" {
            use d = new TempDir()
            let s = study "rep" { subset 600; model (mlp [ 16 ]); epochs 2; seeds 2; threads 1; arm "fresh" fresh; arm "warm" warm }
            let r = Study.runWith { Study.defaultOptions with Out = d.Path } s
            Study.runWith { Study.defaultOptions with Out = d.Path } (study "other" { subset 300; model (mlp [ 8 ]); epochs 1; seeds 1; threads 1; arm "fresh" fresh }) |> ignore
            let plots = Path.Combine(d.Path, "plots")
            let tb = Path.Combine(d.Path, "tb")
            let code, out, err = runProcess "dotnet" [ cliDll (); "report"; d.Path; "--study"; "rep"; "--plots"; plots; "--tensorboard"; tb ]
            Expect.equal code 0 err
            let warm2 = Summary.byArmRows r |> List.find (fun x -> x.Arm = "warm" && x.Stage = 2)
            // Tables show accuracy in percent with two decimals.
            Expect.stringContains out ((100.0 * warm2.TestAccMean).ToString("F2", Globalization.CultureInfo.InvariantCulture)) "mean in the report"
            Expect.isTrue (File.Exists(Path.Combine(d.Path, "studies", "rep", "rep.md"))) "markdown file"
            Expect.isFalse (out.Contains "other") "--study rep reports rep only"
            Expect.isFalse (File.Exists(Path.Combine(d.Path, "studies", "other", "other.md"))) "nothing written for the other study"
            Expect.equal (Directory.GetFiles(plots, "*.png") |> Array.map Path.GetFileName |> Array.sort)
                [| "rep.accuracy-vs-time.png"; "rep.curves.png"; "rep.epochs.png"; "rep.test-accuracy.png" |] "one PNG per plot, the study's only"
            for f in Directory.GetFiles(plots, "*.png") do
                // Decoded, not just present: 900×600 as drawn, and more than a blank canvas (many colours, and a
                // good share of the pixels not the background's).
                use bmp = SkiaSharp.SKBitmap.Decode f
                Expect.isNotNull bmp (sprintf "%s decodes as an image" f)
                Expect.equal (bmp.Width, bmp.Height) (900, 600) (sprintf "%s size" f)
                let px = bmp.Pixels
                let background = px |> Array.countBy id |> Array.maxBy snd |> fst
                let colours = px |> Array.distinct |> Array.length
                let drawn = px |> Array.filter (fun c -> c <> background) |> Array.length
                Expect.isGreaterThan colours 20 (sprintf "%s has drawn content (%d colours)" f colours)
                Expect.isGreaterThan (float drawn / float px.Length) 0.01 (sprintf "%s: %d drawn pixels" f drawn)
            // TensorBoard: one run per node, whose scalars are the node's curve and test accuracy, stepped by the
            // chain's epoch as the live writer does: stage 1 at steps 1–2, stage 2 (fresh or warm) at 3–4.
            for KeyValue(key, res) in r.Results do
                let runs = Directory.GetDirectories(Path.Combine(tb, "rep")) |> Array.filter (fun x -> x.EndsWith(key.Substring(0, 8)))
                Expect.equal runs.Length 1 (sprintf "one run folder for node %s" key)
                let scalars = Directory.GetFiles(runs[0], "events.out.tfevents*") |> List.ofArray |> List.collect TfEvents.scalars
                let series tag = scalars |> List.filter (fun x -> x.Tag = tag) |> List.map (fun x -> x.Step, x.Value)
                let offset = if (Plan.node r.Plan key).Stage = 1 then 0L else 2L
                Expect.equal (series "train/loss") [ for e in res.Curve -> offset + int64 e.Epoch, float32 e.Loss ] "train/loss per epoch"
                Expect.equal (series "train/accuracy") [ for e in res.Curve -> offset + int64 e.Epoch, float32 e.TrainAccuracy ] "train/accuracy per epoch"
                Expect.equal (series "test/accuracy") [ offset + int64 res.Epochs, float32 res.TestAccuracy ] "test/accuracy at the end"
                Expect.equal (series "train/loss" |> List.map fst) (if offset = 0L then [ 1L; 2L ] else [ 3L; 4L ]) "steps continue across stages"
            let codeCsv, _, _ = runProcess "dotnet" [ cliDll (); "report"; d.Path; "--format"; "csv" ]
            Expect.equal codeCsv 0 "csv"
            Expect.isTrue (File.Exists(Path.Combine(d.Path, "studies", "rep", "rep.gap-vs-fresh.csv"))) "csv file"
        }
    ])
