using WarmStart.Core.Policies;
using WarmStart.Core.Training;
using static TorchSharp.torch;

namespace WarmStart.Core.Plasticity;

/// <summary>
/// L2-Init through a stream (Kumar et al. 2023): the existing <see cref="L2InitPenalty"/> toward the parameters
/// the stream started from (captured at the stream's start), added to every step's loss. θ₀ is part of the hook's
/// checkpointed state, so a resumed stream pulls toward the same θ₀.
/// </summary>
public sealed class StreamL2Init : IStreamHook, IDisposable
{
    /// <summary>λ of the penalty λ‖θ − θ₀‖² (or the DASH form).</summary>
    public double Lambda { get; }
    /// <summary>Textbook or DASH-code form.</summary>
    public L2InitForm Form { get; }
    L2InitPenalty? _penalty;
    Dictionary<string, Tensor>? _theta0;

    /// <summary>Default λ = 1e-2 (Kumar et al.: best across problems).</summary>
    public StreamL2Init(double lambda = 1e-2, L2InitForm form = L2InitForm.Textbook)
    {
        if (!(lambda >= 0) || double.IsInfinity(lambda)) throw new ArgumentOutOfRangeException(nameof(lambda), $"l2_init λ = {lambda}; allowed: λ ≥ 0");
        Lambda = lambda; Form = form;
    }

    /// <inheritdoc />
    public string Describe() => $"l2_init lambda={Lambda}{(Form == L2InitForm.DashCompatible ? " dash" : "")}";

    /// <inheritdoc />
    public void StageStart(StageStartInfo info) =>
        Set(info.Model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().to(CPU).clone().DetachFromDisposeScope()));

    void Set(Dictionary<string, Tensor> theta0)
    {
        _penalty?.Dispose();
        if (_theta0 != null) foreach (var t in _theta0.Values) t.Dispose();
        _theta0 = theta0;
        _penalty = new L2InitPenalty(Lambda, theta0, Form);
    }

    /// <inheritdoc />
    public Tensor? LossTerm(Models.Network model) =>
        (_penalty ?? throw new InvalidOperationException("l2_init: θ₀ not captured (the stream did not start this hook)")).Compute(model);

    /// <inheritdoc />
    public void SaveState(BinaryWriter w)
    {
        w.Write(_theta0?.Count ?? 0);
        if (_theta0 is null) return;
        foreach (var (name, t) in _theta0) { w.Write(name); StateIo.WriteFloats(w, t); }
    }

    /// <inheritdoc />
    public void LoadState(BinaryReader r)
    {
        int n = r.ReadInt32();
        var d = new Dictionary<string, Tensor>();
        for (int i = 0; i < n; i++) { var name = r.ReadString(); d[name] = StateIo.ReadFloats(r); }
        if (n > 0) Set(d);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _penalty?.Dispose();
        if (_theta0 != null) foreach (var t in _theta0.Values) t.Dispose();
    }
}
