using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace WarmStart.Core.Data;

// Why our own reader and not MathNet.Numerics.Data.Matlab (evaluated for the "libraries over hand-written code"
// item): MathNet's parser reads every data element whole into memory (and a compressed one whole, decompressed
// into a MemoryStream) instead of streaming; it throws NotSupportedException for arrays of more than two
// dimensions, and SVHN's X is 32×32×3×N; and it returns Matrix<T> of floating-point or complex values only, so
// SVHN's uint8 images would be widened 8× as doubles. It also ignores short reads of a truncated element. This
// reader streams (a compressed element is inflated as it is read), keeps uint8, handles N-D arrays, and its
// malformed-file tests pin its errors.

/// <summary>MAT-file v5 data types (the <c>mi*</c> codes of a data element's tag).</summary>
public enum MatDataType
{
    /// <summary>miINT8.</summary>
    Int8 = 1,
    /// <summary>miUINT8.</summary>
    UInt8 = 2,
    /// <summary>miINT16.</summary>
    Int16 = 3,
    /// <summary>miUINT16.</summary>
    UInt16 = 4,
    /// <summary>miINT32.</summary>
    Int32 = 5,
    /// <summary>miUINT32.</summary>
    UInt32 = 6,
    /// <summary>miSINGLE.</summary>
    Single = 7,
    /// <summary>miDOUBLE.</summary>
    Double = 9,
    /// <summary>miINT64.</summary>
    Int64 = 12,
    /// <summary>miUINT64.</summary>
    UInt64 = 13,
    /// <summary>miMATRIX: an array with flags, dimensions, name and data sub-elements.</summary>
    Matrix = 14,
    /// <summary>miCOMPRESSED: a zlib stream holding one data element.</summary>
    Compressed = 15,
    /// <summary>miUTF8.</summary>
    Utf8 = 16,
    /// <summary>miUTF16.</summary>
    Utf16 = 17,
    /// <summary>miUTF32.</summary>
    Utf32 = 18,
}

/// <summary>MAT-file v5 array classes (the <c>mx*</c> codes of an array's flags).</summary>
public enum MatClass
{
    /// <summary>mxCELL.</summary>
    Cell = 1,
    /// <summary>mxSTRUCT.</summary>
    Struct = 2,
    /// <summary>mxOBJECT.</summary>
    Object = 3,
    /// <summary>mxCHAR.</summary>
    Char = 4,
    /// <summary>mxSPARSE.</summary>
    Sparse = 5,
    /// <summary>mxDOUBLE.</summary>
    Double = 6,
    /// <summary>mxSINGLE.</summary>
    Single = 7,
    /// <summary>mxINT8.</summary>
    Int8 = 8,
    /// <summary>mxUINT8.</summary>
    UInt8 = 9,
    /// <summary>mxINT16.</summary>
    Int16 = 10,
    /// <summary>mxUINT16.</summary>
    UInt16 = 11,
    /// <summary>mxINT32.</summary>
    Int32 = 12,
    /// <summary>mxUINT32.</summary>
    UInt32 = 13,
    /// <summary>mxINT64.</summary>
    Int64 = 14,
    /// <summary>mxUINT64.</summary>
    UInt64 = 15,
}

/// <summary>A top-level variable's header: name, class, flags, dimensions (MATLAB order, column-major), and for
/// numeric arrays the storage type and byte count of the real part.</summary>
public sealed record MatArrayInfo(string Name, MatClass Class, bool IsComplex, bool IsLogical, int[] Dims,
    MatDataType? RealType, long RealBytes)
{
    /// <summary>Number of elements (product of the dimensions).</summary>
    public long Count => Dims.Aggregate(1L, (a, d) => a * d);

    /// <summary>True for the numeric classes (double … uint64), whose real part this reader can deliver.</summary>
    public bool IsNumeric => Class >= MatClass.Double && Class <= MatClass.UInt64;

    /// <summary>The dimensions as "a×b×c".</summary>
    public string Shape => string.Join("×", Dims);
}

