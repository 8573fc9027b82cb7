/// Result-store integrity and provenance: manifests, `store verify` and `--repair`, fault injection, `store
/// reproduce`, clean IO errors (read-only, not a folder, disk full on a real size-limited mount), and the run-level
/// checks (subset sizes, data before training, diverged counts, exit codes).
module WarmStart.Tests.Store.StoreTests

open System
open System.IO
open System.Diagnostics
open Expecto
open WarmStart
open WarmStart.Core.Runs
open WarmStart.Core.Data
open WarmStart.Core.Data.Download
open WarmStart.Tests.Fixtures

/// Three nodes on real Fashion-MNIST in quick mode: a shared stage 1, then fresh and warm stage 2.
let private tiny () =
    study "store-tiny" {
        data fashion_mnist
        model (mlp [ 16 ])
        optimizer (adam 1e-3)
        epochs 2
        seeds 1
        arm "fresh" fresh
        arm "warm" warm
        quick_subset 400
        quick_max_epochs 1
        threads 1
    }

let private quickIn (dir: string) = { Study.defaultOptions with Quick = true; Out = dir }

/// Runs `mount` (root only); true when it worked.
let private mount (args: string list) =
    let code, _, _ = runProcess "mount" args
    code = 0

let private umount (dir: string) = runProcess "umount" [ dir ] |> ignore

let private statusOf (r: StudyResult) key = r.Status[key]

let private sha (p: string) = Manifest.Sha256 p

/// The exception of type 'E that `f` raises (fails the test when it raises none, or another type).
let private raisedBy<'E when 'E :> exn> (f: unit -> unit) (what: string) : 'E =
    try
        f ()
        failtestf "%s: expected %s, nothing was raised" what typeof<'E>.Name
    with
    | :? 'E as e -> e

