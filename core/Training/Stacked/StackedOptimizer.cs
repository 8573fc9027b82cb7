using WarmStart.Core.Models;
using TorchSharp;
using static TorchSharp.torch;
using WarmStart.Core.Native;

namespace WarmStart.Core.Training.Stacked;

/// <summary>
/// Adam or SGD (momentum, weight decay) over a <see cref="StackedNetwork"/>'s flat buffer: every
/// parameter of every member is updated by one op per step of the update rule, not one per parameter (a small
/// model's step is dominated by per-op overhead). The state tensors have the flat layout, so every member has its
/// own moments, and each member has its own learning rate (a flat tensor of the same layout holds every row's), so a
/// learning-rate sweep's variants share one stack. The arithmetic is TorchSharp's <c>optim.Adam</c> /
/// <c>optim.SGD</c> step, except that the learning rate multiplies the update as a tensor rather than entering as a
/// scalar (so a member's numbers are the same whatever its companions' learning rates). The step counter is shared:
/// members of a stack start together with fresh state and take the same number of steps, and a member that stops
/// leaves the stack (<see cref="Keep"/>), so the counter is every remaining
/// member's own.
/// </summary>
public sealed class StackedOptimizer : IDisposable
{
    readonly OptimizerSpec _spec;
    readonly StackedNetwork _net;
    readonly IReadOnlyList<StackedParameter> _params;
    Tensor? _m, _v;
    Tensor _lr;
    // L2-init: θ₀ in the flat layout and 2λ per row (null when no row has the penalty).
    Tensor? _anchor, _twoLambda;
    const double Eps = 1e-8;

    /// <summary>Fresh state for <paramref name="net"/>'s parameters; <paramref name="rowLrs"/> are the rows' learning
    /// rates in row order (null: every row <paramref name="spec"/>'s), <paramref name="rowL2Init"/> the rows' L2-init
    /// penalties (null entries, or a null list: none).</summary>
    public StackedOptimizer(OptimizerSpec spec, StackedNetwork net, IReadOnlyList<double>? rowLrs = null,
        IReadOnlyList<StackedL2Init?>? rowL2Init = null)
    {
        if (spec.Kind is not ("adam" or "sgd"))
            throw new ArgumentException($"optimizer '{spec.Kind}' is not known; allowed: sgd, adam");
        var lrs = rowLrs ?? Enumerable.Repeat(spec.Lr, (int)net.Members).ToArray();
        if (lrs.Count != net.Members)
            throw new ArgumentException($"{lrs.Count} learning rates for a stack of {net.Members} rows");
        foreach (var lr in lrs)
            if (!double.IsFinite(lr) || lr <= 0) throw new ArgumentException($"learning rate {lr} is not allowed: it must be positive and finite");
        _spec = spec;
        _net = net;
        _params = net.Parameters;
        _lr = PerRow(lrs);
        if (rowL2Init is not null)
        {
            if (rowL2Init.Count != net.Members)
                throw new ArgumentException($"{rowL2Init.Count} L2-init penalties for a stack of {net.Members} rows");
            foreach (var p in rowL2Init)
                if (p is not null && (!(p.Lambda >= 0) || double.IsInfinity(p.Lambda)))
                    throw new ArgumentException($"l2_init λ = {p.Lambda}; allowed: λ ≥ 0");
            if (rowL2Init.Any(p => p is not null))
            {
                _anchor = net.FlatOf(rowL2Init.Select(p => p?.Theta0).ToArray());
                _twoLambda = PerRow(rowL2Init.Select(p => 2 * (p?.Lambda ?? 0)).ToArray());
            }
        }
        if (spec.Kind == "adam")
        {
            _m = zeros_like(net.Flat).requires_grad_(false);
            _v = zeros_like(net.Flat).requires_grad_(false);
        }
    }

