namespace WarmStart.Core.Training;

/// <summary>One epoch of a training stage: mean loss and accuracy over the epoch's batches (train mode), and wall
/// seconds of training (evaluation excluded). When the stage evaluates during training (<see cref="EvaluationHook"/>),
/// the epoch also holds the evaluation set's loss and accuracy; otherwise both are NaN.</summary>
public sealed record EpochRecord(int Epoch, double Loss, double TrainAccuracy, double Seconds)
{
    /// <summary>Mean cross-entropy on the stage's evaluation set after this epoch (eval mode); NaN when not evaluated.</summary>
    public double TestLoss { get; init; } = double.NaN;
    /// <summary>Accuracy on the stage's evaluation set after this epoch (eval mode); NaN when not evaluated.</summary>
    public double TestAccuracy { get; init; } = double.NaN;
    /// <summary>True when the epoch was evaluated (its <see cref="TestAccuracy"/> is a number).</summary>
    public bool Evaluated => !double.IsNaN(TestAccuracy);
}

/// <summary>What a training stage produced.</summary>
public sealed record TrainResult(
    IReadOnlyList<EpochRecord> Curve,
    int Epochs,
    double TrainLoss,
    double TrainAccuracy,
    double Seconds,
    long SamplesSeen,
    bool Diverged)
{
    /// <summary>False when the stage stopped (at its epoch cap, or by patience) before its training-accuracy
    /// threshold, or diverged; true for a fixed number of epochs or a threshold reached. Defaults to true, so
    /// results made before the flag existed read as before.</summary>
    public bool Converged { get; init; } = true;

    /// <summary>Training throughput over the stage.</summary>
    public double SamplesPerSecond => Seconds > 0 ? SamplesSeen / Seconds : 0;
}
