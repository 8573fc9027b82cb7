using TorchSharp.Modules;
using static TorchSharp.torch;

namespace WarmStart.Core.Plasticity;

/// <summary>
/// One hidden layer seen as a set of units (neurons or channels) for the step-level plasticity methods: unit i
/// owns row i of <see cref="InWeight"/> (any trailing kernel dimensions included), element i of
/// <see cref="InBias"/> and of the layer norm's <see cref="NormWeight"/>/<see cref="NormBias"/>, and the slice
/// <c>OutWeight.view(out, units, -1)[:, i, :]</c> of the next layer's weight (a column for Linear→Linear, an input
/// channel for Conv→Conv, a block of flattened positions for Conv→Linear).
/// </summary>
/// <param name="Name">The layer group ("hidden1", "conv2").</param>
/// <param name="InWeight">Incoming weights, [units, …].</param>
/// <param name="InBias">Incoming biases, [units], or null.</param>
/// <param name="NormWeight">The layer norm's γ, [units], or null.</param>
/// <param name="NormBias">The layer norm's β, [units], or null.</param>
/// <param name="OutWeight">The next layer's weight, whose dimension 1 (after viewing) indexes this layer's units.</param>
/// <param name="OutBias">The next layer's bias (for continual backprop's bias correction), or null.</param>
/// <param name="NextIsLinear">True when the next layer is a Linear (the bias correction is then exact).</param>
public sealed record UnitLayer(string Name, Parameter InWeight, Parameter? InBias, Parameter? NormWeight, Parameter? NormBias,
    Parameter OutWeight, Parameter? OutBias, bool NextIsLinear)
{
    /// <summary>Number of units.</summary>
    public long Units => InWeight.shape[0];
    /// <summary>Fan-in of one unit (inputs × kernel positions).</summary>
    public long FanIn => InWeight.numel() / InWeight.shape[0];
    /// <summary>Fan-out as PyTorch computes it for the incoming weight (units × kernel positions).</summary>
    public long FanOut => InWeight.shape[0] * (InWeight.dim() > 2 ? InWeight.shape.Skip(2).Aggregate(1L, (a, b) => a * b) : 1);
    /// <summary>The outgoing weight as [out, units, block].</summary>
    public Tensor OutView() => OutWeight.view(OutWeight.shape[0], Units, -1);
}

/// <summary>A network whose hidden layers the plasticity methods can address unit by unit (MLP, small CNN).</summary>
public interface IUnitLayers
{
    /// <summary>The hidden layers in forward order, matching the order of <c>ForwardWithFeatures</c>'s features.</summary>
    IReadOnlyList<UnitLayer> UnitLayers { get; }
}
