using TorchSharp;
using WarmStart.Core.Data;
using WarmStart.Core.Diagnostics;
using WarmStart.Core.Models;
using WarmStart.Core.Policies;
using WarmStart.Core.Training;
using static TorchSharp.torch;

namespace WarmStart.Core.Runs;

/// <summary>
/// Runs one training stage in three parts: <see cref="Begin"/> makes the starting model and optimiser (fresh,
/// continued, from an init policy, or resumed from a checkpoint); <see cref="Run"/> builds the stage's hooks
/// (penalties, gradient-norm tracking, checkpoints, the caller's) and trains with the single trainer;
/// <see cref="Finish"/> evaluates and measures the diagnostics asked for. The stacked engine
/// (<see cref="StackedStageRunner"/>) trains between the same <see cref="Begin"/> and <see cref="Finish"/>, so the
/// two engines share how a stage starts and how its result is made. Storing the result is the caller's.
/// </summary>
public static class StageRunner
{
    /// <summary>Runs <paramref name="job"/>; the caller disposes the result (its model and optimiser).</summary>
    public static StageResult Run(StageJob job)
    {
        using var stage = Begin(job);
        var model = stage.Model;
        var penalties = new List<IPenalty>();
        Tensor? newIndices = null;
        try
        {
            foreach (var p in job.Penalties) penalties.Add(p.Create(stage.Context(0)));
            // Gradient norms on old vs new data before each epoch.
            if (job.Diagnostics.GradientNorms && stage.ParentIndices is not null)
                newIndices = Subsets.NewOnly(job.Indices, stage.ParentIndices, job.Train.Count);
            var tracker = newIndices is null ? null
                : new GradientNormTracker(model, job.Train, stage.ParentIndices!, newIndices, job.BatchSize, job.OrderSeed, job.Device);
            var hooks = new List<ITrainingHook>(job.Hooks);
            if (tracker is not null) hooks.Add(tracker);
            if (job.EvaluateEvery < 0)
                throw new ArgumentOutOfRangeException(nameof(job), $"EvaluateEvery = {job.EvaluateEvery}; allowed: 0 (never) or ≥ 1");
            var evaluator = job.EvaluateEvery > 0 ? new EvaluationHook(job.EvaluateEvery, job.EvalData, job.EvalIndices, job.Device) : null;
            // Before the checkpoint hook, so a checkpoint's curve holds the evaluation of the epoch it saves.
            if (evaluator is not null) hooks.Add(evaluator);
            if (job.CheckpointEvery > 0 && job.SaveCheckpoint is not null)
            {
                var save = job.SaveCheckpoint;
                if (evaluator is not null)
                    save = (m, o, curve) => job.SaveCheckpoint(m, o, curve.Select(evaluator.Annotate).ToArray());
                hooks.Add(new CheckpointHook(job.CheckpointEvery, stage.Prior, save));
            }
            var opts = new TrainOptions
            {
                OptimizerSpec = job.Optimizer, BatchSize = job.BatchSize, Stop = job.Stop, OrderSeed = job.OrderSeed,
                Device = job.Device, Optimizer = stage.Optimizer, PriorCurve = stage.Prior, Augmentation = job.Augmentation,
                Cancellation = job.Cancellation, Penalties = penalties, Hooks = hooks,
            };
            var (r, _) = Trainer.Fit(model, job.Train, job.Indices, opts);
            // The evaluations go into the curve, and their seconds out of the stage's training seconds (each
            // epoch's seconds never held them: the trainer stops its stopwatch before EpochEnd).
            if (evaluator is not null)
                r = r with { Curve = r.Curve.Select(evaluator.Annotate).ToArray(), Seconds = r.Seconds - evaluator.Seconds };
            return Finish(stage, r, tracker?.Records.ToArray());
        }
        finally
        {
            foreach (var p in penalties) (p as IDisposable)?.Dispose();
            newIndices?.Dispose();
        }
    }

