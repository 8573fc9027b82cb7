/// Child processes with bounded waits: stdout and stderr are read asynchronously line by line (a full pipe
/// never blocks the child), every wait has a timeout, and a timeout kills the whole process tree and fails the
/// test with what the child printed. Nothing in the suite waits on a child without a limit.
module WarmStart.Tests.Processes

open System
open System.Collections.Generic
open System.Diagnostics
open System.Runtime.InteropServices
open System.Text
open Expecto

[<DllImport("libc", SetLastError = true)>]
extern int private kill(int pid, int signal)

/// POSIX signal numbers (Linux) used by the tests.
[<RequireQualifiedAccess>]
module Signal =
    let INT = 2
    let KILL = 9
    let TERM = 15

/// The default limit for one child run. Generous on purpose (the CI machine is shared and slow); a hung
/// child still ends the test instead of CI. `WARMSTART_TEST_TIMEOUT_SCALE` multiplies every limit.
let timeoutScale =
    match Double.TryParse(Environment.GetEnvironmentVariable "WARMSTART_TEST_TIMEOUT_SCALE") with
    | true, v when v > 0.0 -> v
    | _ -> 1.0

/// `seconds` scaled by `WARMSTART_TEST_TIMEOUT_SCALE`.
let limit (seconds: float) = TimeSpan.FromSeconds(seconds * timeoutScale)

/// The default limit of `runProcess`-style calls.
let defaultLimit () = limit 900.0

/// A line a child printed, with the (UTC) time it was read: comparable across children.
type Line = { At: DateTime; Text: string }

/// A running child process (extra environment variables in `env`; a null value unsets one). Lines are collected as they come; `WaitForLine` and `Wait` are bounded.
type Child(exe: string, args: string list, env: (string * string) list, ?workDir: string) =
    let psi = ProcessStartInfo(exe, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)
    do
        for a in args do psi.ArgumentList.Add a
        psi.Environment["WARMSTART_PLAIN"] <- "1"
        // A null value removes the variable from the child's environment.
        for k, v in env do
            if isNull v then psi.Environment.Remove k |> ignore else psi.Environment[k] <- v
        workDir |> Option.iter (fun d -> psi.WorkingDirectory <- d)
    let gate = obj ()
    let out = List<Line>()
    let err = List<Line>()
    let clock = Stopwatch.StartNew()
    let p = Process.Start psi
    let outDone = new Threading.ManualResetEventSlim(false)
    let errDone = new Threading.ManualResetEventSlim(false)
    let add (target: List<Line>) (ev: Threading.ManualResetEventSlim) (e: DataReceivedEventArgs) =
        if isNull e.Data then ev.Set()
        else lock gate (fun () -> target.Add { At = DateTime.UtcNow; Text = e.Data }; Threading.Monitor.PulseAll gate)
    do
        p.OutputDataReceived.Add(add out outDone)
        p.ErrorDataReceived.Add(add err errDone)
        p.BeginOutputReadLine()
        p.BeginErrorReadLine()
    let text (ls: List<Line>) = lock gate (fun () -> ls |> Seq.map (fun l -> l.Text + "\n") |> String.concat "")
    let describe () =
        sprintf "%s %s\n--- stdout ---\n%s--- stderr ---\n%s" exe (String.Join(" ", args)) (text out) (text err)
    let mutable exitedAt = None

    /// The process id.
    member _.Pid = p.Id
    /// Everything printed to stdout so far.
    member _.Out = text out
    /// Everything printed to stderr so far.
    member _.Err = text err
    /// Stdout lines so far, with their times.
    member _.OutLines = lock gate (fun () -> List.ofSeq out)
    /// The command line and everything it printed (for failure messages).
    member _.Describe() = describe ()
    /// Whether the child has exited.
    member _.HasExited = p.HasExited
    /// The (UTC) time the child was seen to exit (after `Wait`).
    member _.ExitedAt = exitedAt

    /// Kills the whole process tree (SIGKILL), if still running.
    member _.KillTree() = if not p.HasExited then (try p.Kill(entireProcessTree = true) with _ -> ())

    /// Sends a POSIX signal to the child itself (not its children).
    member _.Signal(signal: int) =
        if kill (p.Id, signal) <> 0 then failtestf "kill(%d, %d) failed: errno %d" p.Id signal (Marshal.GetLastWin32Error())

    /// Sends a POSIX signal to the child and all its descendants, as a terminal's Ctrl-C reaches the whole
    /// foreground process group (`dotnet fsi` runs the script in a child of the `dotnet` process).
    member this.SignalTree(signal: int) =
        let parentOf (pid: int) =
            try
                let stat = IO.File.ReadAllText(sprintf "/proc/%d/stat" pid)
                // pid (comm) state ppid …: comm may hold spaces, so read after the last ')'.
                Some(int (stat.Substring(stat.LastIndexOf ')' + 2).Split(' ')[1]))
            with _ -> None
        let all = [ for d in IO.Directory.GetDirectories "/proc" do match Int32.TryParse(IO.Path.GetFileName d) with | true, pid -> yield pid | _ -> () ]
        let rec descendants (pid: int) = [ for c in all do if parentOf c = Some pid then yield c; yield! descendants c ]
        for pid in p.Id :: descendants p.Id do kill (pid, signal) |> ignore

    /// Waits until a stdout line satisfies `pred` and returns it; fails (killing the tree) after `timeout`, and
    /// fails when the child exits without printing one.
    member this.WaitForLine(pred: string -> bool, timeout: TimeSpan, what: string) : Line =
        let deadline = clock.Elapsed + timeout
        let found () = lock gate (fun () -> out |> Seq.tryFind (fun l -> pred l.Text))
        let rec go () =
            match found () with
            | Some l -> l
            | None when p.HasExited && outDone.IsSet ->
                failtestf "the child exited (code %d) without printing %s:\n%s" p.ExitCode what (describe ())
            | None when clock.Elapsed > deadline ->
                this.KillTree()
                failtestf "timed out after %.0fs waiting for %s; killed the process tree:\n%s" timeout.TotalSeconds what (describe ())
            | None ->
                lock gate (fun () -> Threading.Monitor.Wait(gate, 200) |> ignore)
                go ()
        go ()

    /// Waits for the child to exit and returns its exit code; after `timeout` kills the tree and fails with
    /// what it printed.
    member this.Wait(timeout: TimeSpan) : int =
        let ms = int (min timeout.TotalMilliseconds (float Int32.MaxValue))
        if not (p.WaitForExit ms) then
            this.KillTree()
            p.WaitForExit 10_000 |> ignore
            failtestf "timed out after %.0fs; killed the process tree:\n%s" timeout.TotalSeconds (describe ())
        p.WaitForExit()   // drains the asynchronous readers
        outDone.Wait(10_000) |> ignore
        errDone.Wait(10_000) |> ignore
        exitedAt <- Some DateTime.UtcNow
        p.ExitCode

    interface IDisposable with
        member this.Dispose() =
            this.KillTree()
            p.Dispose()

/// Runs a command to its end with extra environment variables and a time limit: (exit code, stdout, stderr).
/// A timeout kills the process tree and fails the test with what the command printed.
let runWithin (timeout: TimeSpan) (env: (string * string) list) (exe: string) (args: string list) =
    use c = new Child(exe, args, env)
    let code = c.Wait timeout
    code, c.Out, c.Err
