/// The seam between the DSL's values and the core's: every F# → C# conversion of a study setting lives here, so
/// each concept has one F# type and one core form, and nothing else in dsl/ spells a core name.
module WarmStart.ToCore

open WarmStart.Core.Models
open WarmStart.Core.Native
open WarmStart.Core.Policies
open WarmStart.Core.Training
open WarmStart.Core.Runs

/// The core's model spec for a DSL model definition.
let modelSpec (m: ModelDef) = ModelSpec(m.Kind.Name, List.toArray m.Widths, m.Activation.Name, m.Bias, m.BaseWidth, m.LayerNorm)

/// The core's optimiser spec.
let optimizer (o: OptimizerDef) = OptimizerSpec(o.Kind.Name, o.Lr, o.Momentum, o.WeightDecay)

/// The core's stop rule: the study holds it as it is (one type from the builder to the trainer).
let stop (s: StopRule) = s

/// The core's noise mode of shrink-perturb.
let noise (n: Noise) =
    match n with
    | Gaussian -> NoiseMode.Gaussian
    | FreshInit -> NoiseMode.FreshInit

/// The core's initialisation policy.
let policy (p: Policy) : IInitPolicy =
    match p with
    | Fresh -> FreshPolicy()
    | Warm -> WarmPolicy()
    | ShrinkPerturb(l, s, n) -> ShrinkPerturbPolicy(l, s, noise n)
    | PartialWarm groups -> PartialWarmPolicy(groups)
    | HeadReset -> HeadResetPolicy()
    | Dash(a, l) -> DashPolicy(a, l)

/// The core's name of an acquisition function (`AcquisitionFunctions.Select`; part of node keys).
let acquisition (a: Acquisition) =
    match a with
    | Margin -> "margin"
    | Entropy -> "entropy"
    | RandomAcquisition -> "random"

/// The torch device of a DSL device.
let device (d: Device) = DeviceResolver.Resolve(d.Name)

/// The core's form of L2-init (`dashForm`: the DASH code's variant).
let l2InitForm (dashForm: bool) = if dashForm then L2InitForm.DashCompatible else L2InitForm.Textbook

/// The core's Fisher estimate of EWC (`empirical`: the true labels).
let fisherKind (empirical: bool) = if empirical then FisherKind.Empirical else FisherKind.Sampled

/// The core's stage penalty of a node's resolved loss term.
let penalty (p: PenaltySpec) : StagePenalty =
    match p with
    | L2InitPenaltySpec(l, dashForm, _) -> StagePenalty.L2Init(l, l2InitForm dashForm)
    | EwcPenaltySpec(l, empirical, seed) -> StagePenalty.Ewc(l, FisherOptions(fisherKind empirical, Seed = seed))

/// The core's diagnostics request of a node.
let diagnostics (d: DiagnosticsDef) =
    StageDiagnostics(d.Correlation, d.GradientNorms, Array.ofList d.ShrinkGrid,
                     ShrinkBatchNorm = (match d.ShrinkBatchNorm with
                                        | RunningStatistics -> WarmStart.Core.Diagnostics.ShrinkBatchNorm.RunningStatistics
                                        | BatchStatistics -> WarmStart.Core.Diagnostics.ShrinkBatchNorm.BatchStatistics))

/// The core's task-stream spec of a DSL stream at a batch size.
let streamSpec (t: StreamDef) (batchSize: int) =
    let kind =
        match t.Kind with
        | WarmStart.StreamKind.PermutedPixels -> WarmStart.Core.Plasticity.StreamKind.PermutedPixels
        | WarmStart.StreamKind.RandomLabels -> WarmStart.Core.Plasticity.StreamKind.RandomLabels
        | WarmStart.StreamKind.PermutedLabels -> WarmStart.Core.Plasticity.StreamKind.PermutedLabels
        | WarmStart.StreamKind.ClassIncremental -> WarmStart.Core.Plasticity.StreamKind.ClassIncremental
    WarmStart.Core.Plasticity.TaskStreamSpec(kind, t.Tasks, t.Images, t.TestImages, t.EpochsPerTask, batchSize, Option.toNullable t.Threshold,
                                             t.ClassesFirst, t.ClassesPerTask, t.Probe, t.Tau)

/// The core's hook of a stream method; `seed` seeds its random draws (a fresh object: hooks hold state).
let continualHook (seed: int64) (m: ContinualMethod) : ITrainingHook =
    match m with
    | ContinualBackprop(rate, maturity, decay) ->
        WarmStart.Core.Plasticity.ContinualBackprop(seed, rate, decay, maturity) :> ITrainingHook
    | Redo(tau, period) -> WarmStart.Core.Plasticity.ReDo(seed, tau, int64 period) :> ITrainingHook
    | RedoEveryTasks _ -> invalidArg "m" "redo_every_task is resolved into steps by the plan" 
    | ContinualShrinkPerturb(shrink, sigma, every, everyTask) ->
        WarmStart.Core.Plasticity.ContinualShrinkPerturb(seed, shrink, sigma, int64 every, everyTask) :> ITrainingHook
    | HeadResetEveryTask zero -> WarmStart.Core.Plasticity.HeadReset(seed, zero) :> ITrainingHook
