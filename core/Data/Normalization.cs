namespace WarmStart.Core.Data;

/// <summary>Per-channel mean and standard deviation applied to images scaled to [0, 1], per batch.</summary>
public sealed record Normalization(double[] Mean, double[] Std)
{
    /// <summary>The authors' code: mean 0.5, sd 0.5 for every channel (maps [0, 1] to [-1, 1]).</summary>
    public static Normalization Half(int channels) =>
        new(Enumerable.Repeat(0.5, channels).ToArray(), Enumerable.Repeat(0.5, channels).ToArray());

    /// <summary>No normalisation beyond scaling to [0, 1].</summary>
    public static Normalization Identity(int channels) =>
        new(new double[channels], Enumerable.Repeat(1.0, channels).ToArray());
}
