/// Short human-readable forms of study settings, for plans, tables and logs.
module WarmStart.Describe

/// "mlp[100,100] relu", "logistic_regression", "resnet18 width 16", "small_cnn[32,64]": the core's form
/// (ModelSpec.ToString), so a model reads the same in plans, reports and the core's logs.
let model (m: ModelDef) = (ToCore.modelSpec m).ToString()

/// "train acc ≥ 0.99 (max 200 epochs)" or "5 epochs": the core's form (StopRule.ToString).
let stop (s: WarmStart.Core.Training.StopRule) = s.ToString()

/// "adam lr=0.001", "sgd lr=0.01 momentum=0.9": the core's form (OptimizerSpec.ToString).
let optimizer (o: OptimizerDef) = (ToCore.optimizer o).ToString()

/// "fresh", "warm", "shrink_perturb λ=0.6 σ=0.01".
let policy (p: Policy) =
    match p with
    | Fresh -> "fresh"
    | Warm -> "warm"
    | ShrinkPerturb(l, s, Gaussian) -> sprintf "shrink_perturb λ=%g σ=%g" l s
    | ShrinkPerturb(l, s, FreshInit) -> sprintf "shrink_perturb λ=%g σ=%g (fresh-init noise)" l s
    | PartialWarm gs -> sprintf "partial_warm [%s]" (String.concat "; " gs)
    | HeadReset -> "head_reset"
    | Dash(a, l) -> sprintf "dash α=%g λ=%g" a l
