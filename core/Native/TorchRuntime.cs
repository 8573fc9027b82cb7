using System.Runtime.InteropServices;
using TorchSharp;

namespace WarmStart.Core.Native;

/// <summary>
/// Makes TorchSharp's natives load on this machine before the first <c>torch.*</c> member runs.
/// A failed torch type initialiser cannot be retried, so every entry point of the core calls
/// <see cref="EnsureLoaded"/> first. It loads libtorch by full path (never by bare name, which would pick up
/// Debian's libtorch 1.13 from python3-torch), and, where libstdc++ lacks GLIBCXX_3.4.32, a weakened copy of
/// libLibTorchSharp.so written to a cache folder. TorchSharp's own loader then binds to the loaded objects by SONAME.
/// </summary>
public static class TorchRuntime
{
    static readonly object Gate = new();
    static bool _done;

    /// <summary>What the guard did, for diagnostics (<c>warmstart doctor</c>, test output).</summary>
    public static string Report { get; private set; } = "not run";

    /// <summary>Loads the natives once per process; safe to call from any thread, any number of times.</summary>
    public static void EnsureLoaded()
    {
        if (_done) return;
        lock (Gate)
        {
            if (_done) return;
            // Before any native library loads: libgomp reads its wait policy once, when it loads.
            try { NativeEnvironment.ApplyDefaults(); } catch (Exception e) { Report = "native environment not set: " + e.Message; }
            // Before the first tensor: keep freed tensor memory in the heap (MallocTuning says why).
            MallocTuning.Apply();
            try { Report = Prepare(); }
            catch (Exception e) { Report = "guard skipped: " + e.Message; }
            _done = true;
            // Touch torch so that a failure surfaces here with our context rather than deep inside a model.
            _ = torch.__version__;
        }
    }

    static string Prepare()
    {
        if (!OperatingSystem.IsLinux()) return "not Linux: TorchSharp's own loader";
        var (torchDir, shimDir) = FindNativeFolders();
        if (torchDir == null || shimDir == null) return "natives not found next to TorchSharp.dll: TorchSharp's own loader";
        // Dependencies first, by full path, so nothing resolves to a system libtorch.
        foreach (var name in new[] { "libgomp-98b21ff3.so.1", "libc10.so", "libtorch_cpu.so", "libtorch.so" })
        {
            var p = Path.Combine(torchDir, name);
            if (File.Exists(p)) NativeLibrary.Load(p);
        }
        var shim = Path.Combine(shimDir, "libLibTorchSharp.so");
        var bytes = File.ReadAllBytes(shim);
        var state = ElfVerneed.Inspect(bytes, ElfVerneed.GlibcxxVersion, out _);
        if (state == VerneedState.Strong && ElfVerneed.SystemNeedsPatch())
        {
            var cached = PatchedCopyPath(shim, bytes.LongLength);
            if (!File.Exists(cached)) ElfVerneed.WriteWeakCopy(shim, cached, ElfVerneed.GlibcxxVersion);
            NativeLibrary.Load(cached);
            return $"loaded libtorch from {torchDir}; weakened shim from {cached}";
        }
        NativeLibrary.Load(shim);
        return $"loaded libtorch from {torchDir}; shim {shim} ({state})";
    }

    /// <summary>Where the patched shim is cached: a per-user folder, keyed by the source's size and time so a
    /// TorchSharp upgrade never reuses a stale copy.</summary>
    static string PatchedCopyPath(string shim, long size)
    {
        var root = Environment.GetEnvironmentVariable("WARMSTART_NATIVE_CACHE");
        if (string.IsNullOrEmpty(root))
        {
            var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            if (string.IsNullOrEmpty(cache))
                cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            root = Path.Combine(cache, "warmstart", "native");
        }
        var stamp = $"{size:x}-{File.GetLastWriteTimeUtc(shim).Ticks:x}";
        return Path.Combine(root, stamp, "libLibTorchSharp.so");
    }

