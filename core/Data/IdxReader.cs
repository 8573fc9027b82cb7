using System.Buffers.Binary;
using System.IO.Compression;

namespace WarmStart.Core.Data;

/// <summary>
/// Reads IDX files (MNIST, Fashion-MNIST), raw or gzip-compressed. Validates the magic number (two zero bytes,
/// the unsigned-byte type code 0x08, the rank), the rank expected by the caller, the dimensions and the exact
/// payload length, and names the file and the defect in every error.
/// </summary>
public static class IdxReader
{
    /// <summary>A parsed IDX array of unsigned bytes.</summary>
    public sealed record IdxArray(int[] Dims, byte[] Data);

    /// <summary>Reads <paramref name="path"/> (".gz" is decompressed) and checks it has rank <paramref name="expectedRank"/>.</summary>
    public static IdxArray Read(string path, int expectedRank)
    {
        byte[] bytes;
        try { bytes = ReadAllBytesMaybeGzip(path); }
        catch (InvalidDataException e) { throw new DataFormatException(path, $"not a valid gzip stream ({e.Message})"); }
        catch (EndOfStreamException) { throw new DataFormatException(path, "gzip stream is truncated"); }
        return Parse(path, bytes, expectedRank);
    }

    /// <summary>Parses IDX bytes; <paramref name="path"/> is used only in error messages.</summary>
    public static IdxArray Parse(string path, byte[] bytes, int expectedRank)
    {
        if (bytes.Length < 4) throw new DataFormatException(path, $"file has {bytes.Length} bytes, too short for an IDX header");
        if (bytes[0] != 0 || bytes[1] != 0)
            throw new DataFormatException(path, $"bad magic number 0x{bytes[0]:x2}{bytes[1]:x2}{bytes[2]:x2}{bytes[3]:x2}: an IDX file starts with two zero bytes");
        if (bytes[2] != 0x08)
            throw new DataFormatException(path, $"unsupported IDX element type 0x{bytes[2]:x2}: only unsigned bytes (0x08) are used by MNIST-style datasets");
        int rank = bytes[3];
        if (rank != expectedRank)
            throw new DataFormatException(path, $"rank {rank} where {expectedRank} was expected ({(expectedRank == 1 ? "labels" : "images")})");
        int header = 4 + 4 * rank;
        if (bytes.Length < header) throw new DataFormatException(path, $"header truncated: {bytes.Length} bytes, need {header} for rank {rank}");
        var dims = new int[rank];
        long total = 1;
        for (int i = 0; i < rank; i++)
        {
            int d = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4 + 4 * i));
            if (d <= 0) throw new DataFormatException(path, $"dimension {i} is {d}; dimensions must be positive");
            dims[i] = d;
            total *= d;
        }
        long payload = bytes.Length - header;
        if (payload < total)
            throw new DataFormatException(path, $"truncated payload: dimensions [{string.Join(" x ", dims)}] need {total} bytes, file has {payload}");
        if (payload > total)
            throw new DataFormatException(path, $"{payload - total} unexpected trailing bytes after [{string.Join(" x ", dims)}] payload");
        return new IdxArray(dims, bytes.AsSpan(header).ToArray());
    }

    static byte[] ReadAllBytesMaybeGzip(string path)
    {
        using var file = File.OpenRead(path);
        int b0 = file.ReadByte(), b1 = file.ReadByte();
        file.Position = 0;
        if (b0 == 0x1f && b1 == 0x8b)
        {
            using var gz = new GZipStream(file, CompressionMode.Decompress);
            using var ms = new MemoryStream();
            gz.CopyTo(ms);
            // GZipStream returns what it could decode from a cut stream without complaint; the gzip trailer's
            // ISIZE (uncompressed length mod 2^32) tells whether the whole member arrived.
            var trailer = new byte[4];
            file.Position = file.Length - 4;
            file.ReadExactly(trailer);
            uint isize = BinaryPrimitives.ReadUInt32LittleEndian(trailer);
            if (file.Length < 18 || isize != (uint)ms.Length)
                throw new DataFormatException(path, $"gzip stream is truncated or corrupt: decoded {ms.Length} bytes, the trailer says {isize}");
            return ms.ToArray();
        }
        using var raw = new MemoryStream();
        file.CopyTo(raw);
        return raw.ToArray();
    }
}
