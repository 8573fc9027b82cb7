/// Dataset views: class subsets, label noise, permuted pixels, random labels — applied to the uint8 data once,
/// described by a key that rebuilds the same view anywhere.
module WarmStart.Tests.Fidelity.DatasetViewTests

open Expecto
open TorchSharp
open WarmStart.Core.Data
open WarmStart.Tests.Policies.PolicyFixtures

/// Train: 12 images of 1×2×3 whose pixels are i*10 + position; labels i mod 4. Test: 8 such images.
let private splits () =
    let make n =
        let rows = [| for i in 0 .. n - 1 -> [| for p in 0 .. 5 -> byte (i * 10 + p) |] |]
        let images = torch.tensor(Array.concat rows, dtype = torch.ScalarType.Byte).reshape(int64 n, 1L, 2L, 3L)
        let labels = torch.tensor([| for i in 0 .. n - 1 -> int64 (i % 4) |], dtype = torch.ScalarType.Int64)
        new Dataset("toy", images, labels, 4, Normalization.Identity 1)
    new DataSplits(make 12, make 8, [| "a"; "b"; "c"; "d" |])

let private longs (t: torch.Tensor) = t.data<int64>().ToArray()
let private firstPixels (d: Dataset) = d.Images.reshape(d.Count, -1L).select(1L, 0L).to_type(torch.ScalarType.Int64) |> longs

[<Tests>]
let tests =
    testList "fidelity.views" [
        test "classes [2; 0]: only those examples, relabelled in the order given, train and test, class names too" {
            use s = splits ()
            use v = DatasetView([ ClassSubset [| 2; 0 |] ]).Apply s
            Expect.equal (longs v.Train.Labels) [| 1L; 0L; 1L; 0L; 1L; 0L |] "labels 0 → 1, 2 → 0"
            Expect.equal (firstPixels v.Train) [| 0L; 20L; 40L; 60L; 80L; 100L |] "examples 0, 2, 4, … in order"
            Expect.equal (longs v.Test.Labels) [| 1L; 0L; 1L; 0L |] "test"
            Expect.equal v.Train.NumClasses 2 "k"
            Expect.equal v.ClassNames [| "c"; "a" |] "names"
            Expect.equal v.Train.Name "toy[classes=2,0]" "named by its key"
            Expect.equal (longs s.Train.Labels).Length 12 "the source is unchanged"
        }
        test "label noise: exactly round(f·N) training labels change, each to another class; seeded; test clean" {
            use s = splits ()
            use a = DatasetView([ LabelNoise(0.5, 7L) ]).Apply s
            use b = DatasetView([ LabelNoise(0.5, 7L) ]).Apply s
            use c = DatasetView([ LabelNoise(0.5, 8L) ]).Apply s
            let orig = longs s.Train.Labels
            let changed = Array.map2 (<>) orig (longs a.Train.Labels) |> Array.filter id |> Array.length
            Expect.equal changed 6 "6 of 12 changed, none to itself"
            Expect.isTrue (longs a.Train.Labels |> Array.forall (fun l -> l >= 0L && l < 4L)) "labels in range"
            Expect.equal (longs a.Train.Labels) (longs b.Train.Labels) "same seed, same labels"
            Expect.notEqual (longs a.Train.Labels) (longs c.Train.Labels) "another seed, other labels"
            Expect.equal (longs a.Test.Labels) (longs s.Test.Labels) "test labels clean"
            Expect.isTrue (WarmStart.Tests.Fixtures.same a.Train.Images s.Train.Images) "images untouched"
        }
        test "permuted pixels: one seeded permutation of positions for every image of both splits" {
            use s = splits ()
            use v = DatasetView([ PermutedPixels 3L ]).Apply s
            use again = DatasetView([ PermutedPixels 3L ]).Apply s
            let perm (d: Dataset) i = d.Images.[int64 i].flatten().to_type(torch.ScalarType.Int64) |> longs |> Array.map (fun p -> p - int64 (i * 10))
            let p0 = perm v.Train 0
            Expect.equal (Array.sort p0) [| 0L .. 5L |] "a permutation of the 6 positions"
            Expect.notEqual p0 [| 0L .. 5L |] "not the identity"
            for i in 1 .. 11 do Expect.equal (perm v.Train i) p0 (sprintf "train image %d" i)
            for i in 0 .. 7 do Expect.equal (perm v.Test i) p0 (sprintf "test image %d" i)
            Expect.equal (perm again.Train 5) p0 "deterministic"
            Expect.equal (longs v.Train.Labels) (longs s.Train.Labels) "labels kept"
        }
        test "random labels: seeded uniform training labels; test labels kept" {
            use s = splits ()
            use v = DatasetView([ RandomLabels 5L ]).Apply s
            use w = DatasetView([ RandomLabels 5L ]).Apply s
            Expect.isTrue (longs v.Train.Labels |> Array.forall (fun l -> l >= 0L && l < 4L)) "in range"
            Expect.equal (longs v.Train.Labels) (longs w.Train.Labels) "seeded"
            Expect.notEqual (longs v.Train.Labels) (longs s.Train.Labels) "not the true labels"
            Expect.equal (longs v.Test.Labels) (longs s.Test.Labels) "test kept"
        }
        test "steps compose in order; the key round-trips through Parse and rebuilds the same data" {
            use s = splits ()
            let view = DatasetView([ ClassSubset [| 3; 1 |]; PermutedPixels 2L; LabelNoise(0.25, 9L); RandomLabels 4L ])
            Expect.equal view.Key "classes=3,1|permute_pixels@2|label_noise=0.25@9|random_labels@4" "key"
            let parsed = DatasetView.Parse view.Key
            Expect.equal parsed.Key view.Key "round trip"
            use a = view.Apply s
            use b = parsed.Apply s
            Expect.isTrue (WarmStart.Tests.Fixtures.same a.Train.Images b.Train.Images) "images"
            Expect.equal (longs a.Train.Labels) (longs b.Train.Labels) "labels"
            Expect.equal a.Train.Count 6L "classes 3 and 1 of 12"
            Expect.equal DatasetView.None.Key "" "identity"
        }
        test "bad views are refused, naming the step, the value and what is allowed" {
            let refused (fragment: string) (f: unit -> obj) =
                let e = Expect.throwsC (fun () -> f () |> ignore) id
                Expect.stringContains e.Message fragment "message"
            refused "name at least one class" (fun () -> box (DatasetView [ ClassSubset [||] ]))
            refused "class 1 is listed twice" (fun () -> box (DatasetView [ ClassSubset [| 1; 1 |] ]))
            refused "allowed: 0 ≤ fraction ≤ 1" (fun () -> box (DatasetView [ LabelNoise(1.5, 1L) ]))
            refused "not known" (fun () -> box (DatasetView.Parse "blur=3"))
            use s = splits ()
            refused "class 9 is not in toy (allowed: 0 to 3)" (fun () -> box (DatasetView([ ClassSubset [| 9 |] ]).Apply s))
        }
        test "Fashion-MNIST classes [0..4]: half of each split, labels 0..4 (real data)" {
            let fm = WarmStart.Tests.Fixtures.fashionMnist.Force()
            use v = DatasetView([ ClassSubset [| 0; 1; 2; 3; 4 |] ]).Apply fm
            Expect.equal (v.Train.Count, v.Test.Count) (30000L, 5000L) "6000 and 1000 per class"
            Expect.equal (v.Train.Labels.max().item<int64>()) 4L "relabelled"
            Expect.equal v.ClassNames.[0] fm.ClassNames.[0] "names"
        }
    ]
