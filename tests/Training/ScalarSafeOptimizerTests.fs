/// The toolkit's optimisers (TorchSharp's Adam and SGD with a step that holds its Scalars) against TorchSharp's own:
/// the same parameters and the same saved optimiser state, bit for bit, after hundreds of real training steps.
module WarmStart.Tests.Training.ScalarSafeOptimizerTests

open System.IO
open Expecto
open TorchSharp
open WarmStart.Core.Data
open WarmStart.Core.Models
open WarmStart.Core.Runs
open WarmStart.Core.Training
open WarmStart.Tests.Fixtures

/// The optimiser's whole saved state (options, step counts, moments, momentum buffers) as bytes.
let private stateBytes (o: torch.optim.Optimizer) =
    use ms = new MemoryStream()
    (use w = new BinaryWriter(ms, System.Text.Encoding.UTF8, true)
     (o :?> Modules.OptimizerHelper).save_state_dict w)
    ms.ToArray()

/// Loads a state saved by `stateBytes` into `o` (TorchSharp checks the optimiser's class name, then the shapes).
let private loadState (o: torch.optim.Optimizer) (bytes: byte[]) =
    use r = new BinaryReader(new MemoryStream(bytes))
    (o :?> Modules.OptimizerHelper).load_state_dict r

/// Trains an MLP 784-100-100-10 from a fixed init for `steps` steps on real Fashion-MNIST batches of 128 (a seeded
/// order) with the optimiser `make` builds; at step `lrChangeAt` the learning rate of every group is halved, as
/// a stage's own lr or a schedule would. Returns the model and the optimiser.
let private train (make: seq<Modules.Parameter> -> torch.optim.Optimizer) (steps: int) (lrChangeAt: int) =
    let s = fashionMnist.Force()
    let model = ModelFactory.Create(ModelSpec.Mlp(100, 100), s.Train.Shape, 10, Seeds.Derive(7L, "init"))
    let opt = make (model.parameters())
    use order = Subsets.Permutation(s.Train.Count, Seeds.Derive(7L, "order"))
    model.train()
    for step in 0 .. steps - 1 do
        use scope = torch.NewDisposeScope()
        if step = lrChangeAt then
            for g in opt.ParamGroups do g.LearningRate <- g.LearningRate / 2.0
        let first = int64 step * 128L % (s.Train.Count - 128L)
        let struct (x, y) = s.Train.Batch(order.narrow(0, first, 128L))
        opt.zero_grad()
        let loss = torch.nn.functional.cross_entropy(model.forward x, y)
        loss.backward()
        opt.step() |> ignore
    model, opt

let private identical name (reference: seq<Modules.Parameter> -> torch.optim.Optimizer) (safe: seq<Modules.Parameter> -> torch.optim.Optimizer) =
    test name {
        let m1, o1 = train reference 300 150
        let m2, o2 = train safe 300 150
        use _ = m1
        use _ = m2
        use _ = o1
        use _ = o2
        Expect.notEqual (o1.GetType()) (o2.GetType()) "two different optimiser classes are compared"
        Expect.equal (o2.GetType().Name) (o1.GetType().Name) "TorchSharp's class name (saved into, and checked by, state files)"
        let changed = Seq.zip (m1.parameters()) (ModelFactory.Create(ModelSpec.Mlp(100, 100), (1L, 28L, 28L), 10, Seeds.Derive(7L, "init")).parameters())
                      |> Seq.exists (fun (p, p0) -> not (same p p0))
        Expect.isTrue changed "training moved the parameters"
        for (n, p1), (_, p2) in Seq.zip (m1.named_parameters()) (m2.named_parameters()) do
            Expect.isTrue (same p1 p2) (sprintf "parameter %s bit-identical after 300 steps" n)
        let b1, b2 = stateBytes o1, stateBytes o2
        // Compared here rather than by Expect.sequenceEqual, whose failure message would list every byte.
        let firstDiff = Seq.zip b1 b2 |> Seq.tryFindIndex (fun (a, b) -> a <> b)
        Expect.equal (b2.Length, firstDiff) (b1.Length, None) "saved optimiser state byte-identical (length, first differing byte)"
    }

