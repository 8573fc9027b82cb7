using WarmStart.Core.Models;
using static TorchSharp.torch;
using WarmStart.Core.Native;

namespace WarmStart.Core.Training.Stacked;

/// <summary>
/// S networks of one architecture computed as one: every parameter is stacked along a leading member axis
/// (<see cref="StackedParameter"/>), inputs are [S, B, C, H, W] and outputs [S, B, classes]. Each member's
/// forward pass reads only its own rows, so gradients stay per member; the stacked ops (batched matmul,
/// per-member convolution) are ordinary torch ops that run on any device.
/// </summary>
public abstract class StackedNetwork : IDisposable
{
    readonly List<StackedParameter> _parameters;

    /// <summary>Stacks the same-named parameters of <paramref name="members"/> (all of one spec) on <paramref name="device"/>.</summary>
    protected StackedNetwork(IReadOnlyList<Network> members, Device device)
    {
        if (members.Count == 0) throw new ArgumentException("a stack needs at least one member");
        var spec = members[0].Spec;
        for (int s = 1; s < members.Count; s++)
            if (!members[s].Spec.Equals(spec))
                throw new ArgumentException($"stack member {s} is a {members[s].Spec}, member 0 a {spec}: a stack holds one architecture");
        Spec = spec;
        var named = members.Select(m => m.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter)).ToArray();
        _parameters = new List<StackedParameter>();
        long offset = 0;
        foreach (var (name, p) in members[0].named_parameters())
        {
            var sp = new StackedParameter(name, p.shape, offset, transposed: IsLinearWeight(name, p));
            _parameters.Add(sp);
            offset += sp.Padded;
        }
        Width = offset;
        Flat = zeros(members.Count * Width, dtype: members[0].parameters().First().dtype, device: device);
        for (int s = 0; s < members.Count; s++)
            foreach (var sp in _parameters) sp.Fill(Flat, members.Count, s, named[s][sp.Name]);
        foreach (var sp in _parameters) sp.Bind(Flat, members.Count);
        Members = members.Count;
    }

    /// <summary>Every parameter of every member in one buffer of S·<see cref="Width"/> elements: each parameter's
    /// [S, Padded] block after the previous one's; the parameters' leaves are views of it.</summary>
    public Tensor Flat { get; private set; }

    /// <summary>A member's padded parameter count (<see cref="Flat"/> holds S times as many).</summary>
    public long Width { get; }

    /// <summary>The parameters' leaves, in order (what gradients are taken with respect to).</summary>
    public Tensor[] Leaves => _parameters.Select(p => p.Data).ToArray();

    /// <summary>Linear layers' weights ([out, in]) are stored transposed; convolution weights and biases as they are.</summary>
    static bool IsLinearWeight(string name, Tensor p) => p.dim() == 2 && name.EndsWith(".weight");

    /// <summary>The members' common specification.</summary>
    public ModelSpec Spec { get; }
    /// <summary>Number of members currently stacked.</summary>
    public long Members { get; private set; }
    /// <summary>The stacked parameters, in the single network's parameter order.</summary>
    public IReadOnlyList<StackedParameter> Parameters => _parameters;

    /// <summary>The stacked parameter for the single network's parameter <paramref name="name"/>, or null.</summary>
    protected StackedParameter? Find(string name) => _parameters.FirstOrDefault(p => p.Name == name);

    /// <summary>Logits [S, B, classes] for inputs [S, B, C, H, W].</summary>
    public abstract Tensor Forward(Tensor input);

    /// <summary>Copies member <paramref name="s"/>'s current parameters into <paramref name="target"/> (a network of
    /// the same spec), in place, by name.</summary>
    public void CopyMemberInto(long s, Network target)
    {
        using var _ = no_grad();
        var byName = _parameters.ToDictionary(p => p.Name);
        foreach (var (name, p) in target.named_parameters())
        {
            using var v = byName[name].Member(s);
            p.copy_(v);
        }
    }

    /// <summary>A new buffer of <see cref="Flat"/>'s layout holding, in row s, the tensors of <paramref name="rows"/>[s]
    /// (parameter name → tensor of the member's shape); a null row stays zero.</summary>
    public Tensor FlatOf(IReadOnlyList<IReadOnlyDictionary<string, Tensor>?> rows)
    {
        if (rows.Count != Members) throw new ArgumentException($"{rows.Count} rows for a stack of {Members}");
        using var _ = no_grad();
        var flat = zeros_like(Flat);
        for (int s = 0; s < rows.Count; s++)
        {
            if (rows[s] is not { } named) continue;
            foreach (var sp in _parameters)
            {
                if (!named.TryGetValue(sp.Name, out var t))
                    throw new ArgumentException($"row {s} has no parameter '{sp.Name}'");
                sp.Fill(flat, Members, s, t.to(flat.device));
            }
        }
        return flat;
    }

    /// <summary>Keeps only the members at positions <paramref name="keep"/> (int64 on the parameters' device).</summary>
    public void Keep(Tensor keep)
    {
        using var _ = no_grad();
        var next = KeepRows(Flat, keep);
        Members = keep.shape[0];
        foreach (var p in _parameters) p.Bind(next, Members);
        Flat.Dispose();
        Flat = next;
    }

    /// <summary>A new flat buffer of <paramref name="flat"/>'s layout holding only the members at positions
    /// <paramref name="keep"/> (for the parameters and for optimiser state of the same layout).</summary>
    public Tensor KeepRows(Tensor flat, Tensor keep)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var blocks = _parameters.Select(p => p.BlockOf(flat, Members).index_select(0, keep).reshape(-1)).ToArray();
        return cat(blocks, 0).MoveToOuterDisposeScope();
    }

    /// <summary>True when <paramref name="spec"/> can be stacked; otherwise <paramref name="reason"/> says why
    /// (the caller trains such members one by one with the single trainer).</summary>
    public static bool Supports(ModelSpec spec, out string reason)
    {
        switch (spec.Kind)
        {
            case "mlp" or "logistic_regression" when spec.Activation is "relu" or "tanh":
            case "small_cnn":
                reason = "";
                return true;
            case "resnet18":
                reason = "resnet18 is not stacked (BatchNorm and shortcuts have no stacked form yet): trained one by one";
                return false;
            default:
                reason = $"model '{spec.Kind}' has no stacked form: trained one by one";
                return false;
        }
    }

    /// <summary>Stacks <paramref name="members"/>; throws <see cref="NotSupportedException"/> for architectures
    /// <see cref="Supports"/> rejects.</summary>
    public static StackedNetwork Create(IReadOnlyList<Network> members, Device device)
    {
        if (members.Count == 0) throw new ArgumentException("a stack needs at least one member");
        var spec = members[0].Spec;
        if (!Supports(spec, out var reason)) throw new NotSupportedException(reason);
        return spec.Kind == "small_cnn" ? new StackedSmallCnn(members, device) : new StackedMlp(members, device);
    }

    /// <summary>A stacked linear layer: per member <c>x W^T + b</c>, the same product <c>nn.Linear</c> computes.</summary>
    protected static Tensor Linear(Tensor x, StackedParameter weight, StackedParameter? bias)
    {
        var wt = weight.Transposed ? weight.View() : weight.View().transpose(1, 2);
        // bmm then add, not baddbmm: baddbmm's backward measured 20-30 % slower on the CPU (it reduces the bias
        // gradient through an expanded copy).
        var y = x.bmm(wt);
        return bias is null ? y : y.add_(bias.View().unsqueeze(1), Scalars.OneInt); // a held alpha: see Scalars
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var p in _parameters) p.Dispose();
        Flat.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>Stacked <see cref="Mlp"/> (and logistic regression): batched matmuls over [S, B, features].</summary>
