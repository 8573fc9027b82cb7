namespace WarmStart.Core.Data;

/// <summary>One file of a dataset as published: name in the dataset folder, source address, size and MD5
/// (null where the dataset authors publish none — never invented).</summary>
public sealed record DataFile(string Name, string? Url, long? Size, string? Md5);

/// <summary>A dataset the toolkit knows: its folder name under a data root, shape, classes, normalisation,
/// the files it needs, how to install it, and how to load it from a folder.</summary>
public sealed record DatasetEntry(
    string Name,
    string Folder,
    int Channels, int Height, int Width,
    string[] ClassNames,
    Normalization Normalization,
    IReadOnlyList<DataFile> Files,
    string? DebianPackage,
    Func<string, bool> IsPresentIn,
    Func<string, Normalization, DataSplits> Load)
{
    /// <summary>Number of classes.</summary>
    public int NumClasses => ClassNames.Length;

    /// <summary>The published archive that <see cref="Files"/> are extracted from (CIFAR), or null when the files are
    /// published one by one. Its folder inside the archive is <see cref="Folder"/>.</summary>
    public DataFile? Archive { get; init; }

    /// <summary>Examples in the published training split (what a study's pool is drawn from), or null when not
    /// known before loading (e.g. a subset registered by a script). Validation and planning read it.</summary>
    public int? TrainCount { get; init; }

    /// <summary>Training examples of every class when the published training split is balanced (Fashion-MNIST 6,000,
    /// CIFAR-10 5,000, CIFAR-100 500 per fine class, 2,500 per coarse one), else null: then the pool size of a
    /// class-subset view is known before loading, so validation checks a study's <c>subset</c> and chunks against it.</summary>
    public int? TrainCountPerClass { get; init; }

    /// <summary>Examples in the published test split, or null when not known before loading.</summary>
    public int? TestCount { get; init; }

    /// <summary>The dataset's home page.</summary>
    public string? Homepage { get; init; }

    /// <summary>Where the checksums come from, or why there are none (shown by <c>warmstart data list</c>).</summary>
    public string? ChecksumSource { get; init; }

    /// <summary>The normalisation for <paramref name="mode"/>: the dataset's own statistics, the authors' code
    /// (mean 0.5, sd 0.5 per channel), or none (just scaling to [0, 1]).</summary>
    public Normalization NormalizationFor(NormalizationMode mode) => mode switch
    {
        NormalizationMode.Dataset => Normalization,
        NormalizationMode.Authors => Normalization.Half(Channels),
        NormalizationMode.None => Normalization.Identity(Channels),
        _ => throw new ArgumentOutOfRangeException(nameof(mode)),
    };

    /// <summary>Bytes to download to fetch it (the archive, or the published files).</summary>
    public long? DownloadSize => Archive != null ? Archive.Size
        : Files.All(f => f.Size.HasValue) ? Files.Sum(f => f.Size!.Value) : null;
}

/// <summary>Which per-channel normalisation a study uses.</summary>
public enum NormalizationMode
{
    /// <summary>The dataset's training-set mean and standard deviation (the catalog's constants).</summary>
    Dataset,
    /// <summary>The authors' code (Ash &amp; Adams): mean 0.5, sd 0.5 for every channel, mapping [0, 1] to [-1, 1].</summary>
    Authors,
    /// <summary>No normalisation beyond scaling to [0, 1].</summary>
    None,
}

/// <summary>The datasets the toolkit can resolve by name, and where they are on this machine.</summary>
public static class Catalog
{
    static readonly Dictionary<string, DatasetEntry> Entries = new(StringComparer.OrdinalIgnoreCase);

