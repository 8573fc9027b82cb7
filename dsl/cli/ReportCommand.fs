/// `warmstart report STORE`: the Summary tables of every study run in a result store (or one), as Markdown on
/// stdout and files beside the study's index, or CSV; PNG/SVG plots, one HTML page and TensorBoard files on request.
module WarmStart.Cli.ReportCommand

open System.IO
open Argu
open WarmStart
open WarmStart.Cli.Args

/// Commands by study from a file of "STUDY<tab>COMMAND" lines (blank lines and '#' comments skipped).
let private readCommands (file: string) =
    File.ReadAllLines file
    |> Array.filter (fun l -> l.Trim() <> "" && not (l.StartsWith "#"))
    |> Array.map (fun l ->
        match l.Split('\t', 2) with
        | [| s; c |] -> s.Trim(), c.Trim()
        | _ -> failwithf "%s: line '%s' is not 'STUDY<tab>COMMAND'" file l)
    |> Map.ofArray

/// `--page FILE`: re-renders the page's generated blocks from the store in place (see ResultsPage); with
/// `--plots DIR`, plots every study the page names.
let private page (a: ParseResults<ReportArgs>) (root: string) (file: string) =
    if not (File.Exists file) then
        eprintfn "error: --page '%s': no such file" file
        1
    else
        let store = WarmStart.Core.Runs.ResultStore(root)
        let text = File.ReadAllText file
        let names = ResultsPage.studiesOf text
        let missing = names |> List.filter (fun n -> not (Seq.contains n (store.Studies())))
        if not missing.IsEmpty then
            eprintfn "error: --page '%s' names studies the store '%s' does not hold: %s; run them with --out %s first"
                file root (String.concat ", " missing) root
            1
        else
            let results = names |> List.map (fun n -> n, Study.load root n) |> Map.ofList
            let commands = a.TryGetResult ReportArgs.Commands |> Option.map readCommands |> Option.defaultValue Map.empty
            let src : ResultsPage.Sources =
                { Study = fun n -> results[n]
                  Provenance = fun r -> NodeStore.provenanceSummary store (r.Plan.Nodes |> List.map (fun n -> n.Key))
                  Command = fun n -> commands.TryFind n }
            try
                File.WriteAllText(file, ResultsPage.fill src text)
                eprintfn "wrote %s (%d studies)" file names.Length
                a.TryGetResult ReportArgs.Plots |> Option.iter (fun d -> for n in names do for f in Plots.saveAll d results[n] do eprintfn "wrote %s" f)
                0
            with :? System.ArgumentException as e ->
                eprintfn "error: --page '%s': %s" file e.Message
                1

/// The Summary tables (and plots, HTML, TensorBoard files) of every study in the store, or of `--study`.
let private tables (a: ParseResults<ReportArgs>) (root: string) =
    let store = WarmStart.Core.Runs.ResultStore(root)
    let names =
        match a.TryGetResult ReportArgs.Study with
        | Some n -> [ n ]
        | None -> List.ofSeq (store.Studies())
    let format = a.GetResult(ReportArgs.Format, defaultValue = "md")
    if format <> "md" && format <> "csv" then
        eprintfn "error: --format '%s' is not known; allowed: md, csv" format
        1
    else
        let loaded = ResizeArray()
        for name in names do
            let r = Study.load root name
            loaded.Add r
            let dir = store.StudyFolder name
            let files = Report.write format dir r
            if format = "md" then
                printfn "%s" (Report.markdown r)
                for line in NodeStore.provenanceSummary store (r.Plan.Nodes |> List.map (fun n -> n.Key)) do printfn "%s" line
            for f in files do eprintfn "wrote %s" f
            a.TryGetResult ReportArgs.Plots |> Option.iter (fun d -> for f in Plots.saveAll d r do eprintfn "wrote %s" f)
            a.TryGetResult ReportArgs.Tensorboard |> Option.iter (fun d -> Plots.tensorboard d r; eprintfn "wrote TensorBoard runs under %s" d)
        a.TryGetResult ReportArgs.Html
        |> Option.iter (fun f -> eprintfn "wrote %s" (HtmlReport.write f (sprintf "WarmStart report: %s" (Path.GetFileName(Path.GetFullPath(root).TrimEnd('/')))) (List.ofSeq loaded)))
        0

let run (a: ParseResults<ReportArgs>) =
    let root = a.GetResult ReportArgs.Store
    if not (Directory.Exists(Path.Combine(root, "studies"))) then
        eprintfn "error: '%s' is not a result store (no studies/ folder); run a study with --out %s first" root root
        1
    else
        match a.TryGetResult ReportArgs.Page with
        | Some file -> page a root file
        | None -> tables a root
