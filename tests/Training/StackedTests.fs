module WarmStart.Tests.Training.StackedTests

open Expecto
open TorchSharp
open WarmStart.Core.Data
open WarmStart.Core.Models
open WarmStart.Core.Runs
open WarmStart.Core.Training
open WarmStart.Core.Training.Stacked
open WarmStart.Tests.Fixtures

/// One member's inputs, as the single trainer would get them for seed `seed`: its own pool (a prefix of a seeded
/// permutation of the training split), its own initialisation and data order.
type private Job = { Spec: ModelSpec; Seed: int64; Pool: int64; Stop: StopRule }

let private build (j: Job) =
    let s = fashionMnist.Force()
    use perm = Subsets.Permutation(s.Train.Count, Seeds.Derive(j.Seed, "pool"))
    let idx = Subsets.Prefix(perm, j.Pool)
    let m = ModelFactory.Create(j.Spec, s.Train.Shape, 10, Seeds.Derive(j.Seed, "init"))
    m, idx

let private single (opt: OptimizerSpec) (j: Job) =
    let m, idx = build j
    use _ = idx
    let struct (r, o) = Trainer.Fit(m, fashionMnist.Force().Train, idx, TrainOptions(OptimizerSpec = opt, BatchSize = 64, Stop = j.Stop, OrderSeed = Seeds.Derive(j.Seed, "order")))
    o.Dispose()
    m, r

/// Trains `members` as one stack: each its job, its own learning rate (None: the stack's) and L2-init penalty
/// (None: none). Returns each member's final network and result, in order.
let private stackedWith (opt: OptimizerSpec) (members: (Job * float option * StackedL2Init option) list) =
    let built = members |> List.map (fun (j, _, _) -> build j)
    let ms =
        List.zip members built
        |> List.map (fun ((j, lr, l2), (m, idx)) ->
            StackedMember(m, idx, Seeds.Derive(j.Seed, "order"), j.Stop, Lr = Option.toNullable lr, L2Init = Option.toObj l2))
        |> Array.ofList
    let results = StackedTrainer.Fit(ms, fashionMnist.Force().Train, StackedOptions(OptimizerSpec = opt, BatchSize = 64))
    for (_, idx) in built do idx.Dispose()
    List.zip (built |> List.map fst) (List.ofSeq results)

let private stacked (opt: OptimizerSpec) (jobs: Job list) = stackedWith opt [ for j in jobs -> j, None, None ]

/// Like `stacked`, with each member's own learning rate (None: the stack's).
let private stackedWithLrs (opt: OptimizerSpec) (jobs: (Job * float option) list) =
    stackedWith opt [ for j, lr in jobs -> j, lr, None ]

let private curve (r: TrainResult) = [ for e in r.Curve -> e.Epoch, e.Loss, e.TrainAccuracy ]

let private sameWeights (a: Network) (b: Network) =
    Seq.forall2 (fun (p: Modules.Parameter) (q: Modules.Parameter) -> same p q) (a.parameters()) (b.parameters())

let private maxDiff (a: Network) (b: Network) =
    Seq.map2 (fun (p: Modules.Parameter) (q: Modules.Parameter) -> (p - q).abs().max().item<float32>() |> float) (a.parameters()) (b.parameters())
    |> Seq.max

/// The target member trained alone, in a stack of 3 (at position 1) and of 8 (at position 5), beside companions
/// with other seeds and stop rules (some stop earlier, some later, so the stack shrinks around the target).
let private invariance (spec: ModelSpec) (opt: OptimizerSpec) pool =
    let target = { Spec = spec; Seed = 11L; Pool = pool; Stop = StopRule.Epochs 3 }
    let companion k epochs = { target with Seed = 100L + int64 k; Stop = StopRule.Epochs epochs }
    let alone = stacked opt [ target ]
    let three = stacked opt [ companion 1 1; target; companion 2 4 ]
    let eight = stacked opt [ companion 1 2; companion 2 1; companion 3 4; companion 4 3; companion 5 1; target; companion 6 5; companion 7 2 ]
    let m1, r1 = alone[0]
    let m3, r3 = three[1]
    let m8, r8 = eight[5]
    Expect.equal r1.Epochs 3 "three epochs"
    Expect.equal (curve r3) (curve r1) "curve in a stack of 3 = alone"
    Expect.equal (curve r8) (curve r1) "curve in a stack of 8 = alone"
    Expect.isTrue (sameWeights m3 m1) "weights in a stack of 3 = alone"
    Expect.isTrue (sameWeights m8 m1) "weights in a stack of 8 = alone"
    // Companions stopped at their own epochs.
    Expect.equal [ for _, r in eight -> r.Epochs ] [ 2; 1; 4; 3; 1; 3; 5; 2 ] "each member's epochs"
    for (m, _) in alone @ three @ eight do m.Dispose()

