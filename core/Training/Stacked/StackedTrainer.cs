using System.Diagnostics;
using WarmStart.Core.Data;
using WarmStart.Core.Runs;
using static TorchSharp.torch;
using WarmStart.Core.Native;

namespace WarmStart.Core.Training.Stacked;

/// <summary>
/// Trains S members of one architecture as one stacked model (<see cref="StackedNetwork"/>): each member has the
/// initial weights, data order, optimiser state and stop rule it would have with <see cref="Trainer.Fit"/>;
/// the objective is the sum of the members' mean losses, so each member's gradient is its own. A member that
/// meets its stop rule leaves the stack (its rows are dropped from parameters and optimiser state), so it stops
/// changing and the rest train on without paying for it. Its <see cref="TrainResult"/> is recorded as the single
/// trainer records it; its <see cref="EpochRecord.Seconds"/> is its share (1/S) of the stack's epoch time.
/// <para>A member's numbers do not depend on its companions or its position (stacks of 1, 3 and 8 give
/// bit-identical results on the CPU with a fixed thread count). They are not bit-identical to
/// <see cref="Trainer.Fit"/>: the batched matmul's backward multiplies in another order than
/// <c>nn.Linear</c>'s, so results of the two engines agree statistically, not bit for bit.</para>
/// <para>Members must share the pool size (so they take the same number of steps per epoch); group them by it.</para>
/// </summary>
public static class StackedTrainer
{
    /// <summary>The engine name recorded with results trained this way (results of different engines are
    /// not interchangeable bit for bit).</summary>
    public const string Engine = "stacked";

    /// <summary>Why <paramref name="members"/> cannot be trained as one stack with <paramref name="o"/>, or null
    /// when they can.</summary>
    public static string? CannotStack(IReadOnlyList<StackedMember> members, StackedOptions o)
    {
        if (members.Count == 0) return "no members";
        var spec = members[0].Model.Spec;
        if (!StackedNetwork.Supports(spec, out var reason)) return reason;
        if (o.OptimizerSpec.Kind is not ("adam" or "sgd")) return $"optimizer '{o.OptimizerSpec.Kind}' has no stacked form";
        for (int s = 1; s < members.Count; s++)
        {
            if (!members[s].Model.Spec.Equals(spec)) return $"member {s} is a {members[s].Model.Spec}, member 0 a {spec}";
            if (members[s].Indices.shape[0] != members[0].Indices.shape[0])
                return $"member {s} trains on {members[s].Indices.shape[0]} examples, member 0 on {members[0].Indices.shape[0]}: a stack shares the pool size";
        }
        return null;
    }

