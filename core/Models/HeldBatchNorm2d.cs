using TorchSharp;
using WarmStart.Core.Native;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace WarmStart.Core.Models;

/// <summary>
/// TorchSharp 0.107's <c>nn.BatchNorm2d</c> with a forward that holds its Scalar. TorchSharp's forward counts
/// batches with <c>num_batches_tracked.add_(1)</c>, two implicit Scalars that a garbage collection on another thread
/// can free while libtorch reads them (see <see cref="Scalars"/>). The forward here is TorchSharp's
/// (src/TorchSharp/NN/Normalization/BatchNorm.cs at v0.107.0) op for op with held Scalars; parameters and buffers
/// are TorchSharp's own (<see cref="TorchSharp.Modules.NormBase"/>), under the same names, so saved models load
/// either way and the numbers are the same.
/// </summary>
public sealed class HeldBatchNorm2d : TorchSharp.Modules.BatchNorm
{
    /// <summary>A batch norm over <paramref name="numFeatures"/> channels, with TorchSharp's defaults.</summary>
    public HeldBatchNorm2d(long numFeatures, double eps = 1e-05, double momentum = 0.1, bool affine = true, bool trackRunningStats = true)
        // TorchSharp's BatchNorm2d passes this module name too.
        : base(numFeatures, eps, momentum, affine, trackRunningStats, null, null, "BatchNorm1d") { }

    /// <inheritdoc />
    protected override void ValidateInputDimensions(Tensor input)
    {
        if (input.ndim != 4)
            throw new ArgumentException($"expected 4D input, but got {input.ndim}D input.");
    }

    /// <summary>TorchSharp's BatchNorm forward, with the batch counter's Scalars held.</summary>
    public override Tensor forward(Tensor input)
    {
        ValidateInputDimensions(input);
        double exponentialAverageFactor = momentum is null ? 0.0 : momentum.Value;
        if (training && track_running_stats && num_batches_tracked is not null)
        {
            num_batches_tracked.add_(Scalars.OneInt, Scalars.OneInt);
            exponentialAverageFactor = momentum is null ? 1.0 / (double)num_batches_tracked : momentum.Value;
        }
        var bnTraining = training || (running_mean is null && running_var is null);
        var pr = !training || track_running_stats;
        return F.batch_norm(input, pr ? running_mean : null, pr ? running_var : null, weight, bias, bnTraining, exponentialAverageFactor, eps);
    }
}
