module WarmStart.Tests.Native.ThreadDefaultsTests

open Expecto
open TorchSharp
open WarmStart.Core.Native

/// Float32 input gradient of a 3×3 convolution against the same computation in float64.
let private convInputGradError (b: int64) (c: int64) (o: int64) (hw: int64) =
    use g = new torch.Generator(3UL)
    use x64 = torch.rand([| b; c; hw; hw |], dtype = torch.ScalarType.Float64, generator = g)
    use w64 = torch.rand([| o; c; 3L; 3L |], dtype = torch.ScalarType.Float64, generator = g) - 0.5
    use gy64 = torch.rand([| b; o; hw; hw |], dtype = torch.ScalarType.Float64, generator = g)
    let inputGrad (dt: torch.ScalarType) =
        let x = x64.to_type(dt).clone().detach().requires_grad_(true)
        let w = w64.to_type(dt).clone().detach()
        let out = torch.nn.functional.conv2d(x, w, padding = [| 1L; 1L |])
        (out * gy64.to_type(dt)).sum().backward()
        x.grad.to_type(torch.ScalarType.Float64)
    let r = inputGrad torch.ScalarType.Float64
    let f = inputGrad torch.ScalarType.Float32
    ((f - r).abs().max() / r.abs().max()).item<float>()

[<Tests>]
let tests =
    testList "native.threads" [
        test "CPU lists and cgroup quotas are read as Linux writes them" {
            Expect.equal (Threads.CountCpuList "0-3,8,10-11") (System.Nullable 7) "ranges and singles"
            Expect.equal (Threads.CountCpuList "0\n") (System.Nullable 1) "one cpu"
            Expect.equal (Threads.CountCpuList "0-x") (System.Nullable()) "garbage"
            Expect.equal (Threads.ParseCpuMax "max 100000\n") (System.Nullable()) "unlimited"
            Expect.equal (Threads.ParseCpuMax "150000 100000") (System.Nullable 1.5) "one and a half cores"
            Expect.equal (Threads.ParseCpuMax "200000") (System.Nullable 2.0) "default period"
        }
        test "the default thread count divides the available cores among workers, at least one each" {
            let cores = Threads.AvailableCores()
            Expect.isGreaterThanOrEqual cores 1 "at least one core"
            Expect.isLessThanOrEqual cores System.Environment.ProcessorCount "never more than the machine has"
            Expect.equal (Threads.DefaultFor 1) cores "one worker gets them all"
            Expect.equal (Threads.DefaultFor (cores * 4)) 1 "oversubscribed workers get one each"
        }
        test "OpenMP's passive wait policy reaches the C library's environment before libtorch loads" {
            // Set by TorchRuntime before loading libgomp (unless the user chose a policy).
            let v = NativeEnvironment.Get "OMP_WAIT_POLICY"
            Expect.isNotNull v "set in the native environment"
            Expect.isNotEmpty v "non-empty"
        }
        test "float32 convolution input gradients agree with float64 (small channel counts, batch > 1)" {
            // oneDNN 3.7.1's AVX-512 backward-data kernel got these wrong on an AVX-512 CPU; NativeEnvironment caps
            // oneDNN at AVX2. Shapes of the small CNN's first layers.
            for (b, c, o, hw) in [ (5L, 1L, 8L, 14L); (5L, 4L, 8L, 14L); (5L, 8L, 8L, 8L); (64L, 32L, 64L, 14L) ] do
                let e = convInputGradError b c o hw
                Expect.isLessThan e 1e-5 (sprintf "relative error B=%d %d→%d %dx%d" b c o hw hw)
        }
    ]
