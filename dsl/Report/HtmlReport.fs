/// One offline, interactive HTML page with every table and plot of a set of study runs (Plotly.NET, with
/// plotly.js embedded once in the page's head, so it opens without a network). The plots draw `PlotData`, the
/// same numbers as the PNG/SVG plots; the tables are `Display`'s readable Summary tables.
module WarmStart.HtmlReport

open System
open System.IO
open System.Net
open System.Text
open Plotly.NET
open Plotly.NET.TraceObjects
open Plotly.NET.LayoutObjects

let private enc (s: string) = WebUtility.HtmlEncode s

/// plotly.js inline, as Plotly.NET embeds it with `PlotlyJSReference.Full`: the head of such a page.
let private plotlyHead () =
    let page =
        Chart.Scatter(x = [ 0.0 ], y = [ 0.0 ], mode = StyleParam.Mode.Markers)
        |> Chart.withDisplayOptions (DisplayOptions.init (PlotlyJSReference = PlotlyJSReference.Full))
        |> GenericChart.toEmbeddedHTML
    let i = page.IndexOf("<body", StringComparison.Ordinal)
    let head = if i > 0 then page.Substring(0, i) else page
    // The page's own head holds the script; we add a title and a style and close it ourselves.
    let close = head.LastIndexOf("</head>", StringComparison.Ordinal)
    if close < 0 then failwith "Plotly.NET's page has no <head>: cannot embed plotly.js"
    head.Substring(0, close)

let private symbols =
    [| StyleParam.MarkerSymbol.Circle; StyleParam.MarkerSymbol.Square; StyleParam.MarkerSymbol.TriangleUp
       StyleParam.MarkerSymbol.Diamond; StyleParam.MarkerSymbol.Cross; StyleParam.MarkerSymbol.X
       StyleParam.MarkerSymbol.TriangleDown; StyleParam.MarkerSymbol.Pentagon; StyleParam.MarkerSymbol.Hexagon |]
let private dashes = [| StyleParam.DrawingStyle.Solid; StyleParam.DrawingStyle.Dash; StyleParam.DrawingStyle.Dot; StyleParam.DrawingStyle.DashDot |]
let private colours =
    [| "#1f77b4"; "#ff7f0e"; "#2ca02c"; "#d62728"; "#9467bd"; "#8c564b"; "#e377c2"; "#7f7f7f"; "#bcbd22"; "#17becf" |]
let private colourOf i = Color.fromString colours[i % colours.Length]

let private layout (title: string) (xTitle: string) (yTitle: string) (chart: GenericChart) =
    chart
    |> Chart.withTitle title
    |> Chart.withXAxisStyle (TitleText = xTitle)
    |> Chart.withYAxisStyle (TitleText = yTitle)
    |> Chart.withSize (900, 520)
    |> Chart.withDisplayOptions (DisplayOptions.init (PlotlyJSReference = PlotlyJSReference.NoReference))

/// NaN has no JSON form: a missing interval bound draws no bar.
let private orZero (x: float) = if Double.IsNaN x then 0.0 else x

/// Test accuracy per series with asymmetric 95 % error bars; a shared node once, as a black open circle.
let testAccuracyChart (r: StudyResult) =
    let series = PlotData.accuracySeries r
    let own = series |> List.filter (fun s -> not s.Shared)
    [ for s in series ->
        let k = own |> List.tryFindIndex (fun o -> o.Name = s.Name)
        let x = s.Points |> List.map (fun p -> p.X)
        let y = s.Points |> List.map (fun p -> p.Mean)
        let err =
            Error.init (Symmetric = false, Array = (s.Points |> List.map (fun p -> orZero (p.High - p.Mean))),
                        Arrayminus = (s.Points |> List.map (fun p -> orZero (p.Mean - p.Low))))
        match k with
        | Some k ->
            Chart.Scatter(x = x, y = y, mode = StyleParam.Mode.Lines_Markers, Name = s.Name, MarkerSymbol = symbols[k % symbols.Length],
                          MarkerColor = colourOf k, LineColor = colourOf k, LineDash = dashes[k % dashes.Length])
            |> Chart.withYError err
        | None ->
            Chart.Scatter(x = x, y = y, mode = StyleParam.Mode.Markers, Name = s.Name, MarkerSymbol = StyleParam.MarkerSymbol.CircleX,
                          MarkerColor = Color.fromString "#000000")
            |> Chart.withYError err ]
    |> Chart.combine
    |> layout (sprintf "%s: test accuracy (mean, 95%% CI)" r.Study.Name) (match r.Plan.Variants with v :: _ -> v.XLabel | [] -> "stage") "test accuracy (%)"

