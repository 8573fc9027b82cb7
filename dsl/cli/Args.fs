/// The command line: one Argu union per command; every case carries its help text.
module WarmStart.Cli.Args

open Argu

[<HelpFlags("--help", "-h")>]
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

/// `warmstart run`'s own options; every other option is a study option (`WarmStart.StudyArgs`), passed on to the
/// script untouched.
[<HelpFlags("--help", "-h")>]
type RunArgs =
    | [<MainCommand; ExactlyOnce>] Target of path: string
    | Filter of text: string
    | List
    | Junit of file: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Target _ -> "a study script (.fsx), or a folder: every .fsx under it runs in turn (CI batch mode)."
            | Filter _ -> "folder mode: only scripts whose path contains this text."
            | List -> "folder mode: list the scripts that would run, and stop."
            | Junit _ -> "folder mode: write a JUnit XML report of the scripts' outcomes to this file."

[<HelpFlags("--help", "-h")>]
type ReportArgs =
    | [<MainCommand; ExactlyOnce>] Store of dir: string
    | Study of name: string
    | Format of format: string
    | Plots of dir: string
    | Tensorboard of dir: string
    | Html of file: string
    | Page of file: string
    | Commands of file: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Store _ -> "the result store a study ran into (e.g. results/)."
            | Study _ -> "only this study (its folder name under studies/, e.g. quickstart or quickstart.quick)."
            | Format _ -> "md (default: Markdown tables on stdout and report files) or csv."
            | Plots _ -> "write PNG and SVG plots (test accuracy with 95% CI bars, training curves over seeds, epochs) into this folder."
            | Tensorboard _ -> "write TensorBoard event files, one run per node, into this folder."
            | Html _ -> "write one offline interactive HTML page (tables and plots of every study reported) to this file."
            | Page _ -> "re-render the tables of this Markdown page in place (its <!-- table: … --> and <!-- value: … --> blocks, e.g. docs/results.md) from the store; with --plots, plot the studies it names."
            | Commands _ -> "with --page: a file of lines 'STUDY<tab>COMMAND', the command that ran each study, shown in the page's provenance blocks."

/// `warmstart plan`'s own option (the script); study options (`--quick`, `--seeds N`, …) are passed on.
[<HelpFlags("--help", "-h")>]
type PlanArgs =
    | [<MainCommand; ExactlyOnce>] Script of path: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Script _ -> "the study script (.fsx) whose plan to print."

[<HelpFlags("--help", "-h")>]
type ExecNodeArgs =
    | [<Mandatory; Unique>] Store of dir: string
    | [<Mandatory; Unique>] Study of name: string
    | [<Mandatory; Unique>] Key of key: string
    | [<Unique>] Checkpoint of epochs: int
    | [<Unique>] Device of name: string
    | [<Unique>] Threads of n: int
    | [<Unique>] Data_Root of dir: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Store _ -> "the result store holding the study's plan (on a filesystem shared by all cluster nodes)."
            | Study _ -> "the study's folder name in the store (e.g. quickstart or quickstart.quick)."
            | Key _ -> "the node's key (or a unique prefix of at least 8 characters)."
            | Checkpoint _ -> "save a resumable checkpoint every N epochs (default 1; 0 = never)."
            | Device _ -> "cpu (default) or cuda."
            | Threads _ -> "torch threads (default: the study's threads, else $SLURM_CPUS_PER_TASK, else one per core)."
            | Data_Root _ -> "folder holding datasets (searched before $WARMSTART_DATA, the user cache and /usr/share/datasets)."

