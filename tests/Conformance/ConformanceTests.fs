/// The core's policies and penalties against PyTorch fixtures (tests/fixtures/conformance/generate.py): each
/// test loads a committed fixture, runs the core on its inputs, and requires max abs error ≤ 1e-6.
module WarmStart.Tests.Conformance.ConformanceTests

open System.IO
open Expecto
open TorchSharp
open WarmStart.Core.Policies
open WarmStart.Tests.Conformance.ConformanceFixture

let private dict (m: Map<string, torch.Tensor>) =
    System.Collections.Generic.Dictionary<string, torch.Tensor>(m) :> System.Collections.Generic.IReadOnlyDictionary<_, _>

/// Runs body on the fixture case-model with a parent network loaded from its "parent" group and a data set.
let private withParent case model (body: Fixture -> WarmStart.Core.Models.Network -> WarmStart.Core.Data.Dataset -> unit) =
    use f = load case model
    use parent = network f "parent"
    use data = if f.Tensors.ContainsKey "data" then dataset f else noData f
    body f parent data

let private shrinkPerturbFresh model (lam: string) (sigma: string) =
    test (sprintf "shrink-perturb, fresh-init noise (λ=%s, σ=%s) = the authors' shrink_perturb, BN buffers fresh: %s" lam sigma model) {
        withParent (sprintf "shrink-perturb-fresh-%s-%s" lam sigma) model (fun f parent data ->
            let policy = ShrinkPerturbPolicy(f.Float "lambda", f.Float "sigma", NoiseMode.FreshInit)
            use out = policy.Apply(context f parent data)
            expectClose "state" (stateOf out) (f.Group "expected"))
    }

