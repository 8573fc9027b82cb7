/// PNG plots of a study run (ScottPlot, headless). Text needs fonts: Debian's fonts-dejavu-core.
module WarmStart.Plots

open System.IO
open ScottPlot

let private palette = [| Colors.C0; Colors.C1; Colors.C2; Colors.C3; Colors.C4; Colors.C5; Colors.C6; Colors.C7; Colors.C8; Colors.C9 |]

/// Titles, labels and legend, then a 900×600 PNG: the finish every plot here shares. Returns the path.
let private finish (plt: Plot) (path: string) (title: string) (xLabel: string option) (yLabel: string) =
    plt.Title title
    xLabel |> Option.iter plt.XLabel
    plt.YLabel yLabel
    plt.ShowLegend() |> ignore
    plt.SavePng(path, 900, 600) |> ignore
    path

/// Test accuracy per arm (and sweep variant) against the stage's x value (% of pool, examples, target
/// fraction, pre-training epochs), with 95 % t-interval bars; series slightly offset so bars do not overlap.
let testAccuracy (path: string) (r: StudyResult) =
    use plt = new Plot()
    let rows = Summary.byArmRows r
    // Fan-out schedules put one variant per x value: plot their final stage, one series per arm.
    let fanOut = match r.Study.Schedule with Transfer _ | PretrainEpochs _ -> true | _ -> false
    let seriesOf (x: Summary.ArmRow) =
        if fanOut then
            let sweepPart = match x.Variant.Split(" · ") with [| _ |] -> "" | parts -> parts[0]
            (if sweepPart = "" then x.Arm else sprintf "%s [%s]" x.Arm sweepPart)
        elif x.Variant = "" then x.Arm else sprintf "%s [%s]" x.Arm x.Variant
    let rows = if fanOut then rows |> List.filter (fun x -> x.Stage = 2) else rows
    let series = rows |> List.map seriesOf |> List.distinct
    let span = (rows |> List.map (fun x -> x.X) |> fun xs -> if xs.IsEmpty then 1.0 else List.max xs - List.min xs) |> max 1.0
    series |> List.iteri (fun i name ->
        let xs = rows |> List.filter (fun x -> seriesOf x = name) |> List.sortBy (fun x -> x.X)
        let x = xs |> List.map (fun x -> x.X + span * 0.006 * float (i - series.Length / 2)) |> Array.ofList
        let y = xs |> List.map (fun x -> 100.0 * x.TestAccMean) |> Array.ofList
        let e = xs |> List.map (fun x -> if System.Double.IsNaN x.TestAccCiHigh then 0.0 else 100.0 * (x.TestAccCiHigh - x.TestAccMean)) |> Array.ofList
        let sc = plt.Add.Scatter(x, y)
        sc.LegendText <- name
        sc.Color <- palette[i % palette.Length]
        let eb = plt.Add.ErrorBar(x, y, e)
        eb.Color <- palette[i % palette.Length])
    finish plt path (sprintf "%s: test accuracy (mean, 95%% CI)" r.Study.Name)
        (Some(match r.Plan.Variants with v :: _ -> v.XLabel | [] -> "stage")) "test accuracy (%)"

/// Training curves of seed 0: train accuracy against cumulative epochs, each arm's chain end to end
/// (as the paper's Figure 1 draws warm start over both stages).
let trainingCurves (path: string) (r: StudyResult) =
    use plt = new Plot()
    r.Study.Arms |> List.iteri (fun i a ->
        let variant = match r.Plan.Variants with v :: _ -> v.Name | [] -> ""
        match r.Plan.Chains.TryFind { Variant = variant; Arm = a.Name; Seed = 0 } with
        | Some keys ->
            let points =
                keys |> List.choose r.Results.TryFind
                |> List.fold (fun (acc, offset) res ->
                    acc @ [ for e in res.Curve -> float (offset + e.Epoch), 100.0 * e.TrainAccuracy ], offset + res.Epochs) ([], 0)
                |> fst
            if not points.IsEmpty then
                let sc = plt.Add.Scatter(points |> List.map fst |> Array.ofList, points |> List.map snd |> Array.ofList)
                sc.LegendText <- a.Name
                sc.MarkerSize <- 0.0f
                sc.Color <- palette[i % palette.Length]
        | None -> ())
    finish plt path (sprintf "%s: training curves (seed 0)" r.Study.Name) (Some "epoch (cumulative over stages)") "train accuracy (%)"

