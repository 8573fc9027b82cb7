module WarmStart.Tests.Plasticity.StreamTests

open System
open System.IO
open Expecto
open TorchSharp
open WarmStart.Core.Models
open WarmStart.Core.Runs
open WarmStart.Core.Training
open WarmStart.Core.Plasticity
open WarmStart.Tests.Fixtures

let private randomLabels tasks images epochs = TaskStreamSpec(StreamKind.RandomLabels, tasks, images, 0, epochs, 25, ProbeSize = 100)
let private spec = randomLabels 4 200 2

let private messageOf (f: unit -> unit) = try f (); "" with e -> e.Message

/// Every method at once, with rates high enough to act within 64 steps.
let private hooks () : ITrainingHook[] =
    [| ContinualBackprop(Seeds.Derive(5L, "cbp"), replacementRate = 0.02, maturityThreshold = 5)
       ReDo(Seeds.Derive(5L, "redo"), period = 7L)
       ContinualShrinkPerturb(Seeds.Derive(5L, "snp"), everySteps = 3L)
       HeadReset(Seeds.Derive(5L, "head"))
       new StreamL2Init(1e-2) |]

let private options (s: TaskStreamSpec) (hs: ITrainingHook[]) (resume: StreamCheckpoint) (onCk: StreamCheckpoint -> unit) =
    TaskStreamOptions(Spec = s, Model = ModelSpec.Mlp(32, 32), Optimizer = OptimizerSpec.Adam 1e-3, Seed = 5L,
                      Hooks = hs, Resume = resume, OnCheckpoint = Action<StreamCheckpoint>(onCk))

/// A hook that kills the run (throws) at a given step of the stream.
type private KillAt(step: int64) =
    interface ITrainingHook with
        member _.AfterStep(info) = if info.Step = step then raise (OperationCanceledException "killed")

let private roundTrip (ck: StreamCheckpoint) =
    use ms = new MemoryStream()
    ck.Save ms
    ms.Position <- 0L
    StreamCheckpoint.Load ms

/// Every number of a task's result except its wall time.
let private numbers (r: TaskResult) =
    let m = r.Metrics
    [ box r.Task; box r.Epochs; box r.Steps; box r.OnlineAccuracy; box r.LastEpochOnlineAccuracy; box r.MeanLoss; box r.EndAccuracy
      box m.Tau; box (List.ofArray m.Dormant); box (List.ofArray m.Dead); box m.EffectiveRank; box m.SRank; box m.StableRankFro
      box [ for KeyValue(k, v) in m.WeightMagnitude -> k, v ]; box m.DistanceFromInit; box m.GradientNorm ]

let private positions (n: int64) = torch.arange(n, dtype = torch.ScalarType.Int64)

