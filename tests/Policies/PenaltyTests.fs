module WarmStart.Tests.Policies.PenaltyTests

open Expecto
open TorchSharp
open WarmStart.Core.Models
open WarmStart.Core.Policies
open WarmStart.Tests.Fixtures
open WarmStart.Tests.Policies.PolicyFixtures

let private spec = ModelSpec.Mlp(5)

/// Two differently seeded MLPs on tiny data.
let private pair () =
    let data = tinyData 10L 1L 2L 3L 3 1L
    data, build spec data 1L, build spec data 2L

let private gradsOf (m: Network) = m.named_parameters() |> Seq.map (fun struct (n, p) -> n, p.grad) |> Map.ofSeq

let private asDict (m: Map<string, torch.Tensor>) = System.Collections.Generic.Dictionary(m) :> System.Collections.Generic.IReadOnlyDictionary<_, _>

[<Tests>]
let tests =
    testList "policies.penalties" [
        test "EWC: penalty and gradient are zero at θ*" {
            let data, star, _ = pair ()
            use _ = data
            use star = star
            use fisher = Fisher.Estimate(star, data, torch.arange(10L, dtype = torch.ScalarType.Int64))
            use ewc = EwcPenalty.AtParent(100.0, star, data, torch.arange(10L, dtype = torch.ScalarType.Int64))
            use pen = ewc.Compute star
            Expect.equal (pen.item<float32>()) 0.0f "zero penalty"
            pen.backward()
            for KeyValue(n, g) in gradsOf star do Expect.isTrue (same g (torch.zeros_like g)) ("zero gradient " + n)
            Expect.isGreaterThan (fisher.Tensors.Values |> Seq.sumBy (fun f -> f.sum().item<float32>())) 0.0f "non-trivial Fisher"
        }
        test "EWC: (λ/2)·Σ F (θ − θ*)² and gradient λ·F·(θ − θ*) with a known Fisher" {
            let data, star, other = pair ()
            use _ = data
            use star = star
            use other = other
            let fisher = paramsOf star |> Map.map (fun _ p -> torch.rand_like p)
            let lambda = 3.0
            use ewc = new EwcPenalty(lambda, asDict fisher, asDict (paramsOf star))
            use pen = ewc.Compute other
            let expected =
                paramsOf other |> Map.toSeq
                |> Seq.sumBy (fun (n, p) -> (fisher.[n] * (p - (paramsOf star).[n]).square()).sum().item<float32>() |> float)
            Expect.floatClose Accuracy.medium (float (pen.item<float32>())) (lambda / 2.0 * expected) "value"
            pen.backward()
            for KeyValue(n, g) in gradsOf other do
                let want = fisher.[n] * ((paramsOf other).[n] - (paramsOf star).[n]) * lambda
                Expect.isTrue (g.allclose(want, 1e-5, 1e-7)) ("gradient " + n)
        }
        test "L2-init (textbook): λ‖θ − θ₀‖², gradient 2λ(θ − θ₀)" {
            let data, init, model = pair ()
            use _ = data
            use init = init
            use model = model
            let lambda = 0.01
            use l2 = new L2InitPenalty(lambda, init)
            use pen = l2.Compute model
            let sq = paramsOf model |> Map.toSeq |> Seq.sumBy (fun (n, p) -> (p - (paramsOf init).[n]).square().sum().item<float32>() |> float)
            Expect.floatClose Accuracy.medium (float (pen.item<float32>())) (lambda * sq) "value"
            pen.backward()
            for KeyValue(n, g) in gradsOf model do
                let want = ((paramsOf model).[n] - (paramsOf init).[n]) * (2.0 * lambda)
                Expect.isTrue (g.allclose(want, 1e-5, 1e-8)) ("gradient " + n)
        }
        test "L2-init (DASH form): λ·(Σ over weights of ‖W − W₀‖_F)², biases excluded, finite zero gradient at θ₀" {
            let data, init, model = pair ()
            use _ = data
            use init = init
            use model = model
            let lambda = 0.5
            use l2 = new L2InitPenalty(lambda, init, L2InitForm.DashCompatible)
            use pen = l2.Compute model
            let sumNorms =
                [ "hidden1.weight"; "head.weight" ]
                |> List.sumBy (fun n -> ((paramsOf model).[n] - (paramsOf init).[n]).square().sum().sqrt().item<float32>() |> float)
            Expect.floatClose Accuracy.medium (float (pen.item<float32>())) (lambda * sumNorms * sumNorms) "value"
            pen.backward()
            Expect.isNull (paramsOf model).["head.bias"].grad "no gradient on biases"
            Expect.isNotNull (paramsOf model).["head.weight"].grad "gradient on weights"
            use atInit = l2.Compute init
            Expect.equal (atInit.item<float32>()) 0.0f "zero at θ₀"
            atInit.backward()
            for n in [ "hidden1.weight"; "head.weight" ] do
                let g = (paramsOf init).[n].grad
                Expect.isTrue (torch.isfinite(g).all().item<bool>() && same g (torch.zeros_like g)) ("finite zero gradient " + n)
        }
        test "Fisher (empirical, per example) matches the hand formula (e_y − p)·xᵀ squared and averaged" {
            let rows = [| [| 255uy; 0uy; 51uy |]; [| 0uy; 255uy; 102uy |]; [| 128uy; 64uy; 0uy |] |]
            let ys = [| 0; 1; 1 |]
            use data = rowData rows (Array.map int64 ys) 2
            use m = build (ModelSpec.LogisticRegression()) data 3L
            let w = values (paramsOf m).["head.weight"]
            let b = values (paramsOf m).["head.bias"]
            let xs = rows |> Array.map (Array.map (fun v -> float v / 255.0))
            let perExample (x: float[]) y =
                let z = [| for r in 0 .. 1 -> b.[r] + Array.sum [| for c in 0 .. 2 -> w.[r * 3 + c] * x.[c] |] |]
                let e = z |> Array.map exp
                let p = e |> Array.map (fun v -> v / Array.sum e)
                let d = [| for r in 0 .. 1 -> (if r = y then 1.0 else 0.0) - p.[r] |]
                [| for r in 0 .. 1 do for c in 0 .. 2 -> (d.[r] * x.[c]) ** 2.0 |], d |> Array.map (fun v -> v * v)
            let parts = Array.map2 perExample xs ys
            let fw = Array.init 6 (fun i -> (parts |> Array.sumBy (fun (a, _) -> a.[i])) / 3.0)
            let fb = Array.init 2 (fun i -> (parts |> Array.sumBy (fun (_, a) -> a.[i])) / 3.0)
            use f = Fisher.Estimate(m, data, torch.arange(3L, dtype = torch.ScalarType.Int64), FisherOptions(FisherKind.Empirical, BatchSize = 2))
            Expect.isTrue (close 1e-5 (values f.["head.weight"]) fw) "weight Fisher"
            Expect.isTrue (close 1e-5 (values f.["head.bias"]) fb) "bias Fisher"
        }
        test "Fisher (sampled labels): seeded, and close to the analytic p(1 − p)·x² on repeated inputs" {
            let n = 15000
            use data = rowData (Array.init n (fun _ -> [| 200uy; 100uy |])) (Array.zeroCreate n) 2
            use m = build (ModelSpec.LogisticRegression()) data 4L
            let idx = torch.arange(int64 n, dtype = torch.ScalarType.Int64)
            let opts seed = FisherOptions(FisherKind.Sampled, Samples = 0, BatchSize = 256, Seed = seed)
            use f1 = Fisher.Estimate(m, data, idx, opts 1L)
            use f1b = Fisher.Estimate(m, data, idx, opts 1L)
            use f2 = Fisher.Estimate(m, data, idx, opts 2L)
            Expect.isTrue (same f1.["head.weight"] f1b.["head.weight"]) "same seed, same Fisher"
            Expect.isFalse (same f1.["head.weight"] f2.["head.weight"]) "another seed, another draw"
            // For softmax regression E_y~p[(e_y − p)_k²] = p_k(1 − p_k) (equal for both classes when there are two).
            use x = torch.tensor([| 200.0f / 255.0f; 100.0f / 255.0f |])
            use p = ((paramsOf m).["head.weight"].matmul(x) + (paramsOf m).["head.bias"]).softmax(0)
            let pk = (values p).[0]
            let analytic = [| for _ in 0 .. 1 do for c in values x -> pk * (1.0 - pk) * c * c |]
            // Relative tolerances from the sampling error (4 standard errors), not fixed percentages.
            let relClose (tol: float) (a: float[]) (b: float[]) = a.Length = b.Length && Array.forall2 (fun (x: float) y -> abs (x - y) <= tol * abs y + 1e-6) a b
            // One example: d² with d = 1{y = k} − p_k has mean pq and variance pq(p³ + q³ − pq).
            let q = 1.0 - pk
            let perExample = 4.0 * sqrt ((pk ** 3.0 + q ** 3.0 - pk * q) / (pk * q * float n)) + 1e-4
            Expect.isTrue (relClose perExample (values f1.["head.weight"]) analytic) (sprintf "≈ analytic %A vs %A (±%.2f %%)" (values f1.["head.weight"]) analytic (100.0 * perExample))
            // Micro-batches of 10: unbiased for the sampled Fisher. Each micro-batch contributes (Σ_j d_j)²·x², the
            // sum of 10 centred label draws squared: ≈ p(1 − p)·10·χ²₁, relative sd √2; over n/10 micro-batches the
            // mean's relative standard error is √(2 / (n/10)). Allow 4 of them (≈ 15 % at n = 15 000).
            use fm = Fisher.Estimate(m, data, idx, FisherOptions(FisherKind.Sampled, Samples = 0, MicroBatch = 10, Seed = 3L))
            let tolerance = 4.0 * sqrt (2.0 / (float n / 10.0))
            Expect.isTrue (relClose tolerance (values fm.["head.weight"]) analytic) (sprintf "micro-batched ≈ analytic %A (±%.0f %%)" (values fm.["head.weight"]) (100.0 * tolerance))
        }
        test "penalties in the trainer: stage factories, and a strong L2-init / EWC keeps the weights near their anchor" {
            use data = tinyData 32L 1L 3L 3L 3 5L
            use idx = torch.arange(32L, dtype = torch.ScalarType.Int64)
            use pidx = torch.arange(16L, dtype = torch.ScalarType.Int64)
            let distance (penalties: WarmStart.Core.Training.IPenalty list) (anchor: Network) (m: Network) =
                let opts = WarmStart.Core.Training.TrainOptions(OptimizerSpec = WarmStart.Core.Training.OptimizerSpec.Sgd 0.5,
                                                                BatchSize = 8, Stop = WarmStart.Core.Training.StopRule.Epochs 3,
                                                                Penalties = List.toArray penalties)
                let struct (_, o) = WarmStart.Core.Training.Trainer.Fit(m, data, idx, opts)
                o.Dispose()
                paramsOf m |> Map.toSeq |> Seq.sumBy (fun (n, p) -> (p - (paramsOf anchor).[n]).square().sum().item<float32>() |> float)
            // L2-init: θ₀ is the original init, re-drawn from OriginalInitSeed (1 in the fixture context).
            use init = build spec data 1L
            let ctx = context spec data init idx pidx 9L
            use l2 = L2InitPenalty.ForStage(0.5, ctx)   // 2λ·lr = 0.5: a stable pull
            use free = build spec data 1L
            use held = build spec data 1L
            let dFree = distance [] init free
            let dHeld = distance [ l2 ] init held
            Expect.isLessThan dHeld (dFree / 4.0) "L2-init holds the weights near θ₀"
            // EWC at the parent, Fisher on the parent's data.
            use ewc = EwcPenalty.ForStage(10.0, ctx, FisherOptions(Samples = 16))
            Expect.isTrue (ewc.FisherDiagonal.ContainsKey "head.weight") "Fisher per parameter"
            use freeE = build spec data 1L
            use heldE = build spec data 1L
            let dEwc = distance [ ewc ] init heldE
            let dFreeE = distance [] init freeE
            // Measured here (seeded, so fixed): EWC 0.103 vs free 0.299. Half the free distance leaves room for
            // numeric noise and still fails when the penalty barely pulls.
            Expect.isLessThan dEwc (dFreeE / 2.0) (sprintf "EWC holds the weights near θ*: %g vs free %g" dEwc dFreeE)
        }
        test "penalties validate λ" {
            let data, a, _ = pair ()
            use _ = data
            Expect.throwsT<System.ArgumentOutOfRangeException> (fun () -> new L2InitPenalty(-1.0, a) |> ignore) "l2 λ < 0"
            Expect.throwsT<System.ArgumentOutOfRangeException> (fun () -> new EwcPenalty(nan, asDict Map.empty, asDict Map.empty) |> ignore) "ewc NaN"
        }
    ]
