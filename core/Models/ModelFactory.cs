using WarmStart.Core.Native;

namespace WarmStart.Core.Models;

/// <summary>Builds networks from specs, initialised from a seed.</summary>
public static class ModelFactory
{
    /// <summary>Builders by kind; the model zoo registers more (ResNet-18, small CNN).</summary>
    static readonly Dictionary<string, Func<ModelSpec, (long C, long H, long W), int, Network>> Builders = new()
    {
        ["logistic_regression"] = (s, shape, k) => new Mlp(s with { Widths = Array.Empty<int>() }, shape.C * shape.H * shape.W, k),
        ["mlp"] = (s, shape, k) => new Mlp(s, shape.C * shape.H * shape.W, k),
        ["resnet18"] = (s, shape, k) => new ResNet18(s, shape.C, k),
        ["resnet18_dash"] = (s, shape, k) => new ResNet18Dash(s, shape.C, k),
        ["small_cnn"] = (s, shape, k) => new SmallCnn(s, shape, k),
    };

    /// <summary>Registers a builder for a model kind.</summary>
    public static void Register(string kind, Func<ModelSpec, (long C, long H, long W), int, Network> build)
    {
        lock (Builders) Builders[kind] = build;
    }

    /// <summary>The model kinds that can be built.</summary>
    public static IReadOnlyList<string> Kinds { get { lock (Builders) return Builders.Keys.OrderBy(k => k).ToArray(); } }

    /// <summary>The layer groups a network of <paramref name="spec"/> has for inputs of <paramref name="shape"/> and
    /// <paramref name="classes"/> classes, in forward order (for validating group names before any training).
    /// Builds a throw-away network.</summary>
    public static IReadOnlyList<string> GroupsOf(ModelSpec spec, (long C, long H, long W) shape, int classes)
    {
        using var net = Create(spec, shape, classes, 0);
        return net.Groups;
    }

    /// <summary>Builds <paramref name="spec"/> for inputs of <paramref name="shape"/> and <paramref name="classes"/>
    /// classes, with default initialisation drawn from <paramref name="seed"/>.</summary>
    public static Network Create(ModelSpec spec, (long C, long H, long W) shape, int classes, long seed)
    {
        TorchRuntime.EnsureLoaded();
        Func<ModelSpec, (long, long, long), int, Network>? build;
        lock (Builders) Builders.TryGetValue(spec.Kind, out build);
        if (build == null)
            throw new ArgumentException($"model '{spec.Kind}' is not known; allowed: {string.Join(", ", Kinds)}");
        var net = build(spec, shape, classes);
        DefaultInit.Apply(net, seed);
        return net;
    }
}
