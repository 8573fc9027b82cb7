module WarmStart.Tests.Packaging.PackagingTests

open System
open System.Diagnostics
open System.IO
open System.IO.Compression
open Expecto
open WarmStart.Tests.Fixtures

/// Runs a command in a folder, bounded by a timeout: (exit code, stdout + stderr).
let private run (dir: string) (exe: string) (args: string list) (timeoutMs: int) =
    let psi = ProcessStartInfo(exe, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = dir)
    for a in args do psi.ArgumentList.Add a
    use p = Process.Start psi
    let out = p.StandardOutput.ReadToEndAsync()
    let err = p.StandardError.ReadToEndAsync()
    if not (p.WaitForExit timeoutMs) then
        p.Kill true
        failtestf "%s %s did not finish within %d s" exe (String.concat " " args) (timeoutMs / 1000)
    p.ExitCode, out.Result + err.Result

[<Tests>]
let tests =
    testList "packaging" [
        test "dotnet pack gives WarmStart.Core and WarmStart.Dsl; a script outside the clone runs a quick study from them" {
            let root = repoRoot.Value
            use d = new TempDir()
            let feed = Directory.CreateDirectory(d.File "feed").FullName
            // A version of its own per run: the NuGet cache never serves a stale package under the same version.
            // --no-build packs the Release build the tests were built beside (PackageVersion leaves the assemblies alone).
            let version = sprintf "0.1.0-test%s" (DateTime.UtcNow.ToString "yyyyMMddHHmmssfff")
            for proj in [ "core/WarmStart.Core.csproj"; "dsl/WarmStart.Dsl.fsproj" ] do
                let code, out = run root "dotnet" [ "pack"; proj; "-c"; "Release"; "--no-build"; "-nologo"; "-o"; feed; "-p:PackageVersion=" + version ] 300000
                Expect.equal code 0 (sprintf "dotnet pack %s:\n%s" proj out)
            let nupkg name = Path.Combine(feed, sprintf "%s.%s.nupkg" name version)
            for name in [ "WarmStart.Core"; "WarmStart.Dsl" ] do Expect.isTrue (File.Exists(nupkg name)) (sprintf "%s package" name)
            // TorchSharp-cpu is a dependency, never bundled: the packages hold our assemblies only.
            use core = ZipFile.OpenRead(nupkg "WarmStart.Core")
            Expect.isFalse (core.Entries |> Seq.exists (fun e -> e.Name.EndsWith ".so" || e.Name.StartsWith "TorchSharp")) "no natives or TorchSharp inside"
            Expect.isLessThan (FileInfo(nupkg "WarmStart.Core").Length + FileInfo(nupkg "WarmStart.Dsl").Length) 5_000_000L "small packages"
            use spec = new StreamReader((core.Entries |> Seq.find (fun e -> e.Name = "WarmStart.Core.nuspec")).Open())
            Expect.stringContains (spec.ReadToEnd()) "id=\"TorchSharp-cpu\"" "TorchSharp-cpu as a dependency"
            // A study in a folder outside the clone: the package from the local feed, the native fix from the package.
            let outside = Directory.CreateDirectory(d.File "my-study").FullName
            let script = Path.Combine(outside, "mine.fsx")
            File.WriteAllText(script, String.concat "\n" [
                sprintf "#i \"nuget: %s\"" feed
                sprintf "#r \"nuget: WarmStart.Dsl, %s\"" version
                "open WarmStart"
                "Runtime.init 1"
                "let s = study \"outside\" { data fashion_mnist; model (mlp [ 16 ]); optimizer (adam 1e-3); train_until (train_accuracy 0.9) (max_epochs 1); seeds 2; schedule (fractions [ 0.5; 1.0 ]); arm \"fresh\" fresh; arm \"warm\" warm }"
                "let r = s |> Study.runFromArgs fsi.CommandLineArgs"
                "r |> Summary.byArm |> Summary.print" ])
            let store = d.File "store"
            let code, out = run outside "dotnet" [ "fsi"; script; "--"; "--quick"; "--threads"; "1"; "--out"; store ] 400000
            Expect.equal code 0 (sprintf "dotnet fsi mine.fsx:\n%s" out)
            Expect.stringContains out "nodes: 6 trained, 0 cached, 0 diverged, 0 failed" "every node trained"
            Expect.stringContains out "test acc %" "the summary table"
            let byArm = Path.Combine(store, "studies", "outside.quick", "by-arm.csv")
            Expect.isTrue (File.Exists byArm) "the study's CSV summary in the store"
            Expect.equal (File.ReadAllLines byArm).Length 5 "header + 2 arms × 2 stages"
        }
    ]
