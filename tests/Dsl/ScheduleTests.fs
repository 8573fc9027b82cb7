module WarmStart.Tests.Dsl.ScheduleTests

open Expecto
open TorchSharp
open WarmStart
open WarmStart.Core.Models
open WarmStart.Core.Policies
open WarmStart.Tests.Fixtures

let private arms3 = [ { fresh with Name = "fresh" }; { warm with Name = "warm" }; { shrink_perturb 0.6 0.01 with Name = "sp" } ]

let private withArms (s: Study) arms = Validate.orRaise { s with Arms = arms }

[<Tests>]
let tests =
    testList "dsl.schedules" [
        test "online: round sizes grow by the chunk; the last round takes the remainder" {
            let s = withArms (study "on" { subset 2500; seeds 1; schedule (online (chunk 1000)); arm "f" fresh }) arms3
            let p = Plan.ofStudy s
            Expect.equal (Plan.stageCount s) 3 "⌈2500/1000⌉ rounds"
            let subsets = [ for t in 1 .. 3 -> (Plan.nodeAt p "warm" 0 t).Spec.Subset ]
            Expect.equal subsets [ PoolCount 1000; PoolCount 2000; PoolCount 2500 ] "everything seen so far"
            Expect.equal p.Nodes.Length (1 + 3 * 2) "round 1 shared, then a node per arm and round"
            Expect.equal ((Plan.nodeAt p "warm" 0 3).Spec.Parent) (Some (Plan.nodeAt p "warm" 0 2).Key) "warm chains rounds"
            Expect.isNone (Plan.nodeAt p "fresh" 0 3).Spec.Parent "fresh rounds stand alone"
        }
        test "online new_only trains each round on its chunk; rounds caps the schedule" {
            let s = withArms (study "on" { subset 2500; seeds 1; schedule (online (chunk 1000 |> new_only)); arm "f" fresh }) arms3
            let p = Plan.ofStudy s
            Expect.equal [ for t in 1 .. 3 -> (Plan.nodeAt p "warm" 0 t).Spec.Subset ] [ PoolSlice(0, 1000); PoolSlice(1000, 1000); PoolSlice(2000, 500) ] "slices"
            let capped = withArms (study "on" { subset 5000; schedule (online (chunk 1000 |> rounds 2)); arm "f" fresh }) arms3
            Expect.equal (Plan.stageCount capped) 2 "two rounds"
        }
        test "--quick caps pre-training lengths like every other epoch count" {
            let s = study "pe" { schedule (pretrain_epochs [ 2; 20; 40 ]); quick_max_epochs 3; arm "fresh" fresh; arm "warm" warm }
            let q = Study.quick s
            Expect.equal q.Schedule (pretrain_epochs [ 2; 3 ]) "capped at 3, still strictly increasing"
            let p = Plan.ofStudy q
            let longest = p.Nodes |> List.choose (fun n -> Option.ofNullable n.Spec.Stop.FixedEpochs) |> List.max
            Expect.isLessThanOrEqual longest 3 "no node trains more than quick_max_epochs"
        }
        test "online validation: chunk larger than the pool, too many rounds" {
            Expect.throwsT<StudyValidationError> (fun () -> study "x" { subset 500; schedule (online (chunk 1000)); arm "w" warm } |> ignore) "chunk > pool"
            Expect.throwsT<StudyValidationError> (fun () -> study "x" { subset 3000; schedule (online (chunk 1000 |> rounds 4)); arm "w" warm } |> ignore) "rounds"
            Expect.throwsT<StudyValidationError> (fun () -> study "x" { subset 3000; schedule (active (chunk 1000 |> new_only) margin); arm "w" warm } |> ignore) "active new_only"
        }
        test "active: round 1 shared; later rounds acquire with the arm's own previous model, fresh included" {
            let s = withArms (study "ac" { subset 3000; seeds 1; schedule (active (chunk 1000) margin); arm "f" fresh }) arms3
            let p = Plan.ofStudy s
            Expect.equal (Plan.nodeAt p "warm" 0 1).Spec.Subset (PoolCount 1000) "random seed set"
            match (Plan.nodeAt p "fresh" 0 2).Spec with
            | { Subset = Acquire(Margin, 1000, _); Init = Root _; Parent = Some parent } ->
                Expect.equal parent (Plan.nodeAt p "fresh" 0 1).Key "fresh arm's data picked by its own previous model"
            | other -> failtestf "unexpected %A" other
            Expect.notEqual (Plan.nodeAt p "fresh" 0 3).Spec.Parent (Plan.nodeAt p "warm" 0 3).Spec.Parent "each arm picks with its own model"
        }
        test "margin acquisition picks the smallest top-1 − top-2 gaps, in order; entropy the most uncertain" {
            use probs =
                torch.tensor([| 0.90f; 0.05f; 0.05f      // margin 0.85
                                0.40f; 0.35f; 0.25f      // margin 0.05  ← first
                                0.60f; 0.30f; 0.10f      // margin 0.30
                                0.34f; 0.33f; 0.33f |],  // margin 0.01  ← first of all
                             System.ReadOnlySpan<int64>([| 4L; 3L |]))
            use m = AcquisitionFunctions.Select("margin", probs, 2, 0L)
            Expect.equal (m.data<int64>().ToArray()) [| 3L; 1L |] "two lowest margins, lowest first"
            use e = AcquisitionFunctions.Select("entropy", probs, 1, 0L)
            Expect.equal (e.data<int64>().ToArray()) [| 3L |] "near-uniform row is the most uncertain"
            use r1 = AcquisitionFunctions.Select("random", probs, 4, 9L)
            Expect.equal (r1.data<int64>() |> Seq.sort |> Array.ofSeq) [| 0L; 1L; 2L; 3L |] "random is a permutation"
        }
        test "transfer: the source model is one node shared by every arm and fraction" {
            let s = withArms (study "tr" { subset 1000; seeds 2; schedule (transfer fashion_mnist mnist [ 0.1; 0.5; 1.0 ]); arm "f" fresh }) arms3
            let p = Plan.ofStudy s
            Expect.equal p.Variants.Length 3 "a variant per fraction"
            let sources = p.Nodes |> List.filter (fun n -> n.Spec.Dataset = "fashion-mnist")
            Expect.equal sources.Length 2 "one source node per seed"
            Expect.equal (p.Nodes |> List.filter (fun n -> n.Spec.Dataset = "mnist")).Length (2 * 3 * 3) "target nodes: seeds × fractions × arms"
            let n = Plan.nodeIn p "mnist 50%" "warm" 1 2
            Expect.equal n.Spec.Subset (PoolFraction 0.5) "target fraction"
            Expect.equal n.Spec.Parent (Some (Plan.nodeIn p "mnist 50%" "warm" 1 1).Key) "warm from the source model"
        }
        // One case per policy: warm copies the body, shrink-perturb shrinks it; the head stays freshly initialised.
        for policyName, makePolicy, fromFresh, scale in
            [ "warm", (fun () -> WarmPolicy() :> IInitPolicy), 3L, 1.0
              "shrink_perturb 0.5 0", (fun () -> ShrinkPerturbPolicy(0.5, 0.0) :> IInitPolicy), WarmStart.Core.Runs.Seeds.Derive(3L, "fresh-noise"), 0.5 ] do
            test (sprintf "transfer to another class count (%s): the body comes from the parent, the head stays freshly initialised" policyName) {
                use parent = ModelFactory.Create(ModelSpec.Mlp(8), struct (1L, 4L, 4L), 10, 1L)
                let fresh (seed: int64) = ModelFactory.Create(ModelSpec.Mlp(8), struct (1L, 4L, 4L), 5, seed)
                let ctx = StageContext(Parent = parent, Fresh = System.Func<int64, Network>(fresh), Seed = 3L,
                                       Train = fashionMnist.Force().Train, Indices = torch.arange(4L))
                use child = (makePolicy ()).Apply ctx
                // The head is the fresh draw the policy starts from: warm clones into fresh(stage seed), shrink-perturb
                // into fresh(Derive(stage seed, "fresh-noise")).
                use reference = fresh fromFresh
                let p = dict [ for struct (n, t) in parent.named_parameters() -> n, (t :> torch.Tensor) ]
                let r = dict [ for struct (n, t) in reference.named_parameters() -> n, (t :> torch.Tensor) ]
                for struct (name, t) in child.named_parameters() do
                    if name.StartsWith "head" then
                        Expect.equal t.shape[0] 5L "5-class head"
                        Expect.isTrue (same t r[name]) (sprintf "%s is the fresh draw's %s" policyName name)
                    else
                        Expect.isTrue (t.allclose(p[name] * scale)) (sprintf "%s copied from the parent" name)
            }
        test "pretrain_epochs: pre-training is one continued run; stage 2 branches from each length" {
            let s = withArms (study "pe" { subset 1000; seeds 1; schedule (pretrain_epochs [ 2; 4; 6 ]); arm "f" fresh }) arms3
            let p = Plan.ofStudy s
            let pre = p.Nodes |> List.filter (fun n -> n.Stage = 1)
            Expect.equal pre.Length 3 "one node per length"
            Expect.equal [ for n in pre -> n.Spec.Init ] [ (pre.Head.Spec.Init); Continue; Continue ] "continued"
            Expect.equal [ for n in pre -> Option.ofNullable n.Spec.Stop.FixedEpochs ] [ Some 2; Some 4; Some 6 ] "lengths"
            let freshNodes = p.Nodes |> List.filter (fun n -> n.Stage = 2 && n.Arms = [ "fresh" ])
            Expect.equal freshNodes.Length 1 "the fresh arm does not depend on the pre-training length: one node"
            Expect.equal (p.Nodes |> List.filter (fun n -> n.Stage = 2)).Length (1 + 2 * 3) "warm and sp per length"
        }
        test "a continued run equals one long run (same curve and weights)" {
            use d = new TempDir()
            let mk es = study "cont" { subset 600; model (mlp [ 16 ]); seeds 1; threads 1; schedule (pretrain_epochs es); arm "warm" warm }
            // --stack off: continuing a parent's optimiser is the single engine's, so the whole chain is trained by it.
            let o = { Study.defaultOptions with Stack = Executor.StackOff }
            let r = Study.runWith { o with Out = d.Path } (mk [ 2; 4 ])
            let r4 = Study.runWith { o with Out = System.IO.Path.Combine(d.Path, "other") } (mk [ 4 ])
            let cont = r.Results[(Plan.nodeIn r.Plan "pretrain 4 epochs" "warm" 0 1).Key]
            let long = r4.Results[(Plan.nodeIn r4.Plan "pretrain 4 epochs" "warm" 0 1).Key]
            Expect.equal cont.Epochs 4 "four epochs in all"
            Expect.equal [ for e in cont.Curve -> e.Loss ] [ for e in long.Curve -> e.Loss ] "identical curve"
            Expect.equal cont.TestAccuracy long.TestAccuracy "identical model"
        }
        test "sweeps form a grid of variants; nodes a knob does not touch are shared" {
            let s =
                study "sw" {
                    subset 1000; seeds 2
                    arm "fresh" fresh
                    arm "sp" (shrink_perturb 0.6 0.01)
                    sweep "shrink" [ 0.2; 0.4; 0.6 ]
                    sweep "perturb" [ 0.0; 0.01 ]
                }
            let p = Plan.ofStudy s
            Expect.equal p.Variants.Length 6 "3 × 2 grid"
            Expect.equal (p.Nodes |> List.filter (fun n -> n.Stage = 1)).Length 2 "stage 1 shared by the whole grid"
            Expect.equal (p.Nodes |> List.filter (fun n -> n.Arms = [ "fresh" ])).Length 2 "fresh untouched by the knobs"
            Expect.equal (p.Nodes |> List.filter (fun n -> n.Arms = [ "sp" ])).Length (6 * 2) "an sp node per combination and seed"
            let lr = study "lr" { subset 1000; seeds 1; arm "fresh" fresh; arm "warm" warm; sweep "lr" [ 1e-3; 1e-2 ]; sweep "batch_size" [ 32.0; 64.0 ] }
            let pl = Plan.ofStudy lr
            Expect.equal pl.Variants.Length 4 "2 × 2"
            Expect.equal pl.Nodes.Length (4 * 3) "nothing shared when the knob changes stage 1"
            Expect.throwsT<StudyValidationError> (fun () -> study "x" { arm "w" warm; sweep "colour" [ 1.0 ] } |> ignore) "unknown knob"
            Expect.throwsT<StudyValidationError> (fun () -> study "x" { arm "w" warm; sweep "batch_size" [ 1.5 ] } |> ignore) "whole batch sizes"
            Expect.throwsT<StudyValidationError> (fun () -> study "x" { arm "w" warm; sweep "shrink" [ 0.5 ] } |> ignore) "no sp arm to shrink"
        }
        test "an online study and an active study run end to end in quick mode" {
            use d = new TempDir()
            let o = { Study.defaultOptions with Out = d.Path; Quick = true }
            let on = Study.runWith o (study "on" { model (mlp [ 16 ]); seeds 1; threads 1; quick_subset 900; schedule (online (chunk 300)); arm "fresh" fresh; arm "warm" warm })
            Expect.equal [ for x in Summary.rows on |> List.filter (fun x -> x.Arm = "warm") -> x.TrainSize ] [ 300L; 600L; 900L ] "round sizes"
            let ac = Study.runWith o (study "ac" { model (mlp [ 16 ]); seeds 1; threads 1; quick_subset 900; schedule (active (chunk 300) margin); arm "fresh" fresh; arm "warm" warm })
            let rows = Summary.rows ac
            Expect.equal [ for x in rows |> List.filter (fun x -> x.Arm = "warm") -> x.TrainSize ] [ 300L; 600L; 900L ] "labelled sizes"
            let store = WarmStart.Core.Runs.ResultStore(d.Path)
            let subsetOf arm t = NodeStore.tryReadSubset store (Plan.nodeAt ac.Plan arm 0 t).Key |> Option.get
            let r1, r2 = subsetOf "warm" 1, subsetOf "warm" 2
            Expect.equal r2[0 .. 299] r1 "round 2 keeps round 1's labels"
            Expect.equal (Array.distinct r2).Length 600 "and adds 300 new ones"
        }
    ]
