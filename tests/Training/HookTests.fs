module WarmStart.Tests.Training.HookTests

open System.Collections.Generic
open Expecto
open TorchSharp
open WarmStart.Core.Data
open WarmStart.Core.Models
open WarmStart.Core.Policies
open WarmStart.Core.Runs
open WarmStart.Core.Training
open WarmStart.Tests.Fixtures

/// A hook implementing every call, recording what it saw.
type private Recorder() =
    member val Starts = ResizeArray<StageStartInfo>()
    member val Before = ResizeArray<int>()
    member val Steps = ResizeArray<int * int64 * int64 * float>()   // epoch, step, batch size, loss
    member val Ends = ResizeArray<EpochRecord>()
    member val StageEnds = ResizeArray<TrainResult>()
    member val FeatureCounts = ResizeArray<int>()
    member val AskFeatures = false with get, set
    interface ITrainingHook with
        member this.NeedsFeatures = this.AskFeatures
        member this.StageStart info = this.Starts.Add info
        member this.BeforeEpoch e = this.Before.Add e
        member this.AfterStep info =
            this.Steps.Add((info.Epoch, info.Step, info.Target.shape[0], info.Loss.item<float32>() |> float))
            this.FeatureCounts.Add(if isNull info.Features then -1 else info.Features.Count)
        member this.EpochEnd info = this.Ends.Add info.Record
        member this.StageEnd info = this.StageEnds.Add info.Result

/// A two-layer network that counts which forward pass the trainer calls.
type private CountingNet() as this =
    inherit Network("counting", ModelSpec.Mlp(16))
    let hidden = torch.nn.Linear(784L, 16L)
    let head = torch.nn.Linear(16L, 10L)
    do
        this.register_module("hidden", hidden)
        this.register_module("head", head)
    member val Plain = 0 with get, set
    member val WithFeatures = 0 with get, set
    override this.forward(x) =
        this.Plain <- this.Plain + 1
        head.forward(torch.nn.functional.relu(hidden.forward(x.flatten(1L))))
    override this.ForwardWithFeatures(x, features) =
        this.WithFeatures <- this.WithFeatures + 1
        let h = torch.nn.functional.relu(hidden.forward(x.flatten(1L)))
        features.Add h
        head.forward h

let private data () = fashionMnist.Force().Train

let private subset (n: int64) =
    use pool = Subsets.Permutation(data().Count, 11L)
    Subsets.Prefix(pool, n)

let private options (epochs: int) (hooks: ITrainingHook list) =
    TrainOptions(OptimizerSpec = OptimizerSpec.Sgd 0.1, BatchSize = 64, Stop = StopRule.Epochs epochs, OrderSeed = 5L,
                 Hooks = Array.ofList hooks)

let private mlp () = ModelFactory.Create(ModelSpec.Mlp(32), data().Shape, 10, 3L)

let private parametersEqual (a: Network) (b: Network) =
    Seq.zip (a.parameters()) (b.parameters()) |> Seq.forall (fun (x, y) -> same x y)

/// The loop as it was before hooks (the penalty added to the loss explicitly): the reference a LossTerm must match.
let private referenceEpoch (model: Network) (idx: torch.Tensor) (penalty: IPenalty) =
    use opt = (OptimizerSpec.Sgd 0.1).Create(model.parameters())
    model.train()
    use batches = new EpochBatches(idx, 64, Seeds.Derive(5L, "epoch-1"))
    for b in 0 .. batches.BatchCount - 1 do
        use _scope = torch.NewDisposeScope()
        let struct (x, y) = data().AugmentedBatch(batches[b], torch.CPU, null, null)
        opt.zero_grad()
        let loss = torch.nn.functional.cross_entropy(model.forward x, y)
        let objective = loss + penalty.Compute(model)
        objective.backward()
        opt.step() |> ignore

