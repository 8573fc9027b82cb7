using WarmStart.Core.Data;
using WarmStart.Core.Runs;
using TorchSharp;
using static TorchSharp.torch;

namespace WarmStart.Core.Plasticity;

/// <summary>
/// The images of a stream, drawn once from the dataset (seeded) and held as uint8: the training subset with its
/// labels and the held-out test subset. Tasks are views over them (<see cref="View"/>) whose transform is applied
/// per batch, so the data exist once whatever the number of tasks.
/// </summary>
public sealed class StreamImages : IDisposable
{
    readonly Dataset _train;
    readonly TaskStreamSpec _spec;
    readonly long _seed;
    internal Tensor Images { get; }
    internal Tensor Labels { get; }
    internal Tensor TestImages { get; }
    internal Tensor TestLabels { get; }
    /// <summary>Positions 0 … Images−1 (every training image of the stream).</summary>
    public Tensor AllPositions { get; }
    /// <summary>Number of classes of the dataset.</summary>
    public int Classes => _train.NumClasses;
    readonly Tensor _classRank;

    /// <summary>Draws the stream's images from <paramref name="data"/> with seeds derived from <paramref name="seed"/>.</summary>
    public StreamImages(DataSplits data, TaskStreamSpec spec, long seed)
    {
        _train = data.Train; _spec = spec; _seed = seed;
        using (var g = new Generator((ulong)Seeds.Derive(seed, "stream", "images")))
        using (var perm = randperm(data.Train.Count, dtype: ScalarType.Int64, generator: g))
        using (var pick = perm.narrow(0, 0, spec.Images))
        {
            Images = data.Train.Images.index_select(0, pick);
            Labels = data.Train.Labels.index_select(0, pick);
        }
        long nTest = spec.Kind == StreamKind.RandomLabels ? 0 : spec.TestImages;
        using (var g = new Generator((ulong)Seeds.Derive(seed, "stream", "test-images")))
        using (var perm = randperm(data.Test.Count, dtype: ScalarType.Int64, generator: g))
        using (var pick = perm.narrow(0, 0, nTest))
        {
            TestImages = data.Test.Images.index_select(0, pick);
            TestLabels = data.Test.Labels.index_select(0, pick);
        }
        AllPositions = arange(spec.Images, dtype: ScalarType.Int64);
        // Class-incremental: rank[c] = the position of class c in the seeded arrival order.
        using (var g = new Generator((ulong)Seeds.Derive(seed, "stream", "class-order")))
        using (var order = randperm(Classes, dtype: ScalarType.Int64, generator: g))
        {
            _classRank = empty(Classes, dtype: ScalarType.Int64);
            _classRank.index_copy_(0, order, arange(Classes, dtype: ScalarType.Int64));
        }
    }

    /// <summary>The view of task <paramref name="task"/> (1-based): its transform, training positions and test set.</summary>
    public TaskView View(int task)
    {
        var role = $"task-{task}";
        Tensor? pixels = null, taskLabels = null, labelMap = null;
        int seen = Classes;
        Tensor trainPos, testPos;
        switch (_spec.Kind)
        {
            case StreamKind.PermutedPixels:
            {
                using var g = new Generator((ulong)Seeds.Derive(_seed, role, "pixels"));
                pixels = randperm(Images.shape[2] * Images.shape[3], dtype: ScalarType.Int64, generator: g);
                trainPos = AllPositions.clone();
                testPos = arange(TestImages.shape[0], dtype: ScalarType.Int64);
                break;
            }
            case StreamKind.RandomLabels:
            {
                using var g = new Generator((ulong)Seeds.Derive(_seed, role, "labels"));
                taskLabels = randint(0, Classes, new[] { Images.shape[0] }, dtype: ScalarType.Int64, generator: g);
                trainPos = AllPositions.clone();
                testPos = AllPositions.clone();
                break;
            }
            case StreamKind.PermutedLabels:
            {
                using var g = new Generator((ulong)Seeds.Derive(_seed, role, "labels"));
                labelMap = randperm(Classes, dtype: ScalarType.Int64, generator: g);
                trainPos = AllPositions.clone();
                testPos = arange(TestImages.shape[0], dtype: ScalarType.Int64);
                break;
            }
            case StreamKind.ClassIncremental:
            {
                seen = (int)Math.Min(Classes, _spec.ClassesFirst + (long)(task - 1) * _spec.ClassesPerTask);
                labelMap = _classRank.clone();
                using (var r = labelMap.index_select(0, Labels)) trainPos = (r < seen).nonzero().flatten();
                using (var r = labelMap.index_select(0, TestLabels)) testPos = (r < seen).nonzero().flatten();
                if (trainPos.shape[0] == 0)
                    throw new ArgumentException($"task {task} of the class-incremental stream has no training image among its {seen} classes; raise stream images");
                break;
            }
            default: throw new ArgumentOutOfRangeException(nameof(_spec.Kind));
        }
        return new TaskView(this, pixels, taskLabels, labelMap, seen, trainPos, testPos);
    }

