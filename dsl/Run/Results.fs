namespace WarmStart

/// One epoch of a node's training curve. The test columns are present only for epochs evaluated during training
/// (`evaluate_every n`); they are left out of result.json otherwise, so a node without evaluation stores exactly
/// what it stored before the columns existed.
type EpochPoint =
    { Epoch: int
      Loss: float
      TrainAccuracy: float
      /// Wall seconds of the epoch's training (evaluation excluded).
      Seconds: float
      /// Mean loss on the node's evaluation set after this epoch (eval mode), when evaluated.
      TestLoss: System.Text.Json.Serialization.Skippable<float>
      /// Accuracy on the node's evaluation set after this epoch (eval mode), when evaluated.
      TestAccuracy: System.Text.Json.Serialization.Skippable<float> }
    /// The epoch's test loss, NaN when it was not evaluated.
    member p.TestLossOrNaN = match p.TestLoss with System.Text.Json.Serialization.Include v -> v | _ -> nan
    /// The epoch's test accuracy, NaN when it was not evaluated.
    member p.TestAccuracyOrNaN = match p.TestAccuracy with System.Text.Json.Serialization.Include v -> v | _ -> nan

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

/// One layer group's value of a per-layer metric (groups as the model names them: hidden1…, head; stem, layer1…).
type LayerValue = { Layer: string; Value: float }

/// One task of a stream node: accuracy and the plasticity metrics at the task's end (definitions: the core's
/// TaskResult and PlasticitySnapshot; metrics on a fixed probe of the task's training images, post-activation).
type TaskPoint =
    { Task: int
      Epochs: int
      Steps: int64
      /// Average online accuracy (each minibatch scored by the forward pass before its update; Kumar et al. §4.1).
      OnlineAccuracy: float
      /// Accuracy at the task's end on its held-out images (random labels: its own images with the task's labels), eval mode.
      EndAccuracy: float
      /// Mean training cross-entropy over the task's examples.
      Loss: float
      /// Fraction of τ-dormant units per hidden layer (ReDo score ≤ τ).
      Dormant: float list
      /// Fraction of units that are exactly zero on every probe image, per hidden layer.
      Dead: float list
      /// Effective rank (Roy & Vetterli) of the penultimate features.
      EffectiveRank: float
      /// srank_0.01 of the penultimate features (Kumar et al.).
      SRank: int
      /// Mean |w| over the weight matrices of every layer.
      WeightMagnitude: float
      /// Mean |w| of each layer group's weight matrices (biases and norms excluded), in the model's layer order;
      /// left out of results stored before it was recorded (Skip), so those still load.
      WeightMagnitudeByLayer: System.Text.Json.Serialization.Skippable<LayerValue list>
      /// RMS distance of all parameters from the stream's initialisation.
      DistanceFromInit: float
      /// Norm of the last minibatch's gradient (weights).
      GradientNorm: float
      Seconds: float }
    /// The weight magnitude per layer group ([] for a result stored before it was recorded).
    member t.WeightMagnitudeLayers =
        match t.WeightMagnitudeByLayer with
        | System.Text.Json.Serialization.Include xs -> xs
        | _ -> []

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
      Diagnostics: NodeDiagnostics
      /// Stream nodes: one point per task (left out of result.json for other nodes).
      Tasks: System.Text.Json.Serialization.Skippable<TaskPoint list> }

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
