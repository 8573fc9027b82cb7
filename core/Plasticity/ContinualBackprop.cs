using WarmStart.Core.Models;
using WarmStart.Core.Runs;
using WarmStart.Core.Training;
using static TorchSharp.torch;
using WarmStart.Core.Native;

namespace WarmStart.Core.Plasticity;

/// <summary>The instantaneous utility continual backprop ranks units by (names of loss-of-plasticity's gnt.py).</summary>
public enum CbpUtility
{
    /// <summary>y_i = mean_b|h_i| · mean_k|W_{l+1}[k,i]| (Dohare et al. 2024, Eq. 1, with a mean instead of a sum: same ranking).</summary>
    Contribution,
    /// <summary>y_i = mean_b|h_i − f̂_i| · mean_k|W_{l+1}[k,i]| / mean_j|W_l[i,j]|.</summary>
    AdaptableContribution,
}

/// <summary>
/// Continual backprop (Dohare et al., Nature 2024; reference code shibhansh/loss-of-plasticity lop/algos/gnt.py
/// with accumulate=True). After every optimiser step, on the activations of that step's forward pass, for each
/// hidden layer: ages a += 1; running mean activation f ← η f + (1−η) mean_b h and utility u ← η u + (1−η) y,
/// both bias-corrected by 1 − η^a; the units older than the maturity threshold m are eligible; a credit
/// c += ρ·|eligible| is accumulated and ⌊c⌋ eligible units with the smallest bias-corrected utility are replaced:
/// incoming weights re-drawn (Kaiming-uniform by default), incoming bias 0, outgoing weights 0, age, utility and
/// mean activation 0, and their optimiser moments zeroed (Adam's per-tensor step count is kept; the reference's
/// AdamGnT has a per-element step that TorchSharp's Adam lacks). With <see cref="BiasCorrection"/> the next
/// layer's bias absorbs W_{l+1}[:,i]·f̂_i before the column is zeroed, so a unit whose activation equals its mean
/// leaves the function unchanged; the reference code zeroes f first, which makes its correction add 0 — the
/// default here (false) matches that behaviour.
/// </summary>
public sealed class ContinualBackprop : IStreamHook
{
    /// <summary>ρ, the fraction of eligible units replaced per step (credit accumulates across steps).</summary>
    public double ReplacementRate { get; }
    /// <summary>η, the decay of the running utility and mean activation.</summary>
    public double DecayRate { get; }
    /// <summary>m: a unit is eligible once its age exceeds this many steps.</summary>
    public int MaturityThreshold { get; }
    /// <summary>The utility type.</summary>
    public CbpUtility Utility { get; }
    /// <summary>How replaced units' incoming weights are drawn.</summary>
    public UnitInit Init { get; }
    /// <summary>Whether the next layer's bias absorbs the replaced unit's mean contribution.</summary>
    public bool BiasCorrection { get; }
    readonly long _seed;

    Tensor[]? _util, _bcUtil, _mean, _ages;
    double[]? _credit;
    long _steps;

    /// <summary>The number of units replaced so far, per layer (for logs and tests).</summary>
    public long[] Replaced { get; private set; } = Array.Empty<long>();
    /// <summary>The units replaced at the last step, per layer (empty arrays when none).</summary>
    public long[][] LastReplaced { get; private set; } = Array.Empty<long[]>();

    /// <summary>Defaults: ρ 1e-4, η 0.99, m 100 (loss-of-plasticity's permuted-MNIST cfg and GnT's ρ and η), the
    /// contribution utility, Kaiming-uniform re-draws, no bias correction. New weights are drawn from generators
    /// seeded by <c>Seeds.Derive(seed, "cbp", layer, "step-n")</c>, so a resumed stream draws the same.</summary>
    public ContinualBackprop(long seed, double replacementRate = 1e-4, double decayRate = 0.99, int maturityThreshold = 100,
        CbpUtility utility = CbpUtility.Contribution, UnitInit init = UnitInit.Kaiming, bool biasCorrection = false)
    {
        if (!(replacementRate >= 0 && replacementRate <= 1)) throw new ArgumentOutOfRangeException(nameof(replacementRate), $"cbp replacement_rate = {replacementRate}; allowed: 0 ≤ ρ ≤ 1");
        if (!(decayRate >= 0 && decayRate < 1)) throw new ArgumentOutOfRangeException(nameof(decayRate), $"cbp decay_rate = {decayRate}; allowed: 0 ≤ η < 1");
        if (maturityThreshold < 0) throw new ArgumentOutOfRangeException(nameof(maturityThreshold), $"cbp maturity_threshold = {maturityThreshold}; allowed: ≥ 0");
        _seed = seed; ReplacementRate = replacementRate; DecayRate = decayRate; MaturityThreshold = maturityThreshold;
        Utility = utility; Init = init; BiasCorrection = biasCorrection;
    }

