/// Plots of task-stream studies (ScottPlot, headless): a plasticity metric against the task number, one line per arm
/// with its mean over seeds and a translucent 95 % t-interval band (from `Summary.plasticityRows`), as the
/// loss-of-plasticity papers draw accuracy, dormant units and rank per task.
module WarmStart.StreamPlots

open System.IO
open ScottPlot

let private palette = [| Colors.C0; Colors.C1; Colors.C2; Colors.C3; Colors.C4; Colors.C5; Colors.C6; Colors.C7; Colors.C8; Colors.C9 |]

/// The metrics drawn by `saveAll`, with their y-axis label and whether they are fractions shown in percent.
let drawn =
    [ "online_acc", "average online accuracy (%)", true
      "end_acc", "task-end accuracy (%)", true
      "dormant", "dormant units, ReDo score ≤ τ (% of hidden units)", true
      "dead", "dead units, zero on every probe image (%)", true
      "effective_rank", "effective rank of penultimate features", false
      "srank", "srank_0.01 of penultimate features", false
      "weight_magnitude", "mean |w| over weight matrices", false ]

/// Draws `metric` (a name of `Summary.plasticityMetrics`) against the task, mean ± 95 % CI band per arm; `percent`
/// scales fractions to percent (and clips the band to [0, 100]). Writes a 900×600 PNG at `path` and returns it.
let metricCurves (path: string) (metric: string) (yLabel: string) (percent: bool) (r: StudyResult) =
    let rows = Summary.plasticityRows r |> List.filter (fun x -> x.Metric = metric)
    if rows.IsEmpty then failwithf "study '%s' has no task-stream results for metric '%s'" r.Study.Name metric
    use plt = new Plot()
    let scale = if percent then 100.0 else 1.0
    let clip v = if percent && not (System.Double.IsNaN v) then min 100.0 (max 0.0 v) else v
    r.Study.Arms |> List.iteri (fun i a ->
        let mine = rows |> List.filter (fun x -> x.Arm = a.Name) |> List.sortBy (fun x -> x.Task)
        if not mine.IsEmpty then
            let color = palette[i % palette.Length]
            let xs = [| for x in mine -> float x.Task |]
            let withCi = mine |> List.filter (fun x -> not (System.Double.IsNaN x.CiLow))
            if not withCi.IsEmpty then
                let fill = plt.Add.FillY([| for x in withCi -> float x.Task |], [| for x in withCi -> clip (scale * x.CiLow) |],
                                         [| for x in withCi -> clip (scale * x.CiHigh) |])
                fill.FillColor <- color.WithAlpha(0.2)
                fill.LineWidth <- 0.0f
            let line = plt.Add.Scatter(xs, [| for x in mine -> scale * x.Mean |])
            line.LegendText <- a.Name
            line.Color <- color
            line.MarkerSize <- 0.0f
            line.LineWidth <- 2.0f)
    // Tasks are whole numbers; percentages and the other metrics (ranks, magnitudes, fractions) are never negative.
    plt.Axes.Bottom.TickGenerator <- TickGenerators.NumericAutomatic(IntegerTicksOnly = true)
    plt.Axes.AutoScale()
    let l = plt.Axes.GetLimits()
    plt.Axes.SetLimits(l.Left, l.Right, max 0.0 l.Bottom, (if percent then min 101.0 l.Top else l.Top))
    plt.Title(sprintf "%s: %s" r.Study.Name metric)
    plt.XLabel "task"
    plt.YLabel yLabel
    plt.ShowLegend() |> ignore
    plt.SavePng(path, 900, 600) |> ignore
    path

/// Every metric of `drawn` as `<dir>/<study>.<metric>.png`; nothing for a study without task streams.
let saveAll (dir: string) (r: StudyResult) =
    if not (Summary.hasStreams r) || Summary.taskRows r |> List.isEmpty then []
    else
        Directory.CreateDirectory dir |> ignore
        [ for metric, label, percent in drawn ->
            metricCurves (Path.Combine(dir, sprintf "%s.%s.png" r.Study.Name metric)) metric label percent r ]
