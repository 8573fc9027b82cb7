namespace WarmStart

/// The `study "name" { … }` computation expression. `Yield` gives the defaults (Fashion-MNIST, MLP 100-100,
/// Adam 1e-3, batch 128, train to 99 % train accuracy or 200 epochs, 5 seeds, half-then-all); each custom
/// operation changes one setting; `Run` validates everything before a study value exists.
type StudyBuilder(name: string) =

    /// The defaults every study starts from.
    member _.Yield(_: unit) : Study =
        { Name = name
          Data = fashion_mnist
          Model = mlp [ 100; 100 ]
          Optimizer = adam 1e-3
          BatchSize = 128
          Stop = { Epochs = None; TrainAccuracy = Some 0.99; MaxEpochs = 200; Patience = None }
          Seeds = 5
          Seed = 0L
          Subset = None
          Schedule = fractions [ 0.5; 1.0 ]
          Arms = []
          StageOverrides = []
          Quick = { Subset = 2000; MaxEpochs = 3; Seeds = 2 }
          Sweeps = []
          SweepExcept = []
          Diagnostics = { Correlation = false; GradientNorms = false; ShrinkGrid = []; ShrinkBatchNorm = RunningStatistics }
          Threads = 0 }

    /// Validates the study (every problem at once, before any training).
    member _.Run(s: Study) : Study = Validate.orRaise s

    /// The dataset: `data fashion_mnist`, `data cifar10`, `data (dataset "mnist")`.
    [<CustomOperation("data")>]
    member _.Data(s: Study, d: DataDef) = { s with Data = { d with Augment = s.Data.Augment || d.Augment } }

    /// Standard augmentation (random crop with 4-pixel padding, horizontal flip) on training batches.
    [<CustomOperation("augment")>]
    member _.Augment(s: Study) = { s with Data = { s.Data with Augment = true } }

    /// Normalise every channel with mean 0.5 and sd 0.5 as the authors' code does.
    [<CustomOperation("half_normalization")>]
    member _.HalfNormalization(s: Study) = { s with Data = { s.Data with HalfNormalization = true } }

    /// Where test accuracy is measured: `evaluate_on (held_out (2.0/3.0))`; the official test split by default.
    [<CustomOperation("evaluate_on")>]
    member _.EvaluateOn(s: Study, e: EvalSplit) = { s with Data = { s.Data with Eval = e } }

    /// The architecture: `model (mlp [ 100; 100 ])`, `model logistic_regression`, `model (resnet18 16)`.
    [<CustomOperation("model")>]
    member _.Model(s: Study, m: ModelDef) = { s with Model = m }

    /// The optimiser of every stage: `optimizer (adam 1e-3)`, `optimizer (sgd 1e-3 |> with_momentum 0.9)`.
    [<CustomOperation("optimizer")>]
    member _.Optimizer(s: Study, o: OptimizerDef) = { s with Optimizer = o }

    /// Minibatch size of every stage.
    [<CustomOperation("batch_size")>]
    member _.BatchSize(s: Study, b: int) = { s with BatchSize = b }

    /// Train each stage until a condition holds, with a cap: `train_until (train_accuracy 0.99) (max_epochs 200)`.
    [<CustomOperation("train_until")>]
    member _.TrainUntil(s: Study, first: StopPart, second: StopPart) =
        let apply (st: StopDef) part =
            match part with
            | TrainAccuracyAtLeast t -> { st with TrainAccuracy = Some t }
            | MaxEpochsOf n -> { st with MaxEpochs = n }
            | PatienceOf p -> { st with Patience = Some p }
        { s with Stop = apply (apply { s.Stop with Epochs = None; TrainAccuracy = None } first) second }

    /// Train every stage for exactly this many epochs.
    [<CustomOperation("epochs")>]
    member _.Epochs(s: Study, n: int) = { s with Stop = { s.Stop with Epochs = Some n; MaxEpochs = max n 1 } }

    /// Number of paired repetitions; seed i gives every arm the same split, data order and stage-1 model.
    [<CustomOperation("seeds")>]
    member _.Seeds(s: Study, n: int) = { s with Seeds = n }

    /// The study seed from which every other seed is derived (default 0).
    [<CustomOperation("seed")>]
    member _.Seed(s: Study, seed: int64) = { s with Seed = seed }

    /// Cap the training pool at this many examples (a seeded random subset of the training split).
    [<CustomOperation("subset")>]
    member _.Subset(s: Study, n: int) = { s with Subset = Some n }

    /// How data arrives: `schedule (fractions [ 0.5; 1.0 ])`.
    [<CustomOperation("schedule")>]
    member _.Schedule(s: Study, sc: Schedule) = { s with Schedule = sc }

    /// An arm: a name and how each stage after the first starts: `arm "warm" warm`, `arm "sp" (shrink_perturb 0.6 0.01)`.
    [<CustomOperation("arm")>]
    member _.Arm(s: Study, armName: string, a: ArmDef) = { s with Arms = s.Arms @ [ { a with Name = armName } ] }

    /// Learning rate for every arm from this stage on (the paper's lr_2): `stage_lr 2 1e-2`.
    [<CustomOperation("stage_lr")>]
    member _.StageLr(s: Study, fromStage: int, lr: float) =
        { s with StageOverrides = s.StageOverrides @ [ { FromStage = fromStage; Lr = Some lr; BatchSize = None } ] }

    /// Batch size for every arm from this stage on (the paper's batch_size_2): `stage_batch_size 2 64`.
    [<CustomOperation("stage_batch_size")>]
    member _.StageBatchSize(s: Study, fromStage: int, b: int) =
        { s with StageOverrides = s.StageOverrides @ [ { FromStage = fromStage; Lr = None; BatchSize = Some b } ] }

    /// Pool size used by `--quick` (default 2000).
    [<CustomOperation("quick_subset")>]
    member _.QuickSubset(s: Study, n: int) = { s with Quick = { s.Quick with Subset = n } }

    /// Epoch cap used by `--quick` (default 3).
    [<CustomOperation("quick_max_epochs")>]
    member _.QuickMaxEpochs(s: Study, n: int) = { s with Quick = { s.Quick with MaxEpochs = n } }

    /// Seeds used by `--quick` (default 2).
    [<CustomOperation("quick_seeds")>]
    member _.QuickSeeds(s: Study, n: int) = { s with Quick = { s.Quick with Seeds = n } }

    /// Run the study once per value of a numeric knob (several sweeps form a grid):
    /// `sweep "lr" [ 1e-3; 1e-2; 1e-1 ]`; knobs: lr, batch_size, weight_decay, momentum, shrink, perturb, subset.
    [<CustomOperation("sweep")>]
    member _.Sweep(s: Study, knob: string, values: float list) = { s with Sweeps = s.Sweeps @ [ knob, values ] }

    /// Leave one cell (or row) out of the sweep grid: `sweep_except [ "shrink", 0.0; "perturb", 0.0 ]` skips every
    /// variant that has all of these values.
    [<CustomOperation("sweep_except")>]
    member _.SweepExcept(s: Study, cell: (string * float) list) = { s with SweepExcept = s.SweepExcept @ [ cell ] }

    /// Record the Pearson correlation of each stage's final weights with its starting weights and the original init.
    [<CustomOperation("measure_correlation")>]
    member _.MeasureCorrelation(s: Study) = { s with Diagnostics = { s.Diagnostics with Correlation = true } }

    /// Record the mean gradient norm per epoch on old-data and new-data minibatches (the paper's Figure 5), for
    /// stages that start from a previous stage (old data = that stage's training set).
    [<CustomOperation("measure_gradient_norms")>]
    member _.MeasureGradientNorms(s: Study) = { s with Diagnostics = { s.Diagnostics with GradientNorms = true } }

    /// Record the test accuracy of each final model scaled by n evenly spaced λ in [0, 1] (the paper uses 81).
    [<CustomOperation("measure_shrink_accuracy")>]
    member _.MeasureShrinkAccuracy(s: Study, points: int) =
        let grid = if points < 2 then [ -1.0 ] else [ for i in 0 .. points - 1 -> float i / float (points - 1) ]
        { s with Diagnostics = { s.Diagnostics with ShrinkGrid = grid } }

    /// BatchNorm statistics while measuring shrink accuracy: `shrink_accuracy_batch_norm batch_statistics` (each
    /// evaluation batch's own, as the reproduction's Figure 6, batches of the study's batch size) or
    /// `running_statistics` (the default: eval mode).
    [<CustomOperation("shrink_accuracy_batch_norm")>]
    member _.ShrinkAccuracyBatchNorm(s: Study, mode: BatchNormMode) = { s with Diagnostics = { s.Diagnostics with ShrinkBatchNorm = mode } }

    /// Torch threads per process (0 = one per core).
    [<CustomOperation("threads")>]
    member _.Threads(s: Study, n: int) = { s with Threads = n }

/// The entry point of the DSL.
[<AutoOpen>]
module StudyBuilderEntry =
    /// Declares a study: `study "half-then-all" { data fashion_mnist; arm "warm" warm; … }`.
    let study (name: string) = StudyBuilder(name)