    /// <inheritdoc />
    public string Describe() =>
        $"cbp replacement_rate={ReplacementRate} decay_rate={DecayRate} maturity_threshold={MaturityThreshold} utility={Utility} init={Init}{(BiasCorrection ? " bias_correction" : "")}";

    /// <inheritdoc />
    public bool NeedsFeatures => true;

    /// <summary>The bias-corrected utilities of the last step, per layer (copies).</summary>
    public Tensor[] BiasCorrectedUtility => _bcUtil?.Select(t => t.clone()).ToArray() ?? Array.Empty<Tensor>();
    /// <summary>The running utilities u (not bias-corrected), per layer (copies).</summary>
    public Tensor[] RunningUtility => _util?.Select(t => t.clone()).ToArray() ?? Array.Empty<Tensor>();
    /// <summary>The running mean activations f (not bias-corrected), per layer (copies).</summary>
    public Tensor[] MeanActivation => _mean?.Select(t => t.clone()).ToArray() ?? Array.Empty<Tensor>();
    /// <summary>The unit ages, per layer (copies).</summary>
    public Tensor[] Ages => _ages?.Select(t => t.clone()).ToArray() ?? Array.Empty<Tensor>();

    void Ensure(IReadOnlyList<UnitLayer> layers)
    {
        if (_util != null) return;
        // State outlives the step's dispose scope.
        Tensor Z(UnitLayer l) => zeros(l.Units).DetachFromDisposeScope();
        _util = layers.Select(Z).ToArray();
        _bcUtil = layers.Select(Z).ToArray();
        _mean = layers.Select(Z).ToArray();
        _ages = layers.Select(Z).ToArray();
        _credit = new double[layers.Count];
        Replaced = new long[layers.Count];
    }

    /// <inheritdoc />
    public void AfterStep(StepInfo info)
    {
        if (info.Features is null) throw new InvalidOperationException("continual backprop needs the step's features (NeedsFeatures)");
        Step(info.Model, info.Optimizer, info.Features);
    }

