/// The per-stage and per-arm protocol words trained for real on Fashion-MNIST: a stage stop rule, an arm on the new
/// chunk only, and L2-init from the first step.
module WarmStart.Tests.Fidelity.StageProtocolRunTests

open Expecto
open WarmStart
open WarmStart.Tests.Fixtures

let private online () =
    study "stage-protocol" {
        data fashion_mnist
        model (mlp [ 32 ])
        optimizer (adam 1e-2)
        batch_size 10                                       // 10 steps an epoch on a chunk of 100
        subset 300
        schedule (online (chunk 100))
        train_until (train_accuracy 0.999) (max_epochs 4)   // stage 1 runs to its cap of 4 epochs
        stage_stop 2 (fixed_epochs 2)                       // later stages: exactly 2
        seeds 1
        threads 1
        arm "warm" warm
        arm "warm-new" (warm |> new_chunk_only)
        arm "l2" (warm |> l2_init 1.0 |> l2_init_from_start)
        measure_correlation
    }

[<Tests>]
let tests =
    withoutRetries <| testSequenced (testList "fidelity.stageprotocol" [
        test "the catalog's per-class training count of Fashion-MNIST is what the installed data holds" {
            let s = fashionMnist.Force()
            use counts = TorchSharp.torch.bincount(s.Train.Labels)
            let expected = WarmStart.Core.Data.Catalog.Get("fashion-mnist").TrainCountPerClass.Value
            Expect.equal (counts.data<int64>().ToArray() |> Array.map int) (Array.create 10 expected) "every class"
        }
        test "stage_stop, new_chunk_only and l2_init_from_start as trained" {
            use d = new TempDir()
            let r = online () |> Study.runWith { Study.defaultOptions with Out = d.Path }
            let res arm stage = r.Results[(Plan.nodeAt r.Plan arm 0 stage).Key]
            Expect.equal (res "warm" 1).Epochs 4 "stage 1: the study's rule, to its cap"
            for arm in [ "warm"; "warm-new"; "l2" ] do
                for t in 2 .. 3 do
                    Expect.equal (res arm t).Epochs 2 (sprintf "%s stage %d: stage_stop's fixed 2 epochs" arm t)
            Expect.equal [ for t in 1 .. 3 -> (res "warm" t).TrainSize ] [ 100L; 200L; 300L ] "warm: everything seen so far"
            Expect.equal [ for t in 1 .. 3 -> (res "warm-new" t).TrainSize ] [ 100L; 100L; 100L ] "warm-new: the new chunk only"
            // L2-init from step 0 keeps stage 1's weights nearer their initialisation than the shared unpenalised run.
            let vsInit arm = ((res arm 1).Diagnostics.Correlation |> List.find (fun c -> c.Group = "all")).VsInit
            Expect.isGreaterThan (vsInit "l2") (vsInit "warm")
                (sprintf "correlation with the init: l2 %.4f vs plain %.4f" (vsInit "l2") (vsInit "warm"))
        }
    ])
