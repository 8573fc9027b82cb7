using System.Diagnostics;
using WarmStart.Core.Data;
using WarmStart.Core.Models;
using WarmStart.Core.Policies;
using WarmStart.Core.Runs;
using WarmStart.Core.Training;
using TorchSharp;
using static TorchSharp.torch;
using WarmStart.Core.Native;

namespace WarmStart.Core.Plasticity;

/// <summary>How to run a task stream.</summary>
public sealed class TaskStreamOptions
{
    /// <summary>The stream.</summary>
    public required TaskStreamSpec Spec { get; init; }
    /// <summary>The model (built once, initialised from <c>Seeds.Derive(Seed, "init")</c>).</summary>
    public required ModelSpec Model { get; init; }
    /// <summary>The optimiser, created once for the whole stream.</summary>
    public required OptimizerSpec Optimizer { get; init; }
    /// <summary>The stream's seed: images, test images, per-task transforms, data order and init derive from it.</summary>
    public long Seed { get; init; }
    /// <summary>Hooks active through the stream (continual backprop, ReDo, shrink-perturb, head reset, penalties).
    /// Give fresh hook objects to each run: they hold state.</summary>
    public IReadOnlyList<ITrainingHook> Hooks { get; init; } = Array.Empty<ITrainingHook>();
    /// <summary>Where to train (CPU when null).</summary>
    public Device? Device { get; init; }
    /// <summary>Called after each task with its result.</summary>
    public Action<TaskResult>? OnTaskEnd { get; init; }
    /// <summary>Called at each task boundary with a checkpoint to store (null: no checkpoints are made).</summary>
    public Action<StreamCheckpoint>? OnCheckpoint { get; init; }
    /// <summary>A checkpoint to resume from (its stream must have had the same options).</summary>
    public StreamCheckpoint? Resume { get; init; }
    /// <summary>Stops between steps when cancelled (throws <see cref="OperationCanceledException"/>).</summary>
    public CancellationToken Cancellation { get; init; }
}

/// <summary>
/// Runs a task stream (<see cref="TaskStreamSpec"/>): one model and one optimiser trained on task after task,
/// with the hooks active, recording per-task online accuracy, task-end accuracy and the plasticity metrics, and
/// offering a checkpoint at every task boundary. This is what one stream node of the store runs: a 50–800-task
/// stream is one call, resumable mid-stream.
/// </summary>
public static class TaskStream
{
    /// <summary>Runs the stream of <paramref name="o"/> on <paramref name="data"/>.</summary>
    public static StreamResult Run(DataSplits data, TaskStreamOptions o)
    {
        var spec = o.Spec;
        var train = data.Train;
        int classes = train.NumClasses;
        spec.Validate(train.Count, data.Test.Count, classes);
        var device = o.Device ?? CPU;
        var sw = Stopwatch.StartNew();
        var streamHooks = o.Hooks.OfType<IStreamHook>().ToArray();
        bool needFeatures = o.Hooks.Any(h => h.NeedsFeatures);

        using var images = new StreamImages(data, spec, o.Seed);
        using var model = ModelFactory.Create(o.Model, train.Shape, classes, Seeds.Derive(o.Seed, "init"));
        var init = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
        if (device.type != DeviceType.CPU) model.to(device);
        using var opt = o.Optimizer.Create(model.parameters());
        var results = new List<TaskResult>();
        long steps = 0;
        int firstTask = 1;
        try
        {
            if (o.Resume is { } ck)
            {
                if (ck.Hooks.Length != streamHooks.Length)
                    throw new ArgumentException($"checkpoint holds the state of {ck.Hooks.Length} stream hooks; this run has {streamHooks.Length}");
                if (ck.TasksDone > spec.Tasks)
                    throw new ArgumentException($"checkpoint is after task {ck.TasksDone}; the stream has {spec.Tasks} tasks");
                Restore(model, opt, ck, streamHooks);
                results.AddRange(ck.Results);
                steps = ck.Steps;
                firstTask = ck.TasksDone + 1;
            }
            else
                foreach (var h in o.Hooks) h.StageStart(new StageStartInfo(model, opt, images.AllPositions, 1));

            for (int task = firstTask; task <= spec.Tasks; task++)
            {
                var r = RunTask(task, model, opt, images, spec, o, init, needFeatures, device, ref steps);
                results.Add(r);
                o.OnTaskEnd?.Invoke(r);
                o.OnCheckpoint?.Invoke(Checkpoint(model, opt, streamHooks, task, steps, results));
            }
        }
        finally
        {
            foreach (var t in init.Values) t.Dispose();
        }
        return new StreamResult(results, streamHooks.Select(h => h.Describe()).ToArray(), sw.Elapsed.TotalSeconds);
    }