    /// <summary>Finds libtorch and the shim: next to TorchSharp.dll (a bin folder), in its runtimes/ or cpu/
    /// subfolders, or, for a NuGet-cache TorchSharp (fsi's <c>#r "nuget: …"</c>), in the sibling packages; libtorch
    /// last in NuGet's packages folders (the `warmstart` dotnet tool, which ships without it).</summary>
    static (string? torchDir, string? shimDir) FindNativeFolders()
    {
        var asmDir = Path.GetDirectoryName(typeof(torch).Assembly.Location);
        if (string.IsNullOrEmpty(asmDir)) return (null, null);
        var local = new[] { asmDir, Path.Combine(asmDir, "runtimes", "linux-x64", "native"), Path.Combine(asmDir, "cpu") };
        string? torchDir = local.FirstOrDefault(d => File.Exists(Path.Combine(d, "libtorch_cpu.so")));
        string? shimDir = local.FirstOrDefault(d => File.Exists(Path.Combine(d, "libLibTorchSharp.so")));
        // NuGet layout: <root>/torchsharp/<v>/lib/<tfm>/TorchSharp.dll
        var pkg = Directory.GetParent(asmDir)?.Parent;
        if (pkg != null && shimDir == null)
        {
            var d = Path.Combine(pkg.FullName, "runtimes", "linux-x64", "native");
            if (File.Exists(Path.Combine(d, "libLibTorchSharp.so"))) shimDir = d;
        }
        var root = pkg?.Parent?.Parent;
        if (root != null && torchDir == null) torchDir = LibtorchIn(root.FullName, null);
        // The `warmstart` dotnet tool ships without libtorch: it is looked for where NuGet keeps packages.
        torchDir ??= FindLibtorchInNuGet();
        return (torchDir, shimDir);
    }

    const string LibtorchPackage = "libtorch-cpu-linux-x64";

    /// <summary>The native folder of libtorch in a NuGet packages folder: <paramref name="version"/>, or the highest
    /// version there when null; null when absent.</summary>
    static string? LibtorchIn(string packagesRoot, string? version)
    {
        var lt = Path.Combine(packagesRoot, LibtorchPackage);
        if (!Directory.Exists(lt)) return null;
        return Directory.GetDirectories(lt)
            .Where(v => version == null || string.Equals(Path.GetFileName(v), version, StringComparison.OrdinalIgnoreCase))
            .OrderByDescending(v => Version.TryParse(Path.GetFileName(v), out var ver) ? ver : new Version(0, 0))
            .Select(v => Path.Combine(v, "runtimes", "linux-x64", "native"))
            .FirstOrDefault(d => File.Exists(Path.Combine(d, "libtorch_cpu.so")));
    }

    /// <summary>NuGet's packages folders, in the order NuGet uses them: <c>$NUGET_PACKAGES</c> (else
    /// <c>~/.nuget/packages</c>), then the fallback folders of <c>$NUGET_FALLBACK_PACKAGES</c>.</summary>
    public static IReadOnlyList<string> NuGetPackageRoots()
    {
        var roots = new List<string>();
        var global = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        roots.Add(string.IsNullOrEmpty(global)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages")
            : global);
        var fallback = Environment.GetEnvironmentVariable("NUGET_FALLBACK_PACKAGES");
        if (!string.IsNullOrEmpty(fallback))
            roots.AddRange(fallback.Split(new[] { ';', Path.PathSeparator }, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return roots;
    }

    /// <summary>The libtorch version this application was built against, read from its <c>.deps.json</c> (the
    /// <c>libtorch-cpu-linux-x64/VERSION</c> library); null where there is none (a script under fsi).</summary>
    public static string? ExpectedLibtorchVersion()
    {
        if (AppContext.GetData("APP_CONTEXT_DEPS_FILES") is not string files) return null;
        foreach (var file in files.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!File.Exists(file)) continue;
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file));
            if (!doc.RootElement.TryGetProperty("libraries", out var libs)) continue;
            foreach (var lib in libs.EnumerateObject())
                if (lib.Name.StartsWith(LibtorchPackage + "/", StringComparison.OrdinalIgnoreCase))
                    return lib.Name.Substring(LibtorchPackage.Length + 1);
        }
        return null;
    }

    /// <summary>libtorch's native folder in NuGet's packages folders (the version this application expects, when it
    /// names one), or null.</summary>
    public static string? FindLibtorchInNuGet()
    {
        var version = ExpectedLibtorchVersion();
        return NuGetPackageRoots().Select(r => LibtorchIn(r, version)).FirstOrDefault(d => d != null);
    }

    /// <summary>The libtorch version to fetch into NuGet's packages folder before torch can load (the `warmstart`
    /// tool, installed without libtorch, on a machine whose NuGet cache lacks it); null when nothing is missing.</summary>
    public static string? MissingLibtorchVersion()
    {
        if (!OperatingSystem.IsLinux()) return null;
        var (torchDir, _) = FindNativeFolders();
        if (torchDir != null) return null;
        return ExpectedLibtorchVersion();
    }
}