    internal Tensor ToFloat(Tensor bytes, Device device) => _train.ToFloat(bytes, device);

    /// <inheritdoc />
    public void Dispose()
    {
        Images.Dispose(); Labels.Dispose(); TestImages.Dispose(); TestLabels.Dispose(); AllPositions.Dispose(); _classRank.Dispose();
    }
}

/// <summary>One task of a stream: a transform of the stream's images and labels, applied per batch.</summary>
public sealed class TaskView : IDisposable
{
    readonly StreamImages _images;
    readonly Tensor? _pixels, _taskLabels, _labelMap;

    /// <summary>Classes visible in this task (logits are sliced to them when fewer than the dataset's).</summary>
    public int Seen { get; }
    /// <summary>Positions (into the stream's training images) this task trains on.</summary>
    public Tensor TrainPositions { get; }
    /// <summary>Positions of the task's held-out images (into the test images; random labels: the training images).</summary>
    public Tensor TestPositions { get; }

    internal TaskView(StreamImages images, Tensor? pixels, Tensor? taskLabels, Tensor? labelMap, int seen, Tensor trainPos, Tensor testPos)
    {
        _images = images; _pixels = pixels; _taskLabels = taskLabels; _labelMap = labelMap;
        Seen = seen; TrainPositions = trainPos; TestPositions = testPos;
    }

    /// <summary>The normalised float batch and task labels of the training images at <paramref name="positions"/>.</summary>
    public (Tensor X, Tensor Y) Batch(Tensor positions, Device? device = null) =>
        Make(_images.Images, _images.Labels, _taskLabels, positions, device ?? CPU);

    /// <summary>The batch of held-out images at <paramref name="positions"/> (random labels: the training images).</summary>
    public (Tensor X, Tensor Y) TestBatch(Tensor positions, Device? device = null) => _taskLabels is null
        ? Make(_images.TestImages, _images.TestLabels, null, positions, device ?? CPU)
        : Make(_images.Images, _images.Labels, _taskLabels, positions, device ?? CPU);

    (Tensor X, Tensor Y) Make(Tensor images, Tensor labels, Tensor? taskLabels, Tensor positions, Device device)
    {
        var bytes = images.index_select(0, positions);
        if (_pixels is not null)
        {
            var shape = bytes.shape;
            bytes = bytes.flatten(2).index_select(2, _pixels).view(shape);
        }
        var y = (taskLabels ?? labels).index_select(0, positions);
        if (_labelMap is not null) y = _labelMap.index_select(0, y);
        if (device.type != DeviceType.CPU) y = y.to(device);
        return (_images.ToFloat(bytes, device), y);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _pixels?.Dispose(); _taskLabels?.Dispose(); _labelMap?.Dispose(); TrainPositions.Dispose(); TestPositions.Dispose();
    }
}
