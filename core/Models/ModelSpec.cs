namespace WarmStart.Core.Models;

/// <summary>
/// What to build. <see cref="Kind"/>: "logistic_regression", "mlp" (and, in the model zoo, "resnet18",
/// "small_cnn"). For MLPs, <see cref="Widths"/> are the hidden widths, <see cref="Activation"/> is "relu" or
/// "tanh" and <see cref="Bias"/> switches biases on every layer. <see cref="BaseWidth"/> is the ResNet's first
/// stage width (16 in the authors' code, 64 as usual).
/// </summary>
public sealed record ModelSpec(string Kind, int[] Widths, string Activation = "relu", bool Bias = true, int BaseWidth = 64)
{
    /// <summary>Multinomial logistic regression (one linear layer).</summary>
    public static ModelSpec LogisticRegression() => new("logistic_regression", Array.Empty<int>());
    /// <summary>An MLP with the given hidden widths.</summary>
    public static ModelSpec Mlp(params int[] widths) => new("mlp", widths);

    /// <summary>A short human-readable form, e.g. "mlp[100,100] relu".</summary>
    public override string ToString() => Kind switch
    {
        "mlp" => $"mlp[{string.Join(",", Widths)}] {Activation}{(Bias ? "" : " no-bias")}",
        "resnet18" => $"resnet18 width {BaseWidth}",
        _ => Kind,
    };

    /// <inheritdoc />
    public bool Equals(ModelSpec? other) =>
        other is not null && Kind == other.Kind && Widths.SequenceEqual(other.Widths) && Activation == other.Activation
        && Bias == other.Bias && BaseWidth == other.BaseWidth;

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Kind, string.Join(",", Widths), Activation, Bias, BaseWidth);
}
