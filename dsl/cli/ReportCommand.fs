/// `warmstart report STORE`: the Summary tables of every study run in a result store (or one), as Markdown on
/// stdout and files beside the study's index, or CSV; PNG/SVG plots, one HTML page and TensorBoard files on request.
module WarmStart.Cli.ReportCommand

open System.IO
open Argu
open WarmStart
open WarmStart.Cli.Args

let run (a: ParseResults<ReportArgs>) =
    let root = a.GetResult ReportArgs.Store
    if not (Directory.Exists(Path.Combine(root, "studies"))) then
        eprintfn "error: '%s' is not a result store (no studies/ folder); run a study with --out %s first" root root
        1
    else
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