[<HelpFlags("--help", "-h")>]
type SubmitArgs =
    | [<MainCommand; ExactlyOnce>] Target of path: string
    | [<Unique>] Slurm
    | [<Mandatory; Unique>] Store of dir: string
    | [<Unique>] Partition of name: string
    | [<Unique>] Time of limit: string
    | [<Unique>] Cpus_Per_Task of n: int
    | [<Unique>] Mem of size: string
    | [<Unique>] Gpus_Per_Task of n: int
    | [<Unique>] Array_Parallelism of n: int
    | [<Unique>] Account of name: string
    | [<Unique>] Qos of name: string
    | [<EqualsAssignmentOrSpaced>] Sbatch_Arg of arg: string
    | [<Unique>] Checkpoint of epochs: int
    | [<Unique>] Device of name: string
    | [<Unique>] Threads of n: int
    | [<Unique>] Data_Root of dir: string
    | [<Unique>] Dry_Run
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Target _ -> "a study script (.fsx), or a folder: every .fsx under it is submitted."
            | Slurm -> "submit to Slurm (sbatch job arrays; the only launcher so far)."
            | Store _ -> "the result store, on a filesystem every cluster node sees: plan, results, scripts and logs go there."
            | Partition _ -> "sbatch --partition."
            | Time _ -> "sbatch --time: the limit of one task (one training node), e.g. 2:00:00."
            | Cpus_Per_Task _ -> "sbatch --cpus-per-task (a task trains with that many torch threads unless the study sets threads)."
            | Mem _ -> "sbatch --mem: memory per task, e.g. 8G."
            | Gpus_Per_Task _ -> "GPUs per task (--gres=gpu:N); tasks then train with --device cuda."
            | Array_Parallelism _ -> "at most N tasks of each job array at once (--array=…%N)."
            | Account _ -> "sbatch --account."
            | Qos _ -> "sbatch --qos."
            | Sbatch_Arg _ -> "any other sbatch option, passed as it is; repeatable: --sbatch-arg=--constraint=a100."
            | Checkpoint _ -> "checkpoint every N epochs so a preempted (requeued) task resumes (default 1; 0 = never)."
            | Device _ -> "cpu or cuda (default: cuda with --gpus-per-task, else cpu)."
            | Threads _ -> "torch threads per task (default: the study's threads, else --cpus-per-task)."
            | Data_Root _ -> "folder holding datasets, as the cluster nodes see it."
            | Dry_Run -> "print the sbatch scripts and keys files instead of submitting them (the plan is still written)."

[<HelpFlags("--help", "-h")>]
type StatusArgs =
    | [<MainCommand; ExactlyOnce>] Store of dir: string
    | [<Unique>] Study of name: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Store _ -> "the result store."
            | Study _ -> "only this study (its folder name under studies/, e.g. quickstart.quick)."

[<CliPrefix(CliPrefix.None); HelpFlags("--help", "-h")>]
type Command =
    | [<CustomCommandLine("train")>] Train of ParseResults<TrainArgs>
    | [<CustomCommandLine("run")>] Run of ParseResults<RunArgs>
    | [<CustomCommandLine("plan")>] Plan of ParseResults<PlanArgs>
    | [<CustomCommandLine("report")>] Report of ParseResults<ReportArgs>
    | [<CustomCommandLine("data")>] Datasets of ParseResults<DataCommand.DataArgs>
    | [<CustomCommandLine("submit")>] Submit of ParseResults<SubmitArgs>
    | [<CustomCommandLine("status")>] Status of ParseResults<StatusArgs>
    | [<CustomCommandLine("exec-node")>] Exec_Node of ParseResults<ExecNodeArgs>
    | [<CustomCommandLine("store")>] Result_Store of ParseResults<StoreCommand.StoreArgs>
    | [<CustomCommandLine("--version")>] Version
    interface IArgParserTemplate with
        member c.Usage =
            match c with
            | Train _ -> "train one model on one dataset and print epochs, accuracies, time and throughput."
            | Run _ -> "run a study script (dotnet fsi as a child process), or every script of a folder with a tally."
            | Report _ -> "tables (Markdown or CSV), PNG plots and TensorBoard files from a result store."
            | Plan _ -> "print a study's plan of training nodes (shared stage-1 nodes, each arm's chain) without training."
            | Datasets _ -> "datasets on this machine: list, fetch NAME [--from URL], verify NAME."
            | Submit _ -> "write a study's plan into a shared result store and submit its missing nodes as Slurm job arrays."
            | Status _ -> "per study in a result store: nodes done, running, pending and failed, with Slurm job ids and logs."
            | Exec_Node _ -> "execute one node of a study's stored plan (what each cluster task runs)."
            | Result_Store _ -> "a result store's integrity: verify STORE [--repair], reproduce STORE [--study S] [--sample N]."
            | Version -> "print the toolkit, TorchSharp and libtorch versions."