[<Tests>]
let tests =
    testList "training.scalar-safe-optimizers" [
        test "the toolkit's optimisers are the Scalar-safe subclasses of TorchSharp's" {
            let s = fashionMnist.Force()
            use m = ModelFactory.Create(ModelSpec.Mlp(8), s.Train.Shape, 10, 1L)
            use a = (OptimizerSpec.Adam 1e-3).Create(m.parameters())
            use g = (OptimizerSpec.Sgd(0.1, 0.9)).Create(m.parameters())
            Expect.isTrue (a :? ScalarSafe.Adam && a :? Modules.Adam) "adam"
            Expect.isTrue (g :? ScalarSafe.SGD && g :? Modules.SGD) "sgd"
        }
        test "a state saved by TorchSharp's Adam or SGD loads into the toolkit's, and back (stored states stay valid)" {
            for spec in [ OptimizerSpec.Adam(1e-3, 1e-4); OptimizerSpec.Sgd(0.05, 0.9) ] do
                let reference (ps: seq<Modules.Parameter>) : torch.optim.Optimizer =
                    if spec.Kind = "adam" then torch.optim.Adam(ps, spec.Lr, weight_decay = spec.WeightDecay)
                    else torch.optim.SGD(ps, spec.Lr, momentum = spec.Momentum)
                let m, trained = train reference 20 -1
                use _ = m
                use _ = trained
                let saved = stateBytes trained
                use fresh = spec.Create(m.parameters())
                loadState fresh saved
                Expect.isTrue (stateBytes fresh = saved) (sprintf "%s: TorchSharp's state into the toolkit's" spec.Kind)
                use back = reference (m.parameters())
                loadState back (stateBytes fresh)
                Expect.isTrue (stateBytes back = saved) (sprintf "%s: and back" spec.Kind)
        }
        // Every configuration OptimizerSpec offers, against TorchSharp's optimiser with the same arguments.
        for name, spec in
            [ "adam", OptimizerSpec.Adam 1e-3
              "adam with weight decay", OptimizerSpec.Adam(1e-3, 5e-4)
              "sgd", OptimizerSpec.Sgd 0.05
              "sgd with momentum", OptimizerSpec.Sgd(0.05, 0.9)
              "sgd with momentum and weight decay", OptimizerSpec.Sgd(0.05, 0.9, 5e-4)
              "sgd with weight decay", OptimizerSpec.Sgd(0.05, 0.0, 5e-4) ] do
            let reference (ps: seq<Modules.Parameter>) : torch.optim.Optimizer =
                if spec.Kind = "adam" then torch.optim.Adam(ps, spec.Lr, spec.Beta1, spec.Beta2, weight_decay = spec.WeightDecay)
                else torch.optim.SGD(ps, spec.Lr, momentum = spec.Momentum, weight_decay = spec.WeightDecay)
            identical (sprintf "%s: bit-identical to TorchSharp's step after 300 Fashion-MNIST steps" name) reference spec.Create
        // Options OptimizerSpec does not offer, but which the override implements as TorchSharp does.
        identical "adam, amsgrad and other betas: bit-identical to TorchSharp's step"
            (fun ps -> torch.optim.Adam(ps, 2e-3, 0.8, 0.99, 1e-6, 1e-4, amsgrad = true))
            (fun ps -> new ScalarSafe.Adam(ps, 2e-3, 0.8, 0.99, 1e-6, 1e-4, amsgrad = true))
        identical "sgd, nesterov: bit-identical to TorchSharp's step"
            (fun ps -> torch.optim.SGD(ps, 0.05, momentum = 0.9, weight_decay = 1e-4, nesterov = true))
            (fun ps -> new ScalarSafe.SGD(ps, 0.05, momentum = 0.9, weight_decay = 1e-4, nesterov = true))
        identical "sgd, dampening: bit-identical to TorchSharp's step"
            (fun ps -> torch.optim.SGD(ps, 0.05, momentum = 0.9, dampening = 0.5))
            (fun ps -> new ScalarSafe.SGD(ps, 0.05, momentum = 0.9, dampening = 0.5))
    ]
