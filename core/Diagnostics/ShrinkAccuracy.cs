using WarmStart.Core.Data;
using WarmStart.Core.Models;
using WarmStart.Core.Training;
using static TorchSharp.torch;
using WarmStart.Core.Native;

namespace WarmStart.Core.Diagnostics;

/// <summary>Loss and accuracy of a model whose learnable parameters were multiplied by <see cref="Lambda"/>.</summary>
public sealed record ShrinkPoint(double Lambda, double Loss, double Accuracy);

/// <summary>Which statistics BatchNorm normalises with while a shrunk model is evaluated.</summary>
public enum ShrinkBatchNorm
{
    /// <summary>The model's running statistics (eval mode): the trained network as it would be deployed.</summary>
    RunningStatistics,
    /// <summary>Each evaluation batch's own statistics (train-mode BatchNorm, no gradients), as the reproduction's
    /// Figure 6 (its shrunk copy is a new module left in train mode). A BatchNorm layer then undoes a uniform scale
    /// of the weights before it, so the curve shows where shrinking the rest of the network bites. Results depend
    /// on the evaluation batch size. The running statistics are restored afterwards.</summary>
    BatchStatistics,
}

/// <summary>
/// "Shrinking preserves the hypothesis" (protocol E11, Proposition 1): multiply every learnable parameter of a
/// trained model by λ (buffers such as BatchNorm running statistics unchanged) and evaluate it for each λ of a
/// grid, with BatchNorm on running or batch statistics (<see cref="ShrinkBatchNorm"/>). The model is restored
/// afterwards (parameters, buffers and training mode).
/// </summary>
public static class ShrinkAccuracy
{
    /// <summary><paramref name="points"/> evenly spaced values from 0 to 1 inclusive (the reproduction: 81).</summary>
    public static double[] Grid(int points = 81)
    {
        if (points < 2) throw new ArgumentOutOfRangeException(nameof(points), $"a shrink grid needs ≥ 2 points, got {points}");
        return Enumerable.Range(0, points).Select(i => (double)i / (points - 1)).ToArray();
    }

    /// <summary>Evaluates <paramref name="model"/> scaled by each of <paramref name="lambdas"/> on
    /// <paramref name="indices"/> of <paramref name="data"/> (all of it when null), in batches of
    /// <paramref name="batchSize"/>, BatchNorm as <paramref name="batchNorm"/> says.</summary>
    public static ShrinkPoint[] Sweep(Network model, Dataset data, Tensor? indices, IEnumerable<double> lambdas,
        int batchSize = 2048, Device? device = null, ShrinkBatchNorm batchNorm = ShrinkBatchNorm.RunningStatistics)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), $"shrink accuracy batch size {batchSize}; allowed: ≥ 1");
        using var original = ParameterSet.Of(model);
        var buffers = batchNorm == ShrinkBatchNorm.BatchStatistics
            ? model.named_buffers().Select(b => (b.name, b.buffer, copy: b.buffer.detach().clone())).ToArray()
            : Array.Empty<(string name, Tensor buffer, Tensor copy)>();
        var points = new List<ShrinkPoint>();
        try
        {
            foreach (var lambda in lambdas)
            {
                using (no_grad())
                    foreach (var (name, p) in model.named_parameters()) p.copy_(original[name]).mul_(Scalars.Of(lambda));
                var (loss, acc) = batchNorm == ShrinkBatchNorm.RunningStatistics
                    ? Evaluation.Evaluate(model, data, indices, batchSize, device)
                    : Evaluation.EvaluateBatchStatistics(model, data, indices, batchSize, device);
                points.Add(new ShrinkPoint(lambda, loss, acc));
            }
        }
        finally
        {
            original.CopyInto(model);
            using (no_grad())
                foreach (var (_, buffer, copy) in buffers) { buffer.copy_(copy); copy.Dispose(); }
        }
        return points.ToArray();
    }
}
