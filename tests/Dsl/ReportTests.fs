module WarmStart.Tests.Dsl.ReportTests

open System
open System.Diagnostics
open System.IO
open System.Text.Json
open System.Text.RegularExpressions
open System.Xml.Linq
open Expecto
open WarmStart
open WarmStart.Tests.Fixtures

let private curve (accs: float list) =
    accs |> List.mapi (fun i a -> { Epoch = i + 1; Loss = 1.0 - a; TrainAccuracy = a; Seconds = 0.1 * float (i + 1); TestLoss = System.Text.Json.Serialization.Skip; TestAccuracy = System.Text.Json.Serialization.Skip })

/// Two seeds, fresh and warm over half-then-all: stage 1 shared (2 epochs of made-up curve per seed), stage 2
/// per arm. Accuracies are chosen so that warm's 95 % t-interval at n = 2 passes 100 %.
let fabricated () =
    let s = study "rep" { seeds 2; arm "fresh" fresh; arm "warm" warm }
    let p = Plan.ofStudy s
    let res key acc (c: float list) secs =
        { Key = key; TestAccuracy = acc; TestLoss = 0.0; TrainAccuracy = List.last c; TrainLoss = 0.01; Epochs = c.Length
          Seconds = secs; SamplesPerSecond = 1000.0; TrainSize = 10L; Diverged = false; Curve = curve c
          Diagnostics = { Correlation = []; GradientNorms = []; ShrinkAccuracy = [] }; Tasks = System.Text.Json.Serialization.Skip }
    let results =
        [ res (Plan.nodeAt p "fresh" 0 1).Key 0.70 [ 0.5; 0.7 ] 1.0
          res (Plan.nodeAt p "fresh" 1 1).Key 0.72 [ 0.6; 0.8 ] 1.0
          res (Plan.nodeAt p "fresh" 0 2).Key 0.80 [ 0.4; 0.6; 0.9 ] 3.0
          res (Plan.nodeAt p "fresh" 1 2).Key 0.82 [ 0.5; 0.7; 0.9 ] 3.5
          res (Plan.nodeAt p "warm" 0 2).Key 0.95 [ 0.8; 0.9 ] 2.0
          res (Plan.nodeAt p "warm" 1 2).Key 0.99 [ 0.85; 0.95 ] 2.5 ]
        |> List.map (fun r -> r.Key, r) |> Map.ofList
    { Plan = p; Results = results; Status = results |> Map.map (fun _ _ -> Trained); Quick = false; WallSeconds = 1.0 }

let private near a b msg = Expect.floatClose Accuracy.high a b msg

/// The `var data = [...]` of every Plotly chart in a page, by its data-plot name.
let private chartData (html: string) =
    [ for m in Regex.Matches(html, "data-plot=\"([a-z-]+)\"><div><div id=\"[^\"]+\">.*?var data = (\\[.*?\\]);\\s*\\n", RegexOptions.Singleline) ->
        m.Groups[1].Value, JsonDocument.Parse(m.Groups[2].Value).RootElement ]

let private floats (e: JsonElement) = [ for x in e.EnumerateArray() -> x.GetDouble() ]

/// Runs Debian's headless Chromium on a page: (exit code, stdout, stderr).
let private chromium (args: string list) =
    let exe = [ "/usr/bin/chromium"; "/usr/bin/chromium-browser" ] |> List.tryFind File.Exists
    match exe with
    | None -> failtest "headless Chromium is not installed (Debian package chromium; .ci/run installs it)"
    | Some exe ->
        let psi = ProcessStartInfo(exe, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)
        for a in args do psi.ArgumentList.Add a
        use p = Process.Start psi
        let out = p.StandardOutput.ReadToEndAsync()
        let err = p.StandardError.ReadToEndAsync()
        if not (p.WaitForExit 120000) then
            p.Kill true
            failtest "chromium did not finish within 120 s"
        p.ExitCode, out.Result, err.Result

