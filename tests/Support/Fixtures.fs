/// Hand-made data fixtures and temporary folders shared by the tests.
module WarmStart.Tests.Fixtures

open System
open System.IO
open System.IO.Compression
open Expecto

/// A fresh temporary folder, deleted when disposed.
type TempDir() =
    let path = Path.Combine(Path.GetTempPath(), "warmstart-tests-" + Guid.NewGuid().ToString("N"))
    do Directory.CreateDirectory path |> ignore
    member _.Path = path
    member _.File(name: string) = Path.Combine(path, name)
    interface IDisposable with
        member _.Dispose() = try Directory.Delete(path, true) with _ -> ()

/// Big-endian int32 bytes.
let be32 (v: int) = [| byte (v >>> 24); byte (v >>> 16); byte (v >>> 8); byte v |]

/// An IDX file of unsigned bytes with the given dims and payload (no validation: fixtures may be malformed).
let idxBytes (dims: int list) (payload: byte[]) =
    Array.concat [ [| 0uy; 0uy; 0x08uy; byte dims.Length |]; yield! dims |> List.map be32; payload ]

/// Gzips bytes.
let gzip (bytes: byte[]) =
    use ms = new MemoryStream()
    (use gz = new GZipStream(ms, CompressionLevel.Fastest, true)
     gz.Write(bytes, 0, bytes.Length))
    ms.ToArray()

/// Writes a tiny MNIST-layout folder: n train and m test images of h×w, pixel = (i*7 + r*w + c) mod 256,
/// label = i mod classes. Returns the folder.
let writeMnistFolder (dir: string) (n: int) (m: int) (h: int) (w: int) (classes: int) (gz: bool) =
    Directory.CreateDirectory dir |> ignore
    let images count = Array.init (count * h * w) (fun k -> let i = k / (h * w) in byte ((i * 7 + k % (h * w)) % 256))
    let labels count = Array.init count (fun i -> byte (i % classes))
    let write stem (bytes: byte[]) =
        if gz then File.WriteAllBytes(Path.Combine(dir, stem + ".gz"), gzip bytes)
        else File.WriteAllBytes(Path.Combine(dir, stem), bytes)
    write "train-images-idx3-ubyte" (idxBytes [ n; h; w ] (images n))
    write "train-labels-idx1-ubyte" (idxBytes [ n ] (labels n))
    write "t10k-images-idx3-ubyte" (idxBytes [ m; h; w ] (images m))
    write "t10k-labels-idx1-ubyte" (idxBytes [ m ] (labels m))
    dir

/// The real Fashion-MNIST, as Debian's dataset-fashion-mnist installs it (CI installs the package).
let fashionMnist = lazy (WarmStart.Core.Data.Catalog.Load("fashion-mnist"))

/// The repository root (the folder holding WarmStartDsl.sln), found from the test binary upwards.
let repoRoot =
    lazy (
        let rec up (d: DirectoryInfo) =
            if isNull d then failwith "WarmStartDsl.sln not found above the test binary"
            elif File.Exists(Path.Combine(d.FullName, "WarmStartDsl.sln")) then d.FullName
            else up d.Parent
        up (DirectoryInfo AppContext.BaseDirectory))

/// Exact element-wise equality of two tensors of the same shape.
let same (a: TorchSharp.torch.Tensor) (b: TorchSharp.torch.Tensor) =
    a.shape = b.shape && a.allclose(b, 0.0, 0.0)

/// Writes a study script into `dir` that #loads the repository's prelude (absolute path) and runs `body`
/// (the text inside `study "name" { … }`) with the script's command-line options.
let writeStudyScript (dir: string) (file: string) (name: string) (body: string) =
    let prelude = Path.Combine(repoRoot.Force(), "dsl", "WarmStart.fsx").Replace("\\", "/")
    let indented = body.Split('\n') |> Array.map (fun l -> "        " + l.Trim()) |> String.concat "\n"
    let text =
        sprintf "#load \"%s\"\nopen WarmStart\nlet s =\n    study \"%s\" {\n%s\n    }\ns |> Study.runFromArgs fsi.CommandLineArgs |> ignore\n" prelude name indented
    let path = Path.Combine(dir, file)
    File.WriteAllText(path, text)
    path

/// Fails when a child's output shows the executor's libtorch-error retry: the retry stays for users, but in a
/// test it would hide an error.
let noRetryWarning (what: string) (output: string) =
    if not (isNull output) && output.Contains WarmStart.Executor.RetryWarning then
        failtestf "%s: a node was trained again after a libtorch error (the retry hides an error):\n%s" what output

/// The tests of `t`, each failing when the executor retried a node after a libtorch error while it ran (in this
/// process; a retry in a test running alongside counts too: any retry is an error to find).
let withoutRetries (t: Test) =
    let check (name: string) before =
        let after = WarmStart.Executor.retriesInProcess ()
        if after > before then
            failtestf "%s: %d node(s) trained again after a libtorch error (see the warning on stderr); the retry hides an error" name (after - before)
    t |> Test.replaceTestCode (fun name code ->
        let guarded =
            match code with
            | Sync f -> Sync(fun () -> let b = WarmStart.Executor.retriesInProcess () in f (); check name b)
            | SyncWithCancel f -> SyncWithCancel(fun ct -> let b = WarmStart.Executor.retriesInProcess () in f ct; check name b)
            | Async a ->
                Async(async {
                    let b = WarmStart.Executor.retriesInProcess ()
                    do! a
                    check name b })
            | AsyncFsCheck(c, s, f) -> AsyncFsCheck(c, s, f)
        if isNull name then TestCase(guarded, Normal) else TestLabel(name, TestCase(guarded, Normal), Normal))

/// Runs a command, returning (exit code, stdout, stderr); fails when the output shows a libtorch-error retry.
let runProcess (exe: string) (args: string list) =
    let psi = Diagnostics.ProcessStartInfo(exe, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)
    for a in args do psi.ArgumentList.Add a
    psi.Environment["WARMSTART_PLAIN"] <- "1"
    use p = Diagnostics.Process.Start psi
    let out = p.StandardOutput.ReadToEndAsync()
    let err = p.StandardError.ReadToEndAsync()
    p.WaitForExit()
    noRetryWarning (sprintf "%s %s" exe (String.concat " " args)) (out.Result + err.Result)
    p.ExitCode, out.Result, err.Result

/// The built CLI (the tests' build builds it: see test.sh).
let cliDll () = Path.Combine(repoRoot.Force(), "dsl", "cli", "bin", "Release", "net10.0", "warmstart.dll")
