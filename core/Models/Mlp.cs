using TorchSharp;
using WarmStart.Core.Plasticity;
using static TorchSharp.torch;

namespace WarmStart.Core.Models;

/// <summary>
/// Multi-layer perceptron over flattened images: groups "hidden1"…"hiddenK" (Linear, then the activation) and
/// "head" (Linear to the classes). With no hidden widths it is multinomial logistic regression (group "head" only).
/// With <see cref="ModelSpec.LayerNorm"/> each hidden group is a sequence of "linear" and "norm" (layer norm before
/// the activation); without it the group is the Linear itself, as it always was.
/// </summary>
public sealed class Mlp : Network, IUnitLayers
{
    readonly TorchSharp.Modules.Linear[] _linears;
    readonly TorchSharp.Modules.LayerNorm?[] _norms;
    readonly TorchSharp.Modules.Linear _head;
    readonly bool _tanh;

    /// <summary>Builds the layers with PyTorch's default initialisation (re-drawn by <see cref="DefaultInit"/>).</summary>
    public Mlp(ModelSpec spec, long inputs, int classes) : base(spec.Kind, spec)
    {
        if (spec.Activation is not ("relu" or "tanh"))
            throw new ArgumentException($"model activation '{spec.Activation}' is not supported; allowed: relu, tanh");
        _tanh = spec.Activation == "tanh";
        _linears = new TorchSharp.Modules.Linear[spec.Widths.Length];
        _norms = new TorchSharp.Modules.LayerNorm?[spec.Widths.Length];
        long prev = inputs;
        for (int i = 0; i < spec.Widths.Length; i++)
        {
            _linears[i] = nn.Linear(prev, spec.Widths[i], hasBias: spec.Bias);
            if (spec.LayerNorm)
            {
                _norms[i] = nn.LayerNorm(new long[] { spec.Widths[i] });
                register_module($"hidden{i + 1}", nn.Sequential(("linear", (nn.Module<Tensor, Tensor>)_linears[i]), ("norm", _norms[i]!)));
            }
            else register_module($"hidden{i + 1}", _linears[i]);
            prev = spec.Widths[i];
        }
        _head = nn.Linear(prev, classes, hasBias: spec.Bias);
        register_module("head", _head);
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => Run(input, null);

    /// <inheritdoc />
    public override Tensor ForwardWithFeatures(Tensor input, List<Tensor> features) => Run(input, features);

    Tensor Run(Tensor input, List<Tensor>? features)
    {
        var x = input.flatten(1);
        for (int i = 0; i < _linears.Length; i++)
        {
            var h = _linears[i].forward(x);
            if (_norms[i] is { } norm) h = norm.forward(h);
            x = _tanh ? h.tanh() : h.relu();
            features?.Add(x);
        }
        return _head.forward(x);
    }

    /// <inheritdoc />
    public IReadOnlyList<UnitLayer> UnitLayers
    {
        get
        {
            var layers = new UnitLayer[_linears.Length];
            for (int i = 0; i < _linears.Length; i++)
            {
                var next = i + 1 < _linears.Length ? _linears[i + 1] : _head;
                layers[i] = new UnitLayer($"hidden{i + 1}", _linears[i].weight!, _linears[i].bias, _norms[i]?.weight, _norms[i]?.bias,
                    next.weight!, next.bias, NextIsLinear: true);
            }
            return layers;
        }
    }
}