    static TaskResult RunTask(int task, Network model, optim.Optimizer opt, StreamImages images, TaskStreamSpec spec,
        TaskStreamOptions o, IReadOnlyDictionary<string, Tensor> init, bool needFeatures, Device device, ref long steps)
    {
        var sw = Stopwatch.StartNew();
        using var view = images.View(task);
        foreach (var h in o.Hooks.OfType<IStreamHook>()) h.TaskStart(new TaskStartInfo(model, opt, task));
        model.train();
        using var accSum = zeros(1, dtype: ScalarType.Float64, device: device);
        using var lossSum = zeros(1, dtype: ScalarType.Float64, device: device);
        using var epochCorrect = zeros(1, dtype: ScalarType.Int64, device: device);
        long batchesDone = 0, examples = 0, taskSteps = 0;
        int epochs = 0;
        double lastEpochAcc = 0;
        for (int epoch = 1; epoch <= spec.EpochsPerTask; epoch++)
        {
            foreach (var h in o.Hooks) h.BeforeEpoch(epoch);
            epochCorrect.zero_();
            using var batches = new EpochBatches(view.TrainPositions, spec.BatchSize,
                Seeds.Derive(o.Seed, "order", $"task-{task}", $"epoch-{epoch}"));
            for (int b = 0; b < batches.BatchCount; b++)
            {
                o.Cancellation.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var (x, y) = view.Batch(batches[b], device);
                opt.zero_grad();
                var features = needFeatures ? new List<Tensor>() : null;
                var logits = features != null ? model.ForwardWithFeatures(x, features) : model.forward(x);
                if (view.Seen < images.Classes) logits = logits.narrow(1, 0, view.Seen);
                var loss = nn.functional.cross_entropy(logits, y);
                var objective = loss;
                foreach (var h in o.Hooks)
                    if (h.LossTerm(model) is Tensor term) objective = objective.add(term, Scalars.OneInt);
                objective.backward();
                opt.step();
                steps++; taskSteps++;
                // Online accuracy: the logits came from the forward pass before this update.
                var correct = logits.detach().argmax(1).eq(y).sum();
                long n = y.shape[0];
                // Held Scalars (see Scalars); the batch size repeats, so its cached Scalar is reused.
                var batchSize = Scalars.Of(n);
                epochCorrect.add_(correct, Scalars.OneInt);
                accSum.add_(correct.to_type(ScalarType.Float64).div(batchSize), Scalars.OneInt);
                lossSum.add_(loss.detach().to_type(ScalarType.Float64), batchSize);
                examples += n;
                batchesDone++;
                if (o.Hooks.Count > 0)
                {
                    var info = new StepInfo(model, opt, epoch, steps, x, y, logits, loss.detach(), features);
                    foreach (var h in o.Hooks) h.AfterStep(info);
                }
            }
            epochs = epoch;
            lastEpochAcc = epochCorrect.item<long>() / (double)batches.Count;
            if (spec.Threshold is double t && lastEpochAcc >= t) break;
        }
        double online = accSum.item<double>() / batchesDone;
        double meanLoss = lossSum.item<double>() / examples;
        double end = EndAccuracy(model, view, images, device);
        PlasticitySnapshot metrics;
        using (var scope = NewDisposeScope())
        {
            var probe = view.TrainPositions.narrow(0, 0, Math.Min(spec.ProbeSize, view.TrainPositions.shape[0]));
            var (px, _) = view.Batch(probe, device);
            metrics = PlasticitySnapshot.Measure(model, px, init, spec.Tau);
        }
        return new TaskResult(task, epochs, taskSteps, online, lastEpochAcc, meanLoss, end, metrics, sw.Elapsed.TotalSeconds);
    }

    static double EndAccuracy(Network model, TaskView view, StreamImages images, Device device)
    {
        model.eval();
        try
        {
            using var noGrad = no_grad();
            long correct = 0, total = view.TestPositions.shape[0];
            for (long start = 0; start < total; start += 1000)
            {
                using var scope = NewDisposeScope();
                var pos = view.TestPositions.narrow(0, start, Math.Min(1000, total - start));
                var (x, y) = view.TestBatch(pos, device);
                var logits = model.forward(x);
                if (view.Seen < images.Classes) logits = logits.narrow(1, 0, view.Seen);
                correct += logits.argmax(1).eq(y).sum().item<long>();
            }
            return total == 0 ? double.NaN : correct / (double)total;
        }
        finally { model.train(); }
    }

    static StreamCheckpoint Checkpoint(Network model, optim.Optimizer opt, IStreamHook[] hooks, int task, long steps, List<TaskResult> results)
    {
        byte[] modelBytes;
        using (var ms = new MemoryStream())
        {
            using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true)) model.save(w);
            modelBytes = ms.ToArray();
        }
        byte[] optBytes;
        using (var ms = new MemoryStream())
        {
            using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true))
            {
                var states = OptimizerCarry.StatesByName(model, opt);
                foreach (var (name, _) in model.named_parameters()) { w.Write(name); states[name].State.SaveStateDict(w); }
            }
            optBytes = ms.ToArray();
        }
        var hookBytes = hooks.Select(h =>
        {
            using var ms = new MemoryStream();
            using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true)) h.SaveState(w);
            return ms.ToArray();
        }).ToArray();
        return new StreamCheckpoint { TasksDone = task, Steps = steps, Model = modelBytes, Optimizer = optBytes, Hooks = hookBytes, Results = results.ToArray() };
    }

    static void Restore(Network model, optim.Optimizer opt, StreamCheckpoint ck, IStreamHook[] hooks)
    {
        using (var ms = new MemoryStream(ck.Model))
        using (var r = new BinaryReader(ms)) model.load(r);
        using (var ms = new MemoryStream(ck.Optimizer))
        using (var r = new BinaryReader(ms))
        {
            var states = OptimizerCarry.StatesByName(model, opt);
            foreach (var (name, _) in model.named_parameters())
            {
                var stored = r.ReadString();
                if (stored != name) throw new InvalidDataException($"checkpoint optimiser state is for parameter '{stored}', the model's next is '{name}'");
                states[name].State.LoadStateDict(r);
            }
        }
        for (int i = 0; i < hooks.Length; i++)
        {
            using var ms = new MemoryStream(ck.Hooks[i]);
            using var r = new BinaryReader(ms);
            hooks[i].LoadState(r);
        }
    }
}