    static Catalog()
    {
        Register(Mnist("fashion-mnist", "fashion-mnist",
            new[] { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot" },
            new Normalization(new[] { 0.2860 }, new[] { 0.3530 }),
            "dataset-fashion-mnist",
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            new (string, long, string)[] {
                ("train-images-idx3-ubyte.gz", 26421880, "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
                ("train-labels-idx1-ubyte.gz", 29515, "25c81989df183df01b3e8a0aad5dffbe"),
                ("t10k-images-idx3-ubyte.gz", 4422102, "bef4ecab320f06d8554ea6380940ec79"),
                ("t10k-labels-idx1-ubyte.gz", 5148, "bb300cfdad3c16e7a12a480ee83cd310") }) with { TrainCountPerClass = 6000 });
        Register(Mnist("mnist", "mnist",
            Enumerable.Range(0, 10).Select(i => i.ToString()).ToArray(),
            new Normalization(new[] { 0.1307 }, new[] { 0.3081 }),
            null,
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            new (string, long, string)[] {
                ("train-images-idx3-ubyte.gz", 9912422, "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
                ("train-labels-idx1-ubyte.gz", 28881, "d53e105ee54ea40749a09fcbcd1e9432"),
                ("t10k-images-idx3-ubyte.gz", 1648877, "9fb629c4189551a2d022fa330f9573f3"),
                ("t10k-labels-idx1-ubyte.gz", 4542, "ec29112dd5afa0611ce80d1b7f02629c") }));

        // CIFAR: the binary versions from https://www.cs.toronto.edu/~kriz/cifar.html, which publishes one MD5 per
        // archive (none for the files inside). The extracted files' sizes follow from the record format.
        const string cifarHome = "https://www.cs.toronto.edu/~kriz/cifar.html";
        var cifar10Files = CifarFormat.Cifar10TrainFiles.Append(CifarFormat.Cifar10TestFile)
            .Select(f => new DataFile(f, null, 10000L * (1 + CifarFormat.ImageBytes), null)).ToArray();
        Register(new DatasetEntry("cifar10", CifarFormat.Cifar10Folder, 3, 32, 32, CifarFormat.Cifar10Classes,
            // Training-set per-channel mean and standard deviation (of pixels scaled to [0, 1]).
            new Normalization(new[] { 0.4914, 0.4822, 0.4465 }, new[] { 0.2470, 0.2435, 0.2616 }),
            cifar10Files, null,
            CifarFormat.IsCifar10Folder,
            (dir, n) => CifarFormat.LoadCifar10(dir, n, "cifar10"))
        {
            Archive = new DataFile("cifar-10-binary.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
                170052171, "c32a1d4ab5d03f1284b67883e8d87530"),
            Homepage = cifarHome, TrainCount = 50000, TestCount = 10000, TrainCountPerClass = 5000,
            ChecksumSource = "archive MD5 published on the CIFAR page; extracted files are recorded at extraction",
        });
        var cifar100Files = new[]
        {
            new DataFile(CifarFormat.Cifar100TrainFile, null, 50000L * (2 + CifarFormat.ImageBytes), null),
            new DataFile(CifarFormat.Cifar100TestFile, null, 10000L * (2 + CifarFormat.ImageBytes), null),
        };
        var cifar100Archive = new DataFile("cifar-100-binary.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
            168513733, "03b5dce01913d631647c71ecec9e9cb8");
        var cifar100Norm = new Normalization(new[] { 0.5071, 0.4865, 0.4409 }, new[] { 0.2673, 0.2564, 0.2762 });
        Register(new DatasetEntry("cifar100", CifarFormat.Cifar100Folder, 3, 32, 32, CifarFormat.Cifar100FineClasses,
            cifar100Norm, cifar100Files, null,
            CifarFormat.IsCifar100Folder,
            (dir, n) => CifarFormat.LoadCifar100(dir, n, Cifar100Label.Fine, "cifar100"))
        {
            Archive = cifar100Archive, Homepage = cifarHome, TrainCount = 50000, TestCount = 10000, TrainCountPerClass = 500,
            ChecksumSource = "archive MD5 published on the CIFAR page; extracted files are recorded at extraction",
        });
        // The same files with the 20 coarse superclasses as labels.
        Register(new DatasetEntry("cifar100-coarse", CifarFormat.Cifar100Folder, 3, 32, 32, CifarFormat.Cifar100CoarseClasses,
            cifar100Norm, cifar100Files, null,
            CifarFormat.IsCifar100Folder,
            (dir, n) => CifarFormat.LoadCifar100(dir, n, Cifar100Label.Coarse, "cifar100-coarse"))
        {
            Archive = cifar100Archive, Homepage = cifarHome, TrainCount = 50000, TestCount = 10000, TrainCountPerClass = 2500,
            ChecksumSource = "archive MD5 published on the CIFAR page; extracted files are recorded at extraction",
        });

        // SVHN cropped digits (format 2): http://ufldl.stanford.edu/housenumbers/ publishes no checksums; these are the
        // per-file MD5s torchvision's SVHN dataset checks.
        const string svhnBase = "http://ufldl.stanford.edu/housenumbers/";
        var svhnNorm = new Normalization(new[] { 0.4377, 0.4438, 0.4728 }, new[] { 0.1980, 0.2010, 0.1970 });
        var svhnTrain = new DataFile(SvhnFormat.TrainFile, svhnBase + SvhnFormat.TrainFile, 182040794, "e26dedcc434d2e4c54c9b2d4a06d8373");
        var svhnTest = new DataFile(SvhnFormat.TestFile, svhnBase + SvhnFormat.TestFile, 64275384, "eb5a983be6a315427106f1b164d9cef3");
        var svhnExtra = new DataFile(SvhnFormat.ExtraFile, svhnBase + SvhnFormat.ExtraFile, 1329278602, "a93ce644f1a588dc4d68dda5feec44a7");
        Register(new DatasetEntry("svhn", SvhnFormat.Folder, 3, 32, 32, SvhnFormat.Classes, svhnNorm,
            new[] { svhnTrain, svhnTest }, null,
            dir => SvhnFormat.IsPresentIn(dir, extra: false),
            (dir, n) => SvhnFormat.Load(dir, n, extra: false, "svhn"))
        {
            Homepage = svhnBase, TrainCount = 73257, TestCount = 26032,
            ChecksumSource = "the authors publish none; per-file MD5s as torchvision checks them",
        });
        // Training split = train ∪ extra (604 388 digits), test as usual; shares the svhn folder.
        Register(new DatasetEntry("svhn-extra", SvhnFormat.Folder, 3, 32, 32, SvhnFormat.Classes, svhnNorm,
            new[] { svhnTrain, svhnTest, svhnExtra }, null,
            dir => SvhnFormat.IsPresentIn(dir, extra: true),
            (dir, n) => SvhnFormat.Load(dir, n, extra: true, "svhn-extra"))
        {
            Homepage = svhnBase, TrainCount = 73257 + 531131, TestCount = 26032,
            ChecksumSource = "the authors publish none; per-file MD5s as torchvision checks them",
        });
    }

    static DatasetEntry Mnist(string name, string folder, string[] classes, Normalization norm, string? deb,
        string baseUrl, (string File, long Size, string Md5)[] files) =>
        new(name, folder, 1, 28, 28, classes, norm,
            files.Select(f => new DataFile(f.File, baseUrl + f.File, f.Size, f.Md5)).ToArray(),
            deb,
            dir => MnistFormat.Stems.All(s => MnistFormat.Locate(dir, s) != null),
            (dir, n) => MnistFormat.LoadFolder(name, dir, n, classes))
        {
            Homepage = baseUrl, TrainCount = 60000, TestCount = 10000,
            ChecksumSource = "per-file MD5s published with the dataset",
        };

    /// <summary>Adds or replaces an entry (tests register fixtures).</summary>
    public static void Register(DatasetEntry entry) { lock (Entries) Entries[entry.Name] = entry; }

    /// <summary>All known names, sorted.</summary>
    public static IReadOnlyList<string> Names { get { lock (Entries) return Entries.Keys.OrderBy(k => k).ToArray(); } }

    /// <summary>The entry for <paramref name="name"/>, or an <see cref="ArgumentException"/> listing the known names.</summary>
    public static DatasetEntry Get(string name)
    {
        lock (Entries)
            if (Entries.TryGetValue(name, out var e)) return e;
        throw new ArgumentException($"unknown dataset '{name}'; known datasets: {string.Join(", ", Names)}");
    }

    /// <summary>True when <paramref name="name"/> is a known dataset.</summary>
    public static bool Contains(string name) { lock (Entries) return Entries.ContainsKey(name); }

    /// <summary>The folder holding <paramref name="name"/>, searching the roots in order; null if absent everywhere.</summary>
    public static string? Locate(string name, string? dataRoot = null)
    {
        var e = Get(name);
        return DataRoots.Search(dataRoot).Select(r => Path.Combine(r.Root, e.Folder)).FirstOrDefault(e.IsPresentIn);
    }

    /// <summary>Loads both splits of <paramref name="name"/>, or throws <see cref="DatasetNotFoundException"/>
    /// listing every place looked and the remedies.</summary>
    public static DataSplits Load(string name, string? dataRoot = null, Normalization? normalization = null)
    {
        var e = Get(name);
        var dir = Locate(name, dataRoot) ?? throw NotFound(e, dataRoot);
        var status = Verification.Quick(e, dir);
        if (!status.Loadable) throw new DataVerificationException(e.Name, dir, status.Detail);
        return e.Load(dir, normalization ?? e.Normalization);
    }

    /// <summary>Where <paramref name="name"/> stands on this machine (first root that holds it), without hashing.</summary>
    public static DatasetStatus Status(string name, string? dataRoot = null)
    {
        var e = Get(name);
        var dir = Locate(name, dataRoot);
        return dir is null
            ? new DatasetStatus(e.Name, DataState.Missing, null, "missing")
            : Verification.Quick(e, dir);
    }

    /// <summary>The user-facing "not found" error: every folder searched, then what to do.</summary>
    public static DatasetNotFoundException NotFound(DatasetEntry e, string? dataRoot)
    {
        var lines = new List<string> { $"dataset '{e.Name}' was not found. Looked in:" };
        lines.AddRange(DataRoots.Search(dataRoot).Select(r => $"  {Path.Combine(r.Root, e.Folder)}  ({r.Origin})"));
        lines.Add("Remedies:");
        if (e.DebianPackage != null) lines.Add($"  apt-get install -y {e.DebianPackage}     (installs into /usr/share/datasets)");
        lines.Add($"  warmstart data fetch {e.Name}     (downloads into {DataRoots.UserCache()})");
        lines.Add($"  or put the files ({string.Join(", ", e.Files.Select(f => f.Name))}) in a folder '{e.Folder}' under --data-root DIR or ${DataRoots.EnvVar}");
        return new DatasetNotFoundException(string.Join(Environment.NewLine, lines));
    }
}
