namespace WarmStart.Core.Data.Download;

/// <summary>Options of <see cref="DatasetFetcher.FetchAsync"/>.</summary>
public sealed class FetchOptions
{
    /// <summary>A mirror: a base address the file names are appended to, or the address of the file itself.</summary>
    public Uri? Mirror { get; init; }
    /// <summary>The HTTP client (one is made when null).</summary>
    public HttpClient? Http { get; init; }
    /// <summary>Progress of each transfer.</summary>
    public Action<DownloadProgress>? Progress { get; init; }
    /// <summary>One-line notes: what is fetched, skipped, verified, extracted.</summary>
    public Action<string>? Log { get; init; }
    /// <summary>Transfers tried per file (each retry resumes).</summary>
    public int Attempts { get; init; } = 4;
    /// <summary>Pause before the first retry.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// <c>warmstart data fetch</c>: downloads a catalog dataset into a data root and leaves it verified, or leaves nothing
/// in its place. Published files (MNIST, SVHN) are downloaded one by one, each checked against its MD5 before it is
/// moved into the dataset folder. Archives (CIFAR) are downloaded to <c>ROOT/.downloads</c>, checked against the
/// published MD5, extracted by <see cref="SafeTar"/> into a fresh staging folder, given a verification marker that
/// records each extracted file's MD5, and only then moved into place with one directory rename. A file already present
/// is re-hashed, never skipped just because it exists.
/// </summary>
public static class DatasetFetcher
{
    /// <summary>Folder under the data root for archives being downloaded.</summary>
    public const string DownloadsFolder = ".downloads";

    /// <summary>Where to get <paramref name="f"/>: its published address, or the mirror.</summary>
    public static Uri SourceFor(DataFile f, Uri? mirror)
    {
        if (mirror is null)
            return new Uri(f.Url ?? throw new DownloadException($"{f.Name} has no published address; give a mirror with --from URL"));
        var m = mirror.ToString();
        if (mirror.AbsolutePath.EndsWith("/" + f.Name, StringComparison.Ordinal)) return mirror;
        if (!m.EndsWith('/')) m += "/";
        return new Uri(new Uri(m), Uri.EscapeDataString(f.Name));
    }

    /// <summary>Fetches <paramref name="e"/> into <paramref name="root"/>; returns the dataset folder.</summary>
    public static async Task<string> FetchAsync(DatasetEntry e, string root, FetchOptions o, CancellationToken ct = default)
    {
        root = Path.GetFullPath(root);
        Directory.CreateDirectory(root);
        var dir = Path.Combine(root, e.Folder);
        var ownClient = o.Http is null;
        var http = o.Http ?? NewClient();
        try
        {
            if (e.Archive != null)
            {
                if (Directory.Exists(dir) && e.IsPresentIn(dir))
                {
                    var report = Verification.Verify(e, dir);
                    if (report.State == DataState.Verified)
                    {
                        o.Log?.Invoke($"{e.Name}: already present in {dir} and verified");
                        return dir;
                    }
                    o.Log?.Invoke($"{e.Name}: present in {dir} but {report.State.ToString().ToLowerInvariant()}; fetching again");
                }
                await FetchArchiveAsync(e, root, dir, http, o, ct).ConfigureAwait(false);
            }
            else await FetchFilesAsync(e, dir, http, o, ct).ConfigureAwait(false);
            return dir;
        }
        finally { if (ownClient) http.Dispose(); }
    }

    /// <summary>An HTTP client suited to large downloads (connect timeout; the transfer itself has an idle timeout).</summary>
    public static HttpClient NewClient()
    {
        var handler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(30), AutomaticDecompression = System.Net.DecompressionMethods.None };
        var http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.UserAgent.ParseAdd("warmstart-data/1.0");
        return http;
    }

    static DownloadOptions OptionsFor(DataFile f, FetchOptions o) => new()
    {
        Size = f.Size, Md5 = f.Md5?.ToLowerInvariant(), Progress = o.Progress, Log = o.Log, Attempts = o.Attempts, RetryDelay = o.RetryDelay,
    };

