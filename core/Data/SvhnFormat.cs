using WarmStart.Core.Native;
using static TorchSharp.torch;

namespace WarmStart.Core.Data;

/// <summary>
/// Reads SVHN cropped digits (<c>train_32x32.mat</c>, <c>test_32x32.mat</c>, <c>extra_32x32.mat</c>): MAT-files
/// with <c>X</c>, a 32×32×3×N uint8 array stored column-major, and <c>y</c>, N×1 labels 1..10 where 10 means the
/// digit 0. Column-major 32×32×3×N means each image's 3072 bytes are ordered [channel][column][row], i.e. a
/// row-major [3, W, H] block: the reader streams blocks of images straight into a uint8 tensor and swaps the last
/// two axes with one tensor copy (no per-pixel managed loop, no managed copy of the whole array).
/// </summary>
public static class SvhnFormat
{
    /// <summary>The folder SVHN's files live in under a data root.</summary>
    public const string Folder = "svhn";
    /// <summary>The training file.</summary>
    public const string TrainFile = "train_32x32.mat";
    /// <summary>The test file.</summary>
    public const string TestFile = "test_32x32.mat";
    /// <summary>The extra (easier) training file.</summary>
    public const string ExtraFile = "extra_32x32.mat";
    /// <summary>Class names: the digits 0..9 (label 0 is the file's 10).</summary>
    public static readonly string[] Classes = Enumerable.Range(0, 10).Select(i => i.ToString()).ToArray();

    const int ChunkImages = 2048;

    /// <summary>Number of images in <paramref name="path"/> (reads headers only, validating X's shape).</summary>
    public static long CountImages(string path)
    {
        using var r = new MatFileReader(path);
        for (var v = r.Next(); v != null; v = r.Next())
            if (v.Name == "X") return CheckImages(path, v);
        throw new DataFormatException(path, "no variable 'X' (the images)");
    }

    static long CheckImages(string path, MatArrayInfo x)
    {
        if (x.Class != MatClass.UInt8 || x.RealType != MatDataType.UInt8)
            throw new DataFormatException(path, $"X has class {x.Class} stored as {x.RealType?.ToString() ?? "nothing"}; SVHN images are uint8");
        if (x.IsComplex) throw new DataFormatException(path, "X is complex; SVHN images are real uint8");
        if (x.Dims.Length != 4 || x.Dims[0] != 32 || x.Dims[1] != 32 || x.Dims[2] != 3)
            throw new DataFormatException(path, $"X has dimensions {x.Shape}; SVHN cropped digits are 32×32×3×N");
        if (x.Dims[3] == 0) throw new DataFormatException(path, "X holds no images (N = 0)");
        return x.Dims[3];
    }

