using TorchSharp;
using WarmStart.Core.Data;
using WarmStart.Core.Models;
using WarmStart.Core.Native;
using WarmStart.Core.Training;
using static TorchSharp.torch;

namespace WarmStart.Core.Policies;

/// <summary>
/// Active-learning acquisition: which unlabelled examples to label next, from a model's softmax probabilities.
/// Margin picks the smallest gap between the two most probable classes (the standard margin sampling the
/// paper's v1 uses); entropy the largest predictive entropy; random a seeded uniform draw.
/// </summary>
public static class AcquisitionFunctions
{
    /// <summary>Scores where <em>lower</em> means "label first", one per row of <paramref name="probabilities"/> [N, C].</summary>
    public static Tensor Scores(string kind, Tensor probabilities, long seed)
    {
        TorchRuntime.EnsureLoaded();
        switch (kind)
        {
            case "margin":
            {
                if (probabilities.shape[1] < 2) throw new ArgumentException("margin acquisition needs at least two classes");
                var (top, _) = probabilities.topk(2, dim: 1);
                using var _t = top;
                return top.select(1, 0) - top.select(1, 1);
            }
            case "entropy":
            {
                using var logp = probabilities.clamp_min(Scalars.Of(1e-12)).log(); // a held Scalar: see Scalars
                using var plogp = probabilities * logp;
                return plogp.sum(1); // = −entropy: lower is more uncertain
            }
            case "random":
            {
                using var g = new Generator((ulong)seed);
                return rand(new[] { probabilities.shape[0] }, generator: g);
            }
            default:
                throw new ArgumentException($"acquisition '{kind}' is not known; allowed: margin, entropy, random");
        }
    }

    /// <summary>Positions (into the rows of <paramref name="probabilities"/>) of the <paramref name="k"/> examples to label
    /// next, best first; ties are broken by position so the choice is deterministic.</summary>
    public static Tensor Select(string kind, Tensor probabilities, int k, long seed)
    {
        if (k < 0) throw new ArgumentOutOfRangeException(nameof(k), $"cannot select {k} examples");
        using var scores = Scores(kind, probabilities, seed);
        long take = Math.Min(k, scores.shape[0]);
        using var wide = scores.to_type(ScalarType.Float64);
        var (sorted, order) = wide.sort(stable: true);
        using var _s = sorted;
        using var _o = order;
        return order.narrow(0, 0, take).clone();
    }

    /// <summary>
    /// One active-learning round: scores the unlabelled part of <paramref name="pool"/> (its entries not in
    /// <paramref name="labelled"/>) with <paramref name="model"/>'s softmax on <paramref name="device"/>, picks the
    /// <paramref name="count"/> best by <paramref name="kind"/> (margin, entropy, random) and returns the labelled set
    /// followed by the picks (int64 indices into <paramref name="train"/>). Moves the model to the device.
    /// </summary>
    public static Tensor Acquire(Network model, Dataset train, Tensor pool, long[] labelled, string kind, int count, long seed, Device? device = null)
    {
        using var labelledT = tensor(labelled);
        using var candidates = Subsets.Unlabelled(pool, labelledT, train.Count);
        model.to(device ?? CPU);
        using var probs = Evaluation.Probabilities(model, train, candidates, device: device);
        using var picks = Select(kind, probs, count, seed);
        using var picked = candidates.index_select(0, picks);
        return cat(new[] { labelledT, picked }, 0);
    }
}
