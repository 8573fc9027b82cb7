using System.Diagnostics;
using WarmStart.Core.Data;
using WarmStart.Core.Models;
using WarmStart.Core.Runs;
using TorchSharp;
using static TorchSharp.torch;
using WarmStart.Core.Native;

namespace WarmStart.Core.Diagnostics;

/// <summary>
/// Gradient norms before one epoch (protocol E10): the mean over old-data minibatches and over new-data minibatches
/// of the L2 norm of the whole flattened gradient (null for a half with no data), the number of minibatches of
/// each, and the seconds the measurement took.
/// </summary>
public sealed record GradientNormRecord(int Epoch, double? OldMean, double? NewMean, int OldBatches, int NewBatches, double Seconds);

/// <summary>
/// The gradient-imbalance measurement of Ash &amp; Adams §4 (Figure 5), as in the reproduction's <c>--grad-track</c>:
/// for each minibatch, the L2 norm of the gradient of the mean cross-entropy (the data loss, no penalties) with
/// respect to all learnable parameters, flattened into one vector; averaged over the minibatches of a subset.
/// Computed in train mode (BatchNorm uses batch statistics) with no optimiser step. Unlike a bare train-mode pass,
/// BatchNorm running statistics are restored afterwards, so measuring does not change the training run.
/// </summary>
public static class GradientNorms
{
    /// <summary>The L2 norm of the gradient of the mean cross-entropy of <paramref name="model"/> on one batch
    /// (a 0-dim tensor; no sync). Leaves the gradients on the model.</summary>
    public static Tensor BatchGradientNorm(Network model, Tensor x, Tensor y)
    {
        model.zero_grad();
        using (var scope = NewDisposeScope())
            nn.functional.cross_entropy(model.forward(x), y).backward();
        using var _ = no_grad();
        using var s2 = NewDisposeScope();
        Tensor? total = null;
        foreach (var p in model.parameters())
            if (p.grad is Tensor g) total = total is null ? g.square().sum() : total.add(g.square().sum(), Scalars.OneInt);
        return (total ?? zeros(1, device: x.device).squeeze()).sqrt().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Mean per-minibatch gradient norm over <paramref name="indices"/> of <paramref name="data"/>, batched in a
    /// seeded random order (<paramref name="seed"/>) like a training epoch; at most <paramref name="maxBatches"/>
    /// minibatches when given. Train mode; BatchNorm buffers restored; gradients zeroed afterwards; the model's mode restored.
    /// </summary>
    public static (double? Mean, int Batches) Mean(Network model, Dataset data, Tensor indices, int batchSize, long seed,
        Device? device = null, int? maxBatches = null)
    {
        if (indices.shape[0] == 0) return (null, 0);
        bool wasTraining = model.training;
        using var buffers = SaveBuffers(model);
        model.train();
        try
        {
            using var batches = new EpochBatches(indices, batchSize, seed);
            int count = Math.Min(batches.BatchCount, maxBatches ?? int.MaxValue);
            using var sum = zeros(1, dtype: ScalarType.Float64, device: device ?? CPU);
            for (int b = 0; b < count; b++)
            {
                using var scope = NewDisposeScope();
                var (x, y) = data.Batch(batches[b], device);
                sum.add_(BatchGradientNorm(model, x, y).to(ScalarType.Float64), Scalars.OneInt);
            }
            return count == 0 ? (null, 0) : (sum.item<double>() / count, count);
        }
        finally
        {
            model.zero_grad();
            RestoreBuffers(model, buffers.Tensors);
            model.train(wasTraining);
        }
    }

    static ParameterSet SaveBuffers(Network model)
    {
        using var _ = no_grad();
        return new ParameterSet(model.named_buffers().ToDictionary(b => b.name, b => b.buffer.detach().clone()));
    }

    static void RestoreBuffers(Network model, IReadOnlyDictionary<string, Tensor> saved)
    {
        using var _ = no_grad();
        foreach (var (name, b) in model.named_buffers())
            if (saved.TryGetValue(name, out var s)) b.copy_(s);
    }
}

/// <summary>
/// Records <see cref="GradientNormRecord"/>s before every epoch of a stage: a training hook (register it in
/// <c>TrainOptions.Hooks</c>). Old data are the examples the parent stage trained on, new data the rest of
/// this stage's examples. The index tensors stay the caller's. Epoch e's minibatch order is seeded by
/// <c>Seeds.Derive(seed, "gradnorm-e-old" / "gradnorm-e-new")</c>.
/// </summary>
public sealed class GradientNormTracker : WarmStart.Core.Training.ITrainingHook
{
    readonly Network _model;
    readonly Dataset _data;
    readonly Tensor _old, _new;
    readonly int _batchSize;
    readonly long _seed;
    readonly Device? _device;
    readonly int? _maxBatches;
    readonly int _every;
    readonly List<GradientNormRecord> _records = new();

    /// <summary>
    /// Tracks <paramref name="model"/> on <paramref name="oldIndices"/> and <paramref name="newIndices"/> of
    /// <paramref name="data"/>, in minibatches of <paramref name="batchSize"/>. Cost: measuring both halves in full
    /// is one forward and backward pass over the stage's data, close to a training epoch without the optimiser
    /// step (measured: an epoch takes 1.7× as long for the MLP, 2.0× for the small CNN). To cut it,
    /// <paramref name="maxBatches"/> uses only the first that many minibatches of each half's seeded order (an
    /// unbiased estimate of the same mean), and <paramref name="every"/> measures before epochs 1, 1 + k, 1 + 2k, ….
    /// </summary>
    public GradientNormTracker(Network model, Dataset data, Tensor oldIndices, Tensor newIndices, int batchSize = 128,
        long seed = 0, Device? device = null, int? maxBatches = null, int every = 1)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), $"batch size {batchSize} must be ≥ 1");
        if (maxBatches is < 1) throw new ArgumentOutOfRangeException(nameof(maxBatches), $"max batches {maxBatches} must be ≥ 1");
        if (every < 1) throw new ArgumentOutOfRangeException(nameof(every), $"measuring every {every} epochs; allowed: ≥ 1");
        _model = model; _data = data; _old = oldIndices; _new = newIndices;
        _batchSize = batchSize; _seed = seed; _device = device; _maxBatches = maxBatches; _every = every;
    }

    /// <summary>The records so far, one per epoch measured.</summary>
    public IReadOnlyList<GradientNormRecord> Records => _records;

    /// <summary>Measures before epoch <paramref name="epoch"/> (when it is one of the measured epochs) and appends
    /// the record: the <c>BeforeEpoch</c> hook.</summary>
    public void BeforeEpoch(int epoch)
    {
        if ((epoch - 1) % _every == 0) _records.Add(Measure(epoch));
    }

    /// <summary>Measures both halves now, labelled <paramref name="epoch"/>, without recording.</summary>
    public GradientNormRecord Measure(int epoch)
    {
        var sw = Stopwatch.StartNew();
        var (oldMean, oldN) = GradientNorms.Mean(_model, _data, _old, _batchSize, Seeds.Derive(_seed, $"gradnorm-{epoch}-old"), _device, _maxBatches);
        var (newMean, newN) = GradientNorms.Mean(_model, _data, _new, _batchSize, Seeds.Derive(_seed, $"gradnorm-{epoch}-new"), _device, _maxBatches);
        return new GradientNormRecord(epoch, oldMean, newMean, oldN, newN, sw.Elapsed.TotalSeconds);
    }
}
