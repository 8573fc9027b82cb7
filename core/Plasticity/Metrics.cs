using WarmStart.Core.Models;
using static TorchSharp.torch;
using WarmStart.Core.Native;

namespace WarmStart.Core.Plasticity;

/// <summary>
/// The plasticity metrics, each with the definition (and name) of its source, so numbers from different papers
/// are not confused: dormant fractions (ReDo τ-score and exactly-zero), ranks of a feature matrix (effective rank,
/// srank_δ, and the textbook stable rank), weight magnitude, distance from initialisation and gradient norm.
/// </summary>
public static class Metrics
{
    /// <summary>Fraction of each layer's units whose ReDo score (mean|h_i| over the probe, divided by the layer's
    /// mean of those means + 1e-9) is ≤ <paramref name="tau"/> (Sokar et al.; a per-layer fraction, not pooled).</summary>
    public static double[] DormantFraction(IReadOnlyList<Tensor> features, double tau)
    {
        var result = new double[features.Count];
        for (int l = 0; l < features.Count; l++)
        {
            using var scope = NewDisposeScope();
            var s = ReDo.Scores(features[l]);
            result[l] = s.le(Scalars.Of(tau)).to_type(ScalarType.Float64).mean().item<double>(); // a held Scalar: see Scalars
        }
        return result;
    }

    /// <summary>Fraction of each layer's units that output exactly 0 on every probe example and position (a dead
    /// ReLU unit: Σ_b|h_i| = 0, as loss-of-plasticity's permuted-MNIST count).</summary>
    public static double[] DeadFraction(IReadOnlyList<Tensor> features)
    {
        var result = new double[features.Count];
        for (int l = 0; l < features.Count; l++)
        {
            using var scope = NewDisposeScope();
            var m = UnitReset.UnitMean(features[l].detach().abs().to_type(ScalarType.Float64));
            result[l] = m.eq(Scalars.ZeroInt).to_type(ScalarType.Float64).mean().item<double>(); // a held Scalar: see Scalars
        }
        return result;
    }

    /// <summary>Singular values of a feature matrix ([batch, features…], flattened to 2-D), in float64, descending.</summary>
    public static double[] SingularValues(Tensor matrix)
    {
        using var scope = NewDisposeScope();
        var m = matrix.detach().flatten(1).to(CPU).to_type(ScalarType.Float64);
        return linalg.svdvals(m).data<double>().ToArray();
    }

    /// <summary>Effective rank (Roy &amp; Vetterli 2007): exp(−Σ p_k ln p_k) with p_k = σ_k / Σσ and 0·ln 0 = 0;
    /// 0 for an all-zero matrix.</summary>
    public static double EffectiveRank(IReadOnlyList<double> sv)
    {
        double sum = sv.Sum();
        if (sum <= 0) return 0;
        double h = 0;
        foreach (var s in sv)
        {
            double p = s / sum;
            if (p > 0) h -= p * Math.Log(p);
        }
        return Math.Exp(h);
    }

    /// <summary>srank_δ (Kumar et al. 2021): the smallest k with Σ_{i≤k} σ_i / Σσ ≥ 1 − δ, computed as
    /// loss-of-plasticity's compute_stable_rank does (the count of cumulative fractions below 1 − δ, plus one);
    /// 0 for an all-zero matrix.</summary>
    public static int SRank(IReadOnlyList<double> sv, double delta = 0.01)
    {
        double sum = sv.Sum();
        if (sum <= 0) return 0;
        double cum = 0;
        int below = 0;
        foreach (var s in sv.OrderByDescending(v => v))
        {
            cum += s;
            if (cum / sum < 1 - delta) below++;
        }
        return Math.Min(below + 1, sv.Count);
    }

    /// <summary>The textbook stable rank ‖A‖_F² / ‖A‖_2² = Σσ² / σ₁² (no surveyed codebase reports it; named
    /// stable_rank_fro to keep it apart from srank); 0 for an all-zero matrix.</summary>
    public static double StableRankFro(IReadOnlyList<double> sv)
    {
        double max = sv.Count == 0 ? 0 : sv.Max();
        return max <= 0 ? 0 : sv.Sum(s => s * s) / (max * max);
    }

