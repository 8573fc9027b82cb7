using TorchSharp;
using static TorchSharp.torch;
using WarmStart.Core.Native;

namespace WarmStart.Core.Data;

/// <summary>
/// One split of a dataset held once in memory: images as a <c>uint8</c> tensor [N, C, H, W] and labels as
/// <c>int64</c> [N]. Conversion to float and normalisation happen per batch (<see cref="Batch"/>), so a
/// dataset never exists as float in memory.
/// </summary>
public sealed class Dataset : IDisposable
{
    /// <summary>Name, e.g. "fashion-mnist/train".</summary>
    public string Name { get; }
    /// <summary>uint8 [N, C, H, W].</summary>
    public Tensor Images { get; }
    /// <summary>int64 [N], values in [0, NumClasses).</summary>
    public Tensor Labels { get; }
    /// <summary>Number of classes.</summary>
    public int NumClasses { get; }
    /// <summary>Normalisation applied per batch.</summary>
    public Normalization Normalization { get; }

    readonly Tensor _mean, _std;

    /// <summary>Wraps tensors (takes ownership); validates dtypes, shapes and label range.</summary>
    public Dataset(string name, Tensor images, Tensor labels, int numClasses, Normalization normalization)
    {
        if (images.dtype != ScalarType.Byte) throw new ArgumentException($"{name}: images must be uint8, got {images.dtype}");
        if (images.dim() != 4) throw new ArgumentException($"{name}: images must be [N, C, H, W], got rank {images.dim()}");
        if (labels.dtype != ScalarType.Int64 || labels.dim() != 1 || labels.shape[0] != images.shape[0])
            throw new ArgumentException($"{name}: labels must be int64 [{images.shape[0]}], got {labels.dtype} [{string.Join(", ", labels.shape)}]");
        if (normalization.Mean.Length != images.shape[1] || normalization.Std.Length != images.shape[1])
            throw new ArgumentException($"{name}: normalisation has {normalization.Mean.Length} channels, images have {images.shape[1]}");
        Name = name; Images = images; Labels = labels; NumClasses = numClasses; Normalization = normalization;
        long c = images.shape[1];
        _mean = tensor(normalization.Mean.Select(m => (float)m).ToArray()).reshape(1, c, 1, 1);
        _std = tensor(normalization.Std.Select(s => (float)s).ToArray()).reshape(1, c, 1, 1);
    }

    /// <summary>Number of examples.</summary>
    public long Count => Images.shape[0];
    /// <summary>Channels, height, width.</summary>
    public (long C, long H, long W) Shape => (Images.shape[1], Images.shape[2], Images.shape[3]);

    /// <summary>Gathers the examples at <paramref name="indices"/> (int64) as a normalised float batch on
    /// <paramref name="device"/>. Allocates in the caller's dispose scope.</summary>
    public (Tensor X, Tensor Y) Batch(Tensor indices, Device? device = null)
    {
        var x = ToFloat(Images.index_select(0, indices), device);
        var y = Labels.index_select(0, indices);
        if (device != null && device.type != DeviceType.CPU) y = y.to(device);
        return (x, y);
    }

    /// <summary>Like <see cref="Batch(Tensor, Device?)"/>, with <paramref name="augmentation"/> (when not null) applied to
    /// the uint8 images before conversion, its randomness drawn from <paramref name="generator"/>.</summary>
    public (Tensor X, Tensor Y) AugmentedBatch(Tensor indices, Device? device, Augmentation? augmentation, Generator? generator)
    {
        if (augmentation is null) return Batch(indices, device);
        if (generator is null) throw new ArgumentNullException(nameof(generator), "augmentation needs a seeded generator");
        var bytes = Images.index_select(0, indices);
        var x = ToFloat(augmentation.Apply(bytes, generator), device);
        var y = Labels.index_select(0, indices);
        if (device != null && device.type != DeviceType.CPU) y = y.to(device);
        return (x, y);
    }

    /// <summary>Scales uint8 images to [0, 1] and normalises them, on <paramref name="device"/>.</summary>
    public Tensor ToFloat(Tensor bytes, Device? device = null)
    {
        var b = device != null && device.type != DeviceType.CPU ? bytes.to(device) : bytes;
        // torch.Device has no value equality: compare type and index, so CPU batches never copy the constants.
        bool same = _mean.device_type == b.device_type && _mean.device_index == b.device_index;
        var m = same ? _mean : _mean.to(b.device);
        var s = same ? _std : _std.to(b.device);
        // A held 255 (see Scalars); sub_ and div_ of tensors take no Scalar.
        return b.to_type(ScalarType.Float32).div_(Scalars.Of(255f)).sub_(m).div_(s);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Images.Dispose(); Labels.Dispose(); _mean.Dispose(); _std.Dispose();
    }
}

/// <summary>The official training and test splits of a dataset.</summary>
public sealed record DataSplits(Dataset Train, Dataset Test, string[] ClassNames) : IDisposable
{
    /// <inheritdoc />
    public void Dispose() { Train.Dispose(); Test.Dispose(); }
}