/// Training curves: mean over seeds with a 95 % band, the shared first stage once, dotted lines where stages end.
let curvesChart (r: StudyResult) =
    let cs = PlotData.trainCurves r
    let own = cs |> List.filter (fun c -> not c.Shared)
    let traces =
        [ for c in cs do
            let k = own |> List.tryFindIndex (fun o -> o.Name = c.Name)
            let colour = match k with Some k -> colours[k % colours.Length] | None -> "#000000"
            let band = Array.init c.Epoch.Length id |> Array.filter (fun j -> not (Double.IsNaN c.Low[j]))
            if band.Length > 1 then
                // The band: the lower bound, then the upper bound filled down to it.
                let bx = band |> Array.map (fun j -> c.Epoch[j])
                yield Chart.Line(x = bx, y = (band |> Array.map (fun j -> c.Low[j])), Name = c.Name + " 95% low", ShowLegend = false,
                                 LineColor = Color.fromString colour, LineWidth = 0.0)
                yield Chart.Scatter(x = bx, y = (band |> Array.map (fun j -> c.High[j])), mode = StyleParam.Mode.Lines, Name = c.Name + " 95% high",
                                    ShowLegend = false, LineColor = Color.fromString colour, LineWidth = 0.0,
                                    Fill = StyleParam.Fill.ToNext_y, FillColor = Color.fromString (colour + "2e"))
            yield Chart.Line(x = c.Epoch, y = c.Mean, Name = c.Name, LineColor = Color.fromString colour,
                             LineDash = (match k with Some k -> dashes[k % dashes.Length] | None -> StyleParam.DrawingStyle.Solid)) ]
    let shapes =
        [ for b in PlotData.stageBoundaries r ->
            Shape.init (ShapeType = StyleParam.ShapeType.Line, X0 = b.Epoch + 0.5, X1 = b.Epoch + 0.5, Y0 = 0, Y1 = 1,
                        Yref = "paper", Line = Line.init (Color = Color.fromString "#888888", Dash = StyleParam.DrawingStyle.Dash)) ]
    Chart.combine traces
    |> Chart.withShapes shapes
    |> layout (sprintf "%s: training curves (mean over seeds, 95%% band; dashed: stage ends)" r.Study.Name) "epoch (cumulative over stages)" "train accuracy (%)"

/// Mean epochs to the stop rule per arm and stage (after the first), with 95 % error bars.
let epochsChart (r: StudyResult) =
    let rows = PlotData.epochBars r
    r.Study.Arms |> List.mapi (fun i a ->
        let mine = rows |> List.filter (fun x -> x.Arm = a.Name)
        Chart.Column(values = (mine |> List.map (fun x -> x.Mean)), Keys = (mine |> List.map (fun x -> x.Group)), Name = a.Name,
                     MarkerColor = colourOf i)
        |> Chart.withYError (Error.init (Symmetric = false, Array = (mine |> List.map (fun x -> orZero (x.High - x.Mean))),
                                         Arrayminus = (mine |> List.map (fun x -> orZero (x.Mean - x.Low))))))
    |> Chart.combine
    |> layout (sprintf "%s: epochs to the stop rule (mean, 95%% CI)" r.Study.Name) "stage" "epochs"

