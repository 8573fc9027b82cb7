module WarmStart.Tests.Dsl.PairedStatsTests

open Expecto
open WarmStart

let private near tol a b msg = Expect.floatClose { absolute = tol; relative = 0.0 } a b msg

[<Tests>]
let tests =
    testList "dsl.pairedstats" [
        test "bootstrap of two differences: every resample mean is a, (a+b)/2 or b, so the 95 % interval is [a, b]" {
            // P(mean = a) = P(mean = b) = 1/4, far above 2.5 %: both percentiles land on the extremes.
            let lo, hi = PairedStats.bootstrapCi95 [ -0.02; 0.01 ]
            near 1e-15 lo -0.02 "low"
            near 1e-15 hi 0.01 "high"
        }
        test "bootstrap of a constant difference is a point; of one difference, NaN" {
            let lo, hi = PairedStats.bootstrapCi95 [ 0.01; 0.01; 0.01 ]
            Expect.equal (lo, hi) (0.01, 0.01) "point"
            let lo1, hi1 = PairedStats.bootstrapCi95 [ 0.01 ]
            Expect.isTrue (System.Double.IsNaN lo1 && System.Double.IsNaN hi1) "one value"
        }
        test "bootstrap of accuracies near 100 % stays within [min, max] of the values, so within 100 %" {
            let accs = [ 0.99; 1.0; 0.98 ]
            let lo, hi = PairedStats.bootstrapCi95 accs
            Expect.isLessThanOrEqual hi 1.0 "≤ 100 %"
            Expect.isGreaterThanOrEqual lo 0.98 "≥ min"
            // The t-interval of the same values passes 100 %: the reason the tables clip it.
            Expect.isGreaterThan (SeedStats.estimate accs).CiHigh 1.0 "t-interval past 1"
        }
        test "bootstrap is seeded: same seed, same interval; another seed, another" {
            let xs = [ 0.013; -0.004; 0.021; 0.007; -0.011; 0.016; 0.002; 0.009 ]
            Expect.equal (PairedStats.bootstrapMeanCi 7 2000 0.95 xs) (PairedStats.bootstrapMeanCi 7 2000 0.95 xs) "deterministic"
            Expect.notEqual (PairedStats.bootstrapMeanCi 7 2000 0.95 xs) (PairedStats.bootstrapMeanCi 8 2000 0.95 xs) "seed matters"
        }
        test "bootstrap agrees with the t-interval for a larger, symmetric sample" {
            // 0, ±1, ±2, … ±10 (n = 21, mean 0, sd √38.5): the percentile interval is close to t·sd/√n · √((n−1)/n)
            // shrunk slightly (the bootstrap uses the plug-in sd and normal-ish quantiles): within 15 % of it.
            let xs = [ for i in -10 .. 10 -> float i ]
            let lo, hi = PairedStats.bootstrapCi95 xs
            let e = SeedStats.estimate xs
            Expect.isLessThan (abs (lo + hi)) 0.3 "centred on 0"
            Expect.isLessThan (abs ((hi - lo) / (e.CiHigh - e.CiLow) - 1.0)) 0.15 (sprintf "width %g vs t %g" (hi - lo) (e.CiHigh - e.CiLow))
        }
        test "probability of improvement counts positive differences, ties as one half" {
            near 1e-15 (PairedStats.probabilityOfImprovement [ 0.01; -0.02; 0.0; 0.03 ]) 0.625 "(2 + 0.5) / 4"
            near 1e-15 (PairedStats.probabilityOfImprovement [ -0.01; -0.02 ]) 0.0 "never better"
            Expect.isTrue (System.Double.IsNaN(PairedStats.probabilityOfImprovement [])) "no pairs"
        }
        test "paired t-test power matches published values (Cohen; R's pwr.t.test, one-sample = paired)" {
            // d = 0.5, n = 34: power 0.8078; d = 1, n = 10: 0.8031.
            near 2e-3 (PairedStats.pairedTTestPower 0.05 34 0.5 1.0) 0.8078 "d 0.5, n 34"
            near 2e-3 (PairedStats.pairedTTestPower 0.05 10 1.0 1.0) 0.8031 "d 1, n 10"
            // Only the ratio gap / sd matters, and its sign does not.
            near 1e-9 (PairedStats.pairedTTestPower 0.05 10 -0.02 0.02) (PairedStats.pairedTTestPower 0.05 10 1.0 1.0) "scale and sign"
        }
        test "power agrees with a seeded simulation of the paired t-test" {
            // 40 000 simulated studies of n = 6 pairs with gap/sd = 1.2: the share that rejects at α = 0.05.
            let rng = MathNet.Numerics.Random.MersenneTwister(11)
            let n, d, m = 6, 1.2, 40000
            let c = MathNet.Numerics.Distributions.StudentT.InvCDF(0.0, 1.0, float (n - 1), 0.975)
            let rejects =
                Seq.init m (fun _ ->
                    let xs = List.init n (fun _ -> d + MathNet.Numerics.Distributions.Normal.Sample(rng, 0.0, 1.0))
                    let e = SeedStats.estimate xs
                    abs (e.Mean / (e.Sd / sqrt (float n))) > c)
                |> Seq.filter id |> Seq.length
            near 0.01 (PairedStats.pairedTTestPower 0.05 n d 1.0) (float rejects / float m) "formula vs simulation"
        }
        test "seeds for 80 % power: the textbook sample sizes" {
            Expect.equal (PairedStats.seedsFor80Power 0.5 1.0) (Some 34) "d = 0.5"
            Expect.equal (PairedStats.seedsFor80Power 0.008 0.01) (Some 15) "d = 0.8"
            Expect.equal (PairedStats.seedsFor80Power -1.0 1.0) (Some 10) "d = −1"
            Expect.equal (PairedStats.seedsFor80Power 0.0 1.0) None "no gap"
            Expect.equal (PairedStats.seedsFor80Power 0.01 nan) None "unknown spread"
            Expect.equal (PairedStats.seedsFor80Power 0.001 1.0) None "beyond 1000"
        }
        test "gapVs carries the bootstrap interval, P(better) and the seeds for 80 % power" {
            let s = study "pstat" { seeds 3; arm "fresh" fresh; arm "warm" warm }
            let p = Plan.ofStudy s
            let res key acc =
                { Key = key; TestAccuracy = acc; TestLoss = 0.0; TrainAccuracy = 0.99; TrainLoss = 0.01; Epochs = 10
                  Seconds = 1.0; SamplesPerSecond = 1000.0; TrainSize = 10L; Diverged = false; Curve = []
                  Diagnostics = { Correlation = []; GradientNorms = []; ShrinkAccuracy = [] }; Tasks = System.Text.Json.Serialization.Skip }
            let fresh2, warm2 = [ 0.80; 0.82; 0.84 ], [ 0.78; 0.83; 0.80 ]
            let results =
                [ for i in 0 .. 2 do
                    yield res (Plan.nodeAt p "fresh" i 1).Key 0.7
                    yield res (Plan.nodeAt p "fresh" i 2).Key fresh2[i]
                    yield res (Plan.nodeAt p "warm" i 2).Key warm2[i] ]
                |> List.map (fun r -> r.Key, r) |> Map.ofList
            let r = { Plan = p; Results = results; Status = results |> Map.map (fun _ _ -> Trained); Quick = false; WallSeconds = 1.0 }
            let g = Summary.gapVsRows "fresh" r |> List.exactlyOne
            let diffs = List.map2 (-) warm2 fresh2
            near 1e-15 g.PImprove (1.0 / 3.0) "one of three seeds better"
            Expect.equal (g.GapBootLow, g.GapBootHigh) (PairedStats.bootstrapCi95 diffs) "bootstrap of the paired differences"
            Expect.isTrue (g.GapBootLow >= List.min diffs && g.GapBootHigh <= List.max diffs) "within the differences"
            let e = SeedStats.estimate diffs
            Expect.equal g.SeedsFor80Power (PairedStats.seedsFor80Power e.Mean e.Sd |> Option.get |> float) "power seeds"
            let text = Summary.format (Summary.gapVs "fresh" r)
            for col in [ "gap (pts)"; "95% CI (t)"; "95% CI (bootstrap)"; "P(better) %"; "seeds for 80% power" ] do
                Expect.stringContains text col "plain column name"
            Expect.stringContains text "33" "P(better) in percent"
        }
    ]
