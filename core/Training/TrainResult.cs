namespace WarmStart.Core.Training;

/// <summary>One epoch of a training stage: mean loss and accuracy over the epoch's batches (train mode), and wall seconds.</summary>
public sealed record EpochRecord(int Epoch, double Loss, double TrainAccuracy, double Seconds);

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
