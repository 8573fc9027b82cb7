using TorchSharp;

namespace WarmStart.Core.Native;

/// <summary>Resolves a device name ("cpu", "cuda", "cuda:1") with a clear error when CUDA is absent.</summary>
public static class DeviceResolver
{
    /// <summary>The torch device for <paramref name="name"/>; throws <see cref="ArgumentException"/> naming the remedy.</summary>
    public static torch.Device Resolve(string name)
    {
        TorchRuntime.EnsureLoaded();
        var n = (name ?? "cpu").Trim().ToLowerInvariant();
        if (n == "cpu") return torch.CPU;
        if (n.StartsWith("cuda"))
        {
            if (!torch.cuda.is_available())
                throw new ArgumentException(
                    $"device '{name}' asked for, but CUDA is not available in this build or on this machine. " +
                    "Build with -p:WarmStartDevice=cuda (TorchSharp-cuda-linux) on a machine with an NVIDIA GPU, or use --device cpu.");
            return torch.device(n);
        }
        throw new ArgumentException($"device '{name}' is not known; allowed: cpu, cuda, cuda:N.");
    }
}