let private perModel model =
    testList model [
        shrinkPerturbFresh model "0.4" "0.1"
        shrinkPerturbFresh model "0.6" "0.01"

        test (sprintf "shrink-perturb, Gaussian noise: λθ + σz with PyTorch's draws z, buffers kept: %s" model) {
            withParent "shrink-perturb-gaussian" model (fun f parent data ->
                let policy = ShrinkPerturbPolicy(f.Float "lambda", f.Float "sigma", NoiseMode.Gaussian)
                use out = policy.Apply(context f parent data, dict (f.Group "noise"))
                expectClose "state" (stateOf out) (f.Group "expected"))
        }

        for lam in [ "0.3"; "0.0" ] do
            test (sprintf "DASH (α=0.3, λ=%s): gradient EMA in eval mode, per-neuron scales and weights = the DASH code: %s" lam model) {
                withParent (sprintf "dash-%s" lam) model (fun f parent data ->
                    let alpha, lambda, batch = f.Float "alpha", f.Float "lambda", f.Int "batch_size"
                    let idx = torch.arange(data.Count, dtype = torch.ScalarType.Int64)
                    // 1. The gradient estimate, on a copy of the parent.
                    use probe = network f "parent"
                    let ema = DashPolicy.GradientEma(probe, data, idx, alpha, batch)
                    expectClose "gradient EMA" (ema |> Seq.map (fun kv -> kv.Key, kv.Value) |> Map.ofSeq) (f.Group "ema")
                    // 2. The shrink from PyTorch's EMA.
                    use shrunk = network f "parent"
                    let scales = DashPolicy.Shrink(shrunk, dict (f.Group "ema"), lambda)
                    expectClose "scales" (scales |> Seq.map (fun kv -> kv.Key, kv.Value) |> Map.ofSeq) (f.Group "scales")
                    expectClose "shrunk state" (stateOf shrunk) (f.Group "expected")
                    // 3. The whole policy; the parent is left as it was.
                    use out = DashPolicy(alpha, lambda, batch).Apply(context f parent data)
                    expectClose "policy state" (stateOf out) (f.Group "expected")
                    expectClose "parent untouched" (stateOf parent) (f.Group "parent"))
            }

        test (sprintf "L2-init, textbook and DASH-code forms: value and gradient = PyTorch autograd: %s" model) {
            use f = load "l2-init" model
            for form, valueKey, gradKey in [ L2InitForm.Textbook, "textbook_value", "textbook_grad"
                                             L2InitForm.DashCompatible, "dash_value", "dash_grad" ] do
                use net = emptyNetwork f
                loadParams net (f.Group "theta")
                use penalty = new L2InitPenalty(f.Float "lambda", dict (f.Group "theta0"), form)
                net.zero_grad()
                use v = penalty.Compute net
                expectScalar (sprintf "%A value" form) (v.item<float32>() |> float) (f.Float valueKey)
                v.backward()
                let expected = f.Group gradKey
                // The DASH form leaves biases out: their gradients must be zero (or absent).
                let grads = gradsOf net
                for KeyValue(n, g) in grads do
                    if not (expected.ContainsKey n) then
                        Expect.equal (g.abs().max().item<float32>()) 0.0f (sprintf "%A: '%s' is not penalised" form n)
                expectClose (sprintf "%A gradient" form) (grads |> Map.filter (fun n _ -> expected.ContainsKey n)) expected
        }

        test (sprintf "EWC: penalty value and gradient given a Fisher; empirical Fisher per example in eval mode: %s" model) {
            withParent "ewc" model (fun f parent data ->
                use net = emptyNetwork f
                loadParams net (f.Group "theta")
                use penalty = new EwcPenalty(f.Float "lambda", dict (f.Group "fisher"), dict (f.Group "theta_star"))
                net.zero_grad()
                use v = penalty.Compute net
                expectScalar "value" (v.item<float32>() |> float) (f.Float "value")
                v.backward()
                expectClose "gradient" (gradsOf net) (f.Group "grad")
                let idx = torch.arange(data.Count, dtype = torch.ScalarType.Int64)
                use fisher = Fisher.Estimate(parent, data, idx, FisherOptions(Kind = FisherKind.Empirical, Samples = 0, BatchSize = 8, MicroBatch = 1))
                expectClose "empirical Fisher" (fisher.Tensors |> Seq.map (fun kv -> kv.Key, kv.Value) |> Map.ofSeq) (f.Group "empirical_fisher"))
        }

        test (sprintf "head reset: the parent with the fresh draw's head (parameters and buffers): %s" model) {
            withParent "head-reset" model (fun f parent data ->
                use out = HeadResetPolicy().Apply(context f parent data)
                expectClose "state" (stateOf out) (f.Group "expected"))
        }

        test (sprintf "partial warm: the fresh draw with the named groups copied from the parent: %s" model) {
            withParent "partial-warm" model (fun f parent data ->
                let groups = f.Scalars.GetProperty("warm_groups").EnumerateArray() |> Seq.map (fun g -> g.GetString()) |> List.ofSeq
                use out = PartialWarmPolicy(groups).Apply(context f parent data)
                expectClose "state" (stateOf out) (f.Group "expected"))
        }
    ]

/// The case names generate.py writes for each model.
let private cases =
    [ "shrink-perturb-fresh-0.4-0.1"; "shrink-perturb-fresh-0.6-0.01"; "shrink-perturb-gaussian"; "dash-0.3"; "dash-0.0"
      "l2-init"; "ewc"; "head-reset"; "partial-warm" ]

[<Tests>]
let tests =
    testList "conformance" [
        test "every committed fixture is one these tests read, and each one they read is committed" {
            let onDisk = Directory.GetFiles(folder (), "*.json") |> Array.map Path.GetFileNameWithoutExtension |> Set.ofArray
            // forward-resnet18_dash is read by tests/Fidelity/ModelAndPenaltyTests.fs.
            let read = set [ for c in cases do for m in modelNames -> sprintf "%s-%s" c m ] |> Set.add "forward-resnet18_dash"
            Expect.equal onDisk read "fixture files = cases × models"
        }
        test "the comparison can fail: a fixture off by 2e-6 in one weight is rejected" {
            use f = load "head-reset" "mlp"
            let expected = f.Group "expected"
            use bumped = expected.["head.bias"].clone()
            use _ = torch.no_grad()
            bumped.[0L].add_(torch.tensor 2e-6f) |> ignore
            Expect.throws (fun () -> expectClose "bumped" (expected.Add("head.bias", bumped)) expected) "2e-6 > 1e-6"
        }
        testList "policies" [ for m in modelNames -> perModel m ]
    ]
