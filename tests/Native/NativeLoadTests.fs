module WarmStart.Tests.Native.NativeLoadTests

open System.Diagnostics
open System.IO
open Expecto
open WarmStart.Core.Native
open WarmStart.Tests
open WarmStart.Tests.Fixtures

/// The unpatched shim as the TorchSharp package ships it, in the NuGet package folder (read only: the cache is
/// never written). Never the copy in bin/, which the build has already patched.
let private shippedShim () =
    let nuget =
        let env = System.Environment.GetEnvironmentVariable "NUGET_PACKAGES"
        if System.String.IsNullOrEmpty env then Path.Combine(System.Environment.GetFolderPath System.Environment.SpecialFolder.UserProfile, ".nuget", "packages") else env
    let path = Path.Combine(nuget, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so")
    if not (File.Exists path) then failtestf "the TorchSharp package's shim is not at %s (restore the packages first)" path
    path

[<Tests>]
let tests =
    testList "native" [
        test "the shipped shim needs GLIBCXX_3.4.32; weakening changes exactly one byte and is idempotent" {
            let original = File.ReadAllBytes(shippedShim ())
            let bytes = Array.copy original
            let before = ElfVerneed.MarkWeak(bytes, ElfVerneed.GlibcxxVersion)
            Expect.equal before VerneedState.Strong "the shipped shim needs GLIBCXX_3.4.32 (strongly)"
            let mutable off = 0L
            Expect.equal (ElfVerneed.Inspect(bytes, ElfVerneed.GlibcxxVersion, &off)) VerneedState.Weak "now weak"
            let changed = Seq.zip original bytes |> Seq.filter (fun (a, b) -> a <> b) |> Seq.length
            Expect.equal changed 1 "exactly one byte"
            let again = Array.copy bytes
            Expect.equal (ElfVerneed.MarkWeak(again, ElfVerneed.GlibcxxVersion)) VerneedState.Weak "idempotent"
            Expect.equal again bytes "no further change"
        }
        test "a version the file does not need is reported absent; non-ELF bytes are refused" {
            let bytes = File.ReadAllBytes(shippedShim ())
            let mutable off = 0L
            Expect.equal (ElfVerneed.Inspect(bytes, "GLIBCXX_9.9.99", &off)) VerneedState.Absent "absent"
            Expect.equal (ElfVerneed.Inspect("not an elf file at all, clearly not"B, ElfVerneed.GlibcxxVersion, &off)) VerneedState.NotElf "not ELF"
        }
        test "torch is loaded in this test process" {
            Expect.isNotEmpty TorchSharp.torch.__version__ "libtorch version"
            Expect.stringStarts TorchSharp.torch.__version__ "2." "libtorch 2.x, not a system 1.13"
        }
        test "a dotnet fsi script that #loads the prelude trains a step (child process)" {
            let code, out, err = runProcess "dotnet" [ "fsi"; "--quiet"; Path.Combine(repoRoot.Force(), "tests", "scripts", "torch-step.fsx") ]
            Expect.equal code 0 (sprintf "fsi exit code; stdout: %s stderr: %s" out err)
            Expect.stringContains out "torch 2." "ran libtorch 2.x"
        }
    ]
