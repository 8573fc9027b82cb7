/// libtorch for the `warmstart` dotnet tool, which is packed without it (see WarmStart.Cli.fsproj): before a command
/// that loads torch, a libtorch missing from NuGet's packages folder is fetched there once, with `dotnet restore` of
/// a throw-away project that downloads the package (PackageDownload: nothing is referenced or built).
module WarmStart.Cli.ToolNatives

open System
open System.Diagnostics
open System.IO
open WarmStart.Core.Native

/// The project that downloads libtorch VERSION into the NuGet packages folder.
let private downloadProject (version: string) =
    String.concat "\n" [
        "<Project Sdk=\"Microsoft.NET.Sdk\">"
        "  <PropertyGroup><TargetFramework>net10.0</TargetFramework><ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally></PropertyGroup>"
        sprintf "  <ItemGroup><PackageDownload Include=\"libtorch-cpu-linux-x64\" Version=\"[%s]\" /></ItemGroup>" version
        "</Project>" ]

/// Makes sure torch can load: a no-op when libtorch is next to TorchSharp (a build from the clone) or in NuGet's
/// packages folders; otherwise fetches it there (a few hundred MB, once per machine) and fails with the restore's
/// output when that is impossible (no feed reachable).
let ensure () =
    match TorchRuntime.MissingLibtorchVersion() with
    | null -> ()
    | version ->
        eprintfn "warmstart: libtorch %s is not in the NuGet packages folder; fetching it once (libtorch-cpu-linux-x64, a few hundred MB)…" version
        let dir = Directory.CreateTempSubdirectory("warmstart-libtorch-")
        try
            File.WriteAllText(Path.Combine(dir.FullName, "fetch-libtorch.csproj"), downloadProject version)
            let psi = ProcessStartInfo("dotnet", RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
                                       WorkingDirectory = dir.FullName)
            for a in [ "restore"; "-nologo"; "-v"; "q" ] do psi.ArgumentList.Add a
            use p = Process.Start psi
            let out = p.StandardOutput.ReadToEndAsync()
            let err = p.StandardError.ReadToEndAsync()
            p.WaitForExit()
            if p.ExitCode <> 0 || isNull (TorchRuntime.FindLibtorchInNuGet()) then
                failwithf "could not fetch libtorch %s (NuGet package libtorch-cpu-linux-x64) into %s:\n%s%s\nrestore it where NuGet can (e.g. any project referencing TorchSharp-cpu), then run warmstart again"
                    version (TorchRuntime.NuGetPackageRoots()[0]) out.Result err.Result
        finally
            try dir.Delete true with _ -> ()
