/// Plots of a study run (ScottPlot, headless), each as PNG and SVG side by side. Series differ by colour, marker
/// and line style; accuracies are in percent; no axis runs below zero; epoch axes have integer ticks. The numbers
/// come from `PlotData` (which the HTML report draws too). Text needs fonts: Debian's fonts-dejavu-core.
module WarmStart.Plots

open System.IO
open ScottPlot

let private palette = [| Colors.C0; Colors.C1; Colors.C2; Colors.C3; Colors.C4; Colors.C5; Colors.C6; Colors.C7; Colors.C8; Colors.C9 |]
let private shapes =
    [| MarkerShape.FilledCircle; MarkerShape.FilledSquare; MarkerShape.FilledTriangleUp; MarkerShape.FilledDiamond
       MarkerShape.OpenCircle; MarkerShape.OpenSquare; MarkerShape.OpenTriangleUp; MarkerShape.OpenDiamond; MarkerShape.Cross |]
let private patterns = [| LinePattern.Solid; LinePattern.Dashed; LinePattern.Dotted; LinePattern.DenselyDashed |]

/// Colour, marker and line pattern of series i: three cues, so series stay apart in grey print and for readers
/// who do not tell colours apart.
let private styleOf (i: int) = palette[i % palette.Length], shapes[i % shapes.Length], patterns[i % patterns.Length]

/// Shared nodes are drawn in black with a hollow marker of their own.
let private sharedColor = Colors.Black

/// Keeps the axes at or above zero where the drawn quantities cannot be negative (the auto-scale margin would
/// otherwise show a negative range), and accuracy axes at or below 100 % plus a small margin.
let private clampAxes (plt: Plot) (xMin0: bool) (yMin0: bool) (yMax: float option) =
    plt.Axes.AutoScale()
    let l = plt.Axes.GetLimits()
    let top = match yMax with Some m -> min l.Top m | None -> l.Top
    plt.Axes.SetLimits((if xMin0 then max 0.0 l.Left else l.Left), l.Right, (if yMin0 then max 0.0 l.Bottom else l.Bottom), top)

let private integerTicks (axis: IAxis) =
    axis.TickGenerator <- TickGenerators.NumericAutomatic(IntegerTicksOnly = true)

/// Titles, labels and legend, then a 900×600 PNG and the same plot as SVG beside it. Returns both paths.
let private finish (plt: Plot) (path: string) (title: string) (xLabel: string option) (yLabel: string) =
    plt.Title title
    xLabel |> Option.iter plt.XLabel
    plt.YLabel yLabel
    plt.ShowLegend() |> ignore
    plt.SavePng(path, 900, 600) |> ignore
    // Skia's SVG writer has no dash effects (it says so on stdout and draws them solid): solid lines in the
    // SVG, where colour and markers still tell series apart.
    for p in plt.GetPlottables() do
        match p with
        | :? Plottables.Scatter as sc -> sc.LinePattern <- LinePattern.Solid
        | :? Plottables.VerticalLine as l -> l.LinePattern <- LinePattern.Solid
        | _ -> ()
    let svg = Path.ChangeExtension(path, ".svg")
    plt.SaveSvg(svg, 900, 600) |> ignore
    [ path; svg ]

/// The test-accuracy plot, not yet saved (tests map its data to pixels): see `testAccuracy`.
let testAccuracyPlot (r: StudyResult) =
    let plt = new Plot()
    let series = PlotData.accuracySeries r
    let xs = series |> List.collect (fun s -> s.Points |> List.map (fun p -> p.X))
    let span = (if xs.IsEmpty then 1.0 else List.max xs - List.min xs) |> max 1.0
    let own = series |> List.filter (fun s -> not s.Shared)
    series |> List.iteri (fun i s ->
        // Arms' series are offset slightly so their bars do not overlap; a shared node sits at its x.
        let k = own |> List.tryFindIndex (fun o -> o.Name = s.Name)
        let dx = match k with Some k -> span * 0.006 * float (k - own.Length / 2) | None -> 0.0
        let x = s.Points |> List.map (fun p -> p.X + dx) |> Array.ofList
        let y = s.Points |> List.map (fun p -> p.Mean) |> Array.ofList
        let color, shape, pattern =
            match k with
            | Some k -> styleOf k
            | None -> sharedColor, MarkerShape.OpenCircleWithDot, LinePattern.Solid
        let sc = plt.Add.Scatter(x, y)
        sc.LegendText <- PlotData.legend s
        sc.Color <- color
        sc.MarkerShape <- shape
        sc.MarkerSize <- 9.0f
        sc.LinePattern <- pattern
        if s.Shared then sc.LineWidth <- 0.0f
        let eb = plt.Add.ErrorBar(x, y, Array.zeroCreate x.Length)
        eb.YErrorNegative <- s.Points |> List.map (fun p -> if System.Double.IsNaN p.Low then 0.0 else p.Mean - p.Low) |> Array.ofList
        eb.YErrorPositive <- s.Points |> List.map (fun p -> if System.Double.IsNaN p.High then 0.0 else p.High - p.Mean) |> Array.ofList
        eb.Color <- color)
    clampAxes plt true true (Some 101.0)
    plt

