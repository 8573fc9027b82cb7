using WarmStart.Core.Models;
using WarmStart.Core.Training;
using TorchSharp;
using static TorchSharp.torch;
using WarmStart.Core.Native;

namespace WarmStart.Core.Policies;

/// <summary>Which form of the L2-init penalty (protocol §7.3).</summary>
public enum L2InitForm
{
    /// <summary>Kumar et al. 2023: λ‖θ − θ₀‖² over every learnable parameter; gradient 2λ(θ − θ₀).</summary>
    Textbook,
    /// <summary>The DASH code's form: λ·(Σ_m ‖W_m − W₀,m‖_F)², the per-module Frobenius norms of the weights only
    /// (every module with a <c>weight</c>: Linear, Conv and BatchNorm; biases excluded) summed, <em>then</em> squared.</summary>
    DashCompatible,
}

/// <summary>
/// L2 Init / regenerative regularisation (Kumar, Marklund, Van Roy 2023): a penalty pulling the parameters toward
/// θ₀, the chain's <em>original</em> initialisation (not the previous stage's solution), added to the loss at
/// every step. Holds its own copy of θ₀ (moved to the model's device on first use); dispose it after the stage.
/// </summary>
public sealed class L2InitPenalty : IPenalty, IDisposable
{
    readonly ParameterSet _theta0;
    readonly Dictionary<string, Tensor> _moved = new();

    /// <summary>Penalty strength λ ≥ 0.</summary>
    public double Lambda { get; }
    /// <summary>Textbook or DASH-code form.</summary>
    public L2InitForm Form { get; }
    /// <summary>θ₀ by parameter name (the penalty's own copy; the stacked engine lays it out beside the parameters).</summary>
    public IReadOnlyDictionary<string, Tensor> Theta0 => _theta0.Tensors;

    /// <summary>A penalty toward <paramref name="theta0"/> (parameter name → tensor; copied).</summary>
    public L2InitPenalty(double lambda, IReadOnlyDictionary<string, Tensor> theta0, L2InitForm form = L2InitForm.Textbook)
    {
        if (!(lambda >= 0) || double.IsInfinity(lambda)) throw new ArgumentOutOfRangeException(nameof(lambda), $"l2_init λ = {lambda}; allowed: λ ≥ 0");
        Lambda = lambda; Form = form;
        using var _ = no_grad();
        _theta0 = new ParameterSet(theta0.ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone()));
    }

    /// <summary>A penalty toward the current parameters of <paramref name="theta0"/> (copied).</summary>
    public L2InitPenalty(double lambda, Network theta0, L2InitForm form = L2InitForm.Textbook)
        : this(lambda, ParameterSetOf(theta0), form) { }

    static IReadOnlyDictionary<string, Tensor> ParameterSetOf(Network n) =>
        n.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);

    /// <summary>A penalty toward the chain's original initialisation, re-drawn from
    /// <see cref="StageContext.OriginalInitSeed"/> with <see cref="StageContext.Fresh"/>.</summary>
    public static L2InitPenalty ForStage(double lambda, StageContext ctx, L2InitForm form = L2InitForm.Textbook)
    {
        using var init = ctx.Fresh(ctx.OriginalInitSeed);
        return new L2InitPenalty(lambda, init, form);
    }

    /// <inheritdoc />
    public string Name => Form == L2InitForm.Textbook ? $"l2_init(λ={Lambda})" : $"l2_init_dash(λ={Lambda})";

    /// <inheritdoc />
    public Tensor Compute(Network model)
    {
        Tensor? total = null;
        foreach (var (name, p) in model.named_parameters())
        {
            if (Form == L2InitForm.DashCompatible && !(name == "weight" || name.EndsWith(".weight"))) continue;
            var diff = p - Theta0For(name, p);
            var term = Form == L2InitForm.Textbook ? diff.square().sum() : diff.norm();
            total = total is null ? term : total.add(term, Scalars.OneInt);
        }
        if (total is null) return zeros(1, device: model.parameters().First().device).squeeze();
        if (Form == L2InitForm.DashCompatible) total = total.square();
        return total.mul(Scalars.Of(Lambda)); // held Scalars: see Scalars
    }

    /// <summary>θ₀ of <paramref name="name"/> on <paramref name="p"/>'s device (copied there once), shape-checked.</summary>
    Tensor Theta0For(string name, Tensor p)
    {
        if (!_theta0.TryGet(name, out var t0))
            throw new ArgumentException($"l2_init: θ₀ has no parameter '{name}' (another architecture?)");
        if (!t0.shape.SequenceEqual(p.shape))
            throw new ArgumentException($"l2_init: θ₀ '{name}' has shape [{string.Join(", ", t0.shape)}], the model [{string.Join(", ", p.shape)}]");
        if (t0.OnSameDevice(p)) return t0;
        if (_moved.TryGetValue(name, out var m) && m.OnSameDevice(p)) return m;
        m?.Dispose();
        return _moved[name] = t0.to(p.device);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in _moved.Values) t.Dispose();
        _moved.Clear();
        _theta0.Dispose();
    }
}
