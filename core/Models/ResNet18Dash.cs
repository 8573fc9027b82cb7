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
public sealed class ResNet18Dash : ResNet18
{
    /// <summary>Builds the layers for <paramref name="inChannels"/>-channel images and <paramref name="classes"/> classes.</summary>
    public ResNet18Dash(ModelSpec spec, long inChannels, int classes)
        : base(spec, inChannels, classes, maxPoolStem: true, "resnet18_dash", "64 in the DASH code") { }

    /// <inheritdoc />
    public override ConvInit ConvInitialisation => ConvInit.KaimingNormalFanOut;
}
