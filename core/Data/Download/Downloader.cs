using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace WarmStart.Core.Data.Download;

/// <summary>Progress of one transfer: bytes on disk so far (including a resumed prefix) and the total when known.</summary>
public sealed record DownloadProgress(string File, long Received, long? Total, bool Done, long ResumedFrom = 0);

/// <summary>A download failed (HTTP error, repeated interruption, wrong size). The message is user-facing.</summary>
public sealed class DownloadException : Exception
{
    /// <summary>Creates the error.</summary>
    public DownloadException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>A downloaded file's MD5 (or size) differs from the published one. The partial file has been deleted.</summary>
public sealed class ChecksumMismatchException : Exception
{
    /// <summary>The file that failed.</summary>
    public string File { get; }
    /// <summary>The published value.</summary>
    public string Expected { get; }
    /// <summary>What the download produced.</summary>
    public string Actual { get; }

    /// <summary>Creates the error.</summary>
    public ChecksumMismatchException(string file, string what, string expected, string actual)
        : base($"{file}: {what} {actual} does not match the published {expected}; the download was discarded (a damaged or substituted file). Try again, or another mirror with --from")
    { File = file; Expected = expected; Actual = actual; }
}

/// <summary>Options of one download.</summary>
public sealed class DownloadOptions
{
    /// <summary>Expected size in bytes (null when unknown).</summary>
    public long? Size { get; init; }
    /// <summary>Published MD5 (lower-case hex), or null when none is published.</summary>
    public string? Md5 { get; init; }
    /// <summary>Called as bytes arrive (throttled by the receiver) and once at the end with <c>Done</c>.</summary>
    public Action<DownloadProgress>? Progress { get; init; }
    /// <summary>Called with one-line notes (resuming, retrying).</summary>
    public Action<string>? Log { get; init; }
    /// <summary>Transfers tried before giving up; each retry resumes where the last one stopped.</summary>
    public int Attempts { get; init; } = 4;
    /// <summary>Pause before a retry (doubled each time).</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>A transfer that delivers nothing for this long is treated as interrupted (and resumed).</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// HTTP download into <c>destination.part</c>, resumed with an HTTP Range request when a partial file exists (from an
/// interrupted transfer in this run or an earlier one), checked against the published size and MD5, and only then
/// moved atomically to <c>destination</c>. A file that fails its checksum never reaches <c>destination</c>.
/// </summary>
public static class Downloader
{
    /// <summary>Suffix of the partial file next to the destination.</summary>
    public const string PartSuffix = ".part";

    /// <summary>Downloads <paramref name="url"/> to <paramref name="destination"/>; returns the file's MD5.</summary>
    public static async Task<string> DownloadAsync(HttpClient http, Uri url, string destination, DownloadOptions o, CancellationToken ct = default)
    {
        var name = Path.GetFileName(destination);
        var part = destination + PartSuffix;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(destination))!);
        var delay = o.RetryDelay;
        bool complete = false;
        Exception? last = null;
        for (int attempt = 1; attempt <= Math.Max(1, o.Attempts) && !complete; attempt++)
        {
            long have = File.Exists(part) ? new FileInfo(part).Length : 0;
            if (o.Size is { } size0 && have > size0) { File.Delete(part); have = 0; }
            if (o.Size is { } size1 && have == size1) { complete = true; break; }
            try
            {
                complete = await TransferAsync(http, url, name, part, have, o, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (IsTransient(e) && !ct.IsCancellationRequested)
            {
                last = e;
                long now = File.Exists(part) ? new FileInfo(part).Length : 0;
                if (attempt < o.Attempts)
                {
                    o.Log?.Invoke($"{name}: transfer interrupted at {now} bytes ({e.Message}); resuming (attempt {attempt + 1} of {o.Attempts})");
                    await Task.Delay(delay, ct).ConfigureAwait(false);
                    delay *= 2;
                }
            }
        }
        if (!complete)
            throw new DownloadException($"{url}: the transfer kept failing ({last?.Message}); the partial file {part} is kept, run the command again to resume", last);

        var length = new FileInfo(part).Length;
        if (o.Size is { } size && length != size)
        {
            File.Delete(part);
            throw new ChecksumMismatchException(name, "size", size.ToString(), length.ToString());
        }
        string md5;
        using (var s = new FileStream(part, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20))
            md5 = Convert.ToHexStringLower(await MD5.HashDataAsync(s, ct).ConfigureAwait(false));
        if (o.Md5 != null && !string.Equals(md5, o.Md5, StringComparison.OrdinalIgnoreCase))
        {
            File.Delete(part);
            throw new ChecksumMismatchException(name, "MD5", o.Md5.ToLowerInvariant(), md5);
        }
        File.Move(part, destination, overwrite: true);
        return md5;
    }

    static bool IsTransient(Exception e) => e is IOException or HttpRequestException { StatusCode: null or >= HttpStatusCode.InternalServerError }
        or TaskCanceledException { InnerException: TimeoutException };

    /// <summary>One HTTP request; returns true when the part file is complete.</summary>
    static async Task<bool> TransferAsync(HttpClient http, Uri url, string name, string part, long have, DownloadOptions o, CancellationToken ct)
    {
        using var req = new HttpRequestMessage(HttpMethod.Get, url);
        if (have > 0) req.Headers.Range = new RangeHeaderValue(have, null);
        using var resp = await http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        if (resp.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && have > 0)
        {
            // The server has nothing after our prefix: either it is complete (size unknown) or the part is stale.
            if (o.Size is null) return true;
            File.Delete(part);
            throw new IOException("the server refused the resume range; starting again");
        }
        if (!resp.IsSuccessStatusCode)
        {
            var msg = $"{url}: HTTP {(int)resp.StatusCode} {resp.ReasonPhrase}";
            if ((int)resp.StatusCode >= 500) throw new HttpRequestException(msg, null, resp.StatusCode);
            throw new DownloadException(msg);
        }
        bool append = false;
        if (resp.StatusCode == HttpStatusCode.PartialContent)
        {
            var range = resp.Content.Headers.ContentRange;
            if (range?.From == have) append = true;
            else if (range?.From != 0) throw new IOException($"the server answered with range {range}, not the bytes from {have}");
        }
        if (have > 0 && !append) o.Log?.Invoke($"{name}: the server does not resume; downloading from the start");
        long start = append ? have : 0;
        long? total = resp.Content.Headers.ContentLength is { } len ? start + len : o.Size;
        if (o.Size is { } expected && total is { } t && t != expected)
            throw new DownloadException($"{url}: the server offers {t} bytes but the catalog expects {expected} (wrong file or mirror?)");
        if (append) o.Log?.Invoke($"{name}: resuming at byte {have}");

        await using var body = await resp.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        await using var file = new FileStream(part, append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        var buffer = new byte[1 << 16];
        long received = start;
        o.Progress?.Invoke(new DownloadProgress(name, received, total, false, start));
        try
        {
            while (true)
            {
                int n;
                idle.CancelAfter(o.IdleTimeout);
                try { n = await body.ReadAsync(buffer, idle.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                { throw new IOException($"no data for {o.IdleTimeout.TotalSeconds:0} s"); }
                if (n == 0) break;
                await file.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                received += n;
                o.Progress?.Invoke(new DownloadProgress(name, received, total, false, start));
            }
        }
        finally { await file.FlushAsync(CancellationToken.None).ConfigureAwait(false); }
        if (total is { } tt && received < tt) throw new IOException($"the connection closed at {received} of {tt} bytes");
        o.Progress?.Invoke(new DownloadProgress(name, received, total, true, start));
        return true;
    }
}
