module WarmStart.Tests.Data.SvhnTests

open System
open System.IO
open Expecto
open TorchSharp
open WarmStart.Core.Data
open WarmStart.Tests.Fixtures
open WarmStart.Tests.Data.DataFixtures
open WarmStart.Tests.Data.CifarTests

let private bytesOf (t: torch.Tensor) = t.contiguous().data<byte>().ToArray()
let private labelsOf (t: torch.Tensor) = t.data<int64>().ToArray()

/// NCHW bytes of fixture image i.
let private expectedImage (i: int) =
    [| for ch in 0 .. 2 do
           for r in 0 .. 31 do
               for c in 0 .. 31 -> svhnPixel i ch r c |]

/// NCHW bytes the fixture's X should become.
let private expectedImages (n: int) = Array.concat [ for i in 0 .. n - 1 -> expectedImage i ]

let private expectedLabels (n: int) = [| for i in 0 .. n - 1 -> int64 (i % 10) |]

let private read (path: string) = SvhnFormat.ReadFile(path, Normalization.Half 3)

/// A valid uncompressed file's bytes with n images.
let private validFile n = matBytes matDefaults [ svhnX n; svhnYBytes (svhnFileLabels n) ]

/// Reverses each size-byte group (little- → big-endian data).
let private swapGroups (size: int) (b: byte[]) = b |> Array.chunkBySize size |> Array.collect Array.rev

/// The committed scipy.io.savemat fixture (tests/fixtures/make-svhn-scipy.py).
let private scipyFixture () = Path.Combine(repoRoot.Force(), "tests", "fixtures", "svhn-scipy.mat")

