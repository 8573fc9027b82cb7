/// `data` benchmark: reading a CIFAR-10-sized binary set (60 000 records) into uint8 tensors, one epoch of batching
/// (with and without the standard augmentation) at batch 128, against one epoch of training a small CNN on the same
/// data, all in one process. Prints resident memory to show the images stay uint8.
module WarmStart.Bench.DataBench

open System
open System.Diagnostics
open System.IO
open TorchSharp
open WarmStart.Core.Data
open WarmStart.Core.Native

/// Resident set size of this process, in MB (Linux /proc; else the working set).
let residentMb () =
    let status = "/proc/self/status"
    if File.Exists status then
        File.ReadLines status
        |> Seq.tryFind (fun l -> l.StartsWith "VmRSS:")
        |> Option.map (fun l -> float (l.Split(' ', StringSplitOptions.RemoveEmptyEntries).[1]) / 1024.0)
        |> Option.defaultValue nan
    else float (Process.GetCurrentProcess().WorkingSet64) / 1048576.0

/// A small CNN defined here: conv 3→16, ReLU, max-pool, conv 16→32, ReLU, max-pool, linear 2048→10.
type SmallCnn() as this =
    inherit torch.nn.Module<torch.Tensor, torch.Tensor>("small_cnn")
    let c1 = torch.nn.Conv2d(3L, 16L, 3L, padding = 1L)
    let c2 = torch.nn.Conv2d(16L, 32L, 3L, padding = 1L)
    let fc = torch.nn.Linear(32L * 8L * 8L, 10L)
    do this.RegisterComponents()
    override _.forward(x) =
        let h1 = torch.nn.functional.max_pool2d(torch.nn.functional.relu(c1.forward x), 2L)
        let h2 = torch.nn.functional.max_pool2d(torch.nn.functional.relu(c2.forward h1), 2L)
        fc.forward(h2.flatten(1L))

/// Writes cifar-10-batches-bin/ with 5 × 10 000 training and 10 000 test records of random pixels.
let writeCifar10 (dir: string) =
    Directory.CreateDirectory dir |> ignore
    let rnd = Random(1)
    let record = 1 + 3072
    let write (name: string) (first: int) =
        let bytes = Array.zeroCreate<byte> (10000 * record)
        rnd.NextBytes bytes
        for i in 0 .. 9999 do bytes[i * record] <- byte ((first + i) % 10)
        File.WriteAllBytes(Path.Combine(dir, name), bytes)
    for b in 1 .. 5 do write (sprintf "data_batch_%d.bin" b) ((b - 1) * 10000)
    write "test_batch.bin" 50000

let private time (f: unit -> unit) =
    let sw = Stopwatch.StartNew()
    f ()
    sw.Elapsed.TotalSeconds

/// One pass over the training split in batches of 128: gather, (augment), convert and normalise; nothing else.
let batchingEpoch (data: Dataset) (augment: Augmentation option) (seed: int64) =
    use idx = torch.arange(data.Count, dtype = torch.ScalarType.Int64)
    use batches = new EpochBatches(idx, 128, seed)
    use g = new torch.Generator(uint64 seed)
    for b in 0 .. batches.BatchCount - 1 do
        use scope = torch.NewDisposeScope()
        // TorchSharp on the CPU is eager: the batch is complete when the call returns (no sync needed).
        data.AugmentedBatch(batches[b], null, Option.toObj augment, g) |> ignore

/// One training epoch of the small CNN (SGD, momentum 0.9) over the training split at batch 128.
let trainingEpoch (data: Dataset) (augment: Augmentation option) (seed: int64) =
    torch.manual_seed seed |> ignore
    use model = new SmallCnn()
    use opt = torch.optim.SGD(model.parameters(), 0.01, momentum = 0.9)
    use idx = torch.arange(data.Count, dtype = torch.ScalarType.Int64)
    use batches = new EpochBatches(idx, 128, seed)
    use g = new torch.Generator(uint64 seed)
    let mutable last = 0.0f
    for b in 0 .. batches.BatchCount - 1 do
        use scope = torch.NewDisposeScope()
        let struct (x, y) = data.AugmentedBatch(batches[b], null, Option.toObj augment, g)
        opt.zero_grad()
        let loss = torch.nn.functional.cross_entropy(model.forward x, y)
        loss.backward()
        opt.step() |> ignore
        if b = batches.BatchCount - 1 then last <- loss.item<float32>()
    last

