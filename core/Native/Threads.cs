using TorchSharp;

namespace WarmStart.Core.Native;

/// <summary>Explicit torch thread counts: on a busy 2-core machine one thread per worker is often faster for
/// small models, so the toolkit never leaves this to chance.</summary>
public static class Threads
{
    /// <summary>Sets torch's intra-op threads; 0 means "one per core, divided among <paramref name="workers"/>".</summary>
    public static int Configure(int threads, int workers = 1)
    {
        TorchRuntime.EnsureLoaded();
        int n = threads > 0 ? threads : Math.Max(1, Environment.ProcessorCount / Math.Max(1, workers));
        torch.set_num_threads(n);
        return n;
    }
}
