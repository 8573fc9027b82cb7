using WarmStart.Core.Models;
using WarmStart.Core.Runs;
using WarmStart.Core.Training;
using static TorchSharp.torch;
using WarmStart.Core.Native;

namespace WarmStart.Core.Plasticity;

/// <summary>
/// ReDo, recycling dormant neurons (Sokar et al. 2023; official code google/dopamine labs/redo). Every
/// <see cref="Period"/> steps, after the optimiser step, the hidden layers are scored on the step's input batch
/// with the updated weights: s_i = mean|h_i| / (mean_k mean|h_k| + 1e-9) (means over the batch and any spatial
/// positions, so scores average 1 in a layer). Units with s_i ≤ τ are recycled: incoming weights re-drawn
/// (Xavier-uniform as the official code, by default), incoming bias 0, outgoing weights 0, layer norm γ 1 and
/// β 0, and their optimiser moments zeroed — including the bias moments (the PyTorch re-implementation
/// timoklein/redo does this; the official code leaves bias moments alone). Adam's step count is not reset.
/// τ = 0 recycles exactly the units whose score is exactly 0.
/// </summary>
public sealed class ReDo : IStreamHook
{
    /// <summary>τ, the dormancy threshold on the normalised score.</summary>
    public double Tau { get; }
    /// <summary>Steps between recycling passes.</summary>
    public long Period { get; }
    /// <summary>How recycled units' incoming weights are drawn.</summary>
    public UnitInit Init { get; }
    readonly long _seed;
    long _steps;

    /// <summary>The number of units recycled so far, per layer.</summary>
    public long[] Recycled { get; private set; } = Array.Empty<long>();
    /// <summary>The units recycled at the last pass, per layer.</summary>
    public long[][] LastRecycled { get; private set; } = Array.Empty<long[]>();

    /// <summary>Defaults: τ 0.1 (Sokar et al. for every setting but their "default" one; Kumar et al.'s choice on
    /// random-label MNIST), a period of 1,000 steps (timoklein/redo), Xavier-uniform re-draws. New weights come from
    /// generators seeded by <c>Seeds.Derive(seed, "redo", layer, "step-n")</c>.</summary>
    public ReDo(long seed, double tau = 0.1, long period = 1000, UnitInit init = UnitInit.Xavier)
    {
        if (!(tau >= 0) || double.IsInfinity(tau)) throw new ArgumentOutOfRangeException(nameof(tau), $"redo tau = {tau}; allowed: τ ≥ 0");
        if (period < 1) throw new ArgumentOutOfRangeException(nameof(period), $"redo period = {period}; allowed: ≥ 1 step");
        _seed = seed; Tau = tau; Period = period; Init = init;
    }

    /// <inheritdoc />
    public string Describe() => $"redo tau={Tau} period={Period} init={Init}";

    /// <summary>The normalised ReDo score of each unit of one feature tensor ([batch, units] or [batch, units, …]).</summary>
    public static Tensor Scores(Tensor features)
    {
        var m = UnitReset.UnitMean(features.detach().abs().to_type(ScalarType.Float32));
        // Held Scalars (see Scalars): `m.mean() + 1e-9` would pass two implicit ones.
        return m / m.mean().add(Scalars.Of(1e-9), Scalars.OneInt);
    }

    /// <inheritdoc />
    public void AfterStep(StepInfo info)
    {
        _steps++;
        if (_steps % Period != 0) return;
        Recycle(info.Model, info.Optimizer, info.Input);
    }

    /// <summary>One recycling pass: scores the hidden layers on <paramref name="input"/> and recycles the τ-dormant units.</summary>
    public void Recycle(Network model, optim.Optimizer optimizer, Tensor input)
    {
        var layers = UnitReset.LayersOf(model, "redo");
        if (Recycled.Length != layers.Count) Recycled = new long[layers.Count];
        var last = new long[layers.Count][];
        using var scope = NewDisposeScope();
        var features = new List<Tensor>();
        using (no_grad()) model.ForwardWithFeatures(input, features);
        // Score every layer before touching any: recycling layer l zeroes columns that layer l+1's scores would see.
        var dormant = features.Select(f => Scores(f).le(Scalars.Of(Tau)).nonzero().flatten()).ToArray();
        using var noGrad = no_grad();
        for (int l = 0; l < layers.Count; l++)
        {
            var units = dormant[l].to(layers[l].InWeight.device);
            last[l] = dormant[l].to(CPU).data<long>().ToArray();
            if (last[l].Length == 0) continue;
            using var g = new Generator((ulong)Seeds.Derive(_seed, "redo", layers[l].Name, $"step-{_steps}"));
            UnitReset.Reinitialise(layers[l], units, Init, g);
            UnitReset.ResetOptimizerState(model, optimizer, layers[l], units);
            Recycled[l] += last[l].Length;
        }
        LastRecycled = last;
    }

    /// <inheritdoc />
    public void SaveState(BinaryWriter w)
    {
        w.Write(_steps);
        w.Write(Recycled.Length);
        foreach (var r in Recycled) w.Write(r);
    }

    /// <inheritdoc />
    public void LoadState(BinaryReader r)
    {
        _steps = r.ReadInt64();
        Recycled = new long[r.ReadInt32()];
        for (int i = 0; i < Recycled.Length; i++) Recycled[i] = r.ReadInt64();
    }
}
