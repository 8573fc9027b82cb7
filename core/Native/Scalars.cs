using System.Collections.Concurrent;
using TorchSharp;

namespace WarmStart.Core.Native;

/// <summary>
/// Scalars that stay alive while libtorch reads them. TorchSharp 0.107 passes a <see cref="Scalar"/>'s native handle
/// to libtorch without <c>GC.KeepAlive</c>, so a Scalar made by implicit conversion (<c>t.mul_(0.5)</c>,
/// <c>add_(x, alpha: a)</c>, <c>t * 2</c>, and even <c>a + b</c> and <c>add_(x)</c> of two tensors, which pass an
/// implicit alpha of 1) is unreachable once its handle is read. Scalars have a finaliser and are not tracked by
/// DisposeScope: when another thread's allocation triggers a garbage collection during the native call, the
/// finaliser frees the native value while libtorch still reads it ("Expected false to be true … c10/core/Scalar.h",
/// wrong values, or a segfault). Code on the training paths passes Scalars from here instead: the cached ones live
/// for the process; a value that changes every step is made with <c>using var s = v.ToScalar();</c>, whose
/// <c>Dispose</c> at the end of the scope keeps it alive through the call.
/// </summary>
public static class Scalars
{
    /// <summary>The floating-point 1.</summary>
    public static readonly Scalar One;
    /// <summary>The integer 1: what TorchSharp's <c>add(Tensor)</c> and <c>a + b</c> pass as alpha (also the only
    /// alpha integer tensors accept).</summary>
    public static readonly Scalar OneInt;
    /// <summary>The integer 0.</summary>
    public static readonly Scalar ZeroInt;
    /// <summary>The boolean true.</summary>
    public static readonly Scalar True;

    static Scalars()
    {
        // Making a Scalar touches torch: the toolkit's loader must run first (see TorchRuntime). Field initialisers
        // would run before this body, so the fields are set here.
        TorchRuntime.EnsureLoaded();
        One = 1.0.ToScalar();
        OneInt = 1.ToScalar();
        ZeroInt = 0.ToScalar();
        True = true.ToScalar();
    }

    // Keyed by the bit pattern so that 0.0 and -0.0 (equal as doubles) keep their own Scalars, and NaN is one key.
    static readonly ConcurrentDictionary<long, Scalar> Doubles = new();
    static readonly ConcurrentDictionary<int, Scalar> Singles = new();
    static readonly ConcurrentDictionary<long, Scalar> Integers = new();

    /// <summary>A process-lifetime Scalar holding the double <paramref name="value"/> (as an implicit conversion of a
    /// double makes). For values that repeat — hyper-parameters, batch sizes, constants — never for a value that
    /// changes every step (the cache would grow without bound): use <c>using var s = v.ToScalar();</c> there.</summary>
    public static Scalar Of(double value) =>
        Doubles.GetOrAdd(BitConverter.DoubleToInt64Bits(value), static (_, v) => v.ToScalar(), value);

    /// <summary>A process-lifetime Scalar holding the float <paramref name="value"/> (as an implicit conversion of a
    /// float makes: the double of the float, not the nearest double of its decimal).</summary>
    public static Scalar Of(float value) =>
        Singles.GetOrAdd(BitConverter.SingleToInt32Bits(value), static (_, v) => v.ToScalar(), value);

    /// <summary>A process-lifetime integer Scalar holding <paramref name="value"/> (as an implicit conversion of an
    /// int or long makes).</summary>
    public static Scalar Of(long value) =>
        Integers.GetOrAdd(value, static (_, v) => v.ToScalar(), value);

    /// <summary>A process-lifetime integer Scalar holding <paramref name="value"/>.</summary>
    public static Scalar Of(int value) => Of((long)value);
}
