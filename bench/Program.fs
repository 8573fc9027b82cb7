module WarmStart.Bench.Program

/// Subcommands: name → (one-line help, entry point taking the remaining arguments, returning an exit code).
/// Add a subcommand by adding a file with its entry point and a line here.
let private commands : (string * (string * (string[] -> int))) list =
    [ "models", ("training step time of the model zoo and the gradient-norm diagnostic's overhead", ModelBench.run) ]

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
