module WarmStart.Tests.Data.SubsetTests

open Expecto
open WarmStart.Tests.Fixtures
open TorchSharp
open WarmStart.Core.Data
open WarmStart.Core.Runs

let private toSet (t: torch.Tensor) = t.data<int64>().ToArray() |> Set.ofArray

[<Tests>]
let tests =
    testList "data.subsets" [
        test "same seed gives the same permutation, another seed another" {
            use a = Subsets.Permutation(1000L, 7L)
            use b = Subsets.Permutation(1000L, 7L)
            use c = Subsets.Permutation(1000L, 8L)
            Expect.isTrue (same a b) "same seed"
            Expect.isFalse (same a c) "different seed"
            Expect.equal (toSet a) (Set.ofList [ 0L .. 999L ]) "a permutation"
        }
        test "fractions are nested prefixes; a half and its rest are disjoint and cover the pool" {
            use pool = Subsets.Permutation(101L, 3L)
            use half = Subsets.Fraction(pool, 0.5)
            use all = Subsets.Fraction(pool, 1.0)
            use rest = Subsets.Rest(pool, half.shape[0])
            Expect.equal half.shape[0] 51L "round half up"
            Expect.isTrue (Set.isSubset (toSet half) (toSet all)) "nested"
            Expect.isTrue (Set.intersect (toSet half) (toSet rest)).IsEmpty "disjoint"
            Expect.equal (Set.union (toSet half) (toSet rest)) (toSet pool) "cover"
        }
        test "split 2/3 : 1/3 is disjoint and deterministic" {
            let struct (a, b) = Subsets.Split(300L, 2.0 / 3.0, 11L)
            let struct (a2, _) = Subsets.Split(300L, 2.0 / 3.0, 11L)
            Expect.equal a.shape[0] 200L "two thirds"
            Expect.isTrue (Set.intersect (toSet a) (toSet b)).IsEmpty "disjoint"
            Expect.isTrue (same a a2) "deterministic"
        }
        test "fractions outside (0, 1] are refused" {
            Expect.throwsT<System.ArgumentOutOfRangeException> (fun () -> Subsets.CountFor(0.0, 10L) |> ignore) "0"
            Expect.throwsT<System.ArgumentOutOfRangeException> (fun () -> Subsets.CountFor(1.5, 10L) |> ignore) "1.5"
        }
        test "epoch batches cover the subset exactly once, in a seeded order" {
            use idx = torch.arange(10L, 1010L, dtype = torch.ScalarType.Int64)
            use e1 = new EpochBatches(idx, 128, 5L)
            use e2 = new EpochBatches(idx, 128, 5L)
            Expect.equal e1.BatchCount 8 "ceil(1000/128)"
            let all = [ for b in 0 .. e1.BatchCount - 1 -> e1[b].data<int64>().ToArray() ] |> Array.concat
            Expect.equal (Array.sort all) [| 10L .. 1009L |] "each example once"
            Expect.isTrue (same e1[3] e2[3]) "same seed same batches"
            Expect.equal e1[7].shape[0] (1000L - 7L * 128L) "short last batch"
        }
        test "derived seeds are stable, role-sensitive and positive" {
            Expect.equal (Seeds.Derive(1L, "split")) (Seeds.Derive(1L, "split")) "stable"
            Expect.notEqual (Seeds.Derive(1L, "split")) (Seeds.Derive(1L, "order")) "role matters"
            Expect.notEqual (Seeds.Derive(1L, "split")) (Seeds.Derive(2L, "split")) "parent matters"
            for s in 0L .. 100L do Expect.isGreaterThanOrEqual (Seeds.Derive(s, "x")) 0L "positive"
        }
        test "unlabelled and new-only examples: the entries not in the other set, in order (hand-made indices)" {
            use pool = torch.tensor([| 5L; 3L; 8L; 1L; 9L; 0L |])
            use labelled = torch.tensor([| 3L; 9L; 7L |])
            use u = Subsets.Unlabelled(pool, labelled, 10L)
            Expect.equal (u.data<int64>().ToArray()) [| 5L; 8L; 1L; 0L |] "pool order, labelled ones removed"
            use stage = torch.tensor([| 4L; 2L; 6L; 2L |])
            use parent = torch.tensor([| 2L |])
            use fresh = Subsets.NewOnly(stage, parent, 7L)
            Expect.equal (fresh.data<int64>().ToArray()) [| 4L; 6L |] "the parent's examples removed"
            use none = Subsets.NewOnly(stage, stage, 7L)
            Expect.equal none.shape[0] 0L "nothing new"
        }
        test "a pool slice: the entries from a start, cut at the pool's end; a start past the end names both numbers" {
            use pool = torch.tensor([| 5L; 3L; 8L; 1L; 9L |])
            use s = Subsets.Slice(pool, 3L, 10L)
            Expect.equal (s.data<int64>().ToArray()) [| 1L; 9L |] "cut at the end"
            let msg = try Subsets.Slice(pool, 5L, 1L) |> ignore; "" with :? System.ArgumentOutOfRangeException as e -> e.Message
            Expect.stringContains msg "pool slice starts at 5 but the pool holds 5 examples" "start and pool size named"
        }
        test "a study pool: a permutation cut to its size; held out: the split's first part, the rest evaluated" {
            let struct (p, e) = Subsets.StudyPool(100L, 7L, System.Nullable 30L, System.Nullable())
            use _p = p
            use perm = Subsets.Permutation(100L, 7L)
            use first = Subsets.Prefix(perm, 30L)
            Expect.isTrue (same p first) "the permutation's first 30"
            Expect.isNull e "no held-out part"
            let struct (hp, he) = Subsets.StudyPool(90L, 7L, System.Nullable(), System.Nullable(2.0 / 3.0))
            use _hp = hp
            use _he = he
            Expect.equal (hp.shape[0], he.shape[0]) (60L, 30L) "2/3 pool, 1/3 held out"
            Expect.equal (Set.union (toSet hp) (toSet he)) (Set.ofList [ 0L .. 89L ]) "they cover the split"
        }
    ]
