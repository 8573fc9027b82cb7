using System.Diagnostics;
using WarmStart.Core.Data;
using static TorchSharp.torch;

namespace WarmStart.Core.Training;

/// <summary>
/// Evaluates the model on an evaluation set every <c>n</c> epochs (eval mode, no gradients, training mode restored:
/// see <see cref="Evaluation.Evaluate"/>) and keeps the loss and accuracy per epoch. It runs at <c>EpochEnd</c>,
/// after the trainer has stopped the epoch's stopwatch, so evaluation never counts in an epoch's seconds; the
/// seconds it spends are summed in <see cref="Seconds"/> for the caller to take out of the stage's total.
/// Evaluation draws no random numbers and updates no BatchNorm statistics, so training is the same with or without it.
/// </summary>
public sealed class EvaluationHook : ITrainingHook
{
    readonly int _every;
    readonly Dataset _data;
    readonly Tensor? _indices;
    readonly Device? _device;
    readonly Dictionary<int, (double Loss, double Accuracy)> _results = new();

    /// <summary>Evaluates on <paramref name="indices"/> of <paramref name="data"/> (all of it when null) after each
    /// epoch whose number is divisible by <paramref name="every"/> (≥ 1).</summary>
    public EvaluationHook(int every, Dataset data, Tensor? indices = null, Device? device = null)
    {
        if (every < 1) throw new ArgumentOutOfRangeException(nameof(every), $"evaluate every {every} epochs; allowed: ≥ 1");
        _every = every; _data = data; _indices = indices; _device = device;
    }

    /// <summary>Wall seconds spent evaluating so far.</summary>
    public double Seconds { get; private set; }

    /// <summary>The evaluations made so far, by epoch.</summary>
    public IReadOnlyDictionary<int, (double Loss, double Accuracy)> Results => _results;

    /// <inheritdoc />
    public void EpochEnd(EpochEndInfo info)
    {
        var rec = info.Record;
        // A diverged epoch ends the stage and its model is not evaluated (its test accuracy is NaN too).
        if (rec.Epoch % _every != 0 || !double.IsFinite(rec.Loss)) return;
        var sw = Stopwatch.StartNew();
        _results[rec.Epoch] = Evaluation.Evaluate(info.Model, _data, _indices, device: _device);
        Seconds += sw.Elapsed.TotalSeconds;
    }

    /// <summary><paramref name="record"/> with this hook's evaluation of its epoch, if there is one (else unchanged).</summary>
    public EpochRecord Annotate(EpochRecord record) =>
        _results.TryGetValue(record.Epoch, out var r) ? record with { TestLoss = r.Loss, TestAccuracy = r.Accuracy } : record;
}
