using System.Reflection;

namespace WarmStart.Core.Training;

/// <summary>
/// The hooks of one stage sorted by the calls they implement, so the training loop calls a hook only where it does
/// something and skips a call site entirely when no hook implements it (no hook: no cost per step, and no
/// <see cref="StepInfo"/> is built unless some hook implements <see cref="ITrainingHook.AfterStep"/>). A member counts
/// as implemented when the hook's type (or an interface it inherits, such as <see cref="IPenalty"/>) replaces the
/// do-nothing default of <see cref="ITrainingHook"/>; this is read once per stage.
/// </summary>
public sealed class HookSet
{
    /// <summary>Every hook, in registration order.</summary>
    public IReadOnlyList<ITrainingHook> All { get; }
    /// <summary>Hooks implementing <see cref="ITrainingHook.StageStart"/>.</summary>
    public ITrainingHook[] StageStart { get; }
    /// <summary>Hooks implementing <see cref="ITrainingHook.BeforeEpoch"/>.</summary>
    public ITrainingHook[] BeforeEpoch { get; }
    /// <summary>Hooks implementing <see cref="ITrainingHook.LossTerm"/>, in registration order (the order the terms are added).</summary>
    public ITrainingHook[] LossTerm { get; }
    /// <summary>Hooks implementing <see cref="ITrainingHook.AfterStep"/>.</summary>
    public ITrainingHook[] AfterStep { get; }
    /// <summary>Hooks implementing <see cref="ITrainingHook.EpochEnd"/>.</summary>
    public ITrainingHook[] EpochEnd { get; }
    /// <summary>Hooks implementing <see cref="ITrainingHook.StageEnd"/>.</summary>
    public ITrainingHook[] StageEnd { get; }
    /// <summary>True when some hook asks for the hidden activations of each step's forward pass.</summary>
    public bool NeedsFeatures { get; }

    /// <summary>Sorts <paramref name="hooks"/> (registration order is kept within each call).</summary>
    public HookSet(IEnumerable<ITrainingHook> hooks)
    {
        var all = hooks.ToArray();
        All = all;
        ITrainingHook[] With(string member) => all.Where(h => Implements(h, member)).ToArray();
        StageStart = With(nameof(ITrainingHook.StageStart));
        BeforeEpoch = With(nameof(ITrainingHook.BeforeEpoch));
        LossTerm = With(nameof(ITrainingHook.LossTerm));
        AfterStep = With(nameof(ITrainingHook.AfterStep));
        EpochEnd = With(nameof(ITrainingHook.EpochEnd));
        StageEnd = With(nameof(ITrainingHook.StageEnd));
        NeedsFeatures = all.Any(h => h.NeedsFeatures);
    }

    /// <summary>True when <paramref name="hook"/>'s type implements <paramref name="member"/> of
    /// <see cref="ITrainingHook"/> itself rather than inheriting the interface's do-nothing default.</summary>
    public static bool Implements(ITrainingHook hook, string member)
    {
        var map = hook.GetType().GetInterfaceMap(typeof(ITrainingHook));
        for (int i = 0; i < map.InterfaceMethods.Length; i++)
            if (map.InterfaceMethods[i].Name == member)
                return map.TargetMethods[i].DeclaringType != typeof(ITrainingHook);
        throw new ArgumentException($"ITrainingHook has no member '{member}'", nameof(member));
    }
}