[<Tests>]
let tests =
    testList "training.stacked" [
        test "an MLP member is bit-identical in stacks of 1, 3 and 8 (Adam, uneven last batch)" {
            invariance (ModelSpec.Mlp(32, 16)) (OptimizerSpec.Adam 1e-3) 1000L
        }
        test "a logistic-regression member is bit-identical in stacks of 1, 3 and 8 (SGD, momentum, weight decay)" {
            invariance (ModelSpec.LogisticRegression()) (OptimizerSpec.Sgd(0.05, 0.9, 1e-4)) 700L
        }
        test "a small-CNN member is bit-identical in stacks of 1, 3 and 8 (one convolution per member)" {
            invariance (ModelSpec.SmallCnn(4, 8)) (OptimizerSpec.Adam 1e-3) 300L
        }
        test "members with their own learning rates: each is bit-identical to itself alone, and the rates matter" {
            for opt in [ OptimizerSpec.Adam 1e-3; OptimizerSpec.Sgd(0.05, 0.9, 1e-4) ] do
                let target = { Spec = ModelSpec.Mlp(32, 16); Seed = 11L; Pool = 700L; Stop = StopRule.Epochs 2 }
                let other = { target with Seed = 12L; Stop = StopRule.Epochs 3 }
                let lrT, lrO = opt.Lr * 0.5, opt.Lr * 3.0
                // Alone, with the rate given as the stack's; then in a stack whose own rate is neither member's.
                let alone = stacked (OptimizerSpec(opt.Kind, lrT, opt.Momentum, opt.WeightDecay)) [ target ]
                let otherAlone = stacked (OptimizerSpec(opt.Kind, lrO, opt.Momentum, opt.WeightDecay)) [ other ]
                let mixed = stackedWithLrs opt [ other, Some lrO; target, Some lrT; other, None ]
                let m1, r1 = alone[0]
                let mt, rt = mixed[1]
                Expect.equal (curve rt) (curve r1) (sprintf "%s: target's curve beside other rates = alone" opt.Kind)
                Expect.isTrue (sameWeights mt m1) (sprintf "%s: target's weights beside other rates = alone" opt.Kind)
                let mo, _ = otherAlone[0]
                Expect.isTrue (sameWeights (fst mixed[0]) mo) (sprintf "%s: the other member's own rate was used" opt.Kind)
                // The same seed at the stack's rate differs from it at its own rate: the rate really is per member.
                Expect.isFalse (sameWeights (fst mixed[2]) (fst mixed[0])) (sprintf "%s: rates differ, weights differ" opt.Kind)
                for (m, _) in alone @ otherAlone @ mixed do m.Dispose()
        }
        test "L2-init per member: bit-identical beside companions without it, close to the single trainer's penalty, and it pulls toward θ₀" {
            let j = { Spec = ModelSpec.Mlp(32); Seed = 21L; Pool = 600L; Stop = StopRule.Epochs 2 }
            let opt = OptimizerSpec.Adam 3e-3
            // θ₀: another draw of the architecture (as a chain's original initialisation is).
            use theta0Net = ModelFactory.Create(j.Spec, fashionMnist.Force().Train.Shape, 10, 999L)
            let theta0 = dict [ for struct (n, p) in theta0Net.named_parameters() -> n, (p :> torch.Tensor).detach().clone() ]
            let l2 lambda = Some(StackedL2Init(lambda, theta0 :?> System.Collections.Generic.IReadOnlyDictionary<string, torch.Tensor>))
            let run (members: (Job * StackedL2Init option) list) = stackedWith opt [ for jj, pen in members -> jj, None, pen ]
            let alone = run [ j, l2 0.05 ]
            let mixed = run [ { j with Seed = 22L }, None; j, l2 0.05; { j with Seed = 23L }, l2 0.5 ]
            let plain = run [ j, None ]
            Expect.isTrue (sameWeights (fst mixed[1]) (fst alone[0])) "the penalised member beside others = alone"
            Expect.equal (curve (snd mixed[1])) (curve (snd alone[0])) "same curve"
            // The single trainer with the toolkit's own penalty, from the same start.
            let ms, idx = build j
            use _ = idx
            use pen = new WarmStart.Core.Policies.L2InitPenalty(0.05, theta0 :?> System.Collections.Generic.IReadOnlyDictionary<string, torch.Tensor>)
            let struct (_, o) = Trainer.Fit(ms, fashionMnist.Force().Train, idx, TrainOptions(OptimizerSpec = opt, BatchSize = 64, Stop = j.Stop, OrderSeed = Seeds.Derive(j.Seed, "order"), Penalties = [| pen |]))
            o.Dispose()
            let d = maxDiff ms (fst alone[0])
            Expect.isLessThan d 1e-3 (sprintf "stacked L2-init agrees with the single trainer's (max |Δw| = %g)" d)
            let distance (m: Network) =
                m.named_parameters() |> Seq.sumBy (fun struct (n, p) -> ((p :> torch.Tensor) - theta0[n]).square().sum().item<float32>() |> float)
            Expect.isLessThan (distance (fst alone[0])) (distance (fst plain[0])) "the penalty pulls toward θ₀"
            ms.Dispose()
            for (m, _) in alone @ mixed @ plain do m.Dispose()
        }
        test "a stacked member agrees with the single trainer (same init, data order and optimiser)" {
            let j = { Spec = ModelSpec.Mlp(32); Seed = 5L; Pool = 2000L; Stop = StopRule.Epochs 2 }
            let opt = OptimizerSpec.Adam 1e-3
            let ms, rs = single opt j
            let mk, rk = (stacked opt [ j; { j with Seed = 6L } ])[0]
            use _ = ms
            use _ = mk
            Expect.equal rk.Epochs rs.Epochs "epochs"
            Expect.equal rk.SamplesSeen rs.SamplesSeen "samples seen"
            for a, b in Seq.zip rk.Curve rs.Curve do
                Expect.floatClose Accuracy.medium a.Loss b.Loss "epoch loss"
                Expect.isLessThanOrEqual (abs (a.TrainAccuracy - b.TrainAccuracy)) 0.005 "epoch accuracy"
            let d = maxDiff ms mk
            printfn "stacked vs single trainer, MLP 784-32-10 Adam, 2 epochs: max |Δweight| = %g (bit-identical: %b)" d (d = 0.0)
            Expect.isLessThan d 1e-3 "weights agree"
        }
        test "the train-accuracy stop rule works per member; results record epochs, curves and samples" {
            let j = { Spec = ModelSpec.Mlp(64); Seed = 3L; Pool = 500L; Stop = StopRule.UntilTrainAccuracy(0.9, 50) }
            let capped = { Spec = ModelSpec.Mlp(64); Seed = 4L; Pool = 500L; Stop = StopRule.UntilTrainAccuracy(0.999, 2) }
            let res = stacked (OptimizerSpec.Adam 1e-2) [ j; capped ]
            let _, r = res[0]
            Expect.isGreaterThanOrEqual r.TrainAccuracy 0.9 "reached"
            Expect.isTrue (r.Curve |> Seq.take (r.Epochs - 1) |> Seq.forall (fun e -> e.TrainAccuracy < 0.9)) "stopped at first epoch over"
            Expect.equal r.SamplesSeen (500L * int64 r.Epochs) "samples seen"
            Expect.equal (snd res[1]).Epochs 2 "capped"
            for m, _ in res do m.Dispose()
        }
        test "stacks refuse mixed pool sizes and models without a stacked form, naming why" {
            let a, ia = build { Spec = ModelSpec.Mlp(8); Seed = 1L; Pool = 100L; Stop = StopRule.Epochs 1 }
            let b, ib = build { Spec = ModelSpec.Mlp(8); Seed = 2L; Pool = 120L; Stop = StopRule.Epochs 1 }
            let o = StackedOptions(OptimizerSpec = OptimizerSpec.Adam 1e-3)
            let why = StackedTrainer.CannotStack([| StackedMember(a, ia, 1L, StopRule.Epochs 1); StackedMember(b, ib, 2L, StopRule.Epochs 1) |], o)
            Expect.stringContains why "pool size" "mixed pools"
            let mutable reason = ""
            Expect.isFalse (StackedNetwork.Supports(ModelSpec.ResNet18 4, &reason)) "resnet"
            Expect.stringContains reason "resnet18" "names the model"
            Expect.throwsT<System.ArgumentException> (fun () ->
                StackedTrainer.Fit([| StackedMember(a, ia, 1L, StopRule.Epochs 1); StackedMember(b, ib, 2L, StopRule.Epochs 1) |], fashionMnist.Force().Train, o) |> ignore) "Fit refuses"
            for t in [ ia; ib ] do t.Dispose()
            a.Dispose(); b.Dispose()
        }
    ]
