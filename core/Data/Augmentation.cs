using static TorchSharp.torch;

namespace WarmStart.Core.Data;

/// <summary>
/// The standard CIFAR augmentation as batched tensor operations: random crop back to the input size from the image
/// zero-padded by <see cref="Padding"/> pixels on each side, then (optionally) a random horizontal flip with
/// probability ½ — torchvision's <c>RandomCrop(32, padding=4)</c> + <c>RandomHorizontalFlip()</c>. Per batch: pad once,
/// draw each sample's row offset, column offset and flip from a seeded <see cref="Generator"/>, take each sample's
/// window from an unfolded view of the padded batch with one advanced-indexing copy, and flip the chosen samples with
/// one <c>where</c>. No per-sample or per-pixel managed loop.
/// Works on uint8 and float [B, C, H, W] batches; apply it to uint8 images (before normalisation) to pad with black
/// as torchvision does. Off by default: the paper used none.
/// </summary>
public sealed record Augmentation(int Padding = 4, bool HorizontalFlip = true)
{
    /// <summary>Random crop with 4-pixel zero padding and random horizontal flip.</summary>
    public static Augmentation Standard { get; } = new(4, true);

    /// <summary>Returns the augmented batch (a new tensor of the input's shape and dtype); draws, in order, B row
    /// offsets, B column offsets and (when flipping) B coin flips from <paramref name="generator"/>.</summary>
    public Tensor Apply(Tensor batch, Generator generator)
    {
        if (batch.dim() != 4) throw new ArgumentException($"augmentation needs [B, C, H, W], got rank {batch.dim()}", nameof(batch));
        if (Padding < 0) throw new ArgumentOutOfRangeException(nameof(Padding), $"padding {Padding} must be ≥ 0");
        long b = batch.shape[0], h = batch.shape[2], w = batch.shape[3];
        if (b == 0) return batch.clone();
        using var scope = NewDisposeScope();
        var dev = batch.device;
        long p = Padding;
        var padded = p > 0 ? nn.functional.pad(batch, new[] { p, p, p, p }, TorchSharp.PaddingModes.Constant, 0) : batch;
        // Offsets in [0, 2p]: the top-left corner of the crop in the padded image.
        var dy = randint(0, 2 * p + 1, new[] { b }, generator: generator, dtype: ScalarType.Int64).to(dev);
        var dx = randint(0, 2 * p + 1, new[] { b }, generator: generator, dtype: ScalarType.Int64).to(dev);
        // Every (2p+1)² crop as a view [B, C, 2p+1, 2p+1, H, W] (no copy), then one advanced-indexing copy picks each
        // sample's window: [B, C, H, W]. (Measured faster than gathering rows then columns, or looping over the 81 offsets.)
        var windows = padded.unfold(2, h, 1).unfold(3, w, 1);
        var samples = arange(b, dtype: ScalarType.Int64, device: dev);
        var result = windows.index(TensorIndex.Tensor(samples), TensorIndex.Colon, TensorIndex.Tensor(dy), TensorIndex.Tensor(dx));
        if (HorizontalFlip)
        {
            var flip = randint(0, 2, new[] { b }, generator: generator, dtype: ScalarType.Int64).to(dev).to_type(ScalarType.Bool);
            result = where(flip.view(b, 1, 1, 1), result.flip(3), result);
        }
        return result.MoveToOuterDisposeScope();
    }
}
