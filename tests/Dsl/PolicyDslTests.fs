module WarmStart.Tests.Dsl.PolicyDslTests

open Expecto
open WarmStart
open WarmStart.Tests.Fixtures

let private rejected (fragment: string) (build: unit -> Study) =
    try
        build () |> ignore
        failtest "expected a validation error"
    with StudyValidationError(_, ps) ->
        Expect.exists ps (fun p -> p.Contains fragment) (sprintf "a problem mentions %s: %A" fragment ps)

/// Every policy and regulariser, as arms of one study.
let private allArms : (string * ArmDef) list =
    [ "fresh", fresh
      "warm", warm
      "sp", shrink_perturb 0.6 0.01
      "sp-fresh-noise", (shrink_perturb 0.4 0.1 |> with_fresh_init_noise)
      "pw", partial_warm [ "hidden1" ]
      "hr", (head_reset |> keep_optimizer_state)
      "dash", dash 0.3 0.3
      "keep", (warm |> keep_optimizer_state)
      "l2", (warm |> l2_init 0.01)
      "ewc", (warm |> ewc 10.0) ]

/// The study of every arm on real data (quick), run once for all the cases below; its store is removed
/// afterwards (the results stay in memory).
let private allPolicies =
    lazy (
        use d = new TempDir()
        let s =
            study "all-policies" {
                model (mlp [ 32; 16 ])
                optimizer (adam 3e-3)
                seeds 1
                threads 1
                quick_subset 600
                quick_max_epochs 3
                arm "fresh" fresh
                measure_correlation
                measure_gradient_norms
                measure_shrink_accuracy 3
            }
        Study.runWith { Study.defaultOptions with Quick = true; Out = d.Path }
            { s with Arms = allArms |> List.map (fun (n, a) -> { a with Name = n }) })

let private stage2 (r: StudyResult) arm = r.Results[(Plan.nodeAt r.Plan arm 0 2).Key]

