using System.Runtime.InteropServices;

namespace WarmStart.Core.Native;

/// <summary>
/// glibc malloc settings for libtorch's CPU tensors, applied once per process through <c>mallopt</c>.
/// <para>
/// libtorch allocates every CPU tensor with <c>posix_memalign</c>, so a training step's temporaries (activations,
/// gradients, an optimiser's intermediates: megabytes each for a stack of models) come from glibc's heap. By default
/// glibc gives the heap's free top back to the kernel once it exceeds twice the largest recent block, and a thread
/// other than the main one (every executor worker, every test) has its own arena, whose freed pages it hands back
/// with <c>MADV_DONTNEED</c>. When a step frees more than that at once, the next step faults every page in again and
/// the kernel zeroes it. Measured on a worker thread, one epoch of a stack of 16 MLPs 784-100-100-10 (16 steps):
/// 36,000–74,000 page faults and 0.8–1.2 s with glibc's defaults, 5,700–7,900 and 0.37–0.41 s with these settings
/// (test list <c>native.malloc</c>).
/// </para>
/// <para>
/// The settings: blocks up to 32 MB (glibc's largest mmap threshold on 64-bit) come from the heap; the heap keeps
/// up to 1 GiB of free memory instead of returning it; it grows 64 MB at a time. A process keeps the memory of its
/// largest step, which is what a training loop reuses anyway. The numbers of a run do not change.
/// </para>
/// Not applied when the user set glibc's own <c>MALLOC_TRIM_THRESHOLD_</c>, <c>MALLOC_TOP_PAD_</c> or
/// <c>MALLOC_MMAP_THRESHOLD_</c> (their choice stands), when <c>WARMSTART_MALLOC=default</c>, or off glibc.
/// </summary>
public static class MallocTuning
{
    /// <summary>Blocks up to this size come from the heap rather than their own mapping.</summary>
    public const int MmapThreshold = 32 << 20;
    /// <summary>The heap returns its free top to the kernel only beyond this size.</summary>
    public const int TrimThreshold = 1 << 30;
    /// <summary>Extra memory the heap takes each time it grows.</summary>
    public const int TopPad = 64 << 20;

    /// <summary>glibc's own variables for these settings: when the user set any of them, their choice stands.</summary>
    public static readonly IReadOnlyList<string> GlibcVariables = new[] { "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_" };

    static readonly object Gate = new();
    static bool _done;

    /// <summary>What <see cref="Apply"/> did, for diagnostics and tests: starts "applied", "kept" or "not applied".</summary>
    public static string Report { get; private set; } = "not applied: not run";

    /// <summary>True when this process runs with the settings above.</summary>
    public static bool Applied => Report.StartsWith("applied", StringComparison.Ordinal);

    /// <summary>Applies the settings once per process (<see cref="TorchRuntime.EnsureLoaded"/> calls it).</summary>
    public static void Apply()
    {
        lock (Gate)
        {
            if (_done) return;
            _done = true;
            Report = Decide();
        }
    }

    static string Decide()
    {
        if (!OperatingSystem.IsLinux()) return "not applied: not Linux";
        if (string.Equals(Environment.GetEnvironmentVariable("WARMSTART_MALLOC"), "default", StringComparison.OrdinalIgnoreCase))
            return "not applied: WARMSTART_MALLOC=default";
        foreach (var own in GlibcVariables)
            if (!string.IsNullOrEmpty(NativeEnvironment.Get(own))) return $"kept: the user's {own}";
        try
        {
            // mallopt returns 1 on success. The mmap threshold first: setting any of these turns off glibc's
            // dynamic thresholds, which would otherwise keep moving the trim threshold with the largest block.
            var ok = mallopt(M_MMAP_THRESHOLD, MmapThreshold) == 1
                     & mallopt(M_TRIM_THRESHOLD, TrimThreshold) == 1
                     & mallopt(M_TOP_PAD, TopPad) == 1;
            return ok
                ? $"applied: mmap threshold {MmapThreshold >> 20} MB, trim threshold {TrimThreshold >> 20} MB, top pad {TopPad >> 20} MB"
                : "not applied: mallopt refused a value";
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return "not applied: no mallopt (not glibc)";
        }
    }

    // glibc's malloc.h.
    const int M_TRIM_THRESHOLD = -1, M_TOP_PAD = -2, M_MMAP_THRESHOLD = -3;

    [DllImport("libc", EntryPoint = "mallopt")]
    static extern int mallopt(int param, int value);
}
