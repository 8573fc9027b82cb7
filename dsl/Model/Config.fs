namespace WarmStart

open WarmStart.Core.Training

/// Which held-out data a study is evaluated on.
type EvalSplit =
    /// The dataset's official test split (the paper's tables).
    | OfficialTest
    /// The authors' code: a seeded permutation of the official training set, this fraction as the training
    /// pool and the rest as held-out evaluation data (2/3 : 1/3 in run.py).
    | HeldOut of poolFraction: float

/// What data a study trains on.
type DataDef =
    { /// Catalog name: "fashion-mnist", "mnist", "cifar10", …
      Name: string
      /// Standard augmentation (random crop + flip) on training batches.
      Augment: bool
      /// Per-channel mean 0.5 / sd 0.5 as in the authors' code, instead of the dataset's own statistics.
      HalfNormalization: bool
      /// Where test accuracy is measured.
      Eval: EvalSplit }

/// A model architecture family (the core builds each by its `Name`).
[<RequireQualifiedAccess>]
type ModelKind =
    /// One linear layer (no hidden units).
    | LogisticRegression
    /// A multi-layer perceptron.
    | Mlp
    /// The CIFAR-style ResNet-18.
    | ResNet18
    /// A small two-convolution network.
    | SmallCnn
    /// The DASH code's ResNet-18 (max-pool stem, kaiming-normal convolutions).
    | ResNet18Dash
    /// The core's name of the kind (ModelSpec.Kind, and the form node keys hash).
    member k.Name =
        match k with
        | LogisticRegression -> "logistic_regression"
        | Mlp -> "mlp"
        | ResNet18 -> "resnet18"
        | SmallCnn -> "small_cnn"
        | ResNet18Dash -> "resnet18_dash"

/// The hidden-unit non-linearity of an MLP.
[<RequireQualifiedAccess>]
type Activation =
    | Relu
    | Tanh
    /// The core's name ("relu", "tanh"; part of node keys).
    member a.Name = match a with Relu -> "relu" | Tanh -> "tanh"

/// A model architecture (the seam `ToCore.modelSpec` maps it onto the core's ModelSpec).
type ModelDef =
    { Kind: ModelKind
      Widths: int list
      Activation: Activation
      Bias: bool
      BaseWidth: int
      /// A layer norm (affine) between each hidden Linear and its activation (MLP only; `layer_norm`). Written into
      /// node keys only when true, so models without it keep their keys.
      LayerNorm: bool }

/// The optimiser family.
[<RequireQualifiedAccess>]
type OptimizerKind =
    | Sgd
    | Adam
    /// The core's name ("sgd", "adam"; part of node keys).
    member o.Name = match o with Sgd -> "sgd" | Adam -> "adam"

/// An optimiser and its hyper-parameters.
type OptimizerDef =
    { Kind: OptimizerKind
      Lr: float
      Momentum: float
      WeightDecay: float }

/// Where tensors live and training runs.
[<RequireQualifiedAccess>]
type Device =
    | Cpu
    /// A CUDA device: the default one, or this index.
    | Cuda of index: int option
    /// "cpu", "cuda" or "cuda:N" (what `--device` takes and the core's resolver reads).
    member d.Name =
        match d with
        | Cpu -> "cpu"
        | Cuda None -> "cuda"
        | Cuda(Some i) -> sprintf "cuda:%d" i
    /// Reads "cpu", "cuda" or "cuda:N"; the error names the value and what is allowed.
    static member Parse(text: string) : Result<Device, string> =
        match text.Trim().ToLowerInvariant() with
        | "cpu" -> Ok Cpu
        | "cuda" -> Ok(Cuda None)
        | t when t.StartsWith "cuda:" ->
            match System.Int32.TryParse(t.Substring 5) with
            | true, i when i >= 0 -> Ok(Cuda(Some i))
            | _ -> Error(sprintf "device '%s': allowed: cpu, cuda, cuda:N (N ≥ 0)" text)
        | _ -> Error(sprintf "device '%s': allowed: cpu, cuda, cuda:N (N ≥ 0)" text)

