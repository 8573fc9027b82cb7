/// Statistics of paired seeds (seed i of an arm against seed i of the reference arm, which share their splits,
/// data order and stage-1 model): a percentile bootstrap interval, the probability of improvement and the number
/// of seeds a paired t-test needs to detect a gap. Pure functions of the per-seed values; the bootstrap is seeded.
module WarmStart.PairedStats

open System
open MathNet.Numerics.Distributions

/// Resamples the bootstrap draws unless told otherwise: enough for stable 2.5 % / 97.5 % percentiles.
[<Literal>]
let DefaultResamples = 4000

/// The seed of the bootstrap's generator unless told otherwise, so a summary prints the same numbers every time.
[<Literal>]
let DefaultBootstrapSeed = 20200

/// The `q` quantile (0..1) of sorted values by linear interpolation between order statistics (R's type 7).
let private quantileSorted (sorted: float[]) (q: float) =
    let h = float (sorted.Length - 1) * q
    let lo = int (floor h)
    let hi = min (sorted.Length - 1) (lo + 1)
    sorted[lo] + (h - float lo) * (sorted[hi] - sorted[lo])

/// Percentile bootstrap interval of the mean at `level` (e.g. 0.95): `resamples` resamples of the values with
/// replacement, drawn by a Mersenne Twister seeded with `seed`; the interval is the (1 − level)/2 and
/// (1 + level)/2 quantiles of their means. Being a range of means of the values, it never leaves
/// [min, max] of the values, so an interval of accuracies stays within [0, 100] %. NaN below two values.
let bootstrapMeanCi (seed: int) (resamples: int) (level: float) (xs: float list) =
    let v = Array.ofList xs
    if v.Length < 2 then nan, nan
    else
        if resamples < 1 then invalidArg "resamples" (sprintf "resamples must be at least 1, got %d" resamples)
        if not (level > 0.0 && level < 1.0) then invalidArg "level" (sprintf "level must lie in (0, 1), got %g" level)
        let rng = MathNet.Numerics.Random.MersenneTwister(seed)
        let n = v.Length
        let means =
            Array.init resamples (fun _ ->
                let mutable s = 0.0
                for _ in 1 .. n do s <- s + v[rng.Next n]
                s / float n)
        Array.sortInPlace means
        // Clamp to the data's range: interpolation of order statistics cannot leave it, rounding could.
        let lo, hi = Array.min v, Array.max v
        let clamp x = max lo (min hi x)
        clamp (quantileSorted means ((1.0 - level) / 2.0)), clamp (quantileSorted means ((1.0 + level) / 2.0))

/// The paired 95 % bootstrap interval of the mean difference, with the default seed and resamples.
let bootstrapCi95 (diffs: float list) = bootstrapMeanCi DefaultBootstrapSeed DefaultResamples 0.95 diffs

/// Probability of improvement over the reference across paired seeds: the share of seeds whose difference
/// (arm − reference) is positive, ties counting one half (NaN when there are no pairs).
let probabilityOfImprovement (diffs: float list) =
    if diffs.IsEmpty then nan
    else diffs |> List.sumBy (fun d -> if d > 0.0 then 1.0 elif d = 0.0 then 0.5 else 0.0) |> fun s -> s / float diffs.Length

/// P(T > c) for a noncentral t with `df` degrees of freedom and noncentrality `delta`:
/// T = (Z + δ) / √(V/df) with V ~ χ²(df), so P(T > c) = E_V[1 − Φ(c·√(V/df) − δ)], integrated over V's
/// quantiles (midpoint rule on a uniform grid of probabilities; MathNet has no noncentral t).
let private noncentralTUpper (df: float) (delta: float) (c: float) =
    let chi = ChiSquared(df)
    let g (u: float) =
        let v = chi.InverseCumulativeDistribution u
        1.0 - Normal.CDF(0.0, 1.0, c * sqrt (v / df) - delta)
    // Midpoints avoid u = 0 and u = 1 (where the quantile is 0 or ∞); the integrand is a bounded probability.
    let m = 2000
    let h = 1.0 / float m
    Seq.sum (seq { for i in 0 .. m - 1 -> g ((float i + 0.5) * h) }) * h

/// Power of a two-sided paired t-test at significance `alpha` with `n` pairs when the differences have
/// mean `gap` and standard deviation `sd`: P(|T| > t(1 − α/2, n − 1)) under the noncentral t with
/// noncentrality gap/sd·√n.
let pairedTTestPower (alpha: float) (n: int) (gap: float) (sd: float) =
    if n < 2 then nan
    else
        let df = float (n - 1)
        let c = StudentT.InvCDF(0.0, 1.0, df, 1.0 - alpha / 2.0)
        let delta = gap / sd * sqrt (float n)
        noncentralTUpper df delta c + noncentralTUpper df (-delta) c

/// The least number of paired seeds (2 … `cap`) at which a two-sided paired t-test at α = 0.05 detects a gap
/// of this mean and standard deviation with power ≥ `power` (e.g. 0.8); None when the gap is zero, the spread
/// unknown, or more than `cap` seeds would be needed. A zero spread with a non-zero gap needs 2 seeds.
let seedsForPowerCapped (cap: int) (power: float) (gap: float) (sd: float) =
    if Double.IsNaN gap || Double.IsNaN sd || gap = 0.0 then None
    elif sd = 0.0 then Some 2
    else
        // Power grows with n: find the first n by doubling, then bisect.
        let ok n = pairedTTestPower 0.05 n gap sd >= power
        if not (ok cap) then None
        else
            let rec up n = if n >= cap || ok n then min n cap else up (n * 2)
            let hi = up 2
            let rec bisect lo hi = if hi - lo <= 1 then hi else (let mid = (lo + hi) / 2 in if ok mid then bisect lo mid else bisect mid hi)
            Some(if ok 2 then 2 else bisect (max 2 (hi / 2)) hi)

/// Seeds a paired t-test (α = 0.05, two-sided) needs to detect the observed mean gap at 80 % power, up to
/// 1000; None when the gap is zero or its spread unknown (fewer than two seeds) or beyond 1000.
let seedsFor80Power (gap: float) (sd: float) = seedsForPowerCapped 1000 0.8 gap sd
