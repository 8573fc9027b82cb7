module WarmStart.Tests.Data.AugmentationTests

open Expecto
open TorchSharp
open WarmStart.Core.Data
open WarmStart.Core.Models
open WarmStart.Core.Training
open WarmStart.Tests.Fixtures

let private randomImages (n: int64) (seed: int64) =
    use g = new torch.Generator(uint64 seed)
    torch.randint(0L, 256L, [| n; 3L; 32L; 32L |], generator = g, dtype = torch.ScalarType.Int64).to_type(torch.ScalarType.Byte)

/// Reference for one image: the crop at (dy, dx) of the 4-padded image, flipped when asked (managed loops; fine in a test).
let private reference (img: byte[,,]) (dy: int) (dx: int) (flip: bool) =
    Array3D.init 3 32 32 (fun ch r c ->
        let c' = if flip then 31 - c else c
        let pr, pc = r + dy - 4, c' + dx - 4
        if pr < 0 || pr >= 32 || pc < 0 || pc >= 32 then 0uy else img[ch, pr, pc])

let private toArray3 (t: torch.Tensor) =
    let flat = t.contiguous().data<byte>().ToArray()
    Array3D.init 3 32 32 (fun ch r c -> flat[ch * 1024 + r * 32 + c])

/// Which (dy, dx, flip) produced out from img; exactly one for random images.
let private matches (img: byte[,,]) (out: byte[,,]) =
    [ for dy in 0 .. 8 do
        for dx in 0 .. 8 do
            for flip in [ false; true ] do
                if reference img dy dx flip = out then yield (dy, dx, flip) ]