/// A numeric setting a study can sweep (`sweep Knob.Lr [ 1e-3; 1e-2 ]`).
[<RequireQualifiedAccess>]
type Knob =
    /// The learning rate of every stage.
    | Lr
    /// The minibatch size of every stage.
    | BatchSize
    /// The optimiser's weight decay.
    | WeightDecay
    /// SGD momentum.
    | Momentum
    /// λ of every shrink-perturb arm.
    | Shrink
    /// σ of every shrink-perturb arm.
    | Perturb
    /// The pool size (`subset`).
    | Subset
    /// The learning rate from stage 2 on, for every arm (the authors' code's lr_2; a `stage_lr 2` per variant).
    | Lr2
    /// The minibatch size from stage 2 on, for every arm (the authors' code's batch_size_2).
    | BatchSize2
    /// The knob's name in variant names and in the string form of `sweep` ("lr", "batch_size", …).
    member k.Name =
        match k with
        | Lr -> "lr"
        | BatchSize -> "batch_size"
        | WeightDecay -> "weight_decay"
        | Momentum -> "momentum"
        | Shrink -> "shrink"
        | Perturb -> "perturb"
        | Subset -> "subset"
        | Lr2 -> "lr_2"
        | BatchSize2 -> "batch_size_2"
    /// Every knob, in declaration order.
    static member All = [ Lr; BatchSize; WeightDecay; Momentum; Shrink; Perturb; Subset; Lr2; BatchSize2 ]
    /// The knob of a name ("lr", "batch_size", …), if there is one.
    static member TryParse(name: string) = Knob.All |> List.tryFind (fun k -> k.Name = name)

/// How an active learner picks the next examples to label, scored by the arm's own previous model.
type Acquisition =
    /// Smallest gap between the top two softmax probabilities first.
    | Margin
    /// Largest predictive entropy first.
    | Entropy
    /// Uniformly at random (seeded): the passive baseline under the same protocol.
    | RandomAcquisition

/// Rounds of new data (online learning).
type OnlineDef =
    { /// New examples per round.
      Chunk: int
      /// Number of rounds; all the pool's data when None.
      Rounds: int option
      /// Train each round on the new chunk only, instead of everything seen so far.
      NewOnly: bool }

/// How the tasks of a task stream differ (the core's StreamKind).
[<RequireQualifiedAccess>]
type StreamKind =
    /// A fresh pixel permutation per task over the same images (Kumar et al.'s permuted MNIST).
    | PermutedPixels
    /// A fresh uniformly random label per image per task over a fixed image set (Kumar et al.'s random-label MNIST).
    | RandomLabels
    /// A fresh permutation of the classes per task (Elsayed & Mahmood's label-permuted streams).
    | PermutedLabels
    /// Classes arrive in a seeded order; each task trains on all classes seen so far (Dohare et al.'s incremental CIFAR).
    | ClassIncremental
    /// The name in node keys and plans ("permuted_pixels", …).
    member k.Name =
        match k with
        | PermutedPixels -> "permuted_pixels"
        | RandomLabels -> "random_labels"
        | PermutedLabels -> "permuted_labels"
        | ClassIncremental -> "class_incremental"

/// A task stream: one model and one optimiser trained on task after task (loss-of-plasticity studies). The whole
/// stream of one arm and seed is one store node, checkpointed at task boundaries.
type StreamDef =
    { Kind: StreamKind
      Tasks: int
      /// Training images drawn once (seeded) from the training split.
      Images: int
      /// Held-out test images for task-end accuracy (random labels: unused, task-end accuracy is on the training images).
      TestImages: int
      /// Epochs per task (the cap when `Threshold` is set).
      EpochsPerTask: int
      /// An epoch's online accuracy that ends a task early.
      Threshold: float option
      /// Class-incremental: classes in task 1 and added per task.
      ClassesFirst: int
      ClassesPerTask: int
      /// Training images of the task the feature metrics (dormant fraction, ranks) are measured on.
      Probe: int
      /// τ of the dormant-unit metric (ReDo score ≤ τ).
      Tau: float }

/// A step-level method of a task stream (acts inside the stream, at steps or task boundaries).
type ContinualMethod =
    /// Continual backprop (Dohare et al. 2024): replacement rate ρ, maturity threshold m, utility decay η.
    | ContinualBackprop of rate: float * maturity: int * decay: float
    /// ReDo (Sokar et al. 2023): recycle τ-dormant units every `period` steps.
    | Redo of tau: float * period: int
    /// ReDo every `tasks` tasks: resolved by the plan into a period in steps (the stream's steps per task × tasks).
    | RedoEveryTasks of tau: float * tasks: int
    /// θ ← p·θ + N(0, σ²) every `everySteps` steps (0: never) and/or at each task start.
    | ContinualShrinkPerturb of shrink: float * sigma: float * everySteps: int * everyTask: bool
    /// Re-initialise (or zero) the classifier head at each task start.
    | HeadResetEveryTask of zero: bool

