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

[<CliPrefix(CliPrefix.None)>]
type Command =
    | [<CustomCommandLine("train")>] Train of ParseResults<TrainArgs>
    | [<CustomCommandLine("data")>] Datasets of ParseResults<DataCommand.DataArgs>
    | [<CustomCommandLine("--version")>] Version
    interface IArgParserTemplate with
        member c.Usage =
            match c with
            | Train _ -> "train one model on one dataset and print epochs, accuracies, time and throughput."
            | Datasets _ -> "datasets on this machine: list, fetch NAME [--from URL], verify NAME."
            | Version -> "print the toolkit, TorchSharp and libtorch versions."
