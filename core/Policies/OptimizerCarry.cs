using System.IO;
using WarmStart.Core.Models;
using WarmStart.Core.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace WarmStart.Core.Policies;

/// <summary>
/// Optimiser-state carry-over (<c>keep_optimizer_state</c>; the default in the paper's code is a fresh optimiser
/// every round). Builds the new stage's optimiser from its <see cref="OptimizerSpec"/> over the new network and
/// copies the old optimiser's per-parameter state (Adam's step count and moments, SGD's momentum buffer) across
/// <em>by parameter name</em>, by value: the new optimiser shares no tensor with the old one, which may be disposed.
/// Hyper-parameters (learning rate, betas, weight decay) come from the new spec, not from the old optimiser.
/// </summary>
public static class OptimizerCarry
{
    /// <summary>
    /// A new optimiser of <paramref name="spec"/> over <paramref name="newModel"/>'s parameters, holding the state
    /// that <paramref name="oldOptimizer"/> (built over <paramref name="oldModel"/>'s parameters) keeps for the
    /// same-named parameters. Parameters for which <paramref name="reset"/> returns true (e.g. the groups a
    /// head reset or partial warm start re-drew, see <see cref="IReinitialisingPolicy"/>), or that the old model
    /// lacks or holds in another shape, start with fresh state. The two optimisers must be of the same kind.
    /// </summary>
    public static optim.Optimizer CarryOver(Network oldModel, optim.Optimizer oldOptimizer, Network newModel,
        OptimizerSpec spec, Func<string, bool>? reset = null)
    {
        var fresh = spec.Create(newModel.parameters());
        try
        {
            CopyState(oldModel, oldOptimizer, newModel, fresh, reset);
            return fresh;
        }
        catch
        {
            fresh.Dispose();
            throw;
        }
    }

    /// <summary>A reset predicate for <see cref="CarryOver"/> that resets the parameters of the groups
    /// <paramref name="policy"/> re-initialised in <paramref name="model"/> (none for other policies).</summary>
    public static Func<string, bool> ResetFor(IInitPolicy policy, Network model)
    {
        if (policy is not IReinitialisingPolicy r) return _ => false;
        var groups = r.ReinitialisedGroups(model).ToHashSet();
        return name => groups.Contains(Network.GroupOf(name));
    }

    /// <summary>Copies per-parameter state from <paramref name="from"/> (over <paramref name="fromModel"/>) into
    /// <paramref name="to"/> (over <paramref name="toModel"/>), by parameter name and by value.</summary>
    public static void CopyState(Network fromModel, optim.Optimizer from, Network toModel, optim.Optimizer to,
        Func<string, bool>? reset = null)
    {
        if (KindOf(from) != KindOf(to))
            throw new ArgumentException($"cannot carry {from.GetType().Name} state into a {to.GetType().Name}; keep the optimiser kind or reset its state");
        var src = StatesByName(fromModel, from);
        var dst = StatesByName(toModel, to);
        var shapes = fromModel.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        foreach (var (name, (param, state)) in dst)
        {
            if (reset != null && reset(name)) continue;
            if (!src.TryGetValue(name, out var s) || !shapes[name].SequenceEqual(param.shape)) continue;
            using var ms = new MemoryStream();
            using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true)) s.State.SaveStateDict(w);
            ms.Position = 0;
            using (var r = new BinaryReader(ms)) state.LoadStateDict(r);
            // SGD's loader allocates its momentum buffer on the CPU: keep state next to its parameter.
            if (state is TorchSharp.Modules.SGD.State sgd && sgd.momentum_buffer is not null && !sgd.momentum_buffer.OnSameDevice(param))
            {
                var moved = sgd.momentum_buffer.to(param.device);
                sgd.momentum_buffer.Dispose();
                sgd.momentum_buffer = moved;
            }
        }
    }

    // The toolkit's optimisers subclass TorchSharp's (a step that holds its Scalars) and keep its state classes, so
    // state moves between TorchSharp's Adam and ScalarSafe.Adam (and SGD likewise): compare the family, not the type.
    static Type KindOf(optim.Optimizer o) => o switch
    {
        TorchSharp.Modules.Adam => typeof(TorchSharp.Modules.Adam),
        TorchSharp.Modules.SGD => typeof(TorchSharp.Modules.SGD),
        _ => o.GetType(),
    };

    /// <summary>The optimiser's state object of each of <paramref name="model"/>'s parameters, by name.</summary>
    public static Dictionary<string, (TorchSharp.Modules.Parameter Parameter, TorchSharp.Modules.OptimizerState State)> StatesByName(
        Network model, optim.Optimizer optimizer)
    {
        if (optimizer is not TorchSharp.Modules.OptimizerHelper helper)
            throw new ArgumentException($"optimiser {optimizer.GetType().Name} keeps its state in native code; state carry-over supports sgd and adam");
        var states = helper.state_dict().State;
        var handles = new List<IntPtr>();
        foreach (var g in helper.ParamGroups.Cast<TorchSharp.Modules.ParamGroup>())
            handles.AddRange(g.Parameters.Select(p => p.Handle));
        if (handles.Count != states.Count)
            throw new InvalidOperationException($"optimiser holds {states.Count} states for {handles.Count} parameters");
        var index = new Dictionary<IntPtr, int>();
        for (int i = 0; i < handles.Count; i++) index[handles[i]] = i;
        var result = new Dictionary<string, (TorchSharp.Modules.Parameter, TorchSharp.Modules.OptimizerState)>();
        foreach (var (name, p) in model.named_parameters())
            if (index.TryGetValue(p.Handle, out var i)) result[name] = (p, states[i]);
        return result;
    }
}
