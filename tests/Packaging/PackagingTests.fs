/// `dotnet pack` as a user outside the clone meets it: the WarmStart.Core and WarmStart.Dsl packages used by a script
/// (`#r "nuget: WarmStart.Dsl"`, local package source), and the `warmstart` dotnet tool installed into a tool path
/// and running a study written outside the repository. NuGet's packages folder is a temporary one, with the user's
/// as a read-only fallback (NUGET_FALLBACK_PACKAGES), so the test packages never land in the user's cache.
module WarmStart.Tests.Packaging.PackagingTests

open System
open System.Diagnostics
open System.IO
open System.IO.Compression
open Expecto
open WarmStart.Tests.Fixtures

/// The user's NuGet packages folder (where TorchSharp and libtorch were restored for the build).
let private userPackages () =
    match Environment.GetEnvironmentVariable "NUGET_PACKAGES" with
    | null | "" -> Path.Combine(Environment.GetFolderPath Environment.SpecialFolder.UserProfile, ".nuget", "packages")
    | p -> p

/// A packed feed shared by the tests of this list: the three packages at a version of their own, a temporary NuGet
/// packages folder, and the folder holding both (removed when the test process exits).
type private Feed = { Root: string; Feed: string; Packages: string; Version: string }

/// Runs a command in a folder with the feed's NuGet environment, bounded by a timeout: (exit code, stdout + stderr).
let private run (feed: Feed option) (dir: string) (exe: string) (args: string list) (timeoutMs: int) =
    let psi = ProcessStartInfo(exe, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = dir)
    for a in args do psi.ArgumentList.Add a
    psi.Environment["WARMSTART_PLAIN"] <- "1"
    feed |> Option.iter (fun f ->
        psi.Environment["NUGET_PACKAGES"] <- f.Packages
        psi.Environment["NUGET_FALLBACK_PACKAGES"] <- userPackages ())
    use p = Process.Start psi
    let out = p.StandardOutput.ReadToEndAsync()
    let err = p.StandardError.ReadToEndAsync()
    if not (p.WaitForExit timeoutMs) then
        p.Kill true
        failtestf "%s %s did not finish within %d s" exe (String.concat " " args) (timeoutMs / 1000)
    p.ExitCode, out.Result + err.Result

let private feed =
    lazy (
        let root = Directory.CreateTempSubdirectory("warmstart-packaging-").FullName
        AppDomain.CurrentDomain.ProcessExit.Add(fun _ -> try Directory.Delete(root, true) with _ -> ())
        let f = { Root = root; Feed = Directory.CreateDirectory(Path.Combine(root, "feed")).FullName
                  Packages = Directory.CreateDirectory(Path.Combine(root, "nuget-packages")).FullName
                  // A version of its own per run: nothing stale is ever served under it, and it lives only in the
                  // temporary packages folder.
                  Version = sprintf "0.1.0-test%s" (DateTime.UtcNow.ToString "yyyyMMddHHmmssfff") }
        // --no-build packs the Release build the tests were built beside (PackageVersion leaves the assemblies alone).
        for proj in [ "core/WarmStart.Core.csproj"; "dsl/WarmStart.Dsl.fsproj"; "dsl/cli/WarmStart.Cli.fsproj" ] do
            let code, out = run (Some f) repoRoot.Value "dotnet" [ "pack"; proj; "-c"; "Release"; "--no-build"; "-nologo"; "-o"; f.Feed; "-p:PackageVersion=" + f.Version ] 300000
            if code <> 0 then failtestf "dotnet pack %s:\n%s" proj out
        f)

let private nupkg (f: Feed) name = Path.Combine(f.Feed, sprintf "%s.%s.nupkg" name f.Version)

