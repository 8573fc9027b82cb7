using System.Globalization;
using WarmStart.Core.Runs;
using TorchSharp;
using static TorchSharp.torch;
using WarmStart.Core.Native;

namespace WarmStart.Core.Data;

/// <summary>
/// One step of a <see cref="DatasetView"/>. Each step is fully described by its <see cref="Key"/> (its parameters
/// and seed), so a view is rebuilt identically in any process from the catalog name and the key.
/// </summary>
public abstract record ViewStep
{
    /// <summary>Canonical text of the step, e.g. <c>classes=0,1,2</c>, <c>label_noise=0.2@7</c>.</summary>
    public abstract string Key { get; }

    /// <summary>Applies the step to a split (<paramref name="isTrain"/>: the training split), returning new tensors
    /// (images may share the source's storage) and the number of classes afterwards.</summary>
    internal abstract (Tensor Images, Tensor Labels, int Classes) Apply(Dataset split, bool isTrain);

    internal static string Num(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}

/// <summary>Keep only the examples of <see cref="Classes"/> (train and test), relabelled 0…k−1 in the order given:
/// <c>classes [3; 1]</c> makes class 3 label 0 and class 1 label 1.</summary>
public sealed record ClassSubset(IReadOnlyList<int> Classes) : ViewStep
{
    /// <inheritdoc />
    public override string Key => "classes=" + string.Join(",", Classes);

    internal override (Tensor, Tensor, int) Apply(Dataset split, bool isTrain)
    {
        foreach (var c in Classes)
            if (c < 0 || c >= split.NumClasses)
                throw new ArgumentException($"view classes: class {c} is not in {split.Name} (allowed: 0 to {split.NumClasses - 1})");
        using var scope = NewDisposeScope();
        // label → new label (−1: dropped), then the kept indices.
        var map = Enumerable.Repeat(-1L, split.NumClasses).ToArray();
        for (int i = 0; i < Classes.Count; i++) map[Classes[i]] = i;
        var newLabels = tensor(map).index_select(0, split.Labels);
        var keep = newLabels.ge(Scalars.ZeroInt).nonzero().squeeze(1); // held Scalars: see Scalars
        var images = split.Images.index_select(0, keep);
        var labels = newLabels.index_select(0, keep);
        return (images.MoveToOuterDisposeScope(), labels.MoveToOuterDisposeScope(), Classes.Count);
    }
}

/// <summary>Training labels only: a seeded random <see cref="Fraction"/> of the examples (rounded to the nearest
/// whole number) get a label drawn uniformly from the <em>other</em> classes; test labels stay clean.</summary>
public sealed record LabelNoise(double Fraction, long Seed) : ViewStep
{
    /// <inheritdoc />
    public override string Key => $"label_noise={Num(Fraction)}@{Seed}";

    internal override (Tensor, Tensor, int) Apply(Dataset split, bool isTrain)
    {
        var images = split.Images.view(split.Images.shape);
        if (!isTrain || Fraction == 0 || split.NumClasses < 2) return (images, split.Labels.clone(), split.NumClasses);
        using var scope = NewDisposeScope();
        using var g = new Generator((ulong)Seeds.Derive(Seed, "view/label-noise"));
        long n = split.Count, k = (long)Math.Round(Fraction * n, MidpointRounding.AwayFromZero);
        var which = randperm(n, generator: g).narrow(0, 0, k);
        var offset = randint(1, split.NumClasses, new long[] { k }, dtype: ScalarType.Int64, generator: g);
        var labels = split.Labels.clone();
        var noisy = labels.index_select(0, which).add(offset, Scalars.OneInt).remainder(Scalars.Of(split.NumClasses)); // held Scalars: see Scalars
        labels.index_copy_(0, which, noisy);
        return (images, labels.MoveToOuterDisposeScope(), split.NumClasses);
    }
}

/// <summary>One seeded permutation of the H·W pixel positions, the same for every image, channel and split (the
/// permuted-MNIST task of the plasticity literature).</summary>
public sealed record PermutedPixels(long Seed) : ViewStep
{
    /// <inheritdoc />
    public override string Key => $"permute_pixels@{Seed}";

    internal override (Tensor, Tensor, int) Apply(Dataset split, bool isTrain)
    {
        using var scope = NewDisposeScope();
        var (c, h, w) = split.Shape;
        using var g = new Generator((ulong)Seeds.Derive(Seed, "view/permute-pixels"));
        var perm = randperm(h * w, generator: g);
        var images = split.Images.reshape(split.Count, c, h * w).index_select(2, perm).reshape(split.Count, c, h, w);
        return (images.MoveToOuterDisposeScope(), split.Labels.clone().MoveToOuterDisposeScope(), split.NumClasses);
    }
}

/// <summary>Training labels only: every label replaced by a seeded uniform draw over the classes (memorisation
/// tasks); test labels stay as they are, so test accuracy shows what generalises (chance).</summary>
public sealed record RandomLabels(long Seed) : ViewStep
{
    /// <inheritdoc />
    public override string Key => $"random_labels@{Seed}";

