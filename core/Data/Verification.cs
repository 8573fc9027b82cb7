using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace WarmStart.Core.Data;

/// <summary>Where a dataset stands on this machine.</summary>
public enum DataState
{
    /// <summary>Not found in any data root.</summary>
    Missing,
    /// <summary>Present but never verified (placed by hand, or no checksum covers it); it loads.</summary>
    Unverified,
    /// <summary>Verified against the published checksums (or the archive they cover) and unchanged since.</summary>
    Verified,
    /// <summary>Installed by a Debian package; dpkg's own md5sums cover it.</summary>
    SystemPackage,
    /// <summary>A verified file changed (size or time) since verification; it is not loaded until re-verified.</summary>
    Modified,
    /// <summary>A checksum did not match; it is never loaded.</summary>
    Failed,
}

/// <summary>The state of one dataset, with the folder it was found in and a one-line explanation.</summary>
public sealed record DatasetStatus(string Name, DataState State, string? Folder, string Detail)
{
    /// <summary>True when the catalog may load it (everything but missing, modified and failed).</summary>
    public bool Loadable => State is DataState.Verified or DataState.SystemPackage or DataState.Unverified;
}

/// <summary>The outcome of checking one file.</summary>
public sealed record FileCheck(string File, bool Ok, string Detail)
{
    /// <summary>Not a failure: no checksum covers the file (it still loads).</summary>
    public bool Unverifiable { get; init; }
}

/// <summary>The outcome of <see cref="Verification.Verify"/>: the dataset's new state and each file's result.</summary>
public sealed record VerifyReport(string Name, DataState State, string? Folder, IReadOnlyList<FileCheck> Files, string Detail);

/// <summary>One file recorded in a dataset folder's verification marker.</summary>
public sealed class VerifiedFile
{
    /// <summary>Size in bytes when verified.</summary>
    public long Size { get; set; }
    /// <summary>MD5 (lower-case hex) when verified.</summary>
    public string Md5 { get; set; } = "";
    /// <summary>Last write time (UTC) when verified: a cheap change detector for the load path.</summary>
    public DateTime ModifiedUtc { get; set; }
    /// <summary>What the MD5 was checked against ("published MD5", "member of … (published MD5 …)", "no published checksum").</summary>
    public string Basis { get; set; } = "";
    /// <summary>Set when verification failed: the file is never loaded.</summary>
    public string? Failed { get; set; }
}

/// <summary>
/// The verification marker, <c>.warmstart-verified.json</c> in a dataset folder: written only after a checksum
/// check (by <c>warmstart data fetch</c> or <c>verify</c>), atomically, one entry per file. The load path reads it
/// (no hashing): a failed or changed file stops the load.
/// </summary>
public sealed class VerifiedMarker
{
    /// <summary>Per file name.</summary>
    public Dictionary<string, VerifiedFile> Files { get; set; } = new(StringComparer.Ordinal);

    static readonly JsonSerializerOptions Json = new() { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>The marker in <paramref name="dir"/>, or null when there is none (or it is unreadable).</summary>
    public static VerifiedMarker? Read(string dir)
    {
        var p = Path.Combine(dir, Verification.MarkerName);
        if (!File.Exists(p)) return null;
        try { return JsonSerializer.Deserialize<VerifiedMarker>(File.ReadAllText(p), Json); }
        catch (JsonException) { return new VerifiedMarker { Files = { ["(marker)"] = new VerifiedFile { Failed = "the verification marker is unreadable" } } }; }
    }

    /// <summary>Writes the marker into <paramref name="dir"/> atomically (temporary file, then rename).</summary>
    public void Write(string dir)
    {
        var p = Path.Combine(dir, Verification.MarkerName);
        var tmp = p + "." + Guid.NewGuid().ToString("N") + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(this, Json));
        File.Move(tmp, p, overwrite: true);
    }

