namespace WarmStart

/// One epoch of a node's training curve.
type EpochPoint =
    { Epoch: int
      Loss: float
      TrainAccuracy: float
      Seconds: float }

/// Pearson correlation of a node's final weights, overall ("all") or for one layer group.
type CorrelationPoint =
    { Group: string
      /// With the weights the stage started from.
      VsStart: float
      /// With the chain's original random initialisation.
      VsInit: float }

/// Mean gradient norm of an epoch's old-data and new-data minibatches (before the epoch's training).
type GradientNormPoint = { Epoch: int; Old: float; New: float }

/// Test accuracy of the final model with every parameter multiplied by λ.
type ShrinkPoint = { Lambda: float; Accuracy: float }

/// The measurements a node recorded (empty lists for those not asked for).
type NodeDiagnostics =
    { Correlation: CorrelationPoint list
      GradientNorms: GradientNormPoint list
      ShrinkAccuracy: ShrinkPoint list }

/// What one training node produced.
type NodeResult =
    { Key: string
      TestAccuracy: float
      TestLoss: float
      TrainAccuracy: float
      TrainLoss: float
      Epochs: int
      /// Wall seconds of training (evaluation excluded).
      Seconds: float
      SamplesPerSecond: float
      /// Examples this stage trained on.
      TrainSize: int64
      /// The loss became NaN or infinite (at the last epoch of the curve); children are skipped.
      Diverged: bool
      Curve: EpochPoint list
      Diagnostics: NodeDiagnostics }

/// How a node fared in one execution.
type NodeStatus =
    /// Trained in this execution.
    | Trained
    /// Read from the result store, not retrained.
    | Cached
    /// Training raised an error (message); nothing was stored.
    | Failed of string
    /// Not run because a node it depends on failed or diverged (reason).
    | Skipped of string

/// A study's plan and the results of its nodes.
type StudyResult =
    { Plan: StudyPlan
      /// Results of the nodes that have one (trained or cached; diverged ones included, flagged).
      Results: Map<string, NodeResult>
      /// What happened to every node in this execution.
      Status: Map<string, NodeStatus>
      /// Whether the study ran in --quick mode.
      Quick: bool
      WallSeconds: float }
    /// The study that was run (after --quick and --seeds were applied).
    member r.Study = r.Plan.Study
