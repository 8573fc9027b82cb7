/// Studies several test files need, declared once.
module WarmStart.Tests.Studies

open WarmStart

/// The README's quickstart study, word for word: node-key pins and evaluate_every's key tests are about this study.
let quickstartStudy () =
    study "quickstart" {
        data fashion_mnist
        subset 12000
        model (mlp [ 100; 100 ])
        optimizer (adam 1e-3)
        batch_size 128
        train_until (train_accuracy 0.99) (max_epochs 200)
        seeds 5
        schedule (fractions [ 0.5; 1.0 ])
        arm "fresh" fresh
        arm "warm" warm
        arm "shrink-perturb" (shrink_perturb 0.6 0.01)
    }
