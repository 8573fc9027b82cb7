/// Progress of an execution: Spectre.Console bars in a terminal, plain one-line updates otherwise (CI logs,
/// pipes), and the final tally line `nodes: N trained, N cached, N diverged, N failed` (`, N skipped`, `, N retried`
/// when any).
module WarmStart.Progress

open System
open System.Diagnostics
open System.Collections.Concurrent
open Spectre.Console
open WarmStart.Core.Training

/// Receives execution events; implementations must be thread-safe (workers call them concurrently).
type IProgressSink =
    abstract Started: PlanNode -> unit
    abstract Epoch: PlanNode * EpochRecord -> unit
    abstract Finished: PlanNode * NodeStatus * NodeResult option -> unit

/// "6c084a39 stage 2 seed 1 (warm)", with the sweep variant when the study has several: "… (warm) [lr=0.01]" (a
/// node shared by several variants: "[3 variants]").
let label (n: PlanNode) =
    let variant =
        match n.Variants |> List.filter (fun v -> v <> "") with
        | [] -> ""
        | [ v ] -> sprintf " [%s]" v
        | vs -> sprintf " [%d variants]" vs.Length
    sprintf "%s stage %d seed %d (%s)%s" (n.Key.Substring(0, 8)) n.Stage n.SeedIndex (String.concat ", " n.Arms) variant

/// A sink that also hears which nodes train together as one stacked model (before their first epoch).
type IStackProgress =
    abstract Stacked: PlanNode list -> unit

/// "stack of 15 members: 1a2b3c4d stage 2 seed 0 (fresh), …": the line a stack's start writes.
let stackLine (members: PlanNode list) =
    sprintf "stack of %d member%s: %s" members.Length (if members.Length = 1 then "" else "s")
        (members |> List.map label
         |> String.concat "; ")

/// An ETA for a node after `done` epochs: exact for a fixed count, an upper bound (the cap) for a stop rule.
let eta (spec: NodeSpec) (doneEpochs: int) (secondsPerEpoch: float) =
    let remaining = (spec.Stop.FixedEpochs.GetValueOrDefault(spec.Stop.MaxEpochs)) - doneEpochs
    TimeSpan.FromSeconds(float (max 0 remaining) * secondsPerEpoch)

/// One line per finished node, and for long stages an epoch line at most every `every` seconds.
type PlainSink(total: int, write: string -> unit, every: TimeSpan) =
    let finished = ref 0
    let lastLine = ConcurrentDictionary<string, Stopwatch>()
    let epochTimes = ConcurrentDictionary<string, float>()
    interface IProgressSink with
        member _.Started n = lastLine[n.Key] <- Stopwatch.StartNew()
        member _.Epoch(n, e) =
            epochTimes.AddOrUpdate(n.Key, e.Seconds, fun _ s -> s + e.Seconds) |> ignore
            match lastLine.TryGetValue n.Key with
            | true, sw when sw.Elapsed >= every ->
                sw.Restart()
                let per = epochTimes[n.Key] / float e.Epoch
                write (sprintf "      %s: epoch %d, loss %.4f, train acc %.4f, ETA ≤ %s"
                           (label n) e.Epoch e.Loss e.TrainAccuracy ((eta n.Spec e.Epoch per).ToString(@"hh\:mm\:ss")))
            | _ -> ()
        member _.Finished(n, status, r) =
            let what =
                match status, r with
                | Trained, Some r ->
                    sprintf "%d epochs, train acc %.4f, test acc %.4f, %.1fs%s" r.Epochs r.TrainAccuracy r.TestAccuracy r.Seconds
                        (if r.Diverged then sprintf ", DIVERGED at epoch %d" r.Epochs else "")
                | Cached, Some r -> sprintf "cached: test acc %.4f" r.TestAccuracy
                | Failed msg, _ -> "FAILED: " + msg
                | Skipped why, _ -> "skipped: " + why
                | _ -> string status
            // Count and write under one lock: workers finish at the same moment, and a count taken outside the
            // write lets "[2/6]" reach the log before "[1/6]".
            lock finished (fun () ->
                finished.Value <- finished.Value + 1
                write (sprintf "[%d/%d] %s: %s" finished.Value total (label n) what))
    interface IStackProgress with
        member _.Stacked members = write ("      " + stackLine members)

/// The folded line of a live display: finished nodes counted by outcome.
let foldedLine (total: int) (trained: int) (cached: int) (failed: int) (skipped: int) =
    sprintf "nodes: %d/%d done (%d trained, %d cached%s%s)" (trained + cached + failed + skipped) total trained cached
        (if failed > 0 then sprintf ", %d failed" failed else "") (if skipped > 0 then sprintf ", %d skipped" skipped else "")

