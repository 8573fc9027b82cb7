using static TorchSharp.torch;

namespace WarmStart.Core.Models;

/// <summary>Device comparisons. <c>torch.Device</c> has no value <c>==</c>: compare type and index.</summary>
public static class TensorDevices
{
    /// <summary>True when <paramref name="a"/> and <paramref name="b"/> live on the same device.</summary>
    public static bool OnSameDevice(this Tensor a, Tensor b) => a.device_type == b.device_type && a.device_index == b.device_index;
}
