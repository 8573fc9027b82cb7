module WarmStart.Tests.Data.CifarTests

open System.IO
open Expecto
open TorchSharp
open WarmStart.Core.Data
open WarmStart.Tests.Fixtures
open WarmStart.Tests.Data.DataFixtures

/// Runs f and expects a DataFormatException naming path and containing what.
let expectDefect (path: string) (what: string) (f: unit -> unit) =
    let msg =
        try
            f ()
            failtestf "expected a DataFormatException for %s" path
        with :? DataFormatException as e -> e.Message
    Expect.stringContains msg path "the error names the file"
    Expect.stringContains msg what "the error names the defect"

let private bytesOf (t: torch.Tensor) = t.contiguous().data<byte>().ToArray()
let private int64sOf (t: torch.Tensor) = t.data<int64>().ToArray()

[<Tests>]
let tests =
    testList "data.cifar" [
        test "CIFAR-10 folder reads as uint8 NCHW with exact pixels, labels and meta class names" {
            use d = new TempDir()
            let dir = writeCifar10Folder (d.File "c10") 4 3
            use s = CifarFormat.LoadCifar10(dir, Normalization.Half 3)
            Expect.equal s.Train.Images.shape [| 20L; 3L; 32L; 32L |] "train shape"
            Expect.equal s.Test.Images.shape [| 3L; 3L; 32L; 32L |] "test shape"
            Expect.equal s.Train.Images.dtype torch.ScalarType.Byte "uint8, never float"
            Expect.equal (bytesOf s.Train.Images) (Array.concat [ for i in 0 .. 19 -> cifarPixels i ]) "every train pixel"
            Expect.equal (bytesOf s.Test.Images) (Array.concat [ for i in 20 .. 22 -> cifarPixels i ]) "every test pixel"
            Expect.equal (int64sOf s.Train.Labels) [| for i in 0 .. 19 -> int64 (cifar10Label i) |] "train labels"
            Expect.equal (s.Train.Images[5L, 2L, 7L, 9L].item<byte>()) (cifarPixel 5 2 7 9) "channel plane B, row 7, column 9"
            Expect.equal s.ClassNames CifarFormat.Cifar10Classes "class names from batches.meta.txt"
        }
        test "CIFAR-10 loads through the catalog from a data root" {
            use d = new TempDir()
            writeCifar10Folder (Path.Combine(d.Path, "cifar-10-batches-bin")) 2 2 |> ignore
            use s = Catalog.Load("cifar10", d.Path)
            Expect.equal s.Train.Count 10L "5 batches × 2"
            Expect.equal s.Train.NumClasses 10 "10 classes"
            Expect.equal (Catalog.Status("cifar10", d.Path).State) DataState.Unverified "placed by hand: unverified but loadable"
        }
        test "CIFAR-100 has fine labels by default and coarse ones on request, with names from the meta files" {
            use d = new TempDir()
            let dir = writeCifar100Folder (Path.Combine(d.Path, "cifar-100-binary")) 30 5
            use fine = Catalog.Load("cifar100", d.Path)
            use coarse = CifarFormat.LoadCifar100(dir, Normalization.Half 3, Cifar100Label.Coarse)
            use coarse2 = Catalog.Load("cifar100-coarse", d.Path)
            Expect.equal (int64sOf fine.Train.Labels) [| for i in 0 .. 29 -> int64 (snd (cifar100Labels i)) |] "fine"
            Expect.equal (int64sOf coarse.Train.Labels) [| for i in 0 .. 29 -> int64 (fst (cifar100Labels i)) |] "coarse"
            Expect.equal (int64sOf coarse2.Test.Labels) [| for i in 30 .. 34 -> int64 (fst (cifar100Labels i)) |] "coarse through the catalog"
            Expect.equal fine.Train.NumClasses 100 "100 fine classes"
            Expect.equal coarse.Train.NumClasses 20 "20 coarse classes"
            Expect.equal fine.ClassNames.Length 100 "fine names"
            Expect.equal coarse.ClassNames[19] "vehicles_2" "coarse names"
            Expect.equal (bytesOf fine.Test.Images) (Array.concat [ for i in 30 .. 34 -> cifarPixels i ]) "pixels after two label bytes"
        }
        test "built-in class lists have the official counts" {
            Expect.equal CifarFormat.Cifar10Classes.Length 10 "10"
            Expect.equal CifarFormat.Cifar100FineClasses.Length 100 "100"
            Expect.equal CifarFormat.Cifar100CoarseClasses.Length 20 "20"
            Expect.equal (Set.ofArray CifarFormat.Cifar100FineClasses).Count 100 "distinct"
        }
        test "malformed: a truncated last record" {
            use d = new TempDir()
            let dir = writeCifar10Folder (d.File "c") 3 2
            let p = Path.Combine(dir, "data_batch_2.bin")
            let b = File.ReadAllBytes p
            File.WriteAllBytes(p, b[.. b.Length - 100])
            expectDefect p "truncated" (fun () -> CifarFormat.LoadCifar10(dir, Normalization.Half 3).Dispose())
        }
        test "malformed: a CIFAR-10 label outside 0..9" {
            use d = new TempDir()
            let dir = writeCifar10Folder (d.File "c") 3 2
            let p = Path.Combine(dir, "test_batch.bin")
            let b = File.ReadAllBytes p
            b[3073] <- 10uy // second record's label
            File.WriteAllBytes(p, b)
            expectDefect p "record 1: label 10 outside 0..9" (fun () -> CifarFormat.LoadCifar10(dir, Normalization.Half 3).Dispose())
        }
        test "malformed: CIFAR-100 fine label 100 and coarse label 20" {
            use d = new TempDir()
            let dir = writeCifar100Folder (d.File "c") 4 2
            let p = Path.Combine(dir, "train.bin")
            let good = File.ReadAllBytes p
            let b = Array.copy good
            b[1] <- 100uy
            File.WriteAllBytes(p, b)
            expectDefect p "fine label 100 outside 0..99" (fun () -> CifarFormat.LoadCifar100(dir, Normalization.Half 3).Dispose())
            let b2 = Array.copy good
            b2[3074 * 2] <- 20uy
            File.WriteAllBytes(p, b2)
            expectDefect p "record 2: coarse label 20 outside 0..19" (fun () -> CifarFormat.LoadCifar100(dir, Normalization.Half 3, Cifar100Label.Coarse).Dispose())
        }
        test "malformed: an empty batch file and a missing one" {
            use d = new TempDir()
            let dir = writeCifar10Folder (d.File "c") 2 2
            let p = Path.Combine(dir, "data_batch_4.bin")
            File.WriteAllBytes(p, [||])
            expectDefect p "empty" (fun () -> CifarFormat.LoadCifar10(dir, Normalization.Half 3).Dispose())
            File.Delete p
            expectDefect p "missing" (fun () -> CifarFormat.LoadCifar10(dir, Normalization.Half 3).Dispose())
        }
        test "malformed: a class-name file with the wrong number of names" {
            use d = new TempDir()
            let dir = writeCifar100Folder (d.File "c") 2 2
            let p = Path.Combine(dir, "coarse_label_names.txt")
            File.WriteAllLines(p, [| "a"; "b"; "c" |])
            expectDefect p "3 class names where 20 were expected" (fun () ->
                CifarFormat.LoadCifar100(dir, Normalization.Half 3, Cifar100Label.Coarse).Dispose())
        }
        test "a CIFAR-100 file read as CIFAR-10 is refused, not misread" {
            use d = new TempDir()
            let p = d.File "train.bin"
            // 3 CIFAR-100 records = 3 × 3074 bytes: not a whole number of 3073-byte CIFAR-10 records.
            File.WriteAllBytes(p, cifarRecords 0 3 (fun i -> let (c, f) = cifar100Labels i in [| byte c; byte f |]))
            expectDefect p "3073-byte records" (fun () -> CifarFormat.ReadSplit("x", [| p |], [| 10 |], 0, Normalization.Half 3).Dispose())
        }
    ]
