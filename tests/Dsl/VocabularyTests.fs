/// Every word of the README's vocabulary table that selects a model, a stop rule, an acquisition, a sweep knob
/// or a transfer runs in a small study end to end: one test case per word. Fashion-MNIST (real data) for the
/// MLP-sized models; the convolutional models and the CIFAR transfer use hand-made MNIST/CIFAR-layout fixtures
/// (evaluating a CNN on Fashion-MNIST's 10 000 test images alone takes minutes on a loaded CI machine).
module WarmStart.Tests.Dsl.VocabularyTests

open System.IO
open Expecto
open WarmStart
open WarmStart.Tests.Fixtures
open WarmStart.Tests.Data.DataFixtures

/// Runs a study into a throw-away store (the result stays in memory) and checks every node trained.
let private run (dataRoot: string option) (s: Study) =
    use d = new TempDir()
    let r = Study.runWith { Study.defaultOptions with Out = d.Path; DataRoot = dataRoot } s
    Expect.isTrue (r.Status |> Map.forall (fun _ st -> st = Trained)) (sprintf "every node trained: %A" r.Status)
    Expect.equal r.Results.Count r.Plan.Nodes.Length "a result per node"
    for KeyValue(k, x) in r.Results do
        Expect.isFalse x.Diverged (sprintf "node %s did not diverge" k)
        Expect.isTrue (System.Double.IsFinite x.TrainLoss) (sprintf "node %s has a finite loss" k)
    r

/// CIFAR-10 and CIFAR-100 in their binary layouts, tiny (a data root for `--data-root`).
let private cifarRoot (d: TempDir) =
    writeCifar10Folder (Path.Combine(d.Path, "cifar-10-batches-bin")) 12 8 |> ignore
    writeCifar100Folder (Path.Combine(d.Path, "cifar-100-binary")) 60 8 |> ignore
    d.Path

let private stage2 (r: StudyResult) = Summary.rows r |> List.filter (fun x -> x.Stage = 2)

let private sweepCase (knob: string) (values: float list) (check: StudyResult -> unit) =
    test (sprintf "sweep \"%s\"" knob) {
        let s =
            study ("sweep-" + knob) {
                subset 400
                model (mlp [ 16 ])
                optimizer (sgd 0.05)
                epochs 2
                seeds 1
                threads 1
                sweep knob values
                arm "fresh" fresh
                arm "warm" warm
            }
        let r = run None s
        let variants = Summary.rows r |> List.map (fun x -> x.Variant) |> List.distinct
        Expect.equal variants.Length values.Length (sprintf "one variant per value: %A" variants)
        check r
    }

