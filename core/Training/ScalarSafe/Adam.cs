using TorchSharp;
using WarmStart.Core.Native;
using static TorchSharp.torch;

namespace WarmStart.Core.Training.ScalarSafe;

/// <summary>
/// TorchSharp 0.107's Adam with a step that keeps every <see cref="Scalar"/> alive through its native call (see
/// <see cref="Scalars"/>: TorchSharp's own step converts <c>beta1</c>, <c>1 - beta1</c>, <c>eps</c>, the bias
/// correction and the step size implicitly, and a garbage collection on another thread can free them mid-call).
/// The step does the same tensor operations in the same order as TorchSharp's <c>Adam.step</c>
/// (src/TorchSharp/Optimizers/Adam.cs at v0.107.0), so parameters come out bit for bit the same. Everything else —
/// state, param groups, <c>state_dict</c> save and load, options — is TorchSharp's: this class only overrides
/// <see cref="step"/>, so stored optimiser states and <c>OptimizerCarry</c> see an ordinary <see cref="TorchSharp.Modules.Adam"/>.
/// The class keeps TorchSharp's name, <c>Adam</c>, on purpose: TorchSharp writes the optimiser's type name into a
/// saved state and refuses to load a state under another name, so states saved by either class load into the other.
/// </summary>
public sealed class Adam : TorchSharp.Modules.Adam
{
    /// <summary>Adam over <paramref name="parameters"/>, with TorchSharp's arguments and defaults.</summary>
    public Adam(IEnumerable<TorchSharp.Modules.Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weight_decay = 0, bool amsgrad = false, bool maximize = false)
        : base(parameters, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize) { }

    /// <summary>One Adam update of every parameter with a gradient (TorchSharp's algorithm, Scalars held).</summary>
    public override Tensor step(Func<Tensor>? closure = null) => _step<TorchSharp.Modules.Adam.ParamGroup>(group =>
    {
        var options = (TorchSharp.Modules.Adam.Options)group.Options;
        var beta1 = options.beta1!.Value;
        var beta2 = options.beta2!.Value;
        var weight_decay = options.weight_decay!.Value;
        var amsgrad = options.amsgrad!.Value;
        var maximize = options.maximize!.Value;
        var eps = options.eps!.Value;
        var lr = options.LearningRate!.Value;
        // Per-group constants repeat every step: cached for the process (the same doubles TorchSharp computes).
        var beta1S = Scalars.Of(beta1);
        var oneMinusBeta1 = Scalars.Of(1 - beta1);
        var beta2S = Scalars.Of(beta2);
        var oneMinusBeta2 = Scalars.Of(1 - beta2);
        var epsS = Scalars.Of(eps);
        var weightDecayS = Scalars.Of(weight_decay);

        foreach (var param in group.Parameters)
        {
            var state = (TorchSharp.Modules.Adam.State)_state[param.Handle];
            var grad = param.grad;
            if (grad is null) continue;
            if (maximize) grad = -grad;
            state.step += 1;

            var bias_correction1 = 1 - Math.Pow(beta1, state.step);
            var bias_correction2 = 1 - Math.Pow(beta2, state.step);

            if (weight_decay != 0) grad = grad.add(param, weightDecayS);

            state.exp_avg.mul_(beta1S).add_(grad, oneMinusBeta1);
            state.exp_avg_sq.mul_(beta2S).addcmul_(grad, grad.conj(), oneMinusBeta2);

            // add_(Scalar) without alpha passes an implicit integer 1: Scalars.OneInt is that value, held.
            // These change with the step count: made here and disposed at the end of the iteration, which keeps
            // them reachable until libtorch has used them.
            using var sqrtBias2 = Math.Sqrt(bias_correction2).ToScalar();
            using var negStepSize = (-(lr / bias_correction1)).ToScalar();
            Tensor denom;
            if (amsgrad)
            {
                var t0 = state.max_exp_avg_sq;
                state.max_exp_avg_sq = maximum(t0, state.exp_avg_sq).DetachFromDisposeScope();
                t0.Dispose();
                denom = state.max_exp_avg_sq.sqrt().div(sqrtBias2).add_(epsS, Scalars.OneInt);
            }
            else
            {
                denom = state.exp_avg_sq.sqrt().div(sqrtBias2).add_(epsS, Scalars.OneInt);
            }
            param.addcdiv_(state.exp_avg, denom, negStepSize);
        }
    }, closure);
}
