using WarmStart.Core.Data;
using WarmStart.Core.Models;
using static TorchSharp.torch;

namespace WarmStart.Core.Policies;

/// <summary>
/// Everything a policy or regulariser may need when a training stage starts: the parent stage's trained model
/// (null for a root stage), a way to draw fresh networks of the same architecture, a derived seed for the
/// policy's own randomness, and the data: this stage's training indices and the parent's.
/// </summary>
public sealed class StageContext
{
    /// <summary>The trained model of the parent stage, or null for a stage that starts from scratch. Policies must not modify it.</summary>
    public Network? Parent { get; init; }
    /// <summary>Builds a freshly initialised network of this stage's architecture from a seed.</summary>
    public required Func<long, Network> Fresh { get; init; }
    /// <summary>Seed for this policy's randomness (noise, fresh draws), derived from the study seed and the node.</summary>
    public long Seed { get; init; }
    /// <summary>The seed of the original (root) initialisation θ₀ of this chain, for L2-init.</summary>
    public long OriginalInitSeed { get; init; }
    /// <summary>The training split.</summary>
    public required Dataset Train { get; init; }
    /// <summary>Indices this stage trains on (everything seen so far, or the new chunk only).</summary>
    public required Tensor Indices { get; init; }
    /// <summary>Indices the parent stage trained on (null for a root stage).</summary>
    public Tensor? ParentIndices { get; init; }
    /// <summary>Where training happens.</summary>
    public Device Device { get; init; } = CPU;
    /// <summary>Batch size of this stage (policies that scan data, such as DASH, may use it).</summary>
    public int BatchSize { get; init; } = 128;
}

/// <summary>How a stage's starting weights are made from its parent (fresh, warm, shrink-perturb, …).</summary>
public interface IInitPolicy
{
    /// <summary>Short name for plans and logs.</summary>
    string Name { get; }
    /// <summary>Returns a new network (never the parent object itself) to start this stage from.</summary>
    Network Apply(StageContext context);
}
