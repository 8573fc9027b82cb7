namespace WarmStart.Core.Models;

/// <summary>
/// What to build. <see cref="Kind"/>: "logistic_regression", "mlp" (and, in the model zoo, "resnet18",
/// "small_cnn"). For MLPs, <see cref="Widths"/> are the hidden widths, <see cref="Activation"/> is "relu" or
/// "tanh" and <see cref="Bias"/> switches biases on every layer. For "small_cnn", <see cref="Widths"/> are the two
/// convolutions' channel counts (empty: 32 and 64). <see cref="BaseWidth"/> is the ResNet's first
/// stage width (16 in the authors' code, 64 as usual). <see cref="LayerNorm"/> (MLP only, default off) puts a layer
/// norm with affine parameters between each hidden Linear and its activation (Kumar et al. 2023's LayerNorm
/// baseline; their placement is not stated, so the pre-activation form is used); off, the network is exactly the
/// one without the option: same parameters, names and initialisation draws.
/// </summary>
public sealed record ModelSpec(string Kind, int[] Widths, string Activation = "relu", bool Bias = true, int BaseWidth = 64,
    bool LayerNorm = false)
{
    /// <summary>Multinomial logistic regression (one linear layer).</summary>
    public static ModelSpec LogisticRegression() => new("logistic_regression", Array.Empty<int>());
    /// <summary>An MLP with the given hidden widths.</summary>
    public static ModelSpec Mlp(params int[] widths) => new("mlp", widths);
    /// <summary>The CIFAR-style ResNet-18 with base width <paramref name="baseWidth"/> (16: the authors' code; 64: usual).</summary>
    public static ModelSpec ResNet18(int baseWidth = 64) => new("resnet18", Array.Empty<int>(), BaseWidth: baseWidth);
    /// <summary>The small CNN with the given two channel counts (none: 32 and 64).</summary>
    public static ModelSpec SmallCnn(params int[] channels) => new("small_cnn", channels);

    /// <summary>A short human-readable form, e.g. "mlp[100,100] relu".</summary>
    public override string ToString() => Kind switch
    {
        "mlp" => $"mlp[{string.Join(",", Widths)}] {Activation}{(Bias ? "" : " no-bias")}{(LayerNorm ? " layer-norm" : "")}",
        "resnet18" => $"resnet18 width {BaseWidth}",
        "small_cnn" => $"small_cnn[{string.Join(",", Widths.Length == 0 ? Models.SmallCnn.DefaultWidths : Widths)}]",
        _ => Kind,
    };

    /// <inheritdoc />
    public bool Equals(ModelSpec? other) =>
        other is not null && Kind == other.Kind && Widths.SequenceEqual(other.Widths) && Activation == other.Activation
        && Bias == other.Bias && BaseWidth == other.BaseWidth && LayerNorm == other.LayerNorm;

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Kind, string.Join(",", Widths), Activation, Bias, BaseWidth, LayerNorm);
}
