module WarmStart.Tests.Dsl.DiagnosticSummaryTests

open Expecto
open WarmStart

let private noDiagnostics = { Correlation = []; GradientNorms = []; ShrinkAccuracy = [] }

let private result key acc seconds diagnostics =
    { Key = key; TestAccuracy = acc; TestLoss = 0.0; TrainAccuracy = 0.99; TrainLoss = 0.01; Epochs = 3
      Seconds = seconds; SamplesPerSecond = 1000.0; TrainSize = 10L; Diverged = false; Curve = []; Diagnostics = diagnostics; Tasks = System.Text.Json.Serialization.Skip }

/// A result of `s` where every node gets `make node` (its accuracy, seconds and diagnostics).
let private fabricate (s: Study) (make: PlanNode -> float * float * NodeDiagnostics) =
    let p = Plan.ofStudy s
    let results =
        [ for n in p.Nodes ->
            let acc, secs, d = make n
            n.Key, result n.Key acc secs d ] |> Map.ofList
    { Plan = p; Results = results; Status = results |> Map.map (fun _ _ -> Trained); Quick = false; WallSeconds = 1.0 }

let private near a b msg = Expect.floatClose Accuracy.high a b msg

[<Tests>]
let tests =
    testList "dsl.summary.diagnostics" [
        test "gradientNorms: per arm and epoch, mean over seeds, and the new/old ratio" {
            let s = study "gn" { seeds 2; arm "warm" warm; arm "sp" (shrink_perturb 0.5 0.01); measure_gradient_norms }
            let r =
                fabricate s (fun n ->
                    let k = float (n.SeedIndex + 1)   // seed 0 → 1, seed 1 → 2
                    let norms =
                        if n.Stage = 1 then []
                        elif n.Arms = [ "warm" ] then [ { Epoch = 1; Old = 1.0 * k; New = 4.0 * k }; { Epoch = 2; Old = 1.0; New = 2.0 } ]
                        else [ { Epoch = 1; Old = 2.0 * k; New = 2.0 * k } ]
                    0.8, 1.0, { noDiagnostics with GradientNorms = norms })
            let rows = Summary.gradientNormRows r
            Expect.equal [ for g in rows -> g.Arm, g.Epoch, g.N ] [ "warm", 1, 2; "warm", 2, 2; "sp", 1, 2 ] "arm order, epochs, seeds"
            let w1 = rows.Head
            near w1.OldMean 1.5 "mean of 1 and 2"
            near w1.NewMean 6.0 "mean of 4 and 8"
            near w1.NewOverOld 4.0 "ratio"
            near (rows |> List.find (fun g -> g.Arm = "sp")).NewOverOld 1.0 "balanced after shrinking"
            let f = Summary.gradientNorms r
            Expect.equal f.RowCount 3 "frame rows"
            Expect.isFalse (f.ColumnKeys |> Seq.contains "Variant") "no Variant column without variants"
        }
        test "correlations: one 'all' row per arm × stage × seed with the node's test accuracy; correlationRows keeps groups" {
            let s = study "wc" { seeds 2; arm "fresh" fresh; arm "warm" warm; measure_correlation }
            let r =
                fabricate s (fun n ->
                    let c = if n.Arms = [ "warm" ] then 0.9 else 0.5
                    0.7 + 0.01 * float n.SeedIndex, 1.0,
                    { noDiagnostics with Correlation = [ { Group = "all"; VsStart = c; VsInit = c / 2.0 }; { Group = "head"; VsStart = 0.1; VsInit = 0.1 } ] })
            let all = Summary.correlations r
            Expect.equal all.RowCount (2 * 2 * 2) "2 arms × 2 stages × 2 seeds (stage 1 listed under both arms)"
            let warm2 = Summary.correlationRows r |> List.filter (fun c -> c.Arm = "warm" && c.Stage = 2 && c.Group = "all")
            Expect.equal [ for c in warm2 -> c.Seed, c.VsStart, c.TestAcc ] [ 0, 0.9, 0.7; 1, 0.9, 0.71 ] "per seed, with test accuracy"
            Expect.equal (Summary.correlationRows r).Length 16 "two groups per node and chain"
        }
        test "shrinkAccuracy: per λ, mean and sd over seeds; empty when not measured" {
            let s = study "sa" { seeds 2; schedule (fractions [ 1.0 ]); arm "fresh" fresh; measure_shrink_accuracy 3 }
            let r =
                fabricate s (fun n ->
                    let a = 0.6 + 0.2 * float n.SeedIndex
                    a, 1.0, { noDiagnostics with ShrinkAccuracy = [ { Lambda = 0.0; Accuracy = 0.1 }; { Lambda = 0.5; Accuracy = a - 0.1 }; { Lambda = 1.0; Accuracy = a } ] })
            let rows = Summary.shrinkAccuracyRows r
            Expect.equal [ for x in rows -> x.Lambda ] [ 0.0; 0.5; 1.0 ] "λ ascending"
            near rows[2].AccuracyMean 0.7 "mean of 0.6 and 0.8"
            near rows[2].AccuracySd (sqrt 0.02) "sample sd"
            near rows[0].AccuracySd 0.0 "identical accuracies"
            let empty = fabricate (study "none" { seeds 1; arm "fresh" fresh; arm "warm" warm }) (fun _ -> 0.5, 1.0, noDiagnostics)
            Expect.isEmpty (Summary.shrinkAccuracyRows empty) "nothing measured"
            Expect.equal (Summary.shrinkAccuracy empty).RowCount 0 "empty frame"
        }
        test "sweepGrid: rows of one knob, columns of the other, cells from the arm's byArm row" {
            let s =
                study "grid" {
                    seeds 1; arm "fresh" fresh; arm "sp" (shrink_perturb 0.6 0.01)
                    sweep "shrink" [ 0.2; 0.6 ]; sweep "perturb" [ 0.0; 0.01; 0.1 ] }
            let r =
                fabricate s (fun n ->
                    match n.Spec.Init with
                    | FromParent(ShrinkPerturb(l, sg, _), _) -> l + 10.0 * sg, 2.0 * l, noDiagnostics
                    | _ -> 0.5, 1.0, noDiagnostics)
            let f = Summary.sweepGrid "shrink" "perturb" "sp" 2 (fun a -> a.TestAccMean) r
            Expect.equal (List.ofSeq f.ColumnKeys) [ "shrink"; "perturb=0"; "perturb=0.01"; "perturb=0.1" ] "columns"
            Expect.equal f.RowCount 2 "one row per λ"
            let cell (row: int) (col: string) = f.GetColumn<float>(col).[row]
            near (cell 0 "shrink") 0.2 "row knob value"
            near (cell 1 "perturb=0.1") 1.6 "λ 0.6 + 10 σ"
            near (cell 0 "perturb=0.01") 0.3 "λ 0.2 + 10 σ"
            let secs = Summary.sweepGrid "shrink" "perturb" "sp" 2 (fun a -> a.SecondsMean) r
            near (secs.GetColumn<float>("perturb=0").[1]) 1.2 "seconds"
            Expect.throwsT<System.ArgumentException> (fun () -> Summary.sweepGrid "lr" "perturb" "sp" 2 (fun a -> a.TestAccMean) r |> ignore) "knob not swept"
        }
        test "writeSummaries adds a CSV per measured diagnostic, and none for those not measured" {
            let s = study "csv" { seeds 1; arm "fresh" fresh; arm "warm" warm; measure_gradient_norms; measure_shrink_accuracy 2 }
            let r =
                fabricate s (fun n ->
                    0.5, 1.0, { noDiagnostics with
                                  GradientNorms = (if n.Stage = 2 && n.Arms = [ "warm" ] then [ { Epoch = 1; Old = 1.0; New = 3.0 } ] else [])
                                  ShrinkAccuracy = [ { Lambda = 0.0; Accuracy = 0.1 }; { Lambda = 1.0; Accuracy = 0.5 } ] })
            use d = new WarmStart.Tests.Fixtures.TempDir()
            Study.writeSummaries d.Path r
            let file f = System.IO.Path.Combine(d.Path, f)
            Expect.isTrue (System.IO.File.Exists(file "gradient-norms.csv")) "gradient norms"
            Expect.isTrue (System.IO.File.Exists(file "shrink-accuracy.csv")) "shrink accuracy"
            Expect.isFalse (System.IO.File.Exists(file "correlations.csv")) "correlation not measured"
            let lines = System.IO.File.ReadAllLines(file "gradient-norms.csv")
            Expect.equal lines.Length 2 "header + the warm arm's epoch"
            Expect.stringContains lines[1] "warm" "row"
        }
        test "byArmAll and gapVsAll: Study first, columns in declared order, no empty Variant column" {
            let r1 = fabricate (study "a" { seeds 2; arm "fresh" fresh; arm "warm" warm }) (fun n -> 0.5 + 0.1 * float n.SeedIndex, 1.0, noDiagnostics)
            let r2 = fabricate (study "b" { seeds 2; arm "fresh" fresh; arm "warm" warm }) (fun n -> 0.6, 1.0, noDiagnostics)
            let byArm = Summary.byArmAll [ r1; r2 ]
            Expect.equal (List.ofSeq byArm.ColumnKeys)
                [ "Study"; "Arm"; "Stage"; "Step"; "N"; "TestAccMean"; "TestAccCiLow"; "TestAccCiHigh"; "EpochsMean"; "SecondsMean" ] "byArmAll columns"
            Expect.equal byArm.RowCount 8 "2 studies × 2 arms × 2 stages"
            let gaps = Summary.gapVsAll "fresh" [ r1; r2 ]
            Expect.equal (List.ofSeq gaps.ColumnKeys |> List.take 3) [ "Study"; "Arm"; "Stage" ] "gapVsAll columns"
            let swept = fabricate (study "c" { seeds 1; arm "fresh" fresh; arm "warm" warm; sweep "lr" [ 1e-3; 1e-2 ] }) (fun _ -> 0.5, 1.0, noDiagnostics)
            Expect.equal (List.ofSeq (Summary.byArmAll [ r1; swept ]).ColumnKeys |> List.take 2) [ "Study"; "Variant" ] "Variant kept when a study has variants"
        }
    ]
