module WarmStart.Tests.Dsl.BuilderTests

open Expecto
open WarmStart

let private valid () =
    study "ok" {
        data fashion_mnist
        model (mlp [ 10 ])
        arm "fresh" fresh
        arm "warm" warm
    }

/// Builds a study with one mistake and returns the problems reported.
let private problemsOf (build: unit -> Study) =
    try
        build () |> ignore
        failtest "expected the study to be rejected"
        []
    with StudyValidationError(_, ps) -> ps

let private rejects name (fragment: string) (build: unit -> Study) =
    test name {
        let ps = problemsOf build
        Expect.isNonEmpty ps "rejected"
        Expect.exists ps (fun p -> p.Contains fragment) (sprintf "a problem mentions %s; got %A" fragment ps)
    }

[<Tests>]
let tests =
    testList "dsl.builder" [
        test "defaults follow the paper's half-then-all protocol" {
            let s = valid ()
            Expect.equal s.Schedule (Fractions [ 0.5; 1.0 ]) "half then all"
            Expect.equal s.Optimizer (adam 1e-3) "adam 1e-3"
            Expect.equal s.BatchSize 128 "batch 128"
            Expect.equal s.Stop.TrainAccuracy (System.Nullable 0.99) "99 % train accuracy"
            Expect.equal s.Seeds 5 "five seeds"
            Expect.equal (s.Arms |> List.map (fun a -> a.Name)) [ "fresh"; "warm" ] "arms in order"
        }
        test "operations set what they say" {
            let s =
                study "all-ops" {
                    data mnist
                    augment
                    half_normalization
                    evaluate_on (held_out (2.0 / 3.0))
                    model (mlp [ 50; 20 ] |> with_activation Activation.Tanh |> without_bias)
                    optimizer (sgd 0.01 |> with_momentum 0.9 |> with_weight_decay 5e-4)
                    batch_size 64
                    train_until (train_accuracy 0.95) (max_epochs 30)
                    seeds 3
                    seed 7L
                    subset 5000
                    schedule (fractions [ 0.25; 0.5; 1.0 ])
                    arm "fresh" fresh
                    arm "sp" (shrink_perturb 0.4 0.1 |> with_fresh_init_noise |> with_lr 0.1 |> with_batch_size 32 |> keep_optimizer_state)
                    stage_lr 2 0.05
                    stage_batch_size 3 256
                    quick_subset 500
                    quick_max_epochs 2
                    quick_seeds 1
                    threads 1
                }
            Expect.equal s.Data { Name = "mnist"; Augment = true; HalfNormalization = true; Eval = HeldOut(2.0 / 3.0) } "data"
            Expect.equal s.Model { Kind = ModelKind.Mlp; Widths = [ 50; 20 ]; Activation = Activation.Tanh; Bias = false; BaseWidth = 64; LayerNorm = false } "model"
            Expect.equal s.Optimizer { Kind = OptimizerKind.Sgd; Lr = 0.01; Momentum = 0.9; WeightDecay = 5e-4 } "optimizer"
            Expect.equal s.Stop (WarmStart.Core.Training.StopRule.UntilTrainAccuracy(0.95, 30)) "stop"
            Expect.equal (s.Seeds, s.Seed, s.Subset, s.BatchSize, s.Threads) (3, 7L, Some 5000, 64, 1) "numbers"
            let sp = s.Arms[1]
            Expect.equal sp.Policy (ShrinkPerturb(0.4, 0.1, FreshInit)) "fresh-init noise"
            Expect.equal (sp.Lr, sp.BatchSize, sp.KeepOptimizerState) (Some 0.1, Some 32, true) "arm overrides"
            Expect.equal s.StageOverrides.Length 2 "stage overrides"
            Expect.equal (s.Quick.Subset, s.Quick.MaxEpochs, s.Quick.Seeds) (500, 2, 1) "quick"
        }
        test "epochs sets a fixed count" {
            let s = study "e" { epochs 4; arm "fresh" fresh }
            Expect.equal s.Stop.FixedEpochs (System.Nullable 4) "fixed"
        }
        test "optimiser is the British spelling of optimizer" {
            let a = study "o" { optimiser (sgd 0.1 |> with_momentum 0.9); arm "fresh" fresh }
            let b = study "o" { optimizer (sgd 0.1 |> with_momentum 0.9); arm "fresh" fresh }
            Expect.equal a b "same study"
        }
        test "typed and named sweeps give the same study" {
            let typed = study "s" { sweep Knob.Lr [ 1e-3; 1e-2 ]; sweep Knob.BatchSize [ 32.0; 64.0 ]; arm "fresh" fresh }
            let named = study "s" { sweep "lr" [ 1e-3; 1e-2 ]; sweep "batch_size" [ 32.0; 64.0 ]; arm "fresh" fresh }
            Expect.equal typed named "same study"
            Expect.equal typed.Sweeps [ Knob.Lr, [ 1e-3; 1e-2 ]; Knob.BatchSize, [ 32.0; 64.0 ] ] "typed knobs"
        }
        test "one text form per concept: the DSL's describe is the core's ToString" {
            let cnn = { small_cnn with Widths = [] }
            Expect.equal (Describe.model cnn) "small_cnn[32,64]" "small_cnn as the core writes it"
            Expect.equal (Describe.model (mlp [ 100; 100 ])) "mlp[100,100] relu" "mlp"
            Expect.equal (Describe.stop (valid ()).Stop) "train acc ≥ 0.99 (max 200 epochs)" "stop rule"
            Expect.equal (Describe.optimizer (sgd 0.01 |> with_momentum 0.9)) "sgd lr=0.01 momentum=0.9" "optimiser"
        }
        test "shrink and perturb are shrink_perturb special cases" {
            Expect.equal (shrink 0.5).Policy (ShrinkPerturb(0.5, 0.0, Gaussian)) "shrink"
            Expect.equal (perturb 0.01).Policy (ShrinkPerturb(1.0, 0.01, Gaussian)) "perturb"
        }
        test "all problems are reported together, naming the study" {
            let e =
                try
                    study "many" { seeds 0; batch_size 0; arm "w" (shrink 2.0) } |> ignore
                    None
                with StudyValidationError(name, ps) as e -> Some(name, ps, e.Message)
            let name, ps, msg = e.Value
            Expect.equal name "many" "study name"
            Expect.isGreaterThanOrEqual ps.Length 3 "three problems at once"
            Expect.stringContains msg "study 'many'" "message names the study"
        }
        // ≥ 15 distinct impossible specs, each rejected with the field named.
        rejects "fractions not increasing" "increase strictly" (fun () -> study "x" { schedule (fractions [ 0.5; 0.5 ]); arm "w" warm })
        rejects "fraction above 1" "(0, 1]" (fun () -> study "x" { schedule (fractions [ 0.5; 1.5 ]); arm "w" warm })
        rejects "fraction zero" "(0, 1]" (fun () -> study "x" { schedule (fractions [ 0.0; 1.0 ]); arm "w" warm })
        rejects "empty schedule" "at least one fraction" (fun () -> study "x" { schedule (fractions []); arm "f" fresh })
        rejects "lambda above 1" "lambda' = 1.5" (fun () -> study "x" { arm "sp" (shrink_perturb 1.5 0.01) })
        rejects "lambda negative" "lambda' = -0.1" (fun () -> study "x" { arm "sp" (shrink -0.1) })
        rejects "sigma negative" "sigma' = -0.01" (fun () -> study "x" { arm "sp" (perturb -0.01) })
        rejects "learning rate zero" "optimizer.lr' = 0" (fun () -> study "x" { optimizer (adam 0.0); arm "f" fresh })
        rejects "learning rate NaN" "optimizer.lr' = NaN" (fun () -> study "x" { optimizer (sgd nan); arm "f" fresh })
        rejects "momentum 1" "momentum" (fun () -> study "x" { optimizer (sgd 0.1 |> with_momentum 1.0); arm "f" fresh })
        rejects "negative weight decay" "weight_decay" (fun () -> study "x" { optimizer (adam 1e-3 |> with_weight_decay -1.0); arm "f" fresh })
        rejects "zero seeds" "field 'seeds' = 0" (fun () -> study "x" { seeds 0; arm "f" fresh })
        rejects "duplicate arm names" "must be unique" (fun () -> study "x" { arm "a" warm; arm "a" fresh })
        rejects "no arms" "at least one arm" (fun () -> study "x" { seeds 1 })
        rejects "unknown dataset" "unknown dataset" (fun () -> study "x" { data (dataset "imagenet-22k"); arm "f" fresh })
        rejects "unknown sweep knob by name" "unknown knob; allowed: lr, batch_size" (fun () -> study "x" { sweep "learning_rate" [ 0.1 ]; arm "f" fresh })
        rejects "mlp without widths" "at least one hidden width" (fun () -> study "x" { model (mlp []); arm "f" fresh })
        rejects "batch size zero" "field 'batch_size' = 0" (fun () -> study "x" { batch_size 0; arm "f" fresh })
        rejects "train accuracy above 1" "train_accuracy" (fun () -> study "x" { train_until (train_accuracy 1.2) (max_epochs 5); arm "f" fresh })
        rejects "max epochs zero" "max_epochs" (fun () -> study "x" { train_until (train_accuracy 0.9) (max_epochs 0); arm "f" fresh })
        rejects "zero epochs" "field 'epochs' = 0" (fun () -> study "x" { epochs 0; arm "f" fresh })
        rejects "warm arm with a single stage" "at least 2 stages" (fun () -> study "x" { schedule (fractions [ 1.0 ]); arm "w" warm })
        rejects "stage override at stage 1" "field 'stage' = 1" (fun () -> study "x" { stage_lr 1 0.1; arm "f" fresh })
        rejects "stage override beyond the schedule" "field 'stage' = 5" (fun () -> study "x" { stage_batch_size 5 64; arm "f" fresh })
        rejects "arm lr negative" "arm \"w\".lr" (fun () -> study "x" { arm "w" (warm |> with_lr -1.0) })
        rejects "pool of one" "field 'subset' = 1" (fun () -> study "x" { subset 1; arm "f" fresh })
        rejects "held-out fraction 1" "held_out" (fun () -> study "x" { evaluate_on (held_out 1.0); arm "f" fresh })
        rejects "study name with a space" "field 'name'" (fun () -> study "two words" { arm "f" fresh })
        rejects "arm name with a slash" "arm names must be" (fun () -> study "x" { arm "a/b" fresh })
        rejects "negative threads" "field 'threads'" (fun () -> study "x" { threads -1; arm "f" fresh })
        rejects "quick seeds zero" "quick_seeds" (fun () -> study "x" { quick_seeds 0; arm "f" fresh })
    ]
