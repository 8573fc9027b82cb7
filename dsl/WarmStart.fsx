// The prelude a study script #loads: references the built toolkit (build it first with
// `dotnet build -c Release`, which ./warmstart does for you) and makes TorchSharp's natives load.
#r "bin/Release/net10.0/TorchSharp.dll"
#r "bin/Release/net10.0/WarmStart.Core.dll"
#r "bin/Release/net10.0/Deedle.dll"
#r "bin/Release/net10.0/Argu.dll"
#r "bin/Release/net10.0/WarmStart.Dsl.dll"

WarmStart.Core.Native.TorchRuntime.EnsureLoaded()

// In the REPL, studies, plans, results and frames print as a reader wants them, not as raw records.
fsi.AddPrinter<WarmStart.Study> WarmStart.Printers.study
fsi.AddPrinter<WarmStart.StudyPlan> WarmStart.Plan.describe
fsi.AddPrinter<WarmStart.StudyResult> WarmStart.Printers.result
fsi.AddPrinter<Deedle.Frame<int, string>> WarmStart.Printers.frame
fsi.AddPrinter<Deedle.Frame<string, string>> WarmStart.Printers.frame
fsi.AddPrinter<Deedle.Series<string, float>> (fun s -> s.Format())
fsi.AddPrinter<Deedle.Series<int, float>> (fun s -> s.Format())
