namespace WarmStart

open System
open WarmStart.Core.Training

/// The λ grid of `measure_shrink_accuracy n`: n evenly spaced points in [0, 1] (fewer than 2: an invalid marker
/// validation reports).
module ShrinkGrid =
    /// n evenly spaced λ in [0, 1].
    let ofPoints (points: int) = if points < 2 then [ -1.0 ] else [ for i in 0 .. points - 1 -> float i / float (points - 1) ]

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
          Stop = StopRule.UntilTrainAccuracy(0.99, 200)
          Seeds = 5
          Seed = 0L
          Subset = None
          Schedule = fractions [ 0.5; 1.0 ]
          Arms = []
          StageOverrides = []
          Quick = quick_defaults
          Sweeps = []
          SweepExcept = []
          RandomDraws = None
          Diagnostics = { Correlation = false; GradientNorms = false; ShrinkGrid = []; ShrinkBatchNorm = RunningStatistics }
          EvaluateEvery = None
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

    /// The British spelling of `optimizer`: `optimiser (adam 1e-3)`.
    [<CustomOperation("optimiser")>]
    member _.Optimiser(s: Study, o: OptimizerDef) = { s with Optimizer = o }

    /// Minibatch size of every stage.
    [<CustomOperation("batch_size")>]
    member _.BatchSize(s: Study, b: int) = { s with BatchSize = b }

    /// Train each stage until a condition holds, with a cap: `train_until (train_accuracy 0.99) (max_epochs 200)`.
    [<CustomOperation("train_until")>]
    member _.TrainUntil(s: Study, first: StopPart, second: StopPart) =
        let apply (st: StopRule) part =
            match part with
            | TrainAccuracyAtLeast t -> StopRule(st.FixedEpochs, t, st.MaxEpochs, st.Patience)
            | MaxEpochsOf n -> StopRule(st.FixedEpochs, st.TrainAccuracy, n, st.Patience)
            | PatienceOf p -> StopRule(st.FixedEpochs, st.TrainAccuracy, st.MaxEpochs, p)
        { s with Stop = apply (apply (StopRule(Nullable(), Nullable(), s.Stop.MaxEpochs, s.Stop.Patience)) first) second }

    /// Train every stage for exactly this many epochs.
    [<CustomOperation("epochs")>]
    member _.Epochs(s: Study, n: int) = { s with Stop = StopRule(n, s.Stop.TrainAccuracy, max n 1, s.Stop.Patience) }

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
        { s with StageOverrides = s.StageOverrides @ [ { FromStage = fromStage; Lr = Some lr; BatchSize = None; Stop = None } ] }

    /// Batch size for every arm from this stage on (the paper's batch_size_2): `stage_batch_size 2 64`.
    [<CustomOperation("stage_batch_size")>]
    member _.StageBatchSize(s: Study, fromStage: int, b: int) =
        { s with StageOverrides = s.StageOverrides @ [ { FromStage = fromStage; Lr = None; BatchSize = Some b; Stop = None } ] }

    /// When each stage from this one on ends, for every arm: `stage_stop 2 (fixed_epochs 200)` (the reproduction's
    /// fixed 200 epochs for stage 2), `stage_stop 2 (stop_when (train_accuracy 0.999) (max_epochs 500))`.
    [<CustomOperation("stage_stop")>]
    member _.StageStop(s: Study, fromStage: int, rule: StopRule) =
        { s with StageOverrides = s.StageOverrides @ [ { FromStage = fromStage; Lr = None; BatchSize = None; Stop = Some rule } ] }

    /// A shared quick variant (`quick_preset fashion_mnist_mlp`): what the preset replaces (data, model, …) and the
    /// caps it changes from `quick_defaults`; the study's other quick_* words, before or after it, keep theirs.
    [<CustomOperation("quick_preset")>]
    member _.QuickPreset(s: Study, preset: QuickDef) =
        let d, q = quick_defaults, s.Quick
        let pick (mine: 'a option) (theirs: 'a option) = match theirs with Some _ -> theirs | None -> mine
        let cap mine theirs dflt = if theirs <> dflt then theirs else mine
        { s with
            Quick = { Subset = cap q.Subset preset.Subset d.Subset; MaxEpochs = cap q.MaxEpochs preset.MaxEpochs d.MaxEpochs
                      Seeds = cap q.Seeds preset.Seeds d.Seeds; Name = pick q.Name preset.Name; Data = pick q.Data preset.Data
                      Model = pick q.Model preset.Model; Optimizer = pick q.Optimizer preset.Optimizer
                      Schedule = pick q.Schedule preset.Schedule; ShrinkPoints = pick q.ShrinkPoints preset.ShrinkPoints
                      Skip = q.Skip || preset.Skip } }

    /// Pool size used by `--quick` (default 2000).
    [<CustomOperation("quick_subset")>]
    member _.QuickSubset(s: Study, n: int) = { s with Quick = { s.Quick with Subset = n } }

    /// Epoch cap used by `--quick` (default 3).
    [<CustomOperation("quick_max_epochs")>]
    member _.QuickMaxEpochs(s: Study, n: int) = { s with Quick = { s.Quick with MaxEpochs = n } }

    /// Seeds used by `--quick` (default 2).
    [<CustomOperation("quick_seeds")>]
    member _.QuickSeeds(s: Study, n: int) = { s with Quick = { s.Quick with Seeds = n } }

    /// The dataset of the quick variant (`--quick`), e.g. `quick_data fashion_mnist` in a CIFAR-10 study.
    [<CustomOperation("quick_data")>]
    member _.QuickData(s: Study, d: DataDef) = { s with Quick = { s.Quick with Data = Some d } }

    /// The model of the quick variant, e.g. `quick_model (mlp [ 100; 100 ])` in a ResNet-18 study.
    [<CustomOperation("quick_model")>]
    member _.QuickModel(s: Study, m: ModelDef) = { s with Quick = { s.Quick with Model = Some m } }

    /// The optimiser of the quick variant, e.g. `quick_optimizer (sgd 0.05)` where three epochs at 1e-3 stay at chance.
    [<CustomOperation("quick_optimizer")>]
    member _.QuickOptimizer(s: Study, o: OptimizerDef) = { s with Quick = { s.Quick with Optimizer = Some o } }

    /// The British spelling of `quick_optimizer`.
    [<CustomOperation("quick_optimiser")>]
    member _.QuickOptimiser(s: Study, o: OptimizerDef) = { s with Quick = { s.Quick with Optimizer = Some o } }

    /// The schedule of the quick variant, e.g. `quick_schedule (pretrain_epochs [ 1; 2; 3 ])`.
    [<CustomOperation("quick_schedule")>]
    member _.QuickSchedule(s: Study, sc: Schedule) = { s with Quick = { s.Quick with Schedule = Some sc } }

    /// Points of `measure_shrink_accuracy` in the quick variant: `quick_shrink_accuracy 11`.
    [<CustomOperation("quick_shrink_accuracy")>]
    member _.QuickShrinkAccuracy(s: Study, points: int) = { s with Quick = { s.Quick with ShrinkPoints = Some points } }

    /// Leave this study out of a `--quick` run of a list of studies when true (another study of the list stands
    /// for it): `quick_skip (dataset <> "cifar10")`.
    [<CustomOperation("quick_skip")>]
    member _.QuickSkip(s: Study, skip: bool) = { s with Quick = { s.Quick with Skip = skip } }

    /// The study's name in its quick variant, where the full name would mislead: `quick_name "table1-fmnist-mlp-sgd"`.
    [<CustomOperation("quick_name")>]
    member _.QuickName(s: Study, name: string) = { s with Quick = { s.Quick with Name = Some name } }

    /// Run the study once per value of a numeric knob (several sweeps form a grid): `sweep Knob.Lr [ 1e-3; 1e-2 ]`.
    [<CustomOperation("sweep")>]
    member _.Sweep(s: Study, knob: Knob, values: float list) = { s with Sweeps = s.Sweeps @ [ knob, values ] }

    /// Whole-number values (`sweep Knob.BatchSize [ 16; 32; 64 ]`): the same sweep with the values as floats.
    [<CustomOperation("sweep")>]
    member b.Sweep(s: Study, knob: Knob, values: int list) = b.Sweep(s, knob, values |> List.map float)

    /// The knob by name with whole-number values: `sweep "batch_size" [ 16; 32; 64 ]`.
    [<CustomOperation("sweep")>]
    member b.Sweep(s: Study, knob: string, values: int list) = b.Sweep(s, knob, values |> List.map float)

    /// The knob by name, for the REPL: `sweep "lr" [ 1e-3; 1e-2; 1e-1 ]`; knobs: lr, batch_size, weight_decay,
    /// momentum, shrink, perturb, subset. An unknown name is a validation error naming the allowed ones.
    [<CustomOperation("sweep")>]
    member _.Sweep(s: Study, knob: string, values: float list) =
        match Knob.TryParse knob with
        | Some k -> { s with Sweeps = s.Sweeps @ [ k, values ] }
        | None ->
            raise (StudyValidationError(s.Name, [ sprintf "field 'sweep' = \"%s\": unknown knob; allowed: %s"
                                                          knob (Knob.All |> List.map (fun k -> k.Name) |> String.concat ", ") ]))

    /// Leave one cell (or row) out of the sweep grid: `sweep_except [ Knob.Shrink, 0.0; Knob.Perturb, 0.0 ]` skips
    /// every variant that has all of these values.
    [<CustomOperation("sweep_except")>]
    member _.SweepExcept(s: Study, cell: (Knob * float) list) = { s with SweepExcept = s.SweepExcept @ [ cell ] }

    /// For every sweep combination, n variants with the listed knobs drawn at random from their values (distinct
    /// combinations, seeded by the study seed and the combination, the same for every seed so arms stay paired):
    /// `random_draws 3 [ Knob.Lr2, [ 0.001; 0.01; 0.1 ]; Knob.BatchSize2, [ 16; 32; 64; 128 ] ]` (the reproduction's Figure 3).
    [<CustomOperation("random_draws")>]
    member _.RandomDraws(s: Study, n: int, knobs: (Knob * float list) list) = { s with RandomDraws = Some(n, knobs) }

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
        { s with Diagnostics = { s.Diagnostics with ShrinkGrid = ShrinkGrid.ofPoints points } }

    /// Evaluate each node's model on its evaluation set (the data of its test accuracy) after every n epochs (n ≥ 1),
    /// in eval mode without gradients; the loss and accuracy go into the node's curve, `curves.csv` and
    /// `Summary.curves`. Part of the node key only when set; the evaluation's seconds are not training seconds.
    [<CustomOperation("evaluate_every")>]
    member _.EvaluateEvery(s: Study, n: int) = { s with EvaluateEvery = Some n }

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