[<Tests>]
let tests =
    testList "training.hooks" [
        test "a registered hook fires: stage start/end once, every epoch, steps = batches × epochs" {
            use idx = subset 200L   // 64 + 64 + 64 + 8: four batches per epoch
            use m = mlp ()
            let h = Recorder()
            let struct (r, opt) = Trainer.Fit(m, data (), idx, options 3 [ h ])
            use _ = opt
            Expect.equal h.Starts.Count 1 "one stage start"
            Expect.equal h.Starts[0].FirstEpoch 1 "starts at epoch 1"
            Expect.isTrue (obj.ReferenceEquals(h.Starts[0].Optimizer, opt)) "the stage's optimiser"
            Expect.equal (List.ofSeq h.Before) [ 1; 2; 3 ] "before each epoch"
            Expect.equal h.Steps.Count (4 * 3) "steps = batches × epochs"
            Expect.equal [ for (_, s, _, _) in h.Steps -> s ] [ 1L .. 12L ] "step numbers count through the stage"
            Expect.equal [ for (e, _, _, _) in h.Steps -> e ] [ 1; 1; 1; 1; 2; 2; 2; 2; 3; 3; 3; 3 ] "each step's epoch"
            Expect.equal [ for (_, _, b, _) in h.Steps -> b ] [ 64L; 64L; 64L; 8L; 64L; 64L; 64L; 8L; 64L; 64L; 64L; 8L ] "batch sizes"
            Expect.equal (List.ofSeq h.Ends) (List.ofSeq r.Curve) "epoch ends see the curve's records"
            // The step losses are what the epoch loss averages: Σ loss·batch / n per epoch.
            for e in 1 .. 3 do
                let mean = (h.Steps |> Seq.filter (fun (ep, _, _, _) -> ep = e) |> Seq.sumBy (fun (_, _, b, l) -> l * float b)) / 200.0
                Expect.floatClose Accuracy.high mean r.Curve[e - 1].Loss (sprintf "epoch %d loss from its steps" e)
            Expect.equal h.StageEnds.Count 1 "one stage end"
            Expect.equal h.StageEnds[0] r "stage end sees the result"
            Expect.equal [ for c in h.FeatureCounts -> c ] (List.replicate 12 -1) "no features unless asked"
        }
        test "a resumed stage: hooks see the first epoch after the prior curve and the step count continues" {
            use idx = subset 200L
            use m = mlp ()
            let struct (r1, opt) = Trainer.Fit(m, data (), idx, options 1 [])
            use _ = opt
            let h = Recorder()
            let o = TrainOptions(OptimizerSpec = OptimizerSpec.Sgd 0.1, BatchSize = 64, Stop = StopRule.Epochs 2, OrderSeed = 5L,
                                 Hooks = [| h |], Optimizer = opt, PriorCurve = r1.Curve)
            Trainer.Fit(m, data (), idx, o) |> ignore
            Expect.equal h.Starts[0].FirstEpoch 2 "first epoch after the prior curve"
            Expect.equal (List.ofSeq h.Before) [ 2 ] "one more epoch"
            Expect.equal [ for (_, s, _, _) in h.Steps -> s ] [ 5L .. 8L ] "steps continue after the prior epoch's four"
        }
        test "a LossTerm hook trains exactly as the penalty added to the loss by hand (bit for bit)" {
            use idx = subset 256L
            use anchor = ModelFactory.Create(ModelSpec.Mlp(32), data().Shape, 10, 99L)
            use p1 = new L2InitPenalty(0.05, anchor)
            use p2 = new L2InitPenalty(0.05, anchor)
            use p3 = new L2InitPenalty(0.05, anchor)
            use viaHook = mlp ()
            use viaPenalties = mlp ()
            use byHand = mlp ()
            let struct (_, o1) = Trainer.Fit(viaHook, data (), idx, options 1 [ p1 ])
            o1.Dispose()
            let o = TrainOptions(OptimizerSpec = OptimizerSpec.Sgd 0.1, BatchSize = 64, Stop = StopRule.Epochs 1, OrderSeed = 5L,
                                 Penalties = [| p2 :> IPenalty |])
            let struct (_, o2) = Trainer.Fit(viaPenalties, data (), idx, o)
            o2.Dispose()
            referenceEpoch byHand idx p3
            Expect.isTrue (parametersEqual viaHook byHand) "hook = penalty by hand"
            Expect.isTrue (parametersEqual viaPenalties byHand) "TrainOptions.Penalties = penalty by hand"
            use plain = mlp ()
            let struct (_, o3) = Trainer.Fit(plain, data (), idx, options 1 [])
            o3.Dispose()
            Expect.isFalse (parametersEqual plain byHand) "the penalty changed training"
        }
        test "hooks that implement nothing, or only a step hook, leave training bit for bit unchanged" {
            use idx = subset 256L
            use a = mlp ()
            use b = mlp ()
            let struct (ra, oa) = Trainer.Fit(a, data (), idx, options 2 [])
            oa.Dispose()
            let empty = { new ITrainingHook }
            let struct (rb, ob) = Trainer.Fit(b, data (), idx, options 2 [ empty; Recorder() ])
            ob.Dispose()
            Expect.isTrue (parametersEqual a b) "same parameters"
            Expect.equal [ for e in ra.Curve -> e.Loss ] [ for e in rb.Curve -> e.Loss ] "same curve"
        }
        test "which calls a hook implements is read from its type (defaults do not count)" {
            use anchor = mlp ()
            use p = new L2InitPenalty(0.1, anchor)
            let penalty = p :> ITrainingHook
            Expect.isTrue (HookSet.Implements(penalty, "LossTerm")) "a penalty's LossTerm is its Compute"
            Expect.isFalse (HookSet.Implements(penalty, "AfterStep")) "a penalty has no step call"
            let empty = { new ITrainingHook }
            for m in [ "StageStart"; "BeforeEpoch"; "LossTerm"; "AfterStep"; "EpochEnd"; "StageEnd" ] do
                Expect.isFalse (HookSet.Implements(empty, m)) (sprintf "empty hook: %s" m)
                // The recorder implements every call but LossTerm.
                Expect.equal (HookSet.Implements(Recorder(), m)) (m <> "LossTerm") (sprintf "recorder: %s" m)
            let set = HookSet([ penalty; empty; Recorder() ])
            Expect.equal set.LossTerm.Length 1 "one loss term"
            Expect.equal set.AfterStep.Length 1 "one step hook"
            Expect.isFalse set.NeedsFeatures "nobody asked for features"
        }
        test "NeedsFeatures: the trainer calls ForwardWithFeatures and hands the activations to the step hook" {
            use idx = subset 200L
            use m = new CountingNet()
            let h = Recorder(AskFeatures = true)
            let struct (_, o) = Trainer.Fit(m, data (), idx, options 2 [ h ])
            o.Dispose()
            Expect.equal m.WithFeatures 8 "every step through ForwardWithFeatures"
            Expect.equal m.Plain 0 "no plain forward"
            Expect.equal [ for c in h.FeatureCounts -> c ] (List.replicate 8 1) "one hidden layer's activations per step"
            use m2 = new CountingNet()
            let struct (_, o2) = Trainer.Fit(m2, data (), idx, options 2 [ Recorder() ])
            o2.Dispose()
            Expect.equal (m2.Plain, m2.WithFeatures) (8, 0) "plain forward when nobody asks"
        }
        test "the gradient-norm tracker runs as a hook: one record per epoch" {
            use idx = subset 200L
            use oldIdx = Subsets.Prefix(idx, 100L)
            use newIdx = Subsets.Rest(idx, 100L)
            use m = mlp ()
            let tracker = WarmStart.Core.Diagnostics.GradientNormTracker(m, data (), oldIdx, newIdx, 64, 1L)
            let struct (_, o) = Trainer.Fit(m, data (), idx, options 3 [ tracker ])
            o.Dispose()
            Expect.equal [ for r in tracker.Records -> r.Epoch ] [ 1; 2; 3 ] "before each epoch"
        }
    ]
