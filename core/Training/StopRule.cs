namespace WarmStart.Core.Training;

/// <summary>
/// When a training stage ends: after exactly <see cref="FixedEpochs"/> epochs, or as soon as the training
/// accuracy measured over an epoch reaches <see cref="TrainAccuracy"/> (the paper: 0.99), and in any case after
/// <see cref="MaxEpochs"/>. <see cref="Patience"/> (optional) stops when the epoch's training loss has not
/// improved for that many epochs.
/// </summary>
public sealed record StopRule(int? FixedEpochs, double? TrainAccuracy, int MaxEpochs, int? Patience = null)
{
    /// <summary>Exactly <paramref name="n"/> epochs.</summary>
    public static StopRule Epochs(int n) => new(n, null, n);
    /// <summary>Until the epoch's train accuracy ≥ <paramref name="threshold"/>, at most <paramref name="maxEpochs"/> epochs.</summary>
    public static StopRule UntilTrainAccuracy(double threshold, int maxEpochs) => new(null, threshold, maxEpochs);

    /// <summary>True when training should stop after an epoch with these figures.</summary>
    public bool ShouldStop(int epochsDone, double trainAccuracy, int epochsWithoutImprovement)
    {
        if (FixedEpochs is int f) return epochsDone >= f;
        if (epochsDone >= MaxEpochs) return true;
        if (TrainAccuracy is double t && trainAccuracy >= t) return true;
        return Patience is int p && epochsWithoutImprovement >= p;
    }

    /// <summary>True when a stage that ended with this epoch training accuracy met the rule's goal: always for a
    /// fixed number of epochs or a rule without a threshold; else when the threshold was reached (not the cap).</summary>
    public bool Reached(double trainAccuracy) =>
        FixedEpochs is not null || TrainAccuracy is not double t || trainAccuracy >= t;

    /// <inheritdoc />
    public override string ToString() =>
        FixedEpochs is int f ? $"{f} epochs"
        : $"train acc ≥ {TrainAccuracy} (max {MaxEpochs} epochs{(Patience is int p ? $", patience {p}" : "")})";
}
