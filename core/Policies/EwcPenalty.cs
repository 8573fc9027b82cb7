using WarmStart.Core.Data;
using WarmStart.Core.Models;
using WarmStart.Core.Runs;
using WarmStart.Core.Training;
using TorchSharp;
using static TorchSharp.torch;
using WarmStart.Core.Native;

namespace WarmStart.Core.Policies;

/// <summary>Which labels the Fisher information is taken over.</summary>
public enum FisherKind
{
    /// <summary>The true Fisher: y drawn from the model's own predictive distribution p_θ(·|x) (seeded).</summary>
    Sampled,
    /// <summary>The "empirical Fisher": the dataset's true labels.</summary>
    Empirical,
}

/// <summary>
/// How to estimate a diagonal Fisher. <see cref="Samples"/>: how many examples of the subset to use (a seeded
/// random subset when the subset is larger; ≤ 0: all). <see cref="BatchSize"/>: examples gathered per batch.
/// <see cref="MicroBatch"/>: examples per backward pass. With 1 (the default) every example's squared gradient is
/// exact. With m &gt; 1 the estimate is (1/N)·Σ_b (Σ_{j∈b} g_j)², which is unbiased for the <see cref="FisherKind.Sampled"/>
/// Fisher (cross terms vanish in expectation, since E_{y∼p}[∇ log p(y|x)] = 0) but biased for the empirical one;
/// it trades variance for m-fold fewer backward passes.
/// </summary>
public sealed record FisherOptions(FisherKind Kind = FisherKind.Sampled, int Samples = 1024, int BatchSize = 128,
    int MicroBatch = 1, long Seed = 0);

/// <summary>Diagonal Fisher information of a classifier at its current parameters.</summary>
public static class Fisher
{
    // A Scalar held for the process's life. TorchSharp passes a Scalar's native handle to libtorch without keeping the
    // managed object alive, so a temporary one (an implicit conversion of `1`) can be finalised by the GC, freeing the
    // native value, while another thread's allocation triggers a collection mid-call: libtorch then reads freed memory
    // ("Expected false to be true" from Scalar::toFloat, or a segfault). Scalars are not tracked by DisposeScope.
    private static readonly Scalar One = 1.ToScalar();

    /// <summary>
    /// F_i = (1/N) Σ_x (∂ log p_θ(y|x) / ∂θ_i)² over examples x of <paramref name="indices"/> of
    /// <paramref name="data"/>, with y sampled from p_θ(·|x) or the true label (<see cref="FisherOptions.Kind"/>).
    /// The model is evaluated in eval mode (BatchNorm uses its running statistics, so examples do not interact and
    /// no buffer changes); its parameters are not changed, its gradients are left zeroed, its mode restored.
    /// Returns one tensor per learnable parameter, by name, on the model's device.
    /// </summary>
    public static ParameterSet Estimate(Network model, Dataset data, Tensor indices, FisherOptions? options = null, Device? device = null)
    {
        var o = options ?? new FisherOptions();
        if (o.BatchSize < 1 || o.MicroBatch < 1) throw new ArgumentOutOfRangeException(nameof(options), "fisher batch and micro-batch sizes must be ≥ 1");
        long n = indices.shape[0];
        if (n == 0) throw new ArgumentException("fisher: no data to estimate on");
        var named = model.named_parameters().ToArray();
        var fisher = named.ToDictionary(p => p.name, p => zeros_like(p.parameter).detach());
        using var g = new Generator((ulong)Seeds.Derive(o.Seed, "fisher-labels"));
        Tensor? subset = null;
        if (o.Samples > 0 && o.Samples < n)
        {
            using var pg = new Generator((ulong)Seeds.Derive(o.Seed, "fisher-subset"));
            using var perm = randperm(n, dtype: ScalarType.Int64, generator: pg);
            using var first = perm.narrow(0, 0, o.Samples);
            subset = indices.index_select(0, first);
            n = o.Samples;
        }
        var idx = subset ?? indices;
        bool wasTraining = model.training;
        model.eval();
        try
        {
            for (long start = 0; start < n; start += o.BatchSize)
            {
                using var scope = NewDisposeScope();
                long bs = Math.Min(o.BatchSize, n - start);
                var (x, y) = data.Batch(idx.narrow(0, start, bs), device);
                for (long m = 0; m < bs; m += o.MicroBatch)
                {
                    using var inner = NewDisposeScope();
                    long ms = Math.Min(o.MicroBatch, bs - m);
                    model.zero_grad();
                    var logp = nn.functional.log_softmax(model.forward(x.narrow(0, m, ms)), 1);
                    Tensor labels;
                    if (o.Kind == FisherKind.Empirical) labels = y.narrow(0, m, ms);
                    else
                    {
                        using var _ = no_grad();
                        // Draw on the CPU from the seeded generator, whatever the device.
                        labels = multinomial(logp.detach().exp().cpu(), 1, generator: g).squeeze(1).to(logp.device);
                    }
                    logp.gather(1, labels.unsqueeze(1)).sum().backward();
                    using var __ = no_grad();
                    foreach (var (name, p) in named)
                        if (p.grad is Tensor grad) fisher[name].addcmul_(grad, grad, One);
                }
            }
            using (no_grad())
                foreach (var f in fisher.Values) f.div_(n);
            return new ParameterSet(fisher);
        }
        catch
        {
            foreach (var f in fisher.Values) f.Dispose();
            throw;
        }
        finally
        {
            model.zero_grad();
            model.train(wasTraining);
            subset?.Dispose();
        }
    }
}

