/// Planning arithmetic: how many examples a study's pool holds and how many stages its schedule makes. Plan (and
/// Validate, which checks schedules against the pool) read it; `Plan.poolSize` and `Plan.stageCount` re-export it.
module WarmStart.PlanSizes

open WarmStart.Core.Data

/// The training-split size of a dataset, from its catalog entry (None for an unknown dataset or one whose size is
/// only known once loaded).
let trainCount (dataset: string) =
    // A view of a catalog dataset ("fashion-mnist[classes=0,1]"): a class subset's size is known before loading only
    // for a balanced dataset (classes × its per-class count); the other view steps keep every example.
    let key = DataNames.viewKey dataset
    let name = DataNames.catalogName dataset
    if not (Catalog.Contains name) then None
    else
        let e = Catalog.Get name
        let classSubset =
            try
                DatasetView.Parse(key).Steps
                |> Seq.tryPick (function :? ClassSubset as c -> Some(c.Classes |> Seq.distinct |> Seq.length) | _ -> None)
            with _ -> None   // a malformed view: validation reports it
        match classSubset with
        | Some k -> e.TrainCountPerClass |> Option.ofNullable |> Option.map (fun per -> k * per)
        | None -> Option.ofNullable e.TrainCount

/// The dataset a study's pool is drawn from (the target of a transfer schedule).
let poolDataset (s: Study) = match s.Schedule with Transfer(_, target, _) -> target | _ -> s.Data.Name

/// The number of examples in a study's pool: the training split (its held-out pool share), capped by `subset`.
/// For a dataset of unknown size, `subset` (or the cap alone) decides; 0 when neither is known.
let poolSize (s: Study) =
    let full =
        trainCount (poolDataset s) |> Option.map (fun n ->
            match s.Data.Eval with
            | HeldOut f -> Subsets.CountFor(f, int64 n) |> int
            | OfficialTest -> n)
    match s.Subset, full with
    | Some c, Some n -> min c n
    | Some c, None -> c
    | None, Some n -> n
    | None, None -> 0

/// The number of stages (rounds) the schedule declares.
let stageCount (s: Study) =
    match s.Schedule with
    | Fractions fs -> fs.Length
    | Online o | Active(o, _) ->
        let pool = poolSize s
        let all = if o.Chunk > 0 then (pool + o.Chunk - 1) / o.Chunk else 0
        match o.Rounds with Some r -> min r all | None -> all
    | Transfer _ | PretrainEpochs _ -> 2
    // A stream is one node per arm × seed; its tasks are not stages.
    | Stream _ -> 1
