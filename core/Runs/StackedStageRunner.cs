using WarmStart.Core.Policies;
using WarmStart.Core.Models;
using WarmStart.Core.Training;
using WarmStart.Core.Training.Stacked;

namespace WarmStart.Core.Runs;

/// <summary>
/// Runs several stages of one architecture as one stacked model (<see cref="StackedTrainer"/>): each stage starts
/// with <see cref="StageRunner.Begin"/> (its parent, its init policy) and ends with <see cref="StageRunner.Finish"/>
/// (evaluation, diagnostics), exactly as the single engine's stages do; only the training between differs. A
/// stage's numbers do not depend on its companions (stacks of 1 and of 8 give the same), so the engine, not the
/// stack, decides a result.
/// </summary>
public static class StackedStageRunner
{
    /// <summary>Why <paramref name="job"/> (of a model of <paramref name="spec"/>) cannot be trained by the stacked
    /// engine, or null when it can. Such a stage is trained by the single engine.</summary>
    public static string? CannotStack(StageJob job, ModelSpec spec)
    {
        if (!StackedNetwork.Supports(spec, out var reason)) return reason;
        if (job.Optimizer.Kind is not ("adam" or "sgd")) return $"optimizer '{job.Optimizer.Kind}' has no stacked form";
        if (job.Resume is not null) return "it resumes a checkpoint";
        if (job.Start is StageStart.Continue) return "it continues its parent's optimiser";
        if (job.Start is StageStart.FromPolicy { KeepOptimizerState: true }) return "it keeps its parent's optimiser state";
        if (CannotStackPenalties(job.Penalties) is string p) return p;
        if (job.Diagnostics.GradientNorms) return "gradient norms are measured by the single trainer";
        if (job.EvaluateEvery > 0) return "evaluate_every is not stacked";
        if (job.CheckpointEvery > 0) return "checkpoints are written by the single trainer";
        if (job.Hooks.Any(h => h is not EpochCallbackHook)) return "training hooks other than epoch callbacks are not stacked";
        return null;
    }

    /// <summary>Why a stage with <paramref name="penalties"/> cannot be stacked, or null when it can: the stacked
    /// engine adds one L2-init penalty of the textbook form (λ‖θ − θ₀‖², an elementwise gradient), not EWC and not the
    /// DASH code's form (a squared sum of per-module norms).</summary>
    public static string? CannotStackPenalties(IReadOnlyList<StagePenalty> penalties)
    {
        if (penalties.Any(p => p is not StagePenalty.L2Init { Form: L2InitForm.Textbook }))
            return "penalties other than l2_init's textbook form (ewc, the DASH-code l2_init) are not stacked";
        if (penalties.Count > 1) return "more than one penalty is not stacked";
        return null;
    }

    /// <summary>Why <paramref name="jobs"/> cannot share one stack, or null when they can: one training split, one
    /// optimiser (learning rates may differ: each member has its own), batch size, device and augmentation, and one
    /// training-set size (members take the same steps).</summary>
    public static string? CannotStackTogether(IReadOnlyList<StageJob> jobs)
    {
        if (jobs.Count == 0) return "no stages";
        var a = jobs[0];
        for (int i = 1; i < jobs.Count; i++)
        {
            var b = jobs[i];
            if (!ReferenceEquals(a.Train, b.Train)) return $"stage {i} trains on another dataset";
            if (!(a.Optimizer with { Lr = 0 }).Equals(b.Optimizer with { Lr = 0 })) return $"stage {i} has optimizer {b.Optimizer}, stage 0 {a.Optimizer}";
            if (a.BatchSize != b.BatchSize) return $"stage {i} has batch size {b.BatchSize}, stage 0 {a.BatchSize}";
            if (!a.Device.ToString().Equals(b.Device.ToString())) return $"stage {i} trains on {b.Device}, stage 0 on {a.Device}";
            if (!Equals(a.Augmentation, b.Augmentation)) return $"stage {i} augments differently from stage 0";
            if (a.Indices.shape[0] != b.Indices.shape[0])
                return $"stage {i} trains on {b.Indices.shape[0]} examples, stage 0 on {a.Indices.shape[0]}";
        }
        return null;
    }

    /// <summary>Whether <c>--stack auto</c> stacks stages of <paramref name="spec"/>: MLPs and logistic regression
    /// (one fused step saves per-op overhead), not the small CNN (its step is its convolutions, which a stack runs
    /// member by member: nothing to save, and the stack's larger working set measured slower than separate runs in
    /// <c>bench … stacked</c>) and not what has no stacked form.</summary>
    public static bool AutoStacks(ModelSpec spec) =>
        StackedNetwork.Supports(spec, out _) && spec.Kind is "mlp" or "logistic_regression";

    /// <summary>Trains <paramref name="jobs"/> as one stack; results in job order (the caller disposes them). Throws
    /// <see cref="ArgumentException"/> when a job cannot be stacked or the jobs cannot share a stack.</summary>
    public static IReadOnlyList<StageResult> Run(IReadOnlyList<StageJob> jobs)
    {
        if (CannotStackTogether(jobs) is string apart) throw new ArgumentException($"cannot stack these stages: {apart}");
        var stages = new List<StartedStage>();
        var penalties = new List<L2InitPenalty?>();
        try
        {
            foreach (var job in jobs)
            {
                var stage = StageRunner.Begin(job);
                stages.Add(stage);
                if (CannotStack(job, stage.Model.Spec) is string why) throw new ArgumentException($"cannot stack this stage: {why}");
                // θ₀ as the single engine's penalty draws it (the chain's original initialisation).
                penalties.Add(job.Penalties.Count == 0 ? null : (L2InitPenalty)job.Penalties[0].Create(stage.Context(0)));
            }
            var members = stages.Select((st, i) =>
            {
                var hooks = st.Job.Hooks.Cast<EpochCallbackHook>().ToArray();
                return new StackedMember(st.Model, st.Job.Indices, st.Job.OrderSeed, st.Job.Stop,
                    e => { foreach (var h in hooks) h.EpochEnd(new EpochEndInfo(st.Model, st.Optimizer, e)); })
                {
                    Optimizer = st.Optimizer,
                    Lr = st.Job.Optimizer.Lr,
                    L2Init = penalties[i] is { } pen ? new StackedL2Init(pen.Lambda, pen.Theta0) : null,
                    BeforeEpoch = epoch => { foreach (var h in hooks) h.BeforeEpoch(epoch); },
                };
            }).ToArray();
            var first = jobs[0];
            var results = StackedTrainer.Fit(members, first.Train, new StackedOptions
            {
                OptimizerSpec = first.Optimizer, BatchSize = first.BatchSize, Device = first.Device,
                Augmentation = first.Augmentation, Cancellation = first.Cancellation,
            });
            var done = new List<StageResult>();
            try
            {
                for (int i = 0; i < stages.Count; i++) done.Add(StageRunner.Finish(stages[i], results[i]));
            }
            catch
            {
                foreach (var r in done) r.Dispose();
                throw;
            }
            return done;
        }
        finally
        {
            foreach (var p in penalties) p?.Dispose();
            foreach (var st in stages) st.Dispose();
        }
    }
}