let run (threads: int) (keep: bool) =
    TorchRuntime.EnsureLoaded()
    let threads = Threads.Configure threads
    let root = Path.Combine(Path.GetTempPath(), "warmstart-bench-" + Guid.NewGuid().ToString "N")
    let dir = Path.Combine(root, "cifar-10-batches-bin")
    try
        printfn "data benchmark: CIFAR-10-sized binary set (60 000 records), batch 128, %d torch thread(s), libtorch %s, load average %s"
            threads torch.__version__ (try (File.ReadAllText "/proc/loadavg").Split(' ').[0] with _ -> "?")
        let tWrite = time (fun () -> writeCifar10 dir)
        printfn "  wrote 6 record files (%.0f MB) in %.2f s (setup, not measured below)"
            (float (60000 * 3073) / 1048576.0) tWrite
        GC.Collect()
        let rssBefore = residentMb ()
        let mutable splits = Unchecked.defaultof<DataSplits>
        let tRead = time (fun () -> splits <- CifarFormat.LoadCifar10(dir, (Catalog.Get "cifar10").Normalization))
        GC.Collect()
        let rssAfter = residentMb ()
        use splits = splits
        let train = splits.Train
        let imageBytes = float (train.Images.NumberOfElements + splits.Test.Images.NumberOfElements) * float train.Images.ElementSize
        printfn "  read 60 000 records into tensors: %.3f s (%.0f MB/s)" tRead (float (60000 * 3073) / 1048576.0 / tRead)
        printfn "  images: %O [%s] + [%s], %.1f MB of pixels; resident memory %.0f MB → %.0f MB (+%.0f MB): uint8, not float (float32 would be %.0f MB)"
            train.Images.dtype (String.Join(", ", train.Images.shape)) (String.Join(", ", splits.Test.Images.shape))
            (imageBytes / 1048576.0) rssBefore rssAfter (rssAfter - rssBefore) (4.0 * imageBytes / 1048576.0)
        // Warm-up (first-call costs of the native kernels), then the measured passes.
        batchingEpoch (new Dataset("warm", train.Images.narrow(0L, 0L, 512L).clone(), train.Labels.narrow(0L, 0L, 512L).clone(), 10, train.Normalization)) (Some Augmentation.Standard) 0L
        let tBatch = time (fun () -> batchingEpoch train None 1L)
        let tAug = time (fun () -> batchingEpoch train (Some Augmentation.Standard) 1L)
        printfn "  one epoch of batching (50 000 images, 391 batches): %.3f s plain, %.3f s with random crop + flip" tBatch tAug
        let mutable loss = 0.0f
        let tTrain = time (fun () -> loss <- trainingEpoch train None 1L)
        printfn "  one training epoch of a small CNN (conv16-conv32-linear, SGD): %.2f s (last loss %.3f), %.0f images/s"
            tTrain loss (50000.0 / tTrain)
        printfn "  data handling as a share of the training epoch:"
        printfn "    batching + augmentation: %5.2f %%   (batching alone %.2f %%, augmentation %.2f %%)"
            (100.0 * tAug / tTrain) (100.0 * tBatch / tTrain) (100.0 * (tAug - tBatch) / tTrain)
        printfn "    reading the files once:  %5.2f %%   (once per process, not per epoch)" (100.0 * tRead / tTrain)
        printfn "  target: data handling ≤ 5 %% of training time: %s" (if tAug / tTrain <= 0.05 then "met" else "NOT met")
        printfn "  resident memory at the end: %.0f MB" (residentMb ())
        0
    finally
        if not keep then try Directory.Delete(root, true) with _ -> ()
