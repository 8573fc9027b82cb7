/// The seam between the DSL's values and the core's: every F# → C# conversion of a study setting lives here, so
/// each concept has one F# type and one core form, and nothing else in dsl/ spells a core name.
module WarmStart.ToCore

open WarmStart.Core.Models
open WarmStart.Core.Native
open WarmStart.Core.Policies
open WarmStart.Core.Training
open WarmStart.Core.Runs

/// The core's model spec for a DSL model definition.
let modelSpec (m: ModelDef) = ModelSpec(m.Kind.Name, List.toArray m.Widths, m.Activation.Name, m.Bias, m.BaseWidth)

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
let diagnostics (d: DiagnosticsDef) = StageDiagnostics(d.Correlation, d.GradientNorms, Array.ofList d.ShrinkGrid)
