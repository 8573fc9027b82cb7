using WarmStart.Core.Data;
using static TorchSharp.torch;

namespace WarmStart.Core.Training;

/// <summary>Loss and accuracy of a model in eval mode, in large batches, without gradients.</summary>
public static class Evaluation
{
    /// <summary>Mean cross-entropy and accuracy of <paramref name="model"/> on <paramref name="indices"/> of
    /// <paramref name="data"/> (all of it when null). Restores the model's training mode afterwards.</summary>
    public static (double Loss, double Accuracy) Evaluate(nn.Module<Tensor, Tensor> model, Dataset data,
        Tensor? indices = null, int batchSize = 2048, Device? device = null) =>
        Run(model, data, indices, batchSize, device, trainMode: false);

    /// <summary><see cref="Evaluate"/> with the model in train mode, so BatchNorm normalises each batch with its own
    /// statistics (no gradients; the results depend on <paramref name="batchSize"/>). BatchNorm's running statistics
    /// are updated as in training: a caller that needs them keeps a copy. Restores the training mode afterwards.</summary>
    public static (double Loss, double Accuracy) EvaluateBatchStatistics(nn.Module<Tensor, Tensor> model, Dataset data,
        Tensor? indices, int batchSize, Device? device = null) =>
        Run(model, data, indices, batchSize, device, trainMode: true);

    static (double Loss, double Accuracy) Run(nn.Module<Tensor, Tensor> model, Dataset data, Tensor? indices,
        int batchSize, Device? device, bool trainMode)
    {
        bool wasTraining = model.training;
        model.train(trainMode);
        try
        {
            using var _ = no_grad();
            using var all = indices is null ? arange(data.Count, dtype: ScalarType.Int64) : null;
            var idx = indices ?? all!;
            long n = idx.shape[0];
            if (n == 0) return (double.NaN, double.NaN);
            double loss = 0; long correct = 0;
            for (long start = 0; start < n; start += batchSize)
            {
                using var scope = NewDisposeScope();
                var (x, y) = data.Batch(idx.narrow(0, start, Math.Min(batchSize, n - start)), device);
                var logits = model.forward(x);
                loss += nn.functional.cross_entropy(logits, y, reduction: nn.Reduction.Sum).item<float>();
                correct += logits.argmax(1).eq(y).sum().item<long>();
            }
            return (loss / n, (double)correct / n);
        }
        finally { model.train(wasTraining); }
    }

    /// <summary>Softmax probabilities of <paramref name="model"/> for <paramref name="indices"/> (eval mode), on the CPU.</summary>
    public static Tensor Probabilities(nn.Module<Tensor, Tensor> model, Dataset data, Tensor indices, int batchSize = 2048, Device? device = null)
    {
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var _ = no_grad();
            var parts = new List<Tensor>();
            long n = indices.shape[0];
            for (long start = 0; start < n; start += batchSize)
            {
                using var scope = NewDisposeScope();
                var (x, _) = data.Batch(indices.narrow(0, start, Math.Min(batchSize, n - start)), device);
                parts.Add(model.forward(x).softmax(1).cpu().MoveToOuterDisposeScope());
            }
            var all = parts.Count == 0 ? zeros(0, data.NumClasses) : cat(parts, 0);
            foreach (var p in parts) p.Dispose();
            return all;
        }
        finally { model.train(wasTraining); }
    }
}