/// Mean epochs to the stop rule per arm at each stage after the first (bars).
let epochs (path: string) (r: StudyResult) =
    use plt = new Plot()
    let rows = Summary.byArmRows r |> List.filter (fun x -> x.Stage >= 2)
    let groupOf (x: Summary.ArmRow) = if x.Variant = "" then x.Step else sprintf "%s %s" x.Variant x.Step
    let stages = rows |> List.map groupOf |> List.distinct
    let arms = r.Study.Arms |> List.map (fun a -> a.Name)
    let width = 0.8 / float (max 1 arms.Length)
    arms |> List.iteri (fun i arm ->
        let bars =
            [ for x in rows |> List.filter (fun x -> x.Arm = arm) ->
                let si = List.findIndex ((=) (groupOf x)) stages
                Bar(Position = float si + float i * width, Value = x.EpochsMean, FillColor = palette[i % palette.Length], Size = width * 0.9) ]
        if not bars.IsEmpty then
            let b = plt.Add.Bars(ResizeArray bars)
            b.LegendText <- arm)
    plt.Axes.Bottom.SetTicks(stages |> List.mapi (fun i _ -> float i + 0.4 - width / 2.0) |> Array.ofList,
                             stages |> Array.ofList)
    finish plt path (sprintf "%s: epochs to the stop rule (mean)" r.Study.Name) None "epochs"

/// Test accuracy against training time of every run after the first stage, one point per node and seed, one
/// series per arm (the paper's Figure 3: warm-started models that generalise as well as fresh ones take longer).
let accuracyVsTime (path: string) (r: StudyResult) =
    use plt = new Plot()
    let rows = Summary.rows r |> List.filter (fun x -> x.Stage >= 2 && not x.Diverged)
    r.Study.Arms |> List.iteri (fun i a ->
        let xs = rows |> List.filter (fun x -> x.Arm = a.Name)
        if not xs.IsEmpty then
            let sc = plt.Add.ScatterPoints(xs |> List.map (fun x -> x.Seconds) |> Array.ofList, xs |> List.map (fun x -> 100.0 * x.TestAcc) |> Array.ofList)
            sc.LegendText <- a.Name
            sc.Color <- palette[i % palette.Length])
    finish plt path (sprintf "%s: test accuracy against training time (stages after the first)" r.Study.Name)
        (Some "training time (s)") "test accuracy (%)"

/// All plots of a study run into `dir`; returns the files written.
let saveAll (dir: string) (r: StudyResult) =
    Directory.CreateDirectory dir |> ignore
    let f name = Path.Combine(dir, sprintf "%s.%s.png" r.Study.Name name)
    [ testAccuracy (f "test-accuracy") r; trainingCurves (f "curves") r; epochs (f "epochs") r
      accuracyVsTime (f "accuracy-vs-time") r ]

/// TensorBoard event files, one run per node (train loss/accuracy per epoch, test accuracy at the end).
let tensorboard (dir: string) (r: StudyResult) =
    for KeyValue(key, res) in r.Results do
        let n = Plan.node r.Plan key
        let run = Path.Combine(dir, r.Study.Name, sprintf "stage%d-seed%d-%s-%s" n.Stage n.SeedIndex (String.concat "+" n.Arms) (key.Substring(0, 8)))
        let w = TorchSharp.torch.utils.tensorboard.SummaryWriter(run)
        for e in res.Curve do
            w.add_scalar("train/loss", float32 e.Loss, e.Epoch)
            w.add_scalar("train/accuracy", float32 e.TrainAccuracy, e.Epoch)
        w.add_scalar("test/accuracy", float32 res.TestAccuracy, res.Epochs)
