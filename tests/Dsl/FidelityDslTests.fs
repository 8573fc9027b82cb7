/// The DSL side of the paper-protocol fidelity work: λ = 0 with σ = 0 refused, sweep cells left out, the shrink
/// accuracy BatchNorm word.
module WarmStart.Tests.Dsl.FidelityDslTests

open Expecto
open WarmStart

let private problems (build: unit -> Study) =
    try
        build () |> ignore
        []
    with StudyValidationError(_, ps) -> ps

let private rejected (fragment: string) (build: unit -> Study) =
    let ps = problems build
    Expect.isNonEmpty ps "rejected"
    Expect.exists ps (fun p -> p.Contains fragment) (sprintf "a problem mentions %s: %A" fragment ps)

[<Tests>]
let tests =
    testList "dsl.fidelity" [
        test "λ = 0 with σ = 0 is refused, naming the arm, the value and what is allowed" {
            rejected "field 'arm \"z\"' = λ = 0, σ = 0: allowed: λ > 0 or σ > 0" (fun () -> study "x" { arm "z" (shrink_perturb 0.0 0.0) })
            rejected "λ = 0, σ = 0" (fun () -> study "x" { arm "z" (shrink 0.0) })
            rejected "λ = 0, σ = 0" (fun () -> study "x" { arm "z" (shrink_perturb 0.0 0.0 |> with_fresh_init_noise) })
            Expect.isEmpty (problems (fun () -> study "x" { arm "z" (shrink_perturb 0.0 0.01) })) "λ = 0 with noise is a scaled fresh start"
            Expect.isEmpty (problems (fun () -> study "x" { arm "z" (shrink 0.3) })) "shrink only"
        }
        test "a shrink × perturb sweep holding the (0, 0) cell is refused unless sweep_except leaves it out" {
            let grid (except: bool) () =
                if except then
                    study "g" { arm "sp" (shrink_perturb 0.6 0.01); sweep Knob.Shrink [ 0.0; 0.5 ]; sweep Knob.Perturb [ 0.0; 0.01 ]
                                sweep_except [ Knob.Shrink, 0.0; Knob.Perturb, 0.0 ] }
                else study "g" { arm "sp" (shrink_perturb 0.6 0.01); sweep Knob.Shrink [ 0.0; 0.5 ]; sweep Knob.Perturb [ 0.0; 0.01 ] }
            rejected "field 'arm \"sp\" × sweep' = λ = 0, σ = 0" (grid false)
            rejected "sweep_except [ Knob.Shrink, 0.0; Knob.Perturb, 0.0 ]" (grid false)
            let plan = Plan.ofStudy (grid true ())
            Expect.equal [ for v in plan.Variants -> v.Name ] [ "shrink=0,perturb=0.01"; "shrink=0.5,perturb=0"; "shrink=0.5,perturb=0.01" ] "three cells"
            // A sweep of shrink alone over an arm without noise has the cell too.
            rejected "λ = 0, σ = 0" (fun () -> study "g" { arm "s" (shrink 0.5); sweep Knob.Shrink [ 0.0; 0.5 ] })
        }
        test "sweep_except names swept knobs and swept values only" {
            rejected "\"lr\" is not swept" (fun () -> study "g" { arm "w" warm; sweep Knob.BatchSize [ 32.0; 64.0 ]; sweep_except [ Knob.Lr, 0.1 ] })
            rejected "16 is not one of sweep \"batch_size\" [32; 64]" (fun () -> study "g" { arm "w" warm; sweep Knob.BatchSize [ 32.0; 64.0 ]; sweep_except [ Knob.BatchSize, 16.0 ] })
            rejected "name at least one" (fun () -> study "g" { arm "w" warm; sweep Knob.BatchSize [ 32.0; 64.0 ]; sweep_except [] })
        }
        test "shrink_accuracy_batch_norm: batch statistics change the node key, the default does not" {
            let key (s: Study) = (Plan.nodeAt (Plan.ofStudy s) "warm" 0 2).Key
            let plain = study "k" { seeds 1; arm "warm" warm; measure_shrink_accuracy 3 }
            let running = study "k" { seeds 1; arm "warm" warm; measure_shrink_accuracy 3; shrink_accuracy_batch_norm running_statistics }
            let batch = study "k" { seeds 1; arm "warm" warm; measure_shrink_accuracy 3; shrink_accuracy_batch_norm batch_statistics }
            Expect.equal batch.Diagnostics.ShrinkBatchNorm BatchStatistics "the word sets the mode"
            Expect.equal (key running) (key plain) "running statistics is the default"
            Expect.notEqual (key batch) (key plain) "batch statistics is another measurement"
        }
    ]

[<Tests>]
let viewTests =
    testList "dsl.views" [
        test "view words compose into the dataset name, so the view is part of every node key" {
            let d = fashion_mnist |> classes [ 0; 1; 2; 3; 4 ] |> label_noise 0.2 7L
            Expect.equal d.Name "fashion-mnist[classes=0,1,2,3,4|label_noise=0.2@7]" "name"
            let key (dd: DataDef) = (Plan.nodeAt (Plan.ofStudy (study "v" { data dd; seeds 1; subset 1000; arm "warm" warm })) "warm" 0 1).Key
            Expect.notEqual (key d) (key fashion_mnist) "a view is another dataset"
            Expect.equal (key (fashion_mnist |> permuted_pixels 3L)) (key (fashion_mnist |> permuted_pixels 3L)) "same view, same key"
            Expect.notEqual (key (fashion_mnist |> random_labels 1L)) (key (fashion_mnist |> random_labels 2L)) "the seed is in the key"
        }
        test "views are validated before training: unknown classes, bad fractions" {
            rejected "classes of fashion-mnist are 0 to 9" (fun () -> study "v" { data (fashion_mnist |> classes [ 3; 12 ]); subset 100; arm "f" fresh })
            rejected "allowed: 0 ≤ fraction ≤ 1" (fun () -> study "v" { data (fashion_mnist |> label_noise 1.5 1L); arm "f" fresh })
        }
        test "a class-subset study trains end to end on real data (quick), labels 0..k-1" {
            use d = new WarmStart.Tests.Fixtures.TempDir()
            let s = study "v2" { data (fashion_mnist |> classes [ 7; 9 ]); model (mlp [ 16 ]); subset 400; seeds 1; epochs 1
                                 schedule (fractions [ 1.0 ]); arm "fresh" fresh }
            let r = s |> Study.runWith { Study.defaultOptions with Out = d.Path }
            let res = r.Results |> Seq.exactlyOne |> fun kv -> kv.Value
            Expect.equal res.TrainSize 400L "pool of 400 from the two classes"
            Expect.isGreaterThan res.TestAccuracy 0.7 "sneakers vs ankle boots are separable"
        }
    ]
