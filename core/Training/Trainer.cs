using System.Diagnostics;
using WarmStart.Core.Data;
using WarmStart.Core.Models;
using WarmStart.Core.Runs;
using static TorchSharp.torch;
using WarmStart.Core.Native;

namespace WarmStart.Core.Training;

/// <summary>How to run one training stage.</summary>
public sealed class TrainOptions
{
    /// <summary>The optimiser to create (ignored when <see cref="Optimizer"/> carries one over).</summary>
    public required OptimizerSpec OptimizerSpec { get; init; }
    /// <summary>Minibatch size.</summary>
    public int BatchSize { get; init; } = 128;
    /// <summary>When to stop.</summary>
    public required StopRule Stop { get; init; }
    /// <summary>Seed of the data order; epoch e uses <c>Seeds.Derive(OrderSeed, "epoch-e")</c>.</summary>
    public long OrderSeed { get; init; }
    /// <summary>Where to train (CPU when null).</summary>
    public Device? Device { get; init; }
    /// <summary>Extra loss terms (each a hook; added after <see cref="Hooks"/>, in this order).</summary>
    public IReadOnlyList<IPenalty> Penalties { get; init; } = Array.Empty<IPenalty>();
    /// <summary>Plug-ins to the loop (penalties, diagnostics, checkpoints, step-level methods), called in this order.</summary>
    public IReadOnlyList<ITrainingHook> Hooks { get; init; } = Array.Empty<ITrainingHook>();
    /// <summary>An optimiser to continue with (optimiser state carried over); a new one is made when null.</summary>
    public optim.Optimizer? Optimizer { get; init; }
    /// <summary>Called before each epoch with its 1-based number, after the hooks' <c>BeforeEpoch</c> (a shorthand
    /// for a hook).</summary>
    public Action<int>? BeforeEpoch { get; init; }
    /// <summary>Called after each epoch (progress display, curves), after the hooks' <c>EpochEnd</c> (a shorthand for a hook).</summary>
    public Action<EpochRecord>? AfterEpoch { get; init; }
    /// <summary>Augmentation of each training batch (null: none, the default — the paper used none). Its randomness
    /// comes from a generator seeded per epoch from <see cref="OrderSeed"/>, so runs are reproducible.</summary>
    public Augmentation? Augmentation { get; init; }
    /// <summary>Stops between steps when cancelled; the stage then throws <see cref="OperationCanceledException"/>.</summary>
    public CancellationToken Cancellation { get; init; }
    /// <summary>Epochs already done before this call (resuming from a checkpoint whose model and optimiser
    /// states were restored); training continues at epoch <c>PriorCurve.Count + 1</c>, with the same data order
    /// an uninterrupted run would have had.</summary>
    public IReadOnlyList<EpochRecord> PriorCurve { get; init; } = Array.Empty<EpochRecord>();

    /// <summary>Every hook of the stage in call order: <see cref="Hooks"/>, then <see cref="Penalties"/>, then the
    /// <see cref="BeforeEpoch"/>/<see cref="AfterEpoch"/> callbacks.</summary>
    public IEnumerable<ITrainingHook> AllHooks()
    {
        foreach (var h in Hooks) yield return h;
        foreach (var p in Penalties) yield return p;
        if (BeforeEpoch is not null || AfterEpoch is not null) yield return new EpochCallbackHook(BeforeEpoch, AfterEpoch);
    }
}