    /// <summary>One value per row laid out as the flat buffer (the rows' learning rates, or 2λ): each parameter's
    /// block [S, Padded] holds row s's value in its row s.</summary>
    Tensor PerRow(IReadOnlyList<double> values)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var flat = _net.Flat;
        var column = tensor(values.ToArray(), dtype: ScalarType.Float64, device: flat.device).to_type(flat.dtype).view(-1, 1);
        var blocks = _params.Select(p => column.expand(values.Count, p.Padded).reshape(-1)).ToArray();
        return cat(blocks, 0).MoveToOuterDisposeScope();
    }

    /// <summary>Steps taken.</summary>
    public long Step { get; private set; }

    /// <summary>One update of every member from <paramref name="grads"/>, the gradients of the network's
    /// <see cref="StackedNetwork.Leaves"/> in order.</summary>
    public void Update(IList<Tensor> grads)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        Step++;
        // The leaves are consecutive blocks of the flat buffer: their gradients one after another are its gradient.
        var grad = cat(grads.Select(g => g.reshape(-1)).ToArray(), 0);
        var param = _net.Flat;
        // L2-init's gradient 2λ(θ − θ₀), added where the single trainer's backward adds it: before weight decay.
        if (_anchor is not null) grad.add_(param.sub(_anchor).mul_(_twoLambda!), Scalars.OneInt);
        if (_spec.Kind == "adam") AdamStep(param, grad);
        else SgdStep(param, grad);
    }

    void AdamStep(Tensor param, Tensor grad)
    {
        double beta1 = _spec.Beta1, beta2 = _spec.Beta2;
        var bias1 = 1 - Math.Pow(beta1, Step);
        var bias2 = 1 - Math.Pow(beta2, Step);
        // Every Scalar is held through its call (see Scalars): the hyper-parameters' are cached, the step's own are
        // disposed at the end of the step.
        if (_spec.WeightDecay != 0) grad = grad.add(param, Scalars.Of(_spec.WeightDecay));
        _m!.mul_(Scalars.Of(beta1)).add_(grad, Scalars.Of(1 - beta1));
        _v!.mul_(Scalars.Of(beta2)).addcmul_(grad, grad.conj(), Scalars.Of(1 - beta2));
        using var sqrtBias2 = Math.Sqrt(bias2).ToScalar();
        using var step = (-1.0 / bias1).ToScalar();
        var denom = _v.sqrt().div_(sqrtBias2).add_(Scalars.Of(Eps), Scalars.OneInt);
        // torch's addcdiv_(m, denom, value: -lr / bias1), with each row's lr as a tensor factor.
        param.add_(_m.div(denom).mul_(_lr), step);
    }

    void SgdStep(Tensor param, Tensor grad)
    {
        if (_spec.WeightDecay != 0) grad = grad.add(param, Scalars.Of(_spec.WeightDecay));
        if (_spec.Momentum != 0)
        {
            if (_m is null) _m = grad.clone().detach().DetachFromDisposeScope();
            else _m.mul_(Scalars.Of(_spec.Momentum)).add_(grad, Scalars.One);
            grad = _m;
        }
        param.add_(grad.mul(_lr), Scalars.Of(-1.0));
    }

    /// <summary>Copies row <paramref name="row"/>'s state (step count, Adam's moments, SGD's momentum buffer) into
    /// <paramref name="optimizer"/>, a torch optimiser of the same kind over <paramref name="target"/>'s parameters,
    /// so that saving it writes what the single trainer's optimiser would hold after the same steps.</summary>
    public void CopyMemberStateInto(long row, Network target, optim.Optimizer optimizer)
    {
        using var _ = no_grad();
        var states = Policies.OptimizerCarry.StatesByName(target, optimizer);
        for (int i = 0; i < _params.Count; i++)
        {
            var sp = _params[i];
            if (!states.TryGetValue(sp.Name, out var entry))
                throw new ArgumentException($"the member's network has no parameter '{sp.Name}'");
            switch (entry.State)
            {
                case TorchSharp.Modules.Adam.State a when _m is not null:
                    a.step = Step;
                    a.exp_avg?.Dispose();
                    a.exp_avg = sp.RowOf(_m, _net.Members, row).DetachFromDisposeScope();
                    a.exp_avg_sq?.Dispose();
                    a.exp_avg_sq = sp.RowOf(_v!, _net.Members, row).DetachFromDisposeScope();
                    break;
                case TorchSharp.Modules.SGD.State g when _m is not null:
                    g.momentum_buffer?.Dispose();
                    g.momentum_buffer = sp.RowOf(_m, _net.Members, row).DetachFromDisposeScope();
                    break;
                case TorchSharp.Modules.Adam.State or TorchSharp.Modules.SGD.State:
                    break;
                default:
                    throw new ArgumentException($"optimizer {optimizer.GetType().Name} cannot receive a stacked {_spec.Kind} state");
            }
        }
    }

    /// <summary>Keeps only the members at positions <paramref name="keep"/>; call with the same index before
    /// <see cref="StackedNetwork.Keep"/> (the layout is the network's current one).</summary>
    public void Keep(Tensor keep)
    {
        if (_m is Tensor m) { _m = _net.KeepRows(m, keep); m.Dispose(); }
        if (_v is Tensor v) { _v = _net.KeepRows(v, keep); v.Dispose(); }
        var lr = _lr;
        _lr = _net.KeepRows(lr, keep);
        lr.Dispose();
        if (_anchor is Tensor a) { _anchor = _net.KeepRows(a, keep); a.Dispose(); }
        if (_twoLambda is Tensor l) { _twoLambda = _net.KeepRows(l, keep); l.Dispose(); }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _m?.Dispose();
        _v?.Dispose();
        _lr.Dispose();
        _anchor?.Dispose();
        _twoLambda?.Dispose();
    }
}
