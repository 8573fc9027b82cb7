module WarmStart.Tests.Main

open Expecto
open Expecto.Impl

/// Runs every [<Tests>] value in this assembly with Expecto's CLI flags (--filter, --list, --sequenced,
/// --junit-summary …) and ends with one plain line, `N passed, N failed`, for CI.
[<EntryPoint>]
let main argv =
    WarmStart.Runtime.init 1
    let mutable summary : TestRunSummary option = None
    let config = [ CLIArguments.Append_Summary_Handler(SummaryHandler(fun s -> summary <- Some s)) ]
    let code = runTestsInAssemblyWithCLIArgs config argv
    match summary with
    | Some s ->
        let failed = s.failed.Length + s.errored.Length
        // Expecto's console logger finishes on its own thread (colour reset, padding): let it drain, then
        // write the tally as one call on a line of its own so CI can read it.
        System.Threading.Thread.Sleep 300
        System.Console.Out.Flush()
        System.Console.Out.Write(sprintf "\n%d passed, %d failed\n" s.passed.Length failed)
        System.Console.Out.Flush()
        // A filter that matches nothing must not look like success.
        if s.passed.Length + failed = 0 && not (Array.contains "--list" argv) then
            eprintfn "no test ran"
            1
        else code
    | None -> code
