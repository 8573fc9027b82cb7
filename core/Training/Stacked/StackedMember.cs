using WarmStart.Core.Models;
using static TorchSharp.torch;

namespace WarmStart.Core.Training.Stacked;

/// <summary>
/// One member of a stack: what <see cref="Trainer.Fit"/> would be given for it alone.
/// </summary>
/// <param name="Model">The member's network at the start of training (built by <see cref="ModelFactory.Create"/>,
/// or carried over from an earlier stage); it receives the final weights when the member stops.</param>
/// <param name="Indices">The member's training examples (indices into the training split).</param>
/// <param name="OrderSeed">The member's data-order seed; epoch e uses <c>Seeds.Derive(OrderSeed, "epoch-e")</c>,
/// as the single trainer does.</param>
/// <param name="Stop">The member's stop rule.</param>
/// <param name="AfterEpoch">Called after each of the member's epochs (progress, curves); may be null.</param>
public sealed record StackedMember(Network Model, Tensor Indices, long OrderSeed, StopRule Stop, Action<EpochRecord>? AfterEpoch = null)
{
    /// <summary>An optimiser over <see cref="Model"/>'s parameters (of the stack's kind) that receives the member's
    /// optimiser state when it stops, so it can be saved as the single trainer's would be; null: not kept.</summary>
    public optim.Optimizer? Optimizer { get; init; }
    /// <summary>Called before each of the member's epochs with the epoch's number; may be null.</summary>
    public Action<int>? BeforeEpoch { get; init; }
    /// <summary>The member's learning rate; null: the stack's (<see cref="StackedOptions.OptimizerSpec"/>). Members of
    /// one stack may differ in it (a learning-rate sweep's variants), in nothing else of the optimiser.</summary>
    public double? Lr { get; init; }
    /// <summary>The member's L2-init penalty λ‖θ − θ₀‖² (Kumar et al. 2023, the textbook form), or null for none.</summary>
    public StackedL2Init? L2Init { get; init; }
}

/// <summary>An L2-init penalty λ‖θ − θ₀‖² for one stack member: its gradient 2λ(θ − θ₀) is added to the member's
/// gradient before the optimiser step, as the single trainer's backward pass adds it.</summary>
/// <param name="Lambda">Strength λ ≥ 0.</param>
/// <param name="Theta0">θ₀ by parameter name (the member's network's names and shapes).</param>
public sealed record StackedL2Init(double Lambda, IReadOnlyDictionary<string, Tensor> Theta0);

/// <summary>What a stack of members shares: the optimiser (kind and hyper-parameters), batch size, device,
/// augmentation and cancellation.</summary>
public sealed class StackedOptions
{
    /// <summary>Every member's optimiser (each member gets its own fresh state, and may have its own
    /// <see cref="StackedMember.Lr"/>).</summary>
    public required OptimizerSpec OptimizerSpec { get; init; }
    /// <summary>Minibatch size of each member.</summary>
    public int BatchSize { get; init; } = 128;
    /// <summary>Where to train (CPU when null).</summary>
    public Device? Device { get; init; }
    /// <summary>Augmentation of each member's batches (null: none); each member's randomness is seeded from its own
    /// order seed per epoch, as in the single trainer.</summary>
    public Data.Augmentation? Augmentation { get; init; }
    /// <summary>Stops between steps when cancelled.</summary>
    public CancellationToken Cancellation { get; init; }
}
