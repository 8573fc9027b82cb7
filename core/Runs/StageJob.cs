using WarmStart.Core.Data;
using WarmStart.Core.Models;
using WarmStart.Core.Policies;
using WarmStart.Core.Training;
using static TorchSharp.torch;

namespace WarmStart.Core.Runs;

/// <summary>How a stage's starting model and optimiser are made.</summary>
public abstract record StageStart
{
    /// <summary>A root stage: a fresh network from <paramref name="InitSeed"/> and a new optimiser.</summary>
    public sealed record Fresh(long InitSeed) : StageStart;

    /// <summary>Training goes on: the parent's trained model and optimiser state, and its curve, which this stage extends.</summary>
    /// <param name="ParentCurve">The parent's epochs (this stage continues at the epoch after the last).</param>
    public sealed record Continue(IReadOnlyList<EpochRecord> ParentCurve) : StageStart;

    /// <summary>The starting weights come from an init policy applied to the parent (warm, fresh, shrink-perturb, …).</summary>
    /// <param name="Policy">The init policy.</param>
    /// <param name="Seed">The policy's derived seed.</param>
    /// <param name="KeepOptimizerState">Carry the parent's optimiser state over by parameter name (groups the policy
    /// re-initialised start fresh); otherwise a new optimiser.</param>
    public sealed record FromPolicy(IInitPolicy Policy, long Seed, bool KeepOptimizerState) : StageStart;
}

/// <summary>A stage killed mid-training: its saved model, optimiser state and the epochs done.</summary>
/// <param name="ModelFile">The model's weights.</param>
/// <param name="OptimizerFile">The optimiser's state.</param>
/// <param name="Curve">The epochs done before the checkpoint.</param>
public sealed record StageCheckpoint(string ModelFile, string OptimizerFile, IReadOnlyList<EpochRecord> Curve);

/// <summary>The diagnostics a stage records besides its accuracy.</summary>
/// <param name="Correlation">Pearson correlation of the final weights with the stage's start and with θ₀, overall and per group.</param>
/// <param name="GradientNorms">Gradient norms on the parent's data vs the new data before each epoch (stages with a parent).</param>
/// <param name="ShrinkGrid">λ values at which the trained model, scaled by λ, is evaluated (empty: none).</param>
public sealed record StageDiagnostics(bool Correlation, bool GradientNorms, IReadOnlyList<double> ShrinkGrid)
{
    /// <summary>No diagnostics.</summary>
    public static StageDiagnostics None { get; } = new(false, false, Array.Empty<double>());
}

/// <summary>
/// Everything one training stage needs, as core values: the data and index tensors, how to build, start and train
/// the model, what to measure, and where to evaluate. Tensors and datasets stay the caller's.
/// </summary>
public sealed class StageJob
{
    /// <summary>The training split.</summary>
    public required Dataset Train { get; init; }
    /// <summary>The examples this stage trains on (indices into <see cref="Train"/>).</summary>
    public required Tensor Indices { get; init; }
    /// <summary>The data the stage is evaluated on (the test split, or the training split for a held-out part).</summary>
    public required Dataset EvalData { get; init; }
    /// <summary>Indices into <see cref="EvalData"/> to evaluate on; null: all of it.</summary>
    public Tensor? EvalIndices { get; init; }
    /// <summary>Builds a freshly initialised network of the stage's architecture from a seed.</summary>
    public required Func<long, Network> Fresh { get; init; }
    /// <summary>Loads the parent stage's trained model (a new object per call); null for a stage without a parent.</summary>
    public Func<Network>? LoadParent { get; init; }
    /// <summary>The examples the parent stage trained on; null for a stage without a parent.</summary>
    public long[]? ParentIndices { get; init; }
    /// <summary>The parent's saved optimiser state (needed by <see cref="StageStart.Continue"/> and a kept optimiser state).</summary>
    public string? ParentOptimizerFile { get; init; }
    /// <summary>How the starting model and optimiser are made.</summary>
    public required StageStart Start { get; init; }
    /// <summary>A checkpoint to resume from instead of <see cref="Start"/>; null: none.</summary>
    public StageCheckpoint? Resume { get; init; }
    /// <summary>The optimiser.</summary>
    public required OptimizerSpec Optimizer { get; init; }
    /// <summary>When to stop.</summary>
    public required StopRule Stop { get; init; }
    /// <summary>Minibatch size.</summary>
    public int BatchSize { get; init; } = 128;
    /// <summary>Seed of the data order (and of the gradient-norm measurement's order).</summary>
    public long OrderSeed { get; init; }
    /// <summary>The seed of the chain's original initialisation θ₀ (L2-init's anchor, the correlation's reference).</summary>
    public long OriginalInitSeed { get; init; }
    /// <summary>Augmentation of training batches (null: none).</summary>
    public Augmentation? Augmentation { get; init; }
    /// <summary>Penalties added to the loss.</summary>
    public IReadOnlyList<StagePenalty> Penalties { get; init; } = Array.Empty<StagePenalty>();
    /// <summary>What to measure besides accuracy.</summary>
    public StageDiagnostics Diagnostics { get; init; } = StageDiagnostics.None;
    /// <summary>Further hooks (progress display, step-level methods), called before the stage's own.</summary>
    public IReadOnlyList<ITrainingHook> Hooks { get; init; } = Array.Empty<ITrainingHook>();
    /// <summary>Save a resumable checkpoint every N epochs (0: never) through <see cref="SaveCheckpoint"/>.</summary>
    public int CheckpointEvery { get; init; }
    /// <summary>Writes a checkpoint: the model, the optimiser and the whole curve so far.</summary>
    public Action<Network, optim.Optimizer, IReadOnlyList<EpochRecord>>? SaveCheckpoint { get; init; }
    /// <summary>Where to train.</summary>
    public Device Device { get; init; } = CPU;
    /// <summary>Stops between steps when cancelled.</summary>
    public CancellationToken Cancellation { get; init; }
}
