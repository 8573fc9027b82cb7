/// Curves over epochs with a mean ± 95 % confidence band over seeds (ScottPlot, headless): test accuracy during
/// training for studies with `evaluate_every n`, as the paper's Figure 1 draws it, with stage boundaries marked.
module WarmStart.CurvePlots

open ScottPlot

let private palette = [| Colors.C0; Colors.C1; Colors.C2; Colors.C3; Colors.C4; Colors.C5; Colors.C6; Colors.C7; Colors.C8; Colors.C9 |]

/// One x value of a band: the mean over seeds and its 95 % t-interval (NaN bounds below two seeds).
type BandPoint = { X: float; N: int; Mean: float; CiLow: float; CiHigh: float }

/// Groups (x, value) pairs by x and estimates each group's mean and 95 % interval, in increasing x.
let band (points: (float * float) seq) : BandPoint list =
    points
    |> Seq.groupBy fst
    |> Seq.sortBy fst
    |> Seq.map (fun (x, vs) ->
        let e = SeedStats.estimate [ for _, v in vs -> v ]
        { X = x; N = e.N; Mean = e.Mean; CiLow = e.CiLow; CiHigh = e.CiHigh })
    |> List.ofSeq

/// Draws a band on `plt`: the mean as a line with the legend text `label`, and the interval as a translucent fill
/// (left out where the interval is undefined, i.e. below two seeds).
let addBand (plt: Plot) (label: string) (color: Color) (b: BandPoint list) =
    let xs = b |> List.map (fun p -> p.X) |> Array.ofList
    let withCi = b |> List.filter (fun p -> not (System.Double.IsNaN p.CiLow))
    if not withCi.IsEmpty then
        let fill = plt.Add.FillY([| for p in withCi -> p.X |], [| for p in withCi -> p.CiLow |], [| for p in withCi -> p.CiHigh |])
        fill.FillColor <- color.WithAlpha(0.25)
        fill.LineWidth <- 0.0f
    let line = plt.Add.Scatter(xs, b |> List.map (fun p -> p.Mean) |> Array.ofList)
    line.LegendText <- label
    line.Color <- color
    line.MarkerSize <- 0.0f

/// The evaluated epochs of each arm's chains (see `Summary.curveRows`), one series per variant × arm: a chain's
/// stages shared with an arm listed earlier (the common stage 1 of a half-then-all study) are drawn once, under
/// that arm. Returns (series name, rows).
let testAccuracySeries (r: StudyResult) =
    let p = r.Plan
    let rows = Summary.curveRows r |> List.filter (fun c -> not (System.Double.IsNaN c.TestAcc))
    [ for v in p.Variants do
        let arms = v.Study.Arms |> List.map (fun a -> a.Name)
        let keyAt arm seed stageIndex =
            p.Chains |> Map.tryFind { Variant = v.Name; Arm = arm; Seed = seed } |> Option.bind (List.tryItem stageIndex)
        for i, arm in List.indexed arms do
            let own (c: Summary.CurveRow) =
                let k = keyAt arm c.Seed (c.Stage - 1)
                not (arms |> List.take i |> List.exists (fun earlier -> keyAt earlier c.Seed (c.Stage - 1) = k))
            let mine = rows |> List.filter (fun c -> c.Variant = v.Name && c.Arm = arm && own c)
            if not mine.IsEmpty then
                yield (if v.Name = "" then arm else sprintf "%s [%s]" arm v.Name), mine ]

/// Test accuracy (%) against the chain's epoch, mean ± 95 % CI band over seeds per arm, with a dashed vertical
/// line after the last epoch of each stage but the last; the band is clipped to [0, 100] %. Needs a study run with `evaluate_every n`; writes a
/// 900×600 PNG at `path` and returns it.
let testAccuracyCurves (path: string) (title: string) (r: StudyResult) =
    let series = testAccuracySeries r
    if series.IsEmpty then
        failwithf "study '%s' has no evaluated epochs: declare `evaluate_every n` to record test accuracy during training" r.Study.Name
    use plt = new Plot()
    series |> List.iteri (fun i (name, rows) ->
        // An accuracy lies in [0, 100] %: the t-interval of two or three seeds is clipped to that range for drawing.
        let clip v = if System.Double.IsNaN v then v else min 100.0 (max 0.0 v)
        band [ for c in rows -> float c.Epoch, 100.0 * c.TestAcc ]
        |> List.map (fun p -> { p with CiLow = clip p.CiLow; CiHigh = clip p.CiHigh })
        |> addBand plt name palette[i % palette.Length])
    // Stage boundaries: after the last epoch of each stage but the last, on every chain (fixed-epoch stages agree).
    let all = Summary.curveRows r
    let lastStage = all |> List.fold (fun m c -> max m c.Stage) 0
    for t in 1 .. lastStage - 1 do
        match all |> List.filter (fun c -> c.Stage = t) with
        | [] -> ()
        | stage ->
            let line = plt.Add.VerticalLine(float (stage |> List.map (fun c -> c.Epoch) |> List.max) + 0.5)
            line.LinePattern <- LinePattern.Dashed
            line.Color <- Colors.Gray
            line.LegendText <- sprintf "end of stage %d" t
    plt.Title title
    plt.XLabel "epoch"
    plt.YLabel "test accuracy (%)"
    plt.ShowLegend() |> ignore
    plt.SavePng(path, 900, 600) |> ignore
    path
