/// Progress of `warmstart run`: plain lines when stdout is not a terminal (CI logs, pipes), and a live display when it
/// is — run under a pseudo-terminal (`script` from util-linux): one row per running node, labelled with arm, stage,
/// seed and sweep variant, and finished nodes folded into one count line.
module WarmStart.Tests.Cli.ProgressTests

open System
open System.IO
open System.Text.RegularExpressions
open System.Threading
open Expecto
open WarmStart
open WarmStart.Tests
open WarmStart.Tests.Fixtures

/// A study of 6 nodes (2 lr variants × (a shared stage 1, fresh and warm stage 2)), long enough per node (about a
/// second) for a live display to draw its rows.
let private sweepStudy (dir: string) =
    writeStudyScript dir "progress.fsx" "progress"
        "subset 3000\nmodel (mlp [ 64 ])\nepochs 4\nseeds 1\nthreads 1\nschedule (fractions [ 0.5; 1.0 ])\nsweep Knob.Lr [ 1e-3; 2e-3 ]\narm \"fresh\" fresh\narm \"warm\" warm"

[<Tests>]
let tests =
    testList "cli.progress" [
        test "plain lines: workers finishing at once still write [1/N], [2/N], … in order" {
            // Eight threads finish the quickstart's 20 nodes at once; each write yields mid-way, as a console write
            // under load can, so a count taken apart from its write would reach the log out of order.
            let nodes = (Plan.ofStudy (Studies.quickstartStudy ())).Nodes
            let lines = Collections.Generic.List<string>()
            let write (l: string) =
                Thread.Sleep(Random.Shared.Next 2)
                lock lines (fun () -> lines.Add l)
            let sink = Progress.PlainSink(nodes.Length, write, TimeSpan.Zero) :> Progress.IProgressSink
            use start = new Barrier(8)
            let threads =
                [ for w in 0 .. 7 ->
                    Thread(fun () ->
                        start.SignalAndWait()
                        for n in nodes |> List.indexed |> List.filter (fun (i, _) -> i % 8 = w) |> List.map snd do
                            sink.Finished(n, Skipped "test", None)) ]
            for t in threads do t.Start()
            for t in threads do t.Join()
            let counts = [ for l in lines -> Regex.Match(l, sprintf @"^\[(\d+)/%d\] [0-9a-f]{8} stage" nodes.Length).Groups[1].Value |> int ]
            Expect.equal counts [ 1 .. nodes.Length ] "counted in the order written"
        }
        test "not a terminal: one plain line per node, labels with arm, stage, seed and variant, no escape codes" {
            // WARMSTART_PLAIN unset: plain lines because stdout is a pipe. WARMSTART_TTY=1 inherited from outside is
            // dropped by the CLI, whose own stdout is not a terminal.
            use d = new TempDir()
            let script = sweepStudy d.Path
            let code, out, err =
                Processes.runWithin (Processes.defaultLimit ()) [ "WARMSTART_TTY", "1"; "WARMSTART_PLAIN", "" ] "dotnet"
                    [ cliDll (); "run"; script; "--out"; d.File "store" ]
            Expect.equal code 0 (out + err)
            Expect.isFalse (out.Contains "\u001b") "no terminal escape codes"
            let lines = out.Split('\n') |> Array.filter (fun l -> Regex.IsMatch(l, @"^\[\d/6\] [0-9a-f]{8} stage \d seed 0 \("))
            Expect.equal lines.Length 6 (sprintf "one line per node:\n%s" out)
            Expect.equal (lines |> Array.map (fun l -> l.Substring(1, 1))) [| "1"; "2"; "3"; "4"; "5"; "6" |] "counted in order"
            Expect.exists lines (fun l -> l.Contains "stage 2 seed 0 (warm) [lr=0.002]:") "the variant in the label"
            Expect.stringContains out "nodes: 6 trained, 0 cached, 0 diverged, 0 failed" "the tally"
        }
        test "a terminal (pseudo-terminal via script): live rows per running node, the folded count, exit 0" {
            use d = new TempDir()
            let script = sweepStudy d.Path
            let quote (s: string) = "'" + s.Replace("'", "'\\''") + "'"
            let command =
                sprintf "stty cols 200 rows 40; dotnet %s run %s --out %s" (quote (cliDll ())) (quote script) (quote (d.File "store"))
            // -e: script exits with the command's code; the typescript goes to /dev/null, the terminal's output to stdout.
            let code, out, err =
                Processes.runWithin (Processes.defaultLimit ()) [ "TERM", "xterm"; "WARMSTART_PLAIN", "" ] "script" [ "-qec"; command; "/dev/null" ]
            Expect.equal code 0 (out + err)
            Expect.stringContains out "\u001b[" "drawn with terminal escape codes"
            Expect.isFalse (Regex.IsMatch(out, @"\[\d/6\] [0-9a-f]{8} stage")) "no plain per-node lines"
            Expect.isMatch out @"[0-9a-f]{8} stage 2 seed 0 \((fresh|warm)\) \[lr=0\.00[12]\]" "a live row labelled with arm, stage, seed and variant"
            Expect.isMatch out @"stage \d seed 0 \([^)]*\)( \[[^]]*\])? epoch \d/4, train acc" "a live row's epoch and accuracy"
            Expect.isMatch out @"nodes: [1-5]/6 done \(\d trained, 0 cached\)" "finished nodes folded into the count line while others run"
            Expect.stringContains out "nodes: 6 trained, 0 cached, 0 diverged, 0 failed" "the tally at the end"
        }
    ]
