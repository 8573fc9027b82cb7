using System.Text;

namespace WarmStart.Core.Runs;

/// <summary>
/// Seeds are derived, never global: a child seed is a hash of its parent seed and a role name
/// ("split", "order/stage-2", "init"), so any two runs that ask for the same role under the same study seed
/// get the same stream (paired arms), and adding a role never shifts the others.
/// </summary>
public static class Seeds
{
    /// <summary>The seed for <paramref name="role"/> under <paramref name="parent"/> (SplitMix64 over FNV-1a of the role).</summary>
    public static long Derive(long parent, string role)
    {
        ulong h = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(role)) { h ^= b; h *= 1099511628211UL; }
        ulong z = unchecked((ulong)parent + 0x9E3779B97F4A7C15UL * (h | 1));
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        // Keep it positive and inside what torch generators accept.
        return (long)(z & 0x7FFF_FFFF_FFFF_FFFFUL);
    }

    /// <summary>Derives along a path of roles: <c>Derive(Derive(seed, a), b)</c>….</summary>
    public static long Derive(long parent, params string[] roles) => roles.Aggregate(parent, Derive);
}
