// The prelude a study script #loads: references the built toolkit (build it first with
// `dotnet build -c Release`, which ./warmstart does for you) and makes TorchSharp's natives load.
#r "bin/Release/net10.0/TorchSharp.dll"
#r "bin/Release/net10.0/WarmStart.Core.dll"
#r "bin/Release/net10.0/Deedle.dll"
#r "bin/Release/net10.0/Argu.dll"
#r "bin/Release/net10.0/WarmStart.Dsl.dll"

WarmStart.Core.Native.TorchRuntime.EnsureLoaded()
