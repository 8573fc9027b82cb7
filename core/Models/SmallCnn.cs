using TorchSharp;
using WarmStart.Core.Plasticity;
using static TorchSharp.torch;

namespace WarmStart.Core.Models;

/// <summary>
/// A small CNN for quick CPU studies: two blocks of conv3×3 (padding 1, with bias) → ReLU → 2×2 max-pool, then a
/// linear head over the flattened feature maps. Channel counts come from <see cref="ModelSpec.Widths"/> (two
/// entries; default 32 and 64). Groups: <c>conv1</c>, <c>conv2</c>, <c>head</c>. For 1×28×28 inputs and 10
/// classes with the default widths: 50,186 parameters.
/// </summary>
public sealed class SmallCnn : Network, IUnitLayers
{
    /// <summary>The channel counts used when the spec gives none.</summary>
    public static readonly int[] DefaultWidths = { 32, 64 };

    readonly TorchSharp.Modules.Convolution _conv1, _conv2;
    readonly TorchSharp.Modules.Linear _head;

    /// <summary>Builds the layers for inputs of <paramref name="shape"/> and <paramref name="classes"/> classes.</summary>
    public SmallCnn(ModelSpec spec, (long C, long H, long W) shape, int classes) : base(spec.Kind, spec)
    {
        var widths = spec.Widths.Length == 0 ? DefaultWidths : spec.Widths;
        if (widths.Length != 2 || widths.Any(w => w < 1))
            throw new ArgumentException($"small_cnn widths [{string.Join(", ", widths)}]; allowed: two channel counts ≥ 1, e.g. [32; 64]");
        long h = shape.H / 2 / 2, w = shape.W / 2 / 2;
        if (h < 1 || w < 1) throw new ArgumentException($"small_cnn needs inputs of at least 4×4, got {shape.H}×{shape.W}");
        _conv1 = nn.Conv2d(shape.C, widths[0], 3, padding: 1);
        _conv2 = nn.Conv2d(widths[0], widths[1], 3, padding: 1);
        _head = nn.Linear(widths[1] * h * w, classes);
        register_module("conv1", _conv1);
        register_module("conv2", _conv2);
        register_module("head", _head);
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var h = nn.functional.max_pool2d(_conv1.forward(input).relu_(), 2);
        h = nn.functional.max_pool2d(_conv2.forward(h).relu_(), 2);
        return _head.forward(h.flatten(1)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    /// <remarks>The features are each convolution's ReLU output before pooling, [batch, channels, height, width].</remarks>
    public override Tensor ForwardWithFeatures(Tensor input, List<Tensor> features)
    {
        var a1 = _conv1.forward(input).relu();
        features.Add(a1);
        var a2 = _conv2.forward(nn.functional.max_pool2d(a1, 2)).relu();
        features.Add(a2);
        return _head.forward(nn.functional.max_pool2d(a2, 2).flatten(1));
    }

    /// <inheritdoc />
    public IReadOnlyList<UnitLayer> UnitLayers => new[]
    {
        new UnitLayer("conv1", _conv1.weight!, _conv1.bias, null, null, _conv2.weight!, _conv2.bias, NextIsLinear: false),
        new UnitLayer("conv2", _conv2.weight!, _conv2.bias, null, null, _head.weight!, _head.bias, NextIsLinear: true),
    };
}