    /// <summary>Records <paramref name="path"/> as verified with <paramref name="md5"/>.</summary>
    public void Record(string path, string md5, string basis)
    {
        var info = new FileInfo(path);
        Files[info.Name] = new VerifiedFile { Size = info.Length, Md5 = md5, ModifiedUtc = info.LastWriteTimeUtc, Basis = basis };
    }
}

/// <summary>
/// Checks datasets against checksums. Three sources of truth, in order: (1) the folder's verification marker,
/// written after a download matched the published MD5 (for archives: the archive's MD5, with the MD5 of each
/// extracted file recorded); (2) for a Debian-installed copy, dpkg's own <c>/var/lib/dpkg/info/&lt;pkg&gt;.md5sums</c>
/// (Debian re-compresses Fashion-MNIST, so the authors' MD5s cannot match it); (3) the published per-file MD5s.
/// <see cref="Quick"/> is the load path's cheap check (no hashing); <see cref="Verify"/> re-hashes what is on disk.
/// </summary>
public static class Verification
{
    /// <summary>File name of the marker in a dataset folder.</summary>
    public const string MarkerName = ".warmstart-verified.json";
    /// <summary>dpkg's info folder (the md5sums files).</summary>
    public const string DefaultDpkgInfoDir = "/var/lib/dpkg/info";

    /// <summary>MD5 of a file, lower-case hex.</summary>
    public static string Md5Of(string path)
    {
        using var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexStringLower(MD5.HashData(s));
    }

