module WarmStart.Tests.Engine.EngineTests

open System
open System.Diagnostics
open System.IO
open Expecto
open WarmStart
open WarmStart.Core.Runs
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

/// Starts the study script and kills the whole process tree with SIGKILL once `killAfter` progress lines
/// (node or epoch lines) have appeared plus `extraMs` milliseconds.
let private runAndKill (script: string) (store: string) (killAfter: int) (extraMs: int) =
    let psi = ProcessStartInfo("dotnet", RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)
    for a in [ "fsi"; script; "--"; "--out"; store; "--checkpoint"; "1" ] do psi.ArgumentList.Add a
    psi.Environment["WARMSTART_PLAIN"] <- "1"
    use p = Process.Start psi
    let errors = Text.StringBuilder()
    p.ErrorDataReceived.Add(fun e -> if not (isNull e.Data) then lock errors (fun () -> errors.AppendLine e.Data |> ignore))
    p.BeginErrorReadLine()
    let mutable seen = 0
    let mutable killed = false
    while not killed && not p.HasExited do
        let line = p.StandardOutput.ReadLine()
        if isNull line then killed <- true
        elif line.StartsWith "[" then
            seen <- seen + 1
            if seen >= killAfter then
                Threading.Thread.Sleep extraMs
                (try p.Kill(entireProcessTree = true) with _ -> ())
                killed <- true
    p.WaitForExit()
    noRetryWarning "the killed run" (lock errors (fun () -> errors.ToString()))

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
            let code, out, err = runProcess "dotnet" [ "fsi"; script; "--"; "--out"; clean ]
            Expect.equal code 0 (sprintf "clean run: %s %s" out err)
            let interrupted = Path.Combine(d.Path, "interrupted")
            // Kill after the 1st, 3rd and 6th finished node, at different delays (mid-epoch included).
            for (after, ms) in [ 1, 0; 3, 35; 6, 80 ] do runAndKill script interrupted after ms
            let code2, out2, err2 = runProcess "dotnet" [ "fsi"; script; "--"; "--out"; interrupted; "--checkpoint"; "1" ]
            Expect.equal code2 0 (sprintf "resumed run: %s %s" out2 err2)
            Expect.stringContains out2 "cached" "earlier work was reused"
            Expect.equal (results interrupted "resume") (results clean "resume") "identical numbers"
            for key, n in versionsPerNode interrupted do Expect.equal n 1 (sprintf "node %s has exactly one version" key)
        }
        test "two executors on one store at once: both finish, each node trained once" {
            use d = new TempDir()
            let script = writeStudyScript d.Path "twin.fsx" "twin" body
            let store = Path.Combine(d.Path, "store")
            let start () =
                let psi = ProcessStartInfo("dotnet", RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)
                for a in [ "fsi"; script; "--"; "--out"; store ] do psi.ArgumentList.Add a
                psi.Environment["WARMSTART_PLAIN"] <- "1"
                Process.Start psi
            use a = start ()
            use b = start ()
            let outA, outB = a.StandardOutput.ReadToEndAsync(), b.StandardOutput.ReadToEndAsync()
            a.WaitForExit(); b.WaitForExit()
            Expect.equal (a.ExitCode, b.ExitCode) (0, 0) (sprintf "both succeed: %s / %s" (a.StandardError.ReadToEnd()) (b.StandardError.ReadToEnd()))
            let trained (text: string) =
                let line = text.Split('\n') |> Array.find (fun l -> l.StartsWith "nodes:")
                Int32.Parse(line.Split(' ')[1])
            Expect.equal (trained outA.Result + trained outB.Result) 8 "8 nodes trained in all, none twice"
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
        test "report writes Markdown with the summary's numbers, CSV and PNG plots" {
            use d = new TempDir()
            let s = study "rep" { subset 600; model (mlp [ 16 ]); epochs 2; seeds 2; threads 1; arm "fresh" fresh; arm "warm" warm }
            let r = Study.runWith { Study.defaultOptions with Out = d.Path } s
            let plots = Path.Combine(d.Path, "plots")
            let code, out, err = runProcess "dotnet" [ cliDll (); "report"; d.Path; "--plots"; plots; "--tensorboard"; Path.Combine(d.Path, "tb") ]
            Expect.equal code 0 err
            let warm2 = Summary.byArmRows r |> List.find (fun x -> x.Arm = "warm" && x.Stage = 2)
            Expect.stringContains out (warm2.TestAccMean.ToString("F4", Globalization.CultureInfo.InvariantCulture)) "mean in the report"
            Expect.isTrue (File.Exists(Path.Combine(d.Path, "studies", "rep", "rep.md"))) "markdown file"
            for f in [ "test-accuracy"; "curves"; "epochs" ] do
                let p = Path.Combine(plots, sprintf "rep.%s.png" f)
                Expect.isTrue (File.Exists p && FileInfo(p).Length > 10_000L) (sprintf "%s plot" f)
            Expect.isNonEmpty (Directory.GetFiles(Path.Combine(d.Path, "tb"), "events.out.tfevents*", SearchOption.AllDirectories)) "TensorBoard events"
            let codeCsv, _, _ = runProcess "dotnet" [ cliDll (); "report"; d.Path; "--format"; "csv" ]
            Expect.equal codeCsv 0 "csv"
            Expect.isTrue (File.Exists(Path.Combine(d.Path, "studies", "rep", "rep.gap-vs-fresh.csv"))) "csv file"
        }
    ])
