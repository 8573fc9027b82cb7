/// Benchmarks of the toolkit: `dotnet bench/bin/Release/net10.0/WarmStart.Bench.dll <subcommand> [options]`.
module WarmStart.Bench.Program

let private arg (argv: string[]) name fallback =
    match Array.tryFindIndex ((=) name) argv with
    | Some i when i + 1 < argv.Length -> argv[i + 1]
    | _ -> fallback

/// Subcommands: name → (one-line help, entry point taking the remaining arguments, returning an exit code).
/// Add a subcommand by adding a file with its entry point and a line here.
let private commands : (string * (string * (string[] -> int))) list =
    [ "data", ("reading 60 000 CIFAR-10 records, batching + augmentation epoch vs a small CNN's training epoch [--threads N] [--keep]",
               fun a -> DataBench.run (int (arg a "--threads" "0")) (Array.contains "--keep" a))
      "models", ("training step time of the model zoo and the gradient-norm diagnostic's overhead", ModelBench.run)
      "engine", ("trainer vs bare loop, shared nodes vs naive driver, cached rerun cost, --jobs 2 vs 1 [--keep]",
                 fun a -> EngineBench.run (Array.contains "--keep" a))
      "plasticity", ("random-label task stream × arms × seeds, timed [--tasks 50] [--epochs 20] [--seeds 5] [--jobs 2] [--arms a,b] [--lr 1e-3]",
                     PlasticityBench.run)
      "stacked", ("S models as one stacked model vs S single-trainer runs, S = 1…16, 1 and 2 threads [--epochs N] [--quick]", StackedBench.run)
      "load", ("a sweep of tiny MLP trainings quiet and beside two busy processes, default workers and threads [--nodes N] [--jobs N] [--threads N]", LoadBench.run) ]

[<EntryPoint>]
let main argv =
    match List.ofArray argv with
    | name :: rest when commands |> List.exists (fun (n, _) -> n = name) ->
        let _, (_, run) = commands |> List.find (fun (n, _) -> n = name)
        run (Array.ofList rest)
    | _ ->
        eprintfn "usage: WarmStart.Bench <subcommand> [options]"
        for n, (help, _) in commands do eprintfn "  %-8s %s" n help
        2
