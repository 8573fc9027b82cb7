using WarmStart.Core.Native;
using static TorchSharp.torch;

namespace WarmStart.Core.Data;

/// <summary>Which of CIFAR-100's two labels a split carries.</summary>
public enum Cifar100Label
{
    /// <summary>The 100 fine classes (the default).</summary>
    Fine,
    /// <summary>The 20 coarse superclasses.</summary>
    Coarse,
}

/// <summary>
/// Reads the binary versions of CIFAR-10 and CIFAR-100 as the official archives extract them. A CIFAR-10 record
/// is 1 label byte + 3072 pixel bytes; a CIFAR-100 record is a coarse label byte, a fine label byte and 3072
/// pixel bytes. Pixels are three 32×32 channel planes (R, G, B), each row-major, so a record's pixels already
/// are one CHW image: records are copied into a uint8 [N, 3, 32, 32] tensor one 3072-byte block at a time (no
/// per-pixel work, no float copy). Every defect (missing file, a size that is not a whole number of records, a
/// label out of range, a class-name file with the wrong number of names) is a <see cref="DataFormatException"/>
/// naming the file.
/// </summary>
public static class CifarFormat
{
    /// <summary>Pixel bytes per image (3 × 32 × 32).</summary>
    public const int ImageBytes = 3 * 32 * 32;

    /// <summary>Folder that cifar-10-binary.tar.gz extracts to.</summary>
    public const string Cifar10Folder = "cifar-10-batches-bin";
    /// <summary>Folder that cifar-100-binary.tar.gz extracts to.</summary>
    public const string Cifar100Folder = "cifar-100-binary";

    /// <summary>The five CIFAR-10 training batches, 10 000 records each.</summary>
    public static readonly string[] Cifar10TrainFiles =
        { "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin" };
    /// <summary>The CIFAR-10 test batch, 10 000 records.</summary>
    public const string Cifar10TestFile = "test_batch.bin";
    /// <summary>CIFAR-10's class-name file (one name a line).</summary>
    public const string Cifar10MetaFile = "batches.meta.txt";
    /// <summary>The CIFAR-100 training file, 50 000 records.</summary>
    public const string Cifar100TrainFile = "train.bin";
    /// <summary>The CIFAR-100 test file, 10 000 records.</summary>
    public const string Cifar100TestFile = "test.bin";
    /// <summary>CIFAR-100's fine class names (one a line).</summary>
    public const string Cifar100FineNamesFile = "fine_label_names.txt";
    /// <summary>CIFAR-100's coarse class names (one a line).</summary>
    public const string Cifar100CoarseNamesFile = "coarse_label_names.txt";

    /// <summary>CIFAR-10's classes in label order (as in batches.meta.txt).</summary>
    public static readonly string[] Cifar10Classes =
        { "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck" };

    /// <summary>CIFAR-100's fine classes in label order (as in fine_label_names.txt).</summary>
    public static readonly string[] Cifar100FineClasses =
    {
        "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
        "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
        "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
        "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
        "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
        "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
        "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
        "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
        "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
        "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
    };

    /// <summary>CIFAR-100's coarse classes in label order (as in coarse_label_names.txt).</summary>
    public static readonly string[] Cifar100CoarseClasses =
    {
        "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
        "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
        "large_man-made_outdoor_things", "large_natural_outdoor_scenes", "large_omnivores_and_herbivores",
        "medium_mammals", "non-insect_invertebrates", "people", "reptiles", "small_mammals", "trees",
        "vehicles_1", "vehicles_2",
    };