[<Tests>]
let tests =
    testList "dsl.policies" [
        test "policy and regulariser verbs build the arms they say" {
            let s =
                study "verbs" {
                    model (mlp [ 20; 10 ])
                    arm "pw" (partial_warm [ "hidden1" ])
                    arm "hr" head_reset
                    arm "dash" (dash 0.3 0.3)
                    arm "l2" (warm |> l2_init 0.01)
                    arm "l2d" (warm |> l2_init_dash_form 0.01)
                    arm "ewc" (warm |> ewc 10.0 |> keep_optimizer_state)
                    arm "ewce" (warm |> ewc_empirical 10.0)
                    measure_correlation
                    measure_gradient_norms
                    measure_shrink_accuracy 5
                }
            Expect.equal [ for a in s.Arms -> a.Policy ] [ PartialWarm [ "hidden1" ]; HeadReset; Dash(0.3, 0.3); Warm; Warm; Warm; Warm ] "policies"
            Expect.equal s.Arms[3].Regularizers [ L2Init(0.01, false) ] "l2_init"
            Expect.equal s.Arms[4].Regularizers [ L2Init(0.01, true) ] "DASH form"
            Expect.equal s.Arms[5].Regularizers [ Ewc(10.0, false) ] "ewc"
            Expect.isTrue s.Arms[5].KeepOptimizerState "keep state"
            Expect.equal s.Diagnostics.ShrinkGrid [ 0.0; 0.25; 0.5; 0.75; 1.0 ] "grid"
        }
        test "an unknown layer group is refused before training, listing the model's groups" {
            rejected "groups of this model: hidden1, hidden2, head" (fun () -> study "x" { model (mlp [ 20; 10 ]); arm "pw" (partial_warm [ "layer9" ]) })
            rejected "name at least one group" (fun () -> study "x" { arm "pw" (partial_warm []) })
        }
        test "DASH and regulariser ranges, and switches that need a parent, are checked" {
            rejected "α must be in (0, 1]" (fun () -> study "x" { arm "d" (dash 0.0 0.3) })
            rejected "λ must be in [0, 1]" (fun () -> study "x" { arm "d" (dash 0.3 1.5) })
            rejected "l2_init' = -1" (fun () -> study "x" { arm "w" (warm |> l2_init -1.0) })
            rejected "a fresh arm has none" (fun () -> study "x" { arm "f" (fresh |> ewc 1.0) })
            rejected "no previous optimiser" (fun () -> study "x" { arm "f" (fresh |> keep_optimizer_state) })
            rejected "measure_shrink_accuracy" (fun () -> study "x" { arm "f" fresh; measure_shrink_accuracy 1 })
        }
        test "regularisers and diagnostics are part of a node's key; stage 1 stays shared" {
            let plain = Plan.ofStudy (study "k" { seeds 1; arm "warm" warm; arm "l2" (warm |> l2_init 0.01) })
            Expect.equal (Plan.nodeAt plain "warm" 0 1).Key (Plan.nodeAt plain "l2" 0 1).Key "stage 1 shared"
            Expect.notEqual (Plan.nodeAt plain "warm" 0 2).Key (Plan.nodeAt plain "l2" 0 2).Key "l2-init changes stage 2"
            let measured = Plan.ofStudy (study "k" { seeds 1; arm "warm" warm; arm "l2" (warm |> l2_init 0.01); measure_correlation })
            Expect.notEqual (Plan.nodeAt plain "warm" 0 1).Key (Plan.nodeAt measured "warm" 0 1).Key "diagnostics change the key"
        }
        // One study of every arm, run once; then one test case per arm, so one arm's failure hides no other.
        testSequenced <| testList "every policy end to end (quick)" [
            test "every node trained" {
                let r = allPolicies.Force()
                Expect.isTrue (r.Status |> Map.forall (fun _ st -> st = Trained)) (sprintf "all trained: %A" r.Status)
                // Stage 1 has no old data: no gradient-norm records.
                Expect.isEmpty r.Results[(Plan.nodeAt r.Plan "warm" 0 1).Key].Diagnostics.GradientNorms "stage 1"
            }
            for name, policy in allArms do
                test name {
                    let r = allPolicies.Force()
                    let x = stage2 r name
                    Expect.equal r.Status[(Plan.nodeAt r.Plan name 0 2).Key] Trained "trained"
                    Expect.isGreaterThan x.TestAccuracy 0.3 (name + " learned")
                    Expect.equal (x.Diagnostics.ShrinkAccuracy |> List.map (fun p -> p.Lambda)) [ 0.0; 0.5; 1.0 ] (name + " shrink grid")
                    Expect.floatClose Accuracy.medium (x.Diagnostics.ShrinkAccuracy |> List.last).Accuracy x.TestAccuracy "λ = 1 is the model itself"
                    // Old vs new data is defined by the parent's training set: arms without a parent record none.
                    let expected = if policy.Policy = Fresh then 0 else x.Epochs
                    Expect.equal (x.Diagnostics.GradientNorms |> List.length) expected (name + " a norm pair per epoch")
                    for g in x.Diagnostics.GradientNorms do
                        Expect.isGreaterThan g.Old 0.0 "old-data norm"
                        Expect.isGreaterThan g.New 0.0 "new-data norm"
                    Expect.equal (x.Diagnostics.Correlation |> List.map (fun c -> c.Group)) [ "all"; "hidden1"; "hidden2"; "head" ] "groups"
                }
            test "a fresh stage's two correlations coincide; warm keeps more of its start than fresh does" {
                let r = allPolicies.Force()
                // A fresh stage starts at its own initialisation: both correlations coincide.
                for c in (stage2 r "fresh").Diagnostics.Correlation do Expect.floatClose Accuracy.high c.VsStart c.VsInit c.Group
                // A warm stage starts from a trained model and moves little in a few epochs: its final weights
                // correlate with its start more than a fresh stage's do with its random start.
                let warmAll = (stage2 r "warm").Diagnostics.Correlation.Head
                let freshAll = (stage2 r "fresh").Diagnostics.Correlation.Head
                Expect.isGreaterThan warmAll.VsStart freshAll.VsStart (sprintf "warm %g vs fresh %g (correlation with the start)" warmAll.VsStart freshAll.VsStart)
            }
        ]
    ]
