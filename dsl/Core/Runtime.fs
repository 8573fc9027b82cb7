namespace WarmStart

open WarmStart.Core.Native

/// Process-wide set-up shared by scripts, the CLI and tests.
module Runtime =
    /// Makes TorchSharp's natives loadable (see core/Native/TorchRuntime.cs) and sets torch's thread count
    /// (0 = one per core). Call before touching any torch value; calling again is harmless.
    let init (threads: int) =
        TorchRuntime.EnsureLoaded()
        Threads.Configure(threads) |> ignore
