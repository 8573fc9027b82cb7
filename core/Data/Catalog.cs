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
                ("t10k-labels-idx1-ubyte.gz", 5148, "bb300cfdad3c16e7a12a480ee83cd310") }));
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
    }

    static DatasetEntry Mnist(string name, string folder, string[] classes, Normalization norm, string? deb,
        string baseUrl, (string File, long Size, string Md5)[] files) =>
        new(name, folder, 1, 28, 28, classes, norm,
            files.Select(f => new DataFile(f.File, baseUrl + f.File, f.Size, f.Md5)).ToArray(),
            deb,
            dir => MnistFormat.Stems.All(s => MnistFormat.Locate(dir, s) != null),
            (dir, n) => MnistFormat.LoadFolder(name, dir, n, classes));

    /// <summary>Adds or replaces an entry (later issues register CIFAR and SVHN; tests register fixtures).</summary>
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
        return e.Load(dir, normalization ?? e.Normalization);
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
