namespace WarmStart

open System
open Argu

/// The options of a study script, one union case each: `dotnet fsi study.fsx -- --quick --seeds 3`, or through
/// `warmstart run study.fsx --quick --seeds 3`, which passes them on untouched. Adding an option is adding a case
/// (and reading it in `StudyOptions.ofResults`): the usage text, `warmstart run --help` and the CLI's
/// pass-through all follow from this union.
[<RequireQualifiedAccess; HelpFlags("--help", "-h")>]
type StudyArgs =
    | Quick
    | Seeds of n: int
    | Out of dir: string
    | Jobs of n: string
    | Threads of n: int
    | Device of name: string
    | Data_Root of dir: string
    | Checkpoint of epochs: int
    | Rerun
    | Plan
    | Plan_To of store: string
    | Fetch
    | Tensorboard of dir: string
    | Stack of mode: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | StudyArgs.Quick -> "the study's quick variant: small pool, few epochs, two seeds, its quick_* data and model (a smoke test)."
            | StudyArgs.Seeds _ -> "override the number of seeds."
            | StudyArgs.Out _ -> "the result store: node results, weights, study indexes and CSV (default results/)."
            | StudyArgs.Jobs _ -> "auto (default) or N: train up to N independent nodes at once. auto: on the CPU with small models (MLP, logistic regression, small CNN) one node per core, one torch thread each; with ResNets or on CUDA one node at a time."
            | StudyArgs.Threads _ -> "torch threads per node (default: 1 with --jobs auto and small models, else cores / jobs; 0 = that default)."
            | StudyArgs.Device _ -> "cpu (default), cuda or cuda:N."
            | StudyArgs.Data_Root _ -> "folder holding datasets (searched before $WARMSTART_DATA, the user cache and /usr/share/datasets)."
            | StudyArgs.Checkpoint _ -> "save a resumable checkpoint every N epochs (0 = never)."
            | StudyArgs.Rerun -> "recompute every node into a new version (old versions are kept)."
            | StudyArgs.Plan -> "print the plan of training nodes and stop, training nothing."
            | StudyArgs.Plan_To _ -> "write the plan into the result store STORE and stop, training nothing."
            | StudyArgs.Fetch -> "download the datasets the plan needs and this machine lacks, before training (checksums verified)."
            | StudyArgs.Tensorboard _ -> "write TensorBoard runs into DIR while training: one run per node, scalars every epoch, hparams."
            | StudyArgs.Stack _ -> "off (default): train nodes one by one; auto: train ready nodes of one MLP or logistic-regression architecture as one stacked model; N: stack every stackable model, at most N per stack."

/// Options a study run takes (from `StudyArgs` on a command line, or built in code from `Study.defaultOptions`).
type RunOptions =
    { Quick: bool
      Seeds: int option
      Out: string
      DataRoot: string option
      Device: Device
      Threads: int option
      /// Independent nodes trained at once, or `Parallelism.AutoJobs` (`--jobs auto`, the default): chosen from the
      /// plan's models, the device and the cores by `Parallelism.choose`.
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
      FetchData: bool
      /// Write each node's training into a TensorBoard run under this folder while it trains (`--tensorboard DIR`).
      TensorBoard: string option
      /// Stacked or single engine (`--stack auto|off|N`).
      Stack: Executor.StackMode }

/// What reading a command line gave: options to run with, a request for the usage text, or a usage error.
type ParsedOptions =
    | RunWith of RunOptions
    | HelpRequested of usage: string
    | BadOptions of message: string

/// Command-line options: the one-union parser shared by study scripts and the CLI, with "did you mean" for typos.
module CommandLine =

    /// Levenshtein distance (for "did you mean").
    let private distance (a: string) (b: string) =
        let d = Array2D.init (a.Length + 1) (b.Length + 1) (fun i j -> if i = 0 then j elif j = 0 then i else 0)
        for i in 1 .. a.Length do
            for j in 1 .. b.Length do
                let cost = if a[i - 1] = b[j - 1] then 0 else 1
                d[i, j] <- min (min (d[i - 1, j] + 1) (d[i, j - 1] + 1)) (d[i - 1, j - 1] + cost)
        d[a.Length, b.Length]

    /// The closest of `known` to a mistyped `word` (within a third of its length, at least 2 edits), if any.
    let suggest (known: string seq) (word: string) =
        let candidates = known |> Seq.map (fun k -> k, distance (word.ToLowerInvariant()) k) |> Seq.sortBy snd |> List.ofSeq
        match candidates with
        | (best, d) :: _ when d <= max 2 (word.Length / 3) -> Some best
        | _ -> None

    /// Every command-line name (`--quick`, `-h`, …) of an Argu union, the help flags included.
    let namesOf (parser: ArgumentParser) =
        [ for c in parser.GetArgumentCases() do yield! c.CommandLineNames.Value
          yield! [ "--help"; "-h" ] ]

    /// The message for a word no option of `parser` has: "unknown option '--quik'; did you mean --quick?".
    let unknownOption (parser: ArgumentParser) (word: string) =
        match suggest (namesOf parser) word with
        | Some s -> sprintf "unknown option '%s'; did you mean %s?" word s
        | None -> sprintf "unknown option '%s'" word

    /// The first unrecognised word of an Argu error message ("unrecognized argument: '--quik'"), if any.
    let unrecognized (message: string) =
        let m = Text.RegularExpressions.Regex.Match(message, "unrecognized argument: '([^']*)'")
        if m.Success then Some m.Groups[1].Value else None

    /// An Argu error as one line plus "did you mean" where a word was not recognised; `helpHint` says where the
    /// full usage is.
    let explain (parser: ArgumentParser) (e: ArguParseException) (helpHint: string) =
        let first = e.Message.Split('\n') |> Array.head |> fun l -> l.Replace("ERROR: ", "")
        let line =
            match unrecognized e.Message with
            | Some word when word.StartsWith "-" -> unknownOption parser word
            | _ -> first
        sprintf "%s\n%s" line helpHint

