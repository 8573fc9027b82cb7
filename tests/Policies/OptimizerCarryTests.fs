module WarmStart.Tests.Policies.OptimizerCarryTests

open Expecto
open TorchSharp
open WarmStart.Core.Models
open WarmStart.Core.Policies
open WarmStart.Core.Training
open WarmStart.Tests.Fixtures
open WarmStart.Tests.Policies.PolicyFixtures

let private spec = ModelSpec.Mlp(6)

/// A few optimiser steps on tiny data.
let private steps (m: Network) (opt: torch.optim.Optimizer) (data: WarmStart.Core.Data.Dataset) k =
    let struct (x, y) = data.Batch(torch.arange(8L, dtype = torch.ScalarType.Int64))
    for _ in 1 .. k do
        opt.zero_grad()
        use loss = torch.nn.functional.cross_entropy(m.forward x, y)
        loss.backward()
        opt.step() |> ignore

let private adamState (m: Network) (opt: torch.optim.Optimizer) name =
    let struct (_, st) = (OptimizerCarry.StatesByName(m, opt)).[name]
    st :?> TorchSharp.Modules.Adam.State

[<Tests>]
let tests =
    testList "policies.optimizer" [
        test "keep_optimizer_state: Adam step counts and moments survive by name and by value; training continues identically" {
            use data = tinyData 8L 1L 2L 2L 3 1L
            use a = build spec data 1L
            let adam = OptimizerSpec.Adam 1e-2
            let optA = adam.Create(a.parameters())
            steps a optA data 3
            use b = build spec data 2L
            NetworkCopy.CopyInto(a, b)
            use optB = OptimizerCarry.CarryOver(a, optA, b, adam)
            for KeyValue(n, _) in paramsOf a do
                let sa, sb = adamState a optA n, adamState b optB n
                Expect.equal sb.step 3L ("step " + n)
                Expect.isTrue (same sa.exp_avg sb.exp_avg) ("exp_avg " + n)
                Expect.isTrue (same sa.exp_avg_sq sb.exp_avg_sq) ("exp_avg_sq " + n)
                Expect.isFalse (obj.ReferenceEquals(sa.exp_avg, sb.exp_avg)) ("copied, not shared " + n)
            // One more step on both: identical weights, i.e. the carried state is the state.
            steps a optA data 1
            steps b optB data 1
            for KeyValue(n, p) in paramsOf a do Expect.isTrue (same p (paramsOf b).[n]) ("same trajectory " + n)
            // The old optimiser may go away.
            optA.Dispose()
            steps b optB data 1
            Expect.equal (adamState b optB "head.weight").step 5L "still stepping"
        }
        test "carry-over resets the state of re-initialised groups (head_reset) and a fresh optimiser starts at zero" {
            use data = tinyData 8L 1L 2L 2L 3 1L
            use a = build spec data 1L
            let adam = OptimizerSpec.Adam 1e-2
            use optA = adam.Create(a.parameters())
            steps a optA data 2
            use idx = torch.arange(8L, dtype = torch.ScalarType.Int64)
            let policy = HeadResetPolicy()
            use b = policy.Apply(context spec data a idx idx 3L)
            use optB = OptimizerCarry.CarryOver(a, optA, b, adam, OptimizerCarry.ResetFor(policy, b))
            Expect.equal (adamState b optB "hidden1.weight").step 2L "kept for the body"
            Expect.equal (adamState b optB "head.weight").step 0L "reset for the head"
            let st = adamState b optB "head.bias"
            Expect.isTrue (same st.exp_avg (torch.zeros_like st.exp_avg)) "head moments zero"
        }
        test "SGD momentum buffers carry over; a different optimiser kind is refused" {
            use data = tinyData 8L 1L 2L 2L 3 1L
            use a = build spec data 1L
            let sgd = OptimizerSpec.Sgd(0.1, 0.9)
            use optA = sgd.Create(a.parameters())
            steps a optA data 2
            use b = build spec data 1L
            NetworkCopy.CopyInto(a, b)
            use optB = OptimizerCarry.CarryOver(a, optA, b, sgd)
            let buf (m: Network) o n = let struct (_, st) = (OptimizerCarry.StatesByName(m, o)).[n] in (st :?> TorchSharp.Modules.SGD.State).momentum_buffer
            Expect.isTrue (same (buf a optA "hidden1.weight") (buf b optB "hidden1.weight")) "momentum buffer"
            steps a optA data 1
            steps b optB data 1
            for KeyValue(n, p) in paramsOf a do Expect.isTrue (same p (paramsOf b).[n]) ("same trajectory " + n)
            Expect.throwsT<System.ArgumentException> (fun () -> OptimizerCarry.CarryOver(a, optA, b, OptimizerSpec.Adam 1e-3) |> ignore) "kind mismatch"
        }
    ]
