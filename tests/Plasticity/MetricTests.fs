module WarmStart.Tests.Plasticity.MetricTests

open Expecto
open TorchSharp
open WarmStart.Core.Models
open WarmStart.Core.Plasticity
open WarmStart.Tests.Plasticity.PlasticityFixtures

/// U·diag(σ)·Vᵀ with seeded random orthogonal U (n×n) and V (k×k), n ≥ k.
let private withSingularValues (n: int64) (sv: float[]) =
    let k = int64 sv.Length
    use g = new torch.Generator(11UL)
    let struct (u, _) = torch.linalg.qr(torch.randn([| n; n |], dtype = torch.ScalarType.Float64, generator = g))
    let struct (v, _) = torch.linalg.qr(torch.randn([| k; k |], dtype = torch.ScalarType.Float64, generator = g))
    let d = torch.zeros([| n; k |], dtype = torch.ScalarType.Float64)
    d.narrow(0L, 0L, k).copy_(torch.diag(torch.tensor(sv, dtype = torch.ScalarType.Float64))) |> ignore
    u.matmul(d).matmul(v.t())

/// Moves every parameter by +1 from its initial value.
let private shiftAll (m: Network) (init: System.Collections.Generic.IReadOnlyDictionary<string, torch.Tensor>) =
    use _ = torch.no_grad()
    for struct (n, p) in m.named_parameters() do
        p.copy_(init.[n].add(torch.tensor 1.0f)) |> ignore

[<Tests>]
let tests =
    testList "plasticity.metrics" [
        test "effective rank, srank_0.01 and stable_rank_fro of a matrix with singular values 4, 2, 1, 1" {
            use a = withSingularValues 6L [| 4.0; 2.0; 1.0; 1.0 |]
            let sv = Metrics.SingularValues a
            Expect.isTrue (Array.forall2 (fun (x: float) y -> abs (x - y) < 1e-9) sv [| 4.0; 2.0; 1.0; 1.0 |]) "svd recovers σ"
            // p = .5, .25, .125, .125: entropy 1.75 ln 2, so erank = 2^1.75.
            Expect.floatClose Accuracy.veryHigh (Metrics.EffectiveRank sv) (2.0 ** 1.75) "erank"
            // cumulative .5 .75 .875 1: three below 0.99.
            Expect.equal (Metrics.SRank(sv, 0.01)) 4 "srank"
            Expect.floatClose Accuracy.veryHigh (Metrics.StableRankFro sv) (22.0 / 16.0) "Σσ²/σ₁²"
        }
        test "srank counts the singular values needed for 99% of Σσ; erank of equal values is their count" {
            Expect.equal (Metrics.SRank([| 100.0; 1.0; 0.0 |], 0.01)) 1 "100/101 ≥ 0.99"
            Expect.equal (Metrics.SRank([| 90.0; 9.5; 0.5 |], 0.01)) 2 "0.90 < 0.99 ≤ 0.995"
            Expect.equal (Metrics.SRank([| 96.0; 2.5; 1.5 |], 0.01)) 3 "0.985 < 0.99"
            Expect.equal (Metrics.SRank([| 1.0; 1.0; 1.0; 1.0; 1.0 |], 0.1)) 5 "δ 0.1 on 5 equal values"
            Expect.floatClose Accuracy.veryHigh (Metrics.EffectiveRank [| 3.0; 3.0; 3.0 |]) 3.0 "erank 3"
            Expect.equal (Metrics.EffectiveRank [| 0.0; 0.0 |]) 0.0 "zero matrix"
            Expect.equal (Metrics.SRank([| 0.0 |], 0.01)) 0 "zero matrix"
        }
        test "dormant (ReDo τ) and dead fractions of a hand feature matrix" {
            // Unit means |h|: 0, 1, 3, 0.05; layer mean 1.0125; scores 0, 0.988, 2.963, 0.049.
            use f = torch.tensor([| 0.0f; 1.0f; 2.0f; 0.05f; 0.0f; 1.0f; 4.0f; 0.05f |]).reshape(2L, 4L)
            Expect.sequenceEqual (Metrics.DormantFraction([| f |], 0.1)) [| 0.5 |] "τ 0.1: units 0 and 3"
            Expect.sequenceEqual (Metrics.DormantFraction([| f |], 0.0)) [| 0.25 |] "τ 0: unit 0"
            Expect.sequenceEqual (Metrics.DeadFraction [| f |]) [| 0.25 |] "exactly zero: unit 0"
            // A conv feature map [batch, channels, h, w]: channel 1 is zero everywhere.
            use c = torch.ones(2L, 3L, 2L, 2L)
            c.select(1, 1L).zero_() |> ignore
            Expect.sequenceEqual (Metrics.DeadFraction [| c |]) [| 1.0 / 3.0 |] "channels are units"
        }
        test "weight magnitude per group, distance from init and gradient norm by their definitions" {
            use m = tinyMlp [| 3 |]
            let init = readOnlyDict [ for struct (n, p) in m.named_parameters() -> n, p.detach().clone() ]
            Expect.equal (Metrics.DistanceFromInit(m, init)) 0.0 "at init"
            setParam m "hidden1.weight" [| 1.0f; -1.0f; 2.0f; -2.0f; 3.0f; -3.0f |]
            setParam m "head.weight" [| 0.5f; 0.5f; 0.5f; -0.5f; -0.5f; -0.5f |]
            let mags = Metrics.WeightMagnitude m
            Expect.floatClose Accuracy.veryHigh mags.["hidden1"] 2.0 "mean |W| hidden1"
            Expect.floatClose Accuracy.veryHigh mags.["head"] 0.5 "mean |W| head"
            shiftAll m init
            Expect.floatClose Accuracy.veryHigh (Metrics.DistanceFromInit(m, init)) 1.0 "every θ moved by 1: RMS 1"
            // d/dθ Σ 2θ = 2 for every entry.
            m.zero_grad()
            let loss = m.parameters() |> Seq.map (fun p -> p.sum().mul(torch.tensor 2.0f)) |> Seq.reduce (fun a b -> a.add b)
            loss.backward()
            // Weights only: 6 + 6 entries of 2 → √(12·4).
            Expect.floatClose Accuracy.veryHigh (Metrics.GradientNorm m) (sqrt 48.0) "√Σ‖∇W‖²"
        }
    ]