    /// <summary>dpkg's MD5s for <paramref name="package"/>, keyed by absolute path; null when dpkg lists none.</summary>
    public static Dictionary<string, string>? DpkgMd5s(string? package, string? dpkgInfoDir = null)
    {
        if (package is null) return null;
        var dir = dpkgInfoDir ?? DefaultDpkgInfoDir;
        if (!Directory.Exists(dir)) return null;
        var file = Path.Combine(dir, package + ".md5sums");
        if (!File.Exists(file)) file = Directory.EnumerateFiles(dir, package + ":*.md5sums").FirstOrDefault() ?? "";
        if (!File.Exists(file)) return null;
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(file))
        {
            var parts = line.Split(' ', 2, StringSplitOptions.TrimEntries);
            if (parts.Length == 2 && parts[0].Length == 32) map["/" + parts[1].TrimStart('/')] = parts[0].ToLowerInvariant();
        }
        return map;
    }

    /// <summary>dpkg's MD5 for each of the entry's files in <paramref name="dir"/>, or null unless dpkg covers all of them.</summary>
    static Dictionary<string, string>? DpkgCover(DatasetEntry e, string dir, string? dpkgInfoDir)
    {
        var map = DpkgMd5s(e.DebianPackage, dpkgInfoDir);
        if (map is null) return null;
        var cover = new Dictionary<string, string>();
        foreach (var f in e.Files)
        {
            var full = Path.GetFullPath(Path.Combine(dir, f.Name));
            if (!map.TryGetValue(full, out var md5)) return null;
            cover[f.Name] = md5;
        }
        return cover;
    }

    /// <summary>The cheap check the load path runs: reads the marker and file sizes/times, never hashes.</summary>
    public static DatasetStatus Quick(DatasetEntry e, string dir, string? dpkgInfoDir = null)
    {
        var marker = VerifiedMarker.Read(dir);
        if (marker != null)
        {
            foreach (var (name, v) in marker.Files)
                if (v.Failed != null && (name == "(marker)" || e.Files.Any(f => f.Name == name)))
                    return new(e.Name, DataState.Failed, dir, $"{name}: {v.Failed}");
            var unlisted = new List<string>();
            foreach (var f in e.Files)
            {
                var p = Path.Combine(dir, f.Name);
                if (!marker.Files.TryGetValue(f.Name, out var v)) { unlisted.Add(f.Name); continue; }
                var info = new FileInfo(p);
                if (!info.Exists) return new(e.Name, DataState.Modified, dir, $"{f.Name} was verified but is gone");
                if (info.Length != v.Size || info.LastWriteTimeUtc != v.ModifiedUtc)
                    return new(e.Name, DataState.Modified, dir,
                        $"{f.Name} changed since it was verified ({(info.Length != v.Size ? $"size {info.Length}, was {v.Size}" : "modification time differs")}); run: warmstart data verify {e.Name}");
            }
            if (unlisted.Count == 0) return new(e.Name, DataState.Verified, dir, "verified (" + marker.Files[e.Files[0].Name].Basis + ")");
            if (unlisted.Count < e.Files.Count)
                return new(e.Name, DataState.Unverified, dir, $"not verified: {string.Join(", ", unlisted)}; run: warmstart data verify {e.Name}");
        }
        if (DpkgCover(e, dir, dpkgInfoDir) != null)
            return new(e.Name, DataState.SystemPackage, dir, $"system package {e.DebianPackage} (dpkg's md5sums; check with: warmstart data verify {e.Name})");
        return new(e.Name, DataState.Unverified, dir, $"not verified; run: warmstart data verify {e.Name}");
    }

    /// <summary>
    /// Re-checks what is on disk and records the outcome in the marker (where the folder is writable): the marker's
    /// recorded MD5s, else dpkg's md5sums for a system package, else the published MD5s, else (for a dataset that
    /// comes as an archive) the archive itself when it is next to the folder. A mismatch is recorded as failed, so the
    /// dataset is not loaded until fetched again.
    /// </summary>
    public static VerifyReport Verify(DatasetEntry e, string dir, string? dpkgInfoDir = null)
    {
        var checks = new List<FileCheck>();
        var marker = VerifiedMarker.Read(dir);
        if (marker != null && marker.Files.ContainsKey("(marker)")) marker = null; // unreadable: start again
        var dpkg = DpkgCover(e, dir, dpkgInfoDir);
        bool anyFailed = false, anyUnverified = false;
        var updated = marker ?? new VerifiedMarker();
        string? archiveMd5 = null; bool archiveTried = false;
        Dictionary<string, string>? archiveMembers = null;

        foreach (var f in e.Files)
        {
            var p = Path.Combine(dir, f.Name);
            if (!File.Exists(p) && f.Name.EndsWith(".gz", StringComparison.Ordinal) && File.Exists(p[..^3]))
            {
                // The loader reads the uncompressed file as well; the published MD5 is of the .gz, so it cannot vouch for it.
                checks.Add(new(f.Name[..^3], false,
                    $"uncompressed copy of {f.Name}: it loads, but the published MD5 is of the .gz; to verify, put {f.Name} beside it or run: warmstart data fetch {e.Name} --data-root DIR")
                    { Unverifiable = true });
                anyUnverified = true;
                continue;
            }
            if (!File.Exists(p)) { checks.Add(new(f.Name, false, "missing")); anyFailed = true; continue; }
            var md5 = Md5Of(p);
            VerifiedFile? known = null;
            marker?.Files.TryGetValue(f.Name, out known);
            if (known != null && known.Failed == null && known.Md5.Length == 32)
            {
                // The published checksum (when the file has one) outranks what the marker recorded.
                var expected = f.Md5 ?? known.Md5;
                if (md5 == expected) { checks.Add(new(f.Name, true, $"MD5 {md5} matches ({known.Basis})")); updated.Record(p, md5, known.Basis); }
                else { checks.Add(new(f.Name, false, $"MD5 {md5} does not match {expected} ({known.Basis})")); Fail(updated, f.Name, p, md5, $"MD5 {md5} does not match {expected}"); anyFailed = true; }
            }
            else if (dpkg != null)
            {
                var expected = dpkg[f.Name];
                var note = f.Md5 != null && f.Md5 != md5 ? "; the authors' MD5 differs because Debian re-compressed the file" : "";
                if (md5 == expected) checks.Add(new(f.Name, true, $"MD5 {md5} matches dpkg's md5sums of {e.DebianPackage}{note}"));
                else { checks.Add(new(f.Name, false, $"MD5 {md5} does not match dpkg's {expected} ({e.DebianPackage}); reinstall: apt-get install --reinstall {e.DebianPackage}")); anyFailed = true; }
            }
            else if (f.Md5 != null)
            {
                if (md5 == f.Md5) { checks.Add(new(f.Name, true, $"MD5 {md5} matches the published MD5")); updated.Record(p, md5, "published MD5"); }
                else { checks.Add(new(f.Name, false, $"MD5 {md5} does not match the published {f.Md5}")); Fail(updated, f.Name, p, md5, $"MD5 {md5} does not match the published {f.Md5}"); anyFailed = true; }
            }
            else if (e.Archive?.Md5 != null)
            {
                if (!archiveTried)
                {
                    archiveTried = true;
                    var arch = FindArchive(e, dir);
                    if (arch != null)
                    {
                        archiveMd5 = Md5Of(arch);
                        if (archiveMd5 == e.Archive.Md5) archiveMembers = Download.SafeTar.MemberMd5s(arch, e.Folder);
                    }
                }
                if (archiveMembers == null)
                {
                    checks.Add(new(f.Name, false, archiveMd5 == null
                        ? $"no published checksum for the extracted file; place {e.Archive.Name} next to the folder or run: warmstart data fetch {e.Name}"
                        : $"the archive {e.Archive.Name} next to the folder has MD5 {archiveMd5}, not the published {e.Archive.Md5}")
                        { Unverifiable = archiveMd5 == null });
                    anyUnverified = true;
                }
                else if (archiveMembers.TryGetValue(f.Name, out var m) && m == md5)
                {
                    var basis = $"member of {e.Archive.Name} (published MD5 {e.Archive.Md5})";
                    checks.Add(new(f.Name, true, $"MD5 {md5} matches the {basis}")); updated.Record(p, md5, basis);
                }
                else
                {
                    checks.Add(new(f.Name, false, $"MD5 {md5} differs from the file in {e.Archive.Name}"));
                    Fail(updated, f.Name, p, md5, $"differs from the file in {e.Archive.Name}"); anyFailed = true;
                }
            }
            else { checks.Add(new(f.Name, false, "no published checksum to verify against") { Unverifiable = true }); anyUnverified = true; }
        }

        if (dpkg == null) TryWrite(updated, dir);
        var state = anyFailed ? DataState.Failed : anyUnverified ? DataState.Unverified : dpkg != null && marker == null ? DataState.SystemPackage : DataState.Verified;
        var detail = state switch
        {
            DataState.Failed => $"verification FAILED: {checks.Count(c => !c.Ok)} of {checks.Count} files; the dataset will not be loaded; fetch it again: warmstart data fetch {e.Name}",
            DataState.Unverified => "cannot be verified: no checksum covers some files",
            DataState.SystemPackage => $"system package {e.DebianPackage}, verified by dpkg's md5sums ({checks.Count} files)",
            _ => $"verified ({checks.Count} files)",
        };
        return new VerifyReport(e.Name, state, dir, checks, detail);
    }

    static void Fail(VerifiedMarker m, string name, string path, string md5, string why)
    {
        m.Record(path, md5, "verification");
        m.Files[name].Failed = why;
    }

    static void TryWrite(VerifiedMarker m, string dir)
    {
        if (m.Files.Count == 0) return;
        try { m.Write(dir); }
        catch (UnauthorizedAccessException) { }
        catch (IOException) { }
    }

    /// <summary>The entry's archive if it lies in the data root above <paramref name="dir"/> or in its .downloads folder.</summary>
    static string? FindArchive(DatasetEntry e, string dir)
    {
        if (e.Archive is null) return null;
        var root = Path.GetDirectoryName(Path.GetFullPath(dir).TrimEnd(Path.DirectorySeparatorChar)) ?? dir;
        foreach (var p in new[] { Path.Combine(root, e.Archive.Name), Path.Combine(root, Download.DatasetFetcher.DownloadsFolder, e.Archive.Name) })
            if (File.Exists(p)) return p;
        return null;
    }
}
