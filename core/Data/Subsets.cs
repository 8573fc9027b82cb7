using WarmStart.Core.Native;
using static TorchSharp.torch;

namespace WarmStart.Core.Data;

/// <summary>
/// Deterministic subsets of a dataset as int64 index tensors. Every subset comes from one seeded
/// permutation, so fractions of the same permutation are nested prefixes and a prefix and its rest are disjoint.
/// </summary>
public static class Subsets
{
    /// <summary>A seeded random permutation of 0..n-1 (int64).</summary>
    public static Tensor Permutation(long n, long seed)
    {
        TorchRuntime.EnsureLoaded();
        using var g = new Generator((ulong)seed);
        return randperm(n, dtype: ScalarType.Int64, generator: g);
    }

    /// <summary>The first <paramref name="k"/> entries of <paramref name="indices"/> (a view is copied, so it outlives the source).</summary>
    public static Tensor Prefix(Tensor indices, long k)
    {
        if (k < 0 || k > indices.shape[0]) throw new ArgumentOutOfRangeException(nameof(k), $"prefix {k} of {indices.shape[0]} indices");
        return indices.narrow(0, 0, k).clone();
    }

    /// <summary>The entries after the first <paramref name="k"/>.</summary>
    public static Tensor Rest(Tensor indices, long k)
    {
        if (k < 0 || k > indices.shape[0]) throw new ArgumentOutOfRangeException(nameof(k), $"rest after {k} of {indices.shape[0]} indices");
        return indices.narrow(0, k, indices.shape[0] - k).clone();
    }

    /// <summary>How many of <paramref name="n"/> items a fraction takes: round half up, at least one.</summary>
    public static long CountFor(double fraction, long n)
    {
        if (!(fraction > 0 && fraction <= 1)) throw new ArgumentOutOfRangeException(nameof(fraction), $"fraction {fraction} must be in (0, 1]");
        return Math.Clamp((long)Math.Floor(fraction * n + 0.5), 1, n);
    }

    /// <summary>The fraction prefix of <paramref name="pool"/>.</summary>
    public static Tensor Fraction(Tensor pool, double fraction) => Prefix(pool, CountFor(fraction, pool.shape[0]));

    /// <summary>Splits a permutation of 0..n-1 into (first part, second part) at fraction <paramref name="first"/>;
    /// the authors' code uses 2/3 : 1/3 of the official training set as pool : held-out.</summary>
    public static (Tensor First, Tensor Second) Split(long n, double first, long seed)
    {
        using var p = Permutation(n, seed);
        var k = CountFor(first, n);
        return (Prefix(p, k), Rest(p, k));
    }
}
