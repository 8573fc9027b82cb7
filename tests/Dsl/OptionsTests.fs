/// The study options union (parse, help, unknown options), the quick variant as part of the study value, the
/// reference arm of gap tables, and typed sweeps.
module WarmStart.Tests.Dsl.OptionsTests

open System
open Expecto
open WarmStart

let private parsed argv =
    match StudyOptions.parse argv with
    | RunWith o -> o
    | HelpRequested _ -> failtest "unexpected help"
    | BadOptions e -> failtestf "unexpected error: %s" e

let private badMessage argv =
    match StudyOptions.parse argv with
    | BadOptions e -> e
    | other -> failtestf "expected an error, got %A" other

/// A result with every node's test accuracy from `acc` (arm, stage, seed).
let private fabricated (s: Study) (acc: string -> int -> int -> float) =
    let p = Plan.ofStudy s
    let results =
        [ for KeyValue(c, keys) in p.Chains do
            for t, key in List.indexed keys ->
                key, { Key = key; TestAccuracy = acc c.Arm (t + 1) c.Seed; TestLoss = 0.0; TrainAccuracy = 0.99; TrainLoss = 0.01
                       Epochs = 3; Seconds = 1.0; SamplesPerSecond = 1000.0; TrainSize = 10L; Diverged = false; Curve = []
                       Diagnostics = { Correlation = []; GradientNorms = []; ShrinkAccuracy = [] }; Tasks = System.Text.Json.Serialization.Skip } ]
        |> Map.ofList
    { Plan = p; Results = results; Status = results |> Map.map (fun _ _ -> Trained); Quick = false; WallSeconds = 1.0 }

let private cifarStudy () =
    study "cifar-study" {
        data cifar10
        quick_data fashion_mnist
        half_normalization
        model (resnet18 16)
        quick_model (mlp [ 100; 100 ])
        optimizer (sgd 1e-3)
        quick_optimizer (sgd 0.05)
        seeds 5
        arm "fresh" fresh
        arm "warm" warm
    }

[<Tests>]
let tests =
    testList "dsl.options" [
        test "every study option parses from one union; the script path and '--' are skipped" {
            let o =
                parsed [| "x.fsx"; "--"; "--quick"; "--seeds"; "3"; "--out"; "o"; "--data-root"; "d"; "--threads"; "1"; "--jobs"; "2"
                          "--device"; "cuda:1"; "--checkpoint"; "5"; "--rerun"; "--plan"; "--plan-to"; "store" |]
            Expect.equal (o.Quick, o.Seeds, o.Out, o.DataRoot, o.Threads, o.Jobs) (true, Some 3, "o", Some "d", Some 1, 2) "values"
            Expect.equal (o.Device, o.CheckpointEvery, o.Rerun, o.PlanOnly, o.PlanTo) (Device.Cuda(Some 1), 5, true, true, Some "store") "flags"
            Expect.equal (parsed [||]) StudyOptions.defaults "no options: the defaults"
        }
        test "--help and -h give the usage of every option" {
            for flag in [ "--help"; "-h" ] do
                match StudyOptions.parse [| "x.fsx"; flag |] with
                | HelpRequested usage ->
                    for name in [ "--quick"; "--seeds"; "--out"; "--jobs"; "--threads"; "--device"; "--data-root"; "--checkpoint"; "--rerun"; "--plan"; "--plan-to" ] do
                        Expect.stringContains usage name (sprintf "%s lists %s" flag name)
                | other -> failtestf "%s: expected help, got %A" flag other
        }
        test "a mistyped option gets a did-you-mean; bad values name the option and what is allowed" {
            Expect.stringContains (badMessage [| "--quik" |]) "unknown option '--quik'; did you mean --quick?" "typo"
            Expect.stringContains (badMessage [| "--plan-too"; "s" |]) "did you mean --plan-to?" "typo"
            Expect.stringContains (badMessage [| "--seeds"; "0" |]) "option --seeds: 0, must be ≥ 1" "zero seeds"
            Expect.stringContains (badMessage [| "--device"; "gpu" |]) "allowed: cpu, cuda, cuda:N" "device"
            badMessage [| "--seeds"; "many" |] |> ignore
            badMessage [| "--out" |] |> ignore
            let far = badMessage [| "--frobnicate" |]
            Expect.stringContains far "unknown option '--frobnicate'" "named"
            Expect.isFalse (far.Contains "did you mean") "no suggestion when nothing is close"
        }
        test "--tensorboard DIR parses into TensorBoard, is off by default, needs its folder and is in the usage" {
            Expect.equal (parsed [| "x.fsx"; "--tensorboard"; "tb" |]).TensorBoard (Some "tb") "the folder"
            Expect.equal StudyOptions.defaults.TensorBoard None "off by default"
            badMessage [| "--tensorboard" |] |> ignore
            match StudyOptions.parse [| "--help" |] with
            | HelpRequested usage -> Expect.stringContains usage "--tensorboard" "listed in the usage"
            | other -> failtestf "expected help, got %A" other
        }
        test "from a REPL nothing exits: --plan and --help return a result without runs, a bad option raises" {
            let s = study "repl" { seeds 1; subset 200; arm "fresh" fresh; arm "warm" warm }
            let r = Study.runFromArgs [| "--plan" |] s
            Expect.isEmpty r.Results "nothing trained"
            Expect.equal r.Plan.Nodes.Length 3 "the plan"
            Expect.isEmpty (Study.runFromArgs [| "--help" |] s).Results "help"
            Expect.throwsT<ArgumentException> (fun () -> Study.runFromArgs [| "--quik" |] s |> ignore) "bad option raises"
            Expect.isEmpty (Study.runAllFromArgs [| "--plan"; "--quick" |] [ s; s ] |> List.collect (fun r -> List.ofSeq r.Results.Keys)) "runAll"
        }
    ]