    /// <summary>One generate-and-test step on <paramref name="features"/> (the hidden activations of the forward pass
    /// just used for the optimiser step, in forward order).</summary>
    public void Step(Network model, optim.Optimizer optimizer, IReadOnlyList<Tensor> features)
    {
        var layers = UnitReset.LayersOf(model, "continual backprop");
        if (features.Count != layers.Count)
            throw new ArgumentException($"continual backprop got {features.Count} feature tensors for {layers.Count} hidden layers");
        Ensure(layers);
        _steps++;
        var last = new long[layers.Count][];
        var meanOfChosen = new float[]?[layers.Count];
        using var noGrad = no_grad();
        for (int l = 0; l < layers.Count; l++)
        {
            last[l] = Array.Empty<long>();
            var layer = layers[l];
            using var scope = NewDisposeScope();
            var h = features[l].detach().to(CPU).to_type(ScalarType.Float32);
            // Every Scalar is a held one (see Scalars): this runs every step, beside other threads' training.
            var one = Scalars.OneInt;
            var decay = Scalars.Of(DecayRate);
            var oneMinusDecay = Scalars.Of(1 - DecayRate);
            _ages![l].add_(one, one);
            // Order as gnt.py update_utility: decay u, then the mean activation, then the new utility.
            _util![l].mul_(decay);
            var bc = full_like(_ages[l], decay).pow_(_ages[l]).neg_().add_(one, one);
            _mean![l].mul_(decay).add_(UnitReset.UnitMean(h), oneMinusDecay);
            var fHat = _mean[l] / bc;
            var outMag = layer.OutView().detach().to(CPU).abs().mean(new long[] { 0, 2 });
            Tensor y;
            if (Utility == CbpUtility.Contribution)
                y = outMag * UnitReset.UnitMean(h.abs());
            else
            {
                var inMag = layer.InWeight.detach().to(CPU).view(layer.Units, -1).abs().mean(new long[] { 1 });
                var centred = h.dim() == 2 ? h - fHat : h - fHat.view(1, -1, 1, 1);
                y = outMag * UnitReset.UnitMean(centred.abs()) / inMag;
            }
            _util[l].add_(y, oneMinusDecay);
            _bcUtil![l].copy_(_util[l] / bc);

            var eligible = _ages[l].gt(Scalars.Of(MaturityThreshold)).nonzero().flatten();
            long ne = eligible.shape[0];
            if (ne == 0 || ReplacementRate == 0) continue;
            _credit![l] += ReplacementRate * ne;
            int n = (int)Math.Floor(_credit[l]);
            _credit[l] -= n;
            if (n == 0) continue;
            n = (int)Math.Min(n, ne);
            var (_, pick) = _bcUtil[l].index_select(0, eligible).neg().topk(n);
            var units = eligible.index_select(0, pick);
            last[l] = units.data<long>().ToArray();
            meanOfChosen[l] = fHat.index_select(0, units).data<float>().ToArray();
            _util[l].index_fill_(0, units, Scalars.ZeroInt);
            _mean[l].index_fill_(0, units, Scalars.ZeroInt);
        }
        // Surgery only after every layer's utility is updated (gnt.py: test_features, then gen_new_features), since
        // layer l's surgery changes layer l+1's incoming weights, which the adaptable utility reads. Layer by layer,
        // as gnt.py: a later layer's re-drawn rows overwrite the columns an earlier layer zeroed.
        for (int l = 0; l < layers.Count; l++)
        {
            if (last[l].Length == 0) continue;
            var layer = layers[l];
            using var scope = NewDisposeScope();
            var dev = layer.InWeight.device;
            var unitsDev = tensor(last[l]).to(dev);
            if (BiasCorrection && layer.OutBias is not null)
            {
                // next bias += Σ_i Σ_block W_{l+1}[:, i, block] · f̂_i (exact for a Linear next layer).
                var cols = layer.OutView().index_select(1, unitsDev).sum(new long[] { 2 });
                var f = tensor(meanOfChosen[l]!).to(dev).to_type(cols.dtype);
                layer.OutBias.add_(cols.matmul(f), Scalars.OneInt);
            }
            using var g = new Generator((ulong)Seeds.Derive(_seed, "cbp", layer.Name, $"step-{_steps}"));
            UnitReset.Reinitialise(layer, unitsDev, Init, g);
            UnitReset.ResetOptimizerState(model, optimizer, layer, unitsDev);
            _ages![l].index_fill_(0, unitsDev.to(CPU), 0);
            Replaced[l] += last[l].Length;
        }
        LastReplaced = last;
    }

    /// <inheritdoc />
    public void SaveState(BinaryWriter w)
    {
        w.Write(_steps);
        w.Write(_util is null ? 0 : _util.Length);
        if (_util is null) return;
        for (int l = 0; l < _util.Length; l++)
        {
            StateIo.WriteFloats(w, _util[l]); StateIo.WriteFloats(w, _bcUtil![l]);
            StateIo.WriteFloats(w, _mean![l]); StateIo.WriteFloats(w, _ages![l]);
            w.Write(_credit![l]); w.Write(Replaced[l]);
        }
    }

    /// <inheritdoc />
    public void LoadState(BinaryReader r)
    {
        _steps = r.ReadInt64();
        int n = r.ReadInt32();
        if (n == 0) { _util = null; return; }
        _util = new Tensor[n]; _bcUtil = new Tensor[n]; _mean = new Tensor[n]; _ages = new Tensor[n];
        _credit = new double[n]; Replaced = new long[n];
        for (int l = 0; l < n; l++)
        {
            _util[l] = StateIo.ReadFloats(r); _bcUtil[l] = StateIo.ReadFloats(r);
            _mean[l] = StateIo.ReadFloats(r); _ages[l] = StateIo.ReadFloats(r);
            _credit[l] = r.ReadDouble(); Replaced[l] = r.ReadInt64();
        }
    }
}