/// Test accuracy per arm (and sweep variant) against the stage's x value (% of pool, examples, target
/// fraction, pre-training epochs), mean with 95 % t-interval bars clipped to [0, 100]; a stage-1 node that
/// several arms share is one black point. Returns the PNG and SVG paths.
let testAccuracy (path: string) (r: StudyResult) =
    use plt = testAccuracyPlot r
    finish plt path (sprintf "%s: test accuracy (mean, 95%% CI)" r.Study.Name)
        (Some(match r.Plan.Variants with v :: _ -> v.XLabel | [] -> "stage")) "test accuracy (%)"

/// Training curves: train accuracy against epochs cumulated over stages, the mean over all seeds with a 95 %
/// band, the shared first stage once, dashed lines where stages end (as the paper's Figure 1 draws warm start
/// over both stages). Returns the PNG and SVG paths.
let trainingCurves (path: string) (r: StudyResult) =
    use plt = new Plot()
    let cs = PlotData.trainCurves r
    let own = cs |> List.filter (fun c -> not c.Shared)
    cs |> List.iter (fun c ->
        // Arms keep the colour, marker and line style they have in the other plots.
        let color, shape, pattern =
            if c.Shared then sharedColor, MarkerShape.None, LinePattern.Solid
            else styleOf (own |> List.findIndex (fun o -> o.Name = c.Name))
        let x = c.Epoch |> Array.map float
        // The band where at least two seeds give an interval.
        let band = Array.init x.Length id |> Array.filter (fun j -> not (System.Double.IsNaN c.Low[j]))
        if band.Length > 1 then
            let f = plt.Add.FillY(band |> Array.map (fun j -> x[j]), band |> Array.map (fun j -> c.Low[j]), band |> Array.map (fun j -> c.High[j]))
            f.FillStyle.Color <- color.WithAlpha(0.18)
            f.LineWidth <- 0.0f
        let sc = plt.Add.Scatter(x, c.Mean)
        sc.LegendText <- c.Name
        sc.Color <- color
        sc.LinePattern <- pattern
        sc.MarkerShape <- shape
        sc.MarkerSize <- (if x.Length > 40 then 0.0f else 5.0f))
    for b in PlotData.stageBoundaries r do
        let l = plt.Add.VerticalLine(b.Epoch + 0.5, 1.0f, Colors.Gray, LinePattern.Dashed)
        l.Text <- sprintf "stage %d ends" b.Stage
    clampAxes plt true true (Some 101.0)
    integerTicks plt.Axes.Bottom
    finish plt path (sprintf "%s: training curves (mean over seeds, 95%% band)" r.Study.Name) (Some "epoch (cumulative over stages)") "train accuracy (%)"

