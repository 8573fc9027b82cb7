// E4 (arXiv v1 only): active learning with margin sampling. Each round labels the 1,000 pool examples with the
// smallest top-1 minus top-2 softmax probability under the arm's own previous model, then retrains on everything
// labelled, warm-started or fresh; random acquisition under the same protocol is the passive baseline. k, model
// and optimiser are not stated in the sources: we assume the passive-online defaults (ResNet-18 width 16, CIFAR-10,
// Adam 1e-3, 99 % train accuracy, 2/3 pool). Paper: warm-starting hurts here too (no numbers recovered).
// Cap: 1,000 epochs per stage. The paper trains to 99 % with no cap; the cap only ends a stage that never gets there,
// and such a stage is flagged as not converged (NotConverged in the summaries).
//   full:  ./warmstart run studies/ash-adams-2020/online-active.fsx
//   quick: ./warmstart run studies/ash-adams-2020/online-active.fsx --quick (Fashion-MNIST, MLP, 3 rounds)
#load "../../dsl/WarmStart.fsx"
open WarmStart

let activeWith name acquisition =
    study name {
        data cifar10
        quick_preset fashion_mnist_mlp   // --quick: Fashion-MNIST, MLP 100-100, 2,000 examples, 3 epochs, 2 seeds
        half_normalization
        evaluate_on (held_out (2.0 / 3.0))
        model (resnet18 16)
        optimizer (adam 1e-3)
        train_until (train_accuracy 0.99) (max_epochs 1000)
        seeds 5
        schedule (active (chunk 1000) acquisition)
        quick_subset 3000
        arm "fresh" fresh
        arm "warm" warm
    }

let results = [ activeWith "online-active-margin" margin; activeWith "online-active-random" random_acquisition ]
              |> Study.runAllFromArgs fsi.CommandLineArgs
results |> Summary.byArmAll |> Summary.print          // margin vs random, warm vs fresh, round by round
results |> Summary.gapVsAll "fresh" |> Summary.print
