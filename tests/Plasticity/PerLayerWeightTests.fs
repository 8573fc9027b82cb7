/// Weight magnitude per layer group of a stream's tasks: from the core's snapshot into the task point, the node's
/// tasks.csv, result.json (old results without it still load), Summary.tasks and the plasticity frame, on a tiny
/// network whose values are checked by hand.
module WarmStart.Tests.Plasticity.PerLayerWeightTests

open Expecto
open WarmStart
open WarmStart.Core.Plasticity
open WarmStart.Tests.Plasticity.PlasticityFixtures

/// A one-seed, one-arm stream study: only its plan is used (nothing trains).
let private streamStudy () =
    study "weights-per-layer" {
        model (mlp [ 3 ])
        seeds 1
        schedule (stream (random_label_tasks 2 |> images 64))
        arm "adam" continual
    }

/// Task `task`'s point with the weight magnitudes of the tiny MLP 1-3-2 set by hand: hidden1 |W| = 1,1,2,2,3,3
/// (mean 2), head |W| = 0.5 everywhere (mean 0.5), times `scale`.
let private pointOf (task: int) (scale: float32) =
    use m = tinyMlp [| 3 |]
    setParam m "hidden1.weight" (Array.map ((*) scale) [| 1.0f; -1.0f; 2.0f; -2.0f; 3.0f; -3.0f |])
    setParam m "head.weight" (Array.map ((*) scale) [| 0.5f; 0.5f; 0.5f; -0.5f; -0.5f; -0.5f |])
    let snap = PlasticitySnapshot(0.0, [| 0.0 |], [| 0.0 |], 1.0, 1, 1.0, Metrics.WeightMagnitude m, 0.0, 0.0)
    StreamNode.taskPoint (TaskResult(task, 1, 4L, 0.5, 0.5, 1.0, 0.5, snap, 0.1))

[<Tests>]
let tests =
    testList "plasticity.weight-per-layer" [
        test "a task point keeps the weight magnitude of each layer group, and their mean as before" {
            let t = pointOf 1 1.0f
            Expect.equal t.WeightMagnitudeLayers [ { Layer = "hidden1"; Value = 2.0 }; { Layer = "head"; Value = 0.5 } ] "per layer, forward order"
            Expect.floatClose Accuracy.veryHigh t.WeightMagnitude 1.25 "the mean over groups stays"
        }
        test "the node's tasks.csv adds WeightMagnitude_<group> columns after the earlier ones" {
            let lines = (StreamNode.tasksCsv [ pointOf 1 1.0f; pointOf 2 2.0f ]).TrimEnd('\n').Split('\n')
            Expect.stringEnds lines[0] ",WeightMagnitude,DistanceFromInit,GradientNorm,Seconds,WeightMagnitude_hidden1,WeightMagnitude_head" "header"
            Expect.stringEnds lines[1] ",2,0.5" "task 1: 2 and 0.5"
            Expect.stringEnds lines[2] ",4,1" "task 2, weights doubled: 4 and 1"
        }
        test "result.json round-trips the per-layer values; a task stored before them loads with none" {
            let t = pointOf 1 1.0f
            Expect.equal (NodeStore.ofJson<TaskPoint> (NodeStore.toJson t)) t "round trip"
            let old = (NodeStore.toJson { t with WeightMagnitudeByLayer = System.Text.Json.Serialization.Skip })
            Expect.isFalse (old.Contains "WeightMagnitudeByLayer") "left out when absent"
            let loaded = NodeStore.ofJson<TaskPoint> old
            Expect.equal loaded.WeightMagnitudeLayers [] "no per-layer values"
            Expect.stringEnds ((StreamNode.tasksCsv [ loaded ]).TrimEnd('\n').Split('\n')[0]) ",Seconds" "no per-layer columns"
        }
        test "Summary.tasks has a column per layer group and Summary.plasticity a metric per layer group" {
            let s = streamStudy ()
            let p = Plan.ofStudy s
            let key = p.Nodes.Head.Key
            let res = StreamNode.nodeResult key 64 128 [ pointOf 1 1.0f; pointOf 2 2.0f ]
            let r = { Plan = p; Results = Map.ofList [ key, res ]; Status = Map.ofList [ key, Trained ]; Quick = false; WallSeconds = 1.0 }
            let f = Summary.tasks r
            Expect.containsAll f.ColumnKeys [ "WeightMagnitude"; "WeightMagnitude_hidden1"; "WeightMagnitude_head" ] "columns"
            Expect.isFalse (Seq.contains "WeightMagnitudeByLayer" f.ColumnKeys) "no list-valued column"
            Expect.equal (f.GetColumn<float>("WeightMagnitude_hidden1") |> Deedle.Series.values |> List.ofSeq) [ 2.0; 4.0 ] "hidden1 per task"
            Expect.equal (f.GetColumn<float>("WeightMagnitude_head") |> Deedle.Series.values |> List.ofSeq) [ 0.5; 1.0 ] "head per task"
            let metric name = Summary.plasticityRows r |> List.filter (fun x -> x.Metric = name) |> List.sortBy (fun x -> x.Task) |> List.map (fun x -> x.Mean)
            Expect.equal (metric "weight_magnitude_hidden1") [ 2.0; 4.0 ] "plasticity: hidden1"
            Expect.equal (metric "weight_magnitude_head") [ 0.5; 1.0 ] "plasticity: head"
            Expect.equal (metric "weight_magnitude") [ 1.25; 2.5 ] "plasticity: the mean stays"
        }
    ]
