using TorchSharp;
using static TorchSharp.torch;
using WarmStart.Core.Native;

namespace WarmStart.Core.Models;

/// <summary>
/// The BasicBlock of a CIFAR-style ResNet: conv3×3 (stride) → BN → ReLU → conv3×3 → BN, plus the shortcut,
/// then ReLU. The shortcut is the identity, or a 1×1 convolution (no bias) followed by BN when the stride or
/// the width changes. Convolutions have no bias. Parameter names follow the usual PyTorch code
/// (<c>conv1</c>, <c>bn1</c>, <c>conv2</c>, <c>bn2</c>, <c>shortcut.0</c>, <c>shortcut.1</c>).
/// </summary>
public sealed class BasicBlock : nn.Module<Tensor, Tensor>
{
    readonly nn.Module<Tensor, Tensor> _conv1, _bn1, _conv2, _bn2;
    readonly nn.Module<Tensor, Tensor>? _shortcut;

    /// <summary>A block from <paramref name="inChannels"/> to <paramref name="outChannels"/> with the first convolution's <paramref name="stride"/>.</summary>
    public BasicBlock(long inChannels, long outChannels, long stride) : base("BasicBlock")
    {
        _conv1 = nn.Conv2d(inChannels, outChannels, 3, stride: stride, padding: 1, bias: false);
        _bn1 = new HeldBatchNorm2d(outChannels);
        _conv2 = nn.Conv2d(outChannels, outChannels, 3, stride: 1, padding: 1, bias: false);
        _bn2 = new HeldBatchNorm2d(outChannels);
        register_module("conv1", _conv1);
        register_module("bn1", _bn1);
        register_module("conv2", _conv2);
        register_module("bn2", _bn2);
        if (stride != 1 || inChannels != outChannels)
        {
            _shortcut = nn.Sequential(
                nn.Conv2d(inChannels, outChannels, 1, stride: stride, bias: false),
                new HeldBatchNorm2d(outChannels));
            register_module("shortcut", _shortcut);
        }
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var h = _bn1.forward(_conv1.forward(input)).relu_();
        h = _bn2.forward(_conv2.forward(h));
        // add_ of a tensor passes an implicit alpha of 1: the held one (see Scalars).
        h = h.add_(_shortcut is null ? input : _shortcut.forward(input), Scalars.OneInt).relu_();
        return h.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// CIFAR-style ResNet-18 (He et al. 2016, as in the authors' <c>resnet.py</c> and the usual kuangliu code):
/// a 3×3 stem convolution with stride 1 (no bias) → BN → ReLU, <em>no</em> max-pool; four stages of two
/// <see cref="BasicBlock"/>s with widths w, 2w, 4w, 8w and strides 1, 2, 2, 2; global average pooling; a linear
/// head. w = <see cref="ModelSpec.BaseWidth"/>: 16 in the authors' code (701,466 parameters for 3×32×32 inputs and
/// 10 classes), 64 as usual (11,173,962). Works for any input size ≥ 8×8 and any channel count (1-channel
/// 28×28 Fashion-MNIST included). Groups: <c>stem</c>, <c>layer1</c>…<c>layer4</c>, <c>head</c>.
/// <see cref="ResNet18Dash"/> is the same builder with a max-pool in the stem and another convolution init.
/// </summary>
public class ResNet18 : Network
{
    readonly nn.Module<Tensor, Tensor> _stem, _layer1, _layer2, _layer3, _layer4;
    readonly nn.Module<Tensor, Tensor> _head;

    /// <summary>Builds the layers for <paramref name="inChannels"/>-channel images and <paramref name="classes"/> classes.</summary>
    public ResNet18(ModelSpec spec, long inChannels, int classes)
        : this(spec, inChannels, classes, maxPoolStem: false, "resnet18", "16 in the authors' code, 64 as usual") { }

    /// <summary>The shared builder: <paramref name="maxPoolStem"/> adds a 3×3 max-pool with stride 2 after the stem's
    /// ReLU (torchvision's and the DASH code's stem); <paramref name="word"/> and <paramref name="widthHint"/> name
    /// the model in errors.</summary>
    protected ResNet18(ModelSpec spec, long inChannels, int classes, bool maxPoolStem, string word, string widthHint)
        : base(spec.Kind, spec)
    {
        long w = spec.BaseWidth;
        if (w < 1) throw new ArgumentException($"{word} base width {w}; allowed: ≥ 1 ({widthHint})");
        if (classes < 1) throw new ArgumentException($"{word} needs ≥ 1 class, got {classes}");
        var stem = new List<(string, nn.Module<Tensor, Tensor>)>
        {
            ("conv", nn.Conv2d(inChannels, w, 3, stride: 1, padding: 1, bias: false)),
            ("bn", new HeldBatchNorm2d(w)),
            ("relu", nn.ReLU()),
        };
        if (maxPoolStem) stem.Add(("maxpool", nn.MaxPool2d(3, stride: 2, padding: 1)));
        _stem = nn.Sequential(stem.ToArray());
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