/// <summary>
/// A streaming reader of MATLAB level-5 MAT-files (the format of <c>save -v6</c> / <c>-v7</c> and of
/// <c>scipy.io.savemat</c>): the 128-byte header (text, version 0x0100, endian indicator "IM" or "MI"), then data
/// elements, each an 8-byte tag (type, byte count) or a 4-byte small-element tag, padded to 8 bytes. Top-level
/// elements are <c>miMATRIX</c> (array flags, dimensions, name, real part, optional imaginary part) or
/// <c>miCOMPRESSED</c> (a zlib stream holding one <c>miMATRIX</c>; not padded). <see cref="Next"/> walks the
/// variables; <see cref="ReadReal"/> streams the real part of the current one into caller memory, so a 1.6 GB array
/// never needs a managed copy. Every structural defect is a <see cref="DataFormatException"/> naming the file,
/// the element's offset and what was wrong. MAT-file v7.3 (HDF5) and v4 files are recognised and refused.
/// </summary>
public sealed class MatFileReader : IDisposable
{
    /// <summary>Length of the fixed header.</summary>
    public const int HeaderLength = 128;

    readonly FileStream _file;
    readonly long _length;
    long _nextElement;           // file offset of the next top-level element
    Stream? _source;             // the current variable's content: the file slice, or a zlib stream over it
    long _elementOffset;         // file offset of the current top-level element (for messages)
    bool _compressed;
    long _matrixLeft;            // bytes of the current miMATRIX not yet consumed
    long _realLeft;              // bytes of the current real part not yet delivered
    byte[]? _small;              // real part held in a small-element tag
    int _smallAt;
    bool _readAny;
    MatArrayInfo? _current;

    /// <summary>The file being read.</summary>
    public string Path { get; }
    /// <summary>True when the file is big-endian (endian indicator "MI").</summary>
    public bool BigEndian { get; }
    /// <summary>The descriptive text of the header (first 116 bytes, trimmed).</summary>
    public string HeaderText { get; }

