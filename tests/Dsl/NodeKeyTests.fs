/// Node keys are the store's addresses: a change orphans every user's results, so the keys of a known study are
/// pinned here. A deliberate change (a new key version, said in the README's store section) updates these values.
module WarmStart.Tests.Dsl.NodeKeyTests

open Expecto
open WarmStart

/// The README's quickstart study, word for word.
let private quickstart () = WarmStart.Tests.Studies.quickstartStudy ()

[<Tests>]
let tests =
    testList "dsl.keys" [
        test "the quickstart's node keys are pinned (a changed key orphans every store)" {
            let p = Plan.ofStudy (quickstart ())
            Expect.equal (Plan.nodeAt p "warm" 0 1).Key "71868f40644434296a6205055275566032515ceb7e7ceafb502d0550825cad98" "seed 0, stage 1 (shared)"
            Expect.equal (Plan.nodeAt p "warm" 0 2).Key "569ce440ae18cc874020c3e231bdf23e8685b179001bcb1dac90a2364fd1ec2d" "seed 0, stage 2, warm"
            Expect.equal (Plan.nodeAt p "shrink-perturb" 0 2).Key "fbf190a3a1baf29e3f8930d0c7bdb583756de50c1f9e1eb3f72168e2c7c354d3" "seed 0, stage 2, shrink-perturb"
        }
    ]
