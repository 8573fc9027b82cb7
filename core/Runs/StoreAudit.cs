using System.Text.Json;

namespace WarmStart.Core.Runs;

/// <summary>What <see cref="StoreAudit"/> found about one item of a store.</summary>
public enum AuditState
{
    /// <summary>A node version that matches its manifest (every file hashed) and whose JSON files parse.</summary>
    Ok,
    /// <summary>A node version written before manifests existed: readable, not checkable.</summary>
    Legacy,
    /// <summary>A node version (or a study index) that is damaged: never used by a run.</summary>
    Corrupt,
    /// <summary>Scratch left by a killed writer (a version or checkpoint being written, an index being replaced).</summary>
    Orphaned,
    /// <summary>A node some executor is training right now (its lock is held): its scratch is not litter.</summary>
    Busy,
}

/// <summary>One finding: the state, the path (relative to the store), the node key and version when it is one, and why.</summary>
public sealed record AuditItem(AuditState State, string Path, string? Key, string Detail);

/// <summary>
/// Checks every node version of a store against its manifest (all files hashed), parses its JSON files, and finds
/// scratch no live writer owns; with repair, moves corrupt versions into <c>corrupt/</c> (never deleting a result)
/// and removes the scratch. Study indexes are checked by the DSL, which knows their format.
/// </summary>
public static class StoreAudit
{
    /// <summary>Files of a version that must parse as JSON when present.</summary>
    static readonly string[] JsonFiles = { "result.json", "spec.json", "node.json", Provenance.FileName };

    /// <summary>A temporary file of an atomic text write older than this is litter (such a write takes milliseconds).</summary>
    public static readonly TimeSpan StaleTextTemp = TimeSpan.FromMinutes(10);

    /// <summary>Every node's versions and scratch, in key order.</summary>
    public static IReadOnlyList<AuditItem> Nodes(ResultStore store)
    {
        var items = new List<AuditItem>();
        var nodes = Path.Combine(store.Root, "nodes");
        if (!Directory.Exists(nodes)) return items;
        foreach (var shard in Directory.GetDirectories(nodes).OrderBy(d => d, StringComparer.Ordinal))
        foreach (var nodeDir in Directory.GetDirectories(shard).OrderBy(d => d, StringComparer.Ordinal))
        {
            var key = System.IO.Path.GetFileName(nodeDir);
            string rel(string p) => System.IO.Path.GetRelativePath(store.Root, p);
            IDisposable? held;
            try { held = store.TryLockForAudit(key); }
            catch (ArgumentException) { items.Add(new AuditItem(AuditState.Corrupt, rel(nodeDir), null, "not a node key")); continue; }
            try
            {
                foreach (var v in store.Versions(key))
                {
                    var dir = System.IO.Path.Combine(nodeDir, "v" + v);
                    items.Add(CheckVersion(store, key, dir, rel(dir)));
                }
                if (held == null)
                {
                    if (store.ScratchOf(key).Count > 0)
                        items.Add(new AuditItem(AuditState.Busy, rel(nodeDir), key, "being trained (its lock is held); scratch left alone"));
                }
                else
                    foreach (var s in store.ScratchOf(key))
                        items.Add(new AuditItem(AuditState.Orphaned, rel(s), key, "scratch of a killed writer"));
            }
            finally { held?.Dispose(); }
        }
        var studies = Path.Combine(store.Root, "studies");
        if (Directory.Exists(studies))
            foreach (var f in Directory.GetFiles(studies, "*.tmp-*", SearchOption.AllDirectories).OrderBy(p => p, StringComparer.Ordinal))
                if (DateTime.UtcNow - File.GetLastWriteTimeUtc(f) > StaleTextTemp)
                    items.Add(new AuditItem(AuditState.Orphaned, System.IO.Path.GetRelativePath(store.Root, f), null, "temporary file of an interrupted write"));
        return items;
    }

    /// <summary>One version: manifest (every file hashed), JSON files parse, result.json names the node.</summary>
    public static AuditItem CheckVersion(ResultStore store, string key, string dir, string shown)
    {
        var problems = new List<string>(store.CheckVersion(key, dir, hashAll: true));
        foreach (var name in JsonFiles)
        {
            var p = System.IO.Path.Combine(dir, name);
            if (!File.Exists(p) || problems.Any(x => x.StartsWith(name, StringComparison.Ordinal))) continue;
            try
            {
                using var doc = JsonDocument.Parse(File.ReadAllText(p), new JsonDocumentOptions { AllowTrailingCommas = false });
                if (name == "result.json" && (!doc.RootElement.TryGetProperty("Key", out var k) || k.GetString() != key))
                    problems.Add("result.json belongs to another node");
            }
            catch (JsonException e) { problems.Add($"{name} does not parse ({e.Message.Split('.')[0]})"); }
        }
        // A node's key is the SHA-256 of its canonical spec, which the version keeps as spec.json.
        var spec = System.IO.Path.Combine(dir, "spec.json");
        if (File.Exists(spec) && !problems.Any(x => x.StartsWith("spec.json", StringComparison.Ordinal)) && Manifest.Sha256(spec) != key)
            problems.Add("spec.json does not hash to the node's key");
        if (problems.Count > 0) return new AuditItem(AuditState.Corrupt, shown, key, string.Join("; ", problems));
        var legacy = !File.Exists(System.IO.Path.Combine(dir, Manifest.FileName));
        return new AuditItem(legacy ? AuditState.Legacy : AuditState.Ok, shown, key, legacy ? "written before manifests: not checkable" : "ok");
    }

    /// <summary>
    /// Repairs what <see cref="Nodes"/> found: corrupt versions move into their node's <c>corrupt/</c> folder (under
    /// the node's lock; skipped while another executor holds it), orphaned scratch is removed. Returns one line per action.
    /// </summary>
    public static IReadOnlyList<string> Repair(ResultStore store, IEnumerable<AuditItem> items)
    {
        var done = new List<string>();
        foreach (var it in items)
        {
            var full = System.IO.Path.Combine(store.Root, it.Path);
            if (it.State == AuditState.Corrupt && it.Key != null && Directory.Exists(full))
            {
                using var l = store.TryLockForAudit(it.Key);
                if (l == null) { done.Add($"left {it.Path}: node is being trained"); continue; }
                var to = store.Quarantine(it.Key, full, new[] { it.Detail });
                done.Add($"moved {it.Path} to {System.IO.Path.GetRelativePath(store.Root, to)}");
            }
            else if (it.State == AuditState.Orphaned)
            {
                if (it.Key != null)
                {
                    using var l = store.TryLockForAudit(it.Key);
                    if (l == null || !Directory.Exists(full)) continue;
                    Directory.Delete(full, true);
                }
                else if (File.Exists(full)) File.Delete(full);
                done.Add($"removed {it.Path}");
            }
        }
        return done;
    }
}
