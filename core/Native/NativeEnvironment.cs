using System.Runtime.InteropServices;

namespace WarmStart.Core.Native;

/// <summary>
/// Settings of libtorch's native libraries that are read from the process environment, set before libtorch
/// loads. .NET's <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not reach the C library's
/// environment on Unix, so these go through <c>setenv</c>. A value the user already set is left alone.
/// </summary>
public static class NativeEnvironment
{
    /// <summary>The defaults applied, as "NAME=value" (for diagnostics and tests).</summary>
    public static IReadOnlyList<string> Applied => _applied;
    static readonly List<string> _applied = new();

    /// <summary>
    /// The defaults:
    /// <list type="bullet">
    /// <item><c>OMP_WAIT_POLICY=PASSIVE</c>: OpenMP threads sleep instead of spinning when they wait. Spinning
    /// threads collapse throughput when cores are oversubscribed (other processes, several workers), the normal
    /// state of a laptop, a CI runner or a shared node. libgomp reads it when it loads, so it must be set before
    /// libtorch loads.</item>
    /// <item><c>ONEDNN_MAX_CPU_ISA=AVX2</c>: libtorch 2.10's oneDNN 3.7.1 AVX-512 convolution backward-data kernel
    /// returned wrong input gradients (errors of the order of the gradient itself, sometimes NaN) for float32
    /// convolutions whose input channel count is not a multiple of 16 (e.g. 1→8 or 4→8 channels, batch > 1),
    /// measured on an AVX-512 AMD EPYC; the AVX2 kernels are correct. A no-op on CPUs without AVX-512.</item>
    /// </list>
    /// Call before libtorch loads (<see cref="TorchRuntime.EnsureLoaded"/> does).
    /// </summary>
    public static void ApplyDefaults()
    {
        SetDefault("OMP_WAIT_POLICY", "PASSIVE");
        SetDefault("ONEDNN_MAX_CPU_ISA", "AVX2");
    }

    /// <summary>The C library's value of <paramref name="name"/> (what native code sees), or null.</summary>
    public static string? Get(string name)
    {
        if (OperatingSystem.IsWindows()) return Environment.GetEnvironmentVariable(name);
        var p = getenv(name);
        return p == IntPtr.Zero ? null : Marshal.PtrToStringUTF8(p);
    }

    static void SetDefault(string name, string value)
    {
        if (!string.IsNullOrEmpty(Get(name))) return;
        if (OperatingSystem.IsWindows()) Environment.SetEnvironmentVariable(name, value);
        else if (setenv(name, value, 0) != 0) return;
        Environment.SetEnvironmentVariable(name, value);
        lock (_applied) _applied.Add($"{name}={value}");
    }

    [DllImport("libc", CharSet = CharSet.Ansi)]
    static extern int setenv(string name, string value, int overwrite);

    [DllImport("libc", CharSet = CharSet.Ansi)]
    static extern IntPtr getenv(string name);
}