[<Tests>]
let tests =
    withoutRetries <| testSequenced (testList "dsl.vocabulary" [
        test "logistic_regression" {
            let r = run None (study "w-logreg" { subset 400; model logistic_regression; optimizer (adam 1e-2); epochs 2; seeds 1; threads 1; arm "fresh" fresh; arm "warm" warm })
            for x in stage2 r do Expect.isGreaterThan x.TestAcc 0.5 (x.Arm + " learned (chance is 0.1)")
        }
        test "resnet18 (width 16, CIFAR-layout fixture, one epoch)" {
            use d = new TempDir()
            let r = run (Some(cifarRoot d)) (study "w-resnet" { data cifar10; subset 48; model (resnet18 16); optimizer (sgd 0.01); batch_size 16; epochs 1; seeds 1; threads 1; arm "fresh" fresh; arm "warm" warm; measure_correlation })
            let groups = r.Results[(Plan.nodeAt r.Plan "warm" 0 2).Key].Diagnostics.Correlation |> List.map (fun c -> c.Group)
            Expect.equal groups [ "all"; "stem"; "layer1"; "layer2"; "layer3"; "layer4"; "head" ] "the README's ResNet layer groups"
        }
        test "small_cnn (MNIST-layout fixture: evaluating a CNN on 10 000 test images takes minutes here)" {
            use d = new TempDir()
            writeMnistFolder (Path.Combine(d.Path, "mnist")) 120 40 28 28 10 true |> ignore
            let r = run (Some d.Path) (study "w-cnn" { data mnist; subset 120; model small_cnn; optimizer (adam 1e-3); epochs 1; seeds 1; threads 1; arm "fresh" fresh; arm "warm" warm; measure_correlation })
            let groups = r.Results[(Plan.nodeAt r.Plan "warm" 0 2).Key].Diagnostics.Correlation |> List.map (fun c -> c.Group)
            Expect.equal groups [ "all"; "conv1"; "conv2"; "head" ] "the README's small_cnn layer groups"
        }
        test "patience" {
            let r = run None (study "w-patience" { subset 300; model (mlp [ 32 ]); optimizer (adam 1e-2); batch_size 32; train_until (patience 1) (max_epochs 60); seeds 1; threads 1; schedule (fractions [ 1.0 ]); arm "fresh" fresh })
            let x = r.Results |> Seq.exactlyOne |> fun kv -> kv.Value
            Expect.isLessThan x.Epochs 60 "stopped before the cap"
            // Patience 1: the last epoch's training loss did not improve on the best before it.
            let losses = x.Curve |> List.map (fun e -> e.Loss)
            Expect.isGreaterThanOrEqual (List.last losses) (losses |> List.take (losses.Length - 1) |> List.min) (sprintf "no improvement at the end: %A" losses)
        }
        for word, acquisition in [ "entropy", entropy; "random_acquisition", random_acquisition ] do
            test word {
                let s = { study ("w-" + word) { subset 300; model (mlp [ 16 ]); epochs 1; seeds 1; threads 1; arm "fresh" fresh; arm "warm" warm } with
                            Schedule = active (chunk 100) acquisition }
                let r = run None s
                let sizes = Summary.rows r |> List.filter (fun x -> x.Arm = "warm") |> List.map (fun x -> x.Stage, x.TrainSize)
                Expect.equal sizes [ 1, 100L; 2, 200L; 3, 300L ] "chunks of 100 acquired up to the pool"
            }
        sweepCase "weight_decay" [ 0.0; 0.05 ] (fun r ->
            let accs = stage2 r |> List.filter (fun x -> x.Arm = "warm") |> List.map (fun x -> x.TrainLoss) |> List.distinct
            Expect.equal accs.Length 2 "the weight decay changes the training")
        sweepCase "momentum" [ 0.0; 0.9 ] (fun r ->
            let losses = stage2 r |> List.filter (fun x -> x.Arm = "warm") |> List.map (fun x -> x.TrainLoss) |> List.distinct
            Expect.equal losses.Length 2 "the momentum changes the training")
        sweepCase "subset" [ 200.0; 400.0 ] (fun r ->
            let sizes = stage2 r |> List.filter (fun x -> x.Arm = "fresh") |> List.map (fun x -> x.TrainSize) |> List.sort
            Expect.equal sizes [ 200L; 400L ] "the pool follows the swept subset")
        test "transfer cifar100 → cifar10 (100 classes to 10: the head is re-initialised)" {
            use d = new TempDir()
            let s = { study "w-transfer" { data cifar10; model (mlp [ 16 ]); optimizer (sgd 0.01); epochs 1; seeds 1; threads 1; arm "fresh" fresh; arm "warm" warm } with
                        Schedule = transfer cifar100 cifar10 [ 0.5; 1.0 ] }
            let r = run (Some(cifarRoot d)) s
            let datasets = r.Plan.Nodes |> List.map (fun n -> n.Spec.Dataset) |> List.distinct |> List.sort
            Expect.equal datasets [ "cifar10"; "cifar100" ] "source and target trained"
            let fromSource =
                r.Plan.Nodes |> List.filter (fun n ->
                    n.Spec.Dataset = "cifar10" && n.Spec.Parent |> Option.exists (fun p -> (Plan.node r.Plan p).Spec.Dataset = "cifar100"))
            Expect.isNonEmpty fromSource "warm target nodes start from the cifar100 model"
            Expect.isTrue (fromSource |> List.forall (fun n -> List.contains "warm" n.Arms)) "only the warm arm inherits"
        }
    ])
