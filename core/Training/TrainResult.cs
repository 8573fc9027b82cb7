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
    /// <summary>Training throughput over the stage.</summary>
    public double SamplesPerSecond => Seconds > 0 ? SamplesSeen / Seconds : 0;
}
