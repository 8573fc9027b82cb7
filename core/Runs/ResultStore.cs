using System.Text;

namespace WarmStart.Core.Runs;

/// <summary>
/// A folder of node results keyed by content hash: <c>nodes/&lt;k0k1&gt;/&lt;key&gt;/v&lt;N&gt;/</c> holds one complete
/// version of a node's result files. A version is written into a temporary folder and renamed into place, so a
/// kill at any moment leaves either the whole version or none. Nothing is ever deleted: a recomputation
/// (<c>--rerun</c>) adds version N+1 and readers take the highest complete version. Per-node file locks keep two
/// executors (threads or processes) from training the same node at once; the operating system releases a
/// lock when its holder dies.
/// </summary>
public sealed class ResultStore
{
    /// <summary>The store's root folder.</summary>
    public string Root { get; }

    /// <summary>Opens (and creates) a store at <paramref name="root"/>.</summary>
    public ResultStore(string root)
    {
        Root = Path.GetFullPath(root);
        Directory.CreateDirectory(Path.Combine(Root, "nodes"));
        Directory.CreateDirectory(Path.Combine(Root, "studies"));
    }

    static void CheckKey(string key)
    {
        if (key.Length < 8 || !key.All(c => (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            throw new ArgumentException($"'{key}' is not a node key (lowercase hex)");
    }

    /// <summary>The folder of all versions of a node.</summary>
    public string NodeFolder(string key)
    {
        CheckKey(key);
        return Path.Combine(Root, "nodes", key.Substring(0, 2), key);
    }

    /// <summary>Complete versions of a node, ascending.</summary>
    public IReadOnlyList<int> Versions(string key)
    {
        var dir = NodeFolder(key);
        if (!Directory.Exists(dir)) return Array.Empty<int>();
        return Directory.GetDirectories(dir)
            .Select(Path.GetFileName)
            .Where(n => n != null && n.Length > 1 && n[0] == 'v' && n.Skip(1).All(char.IsDigit))
            .Select(n => int.Parse(n!.Substring(1)))
            .OrderBy(v => v).ToArray();
    }

    /// <summary>The folder of the latest complete version of a node, or null when it has none.</summary>
    public string? Latest(string key)
    {
        var vs = Versions(key);
        return vs.Count == 0 ? null : Path.Combine(NodeFolder(key), "v" + vs[^1]);
    }

    /// <summary>True when the node has a complete result.</summary>
    public bool Has(string key) => Latest(key) != null;

    /// <summary>
    /// Writes a new version of a node: <paramref name="write"/> fills a fresh temporary folder, which is then
    /// renamed to <c>v(N+1)</c>. If <paramref name="write"/> throws, the temporary folder is removed and no
    /// version appears. Returns the new version's folder.
    /// </summary>
    public string Commit(string key, Action<string> write)
    {
        var dir = NodeFolder(key);
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, $".tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(tmp);
        try
        {
            write(tmp);
            FsyncFolder(tmp);
            while (true)
            {
                var vs = Versions(key);
                var target = Path.Combine(dir, "v" + ((vs.Count == 0 ? 0 : vs[^1]) + 1));
                try { Directory.Move(tmp, target); return target; }
                catch (IOException) when (Directory.Exists(target)) { /* another writer took that number: next */ }
            }
        }
        catch
        {
            try { if (Directory.Exists(tmp)) Directory.Delete(tmp, true); } catch { /* leave litter, never a version */ }
            throw;
        }
    }

    /// <summary>Writes a file atomically (temp file + rename) — for study indexes and reports outside node folders.</summary>
    public static void WriteAllTextAtomic(string path, string text)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var tmp = full + $".tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        File.WriteAllText(tmp, text, new UTF8Encoding(false));
        File.Move(tmp, full, overwrite: true);
    }

    /// <summary>The folder of a study's index and summaries.</summary>
    public string StudyFolder(string study) => Path.Combine(Root, "studies", study);

    /// <summary>Names of the studies recorded in this store.</summary>
    public IReadOnlyList<string> Studies() =>
        Directory.GetDirectories(Path.Combine(Root, "studies")).Select(d => Path.GetFileName(d)!).OrderBy(n => n).ToArray();

    /// <summary>
    /// Takes the node's exclusive lock without waiting; null when another executor holds it. Dispose to release.
    /// The lock is an OS file lock (flock), so a killed holder never leaves it stuck.
    /// </summary>
    public IDisposable? TryLock(string key)
    {
        var dir = NodeFolder(key);
        Directory.CreateDirectory(dir);
        try
        {
            return new FileStream(Path.Combine(dir, ".lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None,
                1, FileOptions.None);
        }
        catch (IOException) { return null; }
    }

    /// <summary>Takes the node's lock, waiting (polling every <paramref name="poll"/>) while another executor holds it.</summary>
    public IDisposable Lock(string key, TimeSpan poll, CancellationToken cancel = default)
    {
        while (true)
        {
            var l = TryLock(key);
            if (l != null) return l;
            cancel.ThrowIfCancellationRequested();
            Thread.Sleep(poll);
        }
    }

    static void FsyncFolder(string dir)
    {
        // Flush file contents before the rename makes them visible (a crash must not leave a renamed empty file).
        foreach (var f in Directory.GetFiles(dir))
        {
            using var fs = new FileStream(f, FileMode.Open, FileAccess.ReadWrite);
            fs.Flush(flushToDisk: true);
        }
    }
}