/// A study script in a folder outside the clone that takes WarmStart.Dsl from the feed.
let private outsideStudy (f: Feed) (folder: string) =
    let outside = Directory.CreateDirectory(Path.Combine(f.Root, folder)).FullName
    let script = Path.Combine(outside, "mine.fsx")
    File.WriteAllText(script, String.concat "\n" [
        sprintf "#i \"nuget: %s\"" f.Feed
        sprintf "#r \"nuget: WarmStart.Dsl, %s\"" f.Version
        "open WarmStart"
        "Runtime.init 1"
        "let s = study \"outside\" { data fashion_mnist; model (mlp [ 16 ]); optimizer (adam 1e-3); train_until (train_accuracy 0.9) (max_epochs 1); seeds 2; schedule (fractions [ 0.5; 1.0 ]); arm \"fresh\" fresh; arm \"warm\" warm }"
        "let r = s |> Study.runFromArgs fsi.CommandLineArgs"
        "r |> Summary.byArm |> Summary.print" ])
    outside, script

/// The study's summary: every node trained, the table printed, by-arm.csv in the store with 2 arms × 2 stages.
let private expectSummary (out: string) (store: string) =
    Expect.stringContains out "nodes: 6 trained, 0 cached, 0 diverged, 0 failed" "every node trained"
    Expect.stringContains out "test acc %" "the summary table"
    let byArm = Path.Combine(store, "studies", "outside.quick", "by-arm.csv")
    Expect.isTrue (File.Exists byArm) "the study's CSV summary in the store"
    Expect.equal (File.ReadAllLines byArm).Length 5 "header + 2 arms × 2 stages"

/// Nothing of this run's version in the user's NuGet packages folder.
let private expectUserCacheUntouched (f: Feed) =
    for id in [ "warmstart.core"; "warmstart.dsl"; "warmstart.cli" ] do
        Expect.isFalse (Directory.Exists(Path.Combine(userPackages (), id, f.Version))) (sprintf "%s %s stays out of the user's NuGet cache" id f.Version)

