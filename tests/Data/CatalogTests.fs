module WarmStart.Tests.Data.CatalogTests

open System
open System.IO
open Expecto
open TorchSharp
open WarmStart.Core.Data
open WarmStart.Tests.Fixtures
open WarmStart.Tests.Data.DataFixtures

let private toSet (t: torch.Tensor) = t.data<int64>().ToArray() |> Set.ofArray

[<Tests>]
let tests =
    testList "data.catalog" [
        test "the paper's datasets are registered with their published sources and checksums" {
            for n in [ "cifar10"; "cifar100"; "cifar100-coarse"; "svhn"; "svhn-extra"; "fashion-mnist"; "mnist" ] do
                Expect.isTrue (Catalog.Contains n) n
            let c10 = Catalog.Get "cifar10"
            Expect.equal c10.Archive.Url "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz" "CIFAR-10 address"
            Expect.equal c10.Archive.Md5 "c32a1d4ab5d03f1284b67883e8d87530" "CIFAR-10 MD5 from the CIFAR page"
            Expect.equal (Catalog.Get "cifar100").Archive.Md5 "03b5dce01913d631647c71ecec9e9cb8" "CIFAR-100 MD5 from the CIFAR page"
            Expect.allEqual [ for f in c10.Files -> f.Md5 ] null "no invented checksums for the extracted files"
            Expect.equal [ for f in c10.Files -> f.Size.Value ] (List.replicate 6 30730000L) "record-format sizes"
            let svhnx = Catalog.Get "svhn-extra"
            Expect.equal [ for f in svhnx.Files -> f.Name, f.Md5 ]
                [ "train_32x32.mat", "e26dedcc434d2e4c54c9b2d4a06d8373"
                  "test_32x32.mat", "eb5a983be6a315427106f1b164d9cef3"
                  "extra_32x32.mat", "a93ce644f1a588dc4d68dda5feec44a7" ] "torchvision's SVHN MD5s"
            Expect.stringContains svhnx.ChecksumSource "publish none" "says where SVHN's checksums come from"
            for n in [ "cifar10"; "cifar100"; "svhn" ] do
                let e = Catalog.Get n
                Expect.equal (e.Channels, e.Height, e.Width) (3, 32, 32) n
                Expect.equal e.Normalization.Mean.Length 3 n
        }
        test "normalisation modes: the dataset's constants, the authors' 0.5/0.5, or none" {
            let e = Catalog.Get "cifar10"
            Expect.equal (e.NormalizationFor NormalizationMode.Dataset) e.Normalization "dataset"
            let h = e.NormalizationFor NormalizationMode.Authors
            Expect.equal (h.Mean, h.Std) ([| 0.5; 0.5; 0.5 |], [| 0.5; 0.5; 0.5 |]) "authors' code"
            Expect.equal (e.NormalizationFor NormalizationMode.None).Std [| 1.0; 1.0; 1.0 |] "none"
        }
        test "Debian-installed Fashion-MNIST is verified against dpkg's md5sums, not the re-gzipped published MD5s" {
            // Asked of /usr/share/datasets itself: a copy in $WARMSTART_DATA or the user cache must not be the one checked.
            let st = Catalog.Status("fashion-mnist", "/usr/share/datasets")
            Expect.equal st.Folder "/usr/share/datasets/fashion-mnist" "Debian's folder"
            Expect.equal st.State DataState.SystemPackage "system package"
            let report = Verification.Verify(Catalog.Get "fashion-mnist", st.Folder)
            Expect.equal report.State DataState.SystemPackage "dpkg's md5sums match"
            Expect.stringContains report.Detail "verified by dpkg" "says so"
        }
        test "a fake system package: covered by dpkg → loadable; a file dpkg does not know → unverified; a corrupt one → failed" {
            use d = new TempDir()
            let dir = writeMnistFolder (Path.Combine(d.Path, "pkgdata")) 4 2 3 3 10 true
            let info = Directory.CreateDirectory(d.File "dpkg-info").FullName
            let mnist = Catalog.Get "mnist"
            let e = DatasetEntry("pkg-fixture", "pkgdata", 1, 3, 3, mnist.ClassNames, mnist.Normalization, mnist.Files,
                                 "warmstart-fake-pkg", mnist.IsPresentIn, mnist.Load)
            let lines =
                [ for f in e.Files -> sprintf "%s  %s" (md5 (File.ReadAllBytes(Path.Combine(dir, f.Name)))) (Path.Combine(dir, f.Name).TrimStart('/')) ]
            File.WriteAllLines(Path.Combine(info, "warmstart-fake-pkg:amd64.md5sums"), lines)
            Expect.equal (Verification.Quick(e, dir, info).State) DataState.SystemPackage "dpkg covers it"
            Expect.equal (Verification.Verify(e, dir, info).State) DataState.SystemPackage "hashes agree"
            File.WriteAllLines(Path.Combine(info, "warmstart-fake-pkg:amd64.md5sums"), lines |> List.tail)
            Expect.equal (Verification.Quick(e, dir, info).State) DataState.Unverified "not all files covered"
            File.WriteAllLines(Path.Combine(info, "warmstart-fake-pkg:amd64.md5sums"), lines)
            let p = Path.Combine(dir, e.Files[3].Name)
            File.WriteAllBytes(p, gzip (idxBytes [ 2 ] [| 1uy; 2uy |]))
            let r = Verification.Verify(e, dir, info)
            Expect.equal r.State DataState.Failed "mismatch"
            Expect.exists r.Files (fun f -> not f.Ok && f.Detail.Contains "apt-get install --reinstall warmstart-fake-pkg") "remedy"
        }
        test "published per-file MD5s: verify records a marker; a mismatch is recorded and blocks loading until repaired" {
            use d = new TempDir()
            let dir = writeMnistFolder (Path.Combine(d.Path, "pubmd5")) 4 2 3 3 10 true
            let mnist = Catalog.Get "mnist"
            let files = [| for f in mnist.Files -> DataFile(f.Name, null, Nullable(), md5 (File.ReadAllBytes(Path.Combine(dir, f.Name)))) |]
            let e = DatasetEntry("pubmd5", "pubmd5", 1, 3, 3, mnist.ClassNames, mnist.Normalization, files, null, mnist.IsPresentIn, mnist.Load)
            Catalog.Register e
            Expect.equal (Catalog.Status("pubmd5", d.Path).State) DataState.Unverified "placed by hand"
            Expect.equal (Verification.Verify(e, dir).State) DataState.Verified "matches the published MD5s"
            Expect.equal (Catalog.Status("pubmd5", d.Path).State) DataState.Verified "marker read on the load path"
            let p = Path.Combine(dir, files[0].Name)
            let good = File.ReadAllBytes p
            let bad = Array.copy good
            bad[20] <- bad[20] ^^^ 0xFFuy
            File.WriteAllBytes(p, bad)
            Expect.equal (Verification.Verify(e, dir).State) DataState.Failed "mismatch"
            Expect.equal (Catalog.Status("pubmd5", d.Path).State) DataState.Failed "recorded"
            Expect.throwsT<DataVerificationException> (fun () -> Catalog.Load("pubmd5", d.Path) |> ignore) "never loaded"
            File.WriteAllBytes(p, good)
            Expect.equal (Verification.Verify(e, dir).State) DataState.Verified "repaired"
            (Catalog.Load("pubmd5", d.Path)).Dispose()
        }
        test "a hand-placed CIFAR folder is verified through the published archive next to it" {
            use d = new TempDir()
            let src = writeCifar10Folder (d.File "src") 2 2
            let archive = tarGz (folderItems "cifar-10-batches-bin" src)
            let root = d.File "root"
            let dir = writeCifar10Folder (Path.Combine(root, "cifar-10-batches-bin")) 2 2
            let c = Catalog.Get "cifar10"
            let e = DatasetEntry("hand-cifar", c.Folder, 3, 32, 32, c.ClassNames, c.Normalization, c.Files, null, c.IsPresentIn, c.Load,
                                 Archive = DataFile("cifar-10-binary.tar.gz", null, Nullable(), md5 archive))
            let before = Verification.Verify(e, dir)
            Expect.equal before.State DataState.Unverified "no checksum covers extracted files without the archive"
            Expect.exists before.Files (fun f -> f.Detail.Contains "place cifar-10-binary.tar.gz") "says what to do"
            File.WriteAllBytes(Path.Combine(root, "cifar-10-binary.tar.gz"), archive)
            Expect.equal (Verification.Verify(e, dir).State) DataState.Verified "each file matches its archive member"
            Expect.equal (Verification.Quick(e, dir).State) DataState.Verified "marker written"
        }
        test "fetch target: --data-root, else $WARMSTART_DATA, else the user cache" {
            Expect.equal (DataRoots.FetchTarget "/tmp/x") "/tmp/x" "explicit"
            // The expected folder is spelled out from the environment here, not taken from DataRoots.
            let env = Environment.GetEnvironmentVariable DataRoots.EnvVar
            let cache =
                match Environment.GetEnvironmentVariable "XDG_CACHE_HOME" with
                | null | "" -> Path.Combine(Environment.GetEnvironmentVariable "HOME", ".cache")
                | x -> x
            if String.IsNullOrEmpty env then Expect.equal (DataRoots.FetchTarget null) (Path.Combine(cache, "warmstart", "datasets")) "user cache"
            else Expect.equal (DataRoots.FetchTarget null) (Path.GetFullPath env) "environment"
        }
    ]

