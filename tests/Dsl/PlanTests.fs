module WarmStart.Tests.Dsl.PlanTests

open Expecto
open WarmStart
open WarmStart.Canonical

let private halfThenAll arms (n: int) =
    let s = study "plan" { seeds n; arm "fresh" fresh }
    { s with Arms = arms |> List.map (fun (n, a) -> { (a: ArmDef) with Name = n }) } |> Validate.orRaise

let private threeArms = [ "fresh", fresh; "warm", warm; "sp", shrink_perturb 0.6 0.01 ]

let private keysOf (p: StudyPlan) = p.Nodes |> List.map (fun n -> n.Key) |> Set.ofList

[<Tests>]
let tests =
    testList "dsl.plan" [
        test "canonical JSON is compact and its hash is SHA-256 of that text" {
            let j = JObj [ "a", JArr [ JInt 1L; JNum 0.5; JStr "x"; JNull; JBool true ] ]
            Expect.equal (render j) """{"a":[1,0.5,"x",null,true]}""" "canonical text"
            Expect.equal (hash j) "e45522bbb769145c60c09e4a47a48f685d918a9d637689db760854f4407e1f7f" "SHA-256 (python hashlib)"
            Expect.equal (render (JNum 1.0)) "1" "1.0 renders as 1"
            Expect.notEqual (render (JNum 0.1)) (render (JNum 0.1000000001)) "round-trip precision"
        }
        for k in 1 .. 3 do
            for s in [ 1; 2; 5 ] do
                test (sprintf "%d arms × %d seeds: s shared stage-1 nodes + k·s stage-2 nodes" k s) {
                    let p = Plan.ofStudy (halfThenAll (List.take k threeArms) s)
                    Expect.equal p.Nodes.Length (s + k * s) "node count"
                    let stage1 = p.Nodes |> List.filter (fun n -> n.Stage = 1)
                    Expect.equal stage1.Length s "one stage-1 node per seed"
                    for n in stage1 do Expect.equal n.Arms.Length k "used by every arm"
                    Expect.equal (Plan.shared p).Length (if k > 1 then s else 0) "shared count"
                    Expect.equal p.Chains.Count (k * s) "a chain per arm and seed"
                    for KeyValue(_, chain) in p.Chains do Expect.equal chain.Length 2 "two stages"
                }
        test "nodes come in dependency order" {
            let p = Plan.ofStudy { halfThenAll threeArms 2 with Schedule = Fractions [ 0.25; 0.5; 1.0 ] }
            let seen = System.Collections.Generic.HashSet<string>()
            for n in p.Nodes do
                n.Spec.Parent |> Option.iter (fun par -> Expect.isTrue (seen.Contains par) "parent first")
                seen.Add n.Key |> ignore
        }
        test "pairing: every arm of a seed shares split, order and stage-1 model; seeds differ" {
            let p = Plan.ofStudy (halfThenAll threeArms 3)
            for i in 0 .. 2 do
                let stage2 = [ for (a, _) in threeArms -> Plan.nodeAt p a i 2 ]
                let stage1 = [ for (a, _) in threeArms -> (Plan.nodeAt p a i 1).Key ] |> List.distinct
                Expect.equal stage1.Length 1 "one stage-1 model"
                Expect.equal (stage2 |> List.map (fun n -> n.Spec.PoolSeed) |> List.distinct).Length 1 "same pool"
                Expect.equal (stage2 |> List.map (fun n -> n.Spec.OrderSeed) |> List.distinct).Length 1 "same order"
                for n in stage2 do
                    if n.Arms <> [ "fresh" ] then Expect.equal n.Spec.Parent (Some stage1.Head) "warm-started from it"
            let pools = [ for i in 0 .. 2 -> (Plan.nodeAt p "warm" i 1).Spec.PoolSeed ]
            Expect.equal (List.distinct pools).Length 3 "seeds differ"
        }
        test "a fresh arm's later stages depend on no parent" {
            let p = Plan.ofStudy (halfThenAll threeArms 1)
            let n = Plan.nodeAt p "fresh" 0 2
            Expect.isNone n.Spec.Parent "no parent"
            Expect.isTrue (match n.Spec.Init with Root _ -> true | _ -> false) "fresh init"
        }
        test "keys are stable: the same study plans to the same keys, whatever the study or arm is called" {
            let a = Plan.ofStudy (halfThenAll threeArms 2)
            let b = Plan.ofStudy { halfThenAll threeArms 2 with Study.Name = "renamed" }
            Expect.equal (keysOf a) (keysOf b) "same content, same keys"
            let renamedArm = Plan.ofStudy (halfThenAll [ "fresh", fresh; "warm-start", warm; "sp", shrink_perturb 0.6 0.01 ] 2)
            Expect.equal (keysOf a) (keysOf renamedArm) "arm names are labels, not content"
        }
        test "keys are sensitive to every setting that changes training" {
            let baseKeys = keysOf (Plan.ofStudy (halfThenAll threeArms 1))
            let changed (f: Study -> Study) = keysOf (Plan.ofStudy (f (halfThenAll threeArms 1)))
            let variants : (string * (Study -> Study)) list =
                [ "lr", (fun s -> { s with Optimizer = adam 2e-3 })
                  "batch", (fun s -> { s with BatchSize = 64 })
                  "seed", (fun s -> { s with Seed = 1L })
                  "model", (fun s -> { s with Model = mlp [ 100; 50 ] })
                  "stop", (fun s -> { s with Stop = WarmStart.Core.Training.StopRule(s.Stop.FixedEpochs, 0.98, s.Stop.MaxEpochs, s.Stop.Patience) })
                  "subset", (fun s -> { s with Subset = Some 1000 })
                  "data", (fun s -> { s with Data = mnist })
                  "normalisation", (fun s -> { s with Data = { s.Data with HalfNormalization = true } }) ]
            for name, f in variants do
                Expect.isTrue (Set.intersect baseKeys (changed f)).IsEmpty (sprintf "%s changes every key" name)
            // The first fraction changes stage 1 and every chain built on it, but not a fresh arm's full-data node.
            let fr = changed (fun s -> { s with Schedule = Fractions [ 0.4; 1.0 ] })
            Expect.equal (Set.intersect baseKeys fr).Count 1 "only the fresh stage-2 node survives a new first fraction"
            let lambdaChanged = changed (fun s -> { s with Arms = [ { s.Arms[2] with Policy = ShrinkPerturb(0.5, 0.01, Gaussian) } ] })
            Expect.equal (Set.difference lambdaChanged baseKeys).Count 1 "λ changes only the sp node"
        }
        test "adding an arm or a seed keeps every existing key" {
            let small = keysOf (Plan.ofStudy (halfThenAll (List.take 2 threeArms) 2))
            let more = keysOf (Plan.ofStudy (halfThenAll threeArms 3))
            Expect.isTrue (Set.isSubset small more) "old nodes reused"
        }
        test "a child's key depends on its parent's key" {
            let p1 = Plan.ofStudy (halfThenAll threeArms 1)
            let p2 = Plan.ofStudy { halfThenAll threeArms 1 with StageOverrides = [] ; Stop = WarmStart.Core.Training.StopRule.UntilTrainAccuracy(0.99, 199) }
            let warm1 = Plan.nodeAt p1 "warm" 0 2
            let warm2 = Plan.nodeAt p2 "warm" 0 2
            Expect.notEqual warm1.Spec.Parent warm2.Spec.Parent "parents differ"
            Expect.notEqual warm1.Key warm2.Key "so do the children"
        }
        test "overrides: stage_lr applies from its stage; an arm's own lr wins; stage 1 stays shared" {
            let s =
                study "o" {
                    schedule (fractions [ 0.25; 0.5; 1.0 ])
                    seeds 1
                    arm "warm" warm
                    arm "warm-fast" (warm |> with_lr 0.1 |> with_batch_size 32)
                    stage_lr 3 0.01
                }
            let p = Plan.ofStudy s
            let lr arm t = (Plan.nodeAt p arm 0 t).Spec.Optimizer.Lr
            let bs arm t = (Plan.nodeAt p arm 0 t).Spec.BatchSize
            Expect.equal [ lr "warm" 1; lr "warm" 2; lr "warm" 3 ] [ 1e-3; 1e-3; 0.01 ] "stage override from 3"
            Expect.equal [ lr "warm-fast" 1; lr "warm-fast" 2; lr "warm-fast" 3 ] [ 1e-3; 0.1; 0.1 ] "arm override after stage 1"
            Expect.equal [ bs "warm-fast" 1; bs "warm-fast" 2 ] [ 128; 32 ] "arm batch size"
            Expect.equal (Plan.nodeAt p "warm" 0 1).Key (Plan.nodeAt p "warm-fast" 0 1).Key "stage 1 shared"
        }
        test "quick mode caps pool, epochs and seeds" {
            let q = Study.quick (halfThenAll threeArms 5)
            Expect.equal q.Subset (Some 2000) "pool"
            Expect.equal q.Stop.MaxEpochs 3 "epochs"
            Expect.equal q.Seeds 2 "seeds"
        }
        test "describe names the shared nodes and each arm's chain" {
            let text = Plan.describe (Plan.ofStudy (halfThenAll threeArms 2))
            Expect.stringContains text "8 training nodes (a run per arm would train 12)" "totals"
            Expect.stringContains text "2 shared by several arms" "shared"
            Expect.stringContains text "shared: fresh, warm, sp" "stage-1 node"
            Expect.stringContains text "shrink_perturb λ=0.6 σ=0.01 from" "policy"
        }
    ]
