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
    /// subfolders, or, for a NuGet-cache TorchSharp (fsi's <c>#r "nuget: …"</c>), in the sibling packages.</summary>
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
        if (root != null && torchDir == null)
        {
            var lt = Path.Combine(root.FullName, "libtorch-cpu-linux-x64");
            if (Directory.Exists(lt))
                torchDir = Directory.GetDirectories(lt)
                    .OrderByDescending(v => Version.TryParse(Path.GetFileName(v), out var ver) ? ver : new Version(0, 0))
                    .Select(v => Path.Combine(v, "runtimes", "linux-x64", "native"))
                    .FirstOrDefault(d => File.Exists(Path.Combine(d, "libtorch_cpu.so")));
        }
        return (torchDir, shimDir);
    }
}