    /// <summary>
    /// Reads record files into one split. Each record holds <paramref name="labelLimits"/>.Length label bytes
    /// (each checked against its limit) then <see cref="ImageBytes"/> pixels; the label at
    /// <paramref name="labelIndex"/> becomes the split's label.
    /// </summary>
    public static Dataset ReadSplit(string name, IReadOnlyList<string> files, int[] labelLimits, int labelIndex, Normalization norm)
    {
        if (files.Count == 0) throw new ArgumentException("no record files given", nameof(files));
        if (labelIndex < 0 || labelIndex >= labelLimits.Length) throw new ArgumentOutOfRangeException(nameof(labelIndex));
        int labelBytes = labelLimits.Length;
        int record = labelBytes + ImageBytes;
        var counts = new long[files.Count];
        long total = 0;
        for (int f = 0; f < files.Count; f++)
        {
            var info = new FileInfo(files[f]);
            if (!info.Exists) throw new DataFormatException(files[f], "file missing");
            if (info.Length == 0) throw new DataFormatException(files[f], "file is empty");
            if (info.Length % record != 0)
                throw new DataFormatException(files[f],
                    $"{info.Length} bytes is not a whole number of {record}-byte records ({labelBytes} label byte(s) + {ImageBytes} pixels): " +
                    $"the last record is truncated ({info.Length % record} bytes of {record})");
            counts[f] = info.Length / record;
            total += counts[f];
        }

        TorchRuntime.EnsureLoaded();
        var images = empty(new long[] { total, 3, 32, 32 }, dtype: ScalarType.Byte);
        var labels = new byte[total];
        try
        {
            const int chunkRecords = 1024;
            var buffer = new byte[chunkRecords * record];
            long at = 0;
            for (int f = 0; f < files.Count; f++)
            {
                using var stream = new FileStream(files[f], FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
                for (long done = 0; done < counts[f];)
                {
                    int k = (int)Math.Min(chunkRecords, counts[f] - done);
                    try { stream.ReadExactly(buffer, 0, k * record); }
                    catch (EndOfStreamException) { throw new DataFormatException(files[f], "file became shorter while it was read"); }
                    // One contiguous slice of the image tensor per chunk: at most 1024 × 3072 bytes, well inside a Span.
                    using var slice = images.narrow(0, at, k);
                    var dest = slice.bytes;
                    for (int r = 0; r < k; r++)
                    {
                        int off = r * record;
                        for (int l = 0; l < labelBytes; l++)
                            if (buffer[off + l] >= labelLimits[l])
                                throw new DataFormatException(files[f],
                                    $"record {done + r}: {LabelName(labelBytes, l)} {buffer[off + l]} outside 0..{labelLimits[l] - 1}");
                        labels[at + r] = buffer[off + labelIndex];
                        buffer.AsSpan(off + labelBytes, ImageBytes).CopyTo(dest.Slice(r * ImageBytes, ImageBytes));
                    }
                    done += k; at += k;
                }
            }
            var y = tensor(labels, new long[] { total }).to_type(ScalarType.Int64);
            return new Dataset(name, images, y, labelLimits[labelIndex], norm);
        }
        catch { images.Dispose(); throw; }
    }

    static string LabelName(int labelBytes, int l) => labelBytes == 1 ? "label" : l == 0 ? "coarse label" : "fine label";

    /// <summary>Class names from a meta file (one a line, blank lines ignored); the count must be <paramref name="expected"/>.</summary>
    public static string[] ReadClassNames(string path, int expected)
    {
        string[] names;
        try { names = File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray(); }
        catch (IOException e) { throw new DataFormatException(path, $"cannot read class names ({e.Message})"); }
        if (names.Length != expected)
            throw new DataFormatException(path, $"{names.Length} class names where {expected} were expected");
        return names;
    }

    /// <summary>The class names in <paramref name="dir"/>/<paramref name="file"/> if that file exists, else <paramref name="fallback"/>.</summary>
    static string[] NamesOrDefault(string dir, string file, string[] fallback)
    {
        var p = Path.Combine(dir, file);
        return File.Exists(p) ? ReadClassNames(p, fallback.Length) : fallback;
    }

    /// <summary>True when <paramref name="dir"/> holds the six CIFAR-10 batch files.</summary>
    public static bool IsCifar10Folder(string dir) =>
        Cifar10TrainFiles.Append(Cifar10TestFile).All(f => File.Exists(Path.Combine(dir, f)));

    /// <summary>True when <paramref name="dir"/> holds CIFAR-100's train.bin and test.bin.</summary>
    public static bool IsCifar100Folder(string dir) =>
        File.Exists(Path.Combine(dir, Cifar100TrainFile)) && File.Exists(Path.Combine(dir, Cifar100TestFile));

    /// <summary>Loads CIFAR-10 (50 000 train, 10 000 test in the official files) from <paramref name="dir"/>.</summary>
    public static DataSplits LoadCifar10(string dir, Normalization norm, string name = "cifar10")
    {
        var classes = NamesOrDefault(dir, Cifar10MetaFile, Cifar10Classes);
        var limits = new[] { 10 };
        var train = ReadSplit(name + "/train", Cifar10TrainFiles.Select(f => Path.Combine(dir, f)).ToArray(), limits, 0, norm);
        try { return new DataSplits(train, ReadSplit(name + "/test", new[] { Path.Combine(dir, Cifar10TestFile) }, limits, 0, norm), classes); }
        catch { train.Dispose(); throw; }
    }

    /// <summary>Loads CIFAR-100 from <paramref name="dir"/> with its fine (default) or coarse labels; class names come
    /// from fine_label_names.txt / coarse_label_names.txt when present.</summary>
    public static DataSplits LoadCifar100(string dir, Normalization norm, Cifar100Label label = Cifar100Label.Fine, string name = "cifar100")
    {
        var classes = label == Cifar100Label.Fine
            ? NamesOrDefault(dir, Cifar100FineNamesFile, Cifar100FineClasses)
            : NamesOrDefault(dir, Cifar100CoarseNamesFile, Cifar100CoarseClasses);
        var limits = new[] { 20, 100 };
        int index = label == Cifar100Label.Fine ? 1 : 0;
        var train = ReadSplit(name + "/train", new[] { Path.Combine(dir, Cifar100TrainFile) }, limits, index, norm);
        try { return new DataSplits(train, ReadSplit(name + "/test", new[] { Path.Combine(dir, Cifar100TestFile) }, limits, index, norm), classes); }
        catch { train.Dispose(); throw; }
    }
}
