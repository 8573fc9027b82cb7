using TorchSharp;
using WarmStart.Core.Native;
using static TorchSharp.torch;

namespace WarmStart.Core.Training.ScalarSafe;

/// <summary>
/// TorchSharp 0.107's SGD with a step that keeps every <see cref="Scalar"/> alive through its native call (see
/// <see cref="Scalars"/>: TorchSharp's own step passes the weight decay, momentum, <c>1 - dampening</c> and
/// <c>-lr</c> as implicit Scalars, which a garbage collection on another thread can free mid-call). The step does
/// the same tensor operations in the same order as TorchSharp's <c>SGD.step</c> (src/TorchSharp/Optimizers/SGD.cs at
/// v0.107.0), so parameters come out bit for bit the same; only <see cref="step"/> is overridden, so state,
/// <c>state_dict</c> and <c>OptimizerCarry</c> see an ordinary <see cref="TorchSharp.Modules.SGD"/>.
/// The class keeps TorchSharp's name, <c>SGD</c>, on purpose: TorchSharp writes the optimiser's type name into a
/// saved state and refuses to load a state under another name, so states saved by either class load into the other.
/// </summary>
public sealed class SGD : TorchSharp.Modules.SGD
{
    /// <summary>SGD over <paramref name="parameters"/>, with TorchSharp's arguments and defaults.</summary>
    public SGD(IEnumerable<TorchSharp.Modules.Parameter> parameters, double lr, double momentum = 0, double dampening = 0,
        double weight_decay = 0, bool nesterov = false, bool maximize = false)
        : base(parameters, lr, momentum, dampening, weight_decay, nesterov, maximize) { }

    /// <summary>One SGD update of every parameter with a gradient (TorchSharp's algorithm, Scalars held).</summary>
    public override Tensor step(Func<Tensor>? closure = null) => _step<TorchSharp.Modules.SGD.ParamGroup>(group =>
    {
        var options = group.Options;
        var momentum = options.momentum!.Value;
        var dampening = options.dampening!.Value;
        var weight_decay = options.weight_decay!.Value;
        var nesterov = options.nesterov!.Value;
        var maximize = options.maximize!.Value;
        var lr = options.LearningRate!.Value;
        // All of these are per-group hyper-parameters: cached for the process, the same doubles TorchSharp computes.
        var weightDecayS = Scalars.Of(weight_decay);
        var momentumS = Scalars.Of(momentum);
        var oneMinusDampening = Scalars.Of(1 - dampening);
        var alpha = Scalars.Of(maximize ? lr : -lr);

        foreach (var param in group.Parameters)
        {
            var state = (TorchSharp.Modules.SGD.State)_state[param.Handle];
            var grad = param.grad;
            if (grad is null) continue;

            if (weight_decay != 0) grad = grad.add(param, weightDecayS);

            if (momentum != 0)
            {
                var buf = state.momentum_buffer;
                if (buf is null)
                {
                    buf = grad.clone().detach().DetachFromDisposeScope();
                    state.momentum_buffer = buf;
                }
                else
                {
                    buf.mul_(momentumS).add_(grad, oneMinusDampening);
                }
                grad = nesterov ? grad.add(buf, momentumS) : buf;
                state.momentum_buffer = buf;
            }

            param.add_(grad, alpha);
        }
    }, closure);
}
