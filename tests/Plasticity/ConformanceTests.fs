/// Conformance with PyTorch: one continual-backprop run of the authors' GnT (lop/algos/gnt.py) and one ReDo step,
/// recorded by tests/fixtures/conformance/plasticity/make-fixtures.py under PyTorch 1.13. CI has no PyTorch: the
/// fixtures are committed.
module WarmStart.Tests.Plasticity.ConformanceTests

open System.IO
open System.Text.Json
open Expecto
open TorchSharp
open WarmStart.Core.Models
open WarmStart.Core.Training
open WarmStart.Core.Plasticity
open WarmStart.Tests.Fixtures
open WarmStart.Tests.Plasticity.PlasticityFixtures

let private tolerance = 1e-6

let private load name =
    let path = Path.Combine(repoRoot.Force(), "tests", "fixtures", "conformance", "plasticity", name)
    JsonDocument.Parse(File.ReadAllText path).RootElement

let private floats (e: JsonElement) = [| for v in e.EnumerateArray() -> v.GetSingle() |]
let private ints (e: JsonElement) = [| for v in e.EnumerateArray() -> v.GetInt64() |]

let private names = [ "hidden1"; "hidden2"; "head" ]

let private setAll (m: Network) (ps: JsonElement) =
    for n in names do
        setParam m (n + ".weight") (floats (ps.GetProperty(n + ".weight")))
        setParam m (n + ".bias") (floats (ps.GetProperty(n + ".bias")))

let private close (what: string) (actual: float32[]) (expected: float32[]) =
    Expect.equal actual.Length expected.Length (what + " length")
    let worst = Array.fold2 (fun acc (a: float32) (e: float32) -> max acc (abs (float a - float e))) 0.0 actual expected
    Expect.isLessThanOrEqual worst tolerance (sprintf "%s: max abs error %g" what worst)

/// Compares a parameter with the fixture, skipping the rows (units) that were re-drawn from the framework's generator.
let private closeExceptRows (m: Network) (name: string) (expected: float32[]) (rows: int64[]) =
    let p = param m name
    let width = if p.dim() = 2L then int p.shape.[1] else 1
    let keep i = not (Array.contains (int64 (i / width)) rows)
    let a, e = values p, expected
    let idx = [| 0 .. a.Length - 1 |] |> Array.filter keep
    close name (idx |> Array.map (fun i -> a.[i])) (idx |> Array.map (fun i -> e.[i]))

let private cbpCase (file: string) (utility: CbpUtility) =
    test (sprintf "cbp matches the authors' GnT (%s): replaced units, utilities, ages and weights over 8 steps" file) {
        let fx = load file
        use m = ModelFactory.Create(ModelSpec.Mlp(5, 5), struct (1L, 1L, 4L), 3, 1L)
        setAll m (fx.GetProperty "params")
        use opt = (OptimizerSpec.Sgd(fx.GetProperty("lr").GetDouble())).Create(m.parameters())
        let cbp = ContinualBackprop(1L, replacementRate = 0.3, decayRate = 0.9, maturityThreshold = 1, utility = utility)
        let mutable replacedAny = 0
        for (k, s) in fx.GetProperty("steps").EnumerateArray() |> Seq.indexed do
            use x = torch.tensor(floats (s.GetProperty "x")).reshape(6L, 1L, 1L, 4L)
            use y = torch.tensor(ints (s.GetProperty "y"))
            opt.zero_grad()
            let logits, fs = withFeatures m x
            use loss = torch.nn.functional.cross_entropy(logits, y)
            loss.backward()
            opt.step() |> ignore
            cbp.Step(m, opt, fs |> List.map (fun f -> f.detach()) |> Array.ofList)
            let expected = [ for r in s.GetProperty("replaced").EnumerateArray() -> ints r |> Array.sort ]
            let actual = [ for r in cbp.LastReplaced -> Array.sort r ]
            Expect.equal actual expected (sprintf "step %d: replaced units" (k + 1))
            replacedAny <- replacedAny + (actual |> List.sumBy Array.length)
            for l in 0 .. 1 do
                let at what (arr: torch.Tensor[]) key = close (sprintf "step %d layer %d %s" (k + 1) l what) (values arr.[l]) (floats (s.GetProperty(key: string).[l]))
                at "utility" cbp.RunningUtility "util"
                at "bias-corrected utility" cbp.BiasCorrectedUtility "bias_corrected_util"
                at "mean activation" cbp.MeanActivation "mean_feature_act"
                at "ages" cbp.Ages "ages"
            let after = s.GetProperty "params_after"
            for l in 0 .. 1 do
                let n = names.[l]
                let rows = cbp.LastReplaced.[l]
                closeExceptRows m (n + ".weight") (floats (after.GetProperty(n + ".weight"))) rows
                let bound = float32 (sqrt (6.0 / float (param m (n + ".weight")).shape.[1]))
                Expect.isTrue (values (param m (n + ".weight")) |> Array.forall (fun v -> abs v <= max bound 10.0f)) "bounded"
            for n in names do close (n + ".bias") (values (param m (n + ".bias"))) (floats (after.GetProperty(n + ".bias")))
            close "head.weight" (values (param m "head.weight")) (floats (after.GetProperty "head.weight"))
            // Re-drawn rows come from each framework's own generator: continue from the reference's.
            setAll m after
        Expect.isGreaterThan replacedAny 4 "the run replaced units"
    }

