using WarmStart.Core.Models;
using WarmStart.Core.Policies;
using TorchSharp;
using static TorchSharp.torch;
using WarmStart.Core.Native;

namespace WarmStart.Core.Plasticity;

/// <summary>How a re-drawn unit's incoming weights are initialised.</summary>
public enum UnitInit
{
    /// <summary>PyTorch's default: U(±1/√fan_in) (ReDo's PyTorch re-implementation, timoklein/redo).</summary>
    Default,
    /// <summary>U(±√(6/fan_in)), Kaiming-uniform with the ReLU gain (continual backprop, loss-of-plasticity gnt.py).</summary>
    Kaiming,
    /// <summary>U(±√(6/(fan_in+fan_out))), Xavier-uniform (ReDo's official code, dopamine NeuronRecycler).</summary>
    Xavier,
}

/// <summary>
/// The surgery shared by continual backprop and ReDo: re-draw the incoming weights of chosen units, zero their
/// incoming bias and their outgoing weights, reset their layer norm (γ = 1, β = 0), and give them fresh optimiser
/// state. TorchSharp's Adam keeps one step count per parameter tensor, so only the moments of the units' entries
/// are zeroed (the step count is shared with the other units and left as is, as ReDo's official code does).
/// </summary>
public static class UnitReset
{
    /// <summary>The half-width of the uniform draw for a unit of <paramref name="layer"/> under <paramref name="init"/>.</summary>
    public static double Bound(UnitLayer layer, UnitInit init) => init switch
    {
        UnitInit.Default => 1.0 / Math.Sqrt(layer.FanIn),
        UnitInit.Kaiming => Math.Sqrt(6.0 / layer.FanIn),
        UnitInit.Xavier => Math.Sqrt(6.0 / (layer.FanIn + layer.FanOut)),
        _ => throw new ArgumentOutOfRangeException(nameof(init)),
    };

    /// <summary>Resets <paramref name="units"/> (int64 indices) of <paramref name="layer"/>: incoming weights drawn
    /// U(±bound) from <paramref name="generator"/> (in index order, one row after another), incoming bias 0,
    /// outgoing weights 0, layer norm γ 1 and β 0. No gradient is recorded.</summary>
    public static void Reinitialise(UnitLayer layer, Tensor units, UnitInit init, Generator generator)
    {
        if (units.numel() == 0) return;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        double b = Bound(layer, init);
        var w = layer.InWeight.view(layer.Units, -1);
        var fresh = empty(new[] { units.shape[0], w.shape[1] }, dtype: w.dtype, device: w.device).uniform_(-b, b, generator);
        w.index_copy_(0, units, fresh);
        // Held Scalars (see Scalars).
        layer.InBias?.index_fill_(0, units, Scalars.ZeroInt);
        layer.NormWeight?.index_fill_(0, units, Scalars.OneInt);
        layer.NormBias?.index_fill_(0, units, Scalars.ZeroInt);
        layer.OutView().index_fill_(1, units, Scalars.ZeroInt);
    }

    /// <summary>Zeroes the optimiser state of <paramref name="units"/>: Adam's first and second moments (and
    /// AMSGrad's maximum) or SGD's momentum buffer, for the units' incoming weights and bias, layer norm entries and
    /// outgoing weights. Optimisers other than SGD and Adam are refused.</summary>
    public static void ResetOptimizerState(Network model, optim.Optimizer optimizer, UnitLayer layer, Tensor units)
    {
        if (units.numel() == 0) return;
        var byHandle = StatesByParameter(model, optimizer);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        void Zero(TorchSharp.Modules.Parameter? p, int dim, bool outgoing)
        {
            if (p is null || !byHandle.TryGetValue(p.Handle, out var state)) return;
            foreach (var t in StateTensors(state))
            {
                var v = outgoing ? t.view(t.shape[0], layer.Units, -1) : dim == 0 && t.dim() > 1 ? t.view(layer.Units, -1) : t;
                v.index_fill_(outgoing ? 1 : 0, units, Scalars.ZeroInt);
            }
        }
        Zero(layer.InWeight, 0, false);
        Zero(layer.InBias, 0, false);
        Zero(layer.NormWeight, 0, false);
        Zero(layer.NormBias, 0, false);
        Zero(layer.OutWeight, 1, true);
    }

    /// <summary>Zeroes the whole optimiser state (moments, momentum) of the parameters for which
    /// <paramref name="select"/> is true (head reset).</summary>
    public static void ResetOptimizerState(Network model, optim.Optimizer optimizer, Func<string, bool> select)
    {
        using var noGrad = no_grad();
        foreach (var (name, (_, state)) in OptimizerCarry.StatesByName(model, optimizer))
            if (select(name))
                foreach (var t in StateTensors(state)) t.zero_();
    }

    static Dictionary<IntPtr, TorchSharp.Modules.OptimizerState> StatesByParameter(Network model, optim.Optimizer optimizer) =>
        OptimizerCarry.StatesByName(model, optimizer).Values.ToDictionary(v => v.Parameter.Handle, v => v.State);

    static IEnumerable<Tensor> StateTensors(TorchSharp.Modules.OptimizerState state)
    {
        switch (state)
        {
            case TorchSharp.Modules.Adam.State a:
                if (a.exp_avg is not null) yield return a.exp_avg;
                if (a.exp_avg_sq is not null) yield return a.exp_avg_sq;
                if (a.max_exp_avg_sq is not null) yield return a.max_exp_avg_sq;
                break;
            case TorchSharp.Modules.SGD.State s:
                if (s.momentum_buffer is not null) yield return s.momentum_buffer;
                break;
            default:
                throw new ArgumentException($"resetting unit state of {state.GetType().FullName} is not supported; allowed optimisers: sgd, adam");
        }
    }

    /// <summary>The unit layers of <paramref name="model"/>, or a clear error for models that have none.</summary>
    public static IReadOnlyList<UnitLayer> LayersOf(Network model, string method) =>
        model is IUnitLayers u ? u.UnitLayers
            : throw new NotSupportedException($"{method} needs a model with addressable hidden units (mlp, small_cnn); '{model.Spec.Kind}' has none");

    /// <summary>Per-unit means of a feature tensor: [batch, units] or [batch, units, …] → [units] (mean over the
    /// batch and any spatial positions) of <paramref name="f"/>.</summary>
    public static Tensor UnitMean(Tensor f) => f.dim() == 2 ? f.mean(new long[] { 0 }) : f.transpose(0, 1).reshape(f.shape[1], -1).mean(new long[] { 1 });
}
