using TorchSharp;
using static TorchSharp.torch;

namespace WarmStart.Core.Models;

/// <summary>
/// The ResNet-18 of the DASH code (Shin et al., NeurIPS 2024; <c>models/ResNet.py</c>, after torchvision's): a 3×3
/// stem convolution with stride 1 (no bias) → BN → ReLU → <em>3×3 max-pool with stride 2</em>, then four stages of
/// two <see cref="BasicBlock"/>s with widths w, 2w, 4w, 8w and strides 1, 2, 2, 2, global average pooling and a
/// linear head; w = <see cref="ModelSpec.BaseWidth"/> (64 in the DASH code: 11,173,962 parameters for 3×32×32
/// inputs and 10 classes). Its initialisation differs from PyTorch's default: convolutions are kaiming-normal with
/// fan-out and the ReLU gain (std √2/√(out·k·k)); BatchNorm weight 1, bias 0; the head keeps the default.
/// Groups: <c>stem</c>, <c>layer1</c>…<c>layer4</c>, <c>head</c>, with the same parameter names as <see cref="ResNet18"/>.
/// </summary>
public sealed class ResNet18Dash : Network
{
    readonly nn.Module<Tensor, Tensor> _stem, _layer1, _layer2, _layer3, _layer4;
    readonly nn.Module<Tensor, Tensor> _head;

    /// <summary>Builds the layers for <paramref name="inChannels"/>-channel images and <paramref name="classes"/> classes.</summary>
    public ResNet18Dash(ModelSpec spec, long inChannels, int classes) : base(spec.Kind, spec)
    {
        long w = spec.BaseWidth;
        if (w < 1) throw new ArgumentException($"resnet18_dash base width {w}; allowed: ≥ 1 (64 in the DASH code)");
        if (classes < 1) throw new ArgumentException($"resnet18_dash needs ≥ 1 class, got {classes}");
        _stem = nn.Sequential(
            ("conv", nn.Conv2d(inChannels, w, 3, stride: 1, padding: 1, bias: false)),
            ("bn", nn.BatchNorm2d(w)),
            ("relu", nn.ReLU()),
            ("maxpool", nn.MaxPool2d(3, stride: 2, padding: 1)));
        _layer1 = Stage(w, w, 1);
        _layer2 = Stage(w, 2 * w, 2);
        _layer3 = Stage(2 * w, 4 * w, 2);
        _layer4 = Stage(4 * w, 8 * w, 2);
        _head = nn.Linear(8 * w, classes);
        register_module("stem", _stem);
        register_module("layer1", _layer1);
        register_module("layer2", _layer2);
        register_module("layer3", _layer3);
        register_module("layer4", _layer4);
        register_module("head", _head);
    }

    /// <inheritdoc />
    public override ConvInit ConvInitialisation => ConvInit.KaimingNormalFanOut;

    static nn.Module<Tensor, Tensor> Stage(long inChannels, long outChannels, long stride) =>
        nn.Sequential(new BasicBlock(inChannels, outChannels, stride), new BasicBlock(outChannels, outChannels, 1));

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var h = _stem.forward(input);
        h = _layer1.forward(h);
        h = _layer2.forward(h);
        h = _layer3.forward(h);
        h = _layer4.forward(h);
        h = nn.functional.adaptive_avg_pool2d(h, new long[] { 1, 1 }).flatten(1);
        return _head.forward(h).MoveToOuterDisposeScope();
    }
}