[<Tests>]
let tests =
    testList "packaging" [
        test "dotnet pack gives WarmStart.Core and WarmStart.Dsl; a script outside the clone runs a quick study from them" {
            let f = feed.Force()
            for name in [ "WarmStart.Core"; "WarmStart.Dsl" ] do Expect.isTrue (File.Exists(nupkg f name)) (sprintf "%s package" name)
            // TorchSharp-cpu is a dependency, never bundled: the packages hold our assemblies only.
            use core = ZipFile.OpenRead(nupkg f "WarmStart.Core")
            Expect.isFalse (core.Entries |> Seq.exists (fun e -> e.Name.EndsWith ".so" || e.Name.StartsWith "TorchSharp")) "no natives or TorchSharp inside"
            Expect.isLessThan (FileInfo(nupkg f "WarmStart.Core").Length + FileInfo(nupkg f "WarmStart.Dsl").Length) 5_000_000L "small packages"
            use spec = new StreamReader((core.Entries |> Seq.find (fun e -> e.Name = "WarmStart.Core.nuspec")).Open())
            Expect.stringContains (spec.ReadToEnd()) "id=\"TorchSharp-cpu\"" "TorchSharp-cpu as a dependency"
            // A study in a folder outside the clone: the package from the local feed, the native fix from the package.
            let outside, script = outsideStudy f "fsi-study"
            let store = Path.Combine(f.Root, "fsi-store")
            let code, out = run (Some f) outside "dotnet" [ "fsi"; script; "--"; "--quick"; "--threads"; "1"; "--out"; store ] 400000
            Expect.equal code 0 (sprintf "dotnet fsi mine.fsx:\n%s" out)
            expectSummary out store
            expectUserCacheUntouched f
        }
        test "dotnet pack gives the warmstart tool (without libtorch); installed into a tool path it runs a study written outside the repo" {
            let f = feed.Force()
            let tool = nupkg f "WarmStart.Cli"
            Expect.isTrue (File.Exists tool) "WarmStart.Cli package"
            use zip = ZipFile.OpenRead tool
            let names = zip.Entries |> Seq.map (fun e -> e.FullName) |> List.ofSeq
            Expect.exists names (fun n -> n.EndsWith "/warmstart.dll") "the CLI inside"
            Expect.exists names (fun n -> n.EndsWith "/libLibTorchSharp.so") "TorchSharp's shim inside"
            Expect.isFalse (names |> List.exists (fun n -> n.Contains "libtorch_cpu" || n.Contains "libc10")) "libtorch left out"
            // Measured: ~14 MB without libtorch; libtorch's natives are ~500 MB unpacked.
            Expect.isLessThan (FileInfo(tool).Length) 40_000_000L "a small tool package"
            use settings = new StreamReader((zip.Entries |> Seq.find (fun e -> e.Name = "DotnetToolSettings.xml")).Open())
            Expect.stringContains (settings.ReadToEnd()) "Name=\"warmstart\"" "the command is warmstart"
            let toolPath = Path.Combine(f.Root, "tools")
            let code, out = run (Some f) f.Root "dotnet" [ "tool"; "install"; "WarmStart.Cli"; "--tool-path"; toolPath; "--add-source"; f.Feed; "--version"; f.Version ] 300000
            Expect.equal code 0 (sprintf "dotnet tool install:\n%s" out)
            let warmstart = Path.Combine(toolPath, "warmstart")
            // --version loads torch from the install folder: TorchSharp's shim there (its GLIBCXX need weakened into
            // the native cache when this libstdc++ lacks it), libtorch from NuGet's packages folder.
            let nativeCache = Path.Combine(f.Root, "native-cache")
            let codeV, outV = run (Some f) f.Root "env" [ "WARMSTART_NATIVE_CACHE=" + nativeCache; warmstart; "--version" ] 120000
            Expect.equal codeV 0 (sprintf "warmstart --version:\n%s" outV)
            Expect.isMatch (outV.Trim()) @"^warmstart \d+\.\d+\.\d+(\.\d+)?, TorchSharp 0\.107\.\d+(\.\d+)?, libtorch 2\.\d+" "the version line"
            let outside, script = outsideStudy f "tool-study"
            let store = Path.Combine(f.Root, "tool-store")
            let codeR, outR = run (Some f) outside warmstart [ "run"; "mine.fsx"; "--quick"; "--threads"; "1"; "--out"; store ] 400000
            Expect.equal codeR 0 (sprintf "warmstart run mine.fsx:\n%s" outR)
            expectSummary outR store
            expectUserCacheUntouched f
            // A machine whose NuGet packages folder lacks libtorch: the tool fetches it once, from the configured
            // feed (here the user's packages folder as a local source, named by a NuGet.Config above the temporary
            // folder the tool restores in), and loads it; the second call fetches nothing.
            let bare = Directory.CreateDirectory(Path.Combine(f.Root, "bare")).FullName
            let bareTemp = Directory.CreateDirectory(Path.Combine(bare, "tmp")).FullName
            File.WriteAllText(Path.Combine(bare, "NuGet.Config"),
                sprintf "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n  <packageSources>\n    <clear />\n    <add key=\"local\" value=\"%s\" />\n  </packageSources>\n</configuration>\n" (userPackages ()))
            let bareEnv = [ "TMPDIR=" + bareTemp; "NUGET_PACKAGES=" + Path.Combine(bare, "packages"); "NUGET_FALLBACK_PACKAGES="
                            "WARMSTART_NATIVE_CACHE=" + nativeCache ]
            let codeF, outF = run None bare "env" (bareEnv @ [ warmstart; "--version" ]) 400000
            Expect.equal codeF 0 (sprintf "warmstart --version with no libtorch in the NuGet folder:\n%s" outF)
            Expect.stringContains outF "fetching it once" "says it fetches libtorch"
            Expect.isTrue (Directory.Exists(Path.Combine(bare, "packages", "libtorch-cpu-linux-x64"))) "libtorch fetched into the NuGet packages folder"
            let codeF2, outF2 = run None bare "env" (bareEnv @ [ warmstart; "--version" ]) 120000
            Expect.equal codeF2 0 outF2
            Expect.isFalse (outF2.Contains "fetching") "fetched once"
            Expect.isMatch (outF2.Trim()) @"^warmstart .*, libtorch 2\.\d+" "the version line"
            try Directory.Delete(bare, true) with _ -> ()   // ~500 MB of libtorch
        }
    ]
