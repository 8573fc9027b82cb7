/// `warmstart train`: one model, one dataset, a short table.
module WarmStart.Cli.TrainCommand

open System
open Argu
open TorchSharp
open WarmStart.Core.Data
open WarmStart.Core.Models
open WarmStart.Core.Native
open WarmStart.Core.Runs
open WarmStart.Core.Training
open WarmStart.Cli.Args

let run (args: ParseResults<TrainArgs>) : int =
    let dataName = args.GetResult(Data, defaultValue = "fashion-mnist")
    let kind = args.GetResult(Model, defaultValue = "mlp")
    let widths = args.GetResult(Hidden, defaultValue = [ 100; 100 ])
    let seed = args.GetResult(Seed, defaultValue = 0L)
    let batch = args.GetResult(Batch_Size, defaultValue = 128)
    let lr = args.GetResult(Lr, defaultValue = 1e-3)
    if batch < 1 then failwithf "--batch-size %d: must be ≥ 1" batch
    if not (lr > 0.0) then failwithf "--lr %g: must be > 0" lr
    let optimizer =
        match args.GetResult(Optimizer, defaultValue = "adam") with
        | "sgd" -> OptimizerSpec.Sgd(lr, args.GetResult(Momentum, defaultValue = 0.0), args.GetResult(Weight_Decay, defaultValue = 0.0))
        | "adam" -> OptimizerSpec.Adam(lr, args.GetResult(Weight_Decay, defaultValue = 0.0))
        | other -> failwithf "--optimizer '%s' is not known; allowed: sgd, adam" other
    let stop =
        match args.TryGetResult Until_Train_Accuracy with
        | Some t when t > 0.0 && t <= 1.0 -> StopRule.UntilTrainAccuracy(t, args.GetResult(Max_Epochs, defaultValue = 200))
        | Some t -> failwithf "--until-train-accuracy %g: must be in (0, 1]" t
        | None ->
            let e = args.GetResult(Epochs, defaultValue = 3)
            if e < 1 then failwithf "--epochs %d: must be ≥ 1" e
            StopRule.Epochs e
    let spec =
        match kind with
        | "logistic_regression" | "logreg" -> ModelSpec.LogisticRegression()
        | "mlp" -> ModelSpec("mlp", List.toArray widths, args.GetResult(Activation, defaultValue = "relu"))
        | other -> failwithf "--model '%s' is not known; allowed: %s" other (String.Join(", ", ModelFactory.Kinds))
    let threads = Threads.Configure(args.GetResult(TrainArgs.Threads, defaultValue = 0))
    let device = DeviceResolver.Resolve(args.GetResult(TrainArgs.Device, defaultValue = "cpu"))
    use splits = Catalog.Load(dataName, args.TryGetResult TrainArgs.Data_Root |> Option.toObj)
    let pool = Subsets.Permutation(splits.Train.Count, Seeds.Derive(seed, "pool"))
    use indices =
        match args.TryGetResult Subset with
        | Some n when n >= 1 && int64 n <= splits.Train.Count -> Subsets.Prefix(pool, int64 n)
        | Some n -> failwithf "--subset %d: must be in 1..%d" n splits.Train.Count
        | None -> pool
    use model = ModelFactory.Create(spec, splits.Train.Shape, splits.Train.NumClasses, Seeds.Derive(seed, "init"))
    model.``to``(device) |> ignore
    printfn "training %O on %s (%d examples, %d threads, %O), %O, batch %d, %O"
        spec dataName indices.shape[0] threads device optimizer batch stop
    let opts =
        TrainOptions(OptimizerSpec = optimizer, BatchSize = batch, Stop = stop, OrderSeed = Seeds.Derive(seed, "order"),
                     Device = device,
                     AfterEpoch = fun r -> printfn "  epoch %3d  loss %.4f  train acc %.4f  %.1fs" r.Epoch r.Loss r.TrainAccuracy r.Seconds)
    let struct (result, opt) = Trainer.Fit(model, splits.Train, indices, opts)
    opt.Dispose()
    let struct (_, testAcc) = Evaluation.Evaluate(model, splits.Test, device = device)
    printfn ""
    printfn "%-8s %-10s %-10s %-9s %-10s" "epochs" "train acc" "test acc" "seconds" "samples/s"
    printfn "%-8d %-10.4f %-10.4f %-9.1f %-10.0f" result.Epochs result.TrainAccuracy testAcc result.Seconds result.SamplesPerSecond
    if result.Diverged then
        eprintfn "training diverged (loss became NaN or infinite)"
        1
    else 0
