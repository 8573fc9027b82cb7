using static TorchSharp.torch;

namespace WarmStart.Core.Data;

/// <summary>Loads an MNIST-style folder (four IDX files, raw or .gz) into uint8 tensors.</summary>
public static class MnistFormat
{
    /// <summary>The four file stems of the MNIST layout (".gz" optional).</summary>
    public static readonly string[] Stems =
        { "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" };

    /// <summary>The file for <paramref name="stem"/> in <paramref name="dir"/>: the .gz if present, else the raw one, else null.</summary>
    public static string? Locate(string dir, string stem)
    {
        var gz = Path.Combine(dir, stem + ".gz");
        if (File.Exists(gz)) return gz;
        var raw = Path.Combine(dir, stem);
        return File.Exists(raw) ? raw : null;
    }

    /// <summary>Reads one split (images + labels file) and checks the two agree.</summary>
    public static Dataset LoadSplit(string name, string imagesPath, string labelsPath, int numClasses, Normalization norm)
    {
        var images = IdxReader.Read(imagesPath, 3);
        var labels = IdxReader.Read(labelsPath, 1);
        if (images.Dims[0] != labels.Dims[0])
            throw new DataFormatException(labelsPath, $"{labels.Dims[0]} labels but {imagesPath} holds {images.Dims[0]} images");
        foreach (var l in labels.Data)
            if (l >= numClasses) throw new DataFormatException(labelsPath, $"label {l} outside 0..{numClasses - 1}");
        Native.TorchRuntime.EnsureLoaded();
        var x = tensor(images.Data, new long[] { images.Dims[0], 1, images.Dims[1], images.Dims[2] });
        var y = tensor(labels.Data, new long[] { labels.Dims[0] }).to_type(ScalarType.Int64);
        return new Dataset(name, x, y, numClasses, norm);
    }

    /// <summary>Reads both splits from <paramref name="dir"/>.</summary>
    public static DataSplits LoadFolder(string name, string dir, Normalization norm, string[] classNames)
    {
        string Need(string stem) => Locate(dir, stem) ?? throw new DataFormatException(Path.Combine(dir, stem + ".gz"), "file missing");
        var train = LoadSplit(name + "/train", Need(Stems[0]), Need(Stems[1]), classNames.Length, norm);
        try
        {
            var test = LoadSplit(name + "/test", Need(Stems[2]), Need(Stems[3]), classNames.Length, norm);
            return new DataSplits(train, test, classNames);
        }
        catch { train.Dispose(); throw; }
    }
}
