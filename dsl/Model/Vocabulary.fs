namespace WarmStart

/// The words a study is written in: datasets, models, optimisers, stop rules, schedules and arm policies.
/// Opened automatically with `open WarmStart`.
[<AutoOpen>]
module Vocabulary =

    // ---- data ------------------------------------------------------------------------------------------

    /// Any dataset of the catalog by name (see `warmstart data list`).
    let dataset (name: string) : DataDef =
        { Name = name; Augment = false; HalfNormalization = false; Eval = OfficialTest }

    // ---- diagnostics -------------------------------------------------------------------------------------

    /// BatchNorm on each evaluation batch's statistics (`shrink_accuracy_batch_norm batch_statistics`).
    let batch_statistics = BatchStatistics
    /// BatchNorm on its running statistics, i.e. eval mode (`shrink_accuracy_batch_norm running_statistics`).
    let running_statistics = RunningStatistics

    /// Fashion-MNIST (Debian's dataset-fashion-mnist): 60k/10k 28×28 grey images, 10 classes.
    let fashion_mnist = dataset "fashion-mnist"
    /// MNIST digits.
    let mnist = dataset "mnist"
    /// CIFAR-10 (binary version).
    let cifar10 = dataset "cifar10"
    /// CIFAR-100 (binary version, fine labels).
    let cifar100 = dataset "cifar100"
    /// SVHN cropped digits (train/test .mat files).
    let svhn = dataset "svhn"

    /// A view of a dataset, as a core DatasetView step appended to its name's key (part of every node key, rebuilt
    /// from the name in whichever process trains).
    let private withView (step: WarmStart.Core.Data.ViewStep) (d: DataDef) =
        // The key only: its steps are checked by the builder's validation, with the other problems.
        let key = match DataNames.viewKey d.Name with "" -> step.Key | k -> k + "|" + step.Key
        { d with Name = sprintf "%s[%s]" (DataNames.catalogName d.Name) key }

    /// Only these classes, relabelled 0…k−1 in the order given: `data (fashion_mnist |> classes [ 0; 1; 2; 3; 4 ])`.
    let classes (cs: int list) (d: DataDef) = withView (WarmStart.Core.Data.ClassSubset(List.toArray cs)) d
    /// A seeded fraction of the training labels moved to another class: `fashion_mnist |> label_noise 0.2 7L`.
    let label_noise (fraction: float) (seed: int64) (d: DataDef) = withView (WarmStart.Core.Data.LabelNoise(fraction, seed)) d
    /// One seeded permutation of pixel positions for every image: `mnist |> permuted_pixels 3L`.
    let permuted_pixels (seed: int64) (d: DataDef) = withView (WarmStart.Core.Data.PermutedPixels seed) d
    /// Seeded uniform training labels (test labels kept): `fashion_mnist |> random_labels 5L`.
    let random_labels (seed: int64) (d: DataDef) = withView (WarmStart.Core.Data.RandomLabels seed) d

    /// Evaluate on a held-out part of the training set: `held_out (2.0/3.0)` trains on a seeded 2/3 pool and
    /// tests on the other third, as the authors' code does.
    let held_out (poolFraction: float) = HeldOut poolFraction

    // ---- models ----------------------------------------------------------------------------------------

    /// Multinomial logistic regression (a convex problem: the paper finds no warm-start gap).
    let logistic_regression : ModelDef =
        { Kind = ModelKind.LogisticRegression; Widths = []; Activation = Activation.Relu; Bias = true; BaseWidth = 64; LayerNorm = false }

    /// A multi-layer perceptron with these hidden widths, ReLU, with biases: `mlp [ 100; 100 ]`.
    let mlp (widths: int list) : ModelDef =
        { logistic_regression with Kind = ModelKind.Mlp; Widths = widths }

    /// The CIFAR ResNet-18; `resnet18 16` is the authors' narrow version, `resnet18 64` the usual one.
    let resnet18 (baseWidth: int) : ModelDef = { logistic_regression with Kind = ModelKind.ResNet18; BaseWidth = baseWidth }

    /// The DASH code's ResNet-18: max-pool stem, kaiming-normal convolutions; `resnet18_dash 64` as there.
    let resnet18_dash (baseWidth: int) : ModelDef = { logistic_regression with Kind = ModelKind.ResNet18Dash; BaseWidth = baseWidth }

    /// A small convolutional network for quick CPU studies.
    let small_cnn : ModelDef = { logistic_regression with Kind = ModelKind.SmallCnn }

    /// Use tanh instead of ReLU in an MLP: `mlp [ 100 ] |> with_activation Activation.Tanh`.
    let with_activation (activation: Activation) (m: ModelDef) = { m with Activation = activation }

    /// Drop every bias (the setting of the paper's Proposition 1).
    let without_bias (m: ModelDef) = { m with Bias = false }

    /// A layer norm (with affine parameters) between each hidden Linear and its activation of an MLP, Kumar et
    /// al. 2023's LayerNorm baseline: `mlp [ 100; 100 ] |> layer_norm`.
    let layer_norm (m: ModelDef) = { m with LayerNorm = true }

    // ---- optimisers ------------------------------------------------------------------------------------

    /// Plain SGD (no momentum) at this learning rate.
    let sgd (lr: float) : OptimizerDef = { Kind = OptimizerKind.Sgd; Lr = lr; Momentum = 0.0; WeightDecay = 0.0 }

    /// Adam with PyTorch's default betas at this learning rate.
    let adam (lr: float) : OptimizerDef = { Kind = OptimizerKind.Adam; Lr = lr; Momentum = 0.0; WeightDecay = 0.0 }

    /// SGD momentum: `sgd 1e-3 |> with_momentum 0.9`.
    let with_momentum (m: float) (o: OptimizerDef) = { o with Momentum = m }

    /// L2 weight decay in the optimiser: `adam 1e-3 |> with_weight_decay 5e-4`.
    let with_weight_decay (wd: float) (o: OptimizerDef) = { o with WeightDecay = wd }

    // ---- stop rules ------------------------------------------------------------------------------------

    /// One condition of a stop rule.
    type StopPart =
        | TrainAccuracyAtLeast of float
        | MaxEpochsOf of int
        | PatienceOf of int

    /// Stop when the training accuracy over an epoch reaches this (the paper: 0.99).
    let train_accuracy (threshold: float) = TrainAccuracyAtLeast threshold

    /// Stop after at most this many epochs.
    let max_epochs (n: int) = MaxEpochsOf n

    /// Stop when the epoch's training loss has not improved for this many epochs.
    let patience (n: int) = PatienceOf n

    /// A stop rule of exactly n epochs, for `stage_stop`: `stage_stop 2 (fixed_epochs 200)`.
    let fixed_epochs (n: int) = WarmStart.Core.Training.StopRule.Epochs n

    /// A stop rule of a condition and a cap, for `stage_stop`: `stage_stop 2 (stop_when (train_accuracy 0.999) (max_epochs 500))`
    /// (the same parts as `train_until`).
    let stop_when (first: StopPart) (second: StopPart) =
        let apply (st: WarmStart.Core.Training.StopRule) part =
            match part with
            | TrainAccuracyAtLeast t -> WarmStart.Core.Training.StopRule(st.FixedEpochs, t, st.MaxEpochs, st.Patience)
            | MaxEpochsOf n -> WarmStart.Core.Training.StopRule(st.FixedEpochs, st.TrainAccuracy, n, st.Patience)
            | PatienceOf p -> WarmStart.Core.Training.StopRule(st.FixedEpochs, st.TrainAccuracy, st.MaxEpochs, p)
        // Without a cap among the parts, the study default's 200 epochs.
        apply (apply (WarmStart.Core.Training.StopRule(System.Nullable(), System.Nullable(), 200, System.Nullable())) first) second

    // ---- schedules -------------------------------------------------------------------------------------

    /// Stage t trains on the first fractions[t] of the pool: `fractions [ 0.5; 1.0 ]` is "half, then all".
    let fractions (fs: float list) = Fractions fs

    /// Rounds of k new examples: `online (chunk 1000)`, `online (chunk 1000 |> rounds 10)`.
    let chunk (k: int) : OnlineDef = { Chunk = k; Rounds = None; NewOnly = false }

    /// Limit an online or active schedule to n rounds.
    let rounds (n: int) (o: OnlineDef) = { o with Rounds = Some n }

    /// Train each round on the new chunk only (the variant some summaries of the paper describe).
    let new_only (o: OnlineDef) = { o with NewOnly = true }

    /// Passive online learning: each round adds a chunk and trains on everything seen so far.
    let online (o: OnlineDef) = Online o

    /// Active learning: each round labels the chunk the arm's previous model picks: `active (chunk 1000) margin`.
    let active (o: OnlineDef) (acquisition: Acquisition) = Active(o, acquisition)

    /// Margin acquisition: smallest top-1 minus top-2 probability first.
    let margin = Margin

    /// Entropy acquisition: most uncertain predictions first.
    let entropy = Entropy

    /// Random acquisition: the passive baseline.
    let random_acquisition = RandomAcquisition

    /// Pre-train on the source, then train on fractions of the target: `transfer cifar10 svhn [ 0.1; 0.3; 0.6; 1.0 ]`.
    let transfer (source: DataDef) (target: DataDef) (fs: float list) = Transfer(source.Name, target.Name, fs)

    /// Pre-train on half the pool for exactly e epochs, then train on all of it: `pretrain_epochs [ 20; 40; 60 ]`.
    let pretrain_epochs (epochs: int list) = PretrainEpochs epochs

    // ---- task streams (loss of plasticity) -----------------------------------------------------------------

    let private streamOf kind tasks images testImages epochs : StreamDef =
        { Kind = kind; Tasks = tasks; Images = images; TestImages = testImages; EpochsPerTask = epochs; Threshold = None
          ClassesFirst = 2; ClassesPerTask = 2; Probe = min images 1000; Tau = 0.1 }

    /// Random-label tasks (Kumar et al.'s random-label MNIST): a fixed set of 1,200 training images gets fresh uniform
    /// labels each task; 400 epochs per task as in the paper (`|> epochs_per_task n` to scale); task-end accuracy is
    /// on the same images with the task's labels. `schedule (stream (random_label_tasks 50))`.
    let random_label_tasks (tasks: int) = { streamOf StreamKind.RandomLabels tasks 1200 0 400 with Probe = 1200 }

    /// Permuted-pixel tasks (Kumar et al.'s permuted MNIST): 10,000 training images seen once per task under a fresh
    /// pixel permutation; task-end accuracy on 2,000 test images under the same permutation.
    let permuted_pixel_tasks (tasks: int) = streamOf StreamKind.PermutedPixels tasks 10000 2000 1

    /// Permuted-label tasks (Elsayed & Mahmood): the classes are remapped by a fresh permutation each task.
    let permuted_label_tasks (tasks: int) = streamOf StreamKind.PermutedLabels tasks 10000 2000 1

    /// Class-incremental tasks (Dohare et al.'s incremental CIFAR): classes arrive in a seeded order, 2 in task 1 and
    /// 2 more per task (`|> classes_first n`, `|> classes_per_task n`); each task trains on every class seen so far.
    let class_incremental_tasks (tasks: int) = streamOf StreamKind.ClassIncremental tasks 10000 2000 10

    /// Training images of the stream, drawn once (seeded) from the training split.
    let images (n: int) (t: StreamDef) = { t with Images = n; Probe = min t.Probe n }

    /// Held-out test images for task-end accuracy (not used by random-label tasks).
    let test_images (n: int) (t: StreamDef) = { t with TestImages = n }

    /// Epochs per task (the cap with `until_online_accuracy`).
    let epochs_per_task (n: int) (t: StreamDef) = { t with EpochsPerTask = n }

    /// End a task early once an epoch's online accuracy reaches this (epochs_per_task stays the cap).
    let until_online_accuracy (threshold: float) (t: StreamDef) = { t with Threshold = Some threshold }

    /// Class-incremental: classes of task 1.
    let classes_first (n: int) (t: StreamDef) = { t with ClassesFirst = n }

    /// Class-incremental: classes added per task.
    let classes_per_task (n: int) (t: StreamDef) = { t with ClassesPerTask = n }

    /// Images of each task the feature metrics (dormant fraction, effective rank, srank) are measured on.
    let probe (n: int) (t: StreamDef) = { t with Probe = n }

    /// τ of the dormant-unit metric (a unit is dormant when its ReDo score ≤ τ; 0.1 by default).
    let dormant_tau (tau: float) (t: StreamDef) = { t with Tau = tau }

    /// A task-stream schedule: every arm × seed trains one model through all tasks, as one resumable node:
    /// `schedule (stream (random_label_tasks 50 |> epochs_per_task 40))`.
    let stream (t: StreamDef) = Stream t

    // ---- arms (initialisation policies) ------------------------------------------------------------------

    let private armOf policy : ArmDef =
        { Name = ""; Policy = policy; Lr = None; BatchSize = None; KeepOptimizerState = false; Regularizers = []
          L2InitFromStart = false; NewChunkOnly = false; Continual = [] }

    /// Each stage starts from a new random initialisation (the paper's cold start).
    let fresh = armOf Fresh

    /// Each stage starts from the previous stage's weights.
    let warm = armOf Warm

    /// Shrink and perturb: θ ← λθ + N(0, σ²) at each new stage (Ash & Adams §4; they use λ 0.6, σ 0.01).
    let shrink_perturb (lambda: float) (sigma: float) = armOf (ShrinkPerturb(lambda, sigma, Gaussian))

    /// Shrink only: θ ← λθ.
    let shrink (lambda: float) = armOf (ShrinkPerturb(lambda, 0.0, Gaussian))

    /// Perturb only: θ ← θ + N(0, σ²).
    let perturb (sigma: float) = armOf (ShrinkPerturb(1.0, sigma, Gaussian))

    /// Noise from a fresh initialisation, θ ← λθ + σ·θ_fresh, as in the authors' code:
    /// `shrink_perturb 0.4 0.1 |> with_fresh_init_noise`.
    let with_fresh_init_noise (a: ArmDef) =
        match a.Policy with
        | ShrinkPerturb(l, s, _) -> { a with Policy = ShrinkPerturb(l, s, FreshInit) }
        | _ -> invalidArg "arm" "with_fresh_init_noise applies to shrink_perturb, shrink and perturb arms only"

    /// Copy only these layer groups from the previous stage, fresh for the rest: `partial_warm [ "hidden1" ]`.
    let partial_warm (groups: string list) = armOf (PartialWarm groups)

    /// Warm start with the classifier head re-initialised (and its optimiser state reset when kept).
    let head_reset = armOf HeadReset

    /// DASH (NeurIPS 2024): `dash 0.3 0.3` shrinks each neuron by its weight/negative-gradient cosine, clamped to [λ, 1].
    let dash (alpha: float) (lambda: float) = armOf (Dash(alpha, lambda))

    /// Add λ‖θ − θ₀‖² toward the original initialisation to this arm's later stages: `warm |> l2_init 1e-2`.
    let l2_init (lambda: float) (a: ArmDef) = { a with Regularizers = a.Regularizers @ [ L2Init(lambda, false) ] }

    /// L2-init in the DASH code's form: λ (Σ_m ‖W_m − W₀,m‖_F)² over weights only.
    let l2_init_dash_form (lambda: float) (a: ArmDef) = { a with Regularizers = a.Regularizers @ [ L2Init(lambda, true) ] }

    /// Apply this arm's L2-init from the first stage's first step, as Kumar et al. and the DASH code do (by default it
    /// applies from stage 2, so stage 1 stays the node every arm shares): `warm |> l2_init 1e-2 |> l2_init_from_start`.
    let l2_init_from_start (a: ArmDef) = { a with L2InitFromStart = true }

    /// Add EWC toward the previous stage's solution (Fisher with labels sampled from the model): `warm |> ewc 100.0`.
    let ewc (lambda: float) (a: ArmDef) = { a with Regularizers = a.Regularizers @ [ Ewc(lambda, false) ] }

    /// EWC with the empirical Fisher (the true labels).
    let ewc_empirical (lambda: float) (a: ArmDef) = { a with Regularizers = a.Regularizers @ [ Ewc(lambda, true) ] }

    /// This arm's learning rate for the stages after the first (the paper's lr_2).
    let with_lr (lr: float) (a: ArmDef) = { a with Lr = Some lr }

    /// This arm's batch size for the stages after the first (the paper's batch_size_2).
    let with_batch_size (b: int) (a: ArmDef) = { a with BatchSize = Some b }

    /// Train this arm's online rounds on the new chunk only while the other arms train on everything seen so far
    /// (the variant [S1]'s notes describe): `arm "warm-new" (warm |> new_chunk_only)`.
    let new_chunk_only (a: ArmDef) = { a with NewChunkOnly = true }

    /// Carry the optimiser state (Adam moments, momentum buffers) into the next stage instead of a new optimiser.
    let keep_optimizer_state (a: ArmDef) = { a with KeepOptimizerState = true }

    // ---- quick variants ------------------------------------------------------------------------------------

    /// The quick variant every study starts with: pool 2000, 3 epochs, 2 seeds, the study's own data, model and optimiser.
    let quick_defaults : QuickDef =
        { Subset = 2000; MaxEpochs = 3; Seeds = 2; Name = None; Data = None; Model = None; Optimizer = None; Schedule = None
          ShrinkPoints = None; Skip = false }

    /// The paper scripts' smoke test (`quick_preset fashion_mnist_mlp`): Fashion-MNIST and an MLP 100-100 in place of
    /// CIFAR and ResNet-18, with the default caps; a script adds only what differs (e.g. `quick_optimizer (sgd 0.05)`).
    let fashion_mnist_mlp : QuickDef = { quick_defaults with Data = Some fashion_mnist; Model = Some(mlp [ 100; 100 ]) }

    // ---- stream arms (step-level methods of a task stream) ------------------------------------------------

    /// A stream arm: one model and one optimiser trained through every task (plain training, the baseline).
    /// Add methods with `|> continual_backprop …`, `|> redo …`, `|> l2_init …`, ….
    let continual = armOf Warm

    let private withMethod m (a: ArmDef) = { a with Continual = a.Continual @ [ m ] }

    /// Continual backprop (Dohare et al. 2024): after every step, replace the fraction ρ of mature hidden units (age
    /// > m steps) with the lowest contribution utility (decay η 0.99): `continual |> continual_backprop 1e-4 100`.
    let continual_backprop (rate: float) (maturity: int) (a: ArmDef) = withMethod (ContinualBackprop(rate, maturity, 0.99)) a

    /// ReDo (Sokar et al. 2023): every `period` steps, re-initialise the hidden units whose normalised activation
    /// score is ≤ τ (incoming weights re-drawn, outgoing zeroed, Adam moments reset): `continual |> redo 0.1 1000`.
    let redo (tau: float) (period: int) (a: ArmDef) = withMethod (Redo(tau, period)) a

    /// ReDo once per task (Kumar et al.'s supervised setting; τ 0.1 for random labels): the period is the stream's
    /// steps per task, so it acts on the task's last minibatch: `continual |> redo_every_task 0.1`.
    let redo_every_task (tau: float) (a: ArmDef) = withMethod (RedoEveryTasks(tau, 1)) a

    /// Shrink and perturb every k steps: θ ← p·θ + N(0, σ²) (Kumar et al.'s continual form with k = 1, p = 1 − 1e-4,
    /// σ = 1e-2): `continual |> shrink_perturb_every 1 (1.0 - 1e-4) 1e-2`.
    let shrink_perturb_every (steps: int) (shrink: float) (sigma: float) (a: ArmDef) =
        withMethod (ContinualShrinkPerturb(shrink, sigma, steps, false)) a

    /// Shrink and perturb at the start of every task (Ash & Adams' form applied at each task switch).
    let shrink_perturb_every_task (shrink: float) (sigma: float) (a: ArmDef) =
        withMethod (ContinualShrinkPerturb(shrink, sigma, 0, true)) a

    /// Re-initialise the classifier head (default init) at the start of every task.
    let reset_head_every_task (a: ArmDef) = withMethod (HeadResetEveryTask false) a

    /// Zero the classifier head's weights and bias at the start of every task (Dohare et al.'s continual ImageNet).
    let zero_head_every_task (a: ArmDef) = withMethod (HeadResetEveryTask true) a
