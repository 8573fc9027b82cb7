namespace WarmStart.Core.Plasticity;

/// <summary>The kind of non-stationarity between the tasks of a stream.</summary>
public enum StreamKind
{
    /// <summary>Each task applies a fresh random permutation to the pixels (per channel position) of the same images.</summary>
    PermutedPixels,
    /// <summary>Each task gives every image of a fixed set a fresh uniformly random label (Kumar et al.'s random-label
    /// MNIST; Lyle et al. 2023). Task-end accuracy is measured on the same images with the task's labels.</summary>
    RandomLabels,
    /// <summary>Each task remaps the classes by a fresh random permutation (Elsayed &amp; Mahmood's label-permuted streams).</summary>
    PermutedLabels,
    /// <summary>Classes arrive in a seeded random order, <see cref="TaskStreamSpec.ClassesFirst"/> in task 1 and
    /// <see cref="TaskStreamSpec.ClassesPerTask"/> more per task; each task trains on all images of the classes seen
    /// so far, with the logits sliced to them (Dohare et al.'s incremental CIFAR).</summary>
    ClassIncremental,
}

/// <summary>
/// A task stream: one model trained on <see cref="Tasks"/> tasks derived from a fixed subset of a dataset's
/// training images (held once as uint8; the per-task transform is applied per batch). Each task trains for
/// <see cref="EpochsPerTask"/> epochs, or until an epoch's online accuracy reaches <see cref="Threshold"/> with
/// <see cref="EpochsPerTask"/> as the cap. One optimiser lives through the whole stream; task boundaries are not
/// signalled to it (only to <see cref="IStreamHook"/>s).
/// </summary>
/// <param name="Kind">How tasks differ.</param>
/// <param name="Tasks">Number of tasks (≥ 1).</param>
/// <param name="Images">Training images drawn once (seeded) from the training split.</param>
/// <param name="TestImages">Held-out images drawn once from the test split for task-end accuracy (unused by random labels).</param>
/// <param name="EpochsPerTask">Epochs per task (the cap when <paramref name="Threshold"/> is set).</param>
/// <param name="BatchSize">Minibatch size.</param>
/// <param name="Threshold">Online training accuracy of an epoch that ends a task early (null: fixed epochs).</param>
/// <param name="ClassesFirst">Class-incremental: classes in task 1.</param>
/// <param name="ClassesPerTask">Class-incremental: classes added per task.</param>
/// <param name="ProbeSize">Images of the current task's training set used for the feature metrics.</param>
/// <param name="Tau">τ of the dormant-fraction metric.</param>
public sealed record TaskStreamSpec(StreamKind Kind, int Tasks, int Images, int TestImages, int EpochsPerTask, int BatchSize,
    double? Threshold = null, int ClassesFirst = 2, int ClassesPerTask = 2, int ProbeSize = 1000, double Tau = 0.1)
{
    /// <summary>Kumar et al.'s random-label stream scaled to the budget: 1,200 images, batch 16, 50 tasks,
    /// <paramref name="epochsPerTask"/> epochs per task (400 in the paper).</summary>
    public static TaskStreamSpec RandomLabels(int tasks = 50, int epochsPerTask = 400) =>
        new(StreamKind.RandomLabels, tasks, 1200, 0, epochsPerTask, 16, ProbeSize: 1200);

    /// <summary>Kumar et al.'s permuted-pixel stream: 10,000 images seen once per task at batch 16, 500 tasks;
    /// task-end accuracy on 2,000 permuted test images.</summary>
    public static TaskStreamSpec PermutedPixels(int tasks = 500, int epochsPerTask = 1) =>
        new(StreamKind.PermutedPixels, tasks, 10000, 2000, epochsPerTask, 16);

    /// <summary>Throws with the field, the value and what is allowed when the spec cannot run on a dataset of
    /// <paramref name="trainCount"/>/<paramref name="testCount"/> images and <paramref name="classes"/> classes.</summary>
    public void Validate(long trainCount, long testCount, int classes)
    {
        static void Bad(string field, object value, string allowed) =>
            throw new ArgumentException($"stream {field} = {value}; allowed: {allowed}");
        if (Tasks < 1) Bad("tasks", Tasks, "≥ 1");
        if (Images < 1 || Images > trainCount) Bad("images", Images, $"1 … {trainCount} (the training split's size)");
        if (Kind != StreamKind.RandomLabels && (TestImages < 1 || TestImages > testCount)) Bad("test_images", TestImages, $"1 … {testCount} (the test split's size)");
        if (EpochsPerTask < 1) Bad("epochs_per_task", EpochsPerTask, "≥ 1");
        if (BatchSize < 1) Bad("batch_size", BatchSize, "≥ 1");
        if (Threshold is double t && !(t > 0 && t <= 1)) Bad("threshold", t, "0 < threshold ≤ 1");
        if (ProbeSize < 1) Bad("probe", ProbeSize, "≥ 1");
        if (!(Tau >= 0)) Bad("tau", Tau, "≥ 0");
        if (Kind == StreamKind.ClassIncremental)
        {
            if (ClassesFirst < 1 || ClassesFirst > classes) Bad("classes_first", ClassesFirst, $"1 … {classes}");
            if (ClassesPerTask < 0) Bad("classes_per_task", ClassesPerTask, "≥ 0");
        }
    }
}