[<Tests>]
let quickTests =
    testList "dsl.quick" [
        test "the quick variant is part of the study: its data, model and optimiser replace the full ones" {
            let s = cifarStudy ()
            Expect.equal s.Data.Name "cifar10" "the declared study is the full one"
            let q = Study.configure { StudyOptions.defaults with Quick = true } s
            Expect.equal q.Data { s.Data with Name = "fashion-mnist" } "quick data, declared normalisation kept"
            Expect.equal q.Model (mlp [ 100; 100 ]) "quick model"
            Expect.equal q.Optimizer (sgd 0.05) "quick optimiser"
            Expect.equal (q.Subset, q.Seeds, q.Stop.MaxEpochs) (Some 2000, 2, 3) "caps"
            let p = Plan.ofStudy q
            Expect.isTrue (p.Nodes |> List.forall (fun n -> n.Spec.Dataset = "fashion-mnist")) "every node on Fashion-MNIST"
            Expect.stringContains (Plan.describe p) "on fashion-mnist, mlp[100,100] relu" "the plan says so"
            let full = Study.configure StudyOptions.defaults s
            let fullPlan = Plan.ofStudy full
            Expect.equal fullPlan.Nodes.Head.Spec.Dataset "cifar10" "full mode untouched"
        }
        test "quick_schedule, quick_name and quick_shrink_accuracy apply only to the quick variant" {
            let s =
                study "pre-cifar10" {
                    schedule (pretrain_epochs [ 20; 40 ])
                    quick_schedule (pretrain_epochs [ 1; 2; 3 ])
                    quick_name "pre-fmnist"
                    measure_shrink_accuracy 81
                    quick_shrink_accuracy 11
                    arm "fresh" fresh
                }
            let q = Study.quick s
            Expect.equal q.Schedule (PretrainEpochs [ 1; 2; 3 ]) "quick schedule"
            Expect.equal q.Name "pre-fmnist" "quick name"
            Expect.equal q.Diagnostics.ShrinkGrid.Length 11 "quick grid"
            Expect.equal s.Diagnostics.ShrinkGrid.Length 81 "full grid"
        }
        test "an error caused by a quick cap says so" {
            let s = study "online-big" { schedule (online (chunk 1000 |> rounds 3)); arm "fresh" fresh; arm "warm" warm }
            let message =
                try
                    Study.configure { StudyOptions.defaults with Quick = true } s |> ignore
                    ""
                with StudyValidationError _ as e -> e.Message
            Expect.stringContains message "a pool of 2000 examples holds only 2 chunks of 1000" "the problem"
            Expect.stringContains message "--quick caps the pool at quick_subset 2000" "what caused it"
            Expect.stringContains message "online-big (quick variant)" "names the variant"
        }
        test "quick_skip leaves a study out of a quick run of a list" {
            let a = study "a" { seeds 1; arm "fresh" fresh; arm "warm" warm }
            let b = study "b" { seeds 1; quick_skip true; arm "fresh" fresh; arm "warm" warm }
            let quick = Study.runAllFromArgs [| "--plan"; "--quick" |] [ a; b ]
            Expect.equal (quick |> List.map (fun r -> r.Study.Name)) [ "a" ] "b skipped"
            let full = Study.runAllFromArgs [| "--plan" |] [ a; b ]
            Expect.equal (full |> List.map (fun r -> r.Study.Name)) [ "a"; "b" ] "both in full mode"
        }
    ]

