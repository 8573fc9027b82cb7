/// Benchmarks of the toolkit: `dotnet run --project bench -c Release -- data [--threads N]`.
module WarmStart.Bench.Program

[<EntryPoint>]
let main argv =
    let arg name fallback =
        match Array.tryFindIndex ((=) name) argv with
        | Some i when i + 1 < argv.Length -> argv[i + 1]
        | _ -> fallback
    match argv |> Array.tryHead with
    | Some "data" -> DataBench.run (int (arg "--threads" "0")) (Array.contains "--keep" argv)
    | Some "engine" -> EngineBench.run (Array.contains "--keep" argv)
    | _ ->
        eprintfn "usage: WarmStart.Bench data [--threads N] [--keep] | engine [--keep]"
        eprintfn "  data   reading 60 000 CIFAR-10 records, batching + augmentation epoch vs a small CNN's training epoch"
        eprintfn "  engine trainer vs bare loop, shared nodes vs naive driver, cached rerun cost, --jobs 2 vs 1"
        2