/// <summary>
/// The training loop. One <c>DisposeScope</c> per step keeps native memory flat; loss and accuracy are summed
/// in tensors and read once per epoch, so there is no device sync per step.
/// </summary>
public static class Trainer
{
    /// <summary>Trains <paramref name="model"/> on the examples <paramref name="indices"/> of <paramref name="data"/>.
    /// Returns the result and the optimiser (for callers that carry its state into the next stage).</summary>
    public static (TrainResult Result, optim.Optimizer Optimizer) Fit(Network model, Dataset data, Tensor indices, TrainOptions o)
    {
        if (indices.shape[0] == 0) throw new ArgumentException("cannot train on an empty subset");
        var device = o.Device ?? CPU;
        var opt = o.Optimizer ?? o.OptimizerSpec.Create(model.parameters());
        var hooks = new HookSet(o.AllHooks());
        model.train();
        var curve = new List<EpochRecord>(o.PriorCurve);
        var total = Stopwatch.StartNew();
        double priorSeconds = curve.Sum(e => e.Seconds);
        long seen = 0;
        double bestLoss = double.PositiveInfinity;
        int sinceBest = 0;
        foreach (var e in curve)
        {
            if (e.Loss < bestLoss - 1e-12) { bestLoss = e.Loss; sinceBest = 0; } else sinceBest++;
            seen += (long)indices.shape[0];
        }
        if (hooks.StageStart.Length > 0)
        {
            var info = new StageStartInfo(model, opt, indices, curve.Count + 1);
            foreach (var h in hooks.StageStart) h.StageStart(info);
        }
        if (curve.Count > 0 && (!double.IsFinite(curve[^1].Loss) || o.Stop.ShouldStop(curve.Count, curve[^1].TrainAccuracy, sinceBest)))
            return (End(hooks, model, opt, Finish(curve, seen, priorSeconds, 0, o.Stop)), opt);
        var lossHooks = hooks.LossTerm;
        var stepHooks = hooks.AfterStep;
        var features = hooks.NeedsFeatures ? new List<Tensor>() : null;
        // Steps per epoch are fixed by the subset, so a resumed stage's step count continues where it stopped.
        long step = curve.Count * ((indices.shape[0] + o.BatchSize - 1) / o.BatchSize);
        using var lossSum = zeros(1, dtype: ScalarType.Float64, device: device);
        using var correctSum = zeros(1, dtype: ScalarType.Int64, device: device);
        for (int epoch = curve.Count + 1; ; epoch++)
        {
            foreach (var h in hooks.BeforeEpoch) h.BeforeEpoch(epoch);
            model.train();
            var sw = Stopwatch.StartNew();
            lossSum.zero_(); correctSum.zero_();
            using (var batches = new EpochBatches(indices, o.BatchSize, Seeds.Derive(o.OrderSeed, $"epoch-{epoch}")))
            using (var augment = o.Augmentation is null ? null : new Generator((ulong)Seeds.Derive(o.OrderSeed, $"augment-{epoch}")))
            {
                for (int b = 0; b < batches.BatchCount; b++)
                {
                    o.Cancellation.ThrowIfCancellationRequested();
                    using var scope = NewDisposeScope();
                    var (x, y) = data.AugmentedBatch(batches[b], device, o.Augmentation, augment);
                    opt.zero_grad();
                    features?.Clear();
                    var logits = features is null ? model.forward(x) : model.ForwardWithFeatures(x, features);
                    var loss = nn.functional.cross_entropy(logits, y);
                    var objective = loss;
                    if (lossHooks.Length > 0)
                        foreach (var h in lossHooks)
                            if (h.LossTerm(model) is Tensor term) objective = objective.add(term, Scalars.OneInt);
                    objective.backward();
                    opt.step();
                    step++;
                    // Epoch sums stay on the device (no sync per step); neither op records autograd history:
                    // the loss is detached and argmax is not differentiable. Held Scalars (see Scalars): the batch
                    // size repeats, so its cached Scalar is reused.
                    var detached = loss.detach();
                    lossSum.add_(detached, Scalars.Of(y.shape[0]));
                    correctSum.add_(logits.argmax(1).eq(y).sum(), Scalars.OneInt);
                    if (stepHooks.Length > 0)
                    {
                        var info = new StepInfo(model, opt, epoch, step, x, y, logits, detached, features);
                        foreach (var h in stepHooks) h.AfterStep(info);
                    }
                }
                seen += batches.Count;
                double n = batches.Count;
                var rec = new EpochRecord(epoch, lossSum.item<double>() / n, correctSum.item<long>() / n, sw.Elapsed.TotalSeconds);
                curve.Add(rec);
                if (hooks.EpochEnd.Length > 0)
                {
                    var info = new EpochEndInfo(model, opt, rec);
                    foreach (var h in hooks.EpochEnd) h.EpochEnd(info);
                }
                if (!double.IsFinite(rec.Loss)) break;
                if (rec.Loss < bestLoss - 1e-12) { bestLoss = rec.Loss; sinceBest = 0; } else sinceBest++;
                if (o.Stop.ShouldStop(epoch, rec.TrainAccuracy, sinceBest)) break;
            }
        }
        return (End(hooks, model, opt, Finish(curve, seen, priorSeconds, total.Elapsed.TotalSeconds, o.Stop)), opt);
    }

    static TrainResult End(HookSet hooks, Network model, optim.Optimizer opt, TrainResult result)
    {
        if (hooks.StageEnd.Length > 0)
        {
            var info = new StageEndInfo(model, opt, result);
            foreach (var h in hooks.StageEnd) h.StageEnd(info);
        }
        return result;
    }

    static TrainResult Finish(List<EpochRecord> curve, long seen, double priorSeconds, double seconds, StopRule stop)
    {
        var last = curve[^1];
        bool diverged = !double.IsFinite(last.Loss);
        return new TrainResult(curve, curve.Count, last.Loss, last.TrainAccuracy, priorSeconds + seconds, seen, diverged)
        {
            Converged = !diverged && stop.Reached(last.TrainAccuracy),
        };
    }
}
