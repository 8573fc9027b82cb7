/// The `--jobs auto` rule (`Parallelism.choose`): small models on the CPU train a node per core with one torch
/// thread each; ResNets and CUDA devices train one node at a time; explicit jobs and threads keep their meaning.
module WarmStart.Tests.Dsl.ParallelismTests

open Expecto
open WarmStart
open WarmStart.Core.Runs
open WarmStart.Tests
open WarmStart.Tests.Fixtures

let private small = [ ModelKind.Mlp; ModelKind.LogisticRegression; ModelKind.SmallCnn ]
let private auto = Parallelism.AutoJobs

/// (jobs, threads) of a choice, for compact expectations.
let private pair (c: Parallelism.Choice) = c.Jobs, c.Threads

[<Tests>]
let tests =
    testList "dsl.parallelism" [
        test "auto on the CPU with small models: a worker per core, one torch thread each (cores 1, 2, 8)" {
            for cores in [ 1; 2; 8 ] do
                for kinds in [ small; [ ModelKind.Mlp ]; [ ModelKind.LogisticRegression ]; [ ModelKind.SmallCnn ] ] do
                    Expect.equal (pair (Parallelism.choose Device.Cpu cores kinds auto 0)) (cores, 1) (sprintf "%d cores, %A" cores kinds)
        }
        test "auto with a ResNet-size model anywhere in the plan: one worker with every core" {
            for cores in [ 1; 2; 8 ] do
                for big in [ ModelKind.ResNet18; ModelKind.ResNet18Dash ] do
                    Expect.equal (pair (Parallelism.choose Device.Cpu cores [ big ] auto 0)) (1, cores) (sprintf "%d cores, %A" cores big)
                    Expect.equal (pair (Parallelism.choose Device.Cpu cores (ModelKind.Mlp :: [ big ]) auto 0)) (1, cores) "mixed plan"
        }
        test "auto on a CUDA device: one worker, whatever the models" {
            for device in [ Device.Cuda None; Device.Cuda(Some 1) ] do
                Expect.equal (pair (Parallelism.choose device 8 small auto 0)) (1, 8) (sprintf "%A, small models" device)
                Expect.equal (pair (Parallelism.choose device 8 [ ModelKind.ResNet18 ] auto 3)) (1, 3) (sprintf "%A, threads set" device)
        }
        test "auto with threads set (--threads N, a study's threads, --quick's 1): cores / threads workers of N threads" {
            Expect.equal (pair (Parallelism.choose Device.Cpu 8 small auto 1)) (8, 1) "one thread: a worker per core"
            Expect.equal (pair (Parallelism.choose Device.Cpu 8 small auto 2)) (4, 2) "two threads: four workers"
            Expect.equal (pair (Parallelism.choose Device.Cpu 2 small auto 4)) (1, 4) "more threads than cores: one worker"
            Expect.equal (pair (Parallelism.choose Device.Cpu 8 [ ModelKind.ResNet18 ] auto 2)) (1, 2) "ResNet: one worker of the threads asked for"
        }
        test "explicit --jobs keeps its meaning: N workers, threads as set, else cores / N (at least 1)" {
            Expect.equal (pair (Parallelism.choose Device.Cpu 2 small 1 0)) (1, 2) "--jobs 1 on 2 cores: the old default"
            Expect.equal (pair (Parallelism.choose Device.Cpu 8 small 2 0)) (2, 4) "--jobs 2 on 8 cores"
            Expect.equal (pair (Parallelism.choose Device.Cpu 2 small 4 0)) (4, 1) "more jobs than cores"
            Expect.equal (pair (Parallelism.choose Device.Cpu 2 small 2 1)) (2, 1) "--jobs 2 --threads 1 (the results page)"
            Expect.equal (pair (Parallelism.choose Device.Cpu 8 [ ModelKind.ResNet18 ] 3 0)) (3, 2) "ResNet with --jobs 3"
            Expect.equal (pair (Parallelism.choose (Device.Cuda None) 8 small 2 0)) (2, 4) "CUDA with --jobs 2"
            Expect.equal (pair (Parallelism.choose Device.Cpu 0 small auto 0)) (1, 1) "no usable core read: one"
        }
        test "the defaults are auto; --jobs takes auto or N ≥ 1, and a bad value names the option and what is allowed" {
            Expect.equal StudyOptions.defaults.Jobs Parallelism.AutoJobs "auto by default"
            let parse argv = StudyOptions.parse argv
            match parse [| "--jobs"; "auto" |], parse [| "--jobs"; "3" |] with
            | RunWith a, RunWith n -> Expect.equal (a.Jobs, n.Jobs) (Parallelism.AutoJobs, 3) "auto and 3"
            | other -> failtestf "expected options, got %A" other
            for bad in [ "0"; "-1"; "many" ] do
                match parse [| "--jobs"; bad |] with
                | BadOptions e ->
                    Expect.stringContains e (sprintf "option --jobs: '%s' is not allowed" bad) "names option and value"
                    Expect.stringContains e "allowed: auto, or a node count N ≥ 1" "what is allowed"
                | other -> failtestf "--jobs %s: expected an error, got %A" bad other
            match parse [| "--help" |] with
            | HelpRequested usage -> Expect.stringContains usage "auto (default)" "the usage says auto is the default"
            | other -> failtestf "expected help, got %A" other
        }
        test "a plan's choice: its models and the study's threads, on this process's cores" {
            let cores = WarmStart.Core.Native.Threads.AvailableCores()
            let mlpPlan = Plan.ofStudy (study "p" { model (mlp [ 8 ]); seeds 1; arm "fresh" fresh })
            Expect.equal (pair (Parallelism.forPlan Device.Cpu auto mlpPlan)) (cores, 1) "MLP plan"
            let threaded = Plan.ofStudy (study "p" { model (mlp [ 8 ]); seeds 1; threads 1; arm "fresh" fresh })
            Expect.equal (pair (Parallelism.forPlan Device.Cpu auto threaded)) (cores, 1) "threads 1"
            let resnet = Plan.ofStudy (study "r" { data cifar10; model (resnet18 16); seeds 1; arm "fresh" fresh })
            Expect.equal (pair (Parallelism.forPlan Device.Cpu auto resnet)) (1, cores) "ResNet plan"
            Expect.stringContains (Parallelism.describe (Parallelism.forPlan Device.Cpu auto mlpPlan)) "one thread per worker" "says why"
        }
        ]