[<Tests>]
let tests =
    testList "plasticity.stream" [
        test "a stream killed mid-task resumes from its last task-boundary checkpoint to identical numbers" {
            let data = fashionMnist.Force()
            let full = ResizeArray<StreamCheckpoint>()
            let cbp = ContinualBackprop(Seeds.Derive(5L, "cbp"), replacementRate = 0.02, maturityThreshold = 5)
            let fullHooks = Array.append [| cbp :> ITrainingHook |] (hooks ()).[1..]
            let a = TaskStream.Run(data, options spec fullHooks null full.Add)
            Expect.equal a.Tasks.Count 4 "4 tasks"
            Expect.equal full.Count 4 "a checkpoint per task"
            Expect.isGreaterThan (Array.sum cbp.Replaced) 0L "cbp replaced units"
            // Kill at step 40: task 3 runs steps 33–48 (8 batches × 2 epochs per task).
            let mutable last : StreamCheckpoint = null
            Expect.throwsT<OperationCanceledException> (fun () ->
                TaskStream.Run(data, options spec (Array.append (hooks ()) [| KillAt 40L |]) null (fun ck -> last <- roundTrip ck)) |> ignore) "killed"
            Expect.equal last.TasksDone 2 "last checkpoint after task 2"
            let resumed = ResizeArray<StreamCheckpoint>()
            let b = TaskStream.Run(data, options spec (hooks ()) last resumed.Add)
            Expect.equal b.Tasks.Count 4 "all tasks reported"
            for i in 0 .. 3 do
                Expect.sequenceEqual (numbers b.Tasks.[i]) (numbers a.Tasks.[i]) (sprintf "task %d" (i + 1))
            Expect.sequenceEqual resumed.[1].Model full.[3].Model "final model identical"
            Expect.sequenceEqual resumed.[1].Optimizer full.[3].Optimizer "final optimiser state identical"
            for h in 0 .. full.[3].Hooks.Length - 1 do
                Expect.sequenceEqual resumed.[1].Hooks.[h] full.[3].Hooks.[h] (sprintf "final state of hook %d identical" h)
        }
        test "stream results: online accuracy, task-end accuracy and metrics within their ranges" {
            let data = fashionMnist.Force()
            let r = TaskStream.Run(data, options (randomLabels 2 200 2) (hooks ()) null ignore)
            for t in r.Tasks do
                Expect.equal t.Steps 16L "8 batches × 2 epochs"
                Expect.isTrue (t.OnlineAccuracy >= 0.0 && t.OnlineAccuracy <= 1.0) "online"
                Expect.isTrue (t.EndAccuracy >= 0.0 && t.EndAccuracy <= 1.0) "end"
                Expect.equal t.Metrics.Dormant.Length 2 "two hidden layers"
                Expect.isTrue (t.Metrics.SRank >= 1 && t.Metrics.SRank <= 32) "srank ≤ width"
                Expect.isTrue (t.Metrics.EffectiveRank >= 1.0 && t.Metrics.EffectiveRank <= 32.0) "erank ≤ width"
                Expect.isGreaterThan t.Metrics.DistanceFromInit 0.0 "moved"
                Expect.isGreaterThan t.Metrics.GradientNorm 0.0 "gradient of the last batch"
            Expect.sequenceEqual r.Hooks [ "cbp replacement_rate=0.02 decay_rate=0.99 maturity_threshold=5 utility=Contribution init=Kaiming"
                                           "redo tau=0.1 period=7 init=Xavier"; "shrink_perturb shrink=0.9999 sigma=0.01 every_steps=3"; "head_reset"; "l2_init lambda=0.01" ] "described"
        }
        test "permuted-pixel tasks permute the same images' pixels, per task, keeping labels" {
            let data = fashionMnist.Force()
            use imgs = new StreamImages(data, TaskStreamSpec(StreamKind.PermutedPixels, 3, 50, 20, 1, 10), 9L)
            use v1 = imgs.View 1
            use v2 = imgs.View 2
            use p = positions 5L
            let struct (x1, y1) = v1.Batch p
            let struct (x2, y2) = v2.Batch p
            Expect.isTrue (same y1 y2) "labels kept"
            Expect.isFalse (same x1 x2) "other permutation"
            let sorted (x: torch.Tensor) = let struct (s, _) = x.flatten(1).sort(1) in s
            Expect.isTrue (same (sorted x1) (sorted x2)) "same pixels, other places"
            Expect.equal v1.TestPositions.shape [| 20L |] "test images"
        }
        test "random-label tasks relabel the fixed images per task and score task-end accuracy on them" {
            let data = fashionMnist.Force()
            use imgs = new StreamImages(data, TaskStreamSpec(StreamKind.RandomLabels, 3, 300, 0, 1, 10), 9L)
            use v1 = imgs.View 1
            use v2 = imgs.View 2
            use p = positions 300L
            let struct (x1, y1) = v1.Batch p
            let struct (x2, y2) = v2.Batch p
            Expect.isTrue (same x1 x2) "same images"
            Expect.isLessThan (y1.eq(y2).sum().item<int64>()) 100L "fresh labels (~10% agree by chance)"
            let struct (_, ty) = v1.TestBatch p
            Expect.isTrue (same ty y1) "task-end accuracy on the task's own labels"
        }
        test "class-incremental tasks add classes in a seeded order; a run slices the logits to the seen classes" {
            let data = fashionMnist.Force()
            let s = TaskStreamSpec(StreamKind.ClassIncremental, 3, 400, 200, 1, 20, ClassesFirst = 2, ClassesPerTask = 3)
            use imgs = new StreamImages(data, s, 9L)
            use v1 = imgs.View 1
            use v3 = imgs.View 3
            Expect.equal (v1.Seen, v3.Seen) (2, 8) "2, then +3 per task"
            let struct (_, y1) = v1.Batch v1.TrainPositions
            Expect.isLessThan (y1.max().item<int64>()) 2L "task 1 labels are ranks 0–1"
            Expect.isGreaterThan v3.TrainPositions.shape.[0] (v1.TrainPositions.shape.[0] * 3L) "all data of all seen classes"
            let r = TaskStream.Run(data, options s [||] null ignore)
            Expect.isGreaterThan r.Tasks.[0].EndAccuracy 0.6 "two classes are learnable in one epoch"
        }
        test "permuted-label tasks remap the classes by a permutation" {
            let data = fashionMnist.Force()
            use imgs = new StreamImages(data, TaskStreamSpec(StreamKind.PermutedLabels, 2, 100, 50, 1, 10), 9L)
            use v1 = imgs.View 1
            use v2 = imgs.View 2
            use p = positions 100L
            let struct (_, y1) = v1.Batch p
            let struct (_, y2) = v2.Batch p
            // The same class always maps to the same label within a task.
            let pairs = Array.zip (y1.data<int64>().ToArray()) (y2.data<int64>().ToArray()) |> Array.distinct
            Expect.equal (pairs |> Array.map fst |> Array.distinct).Length pairs.Length "a function of the label"
        }
        test "a threshold ends a task at the first epoch whose online accuracy reaches it; the epoch budget caps it" {
            let data = fashionMnist.Force()
            let easy = TaskStreamSpec(StreamKind.RandomLabels, 2, 100, 0, 5, 25, Threshold = Nullable 0.01, ProbeSize = 50)
            let r = TaskStream.Run(data, options easy [||] null ignore)
            Expect.equal [ for t in r.Tasks -> t.Epochs ] [ 1; 1 ] "reached after one epoch"
            Expect.equal [ for t in r.Tasks -> t.Steps ] [ 4L; 4L ] "4 batches of 25"
            let hard = TaskStreamSpec(StreamKind.RandomLabels, 1, 100, 0, 3, 25, Threshold = Nullable 1.0, ProbeSize = 50)
            let r2 = TaskStream.Run(data, options hard [||] null ignore)
            Expect.equal r2.Tasks.[0].Epochs 3 "capped at epochs_per_task"
            Expect.isLessThan r2.Tasks.[0].LastEpochOnlineAccuracy 1.0 "threshold not met"
        }
        test "a bad stream is refused before training, naming the field" {
            let data = fashionMnist.Force()
            let m1 = messageOf (fun () -> TaskStream.Run(data, options (randomLabels 2 100000 1) [||] null ignore) |> ignore)
            Expect.stringContains m1 "stream images = 100000; allowed: 1 … 60000" "too many images"
            let m2 = messageOf (fun () -> TaskStream.Run(data, options (randomLabels 2 100 0) [||] null ignore) |> ignore)
            Expect.stringContains m2 "stream epochs_per_task = 0; allowed: ≥ 1" "no epochs"
        }
    ]
