using WarmStart.Core.Diagnostics;
using WarmStart.Core.Models;
using WarmStart.Core.Training;
using static TorchSharp.torch;

namespace WarmStart.Core.Runs;

/// <summary>Correlation of a stage's final weights with its starting weights and with θ₀ (NaN where undefined).</summary>
/// <param name="Group">"all" or a layer group.</param>
/// <param name="VsStart">Against the weights the stage started from.</param>
/// <param name="VsInit">Against the chain's original initialisation θ₀.</param>
public sealed record CorrelationRow(string Group, double VsStart, double VsInit);

/// <summary>What a stage produced: its training result, its evaluation, its diagnostics, and the trained model and
/// optimiser (for the caller to store). Disposing frees the model and the optimiser.</summary>
public sealed class StageResult : IDisposable
{
    /// <summary>The training stage's result (curve, epochs, train loss and accuracy, divergence).</summary>
    public required TrainResult Train { get; init; }
    /// <summary>Mean loss on the evaluation set (NaN when training diverged).</summary>
    public required double TestLoss { get; init; }
    /// <summary>Accuracy on the evaluation set (NaN when training diverged).</summary>
    public required double TestAccuracy { get; init; }
    /// <summary>The number of training examples.</summary>
    public required long TrainSize { get; init; }
    /// <summary>Weight correlations ("all" first, then each group); empty unless asked for.</summary>
    public IReadOnlyList<CorrelationRow> Correlation { get; init; } = Array.Empty<CorrelationRow>();
    /// <summary>Gradient norms before each epoch; empty unless asked for (and the stage has a parent).</summary>
    public IReadOnlyList<GradientNormRecord> GradientNorms { get; init; } = Array.Empty<GradientNormRecord>();
    /// <summary>Accuracy of the scaled model at each λ of the shrink grid; empty unless asked for (or diverged).</summary>
    public IReadOnlyList<ShrinkPoint> ShrinkAccuracy { get; init; } = Array.Empty<ShrinkPoint>();
    /// <summary>The trained model.</summary>
    public required Network Model { get; init; }
    /// <summary>The stage's optimiser (its state is what a continuing stage carries over).</summary>
    public required optim.Optimizer Optimizer { get; init; }

    /// <inheritdoc />
    public void Dispose()
    {
        Optimizer.Dispose();
        Model.Dispose();
    }
}
