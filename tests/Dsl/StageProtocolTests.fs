/// Per-stage and per-arm protocol words, as plans: lr_2 / batch_size_2 sweep knobs, stage_stop, random_draws,
/// new_chunk_only, l2_init_from_start, quick_preset, and pool sizes of class views — each with its validation.
module WarmStart.Tests.Dsl.StageProtocolTests

open Expecto
open WarmStart
open WarmStart.Core.Training

let private problems (build: unit -> Study) =
    try
        build () |> ignore
        []
    with StudyValidationError(_, ps) -> ps

let private rejected (fragment: string) (build: unit -> Study) =
    let ps = problems build
    Expect.exists ps (fun p -> p.Contains fragment) (sprintf "a problem mentions %s: %A" fragment ps)

[<Tests>]
let tests =
    testList "dsl.stageprotocol" [
        test "lr_2 and batch_size_2 sweep stage 2 only: stage 1 is one node for every value, stage 2 takes the value" {
            let s = study "l2" { seeds 1; sweep Knob.Lr2 [ 0.01; 0.1 ]; sweep Knob.BatchSize2 [ 32; 64 ]; arm "fresh" fresh; arm "warm" warm }
            let p = Plan.ofStudy s
            Expect.equal [ for v in p.Variants -> v.Name ]
                [ "lr_2=0.01,batch_size_2=32"; "lr_2=0.01,batch_size_2=64"; "lr_2=0.1,batch_size_2=32"; "lr_2=0.1,batch_size_2=64" ] "variants"
            let stage1 = [ for v in p.Variants -> (Plan.nodeIn p v.Name "warm" 0 1).Key ] |> List.distinct
            Expect.equal stage1.Length 1 "one stage-1 node for all four variants"
            let n1 = Plan.nodeIn p "lr_2=0.1,batch_size_2=32" "warm" 0 1
            Expect.equal (n1.Spec.Optimizer.Lr, n1.Spec.BatchSize) (1e-3, 128) "stage 1 keeps the study's lr and batch"
            for arm in [ "fresh"; "warm" ] do
                let n2 = Plan.nodeIn p "lr_2=0.1,batch_size_2=32" arm 0 2
                Expect.equal (n2.Spec.Optimizer.Lr, n2.Spec.BatchSize) (0.1, 32) (arm + ": stage 2 takes the swept values")
            Expect.equal (Knob.TryParse "lr_2") (Some Knob.Lr2) "by name"
            Expect.equal (Knob.TryParse "batch_size_2") (Some Knob.BatchSize2) "by name"
            // An arm's own with_lr still wins over the stage value.
            let a = study "l2a" { seeds 1; sweep Knob.Lr2 [ 0.1 ]; arm "w" (warm |> with_lr 0.5) }
            Expect.equal (Plan.nodeIn (Plan.ofStudy a) "lr_2=0.1" "w" 0 2).Spec.Optimizer.Lr 0.5 "arm override first"
        }
        test "lr_2 and batch_size_2 values and stage counts are validated" {
            rejected "field 'sweep \"lr_2\"' = [0]: learning rates must be > 0" (fun () -> study "x" { sweep Knob.Lr2 [ 0.0 ]; arm "w" warm })
            rejected "field 'sweep \"batch_size_2\"' = [1.5]: batch sizes must be whole numbers ≥ 1" (fun () -> study "x" { sweep Knob.BatchSize2 [ 1.5 ]; arm "w" warm })
            rejected "lr_2 applies from stage 2; the schedule has 1 stage" (fun () -> study "x" { schedule (fractions [ 1.0 ]); sweep Knob.Lr2 [ 0.1 ]; arm "f" fresh })
        }
        test "stage_stop: stage 2 on its own stop rule, stage 1 on the study's; --quick caps both; keys move only where set" {
            let plain = study "ss" { seeds 1; train_until (train_accuracy 0.99) (max_epochs 50); arm "fresh" fresh; arm "warm" warm }
            let s = study "ss" { seeds 1; train_until (train_accuracy 0.99) (max_epochs 50); stage_stop 2 (fixed_epochs 200)
                                 arm "fresh" fresh; arm "warm" warm }
            let p, p0 = Plan.ofStudy s, Plan.ofStudy plain
            Expect.equal (Plan.nodeAt p "warm" 0 1).Spec.Stop (StopRule.UntilTrainAccuracy(0.99, 50)) "stage 1: the study's rule"
            Expect.equal (Plan.nodeAt p "warm" 0 2).Spec.Stop (StopRule.Epochs 200) "stage 2: fixed 200 epochs"
            Expect.equal (Plan.nodeAt p "fresh" 0 2).Spec.Stop (StopRule.Epochs 200) "every arm"
            Expect.equal (Plan.nodeAt p "warm" 0 1).Key (Plan.nodeAt p0 "warm" 0 1).Key "stage-1 key unchanged"
            Expect.notEqual (Plan.nodeAt p "warm" 0 2).Key (Plan.nodeAt p0 "warm" 0 2).Key "stage-2 key moves"
            let q = Study.quick s
            Expect.equal (Plan.nodeAt (Plan.ofStudy q) "warm" 0 2).Spec.Stop.FixedEpochs (System.Nullable 3) "--quick caps the stage rule"
            let until = study "su" { stage_stop 2 (stop_when (train_accuracy 0.999) (max_epochs 500)); arm "w" warm }
            Expect.equal (Plan.nodeAt (Plan.ofStudy until) "w" 0 2).Spec.Stop (StopRule.UntilTrainAccuracy(0.999, 500)) "stop_when"
        }
        test "stage_stop is validated like the study's stop rule and its stage like the other stage overrides" {
            rejected "field 'stage 2.stop' = fixed_epochs 0: must be ≥ 1" (fun () -> study "x" { stage_stop 2 (fixed_epochs 0); arm "w" warm })
            rejected "field 'stage 2.stop.train_accuracy' = 1.5: allowed: 0 < threshold ≤ 1"
                (fun () -> study "x" { stage_stop 2 (stop_when (train_accuracy 1.5) (max_epochs 5)); arm "w" warm })
            rejected "field 'stage' = 3: overrides apply from stage 2 to 2" (fun () -> study "x" { stage_stop 3 (fixed_epochs 5); arm "w" warm })
        }
        test "random_draws: n distinct stage-2 draws per stage-1 combination, seeded, the same for every seed" {
            let mk (studySeed: int64) =
                study "rd" { seeds 2; seed studySeed; sweep Knob.Lr [ 0.001; 0.1 ]
                             random_draws 3 [ Knob.Lr2, [ 0.001; 0.01; 0.1 ]; Knob.BatchSize2, [ 16.0; 32.0; 64.0; 128.0 ] ]
                             arm "fresh" fresh; arm "warm" warm }
            let p = Plan.ofStudy (mk 0L)
            Expect.equal p.Variants.Length 6 "2 stage-1 values × 3 draws"
            for lr in [ 0.001; 0.1 ] do
                let draws = p.Variants |> List.filter (fun v -> List.contains (Knob.Lr, lr) v.Knobs)
                Expect.equal draws.Length 3 "three draws"
                Expect.equal (draws |> List.map (fun v -> v.Knobs) |> List.distinct).Length 3 "distinct draws"
                for v in draws do
                    let lr2 = v.Knobs |> List.find (fst >> (=) Knob.Lr2) |> snd
                    let b2 = v.Knobs |> List.find (fst >> (=) Knob.BatchSize2) |> snd
                    for seedIndex in 0 .. 1 do
                        let n2 = Plan.nodeIn p v.Name "warm" seedIndex 2
                        Expect.equal (n2.Spec.Optimizer.Lr, float n2.Spec.BatchSize) (lr2, b2) "stage 2 runs the draw, for every seed"
                        Expect.equal (Plan.nodeIn p v.Name "warm" seedIndex 1).Spec.Optimizer.Lr lr "stage 1 runs the sweep value"
            Expect.equal [ for v in (Plan.ofStudy (mk 0L)).Variants -> v.Name ] [ for v in p.Variants -> v.Name ] "same study seed, same draws"
            Expect.notEqual [ for v in (Plan.ofStudy (mk 1L)).Variants -> v.Name ] [ for v in p.Variants -> v.Name ] "another study seed draws others"
            // A fresh stage 2 does not depend on stage 1: a (lr_2, batch_size_2) drawn by several variants is one node per seed.
            let freshStage2 = [ for v in p.Variants -> (Plan.nodeIn p v.Name "fresh" 0 2).Key ] |> List.distinct
            let distinctDraws = [ for v in p.Variants -> v.Knobs |> List.filter (fun (k, _) -> k <> Knob.Lr) ] |> List.distinct
            Expect.equal freshStage2.Length distinctDraws.Length "one fresh node per distinct draw"
        }
        test "random_draws is validated: enough cells, a knob swept or drawn, not both" {
            rejected "field 'random_draws' = random_draws 5 [lr_2]: draws are distinct combinations and the knobs' values make only 2"
                (fun () -> study "x" { random_draws 5 [ Knob.Lr2, [ 0.1; 0.01 ] ]; arm "w" warm })
            rejected "a knob is either swept or drawn, not both" (fun () -> study "x" { sweep Knob.Lr2 [ 0.1 ]; random_draws 1 [ Knob.Lr2, [ 0.1 ] ]; arm "w" warm })
            rejected "draw at least 1" (fun () -> study "x" { random_draws 0 [ Knob.Lr2, [ 0.1 ] ]; arm "w" warm })
            rejected "field 'random_draws \"lr_2\"' = [-1]: learning rates must be > 0" (fun () -> study "x" { random_draws 1 [ Knob.Lr2, [ -1.0 ] ]; arm "w" warm })
        }
        test "new_chunk_only: that arm's rounds train on the new chunk, the others on everything seen, stage 1 shared" {
            let s = study "nc" { seeds 1; subset 1000; schedule (online (chunk 250)); arm "fresh" fresh; arm "warm" warm
                                 arm "warm-new" (warm |> new_chunk_only) }
            let p = Plan.ofStudy s
            Expect.equal (Plan.nodeAt p "warm-new" 0 1).Key (Plan.nodeAt p "warm" 0 1).Key "stage 1 shared"
            for t in 2 .. 4 do
                Expect.equal (Plan.nodeAt p "warm-new" 0 t).Spec.Subset (PoolSlice((t - 1) * 250, 250)) "the new chunk"
                Expect.equal (Plan.nodeAt p "warm" 0 t).Spec.Subset (PoolCount(t * 250)) "everything seen"
                Expect.equal (Plan.nodeAt p "fresh" 0 t).Spec.Subset (PoolCount(t * 250)) "everything seen"
            rejected "field 'arm \"w\".new_chunk_only' = fractions: training on the new chunk only applies to online schedules"
                (fun () -> study "x" { arm "w" (warm |> new_chunk_only) })
        }
        test "l2_init_from_start: the arm's stage 1 anchors to its own initialisation; the other arms keep the shared node" {
            let without = study "l2s" { seeds 1; arm "fresh" fresh; arm "warm" warm }
            let s = study "l2s" { seeds 1; arm "fresh" fresh; arm "warm" warm; arm "l2" (warm |> l2_init_dash_form 1e-2 |> l2_init_from_start) }
            let p, p0 = Plan.ofStudy s, Plan.ofStudy without
            let n1 = Plan.nodeAt p "l2" 0 1
            let theta0 = match n1.Spec.Init with Root seed -> seed | other -> failtestf "stage 1 is a root, got %A" other
            Expect.equal n1.Spec.Penalties [ L2InitPenaltySpec(1e-2, true, theta0) ] "penalty toward its own init from stage 1"
            Expect.notEqual n1.Key (Plan.nodeAt p "warm" 0 1).Key "its own stage-1 node"
            Expect.equal (Plan.nodeAt p "warm" 0 1).Key (Plan.nodeAt p0 "warm" 0 1).Key "the shared node is unchanged"
            Expect.equal (Plan.nodeAt p "l2" 0 2).Spec.Penalties [ L2InitPenaltySpec(1e-2, true, theta0) ] "stage 2 anchors to the same θ₀"
            Expect.equal (Plan.nodeAt p "l2" 0 2).Spec.Parent (Some n1.Key) "stage 2 continues its own stage 1"
            let later = study "l2s" { seeds 1; arm "l2" (warm |> l2_init 1e-2) }
            Expect.isEmpty (Plan.nodeAt (Plan.ofStudy later) "l2" 0 1).Spec.Penalties "without the word: from stage 2, as before"
            rejected "field 'arm \"w\".l2_init_from_start' = no l2_init" (fun () -> study "x" { arm "w" (warm |> l2_init_from_start) })
        }
        test "quick_preset sets the shared quick variant and keeps the study's other quick words, before or after it" {
            let s = study "qp" { quick_subset 3000; quick_preset fashion_mnist_mlp; quick_optimizer (sgd 0.05); data cifar10; model (resnet18 16); arm "w" warm }
            Expect.equal s.Quick.Subset 3000 "quick_subset before the preset kept"
            Expect.equal s.Quick.Optimizer (Some(sgd 0.05)) "quick_optimizer after it"
            let q = Study.quick s
            Expect.equal (q.Data.Name, q.Model, q.Subset, q.Seeds) ("fashion-mnist", mlp [ 100; 100 ], Some 3000, 2) "the quick variant"
        }
        test "class views of a balanced dataset have a known pool: subset and chunks are checked against it" {
            let two = fashion_mnist |> classes [ 0; 1 ]
            rejected "field 'subset' = 20000: dataset 'fashion-mnist[classes=0,1]' has 12000 training examples; allowed: 2 to 12000"
                (fun () -> study "x" { data two; subset 20000; schedule (online (chunk 1000)); arm "w" warm })
            let ok = study "x" { data two; schedule (online (chunk 3000)); arm "w" warm }
            Expect.equal (Plan.stageCount ok) 4 "12,000 examples in chunks of 3,000"
            rejected "field 'schedule.transfer.classes' = [3; 12]: classes of fashion-mnist are 0 to 9"
                (fun () -> study "x" { schedule (transfer (fashion_mnist |> classes [ 0; 1 ]) (fashion_mnist |> classes [ 3; 12 ]) [ 1.0 ]); arm "w" warm })
        }
    ]
