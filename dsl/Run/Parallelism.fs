/// How many nodes the executor trains at once and with how many torch threads each: the `--jobs auto` rule.
module WarmStart.Parallelism

open WarmStart.Core.Native

/// `--jobs auto` (the default) as `RunOptions.Jobs` / `ExecOptions.Jobs` hold it: the executor chooses (see `choose`).
[<Literal>]
let AutoJobs = 0

/// Workers (nodes trained at once) and torch intra-op threads per worker, and why.
type Choice =
    { Jobs: int
      Threads: int
      /// Why, in a few words, for the line a run prints ("auto: small models, one thread per worker").
      Reason: string }

/// Models whose operations are too small for several torch threads to pay for their synchronisation: the MLP,
/// logistic regression and the two-convolution CNN. ResNet-18s have big convolutions (and big activations, so
/// many at once would also cost memory).
let isSmall (kind: ModelKind) =
    match kind with
    | ModelKind.Mlp | ModelKind.LogisticRegression | ModelKind.SmallCnn -> true
    | ModelKind.ResNet18 | ModelKind.ResNet18Dash -> false

/// The workers and threads per worker for `jobs` (≥ 1, or `AutoJobs`) and `threads` (≥ 1, or 0 = not set) on
/// `device` with `cores` usable cores, for a plan training `models`.
///
/// An explicit job count keeps its meaning: that many workers, each with `threads`, else cores / jobs (at least 1).
/// Auto on the CPU, when every model is small: one torch thread per worker and a worker per core (with `threads`
/// set: cores / threads workers). Small models run faster that way: the MLP 784-100-100-10 at batch 128 is slower
/// on two intra-op threads than on one, and on a quiet 2-core machine the full quickstart took 180 s with one
/// worker of two threads against 56 s with two workers of one thread; a sweep of 200 tiny MLPs (`bench load`)
/// 2.42–3.15 s against 0.71–0.89 s.
/// One thread per worker also makes the numbers the same on every machine, whatever its core count (a reduction
/// split over more threads differs in the last bits). Auto with a ResNet-size model, or on a CUDA device: one
/// worker with every core (or `threads`), as the big convolutions use the threads and many at once would cost
/// memory; a GPU runs one node's kernels at a time anyway.
let choose (device: Device) (cores: int) (models: ModelKind seq) (jobs: int) (threads: int) : Choice =
    let cores = max 1 cores
    let threadsOr fallback = if threads > 0 then threads else fallback
    if jobs >= 1 then
        { Jobs = jobs; Threads = threadsOr (max 1 (cores / jobs)); Reason = "jobs as given" }
    else
        match device with
        | Device.Cuda _ -> { Jobs = 1; Threads = threadsOr cores; Reason = "auto: one worker on a CUDA device" }
        | Device.Cpu when Seq.forall isSmall models ->
            let t = threadsOr 1
            { Jobs = max 1 (cores / t); Threads = t
              Reason = if t = 1 then "auto: small models, one thread per worker" else "auto: small models, cores / threads workers" }
        | Device.Cpu -> { Jobs = 1; Threads = threadsOr cores; Reason = "auto: ResNet-size models, one worker" }

/// `choose` for a plan (its nodes' models, the study's `threads`) on this process's cores (CPU affinity and cgroup
/// quota, `Threads.AvailableCores`).
let forPlan (device: Device) (jobs: int) (plan: StudyPlan) : Choice =
    choose device (Threads.AvailableCores()) (plan.Nodes |> Seq.map (fun n -> n.Spec.Model.Kind)) jobs plan.Study.Threads

/// The line a run prints: "2 workers × 1 torch thread (auto: small models, one thread per worker)".
let describe (c: Choice) =
    sprintf "%d worker%s × %d torch thread%s (%s)" c.Jobs (if c.Jobs = 1 then "" else "s") c.Threads (if c.Threads = 1 then "" else "s") c.Reason
