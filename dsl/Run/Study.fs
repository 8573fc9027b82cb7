namespace WarmStart

open System
open System.Diagnostics
open System.IO
open WarmStart.Core.Training

/// Running studies: from a script's arguments, in quick mode, or with explicit options.
[<CompilationRepresentation(CompilationRepresentationFlags.ModuleSuffix)>]
module Study =

    /// Defaults: full mode, the study's seeds, results under ./results, CPU.
    let defaultOptions = StudyOptions.defaults

    /// The quick variant of a study (what `--quick` runs): its quick_data, quick_model, quick_optimizer and
    /// quick_schedule in place of the full ones; the pool capped at quick_subset, epochs at quick_max_epochs
    /// (pre-training lengths of `pretrain_epochs` included: [20; 40; 60] becomes [3]), quick_seeds seeds, and one
    /// torch thread unless the study sets threads.
    let quick (s: Study) =
        let q = s.Quick
        let cap = q.MaxEpochs
        let capped (st: StopRule) =
            StopRule(st.FixedEpochs |> Option.ofNullable |> Option.map (min cap) |> Option.toNullable, st.TrainAccuracy,
                     min st.MaxEpochs cap, st.Patience)
        let stop = capped s.Stop
        let schedule =
            match defaultArg q.Schedule s.Schedule with
            | PretrainEpochs es -> PretrainEpochs(es |> List.map (min cap) |> List.distinct)
            // A stream's epochs per task are capped like a stage's, its images like the pool.
            | Schedule.Stream st -> Schedule.Stream { st with EpochsPerTask = min st.EpochsPerTask cap; Images = min st.Images q.Subset; Probe = min st.Probe q.Subset }
            | other -> other
        { s with
            Name = defaultArg q.Name s.Name
            Data = (match q.Data with Some d -> { s.Data with Name = d.Name } | None -> s.Data)
            Model = defaultArg q.Model s.Model
            Optimizer = defaultArg q.Optimizer s.Optimizer
            Subset = Some(match s.Subset with Some n -> min n q.Subset | None -> q.Subset)
            Stop = stop
            // Stage stop rules (`stage_stop`) obey the same cap.
            StageOverrides = s.StageOverrides |> List.map (fun o -> { o with Stop = o.Stop |> Option.map capped })
            Schedule = schedule
            Diagnostics = (match q.ShrinkPoints with
                           | Some n -> { s.Diagnostics with ShrinkGrid = ShrinkGrid.ofPoints n }
                           | None -> s.Diagnostics)
            Seeds = min s.Seeds q.Seeds
            // Quick mode trains small models, which run fastest on one torch thread, and far faster than
            // with a thread per core when the machine is busy (6–8× measured here); a study's own setting wins.
            Threads = (if s.Threads = 0 then 1 else s.Threads) }

    /// What the quick variant changed, in the words a user wrote ("--quick caps the pool at quick_subset 2000"),
    /// for the validation problems the quick variant has and the declared study has not.
    let private quickNotes (declared: Study) (q: Study) =
        [ if q.Subset <> declared.Subset then sprintf "--quick caps the pool at quick_subset %d" declared.Quick.Subset
          if q.Stop <> declared.Stop || q.Schedule <> declared.Schedule || q.StageOverrides <> declared.StageOverrides then
              sprintf "--quick caps epochs at quick_max_epochs %d" declared.Quick.MaxEpochs
          if q.Name <> declared.Name then sprintf "--quick names the study quick_name %s" q.Name
          if q.Data <> declared.Data then sprintf "--quick uses quick_data %s" q.Data.Name
          if q.Model <> declared.Model then sprintf "--quick uses quick_model %s" (Describe.model q.Model)
          if q.Optimizer <> declared.Optimizer then sprintf "--quick uses quick_optimizer %s" (Describe.optimizer q.Optimizer)
          if q.Seeds <> declared.Seeds then sprintf "--quick runs quick_seeds %d" declared.Quick.Seeds ]

    /// The study as the options ask for it (quick variant, seed count, threads), validated once, here, when the
    /// options changed it (the builder validated the declared study). A problem the quick variant has and the
    /// declared study has not says which quick setting caused it.
    let configure (o: RunOptions) (s: Study) =
        let q = if o.Quick then quick s else s
        let c = match o.Seeds with Some n -> { q with Seeds = n } | None -> q
        let c = match o.Threads with Some n -> { c with Threads = n } | None -> c
        if c = s then s
        else
            match Validate.problems c with
            | [] -> c
            | problems ->
                let before = if o.Quick then Set.ofList (Validate.problems s) else Set.empty
                let notes = if o.Quick then quickNotes s q else []
                let explain p =
                    if o.Quick && not (before.Contains p) && not notes.IsEmpty then sprintf "%s (%s)" p (String.concat "; " notes) else p
                raise (StudyValidationError((if o.Quick then s.Name + " (quick variant)" else s.Name), problems |> List.map explain))

    /// The plan of training nodes of a study.
    let plan (s: Study) = Plan.ofStudy s

    /// Writes a result's summaries as CSV next to its index: runs.csv, by-arm.csv, curves.csv (every epoch of every
    /// chain, with test columns where `evaluate_every` evaluated) and gap-vs-fresh.csv, and the
    /// diagnostics the study measured: correlations.csv (every layer group), gradient-norms.csv, shrink-accuracy.csv.
    let writeSummaries (dir: string) (r: StudyResult) =
        Summary.saveCsv (Path.Combine(dir, "runs.csv")) (Summary.runs r)
        Summary.saveCsv (Path.Combine(dir, "by-arm.csv")) (Summary.byArm r)
        Summary.saveCsv (Path.Combine(dir, "curves.csv")) (Summary.curves r)
        if Summary.hasFreshReference r.Study then
            Summary.saveCsv (Path.Combine(dir, "gap-vs-fresh.csv")) (Summary.gapVsFresh r)
        let d = r.Study.Diagnostics
        if d.Correlation then
            Summary.saveCsv (Path.Combine(dir, "correlations.csv")) (Summary.correlationsByGroup r)
        if d.GradientNorms then Summary.saveCsv (Path.Combine(dir, "gradient-norms.csv")) (Summary.gradientNorms r)
        if not d.ShrinkGrid.IsEmpty then Summary.saveCsv (Path.Combine(dir, "shrink-accuracy.csv")) (Summary.shrinkAccuracy r)
        // Task streams: every task of every stream, arm × task accuracies, the metrics, first vs last tasks.
        if Summary.hasStreams r then
            Summary.saveCsv (Path.Combine(dir, "tasks.csv")) (Summary.tasks r)
            Summary.saveCsv (Path.Combine(dir, "per-task.csv")) (Summary.perTask r)
            Summary.saveCsv (Path.Combine(dir, "plasticity.csv")) (Summary.plasticity r)
            Summary.saveCsv (Path.Combine(dir, "plasticity-loss.csv")) (Summary.plasticityLoss r)

    /// Writes the plan of a study (as the options configure it) into a store as its index, training nothing.
    /// Returns the index file. Executors (`warmstart exec-node`, cluster tasks) read the plan back from there.
    let writePlan (o: RunOptions) (store: string) (s: Study) =
        let s = configure o s
        let p = Plan.ofStudy s
        let st = WarmStart.Core.Runs.ResultStore(store)
        NodeStore.writeIndex st p o.Quick
        Path.Combine(st.StudyFolder(NodeStore.studyFolderName s.Name o.Quick), "index.json"), p, st

    /// Runs a study with explicit options against the result store `Out` and returns its result. Nodes already
    /// in the store are read, not retrained. Ctrl-C stops after the running nodes' current step; finished nodes
    /// stay stored, and running the same command again continues where it stopped.
    let runWith (o: RunOptions) (s: Study) : StudyResult =
        let sw = Stopwatch.StartNew()
        let _, p, store = writePlan o o.Out s
        let s = p.Study
        printfn "%s" (Plan.describe p |> fun d -> d.Split('\n') |> Array.take 2 |> String.concat "\n")
        printfn "%s" (Parallelism.describe (Parallelism.forPlan o.Device o.Jobs p))
        RunChecks.ensureData o.DataRoot o.FetchData (Some store) p
        use cts = new Threading.CancellationTokenSource()
        let onCancel = ConsoleCancelEventHandler(fun _ e ->
            if not cts.IsCancellationRequested then
                e.Cancel <- true
                eprintfn "\ninterrupted: stopping after the running nodes' current step (Ctrl-C again to kill)"
                cts.Cancel())
        Console.CancelKeyPress.AddHandler onCancel
        let exec : Executor.ExecOptions =
            { DataRoot = o.DataRoot; Device = o.Device; Stack = o.Stack; Jobs = o.Jobs; Store = store; Rerun = o.Rerun
              CheckpointEvery = o.CheckpointEvery; Cancel = cts.Token
              TensorBoard = o.TensorBoard }
        let status, results, retried =
            try Progress.run p.Nodes.Length (fun sink -> Executor.runCounted exec sink p)
            finally Console.CancelKeyPress.RemoveHandler onCancel
        let r = { Plan = p; Results = results; Status = status; Quick = o.Quick; WallSeconds = sw.Elapsed.TotalSeconds }
        let dir = store.StudyFolder(NodeStore.studyFolderName s.Name o.Quick)
        // Stream nodes get their runs (a step per task) here: the executor writes stage nodes' runs epoch by epoch.
        o.TensorBoard |> Option.iter (fun d -> TensorBoardRuns.writeStreams d p results)
        writeSummaries dir r
        printfn "%s" (Progress.tallyWith retried status results)
        for note in RunChecks.divergenceNotes r do printfn "%s" note
        o.TensorBoard |> Option.iter (fun d -> printfn "TensorBoard runs in %s (tensorboard --logdir %s)" (Path.Combine(d, s.Name)) d)
        printfn "study '%s' finished in %.1fs%s; results in %s\n" s.Name r.WallSeconds (if o.Quick then " (quick mode)" else "") dir
        r

    /// The folder a study run from a script's command line keeps its index and CSV summaries in (beside
    /// `runs.csv`): where a script writes its own figures.
    let resultsFolder (argv: string[]) (r: StudyResult) =
        let out = match StudyOptions.parse argv with RunWith o -> o.Out | _ -> StudyOptions.defaults.Out
        WarmStart.Core.Runs.ResultStore(out).StudyFolder(NodeStore.studyFolderName r.Study.Name r.Quick)

    /// The result of a study run read back from a store (no training): for reports and the REPL.
    let load (storeRoot: string) (studyFolder: string) : StudyResult =
        let store = WarmStart.Core.Runs.ResultStore(storeRoot)
        let p, quick = NodeStore.readIndex store studyFolder
        let results = p.Nodes |> List.choose (fun n -> NodeStore.tryRead store n.Key |> Option.map (fun r -> n.Key, r)) |> Map.ofList
        { Plan = p; Results = results; Status = results |> Map.map (fun _ _ -> Cached); Quick = quick; WallSeconds = 0.0 }

    /// True when `argv` is a script's command line (`fsi.CommandLineArgs` of `dotnet fsi study.fsx`): the only
    /// case where the process may exit; from a REPL (or a test) nothing here exits.
    let private isScript (argv: string[]) =
        argv.Length > 0 && argv[0].EndsWith(".fsx", StringComparison.OrdinalIgnoreCase)

    /// Ends a script run with this exit code; in a REPL, returns instead (raising for errors).
    let private stop (argv: string[]) (code: int) (error: string option) =
        match error with
        | Some e when not (isScript argv) -> raise (ArgumentException e)
        | Some e -> eprintfn "error: %s" e
        | None -> ()
        if isScript argv then exit code

    /// An empty result of a study: its plan and no results (what `--plan`, `--plan-to` and `--help` return in a REPL).
    let private nothingRun (o: RunOptions) (s: Study) =
        let p = Plan.ofStudy s
        { Plan = p; Results = Map.empty; Status = Map.empty; Quick = o.Quick; WallSeconds = 0.0 }

    let private interrupted (argv: string[]) (o: RunOptions) =
        eprintfn "stopped: finished nodes are kept in %s; run the same command again to continue" o.Out
        if isScript argv then exit 130

    /// Runs a script's studies (from a REPL: just runs them): an interruption exits 130; missing data, an IO failure on the store (not writable,
    /// not a folder, disk full) exit 1 with one clean message; failed nodes are listed and make the script exit 1
    /// when it ends (after it printed its tables).
    let private scriptRun (argv: string[]) (o: RunOptions) (body: unit -> 'T) : 'T =
        let fail (msg: string) = eprintfn "error: %s" msg; exit 1
        if not (isScript argv) then
            try body ()
            with :? OperationCanceledException ->
                interrupted argv o
                reraise ()
        else
        try
            let r = body ()
            let results = match box r with :? StudyResult as x -> [ x ] | :? (StudyResult list) as xs -> xs | _ -> []
            let failed = results |> List.collect RunChecks.failures
            if not failed.IsEmpty then
                eprintfn "error: %d node%s failed:" failed.Length (if failed.Length = 1 then "" else "s")
                for f in failed |> List.truncate 10 do eprintfn "  %s" f
                if failed.Length > 10 then eprintfn "  … and %d more" (failed.Length - 10)
                RunChecks.exitNonZeroAtEnd ()
            r
        with
        | :? OperationCanceledException ->
            interrupted argv o
            exit 130
        | :? WarmStart.Core.Runs.StoreException as e when Directory.Exists(Path.Combine(e.Store, "nodes")) ->
            fail (e.Message + "; finished nodes are kept: fix the cause and run the same command again")
        | :? WarmStart.Core.Runs.StoreException as e -> fail e.Message
        | :? WarmStart.Core.Data.DatasetNotFoundException as e -> fail e.Message
        | :? IOException as e -> fail (sprintf "%s (writing the results into %s)" e.Message o.Out)
        | :? UnauthorizedAccessException as e -> fail (sprintf "%s (writing the results into %s)" e.Message o.Out)

    /// Runs several studies with the same options from a script's command line (a grid of studies that differ
    /// in more than numbers, e.g. models × optimisers × datasets), in order; nodes they share are trained once.
    /// With `--quick`, studies marked `quick_skip` are left out. `--help`, `--plan` and a bad option end a
    /// script (exit 0, 0 and 2); from a REPL they return (no results) or raise.
    let runAllFromArgs (argv: string[]) (studies: Study list) : StudyResult list =
        match StudyOptions.parse argv with
        | BadOptions e ->
            stop argv 2 (Some e)
            []
        | HelpRequested usage ->
            printfn "%s" usage
            stop argv 0 None
            []
        | RunWith o ->
            let studies = if o.Quick then studies |> List.filter (fun s -> not s.Quick.Skip) else studies
            if o.PlanOnly then
                let configured = studies |> List.map (configure o)
                for s in configured do printfn "%s\n" (Plan.describe (Plan.ofStudy s))
                stop argv 0 None
                configured |> List.map (nothingRun o)
            else
                scriptRun argv o (fun () ->
                    // All the studies' data is checked before the first one trains: one message for the whole script.
                    let plans = studies |> List.map (configure o >> Plan.ofStudy)
                    RunChecks.ensureDataAll o.DataRoot o.FetchData (Some(WarmStart.Core.Runs.ResultStore(o.Out))) plans
                    studies |> List.map (runWith o))

    /// Runs a study with options from a script's command line (`fsi.CommandLineArgs`). With `--plan` it prints
    /// the plan; with `--plan-to STORE` it writes the plan into STORE (the line `plan written: INDEX` names the
    /// index file); `--help` prints the study options. In a script these end the run (exit 0), and a bad option
    /// prints the message and exits with code 2; from a REPL they return a result without runs, or raise.
    let runFromArgs (argv: string[]) (s: Study) : StudyResult =
        match StudyOptions.parse argv with
        | BadOptions e ->
            stop argv 2 (Some e)
            nothingRun defaultOptions s
        | HelpRequested usage ->
            printfn "%s" usage
            stop argv 0 None
            nothingRun defaultOptions s
        | RunWith o when o.PlanOnly ->
            let c = configure o s
            printfn "%s" (Plan.describe (Plan.ofStudy c))
            stop argv 0 None
            nothingRun o c
        | RunWith o when o.PlanTo.IsSome ->
            let index, p, st = writePlan o o.PlanTo.Value s
            let stored = p.Nodes |> List.filter (fun n -> st.Has n.Key) |> List.length
            printfn "plan written: %s" index
            printfn "study '%s': %d training nodes, %d already in the store" p.Study.Name p.Nodes.Length stored
            stop argv 0 None
            { Plan = p; Results = Map.empty; Status = Map.empty; Quick = o.Quick; WallSeconds = 0.0 }
        | RunWith o -> scriptRun argv o (fun () -> runWith o s)
