/// How summary frames read on a screen, in Markdown and in the HTML report: plain column names, accuracies in
/// percent, a lower and upper bound merged into one "95% CI" column, decimals that fit the quantity, and no
/// column that carries nothing for a reader (the plot's x value). Frames and CSV keep their raw columns and
/// fractions; only the display changes. Text tables are drawn by Spectre.Console.
module WarmStart.Display

open System
open System.Globalization
open System.IO
open Deedle
open Spectre.Console

/// How one raw column shows.
type private Shown =
    /// A column under a plain name: a multiplier (100 for fractions shown in percent), decimals, whether to sign.
    | Number of name: string * scale: float * decimals: int * signed: bool
    /// A text or integer column under a plain name.
    | Plain of name: string
    /// A lower bound that, with its upper column, shows as one "[lo, hi]" column; the bounds are clipped to
    /// [clipLo, clipHi] (after scaling), where the quantity cannot lie outside them.
    | Interval of name: string * upper: string * scale: float * decimals: int * clipLo: float * clipHi: float
    /// Not shown.
    | Hidden

let private pct = 100.0

/// The plain name, scale and decimals of every column the Summary frames have; any other column shows as is.
let private known : Map<string, Shown> =
    Map.ofList
        [ "Study", Plain "study"; "Variant", Plain "variant"; "Arm", Plain "arm"; "Versus", Plain "vs"
          "Stage", Plain "stage"; "Step", Plain "step"; "Seed", Plain "seed"; "Node", Plain "node"; "N", Plain "n"
          "Shared", Plain "shared"; "Diverged", Plain "diverged"; "TrainSize", Plain "train size"; "Epoch", Plain "epoch"
          "Group", Plain "group"; "Epochs", Plain "epochs"
          // Runs that stopped at their epoch cap before the stop rule's goal (Summary.byArm).
          "NotConverged", Plain "not converged"; "Converged", Plain "converged"
          // The plot's x value duplicates Step for a reader ("50% of pool" vs 50).
          "X", Hidden
          "TestAcc", Number("test acc %", pct, 2, false); "TrainAcc", Number("train acc %", pct, 2, false)
          "TrainLoss", Number("train loss", 1.0, 4, false); "Seconds", Number("seconds", 1.0, 1, false)
          "SamplesPerSec", Number("samples/s", 1.0, 0, false)
          "TestAccMean", Number("test acc %", pct, 2, false); "TestAccSd", Number("sd (pts)", pct, 2, false)
          "TestAccCiLow", Interval("95% CI", "TestAccCiHigh", pct, 2, 0.0, 100.0); "TestAccCiHigh", Hidden
          "EpochsMean", Number("epochs", 1.0, 1, false); "SecondsMean", Number("seconds", 1.0, 1, false)
          "GapMean", Number("gap (pts)", pct, 2, true); "GapSd", Number("sd (pts)", pct, 2, false)
          "GapCiLow", Interval("95% CI (t)", "GapCiHigh", pct, 2, -100.0, 100.0); "GapCiHigh", Hidden
          "GapBootLow", Interval("95% CI (bootstrap)", "GapBootHigh", pct, 2, -100.0, 100.0); "GapBootHigh", Hidden
          "PImprove", Number("P(better) %", pct, 0, false); "SeedsFor80Power", Number("seeds for 80% power", 1.0, 0, false)
          "EpochsGapMean", Number("epochs gap", 1.0, 1, true)
          "VsStart", Number("corr vs start", 1.0, 4, false); "VsInit", Number("corr vs init", 1.0, 4, false)
          "OldMean", Number("grad norm old", 1.0, 4, false); "NewMean", Number("grad norm new", 1.0, 4, false)
          "NewOverOld", Number("new / old", 1.0, 2, false); "Lambda", Number("lambda", 1.0, 3, false)
          "AccuracyMean", Number("acc %", pct, 2, false); "AccuracySd", Number("sd (pts)", pct, 2, false) ]

let private inv = CultureInfo.InvariantCulture

