namespace WarmStart.Core.Data;

/// <summary>
/// Where datasets are looked for, in order: an explicit root (<c>--data-root</c>), the <c>WARMSTART_DATA</c>
/// environment variable, the user cache (<c>$XDG_CACHE_HOME/warmstart/datasets</c> or
/// <c>~/.cache/warmstart/datasets</c>), then <c>/usr/share/datasets</c> (Debian's dataset packages).
/// </summary>
public static class DataRoots
{
    /// <summary>The environment variable naming a data root.</summary>
    public const string EnvVar = "WARMSTART_DATA";

    /// <summary>The user cache root, where <c>warmstart data fetch</c> puts downloads.</summary>
    public static string UserCache()
    {
        var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (string.IsNullOrEmpty(cache))
            cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(cache, "warmstart", "datasets");
    }

    /// <summary>Where <c>warmstart data fetch</c> puts a dataset: the explicit root, else <c>$WARMSTART_DATA</c>, else the user cache.</summary>
    public static string FetchTarget(string? explicitRoot)
    {
        if (!string.IsNullOrWhiteSpace(explicitRoot)) return Path.GetFullPath(explicitRoot);
        var env = Environment.GetEnvironmentVariable(EnvVar);
        return !string.IsNullOrWhiteSpace(env) ? Path.GetFullPath(env) : UserCache();
    }

    /// <summary>The roots to search, in order, each with where it came from (for error messages).</summary>
    public static IReadOnlyList<(string Root, string Origin)> Search(string? explicitRoot)
    {
        var list = new List<(string, string)>();
        if (!string.IsNullOrWhiteSpace(explicitRoot)) list.Add((Path.GetFullPath(explicitRoot), "--data-root"));
        var env = Environment.GetEnvironmentVariable(EnvVar);
        if (!string.IsNullOrWhiteSpace(env)) list.Add((Path.GetFullPath(env), EnvVar));
        list.Add((UserCache(), "user cache"));
        list.Add(("/usr/share/datasets", "system (Debian dataset packages)"));
        return list;
    }
}
