using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using TorchSharp;

namespace WarmStart.Core.Runs;

/// <summary>
/// What produced a node version, <c>provenance.json</c>: software versions, device, torch threads, engine, operating
/// system, toolkit version and git commit, and wall time. None of it is part of the node key (see the README's
/// store section): a cached result is reused whatever thread count or engine asks for it, and
/// <c>warmstart store reproduce</c> re-trains a node under the provenance recorded here.
/// </summary>
public sealed record Provenance
{
    /// <summary>The provenance file's name inside a version folder.</summary>
    public const string FileName = "provenance.json";

    /// <summary>The engine that trains one model at a time.</summary>
    public const string SingleEngine = "single";

    /// <summary>The toolkit's version (the core assembly's informational version, without the commit).</summary>
    public string Toolkit { get; init; } = "";
    /// <summary>The git commit the toolkit was built from, when the build recorded it; else null.</summary>
    public string? GitCommit { get; init; }
    /// <summary>TorchSharp's assembly version.</summary>
    public string TorchSharp { get; init; } = "";
    /// <summary>libtorch's version as it reports it.</summary>
    public string Libtorch { get; init; } = "";
    /// <summary>The device trained on ("cpu", "cuda", "cuda:1").</summary>
    public string Device { get; init; } = "cpu";
    /// <summary>torch's intra-op threads during training.</summary>
    public int TorchThreads { get; init; }
    /// <summary>How the node was trained: "single" (one model at a time) or another engine's name (e.g. "stacked").</summary>
    public string Engine { get; init; } = SingleEngine;
    /// <summary>The operating system.</summary>
    public string Os { get; init; } = "";
    /// <summary>The .NET runtime.</summary>
    public string Runtime { get; init; } = "";
    /// <summary>When training started (UTC).</summary>
    public DateTime StartedUtc { get; init; }
    /// <summary>When the version was written (UTC).</summary>
    public DateTime FinishedUtc { get; init; }
    /// <summary>Wall seconds from the start of the node (loading its parent, building its model) to its commit.</summary>
    public double WallSeconds { get; init; }

    static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>The toolkit version and commit from the core assembly's informational version ("1.0.0+abc123…").</summary>
    public static (string Version, string? Commit) ToolkitVersion()
    {
        var info = typeof(Provenance).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                   ?? typeof(Provenance).Assembly.GetName().Version?.ToString() ?? "?";
        var plus = info.IndexOf('+');
        return plus < 0 ? (info, null) : (info[..plus], info[(plus + 1)..]);
    }

    /// <summary>The provenance of a node trained in this process since <paramref name="startedUtc"/>, with torch's
    /// current thread count.</summary>
    public static Provenance Capture(string device, string engine, DateTime startedUtc)
    {
        var (version, commit) = ToolkitVersion();
        var now = DateTime.UtcNow;
        return new Provenance
        {
            Toolkit = version, GitCommit = commit,
            TorchSharp = typeof(torch).Assembly.GetName().Version?.ToString() ?? "?",
            Libtorch = torch.__version__,
            Device = device, TorchThreads = torch.get_num_threads(), Engine = engine,
            Os = RuntimeInformation.OSDescription, Runtime = RuntimeInformation.FrameworkDescription,
            StartedUtc = startedUtc, FinishedUtc = now, WallSeconds = (now - startedUtc).TotalSeconds,
        };
    }

    /// <summary>Writes the provenance into a version folder.</summary>
    public void Write(string dir) => File.WriteAllText(Path.Combine(dir, FileName), JsonSerializer.Serialize(this, Json));

    /// <summary>The provenance of a version folder, or null when it has none (written before provenance was recorded).</summary>
    public static Provenance? Read(string dir)
    {
        var p = Path.Combine(dir, FileName);
        return File.Exists(p) ? JsonSerializer.Deserialize<Provenance>(File.ReadAllText(p), Json) : null;
    }

    /// <summary>The same provenance with another wall time (a group's total, for reports).</summary>
    public Provenance WithWallSeconds(double seconds) => this with { WallSeconds = seconds };

    /// <summary>Everything but the times: nodes with equal setups were produced the same way.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Setup => string.Join("|", Toolkit, GitCommit, TorchSharp, Libtorch, Device, TorchThreads, Engine, Os, Runtime);

    /// <summary>One line for reports: "TorchSharp 0.107.0, libtorch 2.10.0, cpu, 1 thread, single engine, 3.2 s".</summary>
    public string Describe() =>
        $"toolkit {Toolkit}{(GitCommit is null ? "" : " (" + (GitCommit.Length > 12 ? GitCommit[..12] : GitCommit) + ")")}, " +
        $"TorchSharp {TorchSharp}, libtorch {Libtorch}, {Device}, {TorchThreads} thread{(TorchThreads == 1 ? "" : "s")}, " +
        $"{Engine} engine, {Os}, {WallSeconds.ToString("F1", CultureInfo.InvariantCulture)} s";
}