/// A number with fixed decimals ("–" for NaN), signed ("+0.50") when asked.
let number (decimals: int) (signed: bool) (x: float) =
    if Double.IsNaN x then "–"
    elif Double.IsInfinity x then (if x > 0.0 then "∞" else "-∞")
    else
        let s = x.ToString("F" + string decimals, inv)
        if signed && x >= 0.0 && not (s.StartsWith "-") then "+" + s else s

/// Any other cell: floats to 4 decimals (large ones without), booleans as "yes"/"".
let private rawCell (o: obj) =
    match o with
    | :? float as f when Double.IsNaN f -> "–"
    | :? float as f when abs f >= 1000.0 -> f.ToString("F0", inv)
    | :? float as f -> f.ToString("F4", inv)
    | :? bool as b -> if b then "yes" else ""
    | null -> ""
    | o -> Convert.ToString(o, inv)

let private asFloat (o: obj) =
    match o with
    | :? float as f -> f
    | :? int as i -> float i
    | :? int64 as i -> float i
    | :? float32 as f -> float f
    | _ -> nan

/// A frame as the header and rows of text a reader sees (see the module's summary). Column order is kept.
let table (f: Frame<'R, string>) : string list * string list list =
    let cols = f.ColumnKeys |> List.ofSeq
    let shown = cols |> List.map (fun c -> c, known |> Map.tryFind c |> Option.defaultValue (Plain c))
    // An interval shows only when both its bounds are there.
    let shown = shown |> List.filter (fun (_, s) -> match s with Hidden -> false | Interval(_, up, _, _, _, _) -> List.contains up cols | _ -> true)
    let header = shown |> List.map (fun (c, s) -> match s with Number(n, _, _, _) | Plain n | Interval(n, _, _, _, _, _) -> n | Hidden -> c)
    let rows =
        [ for r in f.RowKeys ->
            let row = f.Rows[r]
            let get c = match row.TryGet c with OptionalValue.Present v -> v | _ -> null
            [ for c, s in shown ->
                match s with
                | Number(_, scale, d, signed) ->
                    (match get c with
                     | null -> ""
                     | v when Double.IsNaN(asFloat v) && not (v :? float) -> rawCell v
                     | v -> number d signed (scale * asFloat v))
                | Interval(_, up, scale, d, lo, hi) ->
                    let a, b = scale * asFloat (get c), scale * asFloat (get up)
                    if Double.IsNaN a || Double.IsNaN b then "–"
                    else sprintf "[%s, %s]" (number d false (max lo a)) (number d false (min hi b))
                | Plain _ | Hidden -> rawCell (get c) ] ]
    header, rows

/// Header and rows as an aligned text table drawn by Spectre.Console (no colour, no border lines between rows),
/// wide tables kept on one line per row.
let renderText (header: string list, rows: string list list) =
    let t = Table()
    t.Border <- TableBorder.Simple
    for h in header do t.AddColumn(TableColumn(Text h).RightAligned()) |> ignore
    for r in rows do t.AddRow(r |> List.map (fun c -> Text c :> Rendering.IRenderable) |> Array.ofList) |> ignore
    use sw = new StringWriter()
    let settings = AnsiConsoleSettings(Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors,
                                       Out = AnsiConsoleOutput(sw), Interactive = InteractionSupport.No)
    let console = AnsiConsole.Create settings
    console.Profile.Width <- 4000
    console.Write t
    // Spectre pads every line to the table's width: trailing spaces help no reader or diff.
    sw.ToString().Split('\n') |> Array.map (fun l -> l.TrimEnd()) |> String.concat "\n" |> fun s -> s.TrimEnd('\n')

/// A frame as a text table for the terminal and fsi (see `table`).
let format (f: Frame<'R, string>) = renderText (table f)

/// A frame as a GitHub-flavoured Markdown table (see `table`).
let markdown (f: Frame<'R, string>) =
    let header, rows = table f
    let line (cells: string list) = "| " + String.concat " | " (cells |> List.map (fun c -> c.Replace("|", "\\|"))) + " |"
    String.concat "\n" (line header :: line (header |> List.map (fun _ -> "---:")) :: (rows |> List.map line))
