/// Multi-seed statistics: mean, sample standard deviation and Student-t confidence intervals, which are
/// honest with the few seeds studies can afford (a normal quantile would understate the interval).
module WarmStart.SeedStats

open MathNet.Numerics.Distributions

/// Mean of the values (NaN when empty).
let mean (xs: float list) = if xs.IsEmpty then nan else List.average xs

/// Sample standard deviation (n − 1 in the denominator; NaN below two values).
let sd (xs: float list) =
    match xs with
    | [] | [ _ ] -> nan
    | _ ->
        let m = mean xs
        sqrt ((xs |> List.sumBy (fun x -> (x - m) ** 2.0)) / float (xs.Length - 1))

/// Half-width of the two-sided confidence interval of the mean at `level` (e.g. 0.95): t(n−1) × sd / √n.
let ciHalfWidth (level: float) (xs: float list) =
    let n = xs.Length
    if n < 2 then nan
    else StudentT.InvCDF(0.0, 1.0, float (n - 1), 1.0 - (1.0 - level) / 2.0) * sd xs / sqrt (float n)

/// Mean, sd, n and the 95 % interval of a sample.
type Estimate =
    { Mean: float
      Sd: float
      N: int
      CiLow: float
      CiHigh: float }

/// The 95 % estimate of a sample's mean.
let estimate (xs: float list) =
    let m = mean xs
    let h = ciHalfWidth 0.95 xs
    { Mean = m; Sd = sd xs; N = xs.Length; CiLow = m - h; CiHigh = m + h }
