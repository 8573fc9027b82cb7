module WarmStart.Tests.Data.IdxTests

open System.IO
open Expecto
open WarmStart.Core.Data
open WarmStart.Tests.Fixtures


let private defect (path: string) (bytes: byte[]) (rank: int) =
    File.WriteAllBytes(path, bytes)
    try
        IdxReader.Read(path, rank) |> ignore
        failtest "expected a DataFormatException"
        ""
    with :? DataFormatException as e ->
        Expect.stringContains e.Message path "the error names the file"
        e.Message

[<Tests>]
let tests =
    testList "data.idx" [
        test "reads a hand-made raw IDX image file with known values" {
            use d = new TempDir()
            let p = d.File "img"
            File.WriteAllBytes(p, idxBytes [ 2; 2; 3 ] [| 1uy .. 12uy |])
            let a = IdxReader.Read(p, 3)
            Expect.equal a.Dims [| 2; 2; 3 |] "dims"
            Expect.equal a.Data [| 1uy .. 12uy |] "payload in order"
        }
        test "reads gzip and raw identically" {
            use d = new TempDir()
            let bytes = idxBytes [ 5 ] [| 0uy; 1uy; 2uy; 3uy; 4uy |]
            File.WriteAllBytes(d.File "raw", bytes)
            File.WriteAllBytes(d.File "z.gz", gzip bytes)
            Expect.equal (IdxReader.Read(d.File "raw", 1).Data) (IdxReader.Read(d.File "z.gz", 1).Data) "same payload"
        }
        test "bad magic is reported" {
            use d = new TempDir()
            let m = defect (d.File "bad") [| 1uy; 2uy; 8uy; 1uy; 0uy; 0uy; 0uy; 1uy; 0uy |] 1
            Expect.stringContains m "magic" "says magic"
        }
        test "unsupported element type is reported" {
            use d = new TempDir()
            let m = defect (d.File "f32") [| 0uy; 0uy; 0x0Duy; 1uy; 0uy; 0uy; 0uy; 1uy; 0uy; 0uy; 0uy; 0uy |] 1
            Expect.stringContains m "element type" "says type"
        }
        test "wrong rank is reported" {
            use d = new TempDir()
            let m = defect (d.File "rank") (idxBytes [ 2; 2 ] [| 0uy; 0uy; 0uy; 0uy |]) 3
            Expect.stringContains m "rank 2 where 3" "says rank"
        }
        test "truncated payload is reported with the byte counts" {
            use d = new TempDir()
            let m = defect (d.File "short") (idxBytes [ 2; 2; 2 ] [| 0uy .. 5uy |]) 3
            Expect.stringContains m "truncated payload" "says truncated"
            Expect.stringContains m "need 8 bytes, file has 6" "counts"
        }
        test "truncated header is reported" {
            use d = new TempDir()
            let m = defect (d.File "hdr") [| 0uy; 0uy; 8uy; 3uy; 0uy; 0uy |] 3
            Expect.stringContains m "header truncated" "says header"
        }
        test "trailing bytes are reported" {
            use d = new TempDir()
            let m = defect (d.File "long") (idxBytes [ 2 ] [| 0uy; 1uy; 2uy |]) 1
            Expect.stringContains m "trailing" "says trailing"
        }
        test "a corrupt gzip stream is reported, not thrown raw" {
            use d = new TempDir()
            let gz = gzip (idxBytes [ 100 ] (Array.zeroCreate 100))
            let m = defect (d.File "cut.gz") gz[.. gz.Length / 2] 1
            Expect.stringContains m "gzip" "says gzip"
        }
        test "label and image counts must agree" {
            use d = new TempDir()
            File.WriteAllBytes(d.File "i", idxBytes [ 3; 2; 2 ] (Array.zeroCreate 12))
            File.WriteAllBytes(d.File "l", idxBytes [ 2 ] [| 0uy; 1uy |])
            let e = Expect.throwsT<DataFormatException> (fun () -> MnistFormat.LoadSplit("x", d.File "i", d.File "l", 10, Normalization.Half 1) |> ignore) "mismatch"
            ()
        }
        test "labels outside the class range are reported" {
            use d = new TempDir()
            File.WriteAllBytes(d.File "i", idxBytes [ 2; 2; 2 ] (Array.zeroCreate 8))
            File.WriteAllBytes(d.File "l", idxBytes [ 2 ] [| 0uy; 12uy |])
            Expect.throwsT<DataFormatException> (fun () -> MnistFormat.LoadSplit("x", d.File "i", d.File "l", 10, Normalization.Half 1) |> ignore) "label 12 of 10 classes"
        }
        test "a fixture folder loads as uint8 NCHW and int64 labels through the catalog" {
            use d = new TempDir()
            writeMnistFolder (Path.Combine(d.Path, "mnist")) 6 4 3 2 3 true |> ignore
            use s = Catalog.Load("mnist", d.Path)
            Expect.equal (s.Train.Images.shape) [| 6L; 1L; 3L; 2L |] "train NCHW"
            Expect.equal (s.Train.Images.dtype) TorchSharp.torch.ScalarType.Byte "uint8"
            Expect.equal (s.Test.Labels.dtype) TorchSharp.torch.ScalarType.Int64 "int64 labels"
            Expect.equal (s.Train.Labels.data<int64>().ToArray()) [| 0L; 1L; 2L; 0L; 1L; 2L |] "labels"
            Expect.equal (s.Train.Images[1L, 0L, 0L, 1L].item<byte>()) 8uy "pixel (i*7 + k) for i=1,k=1"
        }
        test "a missing dataset lists every place looked and the remedies" {
            use d = new TempDir()
            let mnist = Catalog.Get "mnist"
            Catalog.Register(DatasetEntry("absent-fixture", "warmstart-absent-fixture", 1, 2, 2, [| "a"; "b" |], mnist.Normalization,
                                          mnist.Files, null, mnist.IsPresentIn, mnist.Load))
            Expect.throwsT<DatasetNotFoundException> (fun () -> Catalog.Load("absent-fixture", d.Path) |> ignore) "absent"
            Expect.isNull (Catalog.Locate("absent-fixture", d.Path)) "not located"
            writeMnistFolder (Path.Combine(d.Path, "warmstart-absent-fixture")) 2 2 2 2 2 false |> ignore
            Expect.equal (Catalog.Locate("absent-fixture", d.Path)) (Path.Combine(d.Path, "warmstart-absent-fixture")) "found under --data-root once present"
        }
        test "the not-found message names the roots and apt remedy" {
            use d = new TempDir()
            let msg = (Catalog.NotFound(Catalog.Get "fashion-mnist", d.Path)).Message
            Expect.stringContains msg (Path.Combine(d.Path, "fashion-mnist")) "explicit root"
            Expect.stringContains msg "/usr/share/datasets/fashion-mnist" "system root"
            Expect.stringContains msg "apt-get install -y dataset-fashion-mnist" "apt remedy"
            Expect.stringContains msg "warmstart data fetch fashion-mnist" "fetch remedy"
        }
        test "real Fashion-MNIST loads with the official sizes" {
            let s = fashionMnist.Force()
            Expect.equal s.Train.Images.shape [| 60000L; 1L; 28L; 28L |] "train"
            Expect.equal s.Test.Images.shape [| 10000L; 1L; 28L; 28L |] "test"
            Expect.equal (s.Train.Labels.bincount(null).data<int64>().ToArray()) (Array.create 10 6000L) "balanced classes"
        }
    ]