    static async Task FetchArchiveAsync(DatasetEntry e, string root, string dir, HttpClient http, FetchOptions o, CancellationToken ct)
    {
        var archive = e.Archive!;
        var downloads = Path.Combine(root, DownloadsFolder);
        Directory.CreateDirectory(downloads);
        var archivePath = Path.Combine(downloads, archive.Name);
        if (File.Exists(archivePath) && archive.Md5 != null && Verification.Md5Of(archivePath) == archive.Md5)
            o.Log?.Invoke($"{archive.Name}: already downloaded, MD5 matches");
        else
        {
            var url = SourceFor(archive, o.Mirror);
            o.Log?.Invoke($"{e.Name}: downloading {url}");
            var md5 = await Downloader.DownloadAsync(http, url, archivePath, OptionsFor(archive, o), ct).ConfigureAwait(false);
            o.Log?.Invoke(archive.Md5 != null ? $"{archive.Name}: MD5 {md5} matches the published checksum"
                                             : $"{archive.Name}: no published checksum; MD5 is {md5}");
        }

        var staging = Path.Combine(root, ".staging-" + Guid.NewGuid().ToString("N"));
        try
        {
            o.Log?.Invoke($"{archive.Name}: extracting");
            SafeTar.ExtractTarGz(archivePath, staging);
            var extracted = Path.Combine(staging, e.Folder);
            if (!Directory.Exists(extracted) || !e.IsPresentIn(extracted))
                throw new DataFormatException(archivePath,
                    $"the archive does not hold {e.Folder}/ with {string.Join(", ", e.Files.Select(f => f.Name))}");
            var basis = archive.Md5 != null
                ? $"member of {archive.Name} (published MD5 {archive.Md5})"
                : $"member of {archive.Name} (no published checksum)";
            var marker = new VerifiedMarker();
            foreach (var p in Directory.EnumerateFiles(extracted))
                marker.Record(p, Verification.Md5Of(p), basis);
            marker.Write(extracted);
            if (Directory.Exists(dir))
            {
                var trash = Path.Combine(root, ".trash-" + Guid.NewGuid().ToString("N"));
                Directory.Move(dir, trash);
                Directory.Delete(trash, recursive: true);
            }
            Directory.Move(extracted, dir);
            o.Log?.Invoke($"{e.Name}: ready in {dir}");
        }
        catch (Exception ex) when (ex is DataFormatException or UnsafeArchiveException)
        {
            // A damaged or unsafe archive is not kept for a later run to trip over again.
            File.Delete(archivePath);
            throw;
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
        File.Delete(archivePath);
    }

    static async Task FetchFilesAsync(DatasetEntry e, string dir, HttpClient http, FetchOptions o, CancellationToken ct)
    {
        Directory.CreateDirectory(dir);
        var marker = VerifiedMarker.Read(dir) is { } m && !m.Files.ContainsKey("(marker)") ? m : new VerifiedMarker();
        foreach (var f in e.Files)
        {
            var target = Path.Combine(dir, f.Name);
            if (File.Exists(target))
            {
                var have = Verification.Md5Of(target);
                marker.Files.TryGetValue(f.Name, out var recorded);
                var expected = f.Md5 ?? (recorded is { Failed: null } ? recorded.Md5 : null);
                if (expected != null && have == expected)
                {
                    marker.Record(target, have, f.Md5 != null ? "published MD5" : recorded!.Basis);
                    marker.Write(dir);
                    o.Log?.Invoke($"{f.Name}: already present, MD5 matches");
                    continue;
                }
                if (expected != null)
                {
                    // Never leave a known-bad file loadable, even if the new download fails.
                    marker.Record(target, have, "verification");
                    marker.Files[f.Name].Failed = $"MD5 {have} does not match {expected}";
                    marker.Write(dir);
                    o.Log?.Invoke($"{f.Name}: present but its MD5 {have} does not match {expected}; downloading again");
                }
            }
            var url = SourceFor(f, o.Mirror);
            o.Log?.Invoke($"{e.Name}: downloading {url}");
            var md5 = await Downloader.DownloadAsync(http, url, target, OptionsFor(f, o), ct).ConfigureAwait(false);
            marker.Record(target, md5, f.Md5 != null ? "published MD5" : "no published checksum (MD5 recorded at download)");
            marker.Write(dir);
            o.Log?.Invoke(f.Md5 != null ? $"{f.Name}: MD5 {md5} matches the published checksum" : $"{f.Name}: no published checksum; MD5 is {md5}");
        }
        o.Log?.Invoke($"{e.Name}: ready in {dir}");
    }
}
