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

    /// <summary>The first <paramref name="k"/> entries of <paramref name="indices"/>, or all of them when there are fewer (copied).</summary>
    public static Tensor AtMost(Tensor indices, long k) => Prefix(indices, Math.Clamp(k, 0, indices.shape[0]));

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

    /// <summary>The <paramref name="count"/> entries of <paramref name="pool"/> from position <paramref name="start"/>
    /// (fewer when the pool ends first; copied).</summary>
    public static Tensor Slice(Tensor pool, long start, long count)
    {
        long n = pool.shape[0];
        if (start < 0 || start >= n) throw new ArgumentOutOfRangeException(nameof(start), $"pool slice starts at {start} but the pool holds {n} examples");
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), $"pool slice of {count} examples");
        return pool.narrow(0, start, Math.Min(count, n - start)).clone();
    }

    /// <summary>The entries of <paramref name="indices"/> not in <paramref name="exclude"/>, in their order: both index a
    /// split of <paramref name="n"/> examples.</summary>
    static Tensor Without(Tensor indices, Tensor exclude, long n)
    {
        using var scope = NewDisposeScope();
        var mask = zeros(new[] { n }, dtype: ScalarType.Bool, device: indices.device);
        mask.index_fill_(0, exclude, Scalars.True); // a held Scalar: see Scalars
        var seen = mask.index_select(0, indices);
        return indices.masked_select(seen.logical_not()).MoveToOuterDisposeScope();
    }

    /// <summary>The unlabelled examples of an active-learning pool: the entries of <paramref name="pool"/> not in
    /// <paramref name="labelled"/>, in pool order (indices into a split of <paramref name="n"/> examples).</summary>
    public static Tensor Unlabelled(Tensor pool, Tensor labelled, long n) => Without(pool, labelled, n);

    /// <summary>The examples a stage adds to its parent's: the entries of <paramref name="indices"/> not in
    /// <paramref name="parentIndices"/>, in order (indices into a split of <paramref name="n"/> examples).</summary>
    public static Tensor NewOnly(Tensor indices, Tensor parentIndices, long n) => Without(indices, parentIndices, n);

    /// <summary>Splits a permutation of 0..n-1 into (first part, second part) at fraction <paramref name="first"/>;
    /// the authors' code uses 2/3 : 1/3 of the official training set as pool : held-out.</summary>
    public static (Tensor First, Tensor Second) Split(long n, double first, long seed)
    {
        using var p = Permutation(n, seed);
        var k = CountFor(first, n);
        return (Prefix(p, k), Rest(p, k));
    }

    /// <summary>
    /// A study's training pool for one seed: a seeded permutation of the <paramref name="n"/> training examples, or,
    /// when <paramref name="poolFraction"/> is given, its first part (<see cref="Split"/>) with the rest returned as the
    /// held-out evaluation set (null otherwise); the pool is cut to its first <paramref name="size"/> entries when that
    /// is smaller.
    /// </summary>
    public static (Tensor Pool, Tensor? Eval) StudyPool(long n, long seed, long? size, double? poolFraction)
    {
        Tensor first;
        Tensor? eval = null;
        if (poolFraction is double f) (first, eval) = Split(n, f, seed);
        else first = Permutation(n, seed);
        if (size is long m && m < first.shape[0])
        {
            var p = Prefix(first, m);
            first.Dispose();
            return (p, eval);
        }
        return (first, eval);
    }

    /// <summary>The authors'-code fraction of the official training set used as the training pool (the rest is held out).</summary>
    public const double AuthorsPoolFraction = 2.0 / 3.0;

    /// <summary>
    /// The authors'-code protocol (Ash &amp; Adams): a seeded permutation of the <paramref name="trainCount"/> official
    /// training examples; the first <paramref name="poolFraction"/> (2/3) is the training pool, the rest (1/3) the
    /// held-out evaluation set. Both are int64 index tensors into the official training split, disjoint, covering it.
    /// </summary>
    public static (Tensor Pool, Tensor Eval) HeldOut(long trainCount, long seed, double poolFraction = AuthorsPoolFraction)
    {
        if (!(poolFraction > 0 && poolFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(poolFraction), $"pool fraction {poolFraction} must be in (0, 1) to leave a held-out part");
        if (trainCount < 2) throw new ArgumentOutOfRangeException(nameof(trainCount), $"{trainCount} examples cannot be split");
        var (pool, eval) = Split(trainCount, poolFraction, seed);
        if (eval.shape[0] == 0) { pool.Dispose(); eval.Dispose(); throw new ArgumentOutOfRangeException(nameof(poolFraction), "the held-out part would be empty"); }
        return (pool, eval);
    }

    /// <summary>
    /// The training pool and the evaluation set of a study. <see cref="EvalSplit.OfficialTest"/>: the pool is a seeded
    /// permutation of the whole training split and evaluation uses the whole official test split.
    /// <see cref="EvalSplit.HeldOut"/>: <see cref="HeldOut"/> — pool and evaluation both index the training split.
    /// </summary>
    public static PoolAndEval ForProtocol(DataSplits data, EvalSplit split, long seed)
    {
        if (split == EvalSplit.HeldOut)
        {
            var (pool, eval) = HeldOut(data.Train.Count, seed);
            return new PoolAndEval(pool, data.Train, eval, split);
        }
        TorchRuntime.EnsureLoaded();
        return new PoolAndEval(Permutation(data.Train.Count, seed), data.Test, arange(data.Test.Count, dtype: ScalarType.Int64), split);
    }
}

/// <summary>Which examples a study evaluates on.</summary>
public enum EvalSplit
{
    /// <summary>The official test split (the default).</summary>
    OfficialTest,
    /// <summary>The authors'-code protocol: 1/3 of the official training split held out (2/3 is the training pool).</summary>
    HeldOut,
}

/// <summary>A study's training pool (indices into the training split) and its evaluation set (a split and indices into it).
/// Disposing frees the index tensors, not the datasets.</summary>
public sealed record PoolAndEval(Tensor Pool, Dataset EvalData, Tensor EvalIndices, EvalSplit Split) : IDisposable
{
    /// <inheritdoc />
    public void Dispose() { Pool.Dispose(); EvalIndices.Dispose(); }
}
