namespace WarmStart.Core.Data;

/// <summary>A data file is malformed, truncated or not what its name promises. The message names the file and the defect.</summary>
public sealed class DataFormatException : Exception
{
    /// <summary>The offending file.</summary>
    public string FilePath { get; }

    /// <summary>Creates the error; <paramref name="defect"/> says what was wrong, in words a user can act on.</summary>
    public DataFormatException(string filePath, string defect)
        : base($"{filePath}: {defect}") => FilePath = filePath;
}

/// <summary>A dataset could not be found in any data root. The message lists every place looked and the remedies.</summary>
public sealed class DatasetNotFoundException : Exception
{
    /// <summary>Creates the error with the full, user-facing explanation.</summary>
    public DatasetNotFoundException(string message) : base(message) { }
}

/// <summary>A dataset failed its checksum, or changed since it was verified: it is not loaded. The message says which
/// file and what to do.</summary>
public sealed class DataVerificationException : Exception
{
    /// <summary>The dataset's name.</summary>
    public string Dataset { get; }
    /// <summary>The folder it was found in.</summary>
    public string Folder { get; }

    /// <summary>Creates the error for <paramref name="dataset"/> in <paramref name="folder"/>.</summary>
    public DataVerificationException(string dataset, string folder, string detail)
        : base($"dataset '{dataset}' in {folder} is not loaded: {detail}")
    { Dataset = dataset; Folder = folder; }
}
