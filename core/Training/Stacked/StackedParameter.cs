using TorchSharp;
using static TorchSharp.torch;

namespace WarmStart.Core.Training.Stacked;

/// <summary>
/// One parameter of S stacked members: a leaf tensor [S, Padded] whose row s holds member s's copy of the
/// single network's parameter <see cref="Name"/> (flattened, then zero-padded to <see cref="Padded"/>). The leaf is
/// a view of the network's flat buffer, which holds every parameter's [S, Padded] block one after another
/// (parameter p's block starts at element S·<see cref="Offset"/>), so each leaf is contiguous and the optimiser
/// updates every parameter of every member with one op per step (<see cref="StackedOptimizer"/>).
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
    /// <summary>The padded elements of the parameters before this one (a multiple of <see cref="Align"/>); its
    /// block in a flat buffer of S members starts at element S·Offset.</summary>
    public long Offset { get; }
    /// <summary>True when each row holds the member's 2-D parameter transposed.</summary>
    public bool Transposed { get; }
    /// <summary>The shape of one member's row as stored (<see cref="Shape"/> reversed when transposed).</summary>
    public long[] StoredShape { get; }
    /// <summary>The learnable leaf [S, Padded] (a view of the flat buffer it was bound to).</summary>
    public Tensor Data { get; private set; } = null!;

    /// <summary>A parameter of <paramref name="shape"/> at <paramref name="offset"/> (see <see cref="Offset"/>); call
    /// <see cref="Bind"/> before use.</summary>
    public StackedParameter(string name, long[] shape, long offset, bool transposed = false)
    {
        if (transposed && shape.Length != 2) throw new ArgumentException($"stacked parameter '{name}': only 2-D parameters are stored transposed");
        if (offset % Align != 0) throw new ArgumentException($"stacked parameter '{name}': offset {offset} is not a multiple of {Align}");
        Name = name;
        Shape = shape;
        Numel = shape.Aggregate(1L, (a, b) => a * b);
        Offset = offset;
        Transposed = transposed;
        StoredShape = transposed ? new[] { Shape[1], Shape[0] } : Shape;
        Padded = (Numel + Align - 1) / Align * Align;
    }

    /// <summary>This parameter's block [S, Padded] of <paramref name="flat"/> (a flat buffer of S members: the
    /// parameters, or an optimiser moment of the same layout), as a view.</summary>
    public Tensor BlockOf(Tensor flat, long members) =>
        flat.narrow(0, members * Offset, members * Padded).view(members, Padded);

    /// <summary>Writes member <paramref name="s"/>'s tensor <paramref name="value"/> (of <see cref="Shape"/>) into
    /// its row of <paramref name="flat"/> (a flat buffer of <paramref name="members"/> members).</summary>
    public void Fill(Tensor flat, long members, long s, Tensor value)
    {
        if (!value.shape.SequenceEqual(Shape))
            throw new ArgumentException($"stacked parameter '{Name}': member {s} has shape [{string.Join(", ", value.shape)}], member 0 [{string.Join(", ", Shape)}]");
        using var _ = no_grad();
        var m = value.detach();
        BlockOf(flat, members)[s].narrow(0, 0, Numel).copy_((Transposed ? m.t().contiguous() : m).reshape(Numel));
    }

    /// <summary>Makes <see cref="Data"/> a new leaf viewing this parameter's block of <paramref name="flat"/> (a flat
    /// buffer of <paramref name="members"/> members; the previous leaf is disposed).</summary>
    public void Bind(Tensor flat, long members)
    {
        var old = Data;
        using (no_grad()) Data = BlockOf(flat, members).detach().requires_grad_(true);
        old?.Dispose();
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
    public Tensor Member(long s) => Row(Data[s].narrow(0, 0, Numel));

    /// <summary>Member <paramref name="s"/>'s part of <paramref name="flat"/> (a flat buffer of the parameters' layout
    /// for <paramref name="members"/> members, e.g. an optimiser moment) in this parameter's shape, as a new detached tensor.</summary>
    public Tensor RowOf(Tensor flat, long members, long s) => Row(BlockOf(flat, members)[s].narrow(0, 0, Numel));

    Tensor Row(Tensor elements)
    {
        using var _ = no_grad();
        var row = elements.reshape(StoredShape);
        return Transposed ? row.t().contiguous() : row.clone();
    }

    /// <inheritdoc />
    public void Dispose() => Data?.Dispose();
}
