module WarmStart.Tests.Main

open System
open Expecto
open Expecto.Impl

/// Test-name prefixes whose skips are allowed: every `--allow-skip PREFIX` (repeatable; removed before Expecto
/// reads the arguments) and the comma-separated `WARMSTART_ALLOW_SKIP`. Anything else skipped fails the run.
let private allowedSkips (argv: string[]) =
    let rec go acc rest =
        match rest with
        | "--allow-skip" :: p :: tail -> go (p :: acc) tail
        | [ "--allow-skip" ] -> failwith "--allow-skip needs a test-name prefix, e.g. --allow-skip slurm"
        | a :: tail -> let ps, others = go acc tail in ps, a :: others
        | [] -> acc, []
    let fromArgs, rest = go [] (List.ofArray argv)
    let fromEnv =
        match Environment.GetEnvironmentVariable "WARMSTART_ALLOW_SKIP" with
        | null -> []
        | v -> v.Split(',', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries) |> List.ofArray
    fromArgs @ fromEnv, Array.ofList rest

/// Runs every [<Tests>] value in this assembly with Expecto's CLI flags (--filter, --list, --sequenced,
/// --junit-summary …) and ends with one plain line, `N passed, N failed, N skipped`, for CI. The run fails on
/// any failure, on a focused test (`ftest`), and on a skipped test whose name is not allowed by `--allow-skip`.
[<EntryPoint>]
let main argv =
    let allowed, argv = allowedSkips argv
    WarmStart.Runtime.init 1
    let mutable summary : TestRunSummary option = None
    let config =
        [ CLIArguments.Fail_On_Focused_Tests
          CLIArguments.Append_Summary_Handler(SummaryHandler(fun s -> summary <- Some s)) ]
    let code = runTestsInAssemblyWithCLIArgs config argv
    match summary with
    | Some s ->
        let failed = s.failed.Length + s.errored.Length + s.timedOut.Length
        let name (t: FlatTest) = String.Join(".", t.name)
        let skippedNotAllowed =
            s.ignored |> List.filter (fun (t, _) -> not (allowed |> List.exists (fun p -> (name t).StartsWith(p, StringComparison.Ordinal))))
        // Expecto's console logger finishes on its own thread (colour reset, padding): let it drain, then
        // write the tally as one call on a line of its own so CI can read it.
        Threading.Thread.Sleep 300
        Console.Out.Flush()
        // Expecto reports a failure when it happens, which in a long CI log scrolls out of the part that is kept;
        // repeat each one, briefly, just above the tally.
        let brief (text: string) =
            let lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries)
            let kept = String.Join(" | ", Array.truncate 4 lines)
            if kept.Length > 500 then kept.Substring(0, 500) + " …" else kept
        for t, r in s.failed @ s.errored do
            let why =
                match r.result with
                | Failed msg -> brief msg
                | Error e -> brief (sprintf "%s: %s" (e.GetType().Name) e.Message)
                | other -> brief (string other)
            Console.Out.Write(sprintf "\nFAILED %s: %s" (name t) why)
        for t in s.timedOut do
            Console.Out.Write(sprintf "\nFAILED %s: timed out" (name t))
        Console.Out.Write(sprintf "\n%d passed, %d failed, %d skipped\n" s.passed.Length failed s.ignored.Length)
        Console.Out.Flush()
        for t, r in skippedNotAllowed do
            let why = match r.result with Ignored why -> why | other -> string other
            eprintfn "skipped and not allowed (--allow-skip PREFIX to allow): %s: %s" (name t) why
        // A filter that matches nothing must not look like success.
        if s.passed.Length + failed + s.ignored.Length = 0 && not (Array.contains "--list" argv) then
            eprintfn "no test ran"
            1
        elif code = 0 && not skippedNotAllowed.IsEmpty then 1
        else code
    | None -> code
