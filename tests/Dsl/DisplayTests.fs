module WarmStart.Tests.Dsl.DisplayTests

open Expecto
open Deedle
open WarmStart

type private ArmLike =
    { Arm: string; Stage: int; Step: string; X: float; N: int; TestAccMean: float; TestAccSd: float
      TestAccCiLow: float; TestAccCiHigh: float; EpochsMean: float; SecondsMean: float }

type private Other = { lambda: float; GapMean: float; EpochsGapMean: float }

/// A byArm-shaped frame: one arm whose 95 % t-interval at n = 2 passes 100 %.
let private armFrame () =
    [ { Arm = "warm"; Stage = 2; Step = "100% of pool"; X = 50.0; N = 2; TestAccMean = 0.985; TestAccSd = 0.0212
        TestAccCiLow = 0.79; TestAccCiHigh = 1.18; EpochsMean = 31.5; SecondsMean = 12.24 } ]
    |> Frame.ofRecords

[<Tests>]
let tests =
    testList "dsl.display" [
        test "plain column names, percent with 2 decimals, no x column, one interval column" {
            let header, rows = Display.table (armFrame ())
            Expect.equal header [ "arm"; "stage"; "step"; "n"; "test acc %"; "sd (pts)"; "95% CI"; "epochs"; "seconds" ] "header"
            Expect.equal rows [ [ "warm"; "2"; "100% of pool"; "2"; "98.50"; "2.12"; "[79.00, 100.00]"; "31.5"; "12.2" ] ] "cells"
        }
        test "the text table is drawn with the same cells, no trailing spaces" {
            let text = Display.format (armFrame ())
            for cell in [ "test acc %"; "98.50"; "[79.00, 100.00]" ] do Expect.stringContains text cell "cell"
            Expect.isFalse (text.Contains "50.0000") "no x column"
            Expect.isFalse (text.Split('\n') |> Array.exists (fun l -> l.EndsWith " ")) "trimmed"
        }
        test "markdown table: header, alignment row, one line per row" {
            let lines = (Display.markdown (armFrame ())).Split('\n')
            Expect.equal lines.Length 3 "3 lines"
            Expect.equal lines[0] "| arm | stage | step | n | test acc % | sd (pts) | 95% CI | epochs | seconds |" "header"
            Expect.stringContains lines[2] "| 98.50 |" "percent"
        }
        test "unknown columns show as they are, floats to 4 decimals; gaps signed" {
            let f = [ { lambda = 0.5; GapMean = 0.005; EpochsGapMean = -3.0 } ] |> Frame.ofRecords
            let header, rows = Display.table f
            Expect.equal header [ "lambda"; "gap (pts)"; "epochs gap" ] "header"
            Expect.equal rows [ [ "0.5000"; "+0.50"; "-3.0" ] ] "cells"
        }
    ]
