/// `warmstart store verify`: every node version of a result store against its manifest (every file hashed), its
/// JSON files, scratch left by killed writers, and every study index (it parses; each node's key is the hash of
/// its spec; chains name nodes of the plan; a stored version's spec is the one the index holds).
module WarmStart.StoreVerify

open System
open System.IO
open WarmStart.Core.Runs

/// The problems of one study index (empty when consistent).
let indexProblems (store: ResultStore) (folder: string) : string list =
    let path = Path.Combine(store.StudyFolder folder, "index.json")
    if not (File.Exists path) then [ "index.json is missing" ]
    else
        match (try Ok(NodeStore.readIndex store folder) with e -> Error e.Message) with
        | Error m -> [ sprintf "index.json does not parse (%s)" (m.Split('\n')[0]) ]
        | Ok(p, _) ->
            let keys = p.Nodes |> List.map (fun n -> n.Key) |> Set.ofList
            [ for n in p.Nodes do
                  if Plan.keyOf n.Spec <> n.Key then
                      yield sprintf "node %s: its key is not the hash of its spec" (n.Key.Substring(0, min 8 n.Key.Length))
                  else
                      match store.Latest n.Key with
                      | null -> ()
                      // A damaged version is reported as such; the index is compared only with intact ones.
                      | dir when store.CheckVersion(n.Key, dir, false).Count > 0 -> ()
                      | dir ->
                          let spec = Path.Combine(dir, "spec.json")
                          if File.Exists spec && File.ReadAllText spec <> Canonical.render (Plan.specJson n.Spec) then
                              yield sprintf "node %s: the stored spec differs from the index's" (n.Key.Substring(0, 8))
              for KeyValue(c, ks) in p.Chains do
                  for k in ks do
                      if not (keys.Contains k) then
                          yield sprintf "chain %s/%s/seed %d names node %s, which is not in the plan" c.Variant c.Arm c.Seed (k.Substring(0, min 8 k.Length)) ]

/// Every finding: node versions and scratch (from the core's audit), then one item per study index.
let audit (store: ResultStore) : AuditItem list =
    [ yield! StoreAudit.Nodes store
      for folder in store.Studies() do
          let shown = Path.Combine("studies", folder, "index.json")
          match indexProblems store folder with
          | [] -> yield AuditItem(AuditState.Ok, shown, null, "ok")
          | ps -> yield AuditItem(AuditState.Corrupt, shown, null, String.concat "; " ps) ]

/// `N ok, N corrupt, N orphaned` (versions written before manifests count as ok; nodes being trained are left out).
let tally (items: AuditItem list) =
    let count s = items |> List.filter (fun i -> i.State = s) |> List.length
    sprintf "%d ok, %d corrupt, %d orphaned" (count AuditState.Ok + count AuditState.Legacy) (count AuditState.Corrupt) (count AuditState.Orphaned)

/// True when the store has a problem (a corrupt version or index, or orphaned scratch).
let hasProblems (items: AuditItem list) =
    items |> List.exists (fun i -> i.State = AuditState.Corrupt || i.State = AuditState.Orphaned)

/// Runs the audit and prints it: one line per finding that is not plain ok, then the tally; with `repair`, moves
/// corrupt versions aside, removes orphans, and audits again. Returns 0 when the store (after repair) has no
/// problem, 1 otherwise.
let run (root: string) (repair: bool) (write: string -> unit) =
    if not (Directory.Exists(Path.Combine(root, "nodes"))) then
        failwithf "'%s' is not a result store (no nodes/ folder)" root
    let store = ResultStore(root)
    let items = audit store
    let word (s: AuditState) = (string s).ToLowerInvariant()
    let versions =
        items |> List.filter (fun i -> not (isNull i.Key) && (i.State = AuditState.Ok || i.State = AuditState.Legacy || i.State = AuditState.Corrupt))
        |> List.length
    write (sprintf "store %s: %d node versions, %d studies" store.Root versions (store.Studies().Count))
    for i in items do
        if i.State <> AuditState.Ok then write (sprintf "  %-9s %s: %s" (word i.State) i.Path i.Detail)
    write (tally items)
    if repair && hasProblems items then
        for line in StoreAudit.Repair(store, items) do write ("  " + line)
        let after = audit store
        write ("after repair: " + tally after)
        if hasProblems after then 1 else 0
    elif hasProblems items then 1
    else 0