    /// <summary>Opens <paramref name="path"/> and validates its header.</summary>
    public MatFileReader(string path)
    {
        Path = path;
        try { _file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20); }
        catch (FileNotFoundException) { throw new DataFormatException(path, "file missing"); }
        _length = _file.Length;
        try
        {
            if (_length < HeaderLength)
                throw Defect($"{_length} bytes, too short for the {HeaderLength}-byte MAT-file header");
            var header = new byte[HeaderLength];
            _file.ReadExactly(header);
            HeaderText = Encoding.ASCII.GetString(header, 0, 116).TrimEnd('\0', ' ');
            if (header[126] == (byte)'I' && header[127] == (byte)'M') BigEndian = false;
            else if (header[126] == (byte)'M' && header[127] == (byte)'I') BigEndian = true;
            else if (!HeaderText.StartsWith("MATLAB", StringComparison.Ordinal))
                throw Defect("not a MAT-file: the header text does not start with 'MATLAB' and there is no endian indicator (a MAT-file v4 or another format?)");
            else
                throw Defect($"bad endian indicator 0x{header[126]:x2}{header[127]:x2} (expected 'IM' or 'MI')");
            int version = BigEndian ? BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(124)) : BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(124));
            if (version == 0x0200)
                throw Defect("MAT-file version 7.3 (HDF5) is not supported; save it with -v7 or -v6 (or scipy.io.savemat)");
            if (version != 0x0100)
                throw Defect($"unsupported MAT-file version 0x{version:x4} (level 5 files have 0x0100)");
            if (!HeaderText.StartsWith("MATLAB", StringComparison.Ordinal))
                throw Defect("not a MAT-file: the header text does not start with 'MATLAB'");
        }
        catch { _file.Dispose(); throw; }
        _nextElement = HeaderLength;
    }

    DataFormatException Defect(string what) => new(Path, what);
    DataFormatException Defect(string what, long offset) => new(Path, $"element at offset {offset}: {what}");

    /// <summary>The header of the next top-level variable (skipping whatever is left of the current one), or null at the end of the file.</summary>
    public MatArrayInfo? Next()
    {
        FinishCurrent();
        long remaining = _length - _nextElement;
        if (remaining == 0) return null;
        _elementOffset = _nextElement;
        if (remaining < 8)
            throw Defect($"{remaining} trailing bytes, too few for a data element tag (file truncated?)", _elementOffset);
        _file.Position = _nextElement;
        Span<byte> tag = stackalloc byte[8];
        _file.ReadExactly(tag);
        uint type = U32(tag), bytes = U32(tag[4..]);
        if ((type >> 16) != 0) throw Defect("a top-level element cannot use the small data element format", _elementOffset);
        if (bytes > remaining - 8)
            throw Defect($"declares {bytes} bytes but only {remaining - 8} remain in the file (truncated)", _elementOffset);
        switch ((MatDataType)type)
        {
            case MatDataType.Matrix:
                _compressed = false;
                _nextElement = _elementOffset + 8 + Pad8(bytes);
                if (_nextElement > _length) _nextElement = _length; // the last element's padding may be missing
                _source = new SliceStream(_file, bytes);
                _matrixLeft = bytes;
                break;
            case MatDataType.Compressed:
                _compressed = true;
                _nextElement = _elementOffset + 8 + bytes; // compressed elements are not padded
                _source = new ZLibStream(new SliceStream(_file, bytes), CompressionMode.Decompress);
                Span<byte> inner = stackalloc byte[8];
                ReadSource(inner, "the compressed element's inner tag");
                uint innerType = U32(inner), innerBytes = U32(inner[4..]);
                if (innerType != (uint)MatDataType.Matrix)
                    throw Defect($"compressed element holds data type {DescribeType(innerType)}, expected miMATRIX", _elementOffset);
                _matrixLeft = innerBytes;
                break;
            default:
                throw Defect($"unexpected top-level data type {DescribeType(type)} (expected miMATRIX or miCOMPRESSED)", _elementOffset);
        }
        _current = ParseMatrixHeader();
        return _current;
    }

    /// <summary>The variable <see cref="Next"/> returned last.</summary>
    public MatArrayInfo Current => _current ?? throw new InvalidOperationException("call Next() first");

    MatArrayInfo ParseMatrixHeader()
    {
        // Array flags: miUINT32, 8 bytes: class in the low byte, flag bits in the next.
        var flags = ReadSubElement("array flags", MatDataType.UInt32, 8, 8);
        uint f0 = U32(flags);
        var cls = (MatClass)(f0 & 0xFF);
        bool complex = (f0 & 0x0800) != 0, logical = (f0 & 0x0200) != 0;
        if (cls < MatClass.Cell || cls > MatClass.UInt64)
            throw Defect($"unknown array class {(int)cls}", _elementOffset);
        // Dimensions: miINT32, at least two.
        var dimBytes = ReadSubElement("dimensions", MatDataType.Int32, 8, 4 * 64);
        if (dimBytes.Length % 4 != 0) throw Defect($"dimensions element has {dimBytes.Length} bytes, not a multiple of 4", _elementOffset);
        var dims = new int[dimBytes.Length / 4];
        for (int i = 0; i < dims.Length; i++)
        {
            dims[i] = (int)U32(dimBytes.AsSpan(4 * i));
            if (dims[i] < 0) throw Defect($"dimension {i} is {dims[i]}", _elementOffset);
        }
        // Name: miINT8 (ASCII).
        var nameBytes = ReadSubElement("array name", MatDataType.Int8, 0, 1 << 16);
        var name = Encoding.ASCII.GetString(nameBytes);
        if (cls < MatClass.Double)
            return new MatArrayInfo(name, cls, complex, logical, dims, null, 0);
        // Real part.
        long count = dims.Aggregate(1L, (a, d) => a * d);
        var (type, bytes, small) = ReadTag("real part of '" + name + "'");
        if (!IsNumericType(type))
            throw Defect($"'{name}': real part has data type {DescribeType(type)}, not a numeric type", _elementOffset);
        int size = SizeOf((MatDataType)type);
        if (bytes != count * size)
            throw Defect($"'{name}': real part holds {bytes} bytes but dimensions {string.Join("×", dims)} need {count} × {size} = {count * size}", _elementOffset);
        _small = small; _smallAt = 0;
        _realLeft = bytes;
        return new MatArrayInfo(name, cls, complex, logical, dims, (MatDataType)type, bytes);
    }

    /// <summary>Reads the next tag of the current matrix. Small-element tags carry their data (returned); otherwise the data follows.</summary>
    (uint Type, long Bytes, byte[]? Small) ReadTag(string what)
    {
        if (_matrixLeft < 8) throw Defect($"miMATRIX ends before its {what} (declared size too small)", _elementOffset);
        Span<byte> tag = stackalloc byte[8];
        ReadSource(tag, what);
        _matrixLeft -= 8;
        uint first = U32(tag);
        if ((first >> 16) != 0)
        {
            uint n = first >> 16;
            if (n > 4) throw Defect($"{what}: small data element claims {n} bytes (at most 4)", _elementOffset);
            return (first & 0xFFFF, n, tag[4..(4 + (int)n)].ToArray());
        }
        uint bytes = U32(tag[4..]);
        if (bytes > _matrixLeft)
            throw Defect($"{what} declares {bytes} bytes but the enclosing miMATRIX has only {_matrixLeft} left", _elementOffset);
        return (first, bytes, null);
    }

    byte[] ReadSubElement(string what, MatDataType expected, int minBytes, int maxBytes)
    {
        var (type, bytes, small) = ReadTag(what);
        if (type != (uint)expected)
            throw Defect($"{what} has data type {DescribeType(type)}, expected mi{expected.ToString().ToUpperInvariant()}", _elementOffset);
        if (bytes < minBytes || bytes > maxBytes)
            throw Defect($"{what} has {bytes} bytes (expected {minBytes}..{maxBytes})", _elementOffset);
        if (small != null) return small;
        var data = new byte[bytes];
        ReadSource(data, what);
        SkipPadding(bytes, what);
        return data;
    }

    void SkipPadding(long bytes, string what)
    {
        long pad = Pad8(bytes) - bytes;
        if (pad == 0) return;
        if (pad > _matrixLeft - bytes)
        {
            // The last sub-element's padding may be cut by the enclosing element's declared size.
            _matrixLeft -= bytes;
            if (_matrixLeft > 0) { Span<byte> rest = stackalloc byte[(int)_matrixLeft]; ReadSource(rest, what + " padding"); }
            _matrixLeft = 0;
            return;
        }
        Span<byte> skip = stackalloc byte[(int)pad];
        ReadSource(skip, what + " padding");
        _matrixLeft -= bytes + pad;
    }

    /// <summary>Copies the next <paramref name="destination"/>.Length bytes of the current variable's real part, in
    /// file order (column-major; for multi-byte types in the file's byte order, see <see cref="BigEndian"/>).</summary>
    public void ReadReal(Span<byte> destination)
    {
        var cur = Current;
        if (cur.RealType is null) throw new InvalidOperationException($"'{cur.Name}' ({cur.Class}) has no numeric real part");
        if (destination.Length > _realLeft)
            throw new InvalidOperationException($"'{cur.Name}': asked for {destination.Length} bytes, {_realLeft} left");
        if (_small != null)
        {
            _small.AsSpan(_smallAt, destination.Length).CopyTo(destination);
            _smallAt += destination.Length;
        }
        else ReadSource(destination, $"data of '{cur.Name}'");
        _realLeft -= destination.Length;
        _readAny = true;
    }

    /// <summary>The whole real part of the current variable converted to doubles (for small arrays such as labels).</summary>
    public double[] ReadRealAsDoubles()
    {
        var cur = Current;
        if (cur.RealType is not { } type) throw new InvalidOperationException($"'{cur.Name}' ({cur.Class}) has no numeric real part");
        if (_realLeft != cur.RealBytes) throw new InvalidOperationException($"'{cur.Name}': part of the data was already read");
        if (cur.RealBytes > int.MaxValue) throw Defect($"'{cur.Name}' is too large to read as doubles ({cur.RealBytes} bytes)", _elementOffset);
        var raw = new byte[cur.RealBytes];
        ReadReal(raw);
        int size = SizeOf(type);
        var result = new double[raw.Length / size];
        for (int i = 0; i < result.Length; i++)
        {
            var s = raw.AsSpan(i * size, size);
            result[i] = type switch
            {
                MatDataType.Int8 => (sbyte)s[0],
                MatDataType.UInt8 => s[0],
                MatDataType.Int16 => BigEndian ? BinaryPrimitives.ReadInt16BigEndian(s) : BinaryPrimitives.ReadInt16LittleEndian(s),
                MatDataType.UInt16 => BigEndian ? BinaryPrimitives.ReadUInt16BigEndian(s) : BinaryPrimitives.ReadUInt16LittleEndian(s),
                MatDataType.Int32 => BigEndian ? BinaryPrimitives.ReadInt32BigEndian(s) : BinaryPrimitives.ReadInt32LittleEndian(s),
                MatDataType.UInt32 => BigEndian ? BinaryPrimitives.ReadUInt32BigEndian(s) : BinaryPrimitives.ReadUInt32LittleEndian(s),
                MatDataType.Int64 => BigEndian ? BinaryPrimitives.ReadInt64BigEndian(s) : BinaryPrimitives.ReadInt64LittleEndian(s),
                MatDataType.UInt64 => BigEndian ? BinaryPrimitives.ReadUInt64BigEndian(s) : BinaryPrimitives.ReadUInt64LittleEndian(s),
                MatDataType.Single => BigEndian ? BinaryPrimitives.ReadSingleBigEndian(s) : BinaryPrimitives.ReadSingleLittleEndian(s),
                MatDataType.Double => BigEndian ? BinaryPrimitives.ReadDoubleBigEndian(s) : BinaryPrimitives.ReadDoubleLittleEndian(s),
                _ => throw Defect($"'{cur.Name}': unsupported data type {type}", _elementOffset),
            };
        }
        return result;
    }

    void FinishCurrent()
    {
        if (_source is null) return;
        try
        {
            // A compressed variable whose data was read is drained to the end, so zlib checks its Adler-32 trailer
            // and a corrupt tail cannot pass unnoticed. Unread variables are skipped without decompressing.
            if (_compressed && _readAny)
            {
                var sink = new byte[1 << 16];
                try { while (_source.Read(sink) > 0) { } }
                catch (InvalidDataException e) { throw Defect($"corrupt zlib data in compressed element ({e.Message})", _elementOffset); }
            }
        }
        finally
        {
            _source.Dispose();
            _source = null; _current = null; _small = null; _readAny = false; _realLeft = 0; _matrixLeft = 0;
        }
    }

    void ReadSource(Span<byte> buffer, string what)
    {
        int got = 0;
        try
        {
            while (got < buffer.Length)
            {
                int n = _source!.Read(buffer[got..]);
                if (n == 0) break;
                got += n;
            }
        }
        catch (InvalidDataException e)
        {
            throw Defect($"corrupt zlib data in compressed element while reading {what} ({e.Message})", _elementOffset);
        }
        if (got < buffer.Length)
            throw Defect(_compressed
                ? $"compressed data ends early while reading {what} ({got} of {buffer.Length} bytes): truncated or corrupt zlib stream"
                : $"file ends early while reading {what} ({got} of {buffer.Length} bytes): truncated", _elementOffset);
    }

    uint U32(ReadOnlySpan<byte> s) => BigEndian ? BinaryPrimitives.ReadUInt32BigEndian(s) : BinaryPrimitives.ReadUInt32LittleEndian(s);

    static long Pad8(long n) => (n + 7) & ~7L;

    static bool IsNumericType(uint t) => t is >= 1 and <= 7 or 9 or 12 or 13;

    /// <summary>Bytes per element of a numeric data type.</summary>
    public static int SizeOf(MatDataType t) => t switch
    {
        MatDataType.Int8 or MatDataType.UInt8 => 1,
        MatDataType.Int16 or MatDataType.UInt16 => 2,
        MatDataType.Int32 or MatDataType.UInt32 or MatDataType.Single => 4,
        MatDataType.Int64 or MatDataType.UInt64 or MatDataType.Double => 8,
        _ => throw new ArgumentException($"{t} is not a numeric data type"),
    };

    static string DescribeType(uint t) =>
        Enum.IsDefined(typeof(MatDataType), (int)t) ? $"mi{((MatDataType)t).ToString().ToUpperInvariant()} ({t})" : $"{t} (unknown)";

    /// <inheritdoc />
    public void Dispose()
    {
        _source?.Dispose();
        _file.Dispose();
    }

    /// <summary>A read-only window of <c>length</c> bytes starting at the file's current position.</summary>
    sealed class SliceStream : Stream
    {
        readonly Stream _inner;
        long _left;
        public SliceStream(Stream inner, long length) { _inner = inner; _left = length; }
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override int Read(Span<byte> buffer)
        {
            if (_left <= 0) return 0;
            if (buffer.Length > _left) buffer = buffer[..(int)_left];
            int n = _inner.Read(buffer);
            _left -= n;
            return n;
        }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        protected override void Dispose(bool disposing) { } // the file belongs to the reader
    }
}