    internal override (Tensor, Tensor, int) Apply(Dataset split, bool isTrain)
    {
        var images = split.Images.view(split.Images.shape);
        if (!isTrain) return (images, split.Labels.clone(), split.NumClasses);
        using var g = new Generator((ulong)Seeds.Derive(Seed, "view/random-labels"));
        return (images, randint(0, split.NumClasses, new[] { split.Count }, dtype: ScalarType.Int64, generator: g), split.NumClasses);
    }
}

/// <summary>
/// A view of a catalog dataset: steps (class subset, label noise, permuted pixels, random labels) applied in order
/// to the uint8 data once, after loading. The <see cref="Key"/> (empty for no view) is what a node key records;
/// <see cref="Parse"/> rebuilds the view from it, so any process (a Slurm task included) gets the same data.
/// </summary>
public sealed class DatasetView
{
    /// <summary>The steps, in the order they apply.</summary>
    public IReadOnlyList<ViewStep> Steps { get; }

    /// <summary>A view of <paramref name="steps"/> (none: the dataset as it is); each step's parameters are checked.</summary>
    public DatasetView(IEnumerable<ViewStep> steps)
    {
        Steps = steps.ToArray();
        foreach (var s in Steps) Check(s);
    }

    /// <summary>The identity view.</summary>
    public static DatasetView None { get; } = new(Array.Empty<ViewStep>());

    /// <summary>Canonical text: the steps' keys joined by <c>|</c>; empty for the identity.</summary>
    public string Key => string.Join("|", Steps.Select(s => s.Key));

    /// <summary>Throws <see cref="ArgumentException"/> naming the step, the value and what is allowed.</summary>
    public static void Check(ViewStep step)
    {
        switch (step)
        {
            case ClassSubset cs:
                if (cs.Classes.Count == 0) throw new ArgumentException("view classes: [] — name at least one class");
                var dup = cs.Classes.GroupBy(c => c).FirstOrDefault(g => g.Count() > 1);
                if (dup != null) throw new ArgumentException($"view classes: class {dup.Key} is listed twice");
                if (cs.Classes.Any(c => c < 0)) throw new ArgumentException($"view classes: [{string.Join(", ", cs.Classes)}] — classes are ≥ 0");
                break;
            case LabelNoise ln when !(ln.Fraction >= 0 && ln.Fraction <= 1):
                throw new ArgumentException($"view label_noise: fraction {ln.Fraction}; allowed: 0 ≤ fraction ≤ 1");
        }
    }

    /// <summary>The view described by <paramref name="key"/> (<see cref="Key"/>'s form); unknown text is refused.</summary>
    public static DatasetView Parse(string key)
    {
        if (string.IsNullOrEmpty(key)) return None;
        var steps = new List<ViewStep>();
        foreach (var part in key.Split('|'))
        {
            ViewStep step;
            if (part.StartsWith("classes="))
                step = new ClassSubset(part["classes=".Length..].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray());
            else if (part.StartsWith("label_noise="))
            {
                var (v, seed) = ValueAndSeed(part["label_noise=".Length..], part);
                step = new LabelNoise(double.Parse(v, CultureInfo.InvariantCulture), seed);
            }
            else if (part.StartsWith("permute_pixels@")) step = new PermutedPixels(long.Parse(part["permute_pixels@".Length..], CultureInfo.InvariantCulture));
            else if (part.StartsWith("random_labels@")) step = new RandomLabels(long.Parse(part["random_labels@".Length..], CultureInfo.InvariantCulture));
            else throw new FormatException($"dataset view step '{part}' is not known; allowed: classes=…, label_noise=f@seed, permute_pixels@seed, random_labels@seed");
            steps.Add(step);
        }
        return new DatasetView(steps);
    }

    static (string Value, long Seed) ValueAndSeed(string text, string part)
    {
        int at = text.LastIndexOf('@');
        if (at < 0) throw new FormatException($"dataset view step '{part}' needs @seed");
        return (text[..at], long.Parse(text[(at + 1)..], CultureInfo.InvariantCulture));
    }

    /// <summary>New splits with every step applied to <paramref name="source"/>'s train and test sets, named
    /// <c>source-name[key]</c>. The source is not changed and stays the caller's to dispose; the identity view
    /// returns views of its tensors (no copy).</summary>
    public DataSplits Apply(DataSplits source)
    {
        Dataset train = Wrap(source.Train), test = Wrap(source.Test);
        var names = source.ClassNames;
        foreach (var step in Steps)
        {
            var (tri, trl, k) = step.Apply(train, isTrain: true);
            var (tei, tel, _) = step.Apply(test, isTrain: false);
            if (step is ClassSubset cs) names = cs.Classes.Select(c => c < names.Length ? names[c] : c.ToString(CultureInfo.InvariantCulture)).ToArray();
            var nextTrain = new Dataset(train.Name, tri, trl, k, train.Normalization);
            var nextTest = new Dataset(test.Name, tei, tel, k, test.Normalization);
            train.Dispose(); test.Dispose();
            train = nextTrain; test = nextTest;
        }
        string suffix = Steps.Count == 0 ? "" : $"[{Key}]";
        var result = new DataSplits(Rename(train, source.Train.Name + suffix), Rename(test, source.Test.Name + suffix), names);
        return result;
    }

    static Dataset Wrap(Dataset d) =>
        new(d.Name, d.Images.view(d.Images.shape), d.Labels.view(d.Labels.shape), d.NumClasses, d.Normalization);

    static Dataset Rename(Dataset d, string name)
    {
        var r = new Dataset(name, d.Images.view(d.Images.shape), d.Labels.view(d.Labels.shape), d.NumClasses, d.Normalization);
        d.Dispose();
        return r;
    }
}