    /// <summary>Trains every member; results in member order. Throws <see cref="ArgumentException"/> when
    /// <see cref="CannotStack"/> names a reason.</summary>
    public static IReadOnlyList<TrainResult> Fit(IReadOnlyList<StackedMember> members, Dataset data, StackedOptions o)
    {
        if (CannotStack(members, o) is string why) throw new ArgumentException($"cannot stack these members: {why}");
        if (members[0].Indices.shape[0] == 0) throw new ArgumentException("cannot train on an empty subset");
        var device = o.Device ?? CPU;
        int count = members.Count;
        // The stack's rows: the member each row trains (a member's row leaves the stack when it stops).
        var rows = Enumerable.Range(0, count).ToList();
        using var net = StackedNetwork.Create(rows.Select(m => members[m].Model).ToArray(), device);
        using var opt = new StackedOptimizer(o.OptimizerSpec, net, rows.Select(m => members[m].Lr ?? o.OptimizerSpec.Lr).ToArray(),
            rows.Select(m => members[m].L2Init).ToArray());
        var results = new TrainResult?[count];
        var curves = members.Select(_ => new List<EpochRecord>()).ToArray();
        var best = Enumerable.Repeat(double.PositiveInfinity, count).ToArray();
        var sinceBest = new int[count];
        var seconds = new double[count];
        long poolSize = members[0].Indices.shape[0];

        for (int epoch = 1; rows.Count > 0; epoch++)
        {
            foreach (var m in rows) members[m].BeforeEpoch?.Invoke(epoch);
            var sw = Stopwatch.StartNew();
            int s = rows.Count;
            var batches = rows.Select(m => new EpochBatches(members[m].Indices, o.BatchSize, Seeds.Derive(members[m].OrderSeed, $"epoch-{epoch}"))).ToArray();
            // Every row's epoch order side by side [S, N]: a step's indices are one slice of it, not S slices joined.
            using var orders = o.Augmentation is null ? stack(batches.Select(e => e.Order).ToArray(), 0) : null;
            var augment = o.Augmentation is null ? null
                : rows.Select(m => new Generator((ulong)Seeds.Derive(members[m].OrderSeed, $"augment-{epoch}"))).ToArray();
            using var lossSum = zeros(s, dtype: ScalarType.Float64, device: device);
            using var correctSum = zeros(s, dtype: ScalarType.Int64, device: device);
            try
            {
                int batchCount = batches[0].BatchCount;
                for (int b = 0; b < batchCount; b++)
                {
                    o.Cancellation.ThrowIfCancellationRequested();
                    using var scope = NewDisposeScope();
                    var (x, y) = orders is null ? Gather(data, batches, b, device, o.Augmentation, augment)
                        : GatherRows(data, orders, b, o.BatchSize, device);
                    long n = y.shape[1];
                    var logits = net.Forward(x);
                    long k = logits.shape[2];
                    var perExample = nn.functional.cross_entropy(logits.reshape(s * n, k), y.reshape(s * n), reduction: nn.Reduction.None);
                    // Each member's mean as a batched dot product with ones: a row reduction (mean(1)) sums in an order
                    // that depends on how many rows there are, and a member's loss must not depend on its companions.
                    var unit = ones(s, n, 1, device: device);
                    // Held Scalars (see Scalars): a temporary one can be freed by its finaliser mid-call.
                    var losses = perExample.view(s, 1, n).bmm(unit).view(s).div(Scalars.Of(n));
                    // Gradients as new tensors (no .grad to zero and accumulate into each step).
                    var grads = autograd.grad(new[] { losses.sum() }, net.Leaves);
                    opt.Update(grads);
                    lossSum.add_(losses.detach(), Scalars.Of(n));
                    correctSum.add_(logits.argmax(2).eq(y).sum(new long[] { 1 }), Scalars.OneInt);
                }
            }
            finally
            {
                foreach (var e in batches) e.Dispose();
                if (augment is not null) foreach (var g in augment) g.Dispose();
            }
            var lossTotals = lossSum.cpu().data<double>().ToArray();
            var correct = correctSum.cpu().data<long>().ToArray();
            // A member's share of the stack's time: the epoch's wall time over the members it trained.
            double share = sw.Elapsed.TotalSeconds / s;
            var keep = new List<int>(); // positions of the rows that train on
            for (int p = 0; p < s; p++)
            {
                int m = rows[p];
                var rec = new EpochRecord(epoch, lossTotals[p] / poolSize, correct[p] / (double)poolSize, share);
                curves[m].Add(rec);
                seconds[m] += share;
                members[m].AfterEpoch?.Invoke(rec);
                bool stop;
                if (!double.IsFinite(rec.Loss)) stop = true;
                else
                {
                    if (rec.Loss < best[m] - 1e-12) { best[m] = rec.Loss; sinceBest[m] = 0; } else sinceBest[m]++;
                    stop = members[m].Stop.ShouldStop(epoch, rec.TrainAccuracy, sinceBest[m]);
                }
                if (stop)
                {
                    net.CopyMemberInto(p, members[m].Model);
                    if (members[m].Optimizer is optim.Optimizer mo) opt.CopyMemberStateInto(p, members[m].Model, mo);
                    var last = curves[m][^1];
                    results[m] = new TrainResult(curves[m], curves[m].Count, last.Loss, last.TrainAccuracy, seconds[m],
                        poolSize * curves[m].Count, !double.IsFinite(last.Loss));
                }
                if (!stop) keep.Add(p);
            }
            if (keep.Count == 0) break;
            // Drop finished rows.
            if (keep.Count < s)
            {
                using var idx = tensor(keep.Select(p => (long)p).ToArray(), dtype: ScalarType.Int64, device: device);
                opt.Keep(idx);
                net.Keep(idx);
            }
            rows = keep.Select(p => rows[p]).ToList();
        }
        return results.Select(r => r!).ToArray();
    }

    /// <summary>Batch <paramref name="b"/> of every row of <paramref name="orders"/> ([S, N] epoch orders), as
    /// [S, B, C, H, W] inputs and [S, B] labels, with one gather.</summary>
    static (Tensor X, Tensor Y) GatherRows(Dataset data, Tensor orders, int b, int batchSize, Device device)
    {
        long s = orders.shape[0], count = orders.shape[1];
        long n = Math.Min(batchSize, count - (long)b * batchSize);
        var (c, h, w) = data.Shape;
        var idx = orders.narrow(1, (long)b * batchSize, n).reshape(s * n);
        var (x, y) = data.Batch(idx, device);
        return (x.view(s, n, c, h, w), y.view(s, n));
    }

    /// <summary>Batch <paramref name="b"/> of every member, as [S, B, C, H, W] inputs and [S, B] labels.</summary>
    static (Tensor X, Tensor Y) Gather(Dataset data, EpochBatches[] batches, int b, Device device,
        Augmentation? augmentation, Generator[]? generators)
    {
        int s = batches.Length;
        var (c, h, w) = data.Shape;
        if (augmentation is null)
        {
            // One gather for all members: their index slices concatenated.
            var idx = s == 1 ? batches[0][b] : cat(batches.Select(e => e[b]).ToArray(), 0);
            var (x, y) = data.Batch(idx, device);
            long n = y.shape[0] / s;
            return (x.view(s, n, c, h, w), y.view(s, n));
        }
        var parts = batches.Select((e, i) => data.AugmentedBatch(e[b], device, augmentation, generators![i])).ToArray();
        return (stack(parts.Select(p => p.X).ToArray(), 0), stack(parts.Select(p => p.Y).ToArray(), 0));
    }
}
