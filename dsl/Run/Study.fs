namespace WarmStart

open System
open System.Diagnostics
open System.IO

/// Options a study run takes from the command line (`dotnet fsi study.fsx -- --quick --seeds 3 --out results/`).
type RunOptions =
    { Quick: bool
      Seeds: int option
      Out: string
      DataRoot: string option
      Device: string
      Threads: int option
      /// Independent nodes trained at once.
      Jobs: int
      /// Recompute every node into a new version (old versions are kept).
      Rerun: bool
      /// Save a resumable checkpoint every N epochs (0 = never).
      CheckpointEvery: int
      /// Print the plan and stop (what `warmstart plan` asks for).
      PlanOnly: bool
      /// Write the plan (the study index) into this store and stop, training nothing (what `warmstart submit`
      /// asks for before it hands the nodes to a cluster).
      PlanTo: string option
      /// Download the datasets the plan needs and this machine lacks before training (`--fetch`).
      FetchData: bool }

/// Running studies: from a script's arguments, in quick mode, or with explicit options.
[<CompilationRepresentation(CompilationRepresentationFlags.ModuleSuffix)>]
module Study =

    /// Defaults: full mode, the study's seeds, results under ./results, CPU.
    let defaultOptions =
        { Quick = false; Seeds = None; Out = "results"; DataRoot = None; Device = "cpu"; Threads = None
          Jobs = 1; Rerun = false; CheckpointEvery = 0; PlanOnly = false; PlanTo = None; FetchData = false }

    /// The options a study script understands, with their help text.
    let usage =
        String.concat "\n"
            [ "study options:"
              "  --quick            small pool, few epochs, two seeds (the study's quick_* settings): a smoke test"
              "  --seeds N          override the number of seeds"
              "  --out DIR          the result store: node results, weights, study indexes and CSV (default results/)"
              "  --jobs N           train up to N independent nodes at once (torch threads are divided among them)"
              "  --rerun            recompute every node into a new version (old versions are kept)"
              "  --checkpoint N     save a resumable checkpoint every N epochs"
              "  --data-root DIR    folder holding datasets (before $WARMSTART_DATA, the user cache, /usr/share/datasets)"
              "  --device NAME      cpu (default) or cuda"
              "  --threads N        torch threads (0 = one per core)"
              "  --plan             print the plan of training nodes and exit"
              "  --plan-to STORE    write the plan into the result store STORE (no training) and exit"
              "  --fetch            download the datasets the plan needs and this machine lacks, before training" ]

    /// Parses script arguments (the script's own path and a leading "--" are skipped). Errors name the option.
    let parseArgs (argv: string[]) : Result<RunOptions, string> =
        let args =
            argv |> List.ofArray
            |> List.filter (fun a -> a <> "--")
            |> function
                | first :: rest when first.EndsWith(".fsx", StringComparison.OrdinalIgnoreCase) -> rest
                | all -> all
        let int name (v: string) k =
            match Int32.TryParse v with
            | true, n -> k n
            | _ -> Error(sprintf "option %s: '%s' is not a whole number" name v)
        let rec go (o: RunOptions) args =
            match args with
            | [] -> Ok o
            | "--quick" :: rest -> go { o with Quick = true } rest
            | "--plan" :: rest -> go { o with PlanOnly = true } rest
            | "--plan-to" :: v :: rest -> go { o with PlanTo = Some v } rest
            | "--seeds" :: v :: rest ->
                int "--seeds" v (fun n -> if n < 1 then Error(sprintf "option --seeds: %d, must be ≥ 1" n) else go { o with Seeds = Some n } rest)
            | "--threads" :: v :: rest ->
                int "--threads" v (fun n -> if n < 0 then Error(sprintf "option --threads: %d, must be ≥ 0" n) else go { o with Threads = Some n } rest)
            | "--jobs" :: v :: rest ->
                int "--jobs" v (fun n -> if n < 1 then Error(sprintf "option --jobs: %d, must be ≥ 1" n) else go { o with Jobs = n } rest)
            | "--checkpoint" :: v :: rest ->
                int "--checkpoint" v (fun n -> if n < 0 then Error(sprintf "option --checkpoint: %d, must be ≥ 0" n) else go { o with CheckpointEvery = n } rest)
            | "--rerun" :: rest -> go { o with Rerun = true } rest
            | "--fetch" :: rest -> go { o with FetchData = true } rest
            | "--out" :: v :: rest -> go { o with Out = v } rest
            | "--data-root" :: v :: rest -> go { o with DataRoot = Some v } rest
            | "--device" :: v :: rest -> go { o with Device = v } rest
            | [ ("--seeds" | "--threads" | "--out" | "--data-root" | "--device" | "--jobs" | "--checkpoint" | "--plan-to") as name ] -> Error(sprintf "option %s needs a value" name)
            | other :: _ -> Error(sprintf "unknown option '%s'\n%s" other usage)
        go defaultOptions args

    /// True when a script was started with --quick (scripts use it to pick smoke-test data, e.g. Fashion-MNIST
    /// instead of CIFAR-10, in studies whose full mode needs data this machine may not have).
    let isQuick (argv: string[]) = argv |> Array.contains "--quick"

    /// The study shrunk for a smoke test: pool capped at quick_subset, epochs at quick_max_epochs (pre-training
    /// lengths of `pretrain_epochs` included: [20; 40; 60] becomes [3]), quick_seeds seeds, and one torch thread
    /// unless the study sets threads.
    let quick (s: Study) =
        let cap = s.Quick.MaxEpochs
        { s with
            Subset = Some(match s.Subset with Some n -> min n s.Quick.Subset | None -> s.Quick.Subset)
            Stop = { s.Stop with MaxEpochs = min s.Stop.MaxEpochs cap; Epochs = s.Stop.Epochs |> Option.map (min cap) }
            Schedule = (match s.Schedule with
                        | PretrainEpochs es -> PretrainEpochs(es |> List.map (min cap) |> List.distinct)
                        | other -> other)
            Seeds = min s.Seeds s.Quick.Seeds
            // Quick mode trains small models, which run fastest on one torch thread, and far faster than
            // with a thread per core when the machine is busy (6–8× measured here); a study's own setting wins.
            Threads = (if s.Threads = 0 then 1 else s.Threads) }

    /// The study as the options ask for it (quick mode, seed count, threads).
    let configure (o: RunOptions) (s: Study) =
        let s = if o.Quick then quick s else s
        let s = match o.Seeds with Some n -> { s with Seeds = n } | None -> s
        let s = match o.Threads with Some n -> { s with Threads = n } | None -> s
        Validate.orRaise s

    /// The plan of training nodes of a study.
    let plan (s: Study) = Plan.ofStudy s

    /// Writes a result's summaries as CSV next to its index: runs.csv, by-arm.csv and gap-vs-fresh.csv, and the
    /// diagnostics the study measured: correlations.csv (every layer group), gradient-norms.csv, shrink-accuracy.csv.
    let writeSummaries (dir: string) (r: StudyResult) =
        Summary.saveCsv (Path.Combine(dir, "runs.csv")) (Summary.runs r)
        Summary.saveCsv (Path.Combine(dir, "by-arm.csv")) (Summary.byArm r)
        if r.Study.Arms |> List.exists (fun a -> a.Name = "fresh") && r.Study.Arms.Length > 1 then
            Summary.saveCsv (Path.Combine(dir, "gap-vs-fresh.csv")) (Summary.gapVs "fresh" r)
        let d = r.Study.Diagnostics
        if d.Correlation then
            Summary.saveCsv (Path.Combine(dir, "correlations.csv")) (Summary.correlationsByGroup r)
        if d.GradientNorms then Summary.saveCsv (Path.Combine(dir, "gradient-norms.csv")) (Summary.gradientNorms r)
        if not d.ShrinkGrid.IsEmpty then Summary.saveCsv (Path.Combine(dir, "shrink-accuracy.csv")) (Summary.shrinkAccuracy r)

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
        RunChecks.ensureData o.DataRoot o.FetchData (Some store) p
        use cts = new Threading.CancellationTokenSource()
        let onCancel = ConsoleCancelEventHandler(fun _ e ->
            if not cts.IsCancellationRequested then
                e.Cancel <- true
                eprintfn "\ninterrupted: stopping after the running nodes' current step (Ctrl-C again to kill)"
                cts.Cancel())
        Console.CancelKeyPress.AddHandler onCancel
        let exec : Executor.ExecOptions =
            { DataRoot = o.DataRoot; Device = o.Device; Jobs = o.Jobs; Store = store; Rerun = o.Rerun
              CheckpointEvery = o.CheckpointEvery; Cancel = cts.Token }
        let status, results, retried =
            try Progress.run p.Nodes.Length (fun sink -> Executor.runCounted exec sink p)
            finally Console.CancelKeyPress.RemoveHandler onCancel
        let r = { Plan = p; Results = results; Status = status; Quick = o.Quick; WallSeconds = sw.Elapsed.TotalSeconds }
        let dir = store.StudyFolder(NodeStore.studyFolderName s.Name o.Quick)
        writeSummaries dir r
        printfn "%s" (Progress.tallyWith retried status results)
        for note in RunChecks.divergenceNotes r do printfn "%s" note
        printfn "study '%s' finished in %.1fs%s; results in %s\n" s.Name r.WallSeconds (if o.Quick then " (quick mode)" else "") dir
        r

    /// The result of a study run read back from a store (no training): for reports and the REPL.
    let load (storeRoot: string) (studyFolder: string) : StudyResult =
        let store = WarmStart.Core.Runs.ResultStore(storeRoot)
        let p, quick = NodeStore.readIndex store studyFolder
        let results = p.Nodes |> List.choose (fun n -> NodeStore.tryRead store n.Key |> Option.map (fun r -> n.Key, r)) |> Map.ofList
        { Plan = p; Results = results; Status = results |> Map.map (fun _ _ -> Cached); Quick = quick; WallSeconds = 0.0 }

    /// Runs a script's studies: an interruption exits 130; missing data, an IO failure on the store (not writable,
    /// not a folder, disk full) exit 1 with one clean message; failed nodes are listed and make the script exit 1
    /// when it ends (after it printed its tables).
    let private scriptRun (o: RunOptions) (body: unit -> 'T) : 'T =
        let fail (msg: string) = eprintfn "error: %s" msg; exit 1
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
            eprintfn "stopped: finished nodes are kept in %s; run the same command again to continue" o.Out
            exit 130
        | :? WarmStart.Core.Runs.StoreException as e when Directory.Exists(Path.Combine(e.Store, "nodes")) ->
            fail (e.Message + "; finished nodes are kept: fix the cause and run the same command again")
        | :? WarmStart.Core.Runs.StoreException as e -> fail e.Message
        | :? WarmStart.Core.Data.DatasetNotFoundException as e -> fail e.Message
        | :? IOException as e -> fail (sprintf "%s (writing the results into %s)" e.Message o.Out)
        | :? UnauthorizedAccessException as e -> fail (sprintf "%s (writing the results into %s)" e.Message o.Out)

    /// Runs several studies with the same options from a script's command line (a grid of studies that differ
    /// in more than numbers, e.g. models × optimisers × datasets), in order; nodes they share are trained once.
    let runAllFromArgs (argv: string[]) (studies: Study list) : StudyResult list =
        match parseArgs argv with
        | Error e ->
            eprintfn "error: %s" e
            exit 2
        | Ok o when o.PlanOnly ->
            for s in studies do printfn "%s\n" (Plan.describe (Plan.ofStudy (configure o s)))
            exit 0
        | Ok o ->
            scriptRun o (fun () ->
                // All the studies' data is checked before the first one trains: one message for the whole script.
                let plans = studies |> List.map (configure o >> Plan.ofStudy)
                RunChecks.ensureDataAll o.DataRoot o.FetchData (Some(WarmStart.Core.Runs.ResultStore(o.Out))) plans
                studies |> List.map (runWith o))
    /// Runs a study with options from a script's command line (`fsi.CommandLineArgs`). With `--plan` it prints
    /// the plan and exits; with `--plan-to STORE` it writes the plan into STORE and exits (the line
    /// `plan written: INDEX` names the index file); a bad option prints the usage and exits with code 2.
    let runFromArgs (argv: string[]) (s: Study) : StudyResult =
        match parseArgs argv with
        | Error e ->
            eprintfn "error: %s" e
            exit 2
        | Ok o when o.PlanOnly ->
            printfn "%s" (Plan.describe (Plan.ofStudy (configure o s)))
            exit 0
        | Ok o when o.PlanTo.IsSome ->
            let index, p, st = writePlan o o.PlanTo.Value s
            let stored = p.Nodes |> List.filter (fun n -> st.Has n.Key) |> List.length
            printfn "plan written: %s" index
            printfn "study '%s': %d training nodes, %d already in the store" p.Study.Name p.Nodes.Length stored
            exit 0
        | Ok o -> scriptRun o (fun () -> runWith o s)
