/// glibc malloc tuning (core/Native/MallocTuning.cs): freed tensor memory stays in the heap of a worker thread, so
/// a training step does not fault its temporaries in again every time.
module WarmStart.Tests.Native.MallocTuningTests

open System
open System.IO
open System.Text.RegularExpressions
open Expecto
open WarmStart.Core.Native
open WarmStart.Tests
open WarmStart.Tests.Fixtures

/// Runs tests/scripts/malloc-faults.fsx with `env`: (page faults and seconds of its second epoch, MallocTuning's report).
let private faultsWith (env: (string * string) list) =
    let script = Path.Combine(repoRoot.Force(), "tests", "scripts", "malloc-faults.fsx")
    let code, out, err = Processes.runWithin (Processes.defaultLimit ()) env "dotnet" [ "fsi"; "--quiet"; script ]
    Expect.equal code 0 (sprintf "fsi exit code; stdout: %s stderr: %s" out err)
    let m = Regex.Match(out, @"second epoch: (\d+) page faults, ([0-9.]+) s")
    let faults, seconds = int64 m.Groups[1].Value, float m.Groups[2].Value
    let report = Regex.Match(out, @"malloc: (.*)").Groups[1].Value.Trim()
    faults, seconds, report

[<Tests>]
let tests =
    testList "native.malloc" [
        test "this process runs with the tuning, unless the user set glibc's own MALLOC_ variables" {
            TorchRuntime.EnsureLoaded()
            let own = MallocTuning.GlibcVariables |> Seq.filter (fun v -> not (String.IsNullOrEmpty(NativeEnvironment.Get v)))
            if Seq.isEmpty own && Environment.GetEnvironmentVariable "WARMSTART_MALLOC" <> "default" then
                Expect.isTrue MallocTuning.Applied MallocTuning.Report
                Expect.stringContains MallocTuning.Report "trim threshold 1024 MB" "the values, in the report"
            else
                Expect.isFalse MallocTuning.Applied (sprintf "the user's choice stands: %s" MallocTuning.Report)
        }
        test "a stack of 16 MLPs on a worker thread: its step's freed temporaries are not faulted in again" {
            // Two child processes, identical but for WARMSTART_MALLOC; the user's own MALLOC_ variables removed.
            let clear = [ for v in MallocTuning.GlibcVariables -> v, null ]
            let tuned, tunedSeconds, tunedReport = faultsWith (clear @ [ "WARMSTART_MALLOC", null ])
            let plain, plainSeconds, plainReport = faultsWith (clear @ [ "WARMSTART_MALLOC", "default" ])
            printfn "native.malloc: stacked MLP epoch (S = 16, 16 steps) on a worker thread: %d page faults and %.2f s tuned, %d and %.2f s with glibc's defaults"
                tuned tunedSeconds plain plainSeconds
            Expect.stringStarts tunedReport "applied" "tuned child"
            Expect.stringStarts plainReport "not applied: WARMSTART_MALLOC=default" "opt-out child"
            // Measured: 5,700–7,900 faults tuned (the epoch's new flat buffers), 35,000–74,000 by default.
            Expect.isGreaterThan plain (3L * tuned) "glibc's defaults give the freed temporaries back and fault them in again"
        }
    ]
