using WarmStart.Core.Models;

namespace WarmStart.Core.Policies;

/// <summary>
/// A policy that re-initialises some layer groups and keeps the others from the parent. An executor that carries
/// optimiser state over (<see cref="OptimizerCarry"/>) resets the state of the re-initialised groups' parameters.
/// </summary>
public interface IReinitialisingPolicy : IInitPolicy
{
    /// <summary>The groups of <paramref name="model"/> that this policy draws afresh.</summary>
    IReadOnlyList<string> ReinitialisedGroups(Network model);
}

/// <summary>
/// Partial warm start (Ash &amp; Adams v1, "warm-start only some layers"): the named layer groups are copied from
/// the parent (parameters <em>and</em> buffers, so BatchNorm running statistics travel with their group); every
/// other group comes from a fresh draw of the default initialiser with the stage's seed, i.e. the very draw the
/// <c>fresh</c> arm of the same seed starts from (paired arms). An unknown group name is an
/// <see cref="ArgumentException"/> that lists the valid groups.
/// </summary>
public sealed class PartialWarmPolicy : IReinitialisingPolicy
{
    /// <summary>The groups copied from the parent.</summary>
    public IReadOnlyList<string> WarmGroups { get; }

    /// <summary>Copies <paramref name="warmGroups"/> (at least one, no duplicates) from the parent; the rest is fresh.</summary>
    public PartialWarmPolicy(IEnumerable<string> warmGroups)
    {
        WarmGroups = (warmGroups ?? throw new ArgumentNullException(nameof(warmGroups))).ToArray();
        if (WarmGroups.Count == 0) throw new ArgumentException("partial_warm needs at least one group to copy", nameof(warmGroups));
        var dup = WarmGroups.GroupBy(g => g).FirstOrDefault(g => g.Count() > 1);
        if (dup != null) throw new ArgumentException($"partial_warm lists group '{dup.Key}' twice", nameof(warmGroups));
    }

    /// <inheritdoc />
    public string Name => $"partial_warm[{string.Join(",", WarmGroups)}]";

    /// <summary>Throws <see cref="ArgumentException"/> naming the valid groups when <paramref name="groups"/> holds a
    /// name that is not one of <paramref name="validGroups"/> (for validating a study before training).</summary>
    public static void Validate(IEnumerable<string> groups, IReadOnlyList<string> validGroups)
    {
        var unknown = groups.Where(g => !validGroups.Contains(g)).ToArray();
        if (unknown.Length > 0)
            throw new ArgumentException(
                $"unknown layer group{(unknown.Length > 1 ? "s" : "")} {string.Join(", ", unknown.Select(u => $"'{u}'"))}; " +
                $"valid groups: {string.Join(", ", validGroups)}");
    }

    /// <inheritdoc />
    public IReadOnlyList<string> ReinitialisedGroups(Network model) => model.Groups.Where(g => !WarmGroups.Contains(g)).ToArray();

    /// <inheritdoc />
    public Network Apply(StageContext ctx)
    {
        var parent = ctx.Parent ?? throw new InvalidOperationException("partial_warm needs a parent stage");
        Validate(WarmGroups, parent.Groups);
        return CopyGroups(ctx, parent, WarmGroups.ToHashSet());
    }

    /// <summary>A fresh network (stage seed) with the groups in <paramref name="warm"/> copied from <paramref name="parent"/>.</summary>
    internal static Network CopyGroups(StageContext ctx, Network parent, HashSet<string> warm)
    {
        var result = ctx.Fresh(ctx.Seed);
        NetworkCopy.CopyInto(parent, result, name => warm.Contains(Network.GroupOf(name)));
        return result;
    }
}

/// <summary>
/// Head reset (protocol §7.6): a warm start whose classifier group (<see cref="Network.HeadGroup"/>) is re-drawn
/// from the default initialiser with the stage's seed (the head the <c>fresh</c> arm of the same seed starts with).
/// Every other parameter and buffer is copied from the parent.
/// </summary>
public sealed class HeadResetPolicy : IReinitialisingPolicy
{
    /// <inheritdoc />
    public string Name => "head_reset";

    /// <inheritdoc />
    public IReadOnlyList<string> ReinitialisedGroups(Network model) => new[] { model.HeadGroup };

    /// <inheritdoc />
    public Network Apply(StageContext ctx)
    {
        var parent = ctx.Parent ?? throw new InvalidOperationException("head_reset needs a parent stage");
        if (!parent.Groups.Contains(parent.HeadGroup))
            throw new InvalidOperationException($"model has no head group '{parent.HeadGroup}'; groups: {string.Join(", ", parent.Groups)}");
        return PartialWarmPolicy.CopyGroups(ctx, parent, parent.Groups.Where(g => g != parent.HeadGroup).ToHashSet());
    }
}