/// How data arrives, stage by stage.
type Schedule =
    /// Stage t trains on the first fractions[t] of the pool (nested prefixes): [0.5; 1.0] is half-then-all.
    | Fractions of float list
    /// Round t adds `Chunk` examples and trains on everything seen so far (or the new chunk only).
    | Online of OnlineDef
    /// Round 1 labels a random chunk; each later round labels the chunk the arm's previous model picks.
    | Active of OnlineDef * Acquisition
    /// Stage 1 trains on the source dataset's pool; stage 2, for each fraction, on that fraction of the target's
    /// pool (one variant per fraction). The classifier head is re-initialised when class counts differ.
    | Transfer of source: string * target: string * fractions: float list
    /// Stage 1 trains on half the pool for exactly e epochs (one variant per e, each continuing the previous
    /// one, so the pre-training runs once); stage 2 trains on all of it with the study's stop rule.
    | PretrainEpochs of int list
    /// A task stream: each arm × seed is one node that trains one model through every task (`stream …`).
    | Stream of StreamDef

/// Where shrink-perturb's noise comes from.
type Noise =
    /// N(0, σ²) per parameter (the paper's definition).
    | Gaussian
    /// σ × a fresh initialisation of the architecture (the authors' code).
    | FreshInit

/// How a stage's starting weights are made from the previous stage's model.
type Policy =
    /// A new random initialisation (the cold start).
    | Fresh
    /// The previous stage's weights as they are.
    | Warm
    /// θ ← λθ + noise(σ).
    | ShrinkPerturb of lambda: float * sigma: float * noise: Noise
    /// Copy the named layer groups from the previous stage, a fresh draw for the rest.
    | PartialWarm of groups: string list
    /// Warm start with the classifier head re-initialised.
    | HeadReset
    /// DASH (Shin et al. 2024): per-neuron shrink by the cosine between weights and the EMA of the negative
    /// gradient over the data seen so far, clamped to [λ, 1].
    | Dash of alpha: float * lambda: float

/// A term added to the training loss of an arm's stages after the first.
type Regularizer =
    /// λ‖θ − θ₀‖² toward the original initialisation (Kumar et al. 2023); `dashForm` uses the DASH code's variant.
    | L2Init of lambda: float * dashForm: bool
    /// Σ (λ/2) F_i (θ_i − θ*_i)² with F the diagonal Fisher at the previous stage's solution on its data;
    /// `empirical` uses the true labels instead of labels sampled from the model.
    | Ewc of lambda: float * empirical: bool

/// Which statistics BatchNorm uses while a shrunk model is evaluated (`measure_shrink_accuracy`).
type BatchNormMode =
    /// The running statistics (eval mode): the trained network as deployed.
    | RunningStatistics
    /// Each evaluation batch's own statistics (train-mode BatchNorm), as the reproduction's Figure 6.
    | BatchStatistics

/// A loss term of a node, resolved: what it anchors to is named by seed.
type PenaltySpec =
    /// λ‖θ − θ₀‖², θ₀ the initialisation drawn from `theta0Seed` (the chain's original init).
    | L2InitPenaltySpec of lambda: float * dashForm: bool * theta0Seed: int64
    /// EWC toward the parent's solution, Fisher estimated on the parent's data with `seed`.
    | EwcPenaltySpec of lambda: float * empirical: bool * seed: int64

/// Measurements recorded per node (they change the node's key, so a study with them trains its own nodes).
type DiagnosticsDef =
    { /// Pearson correlation of the final weights with the stage's starting weights and with the original init.
      Correlation: bool
      /// Mean gradient norm per epoch on old-data and new-data minibatches (the paper's Figure 5).
      GradientNorms: bool
      /// Test accuracy of the final model with every parameter multiplied by each λ (the paper's Figure 6).
      ShrinkGrid: float list
      /// BatchNorm statistics for the shrink-accuracy evaluation.
      ShrinkBatchNorm: BatchNormMode }

/// One arm of a study: an initialisation policy and what else changes for the stages after the first.
type ArmDef =
    { Name: string
      Policy: Policy
      /// Learning rate for this arm's stages after the first (the paper's lr_2), if different.
      Lr: float option
      /// Batch size for this arm's stages after the first (batch_size_2), if different.
      BatchSize: int option
      /// Carry the optimiser's state (e.g. Adam moments) across stages instead of a new optimiser.
      KeepOptimizerState: bool
      /// Loss terms of this arm's stages after the first (of the whole stream in a stream schedule).
      Regularizers: Regularizer list
      /// Apply the arm's L2-init terms from the first stage's first step too (Kumar et al. and the DASH code), so
      /// its stage 1 is its own node rather than the one the other arms share.
      L2InitFromStart: bool
      /// Train each online round on the new chunk only, while the other arms train on everything seen so far.
      NewChunkOnly: bool
      /// Step-level methods active through a task stream (stream schedules only).
      Continual: ContinualMethod list }