[<Tests>]
let tests =
    testList "data.svhn" [
        test "an uncompressed MAT-file: column-major 32×32×3×N becomes NCHW, label 10 becomes 0" {
            use d = new TempDir()
            let p = writeSvhn (d.File "a.mat") false 12
            use s = read p
            Expect.equal s.Images.shape [| 12L; 3L; 32L; 32L |] "NCHW"
            Expect.equal s.Images.dtype torch.ScalarType.Byte "uint8"
            Expect.equal (bytesOf s.Images) (expectedImages 12) "every pixel in place"
            Expect.equal (labelsOf s.Labels) (expectedLabels 12) "labels 0..9 (10 → 0)"
            Expect.equal (s.Images[3L, 1L, 5L, 30L].item<byte>()) (svhnPixel 3 1 5 30) "row 5, column 30 (not transposed)"
        }
        test "zlib-compressed (miCOMPRESSED) elements read the same as uncompressed ones" {
            use d = new TempDir()
            use a = read (writeSvhn (d.File "u.mat") false 7)
            use b = read (writeSvhn (d.File "z.mat") true 7)
            Expect.isTrue (same a.Images b.Images) "images"
            Expect.isTrue (same a.Labels b.Labels) "labels"
            Expect.isLessThan (FileInfo(d.File "z.mat").Length) (FileInfo(d.File "u.mat").Length) "really compressed"
        }
        test "big-endian files (MI) read the same, y as miDOUBLE" {
            use d = new TempDir()
            let labels = svhnFileLabels 6 |> List.map float
            let y = svhnYDouble labels
            let yBe = { y with Data = swapGroups 8 y.Data }
            for compress in [ false; true ] do
                let p = d.File(sprintf "be-%b.mat" compress)
                File.WriteAllBytes(p, matBytes { matDefaults with BigEndian = true; Compress = compress } [ svhnX 6; yBe ])
                use s = read p
                Expect.equal (bytesOf s.Images) (expectedImages 6) "pixels"
                Expect.equal (labelsOf s.Labels) (expectedLabels 6) "labels from big-endian doubles"
        }
        test "the scipy.io.savemat fixture (independent writer, compressed) has the recorded values" {
            let p = scipyFixture ()
            Expect.equal (md5 (File.ReadAllBytes p)) "04cac23e3db278672557e0f3bb71f736" "the committed fixture is unchanged"
            use s = read p
            Expect.equal s.Images.shape [| 5L; 3L; 32L; 32L |] "5 images"
            // Recorded when the fixture was written: y = [10, 1, 2, 9, 5]; X[1,2,0,3] = 46; X[31,0,2,4] = 105 (MATLAB r,c,ch,n).
            Expect.equal (labelsOf s.Labels) [| 0L; 1L; 2L; 9L; 5L |] "labels"
            Expect.equal (s.Images[3L, 0L, 1L, 2L].item<byte>()) 46uy "X[1,2,0,3]"
            Expect.equal (s.Images[4L, 2L, 31L, 0L].item<byte>()) 105uy "X[31,0,2,4]"
            Expect.equal (bytesOf s.Images) (expectedImages 5) "the same formula everywhere"
            use r = new MatFileReader(p)
            Expect.stringStarts r.HeaderText "MATLAB 5.0 MAT-file" "scipy's header"
        }
        test "more images than one transfer chunk (2048) stay in order across the chunk boundary" {
            use d = new TempDir()
            let p = writeSvhn (d.File "big.mat") true 2100
            use s = read p
            Expect.equal s.Count 2100L "count"
            for i in [ 0; 2047; 2048; 2099 ] do
                Expect.equal (bytesOf (s.Images[int64 i])) (expectedImage i) (sprintf "image %d" i)
            Expect.equal (labelsOf s.Labels) (expectedLabels 2100) "labels"
        }
        test "other variables are skipped; y as a 1×N row is accepted" {
            use d = new TempDir()
            let p = d.File "extra-vars.mat"
            let note = { Name = "note"; Class = Mat.mxDOUBLE; Dims = [ 1; 2 ]; DataType = Mat.miDOUBLE; Data = Array.append (BitConverter.GetBytes 1.5) (BitConverter.GetBytes 2.5); Complex = false }
            let cell = { Name = "c"; Class = Mat.mxCELL; Dims = [ 0; 0 ]; DataType = 0; Data = [||]; Complex = false }
            let yRow = { svhnYBytes (svhnFileLabels 4) with Dims = [ 1; 4 ] }
            File.WriteAllBytes(p, matBytes matDefaults [ note; svhnX 4; cell; yRow ])
            use s = read p
            Expect.equal (labelsOf s.Labels) (expectedLabels 4) "labels"
            use r = new MatFileReader(p)
            let rec names acc = match r.Next() with null -> List.rev acc | v -> names (v.Name :: acc)
            let names = names []
            Expect.equal names [ "note"; "X"; "c"; "y" ] "all variables visible"
        }
        test "svhn and svhn-extra load through the catalog; extra is appended to train" {
            use d = new TempDir()
            let dir = Path.Combine(d.Path, "svhn")
            Directory.CreateDirectory dir |> ignore
            writeSvhn (Path.Combine(dir, "train_32x32.mat")) true 5 |> ignore
            writeSvhn (Path.Combine(dir, "test_32x32.mat")) false 3 |> ignore
            Expect.equal (Catalog.Status("svhn-extra", d.Path).State) DataState.Missing "extra absent"
            writeSvhn (Path.Combine(dir, "extra_32x32.mat")) true 4 |> ignore
            use s = Catalog.Load("svhn", d.Path)
            use x = Catalog.Load("svhn-extra", d.Path)
            Expect.equal s.Train.Count 5L "train"
            Expect.equal x.Train.Count 9L "train + extra"
            Expect.equal x.Test.Count 3L "test"
            Expect.equal (labelsOf x.Train.Labels) (Array.append (expectedLabels 5) (expectedLabels 4)) "extra after train"
            Expect.equal (bytesOf (x.Train.Images.narrow(0, 5L, 4L))) (expectedImages 4) "extra's pixels"
        }
        // ------------------------------------------------------------ malformed files
        test "malformed: shorter than the 128-byte header" {
            use d = new TempDir()
            let p = d.File "short.mat"
            File.WriteAllBytes(p, (validFile 1)[.. 99])
            expectDefect p "too short" (fun () -> (read p).Dispose())
        }
        test "malformed: not a MAT-file at all" {
            use d = new TempDir()
            let p = d.File "text.mat"
            File.WriteAllBytes(p, Array.create 300 (byte 'A'))
            expectDefect p "not a MAT-file" (fun () -> (read p).Dispose())
        }
        test "malformed: MAT-file v7.3 (HDF5) is named and refused" {
            use d = new TempDir()
            let p = d.File "v73.mat"
            File.WriteAllBytes(p, matBytes { matDefaults with Version = 0x0200us; Text = "MATLAB 7.3 MAT-file, Platform: GLNXA64" } [ svhnX 1 ])
            expectDefect p "version 7.3 (HDF5) is not supported" (fun () -> (read p).Dispose())
        }
        test "malformed: an unknown version and a bad endian indicator" {
            use d = new TempDir()
            let p = d.File "v3.mat"
            File.WriteAllBytes(p, matBytes { matDefaults with Version = 0x0300us } [ svhnX 1 ])
            expectDefect p "unsupported MAT-file version 0x0300" (fun () -> (read p).Dispose())
            let q = d.File "endian.mat"
            File.WriteAllBytes(q, matBytes { matDefaults with EndianChars = "XY" } [ svhnX 1 ])
            expectDefect q "bad endian indicator" (fun () -> (read q).Dispose())
        }
        test "malformed: an uncompressed file cut inside X" {
            use d = new TempDir()
            let p = d.File "cut.mat"
            File.WriteAllBytes(p, (validFile 3)[.. 5000])
            expectDefect p "truncated" (fun () -> (read p).Dispose())
        }
        test "malformed: a compressed element cut short" {
            use d = new TempDir()
            let p = d.File "cutz.mat"
            let full = matBytes { matDefaults with Compress = true } [ svhnX 3; svhnYBytes [ 1; 2; 3 ] ]
            File.WriteAllBytes(p, full[.. 400])
            expectDefect p "truncated" (fun () -> (read p).Dispose())
        }
        test "malformed: corrupt zlib data" {
            use d = new TempDir()
            let p = d.File "corrupt.mat"
            // Random pixels so the deflate stream is long; then overwrite a run in its middle.
            let rnd = Random(5)
            let x = { svhnX 3 with Data = Array.init (3 * 3072) (fun _ -> byte (rnd.Next 256)) }
            let b = matBytes { matDefaults with Compress = true } [ x; svhnYBytes [ 1; 2; 3 ] ]
            for k in 0 .. 63 do b[2000 + k] <- byte (b[2000 + k] ^^^ 0x5Auy)
            File.WriteAllBytes(p, b)
            expectDefect p "zlib" (fun () -> (read p).Dispose())
        }
        test "malformed: X of the wrong class (double)" {
            use d = new TempDir()
            let p = d.File "xdouble.mat"
            let x = { svhnX 1 with Class = Mat.mxDOUBLE; DataType = Mat.miDOUBLE; Data = Array.zeroCreate (3072 * 8) }
            File.WriteAllBytes(p, matBytes matDefaults [ x; svhnYBytes [ 1 ] ])
            expectDefect p "X has class Double" (fun () -> (read p).Dispose())
        }
        test "malformed: X with the wrong dimensions" {
            use d = new TempDir()
            let p = d.File "dims.mat"
            let x = { svhnX 1 with Dims = [ 28; 28; 3; 1 ]; Data = Array.zeroCreate (28 * 28 * 3) }
            File.WriteAllBytes(p, matBytes matDefaults [ x; svhnYBytes [ 1 ] ])
            expectDefect p "X has dimensions 28×28×3×1" (fun () -> (read p).Dispose())
            let q = d.File "rank3.mat"
            File.WriteAllBytes(q, matBytes matDefaults [ { svhnX 1 with Dims = [ 32; 32; 3 ] }; svhnYBytes [ 1 ] ])
            expectDefect q "32×32×3×N" (fun () -> (read q).Dispose())
        }
        test "malformed: labels outside 1..10 or not integers" {
            use d = new TempDir()
            for (name, y) in [ "zero", svhnYBytes [ 1; 0 ]; "eleven", svhnYBytes [ 11; 1 ]; "half", svhnYDouble [ 2.5; 1.0 ] ] do
                let p = d.File(name + ".mat")
                File.WriteAllBytes(p, matBytes matDefaults [ svhnX 2; y ])
                expectDefect p "outside 1..10" (fun () -> (read p).Dispose())
        }
        test "malformed: label and image counts disagree; y or X missing" {
            use d = new TempDir()
            let p = d.File "count.mat"
            File.WriteAllBytes(p, matBytes matDefaults [ svhnX 3; svhnYBytes [ 1; 2 ] ])
            expectDefect p "2 labels in y but 3 images in X" (fun () -> (read p).Dispose())
            let q = d.File "noy.mat"
            File.WriteAllBytes(q, matBytes matDefaults [ svhnX 3 ])
            expectDefect q "no variable 'y'" (fun () -> (read q).Dispose())
            let r = d.File "nox.mat"
            File.WriteAllBytes(r, matBytes matDefaults [ svhnYBytes [ 1 ] ])
            expectDefect r "no variable 'X'" (fun () -> (read r).Dispose())
        }
        test "malformed: a real part whose size disagrees with the dimensions" {
            use d = new TempDir()
            let p = d.File "size.mat"
            let x = { svhnX 2 with Dims = [ 32; 32; 3; 3 ] }
            File.WriteAllBytes(p, matBytes { matDefaults with Compress = true } [ x; svhnYBytes [ 1; 2; 3 ] ])
            expectDefect p "need 9216" (fun () -> (read p).Dispose())
        }
        test "malformed: a top-level element that is neither miMATRIX nor miCOMPRESSED" {
            use d = new TempDir()
            let p = d.File "top.mat"
            let b = validFile 1
            b[128] <- 9uy // miDOUBLE
            File.WriteAllBytes(p, b)
            expectDefect p "unexpected top-level data type miDOUBLE" (fun () -> (read p).Dispose())
        }
        test "malformed: array flags of the wrong type" {
            use d = new TempDir()
            let p = d.File "flags.mat"
            let b = validFile 1
            b[136] <- 5uy // the flags sub-element's type: miINT32 instead of miUINT32
            File.WriteAllBytes(p, b)
            expectDefect p "array flags has data type miINT32" (fun () -> (read p).Dispose())
        }
        test "fuzz: truncations every 13 bytes and 300 byte flips give a DataFormatException or a valid read, nothing else" {
            use d = new TempDir()
            let files = [ validFile 2; matBytes { matDefaults with Compress = true } [ svhnX 2; svhnYDouble [ 10.0; 3.0 ] ] ]
            let p = d.File "fuzz.mat"
            let attempt (bytes: byte[]) =
                File.WriteAllBytes(p, bytes)
                try (read p).Dispose()
                with
                | :? DataFormatException -> ()
                | e -> failtestf "%s after mutation: %s" (e.GetType().Name) e.Message
            for f in files do
                for cut in 0 .. 13 .. f.Length - 1 do attempt f[.. cut - 1]
                let rnd = Random(11)
                for _ in 1 .. 150 do
                    let b = Array.copy f
                    let k = rnd.Next(128, b.Length)
                    b[k] <- byte (rnd.Next 256)
                    attempt b
        }
    ]
