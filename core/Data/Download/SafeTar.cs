using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;

namespace WarmStart.Core.Data.Download;

/// <summary>An archive holds an entry that could write outside the target folder or is not a plain file or
/// folder (link, device, FIFO …). Nothing of such an archive is kept.</summary>
public sealed class UnsafeArchiveException : Exception
{
    /// <summary>The archive.</summary>
    public string Archive { get; }
    /// <summary>The offending entry's name.</summary>
    public string Entry { get; }

    /// <summary>Creates the error.</summary>
    public UnsafeArchiveException(string archive, string entry, string why)
        : base($"{archive}: unsafe entry '{entry}': {why}; the archive was rejected and nothing was extracted")
    { Archive = archive; Entry = entry; }
}

/// <summary>
/// Extracts <c>.tar.gz</c> archives with <see cref="System.Formats.Tar"/>, accepting only regular files and folders
/// whose names stay inside the target: an absolute name, a <c>..</c> segment, a symbolic or hard link, a device, a FIFO
/// or any other special entry rejects the whole archive (the caller extracts into a fresh staging folder and deletes it).
/// A damaged archive is a <see cref="DataFormatException"/>.
/// </summary>
public static class SafeTar
{
    /// <summary>
    /// Extracts <paramref name="archive"/> into <paramref name="target"/>; returns the files written (relative paths).
    /// The archive is extracted into a staging folder beside the target first and moved into place only when every
    /// entry passed, so a rejected or damaged archive leaves nothing in the target. A file that already exists in the
    /// target is never replaced: the whole extraction is refused before anything moves.
    /// </summary>
    public static IReadOnlyList<string> ExtractTarGz(string archive, string target)
    {
        var root = Path.GetFullPath(target).TrimEnd(Path.DirectorySeparatorChar);
        var parent = Path.GetDirectoryName(root) ?? root;
        Directory.CreateDirectory(parent);
        var staging = Path.Combine(parent, $".{Path.GetFileName(root)}.extract-{Guid.NewGuid():N}");
        try
        {
            var written = ExtractInto(archive, staging);
            var clash = written.FirstOrDefault(f => File.Exists(Path.Combine(root, f)) || Directory.Exists(Path.Combine(root, f)));
            if (clash != null)
                throw new IOException($"{archive}: '{clash}' already exists in {root}; nothing was extracted");
            Directory.CreateDirectory(root);
            foreach (var d in Directory.GetDirectories(staging, "*", SearchOption.AllDirectories))
                Directory.CreateDirectory(Path.Combine(root, Path.GetRelativePath(staging, d)));
            foreach (var f in written)
                File.Move(Path.Combine(staging, f), Path.Combine(root, f), overwrite: false);
            return written;
        }
        finally
        {
            try { if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true); } catch (IOException) { /* litter, never a partial target */ }
        }
    }

    static List<string> ExtractInto(string archive, string target)
    {
        Directory.CreateDirectory(target);
        var root = Path.GetFullPath(target);
        if (!root.EndsWith(Path.DirectorySeparatorChar)) root += Path.DirectorySeparatorChar;
        var written = new List<string>();
        Walk(archive, (entry, name) =>
        {
            var full = Path.GetFullPath(Path.Combine(root, name));
            if (entry.EntryType == TarEntryType.Directory)
            {
                Directory.CreateDirectory(full);
                return;
            }
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            // CreateNew: a second entry with the same name (or one replacing something we made) is refused, not followed.
            using var output = new FileStream(full, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
            entry.DataStream?.CopyTo(output);
            written.Add(Path.GetRelativePath(root, full));
        });
        return written;
    }

    /// <summary>The MD5 of every regular file under <paramref name="folder"/>/ in the archive, keyed by the name below
    /// that folder (used to verify extracted files against an archive whose MD5 was published). Applies the same checks.</summary>
    public static Dictionary<string, string> MemberMd5s(string archive, string folder)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        var prefix = folder.TrimEnd('/') + "/";
        Walk(archive, (entry, name) =>
        {
            if (entry.EntryType == TarEntryType.Directory || !name.StartsWith(prefix, StringComparison.Ordinal)) return;
            var hash = entry.DataStream is null ? MD5.HashData(Array.Empty<byte>()) : MD5.HashData(entry.DataStream);
            map[name[prefix.Length..]] = Convert.ToHexStringLower(hash);
        });
        return map;
    }

    /// <summary>Checks an entry name: relative, no <c>..</c>, no NUL; returns it with '/' separators and no leading "./".</summary>
    public static string CheckName(string archive, string name)
    {
        if (string.IsNullOrEmpty(name)) throw new UnsafeArchiveException(archive, name, "empty name");
        if (name.Contains('\0')) throw new UnsafeArchiveException(archive, name, "NUL in the name");
        var n = name.Replace('\\', '/');
        if (n.StartsWith('/') || (n.Length >= 2 && n[1] == ':') || n.StartsWith("~"))
            throw new UnsafeArchiveException(archive, name, "absolute path");
        var segments = n.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Any(s => s == ".."))
            throw new UnsafeArchiveException(archive, name, "'..' would escape the target folder");
        var clean = string.Join('/', segments.Where(s => s != "."));
        if (clean.Length == 0) throw new UnsafeArchiveException(archive, name, "names the target folder itself");
        return clean;
    }

    static void Walk(string archive, Action<TarEntry, string> onEntry)
    {
        try
        {
            using var file = new FileStream(archive, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            using var gz = new GZipStream(file, CompressionMode.Decompress);
            using var reader = new TarReader(gz);
            int entries = 0;
            TarEntry? entry;
            while ((entry = reader.GetNextEntry()) != null)
            {
                switch (entry.EntryType)
                {
                    case TarEntryType.GlobalExtendedAttributes:
                        continue; // metadata only
                    case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile or TarEntryType.Directory:
                        entries++;
                        onEntry(entry, CheckName(archive, entry.Name));
                        break;
                    case TarEntryType.SymbolicLink:
                        throw new UnsafeArchiveException(archive, entry.Name, $"symbolic link (to '{entry.LinkName}')");
                    case TarEntryType.HardLink:
                        throw new UnsafeArchiveException(archive, entry.Name, $"hard link (to '{entry.LinkName}')");
                    case TarEntryType.CharacterDevice or TarEntryType.BlockDevice:
                        throw new UnsafeArchiveException(archive, entry.Name, "device file");
                    case TarEntryType.Fifo:
                        throw new UnsafeArchiveException(archive, entry.Name, "FIFO");
                    default:
                        throw new UnsafeArchiveException(archive, entry.Name, $"unsupported entry type {entry.EntryType}");
                }
            }
            if (entries == 0) throw new DataFormatException(archive, "the archive holds no files");
        }
        catch (InvalidDataException e) { throw new DataFormatException(archive, $"corrupt archive ({e.Message})"); }
        catch (FormatException e) { throw new DataFormatException(archive, $"corrupt tar data ({e.Message})"); }
        catch (EndOfStreamException) { throw new DataFormatException(archive, "the archive is truncated"); }
        catch (ArgumentException e) { throw new DataFormatException(archive, $"corrupt tar header ({e.Message})"); }
    }
}
