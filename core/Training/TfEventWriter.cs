using System.Diagnostics;
using Google.Protobuf;
using Tensorboard;
using WellKnownValue = Google.Protobuf.WellKnownTypes.Value;

namespace WarmStart.Core.Training;

/// <summary>
/// Appends TensorBoard events to one event file: TFRecord framing (length, masked CRC-32C of the length, the
/// <c>Event</c> protobuf, masked CRC-32C of it), flushed after every event so TensorBoard shows a run while it trains.
/// Built on TorchSharp's generated TensorBoard protobuf types and CRC-32C. TorchSharp's own <c>SummaryWriter</c> is
/// not used here: it records a wall time of 0 (TensorBoard's "relative" axis collapses) and cannot write the
/// hparams plugin's summaries. Not thread-safe: one writer per run.
/// </summary>
public sealed class TfEventWriter
{
    static int _counter;

    /// <summary>The event file written.</summary>
    public string FilePath { get; }

    /// <summary>Creates <paramref name="runDir"/> and a new event file in it, starting with the file-version event.</summary>
    public TfEventWriter(string runDir)
    {
        Directory.CreateDirectory(runDir);
        var name = $"events.out.tfevents.{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}.{Environment.MachineName}.{Environment.ProcessId}.{Interlocked.Increment(ref _counter)}";
        FilePath = Path.Combine(runDir, name);
        Write(new Event { FileVersion = "brain.Event:2", WallTime = Now() });
    }

    static double Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

    /// <summary>One scalar at a step (TensorBoard plots <c>float32</c> simple values).</summary>
    public void Scalar(string tag, double value, long step)
    {
        var summary = new Summary();
        summary.Value.Add(new Summary.Types.Value { Tag = tag, SimpleValue = (float)value });
        Write(new Event { Step = step, WallTime = Now(), Summary = summary });
    }

    /// <summary>The hparams plugin's session start: this run's hyper-parameters (strings, numbers or booleans), as
    /// PyTorch's <c>SummaryWriter.add_hparams</c> writes them (tensorboard/plugins/hparams/plugin_data.proto). The
    /// HParams dashboard lists the run with these values and the run's scalars as metrics.</summary>
    public void SessionStart(IReadOnlyDictionary<string, object> hparams)
    {
        // SessionStartInfo: map<string, google.protobuf.Value> hparams = 1; double start_time_secs = 5.
        var start = new MemoryStream();
        using (var o = new CodedOutputStream(start, leaveOpen: true))
        {
            foreach (var (key, value) in hparams.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                var v = value switch
                {
                    bool b => WellKnownValue.ForBool(b),
                    string s => WellKnownValue.ForString(s),
                    IConvertible c => WellKnownValue.ForNumber(c.ToDouble(System.Globalization.CultureInfo.InvariantCulture)),
                    _ => WellKnownValue.ForString(value?.ToString() ?? ""),
                };
                var entry = new MemoryStream();
                using (var e = new CodedOutputStream(entry, leaveOpen: true))
                {
                    e.WriteTag(1, WireFormat.WireType.LengthDelimited); e.WriteString(key);
                    e.WriteTag(2, WireFormat.WireType.LengthDelimited); e.WriteMessage(v);
                }
                o.WriteTag(1, WireFormat.WireType.LengthDelimited); o.WriteBytes(ByteString.CopyFrom(entry.ToArray()));
            }
            o.WriteTag(5, WireFormat.WireType.Fixed64); o.WriteDouble(Now());
        }
        WritePluginData("_hparams_/session_start_info", 3, start.ToArray());
    }

    /// <summary>The hparams plugin's session end: success, or failure (a diverged or failed run).</summary>
    public void SessionEnd(bool success)
    {
        // SessionEndInfo: Status status = 1 (SUCCESS 1, FAILURE 2); double end_time_secs = 2.
        var end = new MemoryStream();
        using (var o = new CodedOutputStream(end, leaveOpen: true))
        {
            o.WriteTag(1, WireFormat.WireType.Varint); o.WriteEnum(success ? 1 : 2);
            o.WriteTag(2, WireFormat.WireType.Fixed64); o.WriteDouble(Now());
        }
        WritePluginData("_hparams_/session_end_info", 4, end.ToArray());
    }

    /// <summary>A summary value carrying only plugin metadata: HParamsPluginData { version = 0; field = message }.</summary>
    void WritePluginData(string tag, int field, byte[] message)
    {
        var content = new MemoryStream();
        using (var o = new CodedOutputStream(content, leaveOpen: true))
        {
            o.WriteTag(field, WireFormat.WireType.LengthDelimited); o.WriteBytes(ByteString.CopyFrom(message));
        }
        var metadata = new SummaryMetadata
        {
            PluginData = new SummaryMetadata.Types.PluginData { PluginName = "hparams", Content = ByteString.CopyFrom(content.ToArray()) },
        };
        var summary = new Summary();
        summary.Value.Add(new Summary.Types.Value { Tag = tag, Metadata = metadata });
        Write(new Event { WallTime = Now(), Summary = summary });
    }

    void Write(Event e)
    {
        var bytes = e.ToByteArray();
        var length = BitConverter.GetBytes((ulong)bytes.LongLength);
        Debug.Assert(BitConverter.IsLittleEndian, "TFRecord lengths and CRCs are little-endian");
        using var fs = new FileStream(FilePath, FileMode.Append, FileAccess.Write, FileShare.Read);
        fs.Write(length);
        fs.Write(BitConverter.GetBytes(MaskedCrc(length)));
        fs.Write(bytes);
        fs.Write(BitConverter.GetBytes(MaskedCrc(bytes)));
        fs.Flush();
    }

    /// <summary>TFRecord's masked CRC-32C: rotate right by 15 bits and add a constant.</summary>
    static uint MaskedCrc(byte[] data)
    {
        var crc = TorchSharp.Utils.CRC32C.process(data);
        return ((crc >> 15) | (crc << 17)) + 0xa282ead8U;
    }
}