/// Runs `body` with a live display on `console`: one row per running node (its label with arm, stage, seed and
/// variant; epoch, train accuracy, a bar over its epoch cap, ETA), and one row folding every finished node into a
/// count, with the study's ETA. A finished node's row goes away, so the display stays as tall as the nodes running
/// at once (`--jobs`), however many nodes the plan has.
let withBarsOn (console: IAnsiConsole) (total: int) (body: IProgressSink -> 'T) : 'T =
    console.Progress()
        .AutoClear(false)
        .HideCompleted(true)
        .Columns(TaskDescriptionColumn(Alignment = Justify.Left), ProgressBarColumn(), PercentageColumn(), RemainingTimeColumn(), SpinnerColumn())
        .Start(fun ctx ->
            let counts = [| 0; 0; 0; 0 |] // trained, cached, failed, skipped
            let overall = ctx.AddTask(Markup.Escape(foldedLine total 0 0 0 0), maxValue = float (max 1 total))
            let tasks = ConcurrentDictionary<string, ProgressTask>()
            let cap (n: PlanNode) = n.Spec.Stop.FixedEpochs.GetValueOrDefault(n.Spec.Stop.MaxEpochs)
            let sink =
                { new IProgressSink with
                    member _.Started n =
                        tasks[n.Key] <- ctx.AddTask(Markup.Escape(label n), maxValue = float (cap n))
                    member _.Epoch(n, e) =
                        match tasks.TryGetValue n.Key with
                        | true, t ->
                            t.Value <- float e.Epoch
                            t.Description <- Markup.Escape(sprintf "%s epoch %d/%d, train acc %.3f" (label n) e.Epoch (cap n) e.TrainAccuracy)
                        | _ -> ()
                    member _.Finished(n, status, _) =
                        let line =
                            lock counts (fun () ->
                                let i = match status with Trained -> 0 | Cached -> 1 | Failed _ -> 2 | Skipped _ -> 3
                                counts[i] <- counts[i] + 1
                                foldedLine total counts[0] counts[1] counts[2] counts[3])
                        overall.Description <- Markup.Escape line
                        overall.Increment 1.0
                        match tasks.TryRemove n.Key with
                        | true, t ->
                            t.Value <- t.MaxValue
                            t.StopTask()
                        | _ -> ()
                  interface IStackProgress with
                    member _.Stacked members =
                        // One finished line naming the members; their own bars show their epochs.
                        let t = ctx.AddTask(Markup.Escape(stackLine members), maxValue = 1.0)
                        t.Value <- 1.0
                        t.StopTask() }
            body sink)

/// `withBarsOn` the default console.
let withBars (total: int) (body: IProgressSink -> 'T) : 'T = withBarsOn AnsiConsole.Console total body

/// Set by `warmstart run` for its `dotnet fsi` child when the user's terminal is a TTY: the child's stdout is that
/// terminal, but its stderr is a pipe (the CLI cleans error output), which makes terminal detection say "not
/// interactive"; the child then draws the live display itself, on its stdout.
[<Literal>]
let TerminalVariable = "WARMSTART_TTY"

/// True when this process's stdout, stderr and stdin are a terminal (not `TERM=dumb`) and WARMSTART_PLAIN is not 1:
/// what `warmstart run` checks before it sets WARMSTART_TTY=1 for its child.
let userAtTerminal () =
    not Console.IsOutputRedirected && not Console.IsErrorRedirected && not Console.IsInputRedirected
    && Environment.GetEnvironmentVariable "TERM" <> "dumb" && Environment.GetEnvironmentVariable "WARMSTART_PLAIN" <> "1"

/// Plain lines when output is redirected or WARMSTART_PLAIN=1; bars in a terminal (or when the CLI says its child's
/// stdout is the user's terminal, WARMSTART_TTY=1).
let run (total: int) (body: IProgressSink -> 'T) : 'T =
    let toldTerminal = Environment.GetEnvironmentVariable TerminalVariable = "1"
    if Console.IsOutputRedirected || Environment.GetEnvironmentVariable "WARMSTART_PLAIN" = "1"
       || not (toldTerminal || AnsiConsole.Profile.Capabilities.Interactive) then
        body (PlainSink(total, (fun s -> Console.Out.WriteLine s), TimeSpan.FromSeconds 10.0))
    elif toldTerminal then
        let console =
            AnsiConsole.Create(AnsiConsoleSettings(Ansi = AnsiSupport.Yes, Interactive = InteractionSupport.Yes,
                                                   Out = AnsiConsoleOutput(Console.Out)))
        withBarsOn console total body
    else withBars total body

/// `nodes: N trained, N cached, N diverged, N failed` (+ `, N skipped` when any, then `, N retried` when nodes were
/// trained again after a libtorch error). A node whose loss diverged — trained now or read from the store — counts
/// as diverged only, never as trained or cached: it has no usable result.
let tallyWith (retried: int) (status: Map<string, NodeStatus>) (results: Map<string, NodeResult>) =
    let diverged key = match results.TryFind key with Some r -> r.Diverged | None -> false
    let count f = status |> Seq.filter (fun kv -> f kv.Key kv.Value) |> Seq.length
    let trained = count (fun k st -> st = Trained && not (diverged k))
    let cached = count (fun k st -> st = Cached && not (diverged k))
    let div = count (fun k st -> (st = Trained || st = Cached) && diverged k)
    let failed = count (fun _ st -> match st with Failed _ -> true | _ -> false)
    let skipped = count (fun _ st -> match st with Skipped _ -> true | _ -> false)
    sprintf "nodes: %d trained, %d cached, %d diverged, %d failed%s%s" trained cached div failed
        (if skipped > 0 then sprintf ", %d skipped" skipped else "") (if retried > 0 then sprintf ", %d retried" retried else "")

/// `nodes: N trained, N cached, N diverged, N failed` (+ skipped when any): `tallyWith` for a run without retries.
let tally (status: Map<string, NodeStatus>) (results: Map<string, NodeResult>) = tallyWith 0 status results
