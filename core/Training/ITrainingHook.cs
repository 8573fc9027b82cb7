using WarmStart.Core.Models;
using static TorchSharp.torch;

namespace WarmStart.Core.Training;

/// <summary>What a hook sees when a stage starts: the model and optimiser it will train, and the stage's data.</summary>
/// <param name="Model">The network being trained (already on the training device).</param>
/// <param name="Optimizer">The optimiser of the stage (created or carried over).</param>
/// <param name="Indices">The training examples of the stage (indices into the training split).</param>
/// <param name="FirstEpoch">The 1-based epoch training starts at (greater than 1 when resuming a checkpoint).</param>
public sealed record StageStartInfo(Network Model, optim.Optimizer Optimizer, Tensor Indices, int FirstEpoch);

/// <summary>What a hook sees after each optimiser step. Tensors belong to the step's <c>DisposeScope</c>: a hook
/// that keeps one past the call must <c>detach().clone()</c> it and move it out of the scope.</summary>
/// <param name="Model">The network (parameters already updated by this step).</param>
/// <param name="Optimizer">The optimiser (its state reachable for resets of Adam moments).</param>
/// <param name="Epoch">1-based epoch of the step.</param>
/// <param name="Step">1-based step count within the stage (continues across a resumed checkpoint).</param>
/// <param name="Input">The batch's input.</param>
/// <param name="Target">The batch's labels.</param>
/// <param name="Logits">The forward pass's output.</param>
/// <param name="Loss">The mean cross-entropy of the batch (without penalties), detached.</param>
/// <param name="Features">The hidden activations of the forward pass, in forward order, when a registered hook
/// asked for them (<see cref="ITrainingHook.NeedsFeatures"/>); null otherwise.</param>
public sealed record StepInfo(Network Model, optim.Optimizer Optimizer, int Epoch, long Step, Tensor Input, Tensor Target,
    Tensor Logits, Tensor Loss, IReadOnlyList<Tensor>? Features);

/// <summary>What a hook sees at the end of an epoch.</summary>
/// <param name="Model">The network.</param>
/// <param name="Optimizer">The optimiser.</param>
/// <param name="Record">The epoch's record as the trainer computed it.</param>
public sealed record EpochEndInfo(Network Model, optim.Optimizer Optimizer, EpochRecord Record);

/// <summary>What a hook sees when the stage ends (threshold met, epoch cap reached, or diverged).</summary>
/// <param name="Model">The trained network.</param>
/// <param name="Optimizer">The optimiser.</param>
/// <param name="Result">The stage's result.</param>
public sealed record StageEndInfo(Network Model, optim.Optimizer Optimizer, TrainResult Result);

/// <summary>
/// A plug-in to the training loop of a stage: penalties (L2-init, EWC), diagnostics (gradient norms, evaluation
/// every n epochs) and step-level methods (continual backprop, ReDo, shrink-perturb every k steps) reach into
/// training through this interface instead of editing the loop. Every member has a default that does nothing,
/// so a hook implements only what it needs; a stage with no hooks pays nothing for the interface (the trainer
/// skips every call site when its hook list is empty).
/// </summary>
public interface ITrainingHook
{
    /// <summary>True when <see cref="AfterStep"/> needs the hidden activations of the step's forward pass (continual
    /// backprop's contribution utility). Asked once per stage.</summary>
    bool NeedsFeatures => false;

    /// <summary>Once, before the first epoch of the stage, after the optimiser exists.</summary>
    void StageStart(StageStartInfo info) { }

    /// <summary>Before each epoch, with its 1-based number (gradient norms on old vs new data are measured here).</summary>
    void BeforeEpoch(int epoch) { }

    /// <summary>A term added to the step's objective before <c>backward()</c> (a penalty); null adds nothing.</summary>
    Tensor? LossTerm(Network model) => null;

    /// <summary>After <c>optimizer.step()</c> of every step.</summary>
    void AfterStep(StepInfo info) { }

    /// <summary>After each epoch's record is made, before the stop rule is checked.</summary>
    void EpochEnd(EpochEndInfo info) { }

    /// <summary>Once, when the stage has finished.</summary>
    void StageEnd(StageEndInfo info) { }
}
