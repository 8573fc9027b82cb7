using TorchSharp;
using WarmStart.Core.Data;
using WarmStart.Core.Diagnostics;
using WarmStart.Core.Models;
using WarmStart.Core.Policies;
using WarmStart.Core.Training;
using static TorchSharp.torch;

namespace WarmStart.Core.Runs;

/// <summary>
/// Runs one training stage: makes the starting model and optimiser (fresh, continued, from an init policy, or
/// resumed from a checkpoint), builds the stage's hooks (penalties, gradient-norm tracking, checkpoints, the
/// caller's), trains, evaluates, and measures the diagnostics asked for. Storing the result is the caller's.
/// </summary>
public static class StageRunner
{
    /// <summary>Runs <paramref name="job"/>; the caller disposes the result (its model and optimiser).</summary>
    public static StageResult Run(StageJob job)
    {
        var device = job.Device;
        bool needsParent = job.Start is not StageStart.Fresh || job.Penalties.Any(p => p.NeedsParent);
        Network LoadParent() =>
            (job.LoadParent ?? throw new InvalidOperationException("the stage needs its parent's model, but it has no parent"))();
        string ParentOptimizerFile() =>
            job.ParentOptimizerFile ?? throw new InvalidOperationException("the stage continues its parent's optimiser, but the parent's result has none");
        // The parent's model (kept while its Fisher, its optimiser state or a policy need it) and training subset.
        using var parent = needsParent ? LoadParent() : null;
        using var parentIndices = job.ParentIndices is null ? null : tensor(job.ParentIndices);
        StageContext Context(long seed) => new()
        {
            Parent = parent, Fresh = job.Fresh, Seed = seed, Train = job.Train, Indices = job.Indices,
            ParentIndices = parentIndices, Device = device, BatchSize = job.BatchSize, OriginalInitSeed = job.OriginalInitSeed,
        };
        var (model, optimizer, prior) = StartOf(job, parent, Context, LoadParent, ParentOptimizerFile);
        var penalties = new List<IPenalty>();
        ParameterSet? start = null;
        Tensor? newIndices = null;
        try
        {
            foreach (var p in job.Penalties) penalties.Add(p.Create(Context(0)));
            var diag = job.Diagnostics;
            // Diagnostics: the starting weights, and gradient norms on old vs new data before each epoch.
            if (diag.Correlation) start = ParameterSet.Of(model);
            if (diag.GradientNorms && parentIndices is not null) newIndices = Subsets.NewOnly(job.Indices, parentIndices, job.Train.Count);
            var tracker = newIndices is null ? null
                : new GradientNormTracker(model, job.Train, parentIndices!, newIndices, job.BatchSize, job.OrderSeed, device);
            var hooks = new List<ITrainingHook>(job.Hooks);
            if (tracker is not null) hooks.Add(tracker);
            if (job.CheckpointEvery > 0 && job.SaveCheckpoint is not null) hooks.Add(new CheckpointHook(job.CheckpointEvery, prior, job.SaveCheckpoint));
            var opts = new TrainOptions
            {
                OptimizerSpec = job.Optimizer, BatchSize = job.BatchSize, Stop = job.Stop, OrderSeed = job.OrderSeed,
                Device = device, Optimizer = optimizer, PriorCurve = prior, Augmentation = job.Augmentation,
                Cancellation = job.Cancellation, Penalties = penalties, Hooks = hooks,
            };
            var (r, _) = Trainer.Fit(model, job.Train, job.Indices, opts);
            var (testLoss, testAcc) = r.Diverged ? (double.NaN, double.NaN)
                : Evaluation.Evaluate(model, job.EvalData, job.EvalIndices, device: device);
            return new StageResult
            {
                Train = r, TestLoss = testLoss, TestAccuracy = testAcc, TrainSize = job.Indices.shape[0],
                Correlation = start is null ? Array.Empty<CorrelationRow>() : Correlations(job, model, start),
                GradientNorms = tracker?.Records.ToArray() ?? Array.Empty<GradientNormRecord>(),
                // The same evaluation data as the test accuracy, so the λ = 1 point is the stage's test accuracy.
                ShrinkAccuracy = diag.ShrinkGrid.Count == 0 || r.Diverged ? Array.Empty<ShrinkPoint>()
                    : ShrinkAccuracy.Sweep(model, job.EvalData, job.EvalIndices, diag.ShrinkGrid, device: device),
                Model = model, Optimizer = optimizer,
            };
        }
        catch
        {
            optimizer.Dispose();
            model.Dispose();
            throw;
        }
        finally
        {
            foreach (var p in penalties) (p as IDisposable)?.Dispose();
            start?.Dispose();
            newIndices?.Dispose();
        }
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
