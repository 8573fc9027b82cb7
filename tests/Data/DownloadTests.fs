module WarmStart.Tests.Data.DownloadTests

open System
open System.Collections.Generic
open System.IO
open Expecto
open WarmStart.Core.Data
open WarmStart.Core.Data.Download
open WarmStart.Tests.Fixtures
open WarmStart.Tests.Data.DataFixtures

let private archiveName = "cifar-10-binary.tar.gz"

/// A CIFAR-10-layout tar.gz (cifar-10-batches-bin/ with 5 × 2 train and 3 test records), plus extra items.
let private cifarArchive (extra: TarItem list) =
    use d = new TempDir()
    let dir = writeCifar10Folder (d.File "src") 2 3
    tarGz (folderItems "cifar-10-batches-bin" dir @ extra)

/// A catalog entry like cifar10 whose archive is the given bytes (MD5 as given) at url (or only by mirror).
let private cifarEntry (name: string) (archive: byte[]) (md5: string option) (url: Uri option) =
    let c = Catalog.Get "cifar10"
    DatasetEntry(name, c.Folder, 3, 32, 32, c.ClassNames, c.Normalization,
                 [| for f in c.Files -> DataFile(f.Name, null, Nullable(), null) |], null, c.IsPresentIn, c.Load,
                 Archive = DataFile(archiveName, (url |> Option.map string |> Option.toObj), Nullable(int64 archive.Length), Option.toObj md5))

let private options (server: LoopbackServer) (log: List<string>) (attempts: int) =
    FetchOptions(Mirror = server.BaseUri, Attempts = attempts, RetryDelay = TimeSpan.FromMilliseconds 10.0,
                 Log = Action<string>(fun s -> lock log (fun () -> log.Add s)))

let private fetch (e: DatasetEntry) (root: string) (o: FetchOptions) = DatasetFetcher.FetchAsync(e, root, o).GetAwaiter().GetResult()

/// Files and folders under root other than the dataset folder's content: no staging, trash or partial leftovers.
let private leftovers (root: string) =
    Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories)
    |> Seq.map (fun p -> Path.GetRelativePath(root, p))
    |> Seq.filter (fun p -> p.Contains ".staging-" || p.Contains ".trash-" || p.EndsWith ".part" || p.EndsWith ".tar.gz")
    |> List.ofSeq

let private throwsOf<'e when 'e :> exn> (f: unit -> unit) =
    try
        f ()
        failtestf "expected %s" typeof<'e>.Name
    with :? 'e as e -> e