/// Mean epochs to the stop rule per arm at each stage after the first (bars with 95 % t-interval error bars).
let epochs (path: string) (r: StudyResult) =
    use plt = new Plot()
    let rows = PlotData.epochBars r
    let stages = rows |> List.map (fun (x: PlotData.EpochBar) -> x.Group) |> List.distinct
    let arms = r.Study.Arms |> List.map (fun a -> a.Name)
    let width = 0.8 / float (max 1 arms.Length)
    arms |> List.iteri (fun i arm ->
        let mine = rows |> List.filter (fun (x: PlotData.EpochBar) -> x.Arm = arm)
        let pos (x: PlotData.EpochBar) = float (List.findIndex ((=) x.Group) stages) + float i * width
        let color, _, _ = styleOf i
        let bars = [ for x in mine -> Bar(Position = pos x, Value = x.Mean, FillColor = color, Size = width * 0.9) ]
        if not bars.IsEmpty then
            let b = plt.Add.Bars(ResizeArray bars)
            b.LegendText <- arm
            let xs = mine |> List.map pos |> Array.ofList
            let eb = plt.Add.ErrorBar(xs, mine |> List.map (fun x -> x.Mean) |> Array.ofList, Array.zeroCreate xs.Length)
            eb.YErrorNegative <- mine |> List.map (fun x -> if System.Double.IsNaN x.Low then 0.0 else x.Mean - x.Low) |> Array.ofList
            eb.YErrorPositive <- mine |> List.map (fun x -> if System.Double.IsNaN x.High then 0.0 else x.High - x.Mean) |> Array.ofList
            eb.Color <- Colors.Black)
    clampAxes plt false true None
    plt.Axes.Bottom.SetTicks(stages |> List.mapi (fun i _ -> float i + 0.4 - width / 2.0) |> Array.ofList, stages |> Array.ofList)
    integerTicks plt.Axes.Left
    finish plt path (sprintf "%s: epochs to the stop rule (mean, 95%% CI)" r.Study.Name) None "epochs"

/// Test accuracy against training time of every run after the first stage, one point per node and seed, one
/// series per arm (the paper's Figure 3: warm-started models that generalise as well as fresh ones take longer).
let accuracyVsTime (path: string) (r: StudyResult) =
    use plt = new Plot()
    let rows = Summary.rows r |> List.filter (fun x -> x.Stage >= 2 && not x.Diverged)
    r.Study.Arms |> List.iteri (fun i a ->
        let xs = rows |> List.filter (fun x -> x.Arm = a.Name)
        if not xs.IsEmpty then
            let sc = plt.Add.ScatterPoints(xs |> List.map (fun x -> x.Seconds) |> Array.ofList, xs |> List.map (fun x -> 100.0 * x.TestAcc) |> Array.ofList)
            let color, shape, _ = styleOf i
            sc.LegendText <- a.Name
            sc.Color <- color
            sc.MarkerShape <- shape
            sc.MarkerSize <- 8.0f)
    clampAxes plt true true (Some 101.0)
    finish plt path (sprintf "%s: test accuracy against training time (stages after the first)" r.Study.Name)
        (Some "training time (s)") "test accuracy (%)"

/// All plots of a study run into `dir`, PNG and SVG; returns the files written.
let saveAll (dir: string) (r: StudyResult) =
    Directory.CreateDirectory dir |> ignore
    let f name = Path.Combine(dir, sprintf "%s.%s.png" r.Study.Name name)
    testAccuracy (f "test-accuracy") r @ trainingCurves (f "curves") r @ epochs (f "epochs") r
    @ accuracyVsTime (f "accuracy-vs-time") r
    @ StreamPlots.saveAll dir r

/// TensorBoard event files, one run per node (train loss/accuracy per epoch, test accuracy at the end; a stream node's
/// run has one step per task, `TensorBoardRuns.writeStream`). Steps are the chain's epochs, as `run --tensorboard` numbers them live: stage 2's first step is stage 1's last + 1.
let tensorboard (dir: string) (r: StudyResult) =
    let specOf k = (Plan.node r.Plan k).Spec
    // Stream nodes: one step per task, as `run --tensorboard` writes them.
    TensorBoardRuns.writeStreams dir r.Plan r.Results
    for KeyValue(key, res) in r.Results |> Seq.filter (fun x -> (specOf x.Key).Stream = System.Text.Json.Serialization.Skip) do
        let n = Plan.node r.Plan key
        let run = TensorBoardRuns.runFolder dir r.Study.Name n   // the folder `run --tensorboard` writes live
        let offset = TensorBoardRuns.stepOffset r.Plan specOf r.Results.TryFind key
        // A stage that continues its parent's training carries the parent's epochs in its curve already.
        let own =
            match n.Spec.Init, n.Spec.Parent with
            | Continue, Some p ->
                let before = r.Results.TryFind p |> Option.map (fun x -> x.Curve.Length) |> Option.defaultValue 0
                res.Curve |> List.filter (fun e -> e.Epoch > before)
            | _ -> res.Curve
        let w = TorchSharp.torch.utils.tensorboard.SummaryWriter(run)
        for e in own do
            w.add_scalar("train/loss", float32 e.Loss, offset + e.Epoch)
            w.add_scalar("train/accuracy", float32 e.TrainAccuracy, offset + e.Epoch)
        w.add_scalar("test/accuracy", float32 res.TestAccuracy, offset + res.Epochs)