    /// <summary>Mean |W| of each group's weight tensors (parameters of rank ≥ 2; biases and norms excluded), by group.</summary>
    public static IReadOnlyDictionary<string, double> WeightMagnitude(Network model)
    {
        using var scope = NewDisposeScope();
        var sums = new Dictionary<string, (double Sum, long N)>();
        foreach (var (name, p) in model.named_parameters())
        {
            if (p.dim() < 2) continue;
            var g = Network.GroupOf(name);
            sums.TryGetValue(g, out var acc);
            sums[g] = (acc.Sum + p.detach().abs().sum().to_type(ScalarType.Float64).item<double>(), acc.N + p.numel());
        }
        return model.Groups.Where(sums.ContainsKey).ToDictionary(g => g, g => sums[g].Sum / sums[g].N);
    }

    /// <summary>Distance from initialisation as Plasticine's compute_l2_norm_difference: √(Σ(θ−θ₀)² / N) over all
    /// parameters. <paramref name="init"/> holds θ₀ by parameter name.</summary>
    public static double DistanceFromInit(Network model, IReadOnlyDictionary<string, Tensor> init)
    {
        using var scope = NewDisposeScope();
        double sum = 0; long n = 0;
        foreach (var (name, p) in model.named_parameters())
        {
            if (!init.TryGetValue(name, out var p0)) throw new ArgumentException($"no initial value for parameter '{name}'");
            sum += (p.detach().to(CPU) - p0).square().sum().to_type(ScalarType.Float64).item<double>();
            n += p.numel();
        }
        return n == 0 ? 0 : Math.Sqrt(sum / n);
    }

    /// <summary>Gradient norm as DASH's get_grad_norm_stats: √(Σ_layers ‖∇W‖_F²) over weight tensors (rank ≥ 2)
    /// of the gradients currently on the model (the last minibatch); 0 when there are none.</summary>
    public static double GradientNorm(Network model)
    {
        using var scope = NewDisposeScope();
        double sum = 0;
        foreach (var p in model.parameters())
            if (p.dim() >= 2 && p.grad is Tensor g) sum += g.square().sum().to_type(ScalarType.Float64).item<double>();
        return Math.Sqrt(sum);
    }
}

/// <summary>The metrics of one probe at a task's end. Per-layer arrays follow the hidden layers in forward order.</summary>
/// <param name="Tau">τ of <paramref name="Dormant"/>.</param>
/// <param name="Dormant">ReDo τ-dormant fraction per hidden layer.</param>
/// <param name="Dead">Exactly-zero (dead ReLU) fraction per hidden layer.</param>
/// <param name="EffectiveRank">Effective rank of the penultimate features on the probe batch.</param>
/// <param name="SRank">srank with δ = 0.01 of the penultimate features.</param>
/// <param name="StableRankFro">Σσ²/σ₁² of the penultimate features.</param>
/// <param name="WeightMagnitude">Mean |W| per group.</param>
/// <param name="DistanceFromInit">RMS distance of all parameters from their initial values.</param>
/// <param name="GradientNorm">Weight-gradient norm of the task's last minibatch.</param>
public sealed record PlasticitySnapshot(double Tau, double[] Dormant, double[] Dead, double EffectiveRank, int SRank,
    double StableRankFro, IReadOnlyDictionary<string, double> WeightMagnitude, double DistanceFromInit, double GradientNorm)
{
    /// <summary>Measures <paramref name="model"/> on <paramref name="probe"/> (no gradient, eval mode restored to train).</summary>
    public static PlasticitySnapshot Measure(Network model, Tensor probe, IReadOnlyDictionary<string, Tensor> init, double tau)
    {
        double grad = Metrics.GradientNorm(model);
        using var scope = NewDisposeScope();
        var features = new List<Tensor>();
        model.eval();
        try
        {
            using (no_grad()) model.ForwardWithFeatures(probe, features);
        }
        finally { model.train(); }
        var sv = features.Count == 0 ? Array.Empty<double>() : Metrics.SingularValues(features[^1]);
        return new PlasticitySnapshot(tau, Metrics.DormantFraction(features, tau), Metrics.DeadFraction(features),
            Metrics.EffectiveRank(sv), Metrics.SRank(sv, 0.01), Metrics.StableRankFro(sv), Metrics.WeightMagnitude(model),
            Metrics.DistanceFromInit(model, init), grad);
    }
}