[<Tests>]
let tests =
    testList "data.augment" [
        test "every output is one crop of the zero-padded input, possibly flipped; shape and dtype kept" {
            use x = randomImages 24L 1L
            use g = new torch.Generator(7UL)
            use y = Augmentation.Standard.Apply(x, g)
            Expect.equal y.shape x.shape "shape"
            Expect.equal y.dtype torch.ScalarType.Byte "uint8 in, uint8 out"
            for i in 0L .. 23L do
                let m = matches (toArray3 x[i]) (toArray3 y[i])
                Expect.equal m.Length 1 (sprintf "sample %d is exactly one crop/flip" i)
        }
        test "offsets cover all 81 positions and both flips, roughly uniformly" {
            use x = randomImages 1L 2L
            use many = x.expand(4000L, 3L, 32L, 32L).contiguous()
            use g = new torch.Generator(3UL)
            use y = Augmentation.Standard.Apply(many, g)
            // Identify each sample's offset cheaply: the input is one image, so compare with all 162 references at once.
            let img = toArray3 x[0L]
            let refs = [ for dy in 0 .. 8 do for dx in 0 .. 8 do for flip in [ false; true ] -> (dy, dx, flip), reference img dy dx flip ]
            let refBytes : byte[] = refs |> List.map (fun (_, r) -> r |> Seq.cast<byte> |> Array.ofSeq) |> Array.concat
            use refT : torch.Tensor = torch.tensor(refBytes, torch.ScalarType.Byte).reshape(162L, 3072L)
            // Exact integer signatures (float64 random projections) instead of comparing 4000 × 162 × 3072 bytes.
            use pg = new torch.Generator(9UL)
            use proj = torch.randint(0L, 100L, [| 3072L; 4L |], generator = pg, dtype = torch.ScalarType.Float64)
            use sigs = y.reshape(4000L, 3072L).to_type(torch.ScalarType.Float64).matmul(proj)
            use refSig = refT.to_type(torch.ScalarType.Float64).matmul(proj)
            use eq = sigs.unsqueeze(1).eq(refSig.unsqueeze(0)).all(2L)   // [4000, 162]
            let idx = eq.to_type(torch.ScalarType.Int64).argmax(1L).data<int64>().ToArray()
            Expect.isTrue (eq.any(1L).all().item<bool>()) "every sample matches a reference"
            let counts = idx |> Array.countBy id |> Map.ofArray
            Expect.equal counts.Count 162 "all 81 offsets × 2 flips occur"
            let flips = idx |> Array.filter (fun k -> k % 2L = 1L) |> Array.length
            Expect.isTrue (flips > 1800 && flips < 2200) (sprintf "about half flipped (%d)" flips)
            Expect.isTrue (counts |> Map.forall (fun _ c -> c > 5 && c < 60)) "no position starved or favoured"
        }
        test "seeded: same seed same batch, another seed another; float input gives the same crops as uint8" {
            use x = randomImages 16L 4L
            let run (seed: uint64) (t: torch.Tensor) =
                use g = new torch.Generator(seed)
                Augmentation.Standard.Apply(t, g)
            use a = run 11UL x
            use b = run 11UL x
            use c = run 12UL x
            Expect.isTrue (same a b) "deterministic"
            Expect.isFalse (same a c) "seed matters"
            use xf = x.to_type(torch.ScalarType.Float32)
            use af = run 11UL xf
            Expect.isTrue (same af (a.to_type(torch.ScalarType.Float32))) "float batch: identical crops and flips"
        }
        test "padding 0 without flip is the identity; the input is never modified" {
            use x = randomImages 4L 5L
            use before = x.clone()
            use g = new torch.Generator(1UL)
            use y = (Augmentation(0, false)).Apply(x, g)
            Expect.isTrue (same x y) "identity"
            use g2 = new torch.Generator(1UL)
            use _z = Augmentation.Standard.Apply(x, g2)
            Expect.isTrue (same x before) "input untouched"
        }
        test "off by default in training; an augmented batch is normalised float of the right shape" {
            let o = TrainOptions(OptimizerSpec = OptimizerSpec.Adam(1e-3, 0.0), Stop = StopRule.Epochs 1)
            Expect.isNull (box o.Augmentation) "no augmentation unless asked"
            use images = randomImages 10L 6L
            use labels = torch.zeros([| 10L |], dtype = torch.ScalarType.Int64)
            use ds = new Dataset("aug", images.clone(), labels.clone(), 10, Normalization.Half 3)
            use idx = torch.arange(0L, 10L, dtype = torch.ScalarType.Int64)
            use g = new torch.Generator(2UL)
            let struct (xb, yb) = ds.AugmentedBatch(idx, null, Augmentation.Standard, g)
            Expect.equal xb.shape [| 10L; 3L; 32L; 32L |] "shape"
            Expect.equal xb.dtype torch.ScalarType.Float32 "float"
            Expect.isTrue (xb.min().item<float32>() >= -1.0f && xb.max().item<float32>() <= 1.0f) "normalised to [-1, 1]"
            Expect.equal yb.shape [| 10L |] "labels"
        }
        test "training with augmentation is reproducible from the order seed and differs from training without" {
            use images = randomImages 96L 8L
            use g = new torch.Generator(8UL)
            use labels = torch.randint(0L, 10L, [| 96L |], generator = g, dtype = torch.ScalarType.Int64)
            use ds = new Dataset("aug-train", images.clone(), labels.clone(), 10, Normalization.Half 3)
            use idx = torch.arange(0L, 96L, dtype = torch.ScalarType.Int64)
            let train (aug: Augmentation) =
                use model = ModelFactory.Create(ModelSpec.Mlp 16, ds.Shape, 10, 3L)
                let o = TrainOptions(OptimizerSpec = OptimizerSpec.Adam(1e-2, 0.0), Stop = StopRule.Epochs 2, BatchSize = 32,
                                     OrderSeed = 5L, Augmentation = aug)
                let struct (r, opt) = Trainer.Fit(model, ds, idx, o)
                opt.Dispose()
                [ for e in r.Curve -> e.Loss ]
            let a1 = train Augmentation.Standard
            let a2 = train Augmentation.Standard
            let plain = train null
            Expect.equal a1 a2 "same seeds, same augmented run"
            Expect.notEqual a1 plain "augmentation changes what is trained on"
        }
    ]
