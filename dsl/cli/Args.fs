/// The command line: one Argu union per command; every case carries its help text.
module WarmStart.Cli.Args

open Argu

type TrainArgs =
    | [<AltCommandLine("-d")>] Data of name: string
    | Data_Root of dir: string
    | [<AltCommandLine("-m")>] Model of kind: string
    | Hidden of widths: int list
    | Activation of name: string
    | Optimizer of kind: string
    | Lr of rate: float
    | Momentum of value: float
    | Weight_Decay of value: float
    | Batch_Size of size: int
    | Epochs of n: int
    | Until_Train_Accuracy of threshold: float
    | Max_Epochs of n: int
    | Subset of n: int
    | Seed of seed: int64
    | Threads of n: int
    | Device of name: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Data _ -> "dataset name (fashion-mnist, mnist, …); default fashion-mnist."
            | Data_Root _ -> "folder holding datasets (searched before $WARMSTART_DATA, the user cache and /usr/share/datasets)."
            | Model _ -> "model kind: logistic_regression or mlp (default mlp)."
            | Hidden _ -> "hidden widths of the MLP, e.g. --hidden 100 100 (default 100 100)."
            | Activation _ -> "MLP activation: relu or tanh (default relu)."
            | Optimizer _ -> "sgd or adam (default adam)."
            | Lr _ -> "learning rate (default 1e-3)."
            | Momentum _ -> "SGD momentum (default 0)."
            | Weight_Decay _ -> "weight decay (default 0)."
            | Batch_Size _ -> "minibatch size (default 128)."
            | Epochs _ -> "train exactly this many epochs (default 3)."
            | Until_Train_Accuracy _ -> "instead of a fixed count, stop when the epoch's train accuracy reaches this (e.g. 0.99)."
            | Max_Epochs _ -> "cap for --until-train-accuracy (default 200)."
            | Subset _ -> "train on a random subset of this many training examples."
            | Seed _ -> "seed from which the split, data order and init are derived (default 0)."
            | Threads _ -> "torch threads (0 = one per core; default 0)."
            | Device _ -> "cpu or cuda (default cpu)."

type RunArgs =
    | [<MainCommand; ExactlyOnce>] Target of path: string
    | Quick
    | Seeds of n: int
    | Out of dir: string
    | Data_Root of dir: string
    | Device of name: string
    | Threads of n: int
    | Jobs of n: int
    | Rerun
    | Checkpoint of epochs: int
    | Filter of text: string
    | List
    | Junit of file: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Target _ -> "a study script (.fsx), or a folder: every .fsx under it runs in turn (CI batch mode)."
            | Quick -> "smoke-test mode: small pool, few epochs, two seeds (the study's quick_* settings)."
            | Seeds _ -> "override the study's number of seeds."
            | Out _ -> "the result store (node results, weights, study indexes, CSV); default results/."
            | Data_Root _ -> "folder holding datasets (searched before $WARMSTART_DATA, the user cache and /usr/share/datasets)."
            | Device _ -> "cpu (default) or cuda."
            | Threads _ -> "torch threads per process (0 = one per core)."
            | Jobs _ -> "train up to N independent nodes at once."
            | Rerun -> "recompute every node into a new version (old versions are kept)."
            | Checkpoint _ -> "save a resumable checkpoint every N epochs."
            | Filter _ -> "folder mode: only scripts whose path contains this text."
            | List -> "folder mode: list the scripts that would run, and stop."
            | Junit _ -> "folder mode: write a JUnit XML report of the scripts' outcomes to this file."

type ReportArgs =
    | [<MainCommand; ExactlyOnce>] Store of dir: string
    | Study of name: string
    | Format of format: string
    | Plots of dir: string
    | Tensorboard of dir: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Store _ -> "the result store a study ran into (e.g. results/)."
            | Study _ -> "only this study (its folder name under studies/, e.g. quickstart or quickstart.quick)."
            | Format _ -> "md (default: Markdown tables on stdout and report files) or csv."
            | Plots _ -> "write PNG plots (test accuracy with 95% CI bars, training curves, epochs) into this folder."
            | Tensorboard _ -> "write TensorBoard event files, one run per node, into this folder."

type PlanArgs =
    | [<MainCommand; ExactlyOnce>] Script of path: string
    | Quick
    | Seeds of n: int
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Script _ -> "the study script (.fsx) whose plan to print."
            | Quick -> "the plan of the --quick run."
            | Seeds _ -> "override the study's number of seeds."

[<CliPrefix(CliPrefix.None)>]
type Command =
    | [<CustomCommandLine("train")>] Train of ParseResults<TrainArgs>
    | [<CustomCommandLine("run")>] Run of ParseResults<RunArgs>
    | [<CustomCommandLine("plan")>] Plan of ParseResults<PlanArgs>
    | [<CustomCommandLine("report")>] Report of ParseResults<ReportArgs>
    | [<CustomCommandLine("data")>] Datasets of ParseResults<DataCommand.DataArgs>
    | [<CustomCommandLine("--version")>] Version
    interface IArgParserTemplate with
        member c.Usage =
            match c with
            | Train _ -> "train one model on one dataset and print epochs, accuracies, time and throughput."
            | Run _ -> "run a study script (dotnet fsi as a child process), or every script of a folder with a tally."
            | Report _ -> "tables (Markdown or CSV), PNG plots and TensorBoard files from a result store."
            | Plan _ -> "print a study's plan of training nodes (shared stage-1 nodes, each arm's chain) without training."
            | Datasets _ -> "datasets on this machine: list, fetch NAME [--from URL], verify NAME."
            | Version -> "print the toolkit, TorchSharp and libtorch versions."
