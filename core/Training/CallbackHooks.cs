using WarmStart.Core.Models;
using static TorchSharp.torch;

namespace WarmStart.Core.Training;

/// <summary>Plain callbacks as a hook: <c>BeforeEpoch</c> with the epoch's number and <c>EpochEnd</c> with its record
/// (how <see cref="TrainOptions.BeforeEpoch"/> and <see cref="TrainOptions.AfterEpoch"/> reach the loop).</summary>
public sealed class EpochCallbackHook : ITrainingHook
{
    readonly Action<int>? _before;
    readonly Action<EpochRecord>? _after;

    /// <summary>A hook calling <paramref name="before"/> before each epoch and <paramref name="after"/> after it (either may be null).</summary>
    public EpochCallbackHook(Action<int>? before, Action<EpochRecord>? after) { _before = before; _after = after; }

    /// <inheritdoc />
    public void BeforeEpoch(int epoch) => _before?.Invoke(epoch);

    /// <inheritdoc />
    public void EpochEnd(EpochEndInfo info) => _after?.Invoke(info.Record);
}

/// <summary>
/// Saves a resumable checkpoint every <c>every</c> epochs: hands the model, the optimiser and the whole curve so far
/// (a resumed stage's earlier epochs included) to a save callback, which writes them where the caller keeps them.
/// </summary>
public sealed class CheckpointHook : ITrainingHook
{
    readonly int _every;
    readonly Action<Network, optim.Optimizer, IReadOnlyList<EpochRecord>> _save;
    readonly List<EpochRecord> _curve;

    /// <summary>Checkpoints after epochs divisible by <paramref name="every"/> (≥ 1), continuing <paramref name="priorCurve"/>.</summary>
    public CheckpointHook(int every, IEnumerable<EpochRecord> priorCurve, Action<Network, optim.Optimizer, IReadOnlyList<EpochRecord>> save)
    {
        if (every < 1) throw new ArgumentOutOfRangeException(nameof(every), $"checkpoint every {every} epochs; allowed: ≥ 1");
        _every = every; _save = save; _curve = new List<EpochRecord>(priorCurve);
    }

    /// <inheritdoc />
    public void EpochEnd(EpochEndInfo info)
    {
        _curve.Add(info.Record);
        if (info.Record.Epoch % _every == 0) _save(info.Model, info.Optimizer, _curve);
    }
}
