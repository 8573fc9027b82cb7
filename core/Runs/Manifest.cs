using System.Security.Cryptography;
using System.Text.Json;

namespace WarmStart.Core.Runs;

/// <summary>One file of a node version as the manifest records it.</summary>
public sealed record ManifestEntry(string Name, long Size, string Sha256);

/// <summary>
/// The manifest of a node version, <c>manifest.json</c>: the SHA-256 and size of every other file of the version.
/// It is written last, after every file is complete and flushed, and before the version is renamed into place, so
/// a version whose files do not match it was damaged after it was written.
/// </summary>
public sealed class Manifest
{
    /// <summary>The manifest's file name inside a version folder.</summary>
    public const string FileName = "manifest.json";

    /// <summary>Files up to this size are hashed on every read; larger ones have their size checked on every read and
    /// are hashed when used (a parent's weights before loading) and by <c>store verify</c>. Chosen so that reading
    /// a small model's node costs well under a millisecond per file while a large model's weights are not hashed
    /// on every cache hit.</summary>
    public const long HashOnReadLimit = 4L << 20;

    /// <summary>Manifest format version.</summary>
    public int Format { get; init; } = 1;

    /// <summary>The node key the version belongs to.</summary>
    public string Key { get; init; } = "";

    /// <summary>Every file of the version but the manifest, by name.</summary>
    public List<ManifestEntry> Files { get; init; } = new();

    static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>SHA-256 of a file, lower-case hex.</summary>
    public static string Sha256(string path)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Convert.ToHexStringLower(SHA256.HashData(f));
    }

    /// <summary>Records every file of <paramref name="dir"/> (flushed to disk first) and writes the manifest, flushed too.</summary>
    public static Manifest Write(string dir, string key)
    {
        var entries = new List<ManifestEntry>();
        foreach (var f in Directory.GetFiles(dir).OrderBy(p => Path.GetFileName(p), StringComparer.Ordinal))
        {
            var name = Path.GetFileName(f);
            if (name == FileName) continue;
            using (var fs = new FileStream(f, FileMode.Open, FileAccess.ReadWrite)) fs.Flush(flushToDisk: true);
            entries.Add(new ManifestEntry(name, new FileInfo(f).Length, Sha256(f)));
        }
        var m = new Manifest { Key = key, Files = entries };
        var path = Path.Combine(dir, FileName);
        using (var fs = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
        {
            JsonSerializer.Serialize(fs, m, Json);
            fs.Flush(flushToDisk: true);
        }
        return m;
    }

    /// <summary>The manifest of a version folder; null when it has none. A manifest that does not parse throws
    /// <see cref="InvalidDataException"/>.</summary>
    public static Manifest? Read(string dir)
    {
        var path = Path.Combine(dir, FileName);
        if (!File.Exists(path)) return null;
        try
        {
            return JsonSerializer.Deserialize<Manifest>(File.ReadAllText(path), Json)
                   ?? throw new InvalidDataException("manifest.json is empty");
        }
        catch (JsonException e) { throw new InvalidDataException($"manifest.json does not parse ({e.Message})"); }
    }

    /// <summary>
    /// The problems of a version folder against its manifest (empty when it is intact). Every file's presence and
    /// size are checked; its hash when <paramref name="hashAll"/> is set or the file is at most
    /// <see cref="HashOnReadLimit"/> bytes. A file the manifest does not list is a problem too. A version without a
    /// manifest is accepted only when it also lacks <c>provenance.json</c> (written before manifests existed).
    /// </summary>
    public static IReadOnlyList<string> Check(string dir, string key, bool hashAll)
    {
        var problems = new List<string>();
        Manifest? m;
        try { m = Read(dir); }
        catch (InvalidDataException e) { return new[] { e.Message }; }
        catch (IOException e) { return new[] { "manifest.json cannot be read (" + e.Message + ")" }; }
        if (m == null)
        {
            if (File.Exists(Path.Combine(dir, Provenance.FileName)))
                problems.Add("manifest.json is missing");
            else if (!File.Exists(Path.Combine(dir, "result.json")))
                problems.Add("result.json is missing (and there is no manifest)");
            return problems;
        }
        if (m.Key != key) problems.Add($"manifest.json names node {m.Key}, not {key}");
        var listed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in m.Files)
        {
            listed.Add(e.Name);
            var p = Path.Combine(dir, e.Name);
            if (!File.Exists(p)) { problems.Add($"{e.Name} is missing"); continue; }
            var size = new FileInfo(p).Length;
            if (size != e.Size) { problems.Add($"{e.Name} is {size} bytes, the manifest says {e.Size}"); continue; }
            if (hashAll || size <= HashOnReadLimit)
            {
                string h;
                try { h = Sha256(p); }
                catch (IOException x) { problems.Add($"{e.Name} cannot be read ({x.Message})"); continue; }
                if (h != e.Sha256) problems.Add($"{e.Name}: SHA-256 mismatch");
            }
        }
        foreach (var f in Directory.GetFiles(dir))
        {
            var n = Path.GetFileName(f);
            if (n != FileName && !listed.Contains(n)) problems.Add($"{n} is not in the manifest");
        }
        return problems;
    }

    /// <summary>Checks one file of a version (size and SHA-256) against its manifest; null when it matches (or the
    /// version predates manifests), else the problem.</summary>
    public static string? CheckFile(string dir, string name)
    {
        Manifest? m;
        try { m = Read(dir); }
        catch (InvalidDataException e) { return e.Message; }
        if (m == null) return File.Exists(Path.Combine(dir, Provenance.FileName)) ? "manifest.json is missing" : null;
        var e2 = m.Files.FirstOrDefault(f => f.Name == name);
        var p = Path.Combine(dir, name);
        if (e2 == null) return File.Exists(p) ? $"{name} is not in the manifest" : $"{name} is missing";
        if (!File.Exists(p)) return $"{name} is missing";
        if (new FileInfo(p).Length != e2.Size) return $"{name} is {new FileInfo(p).Length} bytes, the manifest says {e2.Size}";
        return Sha256(p) == e2.Sha256 ? null : $"{name}: SHA-256 mismatch";
    }
}
