using WarmStart.Core.Models;
using WarmStart.Core.Runs;
using static TorchSharp.torch;

namespace WarmStart.Core.Plasticity;

/// <summary>
/// Head reset at every task start after the first: the classifier group is re-drawn with the default
/// initialisation (loss-of-plasticity's incremental CIFAR re-draws its head) or zeroed (<see cref="Zero"/>:
/// its continual ImageNet multiplies the head by 0 at each task), and the head's optimiser state is zeroed.
/// </summary>
public sealed class HeadReset : IStreamHook
{
    /// <summary>True: weights and bias set to 0; false: PyTorch-default re-draw.</summary>
    public bool Zero { get; }
    readonly long _seed;

    /// <summary>Re-draws come from <c>Seeds.Derive(seed, "head-reset", "task-k")</c>.</summary>
    public HeadReset(long seed, bool zero = false) { _seed = seed; Zero = zero; }

    /// <inheritdoc />
    public string Describe() => Zero ? "head_reset zero" : "head_reset";

    /// <inheritdoc />
    public void TaskStart(TaskStartInfo info)
    {
        if (info.Task <= 1) return;
        var model = info.Model;
        var head = model.HeadGroup;
        if (Zero)
        {
            using var noGrad = no_grad();
            foreach (var (name, p) in model.named_parameters())
                if (Network.GroupOf(name) == head) p.zero_();
        }
        else DefaultInit.ApplyToGroups(model, new[] { head }, Seeds.Derive(_seed, "head-reset", $"task-{info.Task}"));
        UnitReset.ResetOptimizerState(model, info.Optimizer, name => Network.GroupOf(name) == head);
    }
}
