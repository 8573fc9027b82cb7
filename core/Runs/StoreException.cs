namespace WarmStart.Core.Runs;

/// <summary>
/// An input/output failure on a result store (not writable, not a folder, disk full …), as one line for the user:
/// the store, what was being done and the operating system's reason. Whatever was written before it stays valid:
/// versions appear only whole, so a run stopped by this error resumes once the cause is fixed.
/// </summary>
public sealed class StoreException : Exception
{
    /// <summary>The store's root folder.</summary>
    public string Store { get; }

    /// <summary>Creates the error.</summary>
    public StoreException(string store, string doing, Exception inner)
        : base($"result store '{store}': {doing}: {Reason(inner)}", inner)
    { Store = store; }

    /// <summary>The operating system's reason, without .NET's type names or stack.</summary>
    static string Reason(Exception e) => e switch
    {
        IOException io when IsDiskFull(io) => "no space left on device",
        UnauthorizedAccessException => "permission denied (" + e.Message.TrimEnd('.') + ")",
        _ => e.Message.TrimEnd('.'),
    };

    /// <summary>True when <paramref name="e"/> is the operating system's "no space left on device" (ENOSPC) or
    /// "disk quota exceeded" (EDQUOT).</summary>
    public static bool IsDiskFull(IOException e) =>
        (e.HResult & 0xFFFF) is 28 or 122 || e.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase)
        || e.Message.Contains("quota", StringComparison.OrdinalIgnoreCase);

    /// <summary>Runs <paramref name="action"/>, turning an IO failure into a <see cref="StoreException"/>.</summary>
    public static T Guard<T>(string store, string doing, Func<T> action)
    {
        try { return action(); }
        catch (StoreException) { throw; }
        catch (IOException e) { throw new StoreException(store, doing, e); }
        catch (UnauthorizedAccessException e) { throw new StoreException(store, doing, e); }
    }

    /// <summary>Runs <paramref name="action"/>, turning an IO failure into a <see cref="StoreException"/>.</summary>
    public static void Guard(string store, string doing, Action action) =>
        Guard(store, doing, () => { action(); return 0; });
}
