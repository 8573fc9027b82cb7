using TorchSharp;
using static TorchSharp.torch;
using WarmStart.Core.Native;

namespace WarmStart.Core.Models;

/// <summary>
/// PyTorch's default initialisation, drawn from an explicit seeded generator instead of torch's global one:
/// Linear and Conv weights ~ U(−1/√fan_in, 1/√fan_in) (what kaiming_uniform with a = √5 gives), their biases
/// ~ U(−1/√fan_in, 1/√fan_in); BatchNorm weight 1, bias 0, running mean 0, running variance 1.
/// The same seed gives the same network, whatever else the process has drawn. A <see cref="Network"/> whose
/// <see cref="Network.ConvInitialisation"/> is <see cref="ConvInit.KaimingNormalFanOut"/> draws its convolution
/// weights from N(0, 2/fan_out) instead.
/// </summary>
public static class DefaultInit
{
    /// <summary>Re-initialises every Linear, Conv and BatchNorm module of <paramref name="model"/> from <paramref name="seed"/>.</summary>
    public static void Apply(nn.Module model, long seed)
    {
        using var g = new Generator((ulong)seed);
        using var _ = no_grad();
        var conv = ConvOf(model);
        foreach (var (_, m) in model.named_modules())
            ApplyOne(m, g, conv);
    }

    /// <summary>Re-initialises the modules of the named groups only (head reset, partial warm start).</summary>
    public static void ApplyToGroups(Network model, IEnumerable<string> groups, long seed)
    {
        var wanted = groups.ToHashSet();
        using var g = new Generator((ulong)seed);
        using var _ = no_grad();
        var conv = ConvOf(model);
        foreach (var (name, m) in model.named_modules())
            if (name.Length > 0 && wanted.Contains(Network.GroupOf(name))) ApplyOne(m, g, conv);
    }

    static ConvInit ConvOf(nn.Module model) => model is Network n ? n.ConvInitialisation : ConvInit.PyTorchDefault;

    static void ApplyOne(nn.Module m, Generator g, ConvInit convInit)
    {
        switch (m)
        {
            case TorchSharp.Modules.Linear lin:
                Uniform(lin.weight!, lin.weight!.shape[1], g);
                if (lin.bias is not null) Uniform(lin.bias, lin.weight!.shape[1], g);
                break;
            case TorchSharp.Modules.Convolution conv:
                var w = conv.weight!;
                long fanIn = w.shape.Skip(1).Aggregate(1L, (a, b) => a * b);
                if (convInit == ConvInit.KaimingNormalFanOut)
                {
                    long fanOut = w.shape[0] * w.shape.Skip(2).Aggregate(1L, (a, b) => a * b);
                    w.normal_(0, Math.Sqrt(2.0 / fanOut), g);
                }
                else Uniform(w, fanIn, g);
                if (conv.bias is not null) Uniform(conv.bias, fanIn, g);
                break;
            case TorchSharp.Modules.BatchNorm bn:
                bn.weight?.fill_(Scalars.OneInt); bn.bias?.zero_(); // held Scalars: see Scalars
                bn.running_mean?.zero_(); bn.running_var?.fill_(Scalars.OneInt);
                bn.num_batches_tracked?.zero_();
                break;
        }
    }

    static void Uniform(Tensor t, long fanIn, Generator g)
    {
        double bound = fanIn > 0 ? 1.0 / Math.Sqrt(fanIn) : 0;
        t.uniform_(-bound, bound, g);
    }
}
