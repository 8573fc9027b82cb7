using System.Text;

namespace WarmStart.Core.Runs;

/// <summary>
/// A folder of node results keyed by content hash: <c>nodes/&lt;k0k1&gt;/&lt;key&gt;/v&lt;N&gt;/</c> holds one complete
/// version of a node's result files. A version is written into a temporary folder and renamed into place, so a
/// kill at any moment leaves either the whole version or none. Nothing is ever deleted: a recomputation
/// (<c>--rerun</c>) adds version N+1 and readers take the highest complete version; a version whose files no longer
/// match its manifest is moved aside into <c>corrupt/</c>, never deleted. Per-node file locks keep two
/// executors (threads or processes) from training the same node at once; the operating system releases a
/// lock when its holder dies.
/// </summary>
public sealed class ResultStore
{
    /// <summary>The store's root folder.</summary>
    public string Root { get; }

    /// <summary>Opens (and creates) a store at <paramref name="root"/>.</summary>
    /// <exception cref="StoreException">The folder cannot be created or is not a folder (one line for the user).</exception>
    public ResultStore(string root)
    {
        Root = Path.GetFullPath(root);
        if (File.Exists(Root))
            throw new StoreException(Root, "opening the store", new IOException("it is a file, not a folder"));
        StoreException.Guard(Root, "creating the store's folders", () =>
        {
            Directory.CreateDirectory(Path.Combine(Root, "nodes"));
            Directory.CreateDirectory(Path.Combine(Root, "studies"));
        });
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
    /// Writes a new version of a node: <paramref name="write"/> fills a fresh temporary folder; then the provenance
    /// (when given) and, last, the manifest (SHA-256 and size of every file, all flushed to disk) are written, and
    /// the folder is renamed to <c>v(N+1)</c>. If anything throws, the temporary folder is removed and no version
    /// appears; an IO failure (disk full, permissions) becomes a <see cref="StoreException"/>. Returns the new
    /// version's folder.
    /// </summary>
    public string Commit(string key, Action<string> write, Provenance? provenance = null)
    {
        var dir = NodeFolder(key);
        var tmp = Path.Combine(dir, $"{TempPrefix}{Environment.ProcessId}-{Guid.NewGuid():N}");
        return StoreException.Guard(Root, $"writing node {key[..8]}", () =>
        {
            Directory.CreateDirectory(dir);
            Directory.CreateDirectory(tmp);
            try
            {
                write(tmp);
                provenance?.Write(tmp);
                Manifest.Write(tmp, key);
                while (true)
                {
                    var target = Path.Combine(dir, "v" + NextVersion(key));
                    try { Directory.Move(tmp, target); return target; }
                    catch (IOException) when (Directory.Exists(target)) { /* another writer took that number: next */ }
                }
            }
            catch
            {
                try { if (Directory.Exists(tmp)) Directory.Delete(tmp, true); } catch { /* leave litter, never a version */ }
                throw;
            }
        });
    }

    /// <summary>The number a new version of a node gets: one past every version it has had, those moved aside
    /// into <c>corrupt/</c> included, so a retrained node never reuses the number of a damaged version.</summary>
    int NextVersion(string key)
    {
        var vs = Versions(key);
        var last = vs.Count == 0 ? 0 : vs[^1];
        var aside = Path.Combine(NodeFolder(key), CorruptFolder);
        if (Directory.Exists(aside))
            foreach (var d in Directory.GetDirectories(aside))
            {
                var n = Path.GetFileName(d);
                var digits = new string(n.Skip(1).TakeWhile(char.IsDigit).ToArray());
                if (n.StartsWith('v') && int.TryParse(digits, out var v)) last = Math.Max(last, v);
            }
        return last + 1;
    }

    /// <summary>The name prefix of a version being written (a folder in the node's folder).</summary>
    public const string TempPrefix = ".tmp-";

    /// <summary>The folder, inside a node's folder, that corrupt versions are moved into (never deleted).</summary>
    public const string CorruptFolder = "corrupt";

    /// <summary>
    /// The problems of a node version against its manifest (empty when intact): sizes and small files always, every
    /// file's hash when <paramref name="hashAll"/> is set. See <see cref="Manifest.Check"/>.
    /// </summary>
    public IReadOnlyList<string> CheckVersion(string key, string versionDir, bool hashAll = false) =>
        Manifest.Check(versionDir, key, hashAll);

    /// <summary>
    /// Moves a corrupt version aside, into <c>corrupt/vN</c> of its node (a suffix when that exists), with a
    /// <c>vN.reason.txt</c> beside it; results are never deleted. Call it while holding the node's lock. Returns
    /// the new place.
    /// </summary>
    public string Quarantine(string key, string versionDir, IEnumerable<string> problems)
    {
        var aside = Path.Combine(NodeFolder(key), CorruptFolder);
        return StoreException.Guard(Root, $"moving a corrupt version of node {key[..8]} aside", () =>
        {
            Directory.CreateDirectory(aside);
            var name = Path.GetFileName(versionDir.TrimEnd(Path.DirectorySeparatorChar));
            var target = Path.Combine(aside, name);
            for (int i = 2; Directory.Exists(target); i++) target = Path.Combine(aside, $"{name}-{i}");
            Directory.Move(versionDir, target);
            File.WriteAllText(target + ".reason.txt",
                $"moved aside {DateTime.UtcNow:O}{Environment.NewLine}{string.Join(Environment.NewLine, problems)}{Environment.NewLine}");
            return target;
        });
    }

    /// <summary>
    /// Scratch folders of a node that no live writer owns: versions being written (<c>.tmp-*</c>) and checkpoints
    /// being written (<c>checkpoint.tmp-*</c>, or <c>checkpoint.old</c> beside a complete <c>checkpoint</c>) left by
    /// a killed process. Only meaningful while holding the node's lock (writers hold it while they write).
    /// </summary>
    public IReadOnlyList<string> ScratchOf(string key)
    {
        var dir = NodeFolder(key);
        if (!Directory.Exists(dir)) return Array.Empty<string>();
        var list = new List<string>();
        foreach (var d in Directory.GetDirectories(dir))
        {
            var n = Path.GetFileName(d);
            if (n.StartsWith(TempPrefix, StringComparison.Ordinal) || n.StartsWith("checkpoint.tmp-", StringComparison.Ordinal)
                || (n == "checkpoint.old" && Directory.Exists(Path.Combine(dir, "checkpoint"))))
                list.Add(d);
        }
        return list;
    }

    /// <summary>Removes the scratch folders of <see cref="ScratchOf"/>; call it while holding the node's lock.
    /// Returns the folders removed.</summary>
    public IReadOnlyList<string> RemoveScratch(string key)
    {
        var gone = new List<string>();
        foreach (var d in ScratchOf(key))
        {
            try { Directory.Delete(d, true); gone.Add(d); }
            catch (IOException) { /* a later run or `store verify --repair` tries again */ }
            catch (UnauthorizedAccessException) { }
        }
        return gone;
    }

    /// <summary>Writes a file atomically (temp file + rename) — for study indexes and reports outside node folders.</summary>
    public static void WriteAllTextAtomic(string path, string text)
    {
        var full = Path.GetFullPath(path);
        var tmp = full + $".tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        StoreException.Guard(Path.GetDirectoryName(full)!, $"writing {Path.GetFileName(full)}", () =>
        {
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(full)!);
                File.WriteAllText(tmp, text, new UTF8Encoding(false));
                File.Move(tmp, full, overwrite: true);
            }
            catch
            {
                try { File.Delete(tmp); } catch { /* nothing more to do */ }
                throw;
            }
        });
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
        StoreException.Guard(Root, $"creating node {key[..8]}'s folder", () => Directory.CreateDirectory(dir));
        FileStream held;
        try
        {
            held = new FileStream(Path.Combine(dir, ".lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None,
                1, FileOptions.None);
        }
        catch (UnauthorizedAccessException e) { throw new StoreException(Root, $"locking node {key[..8]}", e); }
        catch (IOException e) when (IsHeldElsewhere(e)) { return null; }
        catch (IOException e) { throw new StoreException(Root, $"locking node {key[..8]}", e); }
        // Holding the lock means no live writer is inside this node: what a killed one left is litter.
        RemoveScratch(key);
        return held;
    }

    /// <summary>True when opening the lock failed because another holder has it (EWOULDBLOCK from flock, a
    /// sharing violation), as opposed to a store that cannot be written (read-only, full), which must not be
    /// waited on forever.</summary>
    static bool IsHeldElsewhere(IOException e) =>
        (e.HResult & 0xFFFF) is 11 or 32 or 33 || e.Message.Contains("being used by another process", StringComparison.Ordinal);

    /// <summary>
    /// Takes a node's lock without waiting and without creating anything or cleaning its scratch (what an audit
    /// needs: it must not change a store it only reports on); null when another executor holds it.
    /// </summary>
    public IDisposable? TryLockForAudit(string key)
    {
        var path = Path.Combine(NodeFolder(key), ".lock");
        try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None); }
        catch (IOException e) when (IsHeldElsewhere(e)) { return null; }
        // A store we cannot write (read-only): nobody writes into it through us, so audit it as if locked.
        catch (IOException) { return new NoLock(); }
        catch (UnauthorizedAccessException) { return new NoLock(); }
    }

    sealed class NoLock : IDisposable { public void Dispose() { } }

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
}