/// Test accuracy against training time of every run after the first stage.
let accuracyVsTimeChart (r: StudyResult) =
    let rows = Summary.rows r |> List.filter (fun x -> x.Stage >= 2 && not x.Diverged)
    r.Study.Arms |> List.mapi (fun i a ->
        let xs = rows |> List.filter (fun x -> x.Arm = a.Name)
        Chart.Point(x = (xs |> List.map (fun x -> x.Seconds)), y = (xs |> List.map (fun x -> 100.0 * x.TestAcc)), Name = a.Name,
                    MarkerSymbol = symbols[i % symbols.Length], MarkerColor = colourOf i))
    |> Chart.combine
    |> layout (sprintf "%s: test accuracy against training time (stages after the first)" r.Study.Name) "training time (s)" "test accuracy (%)"

/// A frame as an HTML table with `Display`'s names and cells.
let htmlTable (name: string) (f: Deedle.Frame<'R, string>) =
    let header, rows = Display.table f
    let sb = StringBuilder()
    sb.Append(sprintf "<table data-table=\"%s\"><thead><tr>" (enc name)) |> ignore
    for h in header do sb.Append("<th>").Append(enc h).Append("</th>") |> ignore
    sb.Append("</tr></thead><tbody>") |> ignore
    for r in rows do
        sb.Append("<tr>") |> ignore
        for c in r do sb.Append("<td>").Append(enc c).Append("</td>") |> ignore
        sb.Append("</tr>") |> ignore
    sb.Append("</tbody></table>").ToString()

/// The reference arm of the paired-gap table: the study's one fresh arm (by policy), when there is another.
let private reference (r: StudyResult) =
    if Summary.hasFreshReference r.Study then Some(Summary.freshArm r) else None

/// One study's section: its tables and its four plots, each marked with data-study / data-plot / data-table.
let section (r: StudyResult) =
    let s = r.Study
    let plot (name: string) (c: GenericChart) =
        sprintf "<div class=\"plot\" data-study=\"%s\" data-plot=\"%s\">%s</div>" (enc s.Name) name (GenericChart.toChartHTML c)
    String.concat "\n"
        [ sprintf "<section data-study=\"%s\"><h2>Study <code>%s</code>%s</h2>" (enc s.Name) (enc s.Name) (if r.Quick then " (quick mode)" else "")
          sprintf "<p>%s · %s · %s · batch %d · %s · %d seeds · %d of %d nodes have results.</p>"
              (enc s.Data.Name) (enc (Describe.model s.Model)) (enc (Describe.optimizer s.Optimizer)) s.BatchSize (enc (Describe.stop s.Stop)) s.Seeds
              r.Results.Count r.Plan.Nodes.Length
          "<h3>Test accuracy by arm and stage (mean, sample sd, n, 95 % t-interval clipped to [0, 100])</h3>"
          htmlTable "by-arm" (Summary.byArm r)
          (match reference r with
           | Some f ->
               sprintf "<h3>Paired gap vs %s (per-seed differences; t and bootstrap intervals; P(better); seeds for 80 %% power)</h3>\n%s"
                   f (htmlTable "gap" (Summary.gapVs f r))
           | None -> "")
          plot "test-accuracy" (testAccuracyChart r)
          plot "curves" (curvesChart r)
          plot "epochs" (epochsChart r)
          plot "accuracy-vs-time" (accuracyVsTimeChart r)
          "</section>" ]

/// The whole page for the given study runs.
let page (title: string) (rs: StudyResult list) =
    String.concat "\n"
        [ plotlyHead ()
          sprintf "<title>%s</title>" (enc title)
          "<meta charset=\"utf-8\"><style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
          + "th,td{padding:.25em .6em;text-align:right;border-bottom:1px solid #ddd;white-space:nowrap}th{background:#f4f4f4}</style></head><body>"
          sprintf "<h1>%s</h1>" (enc title)
          String.concat "\n" (rs |> List.map section)
          "</body></html>" ]

/// Writes the page for the study runs to `path` (creating its folder); returns the path.
let write (path: string) (title: string) (rs: StudyResult list) =
    let full = Path.GetFullPath path
    Directory.CreateDirectory(Path.GetDirectoryName full) |> ignore
    File.WriteAllText(full, page title rs)
    full
