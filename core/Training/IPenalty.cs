using WarmStart.Core.Models;
using static TorchSharp.torch;

namespace WarmStart.Core.Training;

/// <summary>A term added to the training loss at every step (L2-init, EWC, …). Every penalty is a training hook
/// whose <see cref="ITrainingHook.LossTerm"/> is <see cref="Compute"/>, so the trainer runs penalties through its one
/// hook list.</summary>
public interface IPenalty : ITrainingHook
{
    /// <summary>Short name for logs and plans.</summary>
    string Name { get; }
    /// <summary>The scalar penalty for the model's current parameters (differentiable).</summary>
    Tensor Compute(Network model);

    /// <summary>The penalty as a loss term: <see cref="Compute"/>.</summary>
    Tensor? ITrainingHook.LossTerm(Network model) => Compute(model);
}
