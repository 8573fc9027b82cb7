module WarmStart.Tests.Dsl.EndToEndTests

open Expecto
open WarmStart
open WarmStart.Tests.Fixtures

let private tiny () =
    study "e2e" {
        data fashion_mnist
        model (mlp [ 32 ])
        optimizer (adam 1e-3)
        train_until (train_accuracy 0.99) (max_epochs 10)
        seeds 3
        arm "fresh" fresh
        arm "warm" warm
        arm "sp" (shrink_perturb 0.6 0.01)
        quick_subset 600
        quick_max_epochs 2
        threads 1
    }

[<Tests>]
let tests =
    withoutRetries <| testSequenced (testList "dsl.e2e" [
        test "a --quick study runs on real Fashion-MNIST, shares stage 1 and writes CSV" {
            use d = new TempDir()
            let o = { Study.defaultOptions with Quick = true; Out = d.Path }
            let r = tiny () |> Study.runWith o
            Expect.equal r.Study.Seeds 2 "quick seeds"
            Expect.equal r.Results.Count (2 + 3 * 2) "nodes trained: 2 shared + 6"
            let rows = Summary.rows r
            Expect.equal rows.Length (3 * 2 * 2) "rows"
            for x in rows do
                Expect.isLessThanOrEqual x.Epochs 2 "quick epochs"
                Expect.isGreaterThan x.TestAcc 0.3 "learned something"
            let s1 = rows |> List.filter (fun x -> x.Stage = 1 && x.Seed = 0) |> List.map (fun x -> x.TestAcc) |> List.distinct
            Expect.equal s1.Length 1 "stage 1 identical for every arm"
            Expect.equal (rows |> List.find (fun x -> x.Stage = 2)).TrainSize 600L "stage 2 uses the whole pool"
            Expect.equal (rows |> List.find (fun x -> x.Stage = 1)).TrainSize 300L "stage 1 the half"
            for f in [ "runs.csv"; "by-arm.csv"; "gap-vs-fresh.csv" ] do
                Expect.isTrue (System.IO.File.Exists(System.IO.Path.Combine(d.Path, "studies", "e2e.quick", f))) f
        }
        test "shrink accuracy is measured on the study's evaluation data: its λ = 1 point is the test accuracy" {
            use d = new TempDir()
            for eval in [ OfficialTest; HeldOut(2.0 / 3.0) ] do
                let s = { tiny () with Data = { fashion_mnist with Eval = eval }; Schedule = fractions [ 1.0 ]
                                       Arms = [ { fresh with Name = "fresh" } ]
                                       Diagnostics = { Correlation = false; GradientNorms = false; ShrinkGrid = [ 0.5; 1.0 ] } }
                let r = s |> Study.runWith { Study.defaultOptions with Quick = true; Out = d.Path; Seeds = Some 1 }
                let res = r.Results |> Seq.exactlyOne |> fun kv -> kv.Value
                let atOne = res.Diagnostics.ShrinkAccuracy |> List.find (fun p -> p.Lambda = 1.0)
                Expect.floatClose Accuracy.high atOne.Accuracy res.TestAccuracy (sprintf "λ = 1 under %A" eval)
        }
        test "same seeds, same numbers: a study run twice gives identical results" {
            // Two separate stores, so the second run trains rather than reading the first one's results.
            use d1 = new TempDir()
            use d2 = new TempDir()
            let o = { Study.defaultOptions with Quick = true; Seeds = Some 1 }
            let a = tiny () |> Study.runWith { o with Out = d1.Path }
            let b = tiny () |> Study.runWith { o with Out = d2.Path }
            Expect.isTrue (b.Status |> Map.forall (fun _ s -> s = Trained)) "second run trained"
            for KeyValue(k, ra) in a.Results do
                let rb = b.Results[k]
                Expect.equal (ra.TestAccuracy, ra.TrainLoss, ra.Epochs) (rb.TestAccuracy, rb.TrainLoss, rb.Epochs) k
        }
        test "warm start equals its parent at the start: λ=1, σ=0 shrink_perturb gives the warm result" {
            use d = new TempDir()
            let s = { tiny () with Arms = [ { warm with Name = "warm" }; { shrink_perturb 1.0 0.0 with Name = "sp1" } ] }
            let r = s |> Study.runWith { Study.defaultOptions with Quick = true; Out = d.Path; Seeds = Some 1 }
            let rows = Summary.rows r |> List.filter (fun x -> x.Stage = 2)
            let acc arm = (rows |> List.find (fun x -> x.Arm = arm)).TestAcc
            Expect.equal (acc "sp1") (acc "warm") "identical"
        }
    ])