    /// <summary>
    /// Reads one file into <paramref name="images"/> (uint8 [≥ offset + N, 3, 32, 32], rows from
    /// <paramref name="offset"/>) and <paramref name="labels"/> (from <paramref name="offset"/>); returns N.
    /// </summary>
    static long ReadInto(string path, Tensor images, byte[] labels, long offset, long expected)
    {
        using var r = new MatFileReader(path);
        long n = -1;
        double[]? y = null;
        var seen = new List<string>();
        for (var v = r.Next(); v != null; v = r.Next())
        {
            seen.Add(v.Name);
            if (v.Name == "X")
            {
                if (n >= 0) throw new DataFormatException(path, "two variables named 'X'");
                n = CheckImages(path, v);
                if (n != expected) throw new DataFormatException(path, $"X holds {n} images where a first pass found {expected} (file changed while read?)");
                using var scratch = empty(new long[] { Math.Min(ChunkImages, n), 3, 32, 32 }, dtype: ScalarType.Byte);
                for (long s = 0; s < n; s += ChunkImages)
                {
                    long k = Math.Min(ChunkImages, n - s);
                    using var part = scratch.narrow(0, 0, k);
                    r.ReadReal(part.bytes);          // raw order: [k][channel][column][row]
                    using var dest = images.narrow(0, offset + s, k);
                    using var t = part.transpose(2, 3); // → [k][channel][row][column] = NCHW
                    dest.copy_(t);
                }
            }
            else if (v.Name == "y")
            {
                if (y != null) throw new DataFormatException(path, "two variables named 'y'");
                if (!v.IsNumeric) throw new DataFormatException(path, $"y has class {v.Class}; SVHN labels are numeric");
                if (v.IsComplex) throw new DataFormatException(path, "y is complex; SVHN labels are real");
                if (v.Dims.Length != 2 || (v.Dims[1] != 1 && v.Dims[0] != 1))
                    throw new DataFormatException(path, $"y has dimensions {v.Shape}; SVHN labels are N×1");
                y = r.ReadRealAsDoubles();
            }
        }
        if (n < 0) throw new DataFormatException(path, $"no variable 'X' (the images); found: {Describe(seen)}");
        if (y is null) throw new DataFormatException(path, $"no variable 'y' (the labels); found: {Describe(seen)}");
        if (y.Length != n) throw new DataFormatException(path, $"{y.Length} labels in y but {n} images in X");
        for (int i = 0; i < y.Length; i++)
        {
            double v = y[i];
            if (!(v >= 1 && v <= 10) || v != Math.Floor(v))
                throw new DataFormatException(path, $"label {v} at index {i} is outside 1..10 (SVHN stores digit 0 as 10)");
            labels[offset + i] = (byte)(v == 10 ? 0 : v);
        }
        return n;
    }

    static string Describe(List<string> names) => names.Count == 0 ? "no variables" : string.Join(", ", names.Select(n => $"'{n}'"));

    /// <summary>Reads one or more SVHN files (e.g. train + extra) into one split, allocating the image tensor once.</summary>
    public static Dataset ReadSplit(string name, IReadOnlyList<string> files, Normalization norm)
    {
        if (files.Count == 0) throw new ArgumentException("no files given", nameof(files));
        var counts = files.Select(CountImages).ToArray();
        long total = counts.Sum();
        if (total > int.MaxValue) throw new DataFormatException(files[0], $"{total} images are more than one split can index");
        TorchRuntime.EnsureLoaded();
        var images = empty(new long[] { total, 3, 32, 32 }, dtype: ScalarType.Byte);
        try
        {
            var labels = new byte[total];
            long at = 0;
            for (int f = 0; f < files.Count; f++) at += ReadInto(files[f], images, labels, at, counts[f]);
            var y = tensor(labels, new long[] { total }).to_type(ScalarType.Int64);
            return new Dataset(name, images, y, 10, norm);
        }
        catch { images.Dispose(); throw; }
    }

    /// <summary>Reads a single file as a split.</summary>
    public static Dataset ReadFile(string path, Normalization norm, string? name = null) =>
        ReadSplit(name ?? System.IO.Path.GetFileNameWithoutExtension(path), new[] { path }, norm);

    /// <summary>True when <paramref name="dir"/> holds the train and test files (and the extra file when <paramref name="extra"/>).</summary>
    public static bool IsPresentIn(string dir, bool extra) =>
        File.Exists(System.IO.Path.Combine(dir, TrainFile)) && File.Exists(System.IO.Path.Combine(dir, TestFile))
        && (!extra || File.Exists(System.IO.Path.Combine(dir, ExtraFile)));

    /// <summary>Loads SVHN from <paramref name="dir"/>: train (plus extra when <paramref name="extra"/>) and test.</summary>
    public static DataSplits Load(string dir, Normalization norm, bool extra, string name)
    {
        var trainFiles = extra
            ? new[] { System.IO.Path.Combine(dir, TrainFile), System.IO.Path.Combine(dir, ExtraFile) }
            : new[] { System.IO.Path.Combine(dir, TrainFile) };
        var train = ReadSplit(name + "/train", trainFiles, norm);
        try { return new DataSplits(train, ReadSplit(name + "/test", new[] { System.IO.Path.Combine(dir, TestFile) }, norm), Classes); }
        catch { train.Dispose(); throw; }
    }
}