[<Tests>]
let tests =
    testList "data.download" [
        test "happy path: download, MD5, safe extraction, marker, atomic move; the catalog loads it; a second fetch re-verifies and downloads nothing" {
            use d = new TempDir()
            let archive = cifarArchive []
            use server = new LoopbackServer(dict [ "/" + archiveName, archive ])
            let e = cifarEntry "http-cifar10" archive (Some (md5 archive)) None
            let log = List<string>()
            let progress = List<DownloadProgress>()
            let o = FetchOptions(Mirror = server.BaseUri, Log = Action<string>(log.Add), Progress = Action<DownloadProgress>(progress.Add))
            let dir = fetch e d.Path o
            Expect.equal dir (Path.Combine(d.Path, "cifar-10-batches-bin")) "dataset folder"
            Expect.isTrue (File.Exists(Path.Combine(dir, Verification.MarkerName))) "marker written"
            Expect.isEmpty (leftovers d.Path) "no archive, part, staging or trash left"
            Expect.equal (Verification.Quick(e, dir).State) DataState.Verified "verified"
            Expect.equal (Verification.Verify(e, dir).State) DataState.Verified "re-hash agrees"
            Expect.isTrue (progress |> Seq.exists (fun p -> p.Done && p.Received = int64 archive.Length)) "progress reached the end"
            Catalog.Register e
            use s = Catalog.Load("http-cifar10", d.Path)
            Expect.equal s.Train.Count 10L "loads"
            Expect.equal (server.Requests |> List.map (fun r -> r.Path, r.Range)) [ "/" + archiveName, None ] "one plain request"
            fetch e d.Path o |> ignore
            Expect.equal server.Requests.Length 1 "nothing downloaded again"
            Expect.exists log (fun l -> l.Contains "already present" && l.Contains "verified") "said so"
        }
        test "published files (SVHN-like): each checked against its MD5 and moved into place; the published address is used without a mirror" {
            use d = new TempDir()
            use src = new TempDir()
            let train = File.ReadAllBytes(writeSvhn (src.File "train_32x32.mat") true 4)
            let testf = File.ReadAllBytes(writeSvhn (src.File "test_32x32.mat") false 2)
            use server = new LoopbackServer(dict [ "/h/train_32x32.mat", train; "/h/test_32x32.mat", testf ])
            let svhn = Catalog.Get "svhn"
            let file (name: string) (b: byte[]) = DataFile(name, string (server.Url("h/" + name)), Nullable(int64 b.Length), md5 b)
            let e = DatasetEntry("http-svhn", "svhn", 3, 32, 32, svhn.ClassNames, svhn.Normalization,
                                 [| file "train_32x32.mat" train; file "test_32x32.mat" testf |], null, svhn.IsPresentIn, svhn.Load)
            let dir = fetch e d.Path (FetchOptions())
            Expect.equal (Verification.Quick(e, dir).State) DataState.Verified "verified"
            Catalog.Register e
            use s = Catalog.Load("http-svhn", d.Path)
            Expect.equal (s.Train.Count, s.Test.Count) (4L, 2L) "loads"
            Expect.isEmpty (leftovers d.Path) "no partial files"
        }
        test "checksum mismatch: the archive is discarded and nothing is placed" {
            use d = new TempDir()
            let archive = cifarArchive []
            use server = new LoopbackServer(dict [ "/" + archiveName, archive ])
            let e = cifarEntry "bad-md5" archive (Some "0123456789abcdef0123456789abcdef") None
            let ex = throwsOf<ChecksumMismatchException> (fun () -> fetch e d.Path (options server (List()) 2) |> ignore)
            Expect.stringContains ex.Message "0123456789abcdef0123456789abcdef" "names the published MD5"
            Expect.stringContains ex.Message (md5 archive) "and the actual one"
            Expect.isFalse (Directory.Exists(Path.Combine(d.Path, "cifar-10-batches-bin"))) "no dataset folder"
            Expect.isEmpty (leftovers d.Path) "no archive or .part kept"
            Catalog.Register e
            Expect.throwsT<DatasetNotFoundException> (fun () -> Catalog.Load("bad-md5", d.Path) |> ignore) "never loadable"
        }
        test "checksum mismatch of a published file: it never reaches the dataset folder" {
            use d = new TempDir()
            use src = new TempDir()
            let train = File.ReadAllBytes(writeSvhn (src.File "t.mat") false 2)
            use server = new LoopbackServer(dict [ "/train_32x32.mat", train; "/test_32x32.mat", train ])
            let svhn = Catalog.Get "svhn"
            let e = DatasetEntry("bad-svhn", "svhn", 3, 32, 32, svhn.ClassNames, svhn.Normalization,
                                 [| DataFile("train_32x32.mat", null, Nullable(), md5 train)
                                    DataFile("test_32x32.mat", null, Nullable(), "ffffffffffffffffffffffffffffffff") |],
                                 null, svhn.IsPresentIn, svhn.Load)
            Expect.throwsT<ChecksumMismatchException> (fun () -> fetch e d.Path (options server (List()) 2) |> ignore) "mismatch"
            Expect.isFalse (File.Exists(Path.Combine(d.Path, "svhn", "test_32x32.mat"))) "bad file not placed"
            Expect.isEmpty (leftovers d.Path) "no .part"
            Catalog.Register e
            Expect.equal (Catalog.Status("bad-svhn", d.Path).State) DataState.Missing "not present"
        }
        test "a corrupted archive (its MD5 matches, its content is damaged) is reported and nothing is placed" {
            use d = new TempDir()
            let good = cifarArchive []
            let corrupt = Array.append good[.. good.Length / 2] (Array.create 5000 0x55uy)
            use server = new LoopbackServer(dict [ "/" + archiveName, corrupt ])
            let e = cifarEntry "corrupt" corrupt (Some (md5 corrupt)) None
            let ex = throwsOf<DataFormatException> (fun () -> fetch e d.Path (options server (List()) 1) |> ignore)
            Expect.stringContains ex.Message archiveName "names the archive"
            Expect.isFalse (Directory.Exists(Path.Combine(d.Path, "cifar-10-batches-bin"))) "nothing placed"
            Expect.isEmpty (leftovers d.Path) "no staging left, archive dropped"
        }
        test "an interrupted transfer resumes with a Range request in the same fetch" {
            use d = new TempDir()
            let archive = cifarArchive []
            let cut = archive.Length / 3
            use server = new LoopbackServer(dict [ "/" + archiveName, archive ], cutRequests = Set.ofList [ 1 ], cutAt = cut)
            let e = cifarEntry "resume" archive (Some (md5 archive)) None
            let log = List<string>()
            let dir = fetch e d.Path (options server log 3)
            Expect.equal (server.Requests |> List.map (fun r -> r.Range)) [ None; Some(sprintf "bytes=%d-" cut) ] "second request resumes at the cut"
            Expect.exists log (fun l -> l.Contains "interrupted") "reported the interruption"
            Expect.exists log (fun l -> l.Contains(sprintf "resuming at byte %d" cut)) "and the resume"
            Expect.equal (Verification.Quick(e, dir).State) DataState.Verified "complete and verified"
        }
        test "an interrupted run keeps its .part and the next run resumes it" {
            use d = new TempDir()
            let archive = cifarArchive []
            let cut = archive.Length / 2
            use server = new LoopbackServer(dict [ "/" + archiveName, archive ], cutRequests = Set.ofList [ 1 ], cutAt = cut)
            let e = cifarEntry "resume-later" archive (Some (md5 archive)) None
            let ex = throwsOf<DownloadException> (fun () -> fetch e d.Path (options server (List()) 1) |> ignore)
            Expect.stringContains ex.Message "run the command again to resume" "tells the user"
            let part = Path.Combine(d.Path, DatasetFetcher.DownloadsFolder, archiveName + Downloader.PartSuffix)
            Expect.equal (FileInfo(part).Length) (int64 cut) "the partial file holds what arrived"
            let dir = fetch e d.Path (options server (List()) 1)
            Expect.equal (server.Requests |> List.map (fun r -> r.Range)) [ None; Some(sprintf "bytes=%d-" cut) ] "resumed"
            Expect.equal (Verification.Verify(e, dir).State) DataState.Verified "verified"
        }
        test "a server that ignores Range: the download starts again and still verifies" {
            use d = new TempDir()
            let archive = cifarArchive []
            use server = new LoopbackServer(dict [ "/" + archiveName, archive ], supportRange = false)
            let e = cifarEntry "norange" archive (Some (md5 archive)) None
            let downloads = Path.Combine(d.Path, DatasetFetcher.DownloadsFolder)
            Directory.CreateDirectory downloads |> ignore
            File.WriteAllBytes(Path.Combine(downloads, archiveName + ".part"), archive[.. 99])
            let log = List<string>()
            let dir = fetch e d.Path (options server log 2)
            Expect.equal server.Requests.Head.Range (Some "bytes=100-") "asked to resume"
            Expect.exists log (fun l -> l.Contains "does not resume") "noticed the 200"
            Expect.equal (Verification.Quick(e, dir).State) DataState.Verified "complete"
        }
        test "malicious archives (../, absolute path, symlink, hard link, device, FIFO) are rejected whole; nothing escapes or is placed" {
            use d = new TempDir()
            let absolute = Path.Combine(Path.GetTempPath(), sprintf "warmstart-evil-%s.txt" (Guid.NewGuid().ToString "N"))
            let cases =
                [ "dotdot", TFile("../evil.txt", "x"B), "escape"
                  "dotdot-deep", TFile("cifar-10-batches-bin/../../evil2.txt", "x"B), "escape"
                  "absolute", TFile(absolute, "x"B), "absolute path"
                  "symlink", TSymlink("cifar-10-batches-bin/link.bin", "/etc/passwd"), "symbolic link"
                  "hardlink", THardlink("cifar-10-batches-bin/hard.bin", "/etc/passwd"), "hard link"
                  "device", TCharDevice "cifar-10-batches-bin/dev", "device"
                  "fifo", TFifo "cifar-10-batches-bin/fifo", "FIFO" ]
            for (name, item, why) in cases do
                let root = Path.Combine(d.Path, name)
                let archive = cifarArchive [ item ]
                use server = new LoopbackServer(dict [ "/" + archiveName, archive ])
                let e = cifarEntry ("evil-" + name) archive (Some (md5 archive)) None
                let ex = throwsOf<UnsafeArchiveException> (fun () -> fetch e root (options server (List()) 1) |> ignore)
                Expect.stringContains ex.Message why (sprintf "%s: says why" name)
                Expect.isFalse (Directory.Exists(Path.Combine(root, "cifar-10-batches-bin"))) (sprintf "%s: nothing placed" name)
                Expect.isEmpty (leftovers root) (sprintf "%s: staging and archive removed" name)
                Expect.isFalse (File.Exists(Path.Combine(root, "evil.txt")) || File.Exists(Path.Combine(d.Path, "evil.txt"))) "no ../ file"
                Expect.isFalse (File.Exists(Path.Combine(root, "evil2.txt"))) "no ../../ file"
                Expect.isFalse (File.Exists absolute) "no absolute file"
        }
        test "HTTP 404 is a clear failure, not retried" {
            use d = new TempDir()
            use server = new LoopbackServer(dict [])
            let archive = cifarArchive []
            let e = cifarEntry "missing" archive (Some (md5 archive)) None
            let ex = throwsOf<DownloadException> (fun () -> fetch e d.Path (options server (List()) 3) |> ignore)
            Expect.stringContains ex.Message "HTTP 404" "status"
            Expect.equal server.Requests.Length 1 "not retried"
        }
        test "a fetched dataset that is altered is not loaded: changed file refused, failed checksum refused, re-fetch repairs" {
            use d = new TempDir()
            let archive = cifarArchive []
            use server = new LoopbackServer(dict [ "/" + archiveName, archive ])
            let e = cifarEntry "tamper" archive (Some (md5 archive)) None
            Catalog.Register e
            let dir = fetch e d.Path (options server (List()) 1)
            let p = Path.Combine(dir, "data_batch_1.bin")
            // Same content, new time: refused until re-verified, then fine.
            File.SetLastWriteTimeUtc(p, DateTime.UtcNow.AddMinutes 5.0)
            Expect.equal (Verification.Quick(e, dir).State) DataState.Modified "modified"
            Expect.throwsT<DataVerificationException> (fun () -> Catalog.Load("tamper", d.Path) |> ignore) "refused"
            Expect.equal (Verification.Verify(e, dir).State) DataState.Verified "re-verified"
            (Catalog.Load("tamper", d.Path)).Dispose()
            // One flipped pixel, same size: verify finds it and the dataset stays refused.
            let b = File.ReadAllBytes p
            b[100] <- b[100] ^^^ 1uy
            File.WriteAllBytes(p, b)
            let report = Verification.Verify(e, dir)
            Expect.equal report.State DataState.Failed "checksum mismatch"
            Expect.exists report.Files (fun f -> f.File = "data_batch_1.bin" && not f.Ok) "names the file"
            let ex = throwsOf<DataVerificationException> (fun () -> Catalog.Load("tamper", d.Path) |> ignore)
            Expect.stringContains ex.Message "data_batch_1.bin" "says which file"
            fetch e d.Path (options server (List()) 1) |> ignore
            Expect.equal (Verification.Quick(e, dir).State) DataState.Verified "fetched again"
            (Catalog.Load("tamper", d.Path)).Dispose()
        }
        test "SafeTar refuses unsafe names directly and extracts safe ones" {
            use d = new TempDir()
            for bad in [ "../x"; "/abs"; "a/../../x"; "C:/x"; ""; "." ] do
                Expect.throwsT<UnsafeArchiveException> (fun () -> SafeTar.CheckName("a.tar.gz", bad) |> ignore) bad
            Expect.equal (SafeTar.CheckName("a.tar.gz", "./dir/./f.bin")) "dir/f.bin" "normalised"
            let a = d.File "ok.tar.gz"
            File.WriteAllBytes(a, tarGz [ TDir "top/"; TFile("top/a.bin", [| 1uy; 2uy |]); TFile("top/sub/b.bin", [| 3uy |]) ])
            let files = SafeTar.ExtractTarGz(a, d.File "out")
            Expect.equal (files |> Seq.sort |> List.ofSeq) [ Path.Combine("top", "a.bin"); Path.Combine("top", "sub", "b.bin") ] "written"
            Expect.equal (File.ReadAllBytes(d.File "out/top/sub/b.bin")) [| 3uy |] "content"
            Expect.equal (SafeTar.MemberMd5s(a, "top").["a.bin"]) (md5 [| 1uy; 2uy |]) "member MD5s"
        }
        test "progress prints plain lines when not a terminal: start, every 10 %, done" {
            use w = new StringWriter()
            let p = ProgressPrinter(w, false)
            for k in 0L .. 1000L do p.Report(DownloadProgress("f.bin", k * 1000L, Nullable 1000000L, false))
            p.Report(DownloadProgress("f.bin", 1000000L, Nullable 1000000L, true))
            let lines = w.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)
            Expect.isLessThanOrEqual lines.Length 13 "a dozen lines, not a thousand"
            Expect.isGreaterThanOrEqual lines.Length 11 "one per 10 %"
            Expect.isFalse (w.ToString().Contains "\r") "no carriage returns"
            Expect.stringContains lines[lines.Length - 1] "100.0%" "ends at 100 %"
            Expect.stringContains lines[lines.Length - 1] "done" "and says done"
        }
    ]
