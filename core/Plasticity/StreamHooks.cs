using WarmStart.Core.Models;
using WarmStart.Core.Training;
using static TorchSharp.torch;

namespace WarmStart.Core.Plasticity;

/// <summary>What a hook sees when a task of a stream starts (before its first step).</summary>
/// <param name="Model">The network.</param>
/// <param name="Optimizer">The stream's optimiser (one for the whole stream).</param>
/// <param name="Task">The 1-based task number.</param>
public sealed record TaskStartInfo(Network Model, optim.Optimizer Optimizer, int Task);

/// <summary>
/// A training hook that takes part in task streams: it may act at task boundaries (head reset, shrink-perturb
/// every task) and it saves and restores its own state (utilities, ages, step counters) with the stream's
/// checkpoints, so a stream resumed mid-way continues with identical numbers. Hooks that keep no state and need
/// no task boundary can be plain <see cref="ITrainingHook"/>s.
/// </summary>
public interface IStreamHook : ITrainingHook
{
    /// <summary>A short name with the hook's settings, for logs and run metadata.</summary>
    string Describe();

    /// <summary>At the start of each task, before its first step.</summary>
    void TaskStart(TaskStartInfo info) { }

    /// <summary>Writes the hook's state (called at task boundaries).</summary>
    void SaveState(BinaryWriter writer) { }

    /// <summary>Restores the state <see cref="SaveState"/> wrote (the model and optimiser are already restored).</summary>
    void LoadState(BinaryReader reader) { }
}

/// <summary>Tensor (de)serialisation for hook state and checkpoints: dtype-checked float32 and int64 arrays.</summary>
public static class StateIo
{
    /// <summary>Writes a float32 tensor's shape and values.</summary>
    public static void WriteFloats(BinaryWriter w, Tensor t)
    {
        using var c = t.detach().to(CPU).contiguous().to_type(ScalarType.Float32);
        w.Write((int)c.dim());
        foreach (var s in c.shape) w.Write(s);
        var data = c.data<float>().ToArray();
        w.Write(data.Length);
        foreach (var v in data) w.Write(v);
    }

    /// <summary>Reads a float32 tensor written by <see cref="WriteFloats"/>.</summary>
    public static Tensor ReadFloats(BinaryReader r)
    {
        int dim = r.ReadInt32();
        var shape = new long[dim];
        for (int i = 0; i < dim; i++) shape[i] = r.ReadInt64();
        int n = r.ReadInt32();
        var data = new float[n];
        for (int i = 0; i < n; i++) data[i] = r.ReadSingle();
        using var flat = tensor(data);
        return flat.reshape(shape).clone().DetachFromDisposeScope();
    }
}
