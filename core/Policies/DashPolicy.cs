using WarmStart.Core.Data;
using WarmStart.Core.Models;
using TorchSharp;
using static TorchSharp.torch;
using WarmStart.Core.Native;

namespace WarmStart.Core.Policies;

/// <summary>
/// DASH, Direction-Aware SHrinking (Shin, Oh, Cho, Yun, NeurIPS 2024; protocol §7.2), as in the official code:
/// <list type="number">
/// <item>On a copy of the parent in <em>eval</em> mode (BatchNorm uses the parent's running statistics and no buffer
/// changes), as in the official code, whose model is in eval mode after the previous chunk's evaluation when DASH
/// deep-copies it, run over <em>all</em> data of this stage (<see cref="StageContext.Indices"/>,
/// in order, no shuffling) in minibatches, with no optimiser steps, keeping per Linear/Conv module an exponential
/// moving average of the <em>negative</em> gradient of the mean cross-entropy: G ← (1 − α)·G + α·(−∇L_batch), G₀ = 0.</item>
/// <item>Shrink the parent's weights per "neuron": for Linear each output row W[o, :], for Conv each
/// (out, in) kernel slice flattened over h·w: s = clamp(cos(G_row, W_row), λ, 1) and W_row ← s·W_row. A bias is
/// scaled by one factor, the clamped cosine over the whole bias vector.</item>
/// </list>
/// BatchNorm parameters and all buffers are copied unchanged; there is no noise. The official code's minibatch
/// size is the chunk size; here it is <see cref="BatchSize"/>, or when null the size of this stage's new data
/// (|Indices| − |ParentIndices|), or the stage's batch size when that is not positive.
/// </summary>
public sealed class DashPolicy : IInitPolicy
{
    /// <summary>EMA coefficient α in (0, 1] (default 0.3 as in the official code).</summary>
    public double Alpha { get; }
    /// <summary>Lower clamp λ in [0, 1] of the per-neuron scale (default 0.3).</summary>
    public double Lambda { get; }
    /// <summary>Minibatch size of the gradient scan (null: the chunk size, as the official code).</summary>
    public int? BatchSize { get; }

