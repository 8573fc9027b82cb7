using WarmStart.Core.Data;
using WarmStart.Core.Models;
using WarmStart.Core.Training;
using static TorchSharp.torch;

namespace WarmStart.Core.Diagnostics;

/// <summary>Loss and accuracy of a model whose learnable parameters were multiplied by <see cref="Lambda"/>.</summary>
public sealed record ShrinkPoint(double Lambda, double Loss, double Accuracy);

/// <summary>
/// "Shrinking preserves the hypothesis" (protocol E11, Proposition 1): multiply every learnable parameter of a
/// trained model by λ (buffers such as BatchNorm running statistics unchanged) and evaluate it (eval mode) for
/// each λ of a grid. The model is restored afterwards.
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
    /// <paramref name="indices"/> of <paramref name="data"/> (all of it when null).</summary>
    public static ShrinkPoint[] Sweep(Network model, Dataset data, Tensor? indices, IEnumerable<double> lambdas,
        int batchSize = 2048, Device? device = null)
    {
        using var original = ParameterSet.Of(model);
        var points = new List<ShrinkPoint>();
        try
        {
            foreach (var lambda in lambdas)
            {
                using (no_grad())
                    foreach (var (name, p) in model.named_parameters()) p.copy_(original[name]).mul_(lambda);
                var (loss, acc) = Evaluation.Evaluate(model, data, indices, batchSize, device);
                points.Add(new ShrinkPoint(lambda, loss, acc));
            }
        }
        finally { original.CopyInto(model); }
        return points.ToArray();
    }
}