[<Tests>]
let heldOut =
    testList "data.heldout" [
        test "authors' protocol: 2/3 pool and 1/3 held-out of the training set, disjoint, covering, seeded" {
            let struct (pool, eval) = Subsets.HeldOut(50000L, 3L)
            use pool = pool
            use eval = eval
            Expect.equal (pool.shape[0], eval.shape[0]) (33333L, 16667L) "33 333 : 16 667 as in the authors' code"
            Expect.isTrue (Set.intersect (toSet pool) (toSet eval)).IsEmpty "disjoint"
            Expect.equal (Set.union (toSet pool) (toSet eval)).Count 50000 "cover the training set"
            let struct (p2, _) = Subsets.HeldOut(50000L, 3L)
            let struct (p3, _) = Subsets.HeldOut(50000L, 4L)
            Expect.isTrue (same pool p2) "same seed, same split"
            Expect.isFalse (same pool p3) "another seed, another split"
            Expect.throwsT<ArgumentOutOfRangeException> (fun () -> Subsets.HeldOut(10L, 1L, 1.0) |> ignore) "nothing held out"
        }
        test "protocol selection: official test split or held-out part of the training split" {
            use d = new TempDir()
            writeCifar10Folder (Path.Combine(d.Path, "cifar-10-batches-bin")) 6 4 |> ignore
            use s = Catalog.Load("cifar10", d.Path)
            use official = Subsets.ForProtocol(s, EvalSplit.OfficialTest, 1L)
            Expect.equal official.Pool.shape[0] 30L "whole training split"
            Expect.isTrue (obj.ReferenceEquals(official.EvalData, s.Test)) "official test data"
            Expect.equal official.EvalIndices.shape[0] 4L "all of it"
            use held = Subsets.ForProtocol(s, EvalSplit.HeldOut, 1L)
            Expect.equal (held.Pool.shape[0], held.EvalIndices.shape[0]) (20L, 10L) "2/3 : 1/3"
            Expect.isTrue (obj.ReferenceEquals(held.EvalData, s.Train)) "evaluates on the training split"
            Expect.isTrue (Set.intersect (toSet held.Pool) (toSet held.EvalIndices)).IsEmpty "held-out never trained on"
        }
    ]