    /// <summary>Creates the policy; α outside (0, 1], λ outside [0, 1] or a batch size &lt; 1 is refused.</summary>
    public DashPolicy(double alpha = 0.3, double lambda = 0.3, int? batchSize = null)
    {
        if (!(alpha > 0 && alpha <= 1)) throw new ArgumentOutOfRangeException(nameof(alpha), $"dash α = {alpha}; allowed: 0 < α ≤ 1");
        if (!(lambda >= 0 && lambda <= 1)) throw new ArgumentOutOfRangeException(nameof(lambda), $"dash λ = {lambda}; allowed: 0 ≤ λ ≤ 1");
        if (batchSize is < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), $"dash batch size {batchSize}; allowed: ≥ 1");
        Alpha = alpha; Lambda = lambda; BatchSize = batchSize;
    }

    /// <inheritdoc />
    public string Name => $"dash(α={Alpha}, λ={Lambda})";

    /// <summary>The scan's minibatch size for <paramref name="ctx"/> (see the class remarks).</summary>
    public int ScanBatchSize(StageContext ctx)
    {
        if (BatchSize is int b) return b;
        long chunk = ctx.Indices.shape[0] - (ctx.ParentIndices?.shape[0] ?? ctx.Indices.shape[0]);
        return chunk > 0 ? (int)Math.Min(chunk, int.MaxValue) : ctx.BatchSize;
    }

    /// <inheritdoc />
    public Network Apply(StageContext ctx)
    {
        _ = ctx.Parent ?? throw new InvalidOperationException("dash needs a parent stage");
        var result = NetworkCopy.Clone(ctx);
        using (var probe = NetworkCopy.Clone(ctx))
        {
            probe.to(ctx.Device);
            var ema = GradientEma(probe, ctx.Train, ctx.Indices, Alpha, ScanBatchSize(ctx), ctx.Device);
            try { Shrink(result, ema, Lambda); }
            finally { foreach (var t in ema.Values) t.Dispose(); }
        }
        return result;
    }

    /// <summary>
    /// The EMA of the negative gradient, per parameter name, of every Linear and Conv weight and bias of
    /// <paramref name="probe"/>, over <paramref name="indices"/> of <paramref name="data"/> in order, in minibatches
    /// of <paramref name="batchSize"/>. Puts the probe in eval mode (the official code's), or in train mode when
    /// <paramref name="batchStatistics"/> (BatchNorm then normalises with each minibatch's statistics and updates
    /// the probe's running statistics); leaves zeroed gradients on it; takes no optimiser step. The caller owns the
    /// returned tensors.
    /// </summary>
    public static Dictionary<string, Tensor> GradientEma(Network probe, Dataset data, Tensor indices, double alpha,
        int batchSize, Device? device = null, bool batchStatistics = false)
    {
        if (indices.shape[0] == 0) throw new ArgumentException("dash: no data to estimate gradients on");
        var targets = ShrinkableParameters(probe).ToArray();
        var ema = targets.ToDictionary(t => t.Name, t => zeros_like(t.Parameter).detach());
        probe.train(batchStatistics);
        long n = indices.shape[0];
        for (long start = 0; start < n; start += batchSize)
        {
            using var scope = NewDisposeScope();
            probe.zero_grad();
            var (x, y) = data.Batch(indices.narrow(0, start, Math.Min(batchSize, n - start)), device);
            nn.functional.cross_entropy(probe.forward(x), y).backward();
            using var _ = no_grad();
            foreach (var (name, p, _) in targets)
            {
                var g = p.grad ?? throw new InvalidOperationException($"dash: no gradient for '{name}'");
                ema[name].mul_(Scalars.Of(1 - alpha)).add_(g, Scalars.Of(-alpha)); // held Scalars: see Scalars
            }
        }
        probe.zero_grad();
        return ema;
    }

    /// <summary>
    /// Scales <paramref name="model"/>'s Linear and Conv weights per neuron and their biases per vector by
    /// clamp(cos(G, θ), λ, 1), G from <paramref name="gradientEma"/> (by parameter name). Returns the per-neuron
    /// scales by parameter name (a copy, on the CPU; Linear weight [out], Conv weight [out, in], bias [1]).
    /// </summary>
    public static Dictionary<string, Tensor> Shrink(Network model, IReadOnlyDictionary<string, Tensor> gradientEma, double lambda)
    {
        var scales = new Dictionary<string, Tensor>();
        using var _ = no_grad();
        foreach (var (name, p, isBias) in ShrinkableParameters(model))
        {
            using var scope = NewDisposeScope();
            var g = gradientEma[name].to(p.device);
            Tensor s;
            if (isBias)
            {
                s = nn.functional.cosine_similarity(g.reshape(1, -1), p.reshape(1, -1), dim: 1).clamp(Scalars.Of(lambda), Scalars.One);
                p.mul_(s);
            }
            else if (p.dim() == 2)
            {
                s = nn.functional.cosine_similarity(g, p, dim: 1).clamp(Scalars.Of(lambda), Scalars.One);
                p.mul_(s.unsqueeze(1));
            }
            else
            {
                long o = p.shape[0], i = p.shape[1];
                s = nn.functional.cosine_similarity(g.reshape(o, i, -1), p.reshape(o, i, -1), dim: 2).clamp(Scalars.Of(lambda), Scalars.One);
                p.mul_(s.reshape(s.shape.Concat(Enumerable.Repeat(1L, (int)p.dim() - 2)).ToArray()));
            }
            scales[name] = s.cpu().clone().MoveToOuterDisposeScope();
        }
        return scales;
    }

    /// <summary>The weights and biases of every Linear and Conv module, by full parameter name.</summary>
    static IEnumerable<(string Name, TorchSharp.Modules.Parameter Parameter, bool IsBias)> ShrinkableParameters(Network model)
    {
        foreach (var (prefix, m) in model.named_modules())
        {
            if (m is not (TorchSharp.Modules.Linear or TorchSharp.Modules.Convolution)) continue;
            string Full(string n) => prefix.Length == 0 ? n : prefix + "." + n;
            foreach (var (n, p) in m.named_parameters(recurse: false))
                yield return (Full(n), p, n == "bias");
        }
    }
}
