/// Short human-readable forms of study settings, for plans, tables and logs.
module WarmStart.Describe

/// "mlp[100,100] relu", "logistic_regression", "resnet18 width 16".
let model (m: ModelDef) =
    match m.Kind with
    | "mlp" -> sprintf "mlp[%s] %s%s" (m.Widths |> List.map string |> String.concat ",") m.Activation (if m.Bias then "" else " no-bias")
    | "resnet18" -> sprintf "resnet18 width %d" m.BaseWidth
    | k -> k

/// "train acc ≥ 0.99 (max 200 epochs)" or "5 epochs".
let stop (s: StopDef) =
    match s.Epochs with
    | Some e -> sprintf "%d epochs" e
    | None ->
        let acc = s.TrainAccuracy |> Option.map (sprintf "train acc ≥ %g") |> Option.defaultValue "no accuracy target"
        let pat = s.Patience |> Option.map (sprintf ", patience %d") |> Option.defaultValue ""
        sprintf "%s (max %d epochs%s)" acc s.MaxEpochs pat

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
