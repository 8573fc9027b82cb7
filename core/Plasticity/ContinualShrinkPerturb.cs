using WarmStart.Core.Runs;
using WarmStart.Core.Training;
using static TorchSharp.torch;
using WarmStart.Core.Native;

namespace WarmStart.Core.Plasticity;

/// <summary>
/// Shrink and perturb during a stream (Kumar et al. 2023, §A.3: θ ← p·θ + σ·ε after a gradient step, ε ~ N(0, 1)):
/// applied to every learnable parameter every <see cref="EverySteps"/> steps (0: never per step) and/or at the start
/// of every task after the first (<see cref="EveryTask"/>). The per-round form between warm-start stages is the
/// existing shrink-perturb initialisation policy.
/// </summary>
public sealed class ContinualShrinkPerturb : IStreamHook
{
    /// <summary>p, the shrink factor.</summary>
    public double Shrink { get; }
    /// <summary>σ, the standard deviation of the added Gaussian noise.</summary>
    public double Sigma { get; }
    /// <summary>Steps between applications (0: not per step).</summary>
    public long EverySteps { get; }
    /// <summary>Whether it is applied at each task start (tasks 2, 3, …).</summary>
    public bool EveryTask { get; }
    readonly long _seed;
    long _steps;

    /// <summary>Defaults as Kumar et al.'s random-label MNIST choice: p = 1 − 1e-4, σ = 1e-2, every step.
    /// Noise is drawn from generators seeded by <c>Seeds.Derive(seed, "snp", "step-n" | "task-k")</c>.</summary>
    public ContinualShrinkPerturb(long seed, double shrink = 1 - 1e-4, double sigma = 1e-2, long everySteps = 1, bool everyTask = false)
    {
        if (!(shrink >= 0 && shrink <= 1)) throw new ArgumentOutOfRangeException(nameof(shrink), $"shrink = {shrink}; allowed: 0 ≤ p ≤ 1");
        if (!(sigma >= 0) || double.IsInfinity(sigma)) throw new ArgumentOutOfRangeException(nameof(sigma), $"perturb sigma = {sigma}; allowed: σ ≥ 0");
        if (everySteps < 0) throw new ArgumentOutOfRangeException(nameof(everySteps), $"every_steps = {everySteps}; allowed: ≥ 0 (0: not per step)");
        if (everySteps == 0 && !everyTask) throw new ArgumentException("shrink-perturb needs every_steps ≥ 1 or every_task");
        _seed = seed; Shrink = shrink; Sigma = sigma; EverySteps = everySteps; EveryTask = everyTask;
    }

    /// <inheritdoc />
    public string Describe() => $"shrink_perturb shrink={Shrink} sigma={Sigma}{(EverySteps > 0 ? $" every_steps={EverySteps}" : "")}{(EveryTask ? " every_task" : "")}";

    /// <inheritdoc />
    public void AfterStep(StepInfo info)
    {
        _steps++;
        if (EverySteps > 0 && _steps % EverySteps == 0) Apply(info.Model, Seeds.Derive(_seed, "snp", $"step-{_steps}"));
    }

    /// <inheritdoc />
    public void TaskStart(TaskStartInfo info)
    {
        if (EveryTask && info.Task > 1) Apply(info.Model, Seeds.Derive(_seed, "snp", $"task-{info.Task}"));
    }

    void Apply(Models.Network model, long seed)
    {
        using var g = new Generator((ulong)seed);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var p in model.parameters())
        {
            // Held Scalars (see Scalars): this runs every k steps, beside other threads' training.
            p.mul_(Scalars.Of(Shrink));
            if (Sigma > 0) p.add_(randn(p.shape, dtype: p.dtype, generator: g).to(p.device), Scalars.Of(Sigma));
        }
    }

    /// <inheritdoc />
    public void SaveState(BinaryWriter w) => w.Write(_steps);

    /// <inheritdoc />
    public void LoadState(BinaryReader r) => _steps = r.ReadInt64();
}
