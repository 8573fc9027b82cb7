module WarmStart.Tests.Dsl.SummaryTests

open Expecto
open WarmStart

/// A result with made-up test accuracies: stage 1 at 0.70 + seed/100, fresh and warm stage 2 as given.
let private fabricated (freshAcc: float list) (warmAcc: float list) =
    let s = study "sum" { seeds freshAcc.Length; arm "fresh" fresh; arm "warm" warm }
    let p = Plan.ofStudy s
    let res key acc epochs =
        { Key = key; TestAccuracy = acc; TestLoss = 0.0; TrainAccuracy = 0.99; TrainLoss = 0.01; Epochs = epochs
          Seconds = 1.0; SamplesPerSecond = 1000.0; TrainSize = 10L; Diverged = false; Curve = []
          Diagnostics = { Correlation = []; GradientNorms = []; ShrinkAccuracy = [] }; Tasks = System.Text.Json.Serialization.Skip }
    let results =
        [ for i in 0 .. freshAcc.Length - 1 do
            yield res (Plan.nodeAt p "fresh" i 1).Key (0.70 + float i / 100.0) 10
            yield res (Plan.nodeAt p "fresh" i 2).Key freshAcc[i] 50
            yield res (Plan.nodeAt p "warm" i 2).Key warmAcc[i] 30 ]
        |> List.map (fun r -> r.Key, r) |> Map.ofList
    { Plan = p; Results = results; Status = results |> Map.map (fun _ _ -> Trained); Quick = false; WallSeconds = 1.0 }

let private near a b msg = Expect.floatClose Accuracy.high a b msg

[<Tests>]
let tests =
    testList "dsl.summary" [
        test "runs: one row per arm × stage × seed; stage 1 is shared" {
            let r = fabricated [ 0.80; 0.82; 0.84 ] [ 0.78; 0.81; 0.80 ]
            let rows = Summary.rows r
            Expect.equal rows.Length (2 * 3 * 2) "rows"
            Expect.isTrue (rows |> List.filter (fun x -> x.Stage = 1) |> List.forall (fun x -> x.Shared)) "stage 1 shared"
            let f = Summary.runs r
            Expect.equal (f.RowCount) 12 "frame rows"
            Expect.containsAll f.ColumnKeys [ "Arm"; "Stage"; "Seed"; "TestAcc"; "Epochs"; "Seconds" ] "columns"
        }
        test "byArm: mean, sample sd, n and the t-based 95 % interval, checked by hand" {
            let r = fabricated [ 0.80; 0.82; 0.84 ] [ 0.78; 0.81; 0.80 ]
            let fresh2 = Summary.byArmRows r |> List.find (fun x -> x.Arm = "fresh" && x.Stage = 2)
            near fresh2.TestAccMean 0.82 "mean"
            near fresh2.TestAccSd 0.02 "sample sd"
            Expect.equal fresh2.N 3 "n"
            // t(0.975, 2) = 4.302652729911275; half-width = t · sd / √3.
            near (fresh2.TestAccCiHigh - fresh2.TestAccMean) (4.302652729911275 * 0.02 / sqrt 3.0) "CI half-width"
            near fresh2.EpochsMean 50.0 "epochs"
            let f = Summary.byArm r
            Expect.equal f.RowCount 4 "2 arms × 2 stages"
        }
        test "gapVs: per-seed paired differences, their mean, sd and interval, checked by hand" {
            let r = fabricated [ 0.80; 0.82; 0.84 ] [ 0.78; 0.81; 0.80 ]
            let g = Summary.gapVsRows "fresh" r |> List.exactlyOne
            // differences: -0.02, -0.01, -0.04
            near g.GapMean (-0.07 / 3.0) "mean gap"
            let sd = sqrt (((-0.02 + 0.07 / 3.0) ** 2.0 + (-0.01 + 0.07 / 3.0) ** 2.0 + (-0.04 + 0.07 / 3.0) ** 2.0) / 2.0)
            near g.GapSd sd "sd of differences"
            near (g.GapCiHigh - g.GapMean) (4.302652729911275 * sd / sqrt 3.0) "paired CI"
            near g.EpochsGapMean -20.0 "epochs gap"
            Expect.equal (g.Arm, g.Versus, g.Stage, g.N) ("warm", "fresh", 2, 3) "labels"
        }
        test "pairing beats unpaired means when seeds move both arms together" {
            // Seed effects of ±0.05 shared by both arms, a constant gap of −0.01: the paired CI is tight.
            let r = fabricated [ 0.75; 0.80; 0.85 ] [ 0.74; 0.79; 0.84 ]
            let g = Summary.gapVsRows "fresh" r |> List.exactlyOne
            near g.GapMean -0.01 "gap"
            Expect.isLessThan (g.GapCiHigh - g.GapCiLow) 1e-9 "zero-width interval for a constant gap"
        }
        test "several studies in one frame: Study column first, no empty Variant column, every row kept" {
            let a = fabricated [ 0.80; 0.82; 0.84 ] [ 0.78; 0.81; 0.80 ]
            let b = fabricated [ 0.70; 0.72 ] [ 0.71; 0.73 ]
            let g = Summary.gapVsAll "fresh" [ a; b ]
            Expect.equal (List.ofSeq g.ColumnKeys |> List.take 3) [ "Study"; "Arm"; "Stage" ] "column order"
            Expect.equal g.RowCount 2 "one gap row per study"
            let byArm = Summary.byArmAll [ a; b ]
            Expect.equal byArm.RowCount 8 "2 studies × 2 arms × 2 stages"
            Expect.isFalse (byArm.ColumnKeys |> Seq.contains "Variant") "no empty Variant column"
        }
        test "gapVs names the arms when the reference is unknown" {
            let r = fabricated [ 0.8; 0.8 ] [ 0.8; 0.8 ]
            Expect.throwsT<System.ArgumentException> (fun () -> Summary.gapVs "cold" r |> ignore) "unknown reference"
        }
        test "a single seed gives NaN spread, never a made-up interval" {
            let e = SeedStats.estimate [ 0.5 ]
            Expect.isTrue (System.Double.IsNaN e.Sd && System.Double.IsNaN e.CiLow) "NaN"
        }
        test "format and CSV export carry the numbers" {
            let r = fabricated [ 0.80; 0.82; 0.84 ] [ 0.78; 0.81; 0.80 ]
            let text = Summary.format (Summary.byArm r)
            Expect.stringContains text "82.00" "mean in the table, in percent"
            use d = new WarmStart.Tests.Fixtures.TempDir()
            let path = d.File "by-arm.csv"
            Summary.saveCsv path (Summary.byArm r)
            let lines = System.IO.File.ReadAllLines path
            Expect.equal lines.Length 5 "header + 4 rows"
            Expect.stringContains lines[0] "TestAccMean" "header"
            Expect.exists lines (fun l -> l.StartsWith "fresh,2,\"100% of pool\",100,3,0.82") (sprintf "fresh stage 2 row in %A" lines)
        }
    ]