/// Settings applied from a given stage on (the paper's lr_2, batch_size_2), for every arm.
type StageOverride =
    { FromStage: int
      Lr: float option
      BatchSize: int option
      /// When each stage from this one on ends (e.g. the reproduction's fixed 200 epochs for stage 2), if different.
      Stop: StopRule option }

/// What `--quick` turns a study into, so CI can smoke-test it in about a minute: caps on the pool, the epochs and
/// the seeds, and (for studies whose data or model is too big for a smoke test) a replacement dataset, model,
/// optimiser and shrink-accuracy grid.
type QuickDef =
    { Subset: int
      MaxEpochs: int
      Seeds: int
      /// The study's name in its quick variant (when the full name would mislead, e.g. names a dataset), if it differs.
      Name: string option
      /// The dataset of the quick variant (e.g. Fashion-MNIST for a CIFAR-10 study), if it differs; the study's
      /// augmentation, normalisation and evaluation split stay as declared.
      Data: DataDef option
      /// The model of the quick variant (e.g. an MLP instead of ResNet-18), if it differs.
      Model: ModelDef option
      /// The optimiser of the quick variant (e.g. a higher learning rate for three epochs), if it differs.
      Optimizer: OptimizerDef option
      /// The schedule of the quick variant, if it differs.
      Schedule: Schedule option
      /// Points of `measure_shrink_accuracy` in the quick variant, if it differs.
      ShrinkPoints: int option
      /// Leave this study out of a quick run (one study of a grid stands for the others).
      Skip: bool }

/// A whole study, as declared by the `study "name" { … }` builder. Immutable; validated by the builder's Run.
type Study =
    { Name: string
      Data: DataDef
      Model: ModelDef
      Optimizer: OptimizerDef
      BatchSize: int
      /// When each stage ends (the core's stop rule, used as it is).
      Stop: StopRule
      /// Number of paired seeds (repetitions).
      Seeds: int
      /// The study seed every other seed is derived from.
      Seed: int64
      /// Cap on the training pool (examples drawn from the training set by a seeded permutation).
      Subset: int option
      Schedule: Schedule
      Arms: ArmDef list
      StageOverrides: StageOverride list
      Quick: QuickDef
      /// Grid of numeric knobs: the study runs once per combination, as variants of one plan.
      Sweeps: (Knob * float list) list
      /// Combinations of the sweep grid left out: a variant is skipped when it has every (knob, value) of an entry.
      SweepExcept: (Knob * float) list list
      /// Random draws per sweep combination: n distinct combinations of these knobs' values, seeded by the study
      /// seed and the combination (`random_draws 3 [ Knob.Lr2, [ … ]; Knob.BatchSize2, [ … ] ]`); None: no draws.
      RandomDraws: (int * (Knob * float list) list) option
      /// What to measure besides accuracy and time.
      Diagnostics: DiagnosticsDef
      /// Evaluate every node on its evaluation set after every n epochs (`evaluate_every n`); None: only at the end.
      EvaluateEvery: int option
      /// Torch threads per process (0 = one per core).
      Threads: int }

/// A study whose declaration is impossible: every problem found, each naming the field, value and what is allowed.
exception StudyValidationError of study: string * problems: string list
    with
        override e.Message =
            sprintf "study '%s' is not valid:\n%s" e.study (e.problems |> List.map (fun p -> "  - " + p) |> String.concat "\n")

/// Dataset names that carry a view of a catalog dataset: "fashion-mnist[classes=0,1]" (the key of a core
/// DatasetView in brackets), so the view is part of every node key and is rebuilt from the name anywhere.
module DataNames =
    /// The catalog name: "fashion-mnist[classes=0,1]" → "fashion-mnist".
    let catalogName (dataset: string) =
        match dataset.IndexOf '[' with
        | i when i > 0 && dataset.EndsWith "]" -> dataset.Substring(0, i)
        | _ -> dataset

    /// The view's key ("" for none): "fashion-mnist[classes=0,1]" → "classes=0,1".
    let viewKey (dataset: string) =
        let name = catalogName dataset
        if name.Length = dataset.Length then "" else dataset.Substring(name.Length + 1, dataset.Length - name.Length - 2)
