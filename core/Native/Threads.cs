using TorchSharp;

namespace WarmStart.Core.Native;

/// <summary>Explicit torch thread counts: on a busy machine one thread per worker is often faster for small
/// models, so the toolkit never leaves this to chance. The default ("0") is the cores this process may really use
/// — its CPU affinity, capped by its cgroup CPU quota — divided among the workers that train at once. Together
/// with OpenMP's passive waiting (<see cref="NativeEnvironment"/>) this keeps throughput from collapsing when
/// cores are oversubscribed.</summary>
public static class Threads
{
    /// <summary>Sets torch's intra-op threads; 0 means <see cref="AvailableCores"/> divided among
    /// <paramref name="workers"/> (at least one each). Returns the count set.</summary>
    public static int Configure(int threads, int workers = 1)
    {
        TorchRuntime.EnsureLoaded();
        int n = threads > 0 ? threads : DefaultFor(workers);
        torch.set_num_threads(n);
        return n;
    }

    /// <summary>The default thread count per worker when <paramref name="workers"/> train at once.</summary>
    public static int DefaultFor(int workers) => Math.Max(1, AvailableCores() / Math.Max(1, workers));

    /// <summary>Cores this process can use: the CPUs of its affinity mask (Linux <c>Cpus_allowed_list</c>), capped
    /// by its cgroup CPU quota (v2 <c>cpu.max</c>, v1 <c>cpu.cfs_quota_us</c>/<c>cpu.cfs_period_us</c>), rounded
    /// down, at least 1. Elsewhere: <see cref="Environment.ProcessorCount"/>.</summary>
    public static int AvailableCores()
    {
        int cores = Environment.ProcessorCount;
        if (!OperatingSystem.IsLinux()) return Math.Max(1, cores);
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("Cpus_allowed_list:"));
            if (line is not null && CountCpuList(line["Cpus_allowed_list:".Length..]) is int n && n > 0) cores = n;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        if (CgroupQuota() is double q && q > 0) cores = Math.Min(cores, Math.Max(1, (int)Math.Floor(q)));
        return Math.Max(1, cores);
    }

    /// <summary>Number of CPUs in a Linux CPU list such as "0-3,8,10-11"; null when it cannot be read.</summary>
    public static int? CountCpuList(string list)
    {
        int count = 0;
        foreach (var part in list.Trim().Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var ends = part.Trim().Split('-');
            if (!int.TryParse(ends[0], out var lo)) return null;
            int hi = lo;
            if (ends.Length == 2 && !int.TryParse(ends[1], out hi)) return null;
            if (ends.Length > 2 || hi < lo) return null;
            count += hi - lo + 1;
        }
        return count;
    }

    /// <summary>The CPU quota of this process's cgroup in cores (quota / period), or null when unlimited or unknown.</summary>
    public static double? CgroupQuota()
    {
        try
        {
            foreach (var entry in File.ReadLines("/proc/self/cgroup"))
            {
                var f = entry.Split(':', 3);
                if (f.Length != 3) continue;
                var path = f[2] == "/" ? "" : f[2];
                if (f[0] == "0" && f[1] == "")
                {
                    // cgroup v2: walk from the process's group up to the root; the tightest limit wins.
                    double? best = null;
                    for (var p = path; ; p = p.Contains('/') ? p[..p.LastIndexOf('/')] : "")
                    {
                        var file = "/sys/fs/cgroup" + p + "/cpu.max";
                        if (File.Exists(file) && ParseCpuMax(File.ReadAllText(file)) is double q) best = best is null ? q : Math.Min(best.Value, q);
                        if (p.Length == 0) break;
                    }
                    if (best is not null) return best;
                }
                else if (f[1].Split(',').Contains("cpu"))
                {
                    foreach (var dir in new[] { "/sys/fs/cgroup/cpu" + path, "/sys/fs/cgroup/cpu,cpuacct" + path, "/sys/fs/cgroup/cpu" })
                    {
                        var qf = Path.Combine(dir, "cpu.cfs_quota_us");
                        var pf = Path.Combine(dir, "cpu.cfs_period_us");
                        if (!File.Exists(qf) || !File.Exists(pf)) continue;
                        if (long.TryParse(File.ReadAllText(qf).Trim(), out var quota) && long.TryParse(File.ReadAllText(pf).Trim(), out var period)
                            && quota > 0 && period > 0)
                            return (double)quota / period;
                        break;
                    }
                }
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }

    /// <summary>Cores allowed by a cgroup v2 <c>cpu.max</c> line ("max 100000" → null, "150000 100000" → 1.5).</summary>
    public static double? ParseCpuMax(string text)
    {
        var f = text.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (f.Length < 1 || f[0] == "max") return null;
        if (!long.TryParse(f[0], out var quota) || quota <= 0) return null;
        long period = 100000;
        if (f.Length >= 2 && (!long.TryParse(f[1], out period) || period <= 0)) return null;
        return (double)quota / period;
    }
}