/// <summary>
/// Elastic weight consolidation (Kirkpatrick et al. 2017; protocol §7.7): Σ_i (λ/2)·F_i·(θ_i − θ*_i)², with θ*
/// the previous stage's solution and F its diagonal Fisher on the previous stage's data. Holds its own copies of
/// F and θ* (moved to the model's device on first use); dispose it after the stage.
/// </summary>
public sealed class EwcPenalty : IPenalty, IDisposable
{
    readonly ParameterSet _fisher, _thetaStar;
    readonly Dictionary<string, Tensor> _moved = new();

    /// <summary>Penalty strength λ ≥ 0.</summary>
    public double Lambda { get; }

    /// <summary>A penalty with diagonal Fisher <paramref name="fisher"/> and anchor <paramref name="thetaStar"/>
    /// (parameter name → tensor; both copied). Parameters missing from <paramref name="fisher"/> are not penalised.</summary>
    public EwcPenalty(double lambda, IReadOnlyDictionary<string, Tensor> fisher, IReadOnlyDictionary<string, Tensor> thetaStar)
    {
        if (!(lambda >= 0) || double.IsInfinity(lambda)) throw new ArgumentOutOfRangeException(nameof(lambda), $"ewc λ = {lambda}; allowed: λ ≥ 0");
        Lambda = lambda;
        using var _ = no_grad();
        _fisher = new ParameterSet(fisher.ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone()));
        _thetaStar = new ParameterSet(thetaStar.ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone()));
        foreach (var name in _fisher.Names)
            if (!_thetaStar.TryGet(name, out var s) || !s.shape.SequenceEqual(_fisher[name].shape))
                throw new ArgumentException($"ewc: θ* has no parameter '{name}' of the Fisher's shape");
    }

    /// <summary>EWC anchored at <paramref name="parent"/>'s parameters, with the Fisher estimated at
    /// <paramref name="parent"/> on <paramref name="indices"/> of <paramref name="data"/> (the previous stage's data).</summary>
    public static EwcPenalty AtParent(double lambda, Network parent, Dataset data, Tensor indices, FisherOptions? options = null, Device? device = null)
    {
        using var fisher = Fisher.Estimate(parent, data, indices, options, device);
        using var star = ParameterSet.Of(parent);
        return new EwcPenalty(lambda, fisher.Tensors, star.Tensors);
    }

    /// <summary>EWC for a stage: anchored at <see cref="StageContext.Parent"/>, Fisher on <see cref="StageContext.ParentIndices"/>.</summary>
    public static EwcPenalty ForStage(double lambda, StageContext ctx, FisherOptions? options = null)
    {
        var parent = ctx.Parent ?? throw new InvalidOperationException("ewc needs a parent stage");
        var idx = ctx.ParentIndices ?? throw new InvalidOperationException("ewc needs the parent stage's data (ParentIndices)");
        return AtParent(lambda, parent, ctx.Train, idx, options, ctx.Device);
    }

    /// <summary>The diagonal Fisher held, by parameter name.</summary>
    public IReadOnlyDictionary<string, Tensor> FisherDiagonal => _fisher.Tensors;

    /// <inheritdoc />
    public string Name => $"ewc(λ={Lambda})";

    /// <inheritdoc />
    public Tensor Compute(Network model)
    {
        Tensor? total = null;
        foreach (var (name, p) in model.named_parameters())
        {
            if (!_fisher.TryGet(name, out var f)) continue;
            if (!f.shape.SequenceEqual(p.shape))
                throw new ArgumentException($"ewc: Fisher '{name}' has shape [{string.Join(", ", f.shape)}], the model [{string.Join(", ", p.shape)}]");
            var term = (Near("F:" + name, f, p) * (p - Near("θ*:" + name, _thetaStar[name], p)).square()).sum();
            total = total is null ? term : total.add(term, Scalars.OneInt);
        }
        if (total is null) return zeros(1, device: model.parameters().First().device).squeeze();
        return total.mul(Scalars.Of(Lambda / 2)); // held Scalars: see Scalars
    }

    /// <summary><paramref name="t"/> on <paramref name="p"/>'s device (copied there once per key).</summary>
    Tensor Near(string key, Tensor t, Tensor p)
    {
        if (t.OnSameDevice(p)) return t;
        if (_moved.TryGetValue(key, out var m) && m.OnSameDevice(p)) return m;
        m?.Dispose();
        return _moved[key] = t.to(p.device);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in _moved.Values) t.Dispose();
        _moved.Clear();
        _fisher.Dispose();
        _thetaStar.Dispose();
    }
}
