namespace WarmStart

/// One epoch of a node's training curve.
type EpochPoint =
    { Epoch: int
      Loss: float
      TrainAccuracy: float
      Seconds: float }

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
      Diverged: bool
      Curve: EpochPoint list }

/// A study's plan and the results of its nodes.
type StudyResult =
    { Plan: StudyPlan
      Results: Map<string, NodeResult>
      /// Whether the study ran in --quick mode.
      Quick: bool
      WallSeconds: float }
    /// The study that was run (after --quick and --seeds were applied).
    member r.Study = r.Plan.Study
