using TorchSharp;
using static TorchSharp.torch;

namespace WarmStart.Core.Models;

/// <summary>
/// A detached copy of a network's learnable parameters by name (θ₀ for L2-init, θ* for EWC, the stage start for
/// correlations). The tensors are owned by the set: dispose it when done.
/// </summary>
public sealed class ParameterSet : IDisposable
{
    readonly Dictionary<string, Tensor> _tensors;

    /// <summary>Takes ownership of <paramref name="tensors"/> (name → tensor).</summary>
    public ParameterSet(IDictionary<string, Tensor> tensors) => _tensors = new Dictionary<string, Tensor>(tensors);

    /// <summary>Copies (detached clones) of every learnable parameter of <paramref name="model"/>, on
    /// <paramref name="device"/> (the model's own device when null).</summary>
    public static ParameterSet Of(nn.Module model, Device? device = null)
    {
        using var _ = no_grad();
        var d = new Dictionary<string, Tensor>();
        foreach (var (name, p) in model.named_parameters())
        {
            var c = p.detach().clone();
            d[name] = device is null ? c : c.to(device);
        }
        return new ParameterSet(d);
    }

    /// <summary>The parameter names, in the order they were added.</summary>
    public IReadOnlyCollection<string> Names => _tensors.Keys;
    /// <summary>The tensor for <paramref name="name"/>.</summary>
    public Tensor this[string name] => _tensors[name];
    /// <summary>Looks a tensor up by name.</summary>
    public bool TryGet(string name, out Tensor tensor) => _tensors.TryGetValue(name, out tensor!);
    /// <summary>Name → tensor.</summary>
    public IReadOnlyDictionary<string, Tensor> Tensors => _tensors;

    /// <summary>Copies these values into the same-named parameters of <paramref name="model"/> (in place, no grad).</summary>
    public void CopyInto(nn.Module model)
    {
        using var _ = no_grad();
        foreach (var (name, p) in model.named_parameters())
            if (_tensors.TryGetValue(name, out var t)) p.copy_(t);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in _tensors.Values) t.Dispose();
        _tensors.Clear();
    }
}
