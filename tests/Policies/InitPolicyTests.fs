module WarmStart.Tests.Policies.InitPolicyTests

open Expecto
open TorchSharp
open WarmStart.Core.Data
open WarmStart.Core.Models
open WarmStart.Core.Policies
open WarmStart.Core.Runs
open WarmStart.Tests.Fixtures
open WarmStart.Tests.Policies.PolicyFixtures

let private mlpSpec = ModelSpec.Mlp(6, 5)

/// A trained-looking parent: a seeded MLP on tiny data, with a context for the next stage.
let private withParent (spec: ModelSpec) (f: Dataset * Network * StageContext -> unit) =
    use data = tinyData 12L 1L 4L 4L 3 7L
    use parent = build spec data 11L
    use idx = torch.arange(12L, dtype = torch.ScalarType.Int64)
    use pidx = torch.arange(6L, dtype = torch.ScalarType.Int64)
    f (data, parent, context spec data parent idx pidx 99L)

/// ResNet-18 of width 4 on 3×8×8 images: every kind of layer, still tiny.
let private resnetSpec = ModelSpec.ResNet18 4

[<Tests>]
let tests =
    testList "policies.init" [
        test "shrink-perturb λ = 1, σ = 0 reproduces warm exactly (both noise modes; Gaussian keeps buffers)" {
            use data = tinyData 4L 3L 8L 8L 10 1L
            use parent = build resnetSpec data 5L
            // Give BN buffers non-default values so keeping them is visible.
            shiftBuffers parent 0.25f
            use idx = torch.arange(4L, dtype = torch.ScalarType.Int64)
            let ctx = context resnetSpec data parent idx idx 3L
            use warm = WarmPolicy().Apply ctx
            for mode in [ NoiseMode.Gaussian; NoiseMode.FreshInit ] do
                use sp = ShrinkPerturbPolicy(1.0, 0.0, mode).Apply ctx
                for KeyValue(n, p) in paramsOf warm do Expect.isTrue (same p (paramsOf sp).[n]) (sprintf "%A %s" mode n)
            use g = ShrinkPerturbPolicy(1.0, 0.0, NoiseMode.Gaussian).Apply ctx
            for KeyValue(n, b) in buffersOf warm do Expect.isTrue (same b (buffersOf g).[n]) ("buffer kept " + n)
            use f = ShrinkPerturbPolicy(1.0, 0.0, NoiseMode.FreshInit).Apply ctx
            Expect.isTrue (same (buffersOf f).["stem.bn.running_var"] (torch.ones(4L))) "fresh-init mode: fresh BN statistics"
        }
        test "shrink-perturb λ = 0, σ = 0 gives zeros (both modes)" {
            withParent mlpSpec (fun (_, _, ctx) ->
                for mode in [ NoiseMode.Gaussian; NoiseMode.FreshInit ] do
                    use m = ShrinkPerturbPolicy(0.0, 0.0, mode).Apply ctx
                    for KeyValue(n, p) in paramsOf m do
                        Expect.isTrue (same p (torch.zeros_like p)) (sprintf "%A %s" mode n))
        }
        test "fresh-init noise equals λθ + σθ_fresh for the seeded fresh draw" {
            withParent mlpSpec (fun (data, parent, ctx) ->
                let lambda, sigma = 0.6, 0.01
                use m = ShrinkPerturbPolicy(lambda, sigma, NoiseMode.FreshInit).Apply ctx
                use fresh = build mlpSpec data (Seeds.Derive(ctx.Seed, "fresh-noise"))
                for KeyValue(n, p) in paramsOf m do
                    let expected = (paramsOf parent).[n] * lambda + (paramsOf fresh).[n] * sigma
                    Expect.isTrue (p.allclose(expected, 1e-6, 1e-7)) n
                // Same seed, same result; the parent is untouched.
                use again = ShrinkPerturbPolicy(lambda, sigma, NoiseMode.FreshInit).Apply ctx
                for KeyValue(n, p) in paramsOf m do Expect.isTrue (same p (paramsOf again).[n]) ("seeded " + n))
        }
        test "Gaussian perturbation: θ + N(0, σ²) with the right spread; shrink alone is λθ" {
            withParent (ModelSpec.Mlp 200) (fun (_, parent, ctx) ->
                use m = ShrinkPerturbPolicy(1.0, 0.1, NoiseMode.Gaussian).Apply ctx
                let w = "hidden1.weight"
                use d = (paramsOf m).[w] - (paramsOf parent).[w]
                let sd = d.std().item<float32>() |> float
                let mean = d.mean().item<float32>() |> float
                // The sample sd of n Gaussian draws has standard error σ/√(2n), the mean σ/√n: allow 4 of each.
                let n = float (d.numel())
                Expect.isLessThan (abs (sd - 0.1)) (4.0 * 0.1 / sqrt (2.0 * n)) (sprintf "noise sd %g ≈ σ = 0.1 (n = %g)" sd n)
                Expect.isLessThan (abs mean) (4.0 * 0.1 / sqrt n) (sprintf "noise mean %g ≈ 0" mean)
                use s = ShrinkPerturbPolicy(0.3, 0.0).Apply ctx
                for KeyValue(n, p) in paramsOf s do
                    Expect.isTrue (p.allclose((paramsOf parent).[n] * 0.3, 0.0, 1e-7)) ("shrink " + n))
        }
        test "Proposition 1: shrinking a bias-free ReLU MLP by λ scales logits by λ^L and keeps argmax" {
            let spec = ModelSpec("mlp", [| 20; 20 |], "relu", false)   // L = 3 linear layers
            withParent spec (fun (data, parent, ctx) ->
                let struct (x, _) = data.Batch(torch.arange(12L, dtype = torch.ScalarType.Int64))
                use before = parent.forward x
                for lambda in [ 0.9; 0.5; 0.1 ] do
                    use shrunk = ShrinkPerturbPolicy(lambda, 0.0).Apply ctx
                    use after = shrunk.forward x
                    Expect.isTrue (after.allclose(before * (lambda ** 3.0), 1e-4, 1e-7)) (sprintf "λ^3 at %g" lambda)
                    Expect.isTrue (same (after.argmax 1) (before.argmax 1)) (sprintf "argmax at %g" lambda))
        }
        test "partial_warm copies exactly the named groups, the rest is the fresh draw of the stage seed" {
            withParent (ModelSpec.Mlp(6, 5, 4)) (fun (data, parent, ctx) ->
                let policy = PartialWarmPolicy([ "hidden1"; "hidden3" ])
                use m = policy.Apply ctx
                use fresh = FreshPolicy().Apply ctx
                for KeyValue(n, p) in paramsOf m do
                    let fromParent = Network.GroupOf n = "hidden1" || Network.GroupOf n = "hidden3"
                    let expected = if fromParent then (paramsOf parent).[n] else (paramsOf fresh).[n]
                    Expect.isTrue (same p expected) n
                    Expect.isFalse (same p (if fromParent then (paramsOf fresh).[n] else (paramsOf parent).[n])) ("differs from the other source: " + n)
                Expect.equal (List.ofSeq (policy.ReinitialisedGroups m)) [ "hidden2"; "head" ] "re-initialised groups")
        }
        test "partial_warm copies BN running statistics with their group (ResNet)" {
            use data = tinyData 4L 3L 8L 8L 10 1L
            use parent = build resnetSpec data 5L
            shiftBuffers parent 0.5f
            use idx = torch.arange(4L, dtype = torch.ScalarType.Int64)
            use m = PartialWarmPolicy([ "stem"; "layer1" ]).Apply(context resnetSpec data parent idx idx 3L)
            let b = buffersOf m
            Expect.isTrue (same b.["layer1.0.bn1.running_var"] (buffersOf parent).["layer1.0.bn1.running_var"]) "copied group's BN stats"
            Expect.isTrue (same b.["layer2.0.bn1.running_var"] (torch.ones(8L))) "fresh group's BN stats"
        }
        test "partial_warm: an unknown group is an ArgumentException that lists the valid groups" {
            withParent mlpSpec (fun (_, _, ctx) ->
                Expect.throwsT<System.ArgumentException> (fun () -> PartialWarmPolicy([ "hidden1"; "block1" ]).Apply ctx |> ignore) "unknown"
                let message =
                    try PartialWarmPolicy([ "block1" ]).Apply ctx |> ignore; failtest "expected an ArgumentException for 'block1'"
                    with :? System.ArgumentException as e -> e.Message
                Expect.stringContains message "'block1'" "names the bad group"
                Expect.stringContains message "hidden1, hidden2, head" "lists the valid groups")
            Expect.throwsT<System.ArgumentException> (fun () -> PartialWarmPolicy([]) |> ignore) "empty"
            Expect.throwsT<System.ArgumentException> (fun () -> PartialWarmPolicy([ "a"; "a" ]) |> ignore) "duplicate"
        }
        test "head_reset changes only the head, which becomes the fresh draw's head" {
            withParent mlpSpec (fun (_, parent, ctx) ->
                use m = HeadResetPolicy().Apply ctx
                use fresh = FreshPolicy().Apply ctx
                for KeyValue(n, p) in paramsOf m do
                    if Network.GroupOf n = "head" then
                        Expect.isTrue (same p (paramsOf fresh).[n]) ("fresh head " + n)
                        Expect.isFalse (same p (paramsOf parent).[n]) ("head changed " + n)
                    else Expect.isTrue (same p (paramsOf parent).[n]) ("kept " + n))
        }
        test "DASH shrink: per-row scale clamp(cos(G_row, W_row), λ, 1) on a 2×3 layer, bias by one cosine" {
            // W row 0 = [1, 2, 2], G row 0 = [2, 1, 2]: cos = 8/9. Row 1 = [1, 0, 0] against [0, 1, 0]: cos 0 → λ.
            use data = rowData [| [| 0uy; 0uy; 0uy |] |] [| 0L |] 2
            use m = build (ModelSpec.LogisticRegression()) data 1L
            setParam m "head.weight" [| 1.0f; 2.0f; 2.0f; 1.0f; 0.0f; 0.0f |]
            setParam m "head.bias" [| 3.0f; 4.0f |]
            let ema = dict [ "head.weight", torch.tensor([| 2.0f; 1.0f; 2.0f; 0.0f; 1.0f; 0.0f |]).reshape(2L, 3L)
                             "head.bias", torch.tensor([| 3.0f; 4.0f |] |> Array.map (fun v -> -v)) ]
            let lambda = 0.3
            let scales = DashPolicy.Shrink(m, System.Collections.Generic.Dictionary(ema), lambda)
            Expect.isTrue (close 1e-6 (values scales.["head.weight"]) [| 8.0 / 9.0; 0.3 |]) "row scales"
            Expect.isTrue (close 1e-6 (values (paramsOf m).["head.weight"]) [| 8.0 / 9.0; 16.0 / 9.0; 16.0 / 9.0; 0.3; 0.0; 0.0 |]) "rows scaled"
            // Bias cosine = −1 → clamped to λ.
            Expect.isTrue (close 1e-6 (values (paramsOf m).["head.bias"]) [| 0.9; 1.2 |]) "bias scaled by λ"
        }
        test "DASH end to end: gradient EMA over two batches matches a hand computation; the parent is untouched" {
            // Logistic regression 3 → 2 without bias; x = bytes/255; chunk size 1 → two minibatches of one example.
            let rows = [| [| 255uy; 0uy; 51uy |]; [| 0uy; 255uy; 102uy |] |]
            let ys = [| 0; 1 |]
            use data = rowData rows (ys |> Array.map int64) 2
            let spec = ModelSpec("logistic_regression", [||], "relu", false)
            use parent = build spec data 1L
            let w = [| 0.5; -0.2; 0.1; 0.3; 0.4; -0.6 |]
            setParam parent "head.weight" (w |> Array.map float32)
            use idx = torch.arange(2L, dtype = torch.ScalarType.Int64)
            use pidx = torch.arange(1L, dtype = torch.ScalarType.Int64)
            let ctx = context spec data parent idx pidx 5L
            let alpha, lambda = 0.3, 0.2
            // Hand: g = (softmax(Wx) − e_y) xᵀ for one example; G = (1−α)·α·(−g₁) + α·(−g₂).
            let grad (x: float[]) (y: int) =
                let z = [| for r in 0 .. 1 -> Array.sum [| for c in 0 .. 2 -> w.[r * 3 + c] * x.[c] |] |]
                let e = z |> Array.map exp
                let p = e |> Array.map (fun v -> v / Array.sum e)
                [| for r in 0 .. 1 do for c in 0 .. 2 -> (p.[r] - (if r = y then 1.0 else 0.0)) * x.[c] |]
            let xs = rows |> Array.map (Array.map (fun b -> float b / 255.0))
            let g1, g2 = grad xs.[0] ys.[0], grad xs.[1] ys.[1]
            let G = Array.init 6 (fun i -> (1.0 - alpha) * alpha * (-g1.[i]) + alpha * (-g2.[i]))
            let cosRow r =
                let a, b = G.[r * 3 .. r * 3 + 2], w.[r * 3 .. r * 3 + 2]
                let dot = Array.fold2 (fun s u v -> s + u * v) 0.0 a b
                dot / (sqrt (Array.sumBy (fun v -> v * v) a) * sqrt (Array.sumBy (fun v -> v * v) b))
            let s = [| for r in 0 .. 1 -> min 1.0 (max lambda (cosRow r)) |]
            let expected = Array.init 6 (fun i -> w.[i] * s.[i / 3])
            let policy = DashPolicy(alpha, lambda)
            Expect.equal (policy.ScanBatchSize ctx) 1 "chunk-sized minibatches"
            use m = policy.Apply ctx
            Expect.isTrue (close 1e-5 (values (paramsOf m).["head.weight"]) expected) (sprintf "weights; scales %A" s)
            Expect.isTrue (close 1e-7 (values (paramsOf parent).["head.weight"]) w) "parent untouched"
            let ema = DashPolicy.GradientEma(parent, data, idx, alpha, 1)
            Expect.isTrue (close 1e-5 (values ema.["head.weight"]) G) "EMA of −∇"
        }
        test "DASH on a ResNet: conv scales per (out, in) slice lie in [λ, 1], BN parameters and buffers untouched" {
            use data = tinyData 8L 3L 8L 8L 10 2L
            use parent = build resnetSpec data 4L
            use idx = torch.arange(8L, dtype = torch.ScalarType.Int64)
            use pidx = torch.arange(4L, dtype = torch.ScalarType.Int64)
            let lambda = 0.3
            use m = DashPolicy(0.3, lambda).Apply(context resnetSpec data parent idx pidx 1L)
            let pp, mp = paramsOf parent, paramsOf m
            for KeyValue(n, p) in mp do
                if n.Contains "bn" || n.Contains "shortcut.1" then Expect.isTrue (same p pp.[n]) ("BN untouched " + n)
            let w0 = pp.["layer2.0.conv1.weight"]
            let w1 = mp.["layer2.0.conv1.weight"]
            use ratio = w1.flatten(2).square().sum(2).sqrt().div(w0.flatten(2).square().sum(2).sqrt())
            Expect.equal ratio.shape [| 8L; 4L |] "one scale per (out, in)"
            Expect.isTrue (ratio.ge(torch.tensor(lambda - 1e-5)).all().item<bool>()) "≥ λ"
            Expect.isTrue (ratio.le(torch.tensor(1.0 + 1e-5)).all().item<bool>()) "≤ 1"
            for KeyValue(n, b) in buffersOf m do Expect.isTrue (same b (buffersOf parent).[n]) ("buffer " + n)
        }
        test "DASH validates α and λ" {
            Expect.throwsT<System.ArgumentOutOfRangeException> (fun () -> DashPolicy(0.0, 0.3) |> ignore) "α = 0"
            Expect.throwsT<System.ArgumentOutOfRangeException> (fun () -> DashPolicy(0.3, 1.5) |> ignore) "λ > 1"
        }
    ]