[<Tests>]
let tests =
    testList "report" [
        test "plot data: the shared stage-1 node is one series; arm points equal byArm in percent, CIs clipped to 100" {
            let r = fabricated ()
            let series = PlotData.accuracySeries r
            Expect.equal (series |> List.map (fun s -> s.Name, s.Shared)) [ "stage 1, shared by all arms", true; "fresh", false; "warm", false ] "series"
            let byArm = Summary.byArmRows r
            let s1 = byArm |> List.find (fun a -> a.Stage = 1 && a.Arm = "fresh")
            let shared = series.Head.Points |> List.exactlyOne
            near shared.Mean (100.0 * s1.TestAccMean) "shared mean"
            near shared.Mean 71.0 "(70 + 72) / 2"
            let warm2 = byArm |> List.find (fun a -> a.Stage = 2 && a.Arm = "warm")
            let w = (series |> List.find (fun s -> s.Name = "warm")).Points |> List.exactlyOne
            near w.Mean 97.0 "warm mean"
            near w.Low (100.0 * warm2.TestAccCiLow) "low bound as in the Summary"
            Expect.isGreaterThan warm2.TestAccCiHigh 1.0 "the t-interval passes 100 %"
            Expect.equal w.High 100.0 "clipped to 100"
        }
        test "curves: mean and interval over all seeds; the shared stage once; arms continue after it" {
            let cs = PlotData.trainCurves (fabricated ())
            Expect.equal (cs |> List.map (fun c -> c.Name)) [ "stage 1, shared by all arms"; "fresh"; "warm" ] "curves"
            let sh = cs.Head
            Expect.equal sh.Epoch [| 1; 2 |] "shared epochs"
            near sh.Mean[0] 55.0 "(50 + 60) / 2"
            near sh.Mean[1] 75.0 "(70 + 80) / 2"
            // t(0.975, 1) = 12.706204736174698; sd of {50, 60} = 7.0711; half-width = 12.7062 · 7.0711 / √2 = 63.53.
            near sh.Low[0] 0.0 "clipped at 0"
            near sh.High[0] 100.0 "clipped at 100"
            let fresh = cs[1]
            Expect.equal fresh.Epoch [| 3; 4; 5 |] "fresh continues after the shared stage"
            near fresh.Mean[2] 90.0 "fresh last epoch"
            Expect.equal fresh.N [| 2; 2; 2 |] "both seeds"
            Expect.equal (PlotData.stageBoundaries (fabricated ())) [ { Stage = 1; Epoch = 2.0 } ] "stage 1 ends at epoch 2"
        }
        test "SVG beside PNG; markers at the pixels of the Summary's means; no tick below zero; integer epoch ticks" {
            let r = fabricated ()
            use d = new TempDir()
            let files = Plots.saveAll d.Path r
            Expect.equal files.Length 8 "4 plots × (PNG + SVG)"
            for f in files do Expect.isTrue (File.Exists f && FileInfo(f).Length > 1000L) (sprintf "%s written" f)
            // Test accuracy: every point's marker is an ellipse centred where the plot maps the mean.
            use plt = Plots.testAccuracyPlot r
            let svgPath = d.File "acc.svg"
            plt.SaveSvg(svgPath, 900, 600) |> ignore
            let svg = XDocument.Load svgPath
            let ns = XNamespace.Get "http://www.w3.org/2000/svg"
            let centres = [ for e in svg.Descendants(ns + "ellipse") -> float (e.Attribute(XName.Get "cx").Value), float (e.Attribute(XName.Get "cy").Value) ]
            let series = PlotData.accuracySeries r
            let own = series |> List.filter (fun s -> not s.Shared)
            for s in series do
                for p in s.Points do
                    let k = own |> List.tryFindIndex (fun o -> o.Name = s.Name)
                    // The plot offsets arms slightly (span ≥ 1 → 0.6 % of the x range per series).
                    let span = 50.0
                    let dx = match k with Some k -> span * 0.006 * float (k - own.Length / 2) | None -> 0.0
                    let px = plt.GetPixel(ScottPlot.Coordinates(p.X + dx, p.Mean))
                    let hit = centres |> List.exists (fun (cx, cy) -> abs (cx - float px.X) < 1.5 && abs (cy - float px.Y) < 1.5)
                    // Squares and triangles are paths; only circles are ellipses.
                    if s.Shared || k = Some 0 then Expect.isTrue hit (sprintf "%s marker at (%g, %g) in %A" s.Name p.X p.Mean centres)
            let texts (f: string) =
                [ for e in XDocument.Load(f).Descendants(ns + "text") -> e.Value.Trim() ]
            let numbers f = texts f |> List.choose (fun t -> match Double.TryParse(t, Globalization.NumberStyles.Float, Globalization.CultureInfo.InvariantCulture) with | true, x -> Some(t, x) | _ -> None)
            for f in files |> List.filter (fun f -> f.EndsWith ".svg") do
                Expect.isNonEmpty (numbers f) (sprintf "%s has tick labels" f)
                for t, x in numbers f do Expect.isGreaterThanOrEqual x 0.0 (sprintf "tick %s in %s" t f)
            let curves = files |> List.find (fun f -> f.EndsWith "curves.svg")
            let ts = texts curves
            Expect.contains ts "stage 1 ends" "stage boundary marked"
            Expect.contains ts "stage 1, shared by all arms" "shared stage in the legend"
            // Epoch ticks: the numbers between the x label and the y label are the bottom axis's.
            let i0 = ts |> List.findIndex (fun t -> t.StartsWith "epoch")
            let i1 = ts |> List.findIndex (fun t -> t.StartsWith "train accuracy")
            for t in ts[i0 + 1 .. i1 - 1] do Expect.isTrue (Regex.IsMatch(t, "^[0-9]+$")) (sprintf "integer epoch tick '%s'" t)
        }
        test "HTML: one page, plotly.js inline once; tables and plot data equal the Summary" {
            let r = fabricated ()
            let html = HtmlReport.page "t" [ r ]
            Expect.equal (Regex.Matches(html, "plotly.js v").Count) 1 "plotly.js embedded once"
            Expect.isFalse (Regex.IsMatch(html, "<script[^>]*\\bsrc=")) "no script loaded from elsewhere (offline page)"
            let charts = chartData html
            Expect.equal (charts |> List.map fst) [ "test-accuracy"; "curves"; "epochs"; "accuracy-vs-time" ] "four plots"
            let acc = charts |> List.find (fun (n, _) -> n = "test-accuracy") |> snd
            let byName = [ for t in acc.EnumerateArray() -> t.GetProperty("name").GetString(), t ] |> Map.ofList
            for a in Summary.byArmRows r |> List.filter (fun a -> a.Stage = 2) do
                let t = byName[a.Arm]
                near (floats (t.GetProperty "y")).Head (100.0 * a.TestAccMean) (sprintf "%s mean" a.Arm)
                let hi = (floats (t.GetProperty("error_y").GetProperty "array")).Head
                near hi (min 100.0 (100.0 * a.TestAccCiHigh) - 100.0 * a.TestAccMean) (sprintf "%s upper error, clipped" a.Arm)
            near (floats (byName["stage 1, shared by all arms"].GetProperty "y")).Head 71.0 "shared node once"
            let epochs = charts |> List.find (fun (n, _) -> n = "epochs") |> snd
            let fresh = epochs.EnumerateArray() |> Seq.find (fun t -> t.GetProperty("name").GetString() = "fresh")
            near (floats (fresh.GetProperty "y")).Head 3.0 "fresh epochs"
            // Tables: the cells of Display's byArm table appear in order.
            let _, rows = Display.table (Summary.byArm r)
            for row in rows do
                Expect.stringContains html ("<tr>" + (row |> List.map (fun c -> "<td>" + Net.WebUtility.HtmlEncode c + "</td>") |> String.concat "") + "</tr>") "row"
            Expect.stringContains html "<th>P(better) %</th>" "gap table with P(better)"
        }
        test "HTML opens in headless Chromium: no console messages, every plot drawn" {
            let r = fabricated ()
            use d = new TempDir()
            let page = HtmlReport.write (d.File "report.html") "t" [ r ]
            let common =
                [ "--headless"; "--no-sandbox"; "--disable-gpu"; "--disable-quic"; "--no-first-run"; "--disable-background-networking"
                  "--disable-component-update"; "--disable-sync"; "--user-data-dir=" + d.File "profile"; "--enable-logging=stderr"; "--v=0"
                  "--virtual-time-budget=5000"; "--window-size=1000,2400" ]
            let code, dom, err = chromium (common @ [ "--dump-dom"; "file://" + page ])
            Expect.equal code 0 (sprintf "chromium exit code; stderr:\n%s" err)
            let console = err.Split('\n') |> Array.filter (fun l -> l.Contains ":CONSOLE")
            Expect.isEmpty console "no console message (script errors are logged there)"
            // Plotly draws each chart as <svg class="main-svg">, traces as g.trace.
            for name in [ "test-accuracy"; "curves"; "epochs"; "accuracy-vs-time" ] do
                let m = Regex.Match(dom, sprintf "data-plot=\"%s\">(.*?)</section>|data-plot=\"%s\">(.*?)data-plot=" name name, RegexOptions.Singleline)
                Expect.isTrue m.Success (sprintf "%s in the DOM" name)
                let inner = m.Value
                Expect.stringContains inner "main-svg" (sprintf "%s drawn" name)
                Expect.isTrue (Regex.IsMatch(inner, "class=\"[^\"]*trace")) (sprintf "%s has traces" name)
            let code2, _, err2 = chromium (common @ [ "--screenshot=" + d.File "shot.png"; "file://" + page ])
            Expect.equal code2 0 (sprintf "screenshot; stderr:\n%s" err2)
            Expect.isGreaterThan (FileInfo(d.File "shot.png").Length) 20000L "a screenshot with content"
        }
    ]
