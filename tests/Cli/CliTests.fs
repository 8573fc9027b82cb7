/// The `warmstart` command as the README promises it, run as a child process: --version, a wrong option (exit 2),
/// a missing dataset (exit 1), `plan`, `train` with `--device`, `data list | fetch --from | verify`, and the
/// order in which data roots are searched.
module WarmStart.Tests.Cli.CliTests

open System
open System.IO
open System.Text.RegularExpressions
open Expecto
open WarmStart.Tests
open WarmStart.Tests.Fixtures
open WarmStart.Tests.Data.DataFixtures

let private warmstart (env: (string * string) list) (args: string list) =
    Processes.runWithin (Processes.defaultLimit ()) env "dotnet" (cliDll () :: args)

/// The `data list` line of one dataset: (status, where).
let private listed (out: string) (name: string) =
    out.Split('\n') |> Array.tryPick (fun l ->
        let m = Regex.Match(l, sprintf @"^%s\s+(\S+)\s+(?:\d+ MB|\?)\s+(.*)$" (Regex.Escape name))
        if m.Success then Some(m.Groups[1].Value, m.Groups[2].Value.Trim()) else None)
    |> Option.defaultWith (fun () -> failtestf "no line for %s in:\n%s" name out)

[<Tests>]
let tests =
    testList "cli" [
        test "--version names the toolkit, TorchSharp and libtorch 2.x" {
            let code, out, err = warmstart [] [ "--version" ]
            Expect.equal code 0 err
            Expect.isMatch (out.Trim()) @"^warmstart \d+\.\d+\.\d+(\.\d+)?, TorchSharp 0\.107\.\d+(\.\d+)?, libtorch 2\.\d+" "the version line"
        }
        test "a wrong option is named, points at the usage and exits 2" {
            let code, _, err = warmstart [] [ "train"; "--no-such-option" ]
            Expect.equal code 2 "exit 2"
            Expect.stringContains err "--no-such-option" "names the option"
            Expect.isTrue (err.Contains "USAGE" || err.Contains "--help") (sprintf "prints the usage or where to find it: %s" err)
            let code2, _, _ = warmstart [] [ "frobnicate" ]
            Expect.equal code2 2 "an unknown command too"
        }
        test "a missing dataset prints what was wrong and exits 1" {
            use d = new TempDir()
            // CIFAR-10 is looked for in the given root, the environment's and the user cache: all empty here.
            let env = [ "WARMSTART_DATA", d.File "env"; "XDG_CACHE_HOME", d.File "cache" ]
            let code, _, err = warmstart env [ "train"; "--data"; "cifar10"; "--epochs"; "1"; "--data-root"; d.File "root" ]
            Expect.equal code 1 "exit 1"
            Expect.stringContains err "error:" "an error line"
            Expect.stringContains err "cifar10" "names the dataset"
            Expect.stringContains err "warmstart data fetch cifar10" "says what to do"
            Expect.isFalse (err.Contains "   at ") "no stack trace"
        }
        test "plan prints the training nodes: the quickstart in --quick shares stage 1 across its three arms" {
            let script = Path.Combine(repoRoot.Force(), "studies", "quickstart.fsx")
            let code, out, err = warmstart [] [ "plan"; script; "--quick" ]
            Expect.equal code 0 err
            Expect.stringContains out "quickstart" "names the study"
            // 2 quick seeds: one shared stage-1 node each, and a stage-2 node per arm: 2 × (1 + 3) = 8.
            Expect.stringContains out "8 training nodes" "2 seeds × (1 shared + 3 arms)"
        }
        test "train: one model on Fashion-MNIST with --device cpu; an unknown device is refused" {
            let code, out, err = warmstart [] [ "train"; "--data"; "fashion-mnist"; "--model"; "mlp"; "--hidden"; "32"; "--epochs"; "1"; "--subset"; "2000"; "--device"; "cpu"; "--threads"; "1" ]
            Expect.equal code 0 err
            Expect.stringContains out "(2000 examples, 1 threads, cpu)" "the run it announces"
            Expect.stringContains out "epoch   1" "an epoch line"
            // The table: a header "epochs  train acc  test acc …", then the values.
            let lines = out.Split('\n') |> Array.map (fun l -> l.Trim())
            let header = lines |> Array.findIndex (fun l -> l.StartsWith "epochs")
            let values = lines[header + 1].Split(' ', StringSplitOptions.RemoveEmptyEntries)
            Expect.equal values[0] "1" "one epoch"
            Expect.isGreaterThan (Double.Parse(values[2], Globalization.CultureInfo.InvariantCulture)) 0.5 "test accuracy: learned (chance is 0.1)"
            let code2, _, err2 = warmstart [] [ "train"; "--epochs"; "1"; "--subset"; "100"; "--device"; "tpu" ]
            Expect.equal code2 1 "exit 1"
            Expect.stringContains err2 "device 'tpu' is not known; allowed: cpu, cuda, cuda:N" "names the device and what is allowed"
        }
        test "data list, verify and fetch --from (a loopback mirror): the mirror is asked, a checksum mismatch places nothing" {
            use d = new TempDir()
            let env = [ "WARMSTART_DATA", d.File "env"; "XDG_CACHE_HOME", d.File "cache" ]
            let code, out, err = warmstart env [ "data"; "list" ]
            Expect.equal code 0 err
            let status, where = listed out "fashion-mnist"
            Expect.equal status "system" "Debian's package"
            Expect.stringStarts where "/usr/share/datasets/fashion-mnist" "found in /usr/share/datasets"
            Expect.equal (fst (listed out "cifar10")) "missing" "CIFAR-10 is not here"
            Expect.stringContains (snd (listed out "cifar10")) "warmstart data fetch cifar10" "and the list says how to get it"
            let vc, vo, ve = warmstart env [ "data"; "verify"; "fashion-mnist" ]
            Expect.equal vc 0 (vo + ve)
            Expect.stringContains vo "verified by dpkg" "checked against dpkg's md5sums"
            let vc2, _, ve2 = warmstart env [ "data"; "verify"; "cifar10" ]
            Expect.equal vc2 1 "verifying a missing dataset fails"
            Expect.stringContains ve2 "cifar10" "and names it"
            // A mirror serving files of the published names and sizes whose bytes are not the published ones.
            let entry = WarmStart.Core.Data.Catalog.Get "fashion-mnist"
            let files = dict [ for f in entry.Files -> "/" + f.Name, Array.init (int f.Size.Value) (fun i -> byte (i % 251)) ]
            use server = new LoopbackServer(files)
            let root = d.File "fetched"
            let fc, fo, fe = warmstart env [ "data"; "fetch"; "fashion-mnist"; "--from"; string server.BaseUri; "--data-root"; root ]
            Expect.equal fc 1 (sprintf "a checksum mismatch fails: %s %s" fo fe)
            Expect.isNonEmpty server.Requests "the mirror was asked"
            Expect.isTrue (server.Requests |> List.forall (fun r -> files.ContainsKey r.Path)) (sprintf "for the dataset's files: %A" server.Requests)
            Expect.stringContains (fe.ToLowerInvariant()) "md5" "the error names the checksum"
            for f in entry.Files do
                Expect.isFalse (File.Exists(Path.Combine(root, entry.Folder, f.Name))) (sprintf "%s not placed" f.Name)
            let bc, _, be = warmstart env [ "data"; "fetch"; "fashion-mnist"; "--from"; "ftp://example.invalid/" ]
            Expect.equal bc 2 "a --from that is not http(s) is a usage error"
            Expect.stringContains be "not an http(s) address" "says why"
        }
        test "data roots are searched in order: --data-root, then $WARMSTART_DATA, then the user cache, then /usr/share/datasets" {
            use d = new TempDir()
            let mnist root = writeMnistFolder (Path.Combine(d.File root, "mnist")) 6 3 28 28 10 true |> ignore
            for r in [ "explicit"; "env"; "cache/warmstart/datasets" ] do mnist r
            let where env args =
                let code, out, err = warmstart env ([ "data"; "list" ] @ args)
                Expect.equal code 0 err
                snd (listed out "mnist")
            let env = [ "WARMSTART_DATA", d.File "env"; "XDG_CACHE_HOME", d.File "cache" ]
            Expect.stringStarts (where env [ "--data-root"; d.File "explicit" ]) (Path.Combine(d.File "explicit", "mnist")) "--data-root first"
            Expect.stringStarts (where env []) (Path.Combine(d.File "env", "mnist")) "then $WARMSTART_DATA"
            Expect.stringStarts (where [ "WARMSTART_DATA", d.File "empty"; "XDG_CACHE_HOME", d.File "cache" ] [])
                (Path.Combine(d.File "cache", "warmstart", "datasets", "mnist")) "then the user cache"
            let fc, fo, fe = warmstart [ "WARMSTART_DATA", d.File "empty"; "XDG_CACHE_HOME", d.File "nocache" ] [ "data"; "list" ]
            Expect.equal fc 0 fe
            Expect.stringStarts (snd (listed fo "fashion-mnist")) "/usr/share/datasets/fashion-mnist" "then the system folder"
            // A study reads the root it is given: training on the 6-image fixture says so.
            let code, out, err = warmstart env [ "train"; "--data"; "mnist"; "--epochs"; "1"; "--data-root"; d.File "explicit" ]
            Expect.equal code 0 err
            Expect.stringContains out "(6 examples," "the --data-root copy was loaded"
        }
    ]