/// Reading `StudyArgs` into `RunOptions`.
module StudyOptions =

    /// Defaults: full mode, the study's seeds, results under ./results, CPU.
    let defaults =
        { Quick = false; Seeds = None; Out = "results"; DataRoot = None; Device = Device.Cpu; Threads = None
          Jobs = Parallelism.AutoJobs; Rerun = false; CheckpointEvery = 0; PlanOnly = false; PlanTo = None; FetchData = false
          TensorBoard = None
          // Off by default: the stacked engine's numbers differ from the single engine's in the last bits, so it
          // would retrain every stored result (the cache never mixes engines) for a speed-up measured at 1.3× on
          // the quickstart; `--stack auto` opts in.
          Stack = Executor.StackOff }

    /// The parser of the study options (`programName` heads its usage text).
    let parser (programName: string) = ArgumentParser.Create<StudyArgs>(programName = programName)

    /// The usage text of the study options.
    let usage (programName: string) = (parser programName).PrintUsage()

    /// The options of parsed results, every value checked (errors name the option, the value and what is allowed).
    let ofResults (r: ParseResults<StudyArgs>) : Result<RunOptions, string> =
        let atLeast name low (v: int option) =
            match v with
            | Some n when n < low -> Error(sprintf "option %s: %d, must be ≥ %d" name n low)
            | _ -> Ok v
        let device =
            match r.TryGetResult StudyArgs.Device with
            | Some d -> Device.Parse d |> Result.mapError (sprintf "option --device: %s")
            | None -> Ok Device.Cpu
        let stack =
            match r.TryGetResult StudyArgs.Stack with
            | None -> Ok defaults.Stack
            | Some w ->
                match w.Trim().ToLowerInvariant() with
                | "auto" -> Ok Executor.StackAuto
                | "off" -> Ok Executor.StackOff
                | t ->
                    match Int32.TryParse t with
                    | true, n when n >= 1 -> Ok(Executor.StackUpTo n)
                    | _ -> Error(sprintf "option --stack: '%s' is not allowed; allowed: auto, off, or a member count N ≥ 1" w)
        let jobs =
            match r.TryGetResult StudyArgs.Jobs with
            | None -> Ok None
            | Some w ->
                match w.Trim().ToLowerInvariant() with
                | "auto" -> Ok(Some Parallelism.AutoJobs)
                | t ->
                    match Int32.TryParse t with
                    | true, n when n >= 1 -> Ok(Some n)
                    | _ -> Error(sprintf "option --jobs: '%s' is not allowed; allowed: auto, or a node count N ≥ 1" w)
        match stack with
        | Error e -> Error e
        | Ok stack ->
        match atLeast "--seeds" 1 (r.TryGetResult StudyArgs.Seeds), atLeast "--threads" 0 (r.TryGetResult StudyArgs.Threads),
              jobs, atLeast "--checkpoint" 0 (r.TryGetResult StudyArgs.Checkpoint), device with
        | Error e, _, _, _, _ | _, Error e, _, _, _ | _, _, Error e, _, _ | _, _, _, Error e, _ | _, _, _, _, Error e -> Error e
        | Ok seeds, Ok threads, Ok jobs, Ok checkpoint, Ok device ->
            Ok { Quick = r.Contains StudyArgs.Quick
                 Seeds = seeds
                 Out = r.GetResult(StudyArgs.Out, defaultValue = defaults.Out)
                 DataRoot = r.TryGetResult StudyArgs.Data_Root
                 Device = device
                 Threads = threads
                 Jobs = defaultArg jobs defaults.Jobs
                 Rerun = r.Contains StudyArgs.Rerun
                 CheckpointEvery = defaultArg checkpoint defaults.CheckpointEvery
                 PlanOnly = r.Contains StudyArgs.Plan
                 PlanTo = r.TryGetResult StudyArgs.Plan_To
                 FetchData = r.Contains StudyArgs.Fetch
                 TensorBoard = r.TryGetResult StudyArgs.Tensorboard
                 Stack = stack }

    /// The script's own arguments: without the script path fsi puts first and the "--" that separates fsi's options.
    let scriptArgs (argv: string[]) =
        argv |> List.ofArray
        |> function
            | first :: rest when first.EndsWith(".fsx", StringComparison.OrdinalIgnoreCase) -> rest
            | all -> all
        |> List.filter (fun a -> a <> "--")
        |> Array.ofList

    /// Reads a study's command line (`fsi.CommandLineArgs`, or options alone). `programName` heads the usage.
    let parseAs (programName: string) (argv: string[]) : ParsedOptions =
        let p = parser programName
        try
            match ofResults (p.ParseCommandLine(scriptArgs argv, raiseOnUsage = true)) with
            | Ok o -> RunWith o
            | Error e -> BadOptions e
        with :? ArguParseException as e ->
            if e.ErrorCode = ErrorCode.HelpText then HelpRequested(p.PrintUsage())
            else BadOptions(CommandLine.explain p e "(--help lists the study options)")

    /// Reads a study's command line; the usage is headed by the script's name.
    let parse (argv: string[]) : ParsedOptions =
        let name =
            argv |> Array.tryHead |> Option.filter (fun a -> a.EndsWith(".fsx", StringComparison.OrdinalIgnoreCase))
            |> Option.map IO.Path.GetFileName |> Option.defaultValue "study.fsx"
        parseAs (sprintf "dotnet fsi %s --" name) argv
