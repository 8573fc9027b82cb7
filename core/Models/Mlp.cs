using TorchSharp;
using static TorchSharp.torch;

namespace WarmStart.Core.Models;

/// <summary>
/// Multi-layer perceptron over flattened images: groups "hidden1"…"hiddenK" (Linear, then the activation) and
/// "head" (Linear to the classes). With no hidden widths it is multinomial logistic regression (group "head" only).
/// </summary>
public sealed class Mlp : Network
{
    readonly nn.Module<Tensor, Tensor>[] _hidden;
    readonly nn.Module<Tensor, Tensor> _head;
    readonly bool _tanh;

    /// <summary>Builds the layers with PyTorch's default initialisation (re-drawn by <see cref="DefaultInit"/>).</summary>
    public Mlp(ModelSpec spec, long inputs, int classes) : base(spec.Kind, spec)
    {
        if (spec.Activation is not ("relu" or "tanh"))
            throw new ArgumentException($"model activation '{spec.Activation}' is not supported; allowed: relu, tanh");
        _tanh = spec.Activation == "tanh";
        _hidden = new nn.Module<Tensor, Tensor>[spec.Widths.Length];
        long prev = inputs;
        for (int i = 0; i < spec.Widths.Length; i++)
        {
            _hidden[i] = nn.Linear(prev, spec.Widths[i], hasBias: spec.Bias);
            register_module($"hidden{i + 1}", _hidden[i]);
            prev = spec.Widths[i];
        }
        _head = nn.Linear(prev, classes, hasBias: spec.Bias);
        register_module("head", _head);
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        var x = input.flatten(1);
        foreach (var layer in _hidden)
        {
            var h = layer.forward(x);
            x = _tanh ? h.tanh() : h.relu();
        }
        return _head.forward(x);
    }
}