    /// <summary>The stage's start: its parent loaded (when the start, a penalty or a diagnostic needs it), the starting
    /// model and optimiser made, and the starting weights kept when the correlation diagnostic asks for them.
    /// Dispose the returned stage; its model and optimiser go to the result of <see cref="Finish"/>.</summary>
    public static StartedStage Begin(StageJob job)
    {
        bool needsParent = job.Start is not StageStart.Fresh || job.Penalties.Any(p => p.NeedsParent);
        Network LoadParent() =>
            (job.LoadParent ?? throw new InvalidOperationException("the stage needs its parent's model, but it has no parent"))();
        string ParentOptimizerFile() =>
            job.ParentOptimizerFile ?? throw new InvalidOperationException("the stage continues its parent's optimiser, but the parent's result has none");
        var stage = new StartedStage(job);
        try
        {
            // The parent's model (kept while its Fisher, its optimiser state or a policy need it) and training subset.
            stage.Parent = needsParent ? LoadParent() : null;
            stage.ParentIndices = job.ParentIndices is null ? null : tensor(job.ParentIndices);
            var (model, optimizer, prior) = StartOf(job, stage.Parent, stage.Context, LoadParent, ParentOptimizerFile);
            stage.Model = model;
            stage.Optimizer = optimizer;
            stage.Prior = prior;
            if (job.Diagnostics.Correlation) stage.StartWeights = ParameterSet.Of(model);
            return stage;
        }
        catch
        {
            stage.Dispose();
            throw;
        }
    }

    /// <summary>The stage's result from its training result <paramref name="r"/>: evaluation on the stage's evaluation
    /// data, and the diagnostics asked for (<paramref name="gradientNorms"/>: what a tracker recorded, if any). The
    /// result owns the stage's model and optimiser from here on.</summary>
    public static StageResult Finish(StartedStage stage, TrainResult r, IReadOnlyList<GradientNormRecord>? gradientNorms = null)
    {
        var job = stage.Job;
        var model = stage.Model;
        var device = job.Device;
        var diag = job.Diagnostics;
        var (testLoss, testAcc) = r.Diverged ? (double.NaN, double.NaN)
            : Evaluation.Evaluate(model, job.EvalData, job.EvalIndices, device: device);
        var result = new StageResult
        {
            Train = r, TestLoss = testLoss, TestAccuracy = testAcc, TrainSize = job.Indices.shape[0],
            Correlation = stage.StartWeights is null ? Array.Empty<CorrelationRow>() : Correlations(job, model, stage.StartWeights),
            GradientNorms = gradientNorms ?? Array.Empty<GradientNormRecord>(),
            // The same evaluation data as the test accuracy, so the λ = 1 point is the stage's test accuracy.
            ShrinkAccuracy = diag.ShrinkGrid.Count == 0 || r.Diverged ? Array.Empty<ShrinkPoint>()
                : diag.ShrinkBatchNorm == ShrinkBatchNorm.BatchStatistics
                    ? ShrinkAccuracy.Sweep(model, job.EvalData, job.EvalIndices, diag.ShrinkGrid, job.BatchSize, device, ShrinkBatchNorm.BatchStatistics)
                    : ShrinkAccuracy.Sweep(model, job.EvalData, job.EvalIndices, diag.ShrinkGrid, device: device),
            Model = model, Optimizer = stage.Optimizer,
        };
        stage.HandedOver = true;
        return result;
    }

