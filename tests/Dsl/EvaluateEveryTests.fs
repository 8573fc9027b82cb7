module WarmStart.Tests.Dsl.EvaluateEveryTests

open System
open System.IO
open Expecto
open WarmStart
open WarmStart.Tests.Fixtures

/// The quickstart's study (as OptionsTests pins its keys), with `evaluate_every` when `every` is given.
let private quickstart (every: int option) =
    let s = WarmStart.Tests.Studies.quickstartStudy ()
    let s = match every with Some n -> { s with EvaluateEvery = Some n } | None -> s
    Plan.ofStudy (Study.configure { StudyOptions.defaults with Quick = true } s)

let private problems (build: unit -> Study) =
    try build () |> ignore; [] with StudyValidationError(_, ps) -> ps

let private lines (path: string) = File.ReadAllLines path

[<Tests>]
let tests =
    testList "dsl.evaluate_every" [
        test "evaluate_every n < 1 is rejected naming the word, the value and what is allowed" {
            for n in [ 0; -3 ] do
                let ps = problems (fun () -> study "e" { evaluate_every n; arm "warm" warm })
                Expect.contains ps (sprintf "field 'evaluate_every' = %d: must be ≥ 1 (epochs between evaluations)" n) (sprintf "n = %d: %A" n ps)
            Expect.isEmpty (problems (fun () -> study "e" { evaluate_every 1; arm "warm" warm })) "1 is fine"
        }
        test "without evaluate_every the node keys are the ones stored before it existed; with it every node's key changes" {
            let plain = quickstart None
            // From runs.csv of `warmstart run studies/quickstart.fsx --quick` built before evaluate_every existed.
            Expect.stringStarts (Plan.nodeAt plain "fresh" 0 1).Key "6c084a39d9aa" "stage 1, seed 0"
            Expect.stringStarts (Plan.nodeAt plain "fresh" 0 2).Key "3d89358b63d3" "fresh stage 2, seed 0"
            for n in plain.Nodes do
                Expect.isFalse ((Canonical.render (Plan.specJson n.Spec)).Contains "evaluate_every") "not in the canonical JSON"
                Expect.isFalse ((NodeStore.toJson n.Spec).Contains "EvaluateEvery") "not in node.json"
            let every = quickstart (Some 2)
            Expect.equal every.Nodes.Length plain.Nodes.Length "the same nodes"
            for a, b in List.zip plain.Nodes every.Nodes do
                Expect.notEqual a.Key b.Key "evaluation is part of the key when set"
                Expect.stringContains (Canonical.render (Plan.specJson b.Spec)) "\"evaluate_every\":2" "in the canonical JSON"
                let back = NodeStore.ofJson<NodeSpec> (NodeStore.toJson b.Spec)
                Expect.equal (Plan.keyOf back) b.Key "node.json reads back to the same key"
            let old = NodeStore.ofJson<NodeSpec> (NodeStore.toJson plain.Nodes[0].Spec)
            Expect.equal (Plan.keyOf old) plain.Nodes[0].Key "a spec stored without the field reads back unchanged"
        }
        test "a result curve without test columns is stored as before; with them it reads back" {
            let p = { Epoch = 1; Loss = 0.5; TrainAccuracy = 0.75; Seconds = 1.5
                      TestLoss = System.Text.Json.Serialization.Skip; TestAccuracy = System.Text.Json.Serialization.Skip }
            Expect.equal ((NodeStore.toJson p).Replace("\r", "").Replace("\n", "").Replace(" ", ""))
                "{\"Epoch\":1,\"Loss\":0.5,\"TrainAccuracy\":0.75,\"Seconds\":1.5}" "the four fields of old result.json curves"
            let q = { p with TestLoss = System.Text.Json.Serialization.Include 0.25; TestAccuracy = System.Text.Json.Serialization.Include 0.875 }
            let back = NodeStore.ofJson<EpochPoint> (NodeStore.toJson q)
            Expect.equal (back.TestLossOrNaN, back.TestAccuracyOrNaN) (0.25, 0.875) "test columns read back"
            let old = NodeStore.ofJson<EpochPoint> "{\"Epoch\":1,\"Loss\":0.5,\"TrainAccuracy\":0.75,\"Seconds\":1.5}"
            Expect.isTrue (Double.IsNaN old.TestAccuracyOrNaN) "an old curve point has no test accuracy"
        }
        test "figure1.fsx --quick: curves.csv has its columns and one row per arm × seed × epoch; the last evaluated epoch is the node's test accuracy; the figure is written" {
            use d = new TempDir()
            let script = Path.Combine(repoRoot.Force(), "studies", "ash-adams-2020", "figure1.fsx")
            let code, out, err = runProcess "dotnet" [ "fsi"; script; "--"; "--quick"; "--threads"; "1"; "--out"; d.Path ]
            noRetryWarning "figure1" (out + err)
            Expect.equal code 0 (sprintf "exit code; stderr:\n%s" err)
            let dir = Path.Combine(d.Path, "studies", "figure1.quick")
            let curves = lines (Path.Combine(dir, "curves.csv"))
            Expect.equal curves[0] "Variant,Arm,Stage,Seed,Epoch,TrainLoss,TrainAcc,TestLoss,TestAcc,Seconds" "columns"
            // 2 arms × 2 seeds × (3 + 3) epochs: the shared stage 1 is listed under both arms.
            Expect.equal (curves.Length - 1) 24 "rows"
            let rows = curves |> Array.skip 1 |> Array.map (fun l -> l.Split ',')
            Expect.equal ([ for r in rows do if r[1] = "warm" && r[3] = "0" then int r[4] ]) [ 1 .. 6 ] "the warm chain's epochs run on over both stages"
            Expect.isTrue (rows |> Array.forall (fun r -> not (Double.IsNaN(float r[8])))) "evaluate_every 1: every epoch evaluated"
            let runs = lines (Path.Combine(dir, "runs.csv"))
            let header = runs[0].Split ','
            let col name = Array.findIndex ((=) name) header
            for r in runs |> Array.skip 1 |> Array.map (fun l -> l.Split ',') do
                let last = rows |> Array.filter (fun c -> c[1] = r[col "Arm"] && c[2] = r[col "Stage"] && c[3] = r[col "Seed"]) |> Array.last
                Expect.equal (float last[8]) (float r[col "TestAcc"]) (sprintf "%s stage %s seed %s: last epoch = node" r[col "Arm"] r[col "Stage"] r[col "Seed"])
            let png = Path.Combine(dir, "figure1.test-accuracy.png")
            Expect.isTrue (File.Exists png && FileInfo(png).Length > 10_000L) "the figure"
            Expect.stringContains out "figure: " "says where the figure is"
        }
    ]
