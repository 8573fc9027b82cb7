using WarmStart.Core.Models;
using static TorchSharp.torch;
using WarmStart.Core.Native;

namespace WarmStart.Core.Policies;

/// <summary>Copies of networks, shared by the policies.</summary>
public static class NetworkCopy
{
    /// <summary>A fresh network of the parent's architecture holding a copy of the parent's parameters and buffers.</summary>
    public static Network Clone(StageContext ctx)
    {
        var parent = ctx.Parent ?? throw new InvalidOperationException("this policy needs a parent stage to start from");
        var copy = ctx.Fresh(ctx.Seed);
        CopyInto(parent, copy);
        return copy;
    }

    /// <summary>Copies every parameter and buffer of <paramref name="from"/> into <paramref name="to"/>. Entries whose
    /// shape differs (a classifier head for another number of classes, in transfer) keep <paramref name="to"/>'s values.</summary>
    public static void CopyInto(Network from, Network to, Func<string, bool>? include = null)
    {
        using var _ = no_grad();
        var src = from.state_dict();
        foreach (var (name, t) in to.state_dict())
            if ((include == null || include(name)) && src.TryGetValue(name, out var s) && s.shape.SequenceEqual(t.shape)) t.copy_(s);
    }

    /// <summary>True when <paramref name="parent"/> has a parameter of that name and shape.</summary>
    public static bool Matches(IReadOnlyDictionary<string, TorchSharp.Modules.Parameter> parent, string name, Tensor p) =>
        parent.TryGetValue(name, out var q) && q.shape.SequenceEqual(p.shape);
}

/// <summary>A new draw from the default initialiser (seeded): the paper's "random init" / cold start.</summary>
public sealed class FreshPolicy : IInitPolicy
{
    /// <inheritdoc />
    public string Name => "fresh";
    /// <inheritdoc />
    public Network Apply(StageContext ctx) => ctx.Fresh(ctx.Seed);
}

/// <summary>Start from the parent's weights unchanged: the paper's warm start.</summary>
public sealed class WarmPolicy : IInitPolicy
{
    /// <inheritdoc />
    public string Name => "warm";
    /// <inheritdoc />
    public Network Apply(StageContext ctx) => NetworkCopy.Clone(ctx);
}

/// <summary>Where shrink-perturb's noise comes from.</summary>
public enum NoiseMode
{
    /// <summary>θ ← λθ + ε, ε ~ N(0, σ²) per parameter (the paper's definition).</summary>
    Gaussian,
    /// <summary>θ ← λθ + σ·θ_fresh, θ_fresh a new draw of the architecture's init (the authors' code).</summary>
    FreshInit,
}

/// <summary>
/// Shrink and perturb (Ash &amp; Adams 2020, §4): every learnable parameter θ ← λ·θ + noise, where the noise is
/// Gaussian N(0, σ²) or σ × a fresh initialisation. λ = 1, σ = 0 is a warm start; λ = 0 with fresh-init noise
/// and σ = 1 is a fresh start. BatchNorm running statistics: in Gaussian mode they are <em>kept</em> from the
/// parent (they describe the data, and the paper's definition touches parameters only); in fresh-init mode they
/// are those of the fresh network (mean 0, variance 1), as in the authors' code, which returns the fresh network
/// with its parameters overwritten. Parameters with no same-shaped counterpart in the parent (a head for another
/// number of classes) keep their fresh initialisation.
/// </summary>
public sealed class ShrinkPerturbPolicy : IInitPolicy
{
    /// <summary>Shrink factor λ in [0, 1].</summary>
    public double Lambda { get; }
    /// <summary>Noise scale σ ≥ 0.</summary>
    public double Sigma { get; }
    /// <summary>Noise source.</summary>
    public NoiseMode Mode { get; }

    /// <summary>Creates the policy; λ outside [0, 1] or σ &lt; 0 is refused.</summary>
    public ShrinkPerturbPolicy(double lambda, double sigma, NoiseMode mode = NoiseMode.Gaussian)
    {
        if (!(lambda >= 0 && lambda <= 1)) throw new ArgumentOutOfRangeException(nameof(lambda), $"shrink λ = {lambda}; allowed: 0 ≤ λ ≤ 1");
        if (!(sigma >= 0) || double.IsInfinity(sigma)) throw new ArgumentOutOfRangeException(nameof(sigma), $"perturb σ = {sigma}; allowed: σ ≥ 0");
        Lambda = lambda; Sigma = sigma; Mode = mode;
    }

    /// <inheritdoc />
    public string Name => $"shrink_perturb(λ={Lambda}, σ={Sigma}, {Mode})";

    /// <inheritdoc />
    public Network Apply(StageContext ctx) => Apply(ctx, null);

    /// <summary>
    /// Like <see cref="Apply(StageContext)"/>, but in <see cref="NoiseMode.Gaussian"/> mode with the standard-normal
    /// draws z given per parameter name (ε = σ·z) instead of drawn from the stage's seed: the seam conformance
    /// fixtures use, since TorchSharp's and PyTorch's generators differ. Null draws from the seed as usual. Every
    /// parameter that is shrunk needs a draw of its shape. (Fresh-init noise is injected through
    /// <see cref="StageContext.Fresh"/>.)
    /// </summary>
    public Network Apply(StageContext ctx, IReadOnlyDictionary<string, Tensor>? standardNormal)
    {
        var parent = ctx.Parent ?? throw new InvalidOperationException("shrink_perturb needs a parent stage");
        // The fresh draw's seed is derived apart from the noise seed so the two never coincide.
        var result = ctx.Fresh(Runs.Seeds.Derive(ctx.Seed, "fresh-noise"));
        using var _ = no_grad();
        var parentParams = parent.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        if (Mode == NoiseMode.Gaussian)
        {
            // Keep the parent's buffers (BN running statistics), then rewrite the parameters.
            NetworkCopy.CopyInto(parent, result);
            using var g = new Generator((ulong)Runs.Seeds.Derive(ctx.Seed, "gaussian-noise"));
            foreach (var (name, p) in result.named_parameters())
            {
                if (!NetworkCopy.Matches(parentParams, name, p)) continue; // a re-initialised head stays fresh
                // Held Scalars throughout (see Scalars): TorchSharp would free implicit ones mid-call.
                p.copy_(parentParams[name]).mul_(Scalars.Of(Lambda));
                if (standardNormal != null)
                {
                    if (!standardNormal.TryGetValue(name, out var z) || !z.shape.SequenceEqual(p.shape))
                        throw new ArgumentException($"shrink_perturb: no standard-normal draw of shape [{string.Join(", ", p.shape)}] for '{name}'");
                    p.add_(z.OnSameDevice(p) ? z : z.to(p.device), Scalars.Of(Sigma));
                }
                else if (Sigma > 0)
                {
                    using var eps = empty_like(p).normal_(0, Sigma, g);
                    p.add_(eps, Scalars.OneInt);
                }
            }
        }
        else
        {
            // θ ← λθ + σ·θ_fresh, written into the fresh network (whose buffers stay fresh).
            foreach (var (name, p) in result.named_parameters())
                if (NetworkCopy.Matches(parentParams, name, p)) p.mul_(Scalars.Of(Sigma)).add_(parentParams[name], Scalars.Of(Lambda));
        }
        return result;
    }
}