[<Tests>]
let referenceTests =
    testList "dsl.reference" [
        test "gapVsFresh finds the reference arm by policy, whatever its name" {
            let s = study "cold" { seeds 2; arm "cold" fresh; arm "warm" warm }
            let r = fabricated s (fun arm t seed -> if arm = "cold" then 0.8 + float seed / 100.0 else 0.75 + float t / 100.0)
            let g = Summary.gapVsFresh r
            Expect.equal g.RowCount 1 "one gap row: warm vs cold at stage 2"
            Expect.equal (g.GetColumn<string>("Versus").Values |> List.ofSeq) [ "cold" ] "reference"
            Expect.equal (Summary.freshArm r) "cold" "found by policy"
        }
        test "a study without a fresh arm, or with two, gets a clear message instead of an empty table" {
            let none = fabricated (study "nofresh" { seeds 1; arm "warm" warm; arm "sp" (shrink_perturb 0.6 0.01) }) (fun _ _ _ -> 0.8)
            let e = Expect.throwsC (fun () -> Summary.gapVsFresh none |> ignore) (fun (e: exn) -> e.Message)
            Expect.stringContains e "study 'nofresh' has no fresh arm" "says so"
            Expect.stringContains e "Summary.gapVs \"ARM\"" "and how to name one"
            let two = fabricated (study "two" { seeds 1; arm "f1" fresh; arm "f2" fresh; arm "warm" warm }) (fun _ _ _ -> 0.8)
            let e2 = Expect.throwsC (fun () -> Summary.gapVsFresh two |> ignore) (fun (e: exn) -> e.Message)
            Expect.stringContains e2 "has 2 fresh arms (f1, f2)" "ambiguous"
            Expect.equal (Summary.gapVs "f2" two).RowCount 2 "an explicit name still works"
        }
        test "gapVs with a wrong name points at the fresh arm" {
            let r = fabricated (study "cold2" { seeds 1; arm "cold" fresh; arm "warm" warm }) (fun _ _ _ -> 0.8)
            let e = Expect.throwsC (fun () -> Summary.gapVs "fresh" r |> ignore) (fun (e: exn) -> e.Message)
            Expect.stringContains e "the fresh arm is 'cold'" "hint"
        }
    ]

[<Tests>]
let sweepTests =
    testList "dsl.sweeps" [
        test "variants carry typed knob values; names are formatted from them" {
            let s = study "grid" { seeds 1; sweep Knob.Lr [ 1e-3; 1e-2 ]; sweep "batch_size" [ 32.0; 64.0 ]; arm "fresh" fresh; arm "warm" warm }
            let p = Plan.ofStudy s
            Expect.equal [ for v in p.Variants -> v.Knobs ]
                [ [ Knob.Lr, 1e-3; Knob.BatchSize, 32.0 ]; [ Knob.Lr, 1e-3; Knob.BatchSize, 64.0 ]
                  [ Knob.Lr, 1e-2; Knob.BatchSize, 32.0 ]; [ Knob.Lr, 1e-2; Knob.BatchSize, 64.0 ] ] "typed knobs"
            Expect.equal [ for v in p.Variants -> v.Name ]
                [ "lr=0.001,batch_size=32"; "lr=0.001,batch_size=64"; "lr=0.01,batch_size=32"; "lr=0.01,batch_size=64" ] "names"
            Expect.equal [ for v in p.Variants -> v.Study.Optimizer.Lr, v.Study.BatchSize ] [ 1e-3, 32; 1e-3, 64; 1e-2, 32; 1e-2, 64 ] "applied"
        }
        test "whole-number sweep values work in both forms" {
            let typed = study "w" { sweep Knob.BatchSize [ 16; 32 ]; arm "fresh" fresh }
            let named = study "w" { sweep "batch_size" [ 16; 32 ]; arm "fresh" fresh }
            Expect.equal typed.Sweeps [ Knob.BatchSize, [ 16.0; 32.0 ] ] "as floats"
            Expect.equal typed named "same study"
        }
        test "sweepGridOf reads the typed knobs; the named form is the same grid" {
            let s = study "g2" { seeds 1; sweep Knob.Shrink [ 0.2; 0.6 ]; sweep Knob.Perturb [ 0.0; 0.01 ]; arm "fresh" fresh; arm "sp" (shrink_perturb 0.6 0.01) }
            let r = fabricated s (fun arm t _ -> if arm = "sp" && t = 2 then 0.5 else 0.9)
            let typed = Summary.sweepGridOf Knob.Shrink Knob.Perturb "sp" 2 (fun a -> a.TestAccMean) r
            let named = Summary.sweepGrid "shrink" "perturb" "sp" 2 (fun a -> a.TestAccMean) r
            Expect.equal (List.ofSeq typed.ColumnKeys) [ "shrink"; "perturb=0"; "perturb=0.01" ] "columns"
            Expect.equal typed.RowCount 2 "rows"
            Expect.equal (typed.GetColumn<float>("perturb=0.01").Values |> List.ofSeq) [ 0.5; 0.5 ] "cells"
            Expect.equal (named.GetColumn<float>("perturb=0").Values |> List.ofSeq) (typed.GetColumn<float>("perturb=0").Values |> List.ofSeq) "same"
            Expect.throwsT<ArgumentException> (fun () -> Summary.sweepGrid "learning_rate" "perturb" "sp" 2 (fun a -> a.TestAccMean) r |> ignore) "unknown name"
        }
        test "node keys did not change: the quickstart's stage-1 key is the one stored before the typed values" {
            let s = WarmStart.Tests.Studies.quickstartStudy ()
            let p = Plan.ofStudy (Study.configure { StudyOptions.defaults with Quick = true } s)
            // From runs.csv of `warmstart run studies/quickstart.fsx --quick` built before this change.
            Expect.stringStarts (Plan.nodeAt p "fresh" 0 1).Key "6c084a39d9aa" "stage 1, seed 0"
            Expect.stringStarts (Plan.nodeAt p "fresh" 0 2).Key "3d89358b63d3" "fresh stage 2, seed 0"
        }
    ]
