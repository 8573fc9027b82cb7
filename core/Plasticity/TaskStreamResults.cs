namespace WarmStart.Core.Plasticity;

/// <summary>What one task of a stream produced.</summary>
/// <param name="Task">1-based task number.</param>
/// <param name="Epochs">Epochs trained on the task.</param>
/// <param name="Steps">Optimiser steps taken on the task.</param>
/// <param name="OnlineAccuracy">Average online accuracy of the task (Kumar et al. §4.1): the mean over the task's
/// steps of each minibatch's accuracy, scored by the forward pass before that minibatch's update.</param>
/// <param name="LastEpochOnlineAccuracy">The same over the task's last epoch only (what a threshold is checked on).</param>
/// <param name="MeanLoss">Mean training cross-entropy over the task's examples (pre-update forward passes).</param>
/// <param name="EndAccuracy">Accuracy at the task's end on its held-out test images (random labels: on its own
/// training images with the task's labels), in eval mode.</param>
/// <param name="Metrics">The plasticity metrics at the task's end.</param>
/// <param name="Seconds">Wall time of the task (training and measurement); not part of the numbers a resumed
/// stream must reproduce.</param>
public sealed record TaskResult(int Task, int Epochs, long Steps, double OnlineAccuracy, double LastEpochOnlineAccuracy,
    double MeanLoss, double EndAccuracy, PlasticitySnapshot Metrics, double Seconds)
{
    internal void Write(BinaryWriter w)
    {
        w.Write(Task); w.Write(Epochs); w.Write(Steps); w.Write(OnlineAccuracy); w.Write(LastEpochOnlineAccuracy);
        w.Write(MeanLoss); w.Write(EndAccuracy); w.Write(Seconds);
        var m = Metrics;
        w.Write(m.Tau);
        WriteArray(w, m.Dormant); WriteArray(w, m.Dead);
        w.Write(m.EffectiveRank); w.Write(m.SRank); w.Write(m.StableRankFro);
        w.Write(m.WeightMagnitude.Count);
        foreach (var (k, v) in m.WeightMagnitude) { w.Write(k); w.Write(v); }
        w.Write(m.DistanceFromInit); w.Write(m.GradientNorm);
    }

    internal static TaskResult Read(BinaryReader r)
    {
        int task = r.ReadInt32(), epochs = r.ReadInt32();
        long steps = r.ReadInt64();
        double online = r.ReadDouble(), lastEpoch = r.ReadDouble(), loss = r.ReadDouble(), end = r.ReadDouble(), seconds = r.ReadDouble();
        double tau = r.ReadDouble();
        var dormant = ReadArray(r); var dead = ReadArray(r);
        double erank = r.ReadDouble(); int srank = r.ReadInt32(); double fro = r.ReadDouble();
        int nw = r.ReadInt32();
        var mags = new Dictionary<string, double>();
        for (int i = 0; i < nw; i++) { var k = r.ReadString(); mags[k] = r.ReadDouble(); }
        double dist = r.ReadDouble(), grad = r.ReadDouble();
        return new TaskResult(task, epochs, steps, online, lastEpoch, loss, end,
            new PlasticitySnapshot(tau, dormant, dead, erank, srank, fro, mags, dist, grad), seconds);
    }

    static void WriteArray(BinaryWriter w, double[] a) { w.Write(a.Length); foreach (var v in a) w.Write(v); }
    static double[] ReadArray(BinaryReader r) { var a = new double[r.ReadInt32()]; for (int i = 0; i < a.Length; i++) a[i] = r.ReadDouble(); return a; }
}

/// <summary>
/// A stream's state at a task boundary: the model, the optimiser's per-parameter state, each stream hook's state,
/// the step count and the per-task results so far. Restoring it and running on gives the same numbers as a run
/// that was never interrupted (every random draw of the stream is derived from the seed and the task, epoch or step).
/// </summary>
public sealed class StreamCheckpoint
{
    const int Magic = 0x57535443; // "WSTC"
    const int Version = 1;

    /// <summary>Tasks completed.</summary>
    public int TasksDone { get; init; }
    /// <summary>Optimiser steps taken so far in the stream.</summary>
    public long Steps { get; init; }
    /// <summary>The model's parameters and buffers (TorchSharp's module format).</summary>
    public required byte[] Model { get; init; }
    /// <summary>The optimiser's per-parameter state, in the model's parameter order.</summary>
    public required byte[] Optimizer { get; init; }
    /// <summary>Each stream hook's state, in the order the hooks were given.</summary>
    public required byte[][] Hooks { get; init; }
    /// <summary>The results of the completed tasks.</summary>
    public required IReadOnlyList<TaskResult> Results { get; init; }

    /// <summary>Writes the checkpoint.</summary>
    public void Save(Stream stream)
    {
        using var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        w.Write(Magic); w.Write(Version);
        w.Write(TasksDone); w.Write(Steps);
        w.Write(Model.Length); w.Write(Model);
        w.Write(Optimizer.Length); w.Write(Optimizer);
        w.Write(Hooks.Length);
        foreach (var h in Hooks) { w.Write(h.Length); w.Write(h); }
        w.Write(Results.Count);
        foreach (var r in Results) r.Write(w);
    }

    /// <summary>Reads a checkpoint written by <see cref="Save"/>; a clear error for anything else.</summary>
    public static StreamCheckpoint Load(Stream stream)
    {
        using var r = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        if (r.ReadInt32() != Magic) throw new InvalidDataException("not a task-stream checkpoint (bad magic number)");
        int version = r.ReadInt32();
        if (version != Version) throw new InvalidDataException($"task-stream checkpoint version {version}; this build reads version {Version}");
        int tasks = r.ReadInt32(); long steps = r.ReadInt64();
        var model = r.ReadBytes(r.ReadInt32());
        var opt = r.ReadBytes(r.ReadInt32());
        var hooks = new byte[r.ReadInt32()][];
        for (int i = 0; i < hooks.Length; i++) hooks[i] = r.ReadBytes(r.ReadInt32());
        var results = new TaskResult[r.ReadInt32()];
        for (int i = 0; i < results.Length; i++) results[i] = TaskResult.Read(r);
        return new StreamCheckpoint { TasksDone = tasks, Steps = steps, Model = model, Optimizer = opt, Hooks = hooks, Results = results };
    }
}

/// <summary>A finished stream: the per-task results (including those restored from a checkpoint) and the hooks' descriptions.</summary>
/// <param name="Tasks">Per-task results, task 1 first.</param>
/// <param name="Hooks">What each stream hook was (<see cref="IStreamHook.Describe"/>).</param>
/// <param name="Seconds">Wall time of this call (resumed runs: the part run now).</param>
public sealed record StreamResult(IReadOnlyList<TaskResult> Tasks, IReadOnlyList<string> Hooks, double Seconds)
{
    /// <summary>Total average online accuracy: the mean of the per-task online accuracies weighted by their steps.</summary>
    public double TotalOnlineAccuracy =>
        Tasks.Sum(t => t.OnlineAccuracy * t.Steps) / Math.Max(1, Tasks.Sum(t => t.Steps));
}