[<Tests>]
let tests =
    testSequenced <| testList "store" [
        test "a version's manifest lists every other file with its size and SHA-256, and is checked on read" {
            use d = new TempDir()
            let st = ResultStore(d.Path)
            let key = String('a', 64)
            let dir = st.Commit(key, (fun tmp ->
                                    File.WriteAllText(Path.Combine(tmp, "result.json"), "{\"Key\":\"" + key + "\"}")
                                    File.WriteAllBytes(Path.Combine(tmp, "model.pt"), [| 1uy; 2uy; 3uy |])),
                                Provenance.Capture("cpu", Provenance.SingleEngine, DateTime.UtcNow))
            let m = Manifest.Read dir
            Expect.equal m.Key key "key"
            Expect.equal [ for f in m.Files -> f.Name ] [ "model.pt"; "provenance.json"; "result.json" ] "every file but the manifest, sorted"
            let model = m.Files |> Seq.find (fun f -> f.Name = "model.pt")
            Expect.equal model.Size 3L "size"
            // SHA-256 of the bytes 01 02 03, computed independently.
            Expect.equal model.Sha256 "039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81" "hash"
            Expect.isEmpty (st.CheckVersion(key, dir)) "intact"
            File.WriteAllBytes(Path.Combine(dir, "model.pt"), [| 1uy; 2uy; 4uy |])
            Expect.equal (List.ofSeq (st.CheckVersion(key, dir))) [ "model.pt: SHA-256 mismatch" ] "a flipped byte"
            File.WriteAllBytes(Path.Combine(dir, "model.pt"), [| 1uy |])
            Expect.equal (List.ofSeq (st.CheckVersion(key, dir))) [ "model.pt is 1 bytes, the manifest says 3" ] "truncated"
            File.WriteAllText(Path.Combine(dir, "extra.bin"), "x")
            Expect.contains (st.CheckVersion(key, dir)) "extra.bin is not in the manifest" "an unlisted file"
        }

        test "fault injection: each artifact kind truncated, flipped or deleted is reported by verify and retrained alone, to identical numbers" {
            use d = new TempDir()
            let o = quickIn d.Path
            let baseline = Study.runWith o (tiny ())
            let st = ResultStore(d.Path)
            let keys = baseline.Plan.Nodes |> List.map (fun n -> n.Key)
            Expect.equal keys.Length 3 "three nodes"
            let weights = keys |> List.map (fun k -> k, sha (Path.Combine(st.Latest k, "model.pt"))) |> Map.ofList
            Expect.equal (StoreVerify.tally (StoreVerify.audit st)) "4 ok, 0 corrupt, 0 orphaned" "clean store"
            let kinds = [ "result.json"; "spec.json"; "node.json"; "model.pt"; "optimizer.pt"; "subset.bin"; "provenance.json"; "manifest.json" ]
            let modes : (string * (string -> unit)) list =
                [ "truncate", (fun p -> let b = File.ReadAllBytes p in File.WriteAllBytes(p, b[.. b.Length / 2 - 1]))
                  "flip", (fun p -> let b = File.ReadAllBytes p in b[b.Length / 2] <- b[b.Length / 2] ^^^ 0x01uy; File.WriteAllBytes(p, b))
                  "delete", File.Delete ]
            let cases = [ for k in kinds do for m in modes -> k, m ]
            let tallies = Collections.Generic.List<string>()
            let mutable warnings = []
            NodeStore.reportCorrupt <- fun l -> warnings <- l :: warnings
            try
                for i, (kind, (modeName, corrupt)) in List.indexed cases do
                    let what = sprintf "%s %s" modeName kind
                    let key = keys[(i + i / 3) % keys.Length] // every node meets every way of damage
                    corrupt (Path.Combine(st.Latest key, kind))
                    let items = StoreVerify.audit st
                    let tally = StoreVerify.tally items
                    tallies.Add(sprintf "%s: %s" what tally)
                    Expect.equal tally "3 ok, 1 corrupt, 0 orphaned" what
                    let bad = items |> List.filter (fun x -> x.State = AuditState.Corrupt)
                    Expect.equal bad.Head.Key key (what + ": the damaged node is named")
                    Expect.stringContains bad.Head.Detail kind (what + ": the damaged file is named")
                    let before = warnings.Length
                    let r = Study.runWith o (tiny ())
                    for k in keys do
                        Expect.equal (statusOf r k) (if k = key then Trained else Cached) (sprintf "%s: only the damaged node is retrained" what)
                    Expect.equal warnings.Length (before + 1) (what + ": the event is reported")
                    for k in keys do
                        Expect.isEmpty (Reproduce.differences baseline.Results[k] r.Results[k]) (sprintf "%s: numbers identical" what)
                        Expect.equal (sha (Path.Combine(st.Latest k, "model.pt"))) weights[k] (sprintf "%s: weights identical" what)
                    Expect.equal (StoreVerify.tally (StoreVerify.audit st)) "4 ok, 0 corrupt, 0 orphaned" (what + ": clean again")
                    Expect.isTrue (Directory.Exists(Path.Combine(st.NodeFolder key, "corrupt"))) (what + ": the damaged version is kept aside")
            finally
                NodeStore.reportCorrupt <- fun l -> eprintfn "%s" l
            Expect.equal tallies.Count 24 "8 kinds × 3 ways"
        }

        test "verify finds orphaned scratch and leaves a node being trained alone; --repair moves corrupt versions aside and removes orphans" {
            use d = new TempDir()
            let r = Study.runWith (quickIn d.Path) (tiny ())
            let st = ResultStore(d.Path)
            let k0, k1, k2 = r.Plan.Nodes[0].Key, r.Plan.Nodes[1].Key, r.Plan.Nodes[2].Key
            Directory.CreateDirectory(Path.Combine(st.NodeFolder k0, "checkpoint.tmp-999999-deadbeef")) |> ignore
            Directory.CreateDirectory(Path.Combine(st.NodeFolder k0, ".tmp-999999-deadbeef")) |> ignore
            let busy = Path.Combine(st.NodeFolder k2, ".tmp-1-inflight")
            Directory.CreateDirectory busy |> ignore
            File.AppendAllText(Path.Combine(st.Latest k1, "result.json"), " ")
            use held = st.TryLockForAudit k2 // another executor training k2
            let lines = Collections.Generic.List<string>()
            let code = StoreVerify.run d.Path false lines.Add
            Expect.equal code 1 "problems → exit 1"
            Expect.equal lines[lines.Count - 1] "3 ok, 1 corrupt, 2 orphaned" "tally"
            Expect.exists lines (fun l -> l.Contains "busy") "the node being trained is listed as busy"
            lines.Clear()
            let code = StoreVerify.run d.Path true lines.Add
            Expect.equal code 0 "repaired"
            Expect.equal lines[lines.Count - 1] "after repair: 3 ok, 0 corrupt, 0 orphaned" "after repair"
            Expect.isTrue (Directory.Exists busy) "a held node's scratch is kept"
            Expect.isTrue (Directory.Exists(Path.Combine(st.NodeFolder k1, "corrupt", "v1"))) "moved aside, not deleted"
            Expect.isTrue (File.Exists(Path.Combine(st.NodeFolder k1, "corrupt", "v1.reason.txt"))) "with the reason"
            Expect.isNull (st.Latest k1) "no live version of the damaged node"
            held.Dispose()
            let again = Study.runWith (quickIn d.Path) (tiny ())
            Expect.equal (statusOf again k1) Trained "retrained"
            Expect.stringEnds (st.Latest k1) "v2" "into a new version number"
            Expect.isFalse (Directory.Exists busy) "the next lock holder removes scratch no one owns"
        }

        test "a checkpoint write killed mid-way leaves litter that the node's next lock removes" {
            use d = new TempDir()
            let st = ResultStore(d.Path)
            let key = String('b', 64)
            let litter = Path.Combine(st.NodeFolder key, "checkpoint.tmp-4242-0123")
            Directory.CreateDirectory litter |> ignore
            File.WriteAllText(Path.Combine(litter, "model.pt"), "half")
            Expect.equal (st.ScratchOf key).Count 1 "found"
            let whileHeld () =
                use _l = st.TryLockForAudit key
                Expect.isNull (st.TryLock key) "not while another holder has the lock"
            whileHeld ()
            Expect.isTrue (Directory.Exists litter) "kept while held"
            use l = st.TryLock key
            Expect.isNotNull l "locked"
            Expect.isFalse (Directory.Exists litter) "removed"
        }

        test "an index whose node key is not the hash of its spec is reported" {
            use d = new TempDir()
            Study.runWith (quickIn d.Path) (tiny ()) |> ignore
            let st = ResultStore(d.Path)
            let folder = st.Studies()[0]
            Expect.isEmpty (StoreVerify.indexProblems st folder) "consistent"
            let path = Path.Combine(st.StudyFolder folder, "index.json")
            let text = File.ReadAllText path
            File.WriteAllText(path, text.Replace("\"BatchSize\": 128", "\"BatchSize\": 129"))
            let ps = StoreVerify.indexProblems st folder
            Expect.isNonEmpty ps "edited"
            Expect.stringContains ps.Head "its key is not the hash of its spec" "named"
            File.WriteAllText(path, "{ not json")
            Expect.stringStarts (StoreVerify.indexProblems st folder).Head "index.json does not parse" "unreadable"
        }

        test "reproduce: the quick study re-trains bit for bit; a tampered result with a rewritten manifest is caught" {
            use d = new TempDir()
            Study.runWith (quickIn d.Path) (tiny ()) |> ignore
            let lines = Collections.Generic.List<string>()
            let code = Reproduce.run d.Path None 3 None lines.Add
            Expect.equal lines[lines.Count - 1] "3 identical, 0 different, 0 not run" "tally"
            Expect.equal code 0 "exit 0"
            let st = ResultStore(d.Path)
            let key = (Reproduce.candidates st None |> List.last |> fun (_, _, n) -> n.Key)
            let dir = st.Latest key
            let res = Path.Combine(dir, "result.json")
            let r = NodeStore.ofJson<NodeResult> (File.ReadAllText res)
            File.WriteAllText(res, NodeStore.toJson { r with TestAccuracy = r.TestAccuracy + 0.01 })
            File.Delete(Path.Combine(dir, Manifest.FileName))
            Manifest.Write(dir, key) |> ignore
            Expect.equal (StoreVerify.tally (StoreVerify.audit st)) "4 ok, 0 corrupt, 0 orphaned" "verify cannot see it: the manifest matches"
            lines.Clear()
            let code = Reproduce.run d.Path None 3 None lines.Add
            Expect.equal lines[lines.Count - 1] "2 identical, 1 different, 0 not run" "caught"
            Expect.exists lines (fun l -> l.Contains "DIFFERENT: TestAccuracy") "names the field"
            Expect.equal code 1 "exit 1"
        }

        test "provenance: versions, device, threads, engine, OS and wall time per version; the report line groups them" {
            use d = new TempDir()
            let r = Study.runWith (quickIn d.Path) (tiny ())
            let st = ResultStore(d.Path)
            let p = (NodeStore.tryProvenance st r.Plan.Nodes.Head.Key).Value
            Expect.equal p.TorchSharp (typeof<TorchSharp.torch>.Assembly.GetName().Version.ToString()) "TorchSharp"
            Expect.equal p.Libtorch TorchSharp.torch.__version__ "libtorch"
            Expect.equal p.Device "cpu" "device"
            Expect.equal p.TorchThreads 1 "threads (the study sets 1)"
            Expect.equal p.Engine "single" "engine (the default --stack off)"
            Expect.isNonEmpty p.Os "OS"
            Expect.isGreaterThan p.WallSeconds 0.0 "wall time"
            Expect.isGreaterThanOrEqual p.WallSeconds r.Results[r.Plan.Nodes.Head.Key].Seconds "wall ≥ training time"
            let lines = NodeStore.provenanceSummary st (r.Plan.Nodes |> List.map (fun n -> n.Key))
            Expect.equal lines.Length 1 "one setup"
            Expect.stringStarts lines.Head "provenance: 3 nodes: toolkit " "grouped"
            Expect.stringContains lines.Head ", cpu, 1 thread, single engine, " "described"
        }

        test "the nodes line counts diverged nodes apart from trained and cached, and notes say why a table row is missing" {
            let s = study "div" { data fashion_mnist; model (mlp [ 4 ]); seeds 2; arm "fresh" fresh; arm "warm" warm; threads 1 }
            let p = Plan.ofStudy s
            let res (n: PlanNode) diverged =
                { Key = n.Key; TestAccuracy = (if diverged then nan else 0.5); TestLoss = nan; TrainAccuracy = 0.5; TrainLoss = 1.0
                  Epochs = 1; Seconds = 1.0; SamplesPerSecond = 1.0; TrainSize = 10L; Diverged = diverged; Curve = []
                  Diagnostics = { Correlation = []; GradientNorms = []; ShrinkAccuracy = [] }; Tasks = System.Text.Json.Serialization.Skip }
            let warm2 = p.Nodes |> List.filter (fun n -> n.Stage = 2 && n.Arms = [ "warm" ])
            let results = p.Nodes |> List.map (fun n -> n.Key, res n (List.contains n warm2)) |> Map.ofList
            let status = p.Nodes |> List.mapi (fun i n -> n.Key, (if i = 0 then Cached else Trained)) |> Map.ofList
            Expect.equal (Progress.tally status results) "nodes: 3 trained, 1 cached, 2 diverged, 0 failed" "diverged apart"
            let r = { Plan = p; Results = results; Status = status; Quick = false; WallSeconds = 1.0 }
            Expect.equal (RunChecks.divergenceNotes r)
                [ "note: arm 'warm' stage 2: all 2 runs diverged (loss NaN/inf), so the by-arm and gap tables have no row for it" ] "note"
        }

        test "pool sizes beyond the dataset are rejected when the study is built, naming field, value and size" {
            let msg (f: unit -> Study) =
                try f () |> ignore; "" with StudyValidationError(_, ps) -> String.concat "\n" ps
            Expect.stringContains (msg (fun () -> study "big" { data fashion_mnist; subset 1000000; arm "fresh" fresh }))
                "field 'subset' = 1000000: dataset 'fashion-mnist' has 60000 training examples; allowed: 2 to 60000" "subset"
            Expect.stringContains (msg (fun () -> study "q" { data fashion_mnist; quick_subset 70000; arm "fresh" fresh }))
                "field 'quick_subset' = 70000" "quick_subset"
            Expect.stringContains (msg (fun () -> study "h" { data fashion_mnist; evaluate_on (held_out 0.5); subset 40000; arm "fresh" fresh }))
                "held_out 0.5 leaves 30000 for the pool; allowed: 2 to 30000" "held-out pool"
            Expect.stringContains (msg (fun () -> study "s" { data fashion_mnist; sweep Knob.Subset [ 1000; 90000 ]; arm "fresh" fresh }))
                "field 'sweep \"subset\"' = 90000" "swept subset"
            Expect.equal (msg (fun () -> study "ok" { data fashion_mnist; subset 60000; arm "fresh" fresh })) "" "the whole split is fine"
        }

        test "IO failures on the store are one clean error: a file as the store, a read-only store" {
            use d = new TempDir()
            let file = d.File "a-file"
            File.WriteAllText(file, "x")
            let e = raisedBy<StoreException> (fun () -> ResultStore(file) |> ignore) "a file"
            Expect.equal e.Message (sprintf "result store '%s': opening the store: it is a file, not a folder" file) "one line"
            let ro = d.File "ro"
            Directory.CreateDirectory ro |> ignore
            if not (mount [ "-t"; "tmpfs"; "-o"; "ro,size=64k"; "tmpfs"; ro ]) then
                // Not root: a folder without write permission instead.
                File.SetUnixFileMode(ro, UnixFileMode.UserRead ||| UnixFileMode.UserExecute)
            try
                let e = raisedBy<StoreException> (fun () -> Study.runWith (quickIn ro) (tiny ()) |> ignore) "read-only"
                Expect.stringStarts e.Message (sprintf "result store '%s': " ro) "names the store"
                Expect.isFalse (e.Message.Contains "\n") "one line"
                Expect.isFalse (e.Message.Contains "Exception") "no .NET type names"
            finally umount ro
        }

        test "disk full on a real size-limited mount: a clean error, no partial version, and the study resumes to identical numbers when space returns" {
            use d = new TempDir()
            let reference = Study.runWith (quickIn (d.File "reference")) (tiny ())
            let small = d.File "small"
            Directory.CreateDirectory small |> ignore
            if mount [ "-t"; "tmpfs"; "-o"; "size=200k"; "tmpfs"; small ] then
                try
                    let e = raisedBy<StoreException> (fun () -> Study.runWith (quickIn small) (tiny ()) |> ignore) "disk full"
                    Expect.stringContains e.Message "no space left on device" "the reason, in words"
                    Expect.isFalse (e.Message.Contains "\n") "one line"
                    let st = ResultStore(small)
                    let items = StoreVerify.audit st
                    Expect.isFalse (items |> List.exists (fun i -> i.State = AuditState.Corrupt || i.State = AuditState.Orphaned))
                        (sprintf "no partial version or litter: %A" items)
                    let stored = reference.Plan.Nodes |> List.filter (fun n -> st.Has n.Key) |> List.length
                    Expect.isLessThan stored 3 "the store filled before the study finished"
                    Expect.isTrue (mount [ "-o"; "remount,size=16m"; small ]) "space returns"
                    let r = Study.runWith (quickIn small) (tiny ())
                    Expect.equal (r.Status |> Map.filter (fun _ s -> s = Cached) |> Map.count) stored "what was written is kept"
                    for n in reference.Plan.Nodes do
                        Expect.isEmpty (Reproduce.differences reference.Results[n.Key] r.Results[n.Key]) "identical numbers"
                finally umount small
            else
                // Not root: an injected ENOSPC from the writer instead of a real mount.
                let st = ResultStore(small)
                let key = String('c', 64)
                let e = raisedBy<StoreException> (fun () ->
                            st.Commit(key, fun dir ->
                                File.WriteAllText(Path.Combine(dir, "result.json"), "{}")
                                raise (IOException("No space left on device", 28))) |> ignore) "injected"
                Expect.stringContains e.Message "no space left on device" "reason"
                Expect.isEmpty (st.Versions key) "no version"
                Expect.isEmpty (st.ScratchOf key) "no litter"
        }

        test "a missing dataset is reported once, before any training, with its remedy" {
            let s = study "needs-cifar" { data (dataset "cifar10"); model (mlp [ 4 ]); seeds 3; arm "fresh" fresh; arm "warm" warm }
            let p = Plan.ofStudy s
            use d = new TempDir()
            let e = raisedBy<DatasetNotFoundException> (fun () -> RunChecks.ensureData (Some d.Path) false None p) "missing"
            let lines = e.Message.Split('\n')
            Expect.stringStarts lines[0] (sprintf "study 'needs-cifar' needs data this machine does not have (%d training nodes read it)" p.Nodes.Length) "headline"
            Expect.equal (lines |> Array.filter (fun l -> l.Contains "cifar10: missing") |> Array.length) 1 "listed once"
            Expect.stringContains e.Message "warmstart data fetch cifar10" "remedy"
            Expect.stringContains e.Message "--fetch" "the opt-in download"
            RunChecks.ensureData None false None (Plan.ofStudy (tiny ())) // Fashion-MNIST is here
        }

        test "a script run whose nodes failed exits 1 after printing; --out naming a file is one clean line and exit 1" {
            use d = new TempDir()
            let script =
                writeStudyScript d.Path "fails.fsx" "fails"
                    "data fashion_mnist\nmodel (mlp [ 4 ])\nepochs 1\nseeds 1\narm \"fresh\" fresh\nquick_subset 100\nthreads 1"
            // A data folder that is present but malformed: every node fails when it loads the data.
            let bad = Path.Combine(d.Path, "data", "fashion-mnist")
            Directory.CreateDirectory bad |> ignore
            for stem in MnistFormat.Stems do File.WriteAllBytes(Path.Combine(bad, stem + ".gz"), gzip [| 1uy; 2uy; 3uy |])
            let code, out, err = runProcess "dotnet" [ "fsi"; script; "--"; "--quick"; "--out"; d.File "store"; "--data-root"; Path.Combine(d.Path, "data") ]
            Expect.equal code 1 (sprintf "exit 1 (stdout %s, stderr %s)" out err)
            Expect.stringContains out "nodes: 0 trained, 0 cached, 0 diverged, " "the nodes line"
            Expect.stringContains err "failed:" "the failures are listed"
            let file = d.File "not-a-folder"
            File.WriteAllText(file, "x")
            let code, _, err = runProcess "dotnet" [ "fsi"; script; "--"; "--quick"; "--out"; file ]
            Expect.equal code 1 "exit 1"
            Expect.equal (err.Trim()) (sprintf "error: result store '%s': opening the store: it is a file, not a folder" file) "one clean line"
        }

        test "SafeTar leaves nothing in the target when an entry after good ones is unsafe" {
            use d = new TempDir()
            let tarGz (entries: (string * Formats.Tar.TarEntryType * byte[]) list) =
                use ms = new MemoryStream()
                (use gz = new Compression.GZipStream(ms, Compression.CompressionLevel.Fastest, true)
                 use w = new Formats.Tar.TarWriter(gz, Formats.Tar.TarEntryFormat.Pax, false)
                 for name, kind, data in entries do
                     let e = Formats.Tar.PaxTarEntry(kind, name)
                     if kind = Formats.Tar.TarEntryType.SymbolicLink then e.LinkName <- "/etc/passwd"
                     elif kind = Formats.Tar.TarEntryType.RegularFile then e.DataStream <- new MemoryStream(data)
                     w.WriteEntry e)
                ms.ToArray()
            let a = d.File "bad.tar.gz"
            File.WriteAllBytes(a, tarGz [ "top/a.bin", Formats.Tar.TarEntryType.RegularFile, [| 1uy |]
                                          "top/b.bin", Formats.Tar.TarEntryType.RegularFile, [| 2uy |]
                                          "top/link", Formats.Tar.TarEntryType.SymbolicLink, [||] ])
            let target = d.File "out"
            raisedBy<UnsafeArchiveException> (fun () -> SafeTar.ExtractTarGz(a, target) |> ignore) "rejected" |> ignore
            Expect.isFalse (Directory.Exists target && Directory.EnumerateFileSystemEntries(target).GetEnumerator().MoveNext()) "nothing in the target"
            Expect.isEmpty (Directory.GetDirectories(d.Path, ".out.extract-*")) "no staging left"
        }

        test "data verify: uncompressed IDX files are reported as present but unverifiable, not missing" {
            use d = new TempDir()
            let dir = writeMnistFolder (d.File "fashion-mnist") 10 5 28 28 10 false
            let report = Verification.Verify(Catalog.Get "fashion-mnist", dir)
            Expect.equal report.State DataState.Unverified "loadable, unverified"
            Expect.equal [ for f in report.Files -> f.File ] (List.ofSeq MnistFormat.Stems) "the raw names"
            for f in report.Files do
                Expect.isTrue f.Unverifiable (f.File + " is unverifiable, not failed")
                Expect.isFalse (f.Detail.Contains "missing") (f.File + " is not missing")
                Expect.stringContains f.Detail "uncompressed copy" "explained"
        }
    ]
