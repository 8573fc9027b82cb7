using WarmStart.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace WarmStart.Core.Diagnostics;

/// <summary>Pearson correlation of one layer group's parameters (null when undefined: a constant vector).</summary>
public sealed record GroupCorrelation(string Group, long Count, double? Pearson);

/// <summary>Pearson correlation between two parameter vectors, overall and per layer group (learnable parameters only).</summary>
public sealed record CorrelationReport(double? Overall, long Count, GroupCorrelation[] Groups);

/// <summary>
/// Pearson correlation between flattened parameter vectors (the paper's "how far did the weights move" check):
/// e.g. a stage's final weights against its starting weights, or against the chain's original initialisation.
/// Only learnable parameters count (no BatchNorm running statistics); parameters are matched by name and
/// concatenated in the model's parameter order. Computed in float64.
/// </summary>
public static class WeightCorrelation
{
    /// <summary>Pearson's r between two tensors of the same number of elements, flattened; null when either is constant.</summary>
    public static double? Pearson(Tensor x, Tensor y)
    {
        if (x.numel() != y.numel()) throw new ArgumentException($"pearson: {x.numel()} against {y.numel()} elements");
        if (x.numel() < 2) return null;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var a = x.detach().flatten().to(ScalarType.Float64).cpu();
        var b = y.detach().flatten().to(ScalarType.Float64).cpu();
        a = a - a.mean(); b = b - b.mean();
        double sab = (a * b).sum().item<double>();
        double saa = a.square().sum().item<double>();
        double sbb = b.square().sum().item<double>();
        double den = Math.Sqrt(saa * sbb);
        return den > 0 ? sab / den : null;
    }

    /// <summary>Correlation of <paramref name="model"/>'s parameters with <paramref name="reference"/>
    /// (parameter name → tensor), overall and per group of <paramref name="model"/>.</summary>
    public static CorrelationReport Compare(Network model, IReadOnlyDictionary<string, Tensor> reference)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var mine = new List<Tensor>();
        var theirs = new List<Tensor>();
        var byGroup = new Dictionary<string, (List<Tensor> A, List<Tensor> B)>();
        foreach (var (name, p) in model.named_parameters())
        {
            if (!reference.TryGetValue(name, out var r))
                throw new ArgumentException($"correlation: the reference has no parameter '{name}'");
            if (r.numel() != p.numel())
                throw new ArgumentException($"correlation: '{name}' has {p.numel()} elements, the reference {r.numel()}");
            var a = p.detach().flatten().cpu();
            var b = r.detach().flatten().cpu();
            mine.Add(a); theirs.Add(b);
            var g = Network.GroupOf(name);
            if (!byGroup.TryGetValue(g, out var lists)) byGroup[g] = lists = (new List<Tensor>(), new List<Tensor>());
            lists.A.Add(a); lists.B.Add(b);
        }
        if (mine.Count == 0) return new CorrelationReport(null, 0, Array.Empty<GroupCorrelation>());
        var all = cat(mine, 0);
        var groups = model.Groups.Where(byGroup.ContainsKey).Select(g =>
        {
            var (a, b) = byGroup[g];
            var ga = cat(a, 0);
            return new GroupCorrelation(g, ga.numel(), Pearson(ga, cat(b, 0)));
        }).ToArray();
        return new CorrelationReport(Pearson(all, cat(theirs, 0)), all.numel(), groups);
    }

    /// <summary>Correlation of <paramref name="model"/>'s parameters with those of <paramref name="reference"/> (same architecture).</summary>
    public static CorrelationReport Compare(Network model, Network reference) =>
        Compare(model, reference.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter));

    /// <summary>Correlation of <paramref name="model"/>'s parameters with a snapshot.</summary>
    public static CorrelationReport Compare(Network model, ParameterSet reference) => Compare(model, reference.Tensors);
}
