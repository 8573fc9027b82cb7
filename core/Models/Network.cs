using TorchSharp;
using static TorchSharp.torch;

namespace WarmStart.Core.Models;

/// <summary>How convolution weights are initialised.</summary>
public enum ConvInit
{
    /// <summary>PyTorch's default: U(−1/√fan_in, 1/√fan_in) (kaiming-uniform with a = √5).</summary>
    PyTorchDefault,
    /// <summary>kaiming_normal_(mode='fan_out', nonlinearity='relu'): N(0, 2/fan_out), fan_out = out·k·k (torchvision's ResNet, the DASH code).</summary>
    KaimingNormalFanOut,
}

/// <summary>
/// Base of every model in the zoo. A model's top-level children are its <em>layer groups</em> ("hidden1",
/// "hidden2", "head"; "stem", "layer1"…"layer4", "head"), so a parameter's group is the first segment of its
/// name. Policies such as partial warm start and head reset, and per-group diagnostics, address groups by name.
/// </summary>
public abstract class Network : nn.Module<Tensor, Tensor>
{
    /// <summary>The specification this network was built from.</summary>
    public ModelSpec Spec { get; }

    /// <summary>Creates the module; subclasses register their groups as named children.</summary>
    protected Network(string name, ModelSpec spec) : base(name) => Spec = spec;

    /// <summary>The layer groups, in forward order.</summary>
    public IReadOnlyList<string> Groups => named_children().Select(c => c.name).ToArray();

    /// <summary>The group a parameter or buffer belongs to ("layer1.0.conv1.weight" → "layer1").</summary>
    public static string GroupOf(string parameterName)
    {
        int dot = parameterName.IndexOf('.');
        return dot < 0 ? parameterName : parameterName.Substring(0, dot);
    }

    /// <summary>The group holding the classifier (replaced when class counts differ, reset by head_reset).</summary>
    public virtual string HeadGroup => "head";

    /// <summary>The forward pass that also appends each hidden layer's activations (after the nonlinearity, in
    /// forward order) to <paramref name="features"/>: what continual backprop's utility and dormant-unit metrics
    /// read. Models that do not expose features throw <see cref="NotSupportedException"/>.</summary>
    public virtual Tensor ForwardWithFeatures(Tensor input, List<Tensor> features) =>
        throw new NotSupportedException($"model '{Spec.Kind}' does not expose its hidden features");

    /// <summary>How <see cref="DefaultInit"/> draws this network's convolution weights (PyTorch's default unless a
    /// model reproduces code that re-initialises them).</summary>
    public virtual ConvInit ConvInitialisation => ConvInit.PyTorchDefault;

    /// <summary>Total number of learnable scalars.</summary>
    public long ParameterCount => parameters().Sum(p => p.numel());
}
