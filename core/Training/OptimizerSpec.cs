using TorchSharp;
using static TorchSharp.torch;

namespace WarmStart.Core.Training;

/// <summary>An optimiser and its hyper-parameters: "sgd" (momentum, weight decay) or "adam" (betas, weight decay).</summary>
public sealed record OptimizerSpec(string Kind, double Lr, double Momentum = 0, double WeightDecay = 0,
    double Beta1 = 0.9, double Beta2 = 0.999)
{
    /// <summary>Plain SGD (the paper: lr 1e-3, no momentum).</summary>
    public static OptimizerSpec Sgd(double lr, double momentum = 0, double weightDecay = 0) => new("sgd", lr, momentum, weightDecay);
    /// <summary>Adam with PyTorch's default betas.</summary>
    public static OptimizerSpec Adam(double lr, double weightDecay = 0) => new("adam", lr, 0, weightDecay);

    /// <summary>A new optimiser over <paramref name="parameters"/>: TorchSharp's SGD or Adam with a step that holds
    /// its Scalars (<see cref="ScalarSafe.SGD"/>, <see cref="ScalarSafe.Adam"/>; same numbers, same state format).</summary>
    public optim.Optimizer Create(IEnumerable<TorchSharp.Modules.Parameter> parameters) => Kind switch
    {
        "sgd" => new ScalarSafe.SGD(parameters, Lr, momentum: Momentum, weight_decay: WeightDecay),
        "adam" => new ScalarSafe.Adam(parameters, Lr, beta1: Beta1, beta2: Beta2, weight_decay: WeightDecay),
        _ => throw new ArgumentException($"optimizer '{Kind}' is not known; allowed: sgd, adam"),
    };

    /// <inheritdoc />
    public override string ToString() => Kind == "sgd"
        ? $"sgd lr={Lr}{(Momentum != 0 ? $" momentum={Momentum}" : "")}{(WeightDecay != 0 ? $" wd={WeightDecay}" : "")}"
        : $"adam lr={Lr}{(WeightDecay != 0 ? $" wd={WeightDecay}" : "")}";
}
