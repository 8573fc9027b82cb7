using WarmStart.Core.Native;
using static TorchSharp.torch;

namespace WarmStart.Core.Data;

/// <summary>
/// One epoch over a subset: a seeded permutation of the subset's indices, cut into batches of indices.
/// Batches are gathered with tensor indexing (<see cref="Dataset.Batch"/>), never per sample.
/// </summary>
public sealed class EpochBatches : IDisposable
{
    readonly Tensor _order;
    readonly int _batchSize;

    /// <summary>Orders <paramref name="indices"/> by a permutation drawn from <paramref name="seed"/>.</summary>
    public EpochBatches(Tensor indices, int batchSize, long seed)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), $"batch size {batchSize} must be ≥ 1");
        TorchRuntime.EnsureLoaded();
        _batchSize = batchSize;
        using var g = new Generator((ulong)seed);
        using var perm = randperm(indices.shape[0], dtype: ScalarType.Int64, generator: g);
        _order = indices.index_select(0, perm);
    }

    /// <summary>Number of examples in the epoch.</summary>
    public long Count => _order.shape[0];
    /// <summary>The whole epoch's order (batch b is its elements b·batchSize …); owned by this object.</summary>
    public Tensor Order => _order;

    /// <summary>Number of minibatches (the last may be smaller).</summary>
    public int BatchCount => (int)((Count + _batchSize - 1) / _batchSize);

    /// <summary>The indices of batch <paramref name="b"/> (a view: use it inside the step's dispose scope).</summary>
    public Tensor this[int b] => _order.narrow(0, (long)b * _batchSize, Math.Min(_batchSize, Count - (long)b * _batchSize));

    /// <inheritdoc />
    public void Dispose() => _order.Dispose();
}