public sealed class StackedMlp : StackedNetwork
{
    readonly (StackedParameter W, StackedParameter? B)[] _layers;
    readonly bool _tanh;

    /// <summary>Stacks MLP members.</summary>
    public StackedMlp(IReadOnlyList<Network> members, Device device) : base(members, device)
    {
        _tanh = Spec.Activation == "tanh";
        var names = Enumerable.Range(1, Spec.Kind == "mlp" ? Spec.Widths.Length : 0).Select(i => $"hidden{i}").Append("head");
        _layers = names.Select(n => (Find(n + ".weight") ?? throw new ArgumentException($"stacked mlp: no parameter {n}.weight"),
            Find(n + ".bias"))).ToArray();
    }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        var x = input.flatten(2);
        for (int i = 0; i < _layers.Length - 1; i++)
        {
            var h = Linear(x, _layers[i].W, _layers[i].B);
            x = _tanh ? h.tanh() : h.relu();
        }
        return Linear(x, _layers[^1].W, _layers[^1].B);
    }
}

/// <summary>Stacked <see cref="SmallCnn"/>: each member's convolutions run as the single network's do, one ordinary
/// convolution per member on its own [B, C, H, W] slice (a grouped convolution over [B, S·C, H, W] measured 3–10×
/// slower than the same work as ordinary convolutions in oneDNN, and it rounds differently with one group than with
/// several); the head is a batched matmul, and the optimiser step is the stack's one fused update.</summary>
public sealed class StackedSmallCnn : StackedNetwork
{
    readonly StackedParameter _w1, _b1, _w2, _b2, _hw, _hb;

    /// <summary>Stacks small-CNN members.</summary>
    public StackedSmallCnn(IReadOnlyList<Network> members, Device device) : base(members, device)
    {
        StackedParameter Need(string n) => Find(n) ?? throw new ArgumentException($"stacked small_cnn: no parameter {n}");
        _w1 = Need("conv1.weight"); _b1 = Need("conv1.bias");
        _w2 = Need("conv2.weight"); _b2 = Need("conv2.bias");
        _hw = Need("head.weight"); _hb = Need("head.bias");
    }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        long s = input.shape[0];
        Tensor w1 = _w1.View(), b1 = _b1.View(), w2 = _w2.View(), b2 = _b2.View();
        var pad = new long[] { 1, 1 };
        var features = new Tensor[s];
        for (long m = 0; m < s; m++)
        {
            // Member m's rows: its own batch and its own weights, as the single network computes them.
            var h = nn.functional.max_pool2d(nn.functional.conv2d(input[m], w1[m], b1[m], padding: pad).relu_(), 2);
            h = nn.functional.max_pool2d(nn.functional.conv2d(h, w2[m], b2[m], padding: pad).relu_(), 2);
            features[m] = h.flatten(1);
        }
        // [S, B, C2·h·w]: the same flatten order as the single network's flatten(1).
        var f = stack(features, 0);
        return Linear(f, _hw, _hb);
    }
}