    static (Network Model, optim.Optimizer Optimizer, IReadOnlyList<EpochRecord> Prior) StartOf(StageJob job, Network? parent,
        Func<long, StageContext> context, Func<Network> loadParent, Func<string> parentOptimizerFile)
    {
        var spec = job.Optimizer;
        if (job.Resume is StageCheckpoint c)
        {
            var m = job.Fresh(0);
            m.load(c.ModelFile);
            m.to(job.Device);
            var opt = spec.Create(m.parameters());
            LoadOptimizer(opt, c.OptimizerFile);
            return (m, opt, c.Curve);
        }
        switch (job.Start)
        {
            case StageStart.Fresh f:
            {
                var m = job.Fresh(f.InitSeed);
                m.to(job.Device);
                return (m, spec.Create(m.parameters()), Array.Empty<EpochRecord>());
            }
            case StageStart.Continue k:
            {
                var m = loadParent();
                m.to(job.Device);
                var opt = spec.Create(m.parameters());
                LoadOptimizer(opt, parentOptimizerFile());
                return (m, opt, k.ParentCurve);
            }
            case StageStart.FromPolicy p:
            {
                var m = p.Policy.Apply(context(p.Seed));
                m.to(job.Device);
                optim.Optimizer opt;
                if (p.KeepOptimizerState)
                {
                    // Carry the parent's state by parameter name; groups the policy re-initialised start fresh.
                    using var parentOpt = spec.Create(parent!.parameters());
                    LoadOptimizer(parentOpt, parentOptimizerFile());
                    opt = OptimizerCarry.CarryOver(parent, parentOpt, m, spec, OptimizerCarry.ResetFor(p.Policy, m));
                }
                else opt = spec.Create(m.parameters());
                return (m, opt, Array.Empty<EpochRecord>());
            }
            default:
                throw new ArgumentException($"stage start {job.Start} is not known", nameof(job));
        }
    }

    static void LoadOptimizer(optim.Optimizer opt, string file) =>
        ((TorchSharp.Modules.OptimizerHelper)opt).load_state_dict(file);

    static CorrelationRow[] Correlations(StageJob job, Network model, ParameterSet start)
    {
        using var init = job.Fresh(job.OriginalInitSeed);
        var vsStart = WeightCorrelation.Compare(model, start);
        var vsInit = WeightCorrelation.Compare(model, init);
        var rows = new List<CorrelationRow> { new("all", vsStart.Overall ?? double.NaN, vsInit.Overall ?? double.NaN) };
        foreach (var g in vsStart.Groups)
        {
            var gi = vsInit.Groups.FirstOrDefault(x => x.Group == g.Group);
            rows.Add(new CorrelationRow(g.Group, g.Pearson ?? double.NaN, gi?.Pearson ?? double.NaN));
        }
        return rows.ToArray();
    }
}

/// <summary>A stage between <see cref="StageRunner.Begin"/> and <see cref="StageRunner.Finish"/>: its job, starting
/// model and optimiser, the curve it continues, and what its penalties and diagnostics need from the start.
/// Disposing frees the parent and the kept starting weights, and the model and optimiser unless
/// <see cref="StageRunner.Finish"/> handed them to a result.</summary>
public sealed class StartedStage : IDisposable
{
    internal StartedStage(StageJob job) => Job = job;

    /// <summary>The stage's job.</summary>
    public StageJob Job { get; }
    /// <summary>The model to train (on the job's device).</summary>
    public Network Model { get; internal set; } = null!;
    /// <summary>Its optimiser (fresh, carried over, or resumed).</summary>
    public optim.Optimizer Optimizer { get; internal set; } = null!;
    /// <summary>The epochs before this stage's first (a continued parent's, or a resumed checkpoint's).</summary>
    public IReadOnlyList<EpochRecord> Prior { get; internal set; } = Array.Empty<EpochRecord>();
    /// <summary>The parent's model, when the start, a penalty or a diagnostic needs it; else null.</summary>
    public Network? Parent { get; internal set; }
    /// <summary>The examples the parent trained on; null for a stage without a parent.</summary>
    public Tensor? ParentIndices { get; internal set; }
    internal ParameterSet? StartWeights { get; set; }
    internal bool HandedOver { get; set; }

    /// <summary>What a policy or penalty of this stage sees, with <paramref name="seed"/> as its seed.</summary>
    public StageContext Context(long seed) => new()
    {
        Parent = Parent, Fresh = Job.Fresh, Seed = seed, Train = Job.Train, Indices = Job.Indices,
        ParentIndices = ParentIndices, Device = Job.Device, BatchSize = Job.BatchSize, OriginalInitSeed = Job.OriginalInitSeed,
    };

    /// <inheritdoc />
    public void Dispose()
    {
        if (!HandedOver)
        {
            Optimizer?.Dispose();
            Model?.Dispose();
            HandedOver = true;
        }
        Parent?.Dispose();
        Parent = null;
        ParentIndices?.Dispose();
        ParentIndices = null;
        StartWeights?.Dispose();
        StartWeights = null;
    }
}