[<Tests>]
let tests =
    testList "plasticity.conformance" [
        cbpCase "cbp-contribution.json" CbpUtility.Contribution
        cbpCase "cbp-adaptable-contribution.json" CbpUtility.AdaptableContribution
        test "redo matches the PyTorch re-implementation of dopamine's recycler: scores, dormant units, weights, Adam moments" {
            let fx = load "redo-step.json"
            use m = ModelFactory.Create(ModelSpec.Mlp(6, 5), struct (1L, 1L, 4L), 3, 1L)
            setAll m (fx.GetProperty "params_before")
            use opt = (OptimizerSpec.Adam(fx.GetProperty("lr").GetDouble())).Create(m.parameters())
            use x = torch.tensor(floats (fx.GetProperty "x")).reshape(16L, 1L, 1L, 4L)
            use y = torch.tensor(ints (fx.GetProperty "y"))
            opt.zero_grad()
            use loss = torch.nn.functional.cross_entropy(m.forward x, y)
            loss.backward()
            opt.step() |> ignore
            let afterStep = fx.GetProperty "params_after_step"
            for n in names do
                close (n + ".weight after the Adam step") (values (param m (n + ".weight"))) (floats (afterStep.GetProperty(n + ".weight")))
            let fs = (use _ = torch.no_grad() in snd (withFeatures m x))
            for l in 0 .. 1 do
                close (sprintf "layer %d scores" l) (values (ReDo.Scores fs.[l])) (floats (fx.GetProperty("scores").[l]))
            let redo = ReDo(1L, tau = fx.GetProperty("tau").GetDouble(), period = 1L)
            redo.Recycle(m, opt, x)
            let dormant = [ for d in fx.GetProperty("dormant").EnumerateArray() -> ints d ]
            Expect.equal (List.ofArray redo.LastRecycled) dormant "dormant units"
            let after = fx.GetProperty "params_after"
            for l in 0 .. 1 do
                closeExceptRows m (names.[l] + ".weight") (floats (after.GetProperty(names.[l] + ".weight"))) redo.LastRecycled.[l]
            for n in names do close (n + ".bias") (values (param m (n + ".bias"))) (floats (after.GetProperty(n + ".bias")))
            close "head.weight" (values (param m "head.weight")) (floats (after.GetProperty "head.weight"))
            let moments = fx.GetProperty "moments_after"
            for n in names do
                for kind in [ "weight"; "bias" ] do
                    let st = adamState m opt (n + "." + kind)
                    let e = moments.GetProperty(n + "." + kind)
                    close (n + "." + kind + " exp_avg") (values st.exp_avg) (floats (e.GetProperty "exp_avg"))
                    close (n + "." + kind + " exp_avg_sq") (values st.exp_avg_sq) (floats (e.GetProperty "exp_avg_sq"))
        }
    ]
