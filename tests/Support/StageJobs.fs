/// One small core stage for the stage-runner tests: MLP 784-32-10 on Fashion-MNIST, Adam 1e-3, batch 64, a fixed
/// number of epochs, seeded data order, evaluated on the test split.
module WarmStart.Tests.StageJobs

open System
open TorchSharp
open WarmStart.Core.Models
open WarmStart.Core.Runs
open WarmStart.Core.Training
open WarmStart.Tests.Fixtures

/// Fashion-MNIST's two splits (loaded once per test process).
let splits () = fashionMnist.Force()

/// The tests' model spec.
let spec = ModelSpec.Mlp(32)

/// A fresh model of `spec` from a seed.
let fresh = Func<int64, Network>(fun seed -> ModelFactory.Create(spec, splits().Train.Shape, 10, seed))

/// The stage on `idx` from `start`, for `epochs` epochs, evaluated every `every` epochs (0: at the end only).
let mlpJob (idx: torch.Tensor) (start: StageStart) (epochs: int) (every: int) =
    StageJob(Train = splits().Train, Indices = idx, EvalData = splits().Test, Fresh = fresh, Start = start,
             Optimizer = OptimizerSpec.Adam 1e-3, Stop = StopRule.Epochs epochs, BatchSize = 64, OrderSeed = 21L,
             OriginalInitSeed = 4L, EvaluateEvery = every)
