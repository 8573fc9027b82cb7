using System.Diagnostics;

namespace WarmStart.Core.Data.Download;

/// <summary>
/// Renders <see cref="DownloadProgress"/>: on a terminal one line rewritten in place (at most 5 times a second); when
/// output is redirected (CI, logs) plain lines: the start, every 10 % (every 16 MB when the size is unknown), and the end.
/// </summary>
public sealed class ProgressPrinter
{
    readonly TextWriter _out;
    readonly bool _interactive;
    readonly Stopwatch _clock = new();
    string? _file;
    long _startBytes, _lastBucket = -1;
    TimeSpan _lastDraw;

    /// <summary>Prints to <paramref name="output"/>; <paramref name="interactive"/> when it is a terminal.</summary>
    public ProgressPrinter(TextWriter output, bool interactive) { _out = output; _interactive = interactive; }

    /// <summary>The callback to hand to a download.</summary>
    public void Report(DownloadProgress p)
    {
        if (p.File != _file || p.ResumedFrom != _startBytes && p.Received == p.ResumedFrom)
        {
            _file = p.File; _startBytes = p.Received; _lastBucket = -1; _clock.Restart(); _lastDraw = TimeSpan.Zero;
        }
        var line = Format(p);
        if (_interactive)
        {
            if (!p.Done && _clock.Elapsed - _lastDraw < TimeSpan.FromMilliseconds(200) && p.Received != _startBytes) return;
            _lastDraw = _clock.Elapsed;
            _out.Write("\r" + line.PadRight(78));
            if (p.Done) _out.WriteLine();
            _out.Flush();
            return;
        }
        long bucket = p.Total is > 0 ? p.Received * 10 / p.Total.Value : p.Received / (16L << 20);
        if (p.Done || bucket != _lastBucket)
        {
            _lastBucket = bucket;
            _out.WriteLine(line);
            _out.Flush();
        }
    }

    string Format(DownloadProgress p)
    {
        double mb = p.Received / 1048576.0;
        double secs = Math.Max(_clock.Elapsed.TotalSeconds, 1e-3);
        double rate = (p.Received - _startBytes) / 1048576.0 / secs;
        var size = p.Total is > 0 ? $"{100.0 * p.Received / p.Total.Value,5:0.0}%  {mb:0.0}/{p.Total.Value / 1048576.0:0.0} MB" : $"{mb:0.0} MB";
        var tail = p.Done ? "  done" : p.Received == p.ResumedFrom && p.ResumedFrom > 0 ? "  (resumed)" : "";
        return $"{p.File}  {size}  {rate:0.0} MB/s{tail}";
    }
}