[<Tests>]
let runTests =
    withoutRetries <| testSequenced (testList "dsl.parallelism.run" [
        test "a default run of a small-model study trains every node on one torch thread, with the numbers of --jobs 1 --threads 1" {
            use d = new TempDir()
            // No `threads` in the study: the defaults decide.
            let s = study "auto-jobs" { subset 600; model (mlp [ 16 ]); optimizer (adam 1e-3); epochs 2; seeds 2; arm "fresh" fresh; arm "warm" warm }
            let auto = Study.runWith { Study.defaultOptions with Out = d.File "auto" } s
            let st = ResultStore(d.File "auto")
            for n in auto.Plan.Nodes do
                Expect.equal (NodeStore.tryProvenance st n.Key).Value.TorchThreads 1 (sprintf "node %s: one torch thread" (n.Key.Substring(0, 8)))
            let one = Study.runWith { Study.defaultOptions with Out = d.File "one"; Jobs = 1; Threads = Some 1 } s
            Expect.equal auto.Results.Count 6 "every node trained"
            for KeyValue(k, x) in auto.Results do
                let y = one.Results[k]
                Expect.equal (x.TestAccuracy, x.TrainLoss, x.Epochs) (y.TestAccuracy, y.TrainLoss, y.Epochs) (sprintf "node %s: same numbers" (k.Substring(0, 8)))
        }
    ])
