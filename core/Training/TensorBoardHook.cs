namespace WarmStart.Core.Training;

/// <summary>
/// Writes a stage's training into a TensorBoard run while it trains: the run's hyper-parameters (hparams plugin)
/// when the hook is made, then <c>train/loss</c> and <c>train/accuracy</c> after every epoch, at step
/// <c>stepOffset + epoch</c> — the chain's epoch, so a stage that starts from an earlier stage's model continues
/// that stage's steps. <see cref="Finish"/> adds the evaluation results once the stage has been evaluated.
/// </summary>
public sealed class TensorBoardHook : ITrainingHook
{
    readonly TfEventWriter _writer;
    readonly int _stepOffset;

    /// <summary>A run in <paramref name="runDir"/> whose epochs are plotted after <paramref name="stepOffset"/> earlier
    /// epochs of the chain. <paramref name="restart"/> removes the run's earlier event files first (a node trained
    /// from its start; a stage resumed from a checkpoint keeps them and appends).</summary>
    public TensorBoardHook(string runDir, int stepOffset, IReadOnlyDictionary<string, object> hparams, bool restart)
    {
        if (stepOffset < 0) throw new ArgumentOutOfRangeException(nameof(stepOffset), $"step offset {stepOffset}; allowed: ≥ 0");
        if (restart && Directory.Exists(runDir))
            foreach (var f in Directory.GetFiles(runDir, "events.out.tfevents.*")) File.Delete(f);
        _writer = new TfEventWriter(runDir);
        _stepOffset = stepOffset;
        _writer.SessionStart(hparams);
    }

    /// <summary>The event file this hook writes.</summary>
    public string FilePath => _writer.FilePath;

    /// <inheritdoc />
    public void EpochEnd(EpochEndInfo info) => Epoch(info.Record);

    /// <summary>One epoch's training loss and accuracy (what <see cref="EpochEnd"/> writes; also how a stored curve is
    /// written for a node read from a result store).</summary>
    public void Epoch(EpochRecord rec)
    {
        long step = _stepOffset + rec.Epoch;
        _writer.Scalar("train/loss", rec.Loss, step);
        _writer.Scalar("train/accuracy", rec.TrainAccuracy, step);
    }

    /// <summary>After the stage's evaluation: <c>test/loss</c> and <c>test/accuracy</c> at every epoch evaluated during
    /// training (<paramref name="curve"/>), and the final evaluation at the last epoch's step unless that epoch was
    /// evaluated already; then the hparams session end (failure when the run diverged).</summary>
    public void Finish(IReadOnlyList<EpochRecord> curve, double testLoss, double testAccuracy, bool diverged)
    {
        foreach (var e in curve.Where(e => e.Evaluated && e.Epoch > 0))
        {
            _writer.Scalar("test/loss", e.TestLoss, _stepOffset + e.Epoch);
            _writer.Scalar("test/accuracy", e.TestAccuracy, _stepOffset + e.Epoch);
        }
        if (curve.Count > 0 && !curve[^1].Evaluated)
        {
            long last = _stepOffset + curve[^1].Epoch;
            _writer.Scalar("test/loss", testLoss, last);
            _writer.Scalar("test/accuracy", testAccuracy, last);
        }
        _writer.SessionEnd(!diverged);
    }
}
