/// Checks around a study run: the data a plan needs, checked (and on request fetched) before any training; why a
/// by-arm table has fewer rows than arms × stages (diverged runs); and the exit code of a script run whose nodes failed.
module WarmStart.RunChecks

open System
open WarmStart.Core.Data
open WarmStart.Core.Data.Download
open WarmStart.Core.Runs

/// The datasets the plans' nodes that still need training read, each with the number of such nodes.
let neededData (store: ResultStore option) (plans: StudyPlan list) =
    plans
    |> List.collect (fun p -> p.Nodes)
    |> List.distinctBy (fun n -> n.Key)
    |> List.filter (fun n -> match store with Some st -> not (st.Has n.Key) | None -> true)
    |> List.countBy (fun n -> n.Spec.Dataset)

/// The problem of one needed dataset, or None when it loads here: the state and the remedies, on one line.
let private dataProblem (dataRoot: string option) (viewName: string) =
    // A view ("fashion-mnist[classes=0,1]") needs its catalog dataset.
    let name = DataNames.catalogName viewName
    let st = Catalog.Status(name, Option.toObj dataRoot)
    if st.Loadable then None
    else
        let e = Catalog.Get name
        let remedy =
            match st.State with
            | DataState.Missing ->
                [ match e.DebianPackage with
                  | null -> ()
                  | deb -> sprintf "apt-get install -y %s" deb
                  sprintf "warmstart data fetch %s" name
                  sprintf "or put %s in a folder '%s' under --data-root DIR or $%s"
                      (String.Join(", ", e.Files |> Seq.map (fun f -> f.Name))) e.Folder DataRoots.EnvVar ]
                |> String.concat "; "
            | _ -> sprintf "warmstart data verify %s, or fetch it again: warmstart data fetch %s" name name
        let state = match st.State with DataState.Missing -> "missing" | s -> sprintf "%s (%s)" ((string s).ToLowerInvariant()) st.Detail
        Some(sprintf "  %s: %s — %s" name state remedy)

/// Checks, before any training, that every dataset the plans still need loads here. With `fetch`, missing ones are
/// downloaded first (checksums verified). Otherwise one DatasetNotFoundException lists each missing dataset with
/// its remedy, once, however many nodes or studies need it.
let ensureDataAll (dataRoot: string option) (fetch: bool) (store: ResultStore option) (plans: StudyPlan list) =
    let needed = neededData store plans
    let problems () = needed |> List.choose (fun (name, _) -> dataProblem dataRoot name |> Option.map (fun l -> name, l))
    if fetch then
        for name, _ in problems () do
            let e = Catalog.Get name
            let root = DataRoots.FetchTarget(Option.toObj dataRoot)
            printfn "fetching %s into %s (--fetch)" name root
            let opts = FetchOptions(Log = Action<string>(printfn "%s"))
            DatasetFetcher.FetchAsync(e, root, opts).GetAwaiter().GetResult() |> ignore
    match problems () with
    | [] -> ()
    | ps ->
        let nodes = needed |> List.filter (fun (n, _) -> ps |> List.exists (fun (m, _) -> m = n)) |> List.sumBy snd
        let who =
            match plans with
            | [ p ] -> sprintf "study '%s' needs" p.Study.Name
            | _ -> sprintf "%d studies need" plans.Length
        let lines =
            [ sprintf "%s data this machine does not have (%d training node%s read it); nothing was trained:"
                  who nodes (if nodes = 1 then "" else "s")
              yield! ps |> List.map snd
              "run again with --fetch to download what the plan needs, or see `warmstart data list`" ]
        raise (DatasetNotFoundException(String.concat Environment.NewLine lines))

/// `ensureDataAll` for one plan.
let ensureData (dataRoot: string option) (fetch: bool) (store: ResultStore option) (p: StudyPlan) =
    ensureDataAll dataRoot fetch store [ p ]

/// Notes on what the by-arm tables leave out: for each (variant, arm, stage) with diverged runs, how many of its
/// seeds diverged; when all did, the table has no row for it (an empty table when every arm diverged).
let divergenceNotes (r: StudyResult) =
    [ let stages =
          r.Plan.Chains
          |> Seq.collect (fun kv -> kv.Value |> List.mapi (fun i key -> (kv.Key.Variant, kv.Key.Arm, i + 1), key))
          |> Seq.groupBy fst
      for (variant, arm, stage), keys in stages do
          let results = keys |> Seq.choose (fun (_, k) -> r.Results.TryFind k) |> List.ofSeq
          let diverged = results |> List.filter (fun x -> x.Diverged) |> List.length
          if diverged > 0 then
              let where = sprintf "arm '%s'%s stage %d" arm (if variant = "" then "" else sprintf " (%s)" variant) stage
              if diverged = results.Length then
                  yield sprintf "note: %s: all %d runs diverged (loss NaN/inf), so the by-arm and gap tables have no row for it" where diverged
              else
                  yield sprintf "note: %s: %d of %d runs diverged and are left out of its mean" where diverged results.Length ]

/// Nodes that failed in a run, as "KEY8: message" lines.
let failures (r: StudyResult) =
    [ for KeyValue(k, st) in r.Status do
          match st with
          | Failed m -> yield sprintf "%s: %s" (k.Substring(0, 8)) m
          | _ -> () ]

/// Makes the script's process exit with code 1 when it ends (fsi exits 0 after a script that ran to its end; the
/// script still prints its tables first). Used by Study.runFromArgs when nodes failed.
let exitNonZeroAtEnd () =
    AppDomain.CurrentDomain.ProcessExit.Add(fun _ -> if Environment.ExitCode = 0 then Environment.ExitCode <- 1)
