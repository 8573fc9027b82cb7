using TorchSharp;
using static TorchSharp.torch;

namespace WarmStart.Core.Training.Stacked;

/// <summary>
/// One parameter of S stacked members: a leaf tensor [S, Padded] whose row s holds member s's copy of the
/// single network's parameter <see cref="Name"/> (flattened, then zero-padded to <see cref="Padded"/>).
/// Rows are padded to a multiple of <see cref="Align"/> elements so that every member's elements sit at the same
/// position relative to the vector width of torch's elementwise kernels whatever S is: those kernels treat a
/// tensor's tail with scalar code that may round differently (no fused multiply-add) from the vector body, and
/// a member's numbers must not depend on its companions. The padding stays zero (its gradient is zero).
/// A linear layer's weight may be stored transposed ([in, out] per member, <see cref="Transposed"/>), the layout
/// a batched <c>x·Wᵀ</c> reads directly and its backward writes directly, so no step copies a transposed gradient.
/// </summary>
public sealed class StackedParameter : IDisposable
{
    /// <summary>Row alignment in elements: two 512-bit vectors of float32 (covers AVX2 and AVX-512 unrolling).</summary>
    public const long Align = 64;

    /// <summary>The single network's parameter name, e.g. "hidden1.weight".</summary>
    public string Name { get; }
    /// <summary>The shape of one member's parameter, e.g. [100, 784].</summary>
    public long[] Shape { get; }
    /// <summary>Elements of one member's parameter.</summary>
    public long Numel { get; }
    /// <summary>Row length (Numel rounded up to <see cref="Align"/>).</summary>
    public long Padded { get; }
    /// <summary>True when each row holds the member's 2-D parameter transposed.</summary>
    public bool Transposed { get; }
    /// <summary>The shape of one member's row as stored (<see cref="Shape"/> reversed when transposed).</summary>
    public long[] StoredShape { get; }
    /// <summary>The learnable leaf [S, Padded].</summary>
    public Tensor Data { get; private set; }

    /// <summary>Stacks <paramref name="members"/> (one tensor per member, all of one shape) into a new leaf on
    /// <paramref name="device"/>.</summary>
    public StackedParameter(string name, IReadOnlyList<Tensor> members, Device device, bool transposed = false)
    {
        if (transposed && members[0].dim() != 2) throw new ArgumentException($"stacked parameter '{name}': only 2-D parameters are stored transposed");
        if (members.Count == 0) throw new ArgumentException("a stacked parameter needs at least one member");
        Name = name;
        Shape = members[0].shape;
        Numel = members[0].numel();
        Transposed = transposed;
        StoredShape = transposed ? new[] { Shape[1], Shape[0] } : Shape;
        Padded = (Numel + Align - 1) / Align * Align;
        using var _ = no_grad();
        var d = zeros(new long[] { members.Count, Padded }, dtype: members[0].dtype, device: device);
        for (int s = 0; s < members.Count; s++)
        {
            if (!members[s].shape.SequenceEqual(Shape))
                throw new ArgumentException($"stacked parameter '{name}': member {s} has shape [{string.Join(", ", members[s].shape)}], member 0 [{string.Join(", ", Shape)}]");
            var m = members[s].detach();
            d[s].narrow(0, 0, Numel).copy_((transposed ? m.t().contiguous() : m).reshape(Numel));
        }
        Data = d.requires_grad_(true);
    }

    /// <summary>Number of members.</summary>
    public long Members => Data.shape[0];

    /// <summary>The members' parameters as a differentiable view [S, …StoredShape].</summary>
    public Tensor View()
    {
        var rows = Padded == Numel ? Data : Data.narrow(1, 0, Numel);
        return rows.view(new[] { Data.shape[0] }.Concat(StoredShape).ToArray());
    }

    /// <summary>Member <paramref name="s"/>'s values as a new tensor of <see cref="Shape"/> (detached copy).</summary>
    public Tensor Member(long s) => RowOf(Data, s);

    /// <summary>Row <paramref name="s"/> of <paramref name="stacked"/> (a tensor of this parameter's [S, Padded]
    /// layout, e.g. an optimiser moment) in the single parameter's shape, as a new detached tensor.</summary>
    public Tensor RowOf(Tensor stacked, long s)
    {
        using var _ = no_grad();
        var row = stacked[s].narrow(0, 0, Numel).reshape(StoredShape);
        return Transposed ? row.t().contiguous() : row.clone();
    }

    /// <summary>Keeps only the rows <paramref name="keep"/> (members still training); the old leaf is disposed.</summary>
    public void Keep(Tensor keep)
    {
        using var _ = no_grad();
        var next = Data.detach().index_select(0, keep).requires_grad_(true);
        Data.Dispose();
        Data = next;
    }

    /// <inheritdoc />
    public void Dispose() => Data.Dispose();
}
