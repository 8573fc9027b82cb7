/// Writers for the official data layouts (CIFAR binary records, MAT-file v5, tar.gz archives) and a loopback HTTP
/// server, used by the data tests. The writers do not validate: fixtures may be malformed on purpose.
module WarmStart.Tests.Data.DataFixtures

open System
open System.Collections.Concurrent
open System.Collections.Generic
open System.Formats.Tar
open System.IO
open System.IO.Compression
open System.Net
open System.Net.Sockets
open System.Security.Cryptography
open System.Text
open System.Threading
open System.Threading.Tasks

// ---------------------------------------------------------------- CIFAR binary

/// The pixel of image i, channel ch, row r, column c in every CIFAR fixture.
let cifarPixel (i: int) (ch: int) (r: int) (c: int) = byte ((i * 37 + ch * 11 + r * 3 + c) % 256)

/// One image's 3072 pixels in CIFAR order: R plane, G plane, B plane, each row-major.
let cifarPixels (i: int) =
    Array.init 3072 (fun k -> cifarPixel i (k / 1024) ((k % 1024) / 32) (k % 32))

/// Records for images first .. first+count-1 with the given label bytes per image.
let cifarRecords (first: int) (count: int) (labelBytes: int -> byte[]) =
    [| for i in first .. first + count - 1 do
           yield! labelBytes i
           yield! cifarPixels i |]

/// CIFAR-10 fixture label of image i.
let cifar10Label (i: int) = i % 10
/// CIFAR-100 fixture labels of image i (coarse, fine).
let cifar100Labels (i: int) = (i % 20, (i * 7) % 100)

/// Writes cifar-10-batches-bin/ content into dir: five training batches of perBatch records, a test batch of testCount
/// records (indices continue after training), and batches.meta.txt.
let writeCifar10Folder (dir: string) (perBatch: int) (testCount: int) =
    Directory.CreateDirectory dir |> ignore
    for b in 0 .. 4 do
        File.WriteAllBytes(Path.Combine(dir, sprintf "data_batch_%d.bin" (b + 1)),
                           cifarRecords (b * perBatch) perBatch (fun i -> [| byte (cifar10Label i) |]))
    File.WriteAllBytes(Path.Combine(dir, "test_batch.bin"), cifarRecords (5 * perBatch) testCount (fun i -> [| byte (cifar10Label i) |]))
    File.WriteAllText(Path.Combine(dir, "batches.meta.txt"),
                      String.Join("\n", WarmStart.Core.Data.CifarFormat.Cifar10Classes) + "\n\n")
    dir

/// Writes cifar-100-binary/ content into dir: train.bin, test.bin and both class-name files.
let writeCifar100Folder (dir: string) (trainCount: int) (testCount: int) =
    Directory.CreateDirectory dir |> ignore
    let labels i = let (c, f) = cifar100Labels i in [| byte c; byte f |]
    File.WriteAllBytes(Path.Combine(dir, "train.bin"), cifarRecords 0 trainCount labels)
    File.WriteAllBytes(Path.Combine(dir, "test.bin"), cifarRecords trainCount testCount labels)
    File.WriteAllText(Path.Combine(dir, "fine_label_names.txt"), String.Join("\n", WarmStart.Core.Data.CifarFormat.Cifar100FineClasses) + "\n")
    File.WriteAllText(Path.Combine(dir, "coarse_label_names.txt"), String.Join("\n", WarmStart.Core.Data.CifarFormat.Cifar100CoarseClasses) + "\n")
    dir

// ---------------------------------------------------------------- MAT-file v5

/// MAT data types and classes used by the writer.
module Mat =
    let miINT8, miUINT8, miINT32, miUINT32, miDOUBLE, miMATRIX, miCOMPRESSED = 1, 2, 5, 6, 9, 14, 15
    let mxCELL, mxCHAR, mxDOUBLE, mxUINT8 = 1, 4, 6, 9

/// One variable: class, dimensions (MATLAB order), storage type and raw real-part bytes (in the file's byte order).
type MatVar =
    { Name: string; Class: int; Dims: int list; DataType: int; Data: byte[]; Complex: bool }

/// File-level options: compression, byte order, and header fields (to make malformed headers).
type MatOptions =
    { Compress: bool; BigEndian: bool; Text: string; Version: uint16; EndianChars: string; SmallElements: bool }

let matDefaults =
    { Compress = false; BigEndian = false; Text = "MATLAB 5.0 MAT-file, Platform: test, Created by: WarmStart tests"
      Version = 0x0100us; EndianChars = ""; SmallElements = true }

/// zlib-compresses bytes (RFC 1950: header, deflate, Adler-32).
let zlib (bytes: byte[]) =
    use ms = new MemoryStream()
    (use z = new ZLibStream(ms, CompressionLevel.Optimal, true)
     z.Write(bytes, 0, bytes.Length))
    ms.ToArray()

/// The bytes of a MAT-file holding vars.
let matBytes (o: MatOptions) (vars: MatVar list) =
    let w32 (v: uint32) =
        let b = BitConverter.GetBytes v
        if o.BigEndian = BitConverter.IsLittleEndian then Array.rev b else b
    let w16 (v: uint16) =
        let b = BitConverter.GetBytes v
        if o.BigEndian = BitConverter.IsLittleEndian then Array.rev b else b
    let pad8 (b: byte[]) = Array.append b (Array.zeroCreate ((8 - b.Length % 8) % 8))
    let element (smallOk: bool) (t: int) (data: byte[]) =
        if smallOk && o.SmallElements && data.Length <= 4 then
            Array.concat [ w32 ((uint32 data.Length <<< 16) ||| uint32 t); data; Array.zeroCreate (4 - data.Length) ]
        else Array.concat [ w32 (uint32 t); w32 (uint32 data.Length); pad8 data ]
    let matrix (v: MatVar) =
        let flags = Array.append (w32 (uint32 v.Class ||| (if v.Complex then 0x800u else 0u))) (w32 0u)
        let dims = v.Dims |> List.map (uint32 >> w32) |> Array.concat
        let body =
            Array.concat [ element false Mat.miUINT32 flags; element false Mat.miINT32 dims
                           element true Mat.miINT8 (Encoding.ASCII.GetBytes v.Name)
                           (if v.Class = Mat.mxCELL then [||] else element true v.DataType v.Data) ]
        Array.concat [ w32 (uint32 Mat.miMATRIX); w32 (uint32 body.Length); body ]
    let top (v: MatVar) =
        let m = matrix v
        if o.Compress then let z = zlib m in Array.concat [ w32 (uint32 Mat.miCOMPRESSED); w32 (uint32 z.Length); z ] else m
    let text = Encoding.ASCII.GetBytes(o.Text.PadRight(116).Substring(0, 116))
    let endian =
        if o.EndianChars <> "" then Encoding.ASCII.GetBytes o.EndianChars
        elif o.BigEndian then "MI"B else "IM"B
    Array.concat [ yield text; yield Array.zeroCreate 8; yield w16 o.Version; yield endian; for v in vars -> top v ]

/// SVHN's X for images 0..n-1: pixel (n, ch, r, c) = svhnPixel, stored column-major as 32×32×3×N.
let svhnPixel (n: int) (ch: int) (r: int) (c: int) = byte ((r * 7 + c * 3 + ch * 50 + n * 11) % 256)

let svhnX (count: int) =
    let data = Array.zeroCreate (3072 * count)
    for n in 0 .. count - 1 do
        for ch in 0 .. 2 do
            for c in 0 .. 31 do
                for r in 0 .. 31 do
                    data[r + 32 * c + 1024 * ch + 3072 * n] <- svhnPixel n ch r c
    { Name = "X"; Class = Mat.mxUINT8; Dims = [ 32; 32; 3; count ]; DataType = Mat.miUINT8; Data = data; Complex = false }

/// y as doubles (class double, miDOUBLE), little-endian.
let svhnYDouble (labels: float list) =
    { Name = "y"; Class = Mat.mxDOUBLE; Dims = [ labels.Length; 1 ]; DataType = Mat.miDOUBLE
      Data = labels |> List.map BitConverter.GetBytes |> Array.concat; Complex = false }

/// y as class double stored as miUINT8 (what MATLAB does for small integers).
let svhnYBytes (labels: int list) =
    { Name = "y"; Class = Mat.mxDOUBLE; Dims = [ labels.Length; 1 ]; DataType = Mat.miUINT8
      Data = labels |> List.map byte |> Array.ofList; Complex = false }

/// The fixture's file labels (1..10) for n images: image i has digit i % 10 stored as 10 for 0.
let svhnFileLabels (n: int) = [ for i in 0 .. n - 1 -> if i % 10 = 0 then 10 else i % 10 ]

/// Writes an SVHN .mat with n images.
let writeSvhn (path: string) (compress: bool) (n: int) =
    File.WriteAllBytes(path, matBytes { matDefaults with Compress = compress } [ svhnX n; svhnYBytes (svhnFileLabels n) ])
    path

// ---------------------------------------------------------------- tar.gz

/// An archive entry, including the dangerous kinds.
type TarItem =
    | TFile of name: string * content: byte[]
    | TDir of name: string
    | TSymlink of name: string * target: string
    | THardlink of name: string * target: string
    | TCharDevice of name: string
    | TFifo of name: string

/// A gzip-compressed PAX tar archive of items, in order.
let tarGz (items: TarItem list) =
    use ms = new MemoryStream()
    (use gz = new GZipStream(ms, CompressionLevel.Fastest, true)
     use tw = new TarWriter(gz, TarEntryFormat.Pax, false)
     for it in items do
         match it with
         | TFile (n, c) ->
             let e = PaxTarEntry(TarEntryType.RegularFile, n)
             e.DataStream <- new MemoryStream(c)
             tw.WriteEntry e
         | TDir n -> tw.WriteEntry(PaxTarEntry(TarEntryType.Directory, n))
         | TSymlink (n, t) ->
             let e = PaxTarEntry(TarEntryType.SymbolicLink, n)
             e.LinkName <- t
             tw.WriteEntry e
         | THardlink (n, t) ->
             let e = PaxTarEntry(TarEntryType.HardLink, n)
             e.LinkName <- t
             tw.WriteEntry e
         | TCharDevice n -> tw.WriteEntry(PaxTarEntry(TarEntryType.CharacterDevice, n))
         | TFifo n -> tw.WriteEntry(PaxTarEntry(TarEntryType.Fifo, n)))
    ms.ToArray()

/// The files of a folder as archive items under prefix/ (sorted by name).
let folderItems (prefix: string) (dir: string) =
    [ yield TDir(prefix + "/")
      for f in Directory.GetFiles dir |> Array.sort -> TFile(prefix + "/" + Path.GetFileName f, File.ReadAllBytes f) ]

/// MD5 (lower-case hex) of bytes.
let md5 (bytes: byte[]) = Convert.ToHexStringLower(MD5.HashData bytes)

// ---------------------------------------------------------------- loopback HTTP server

/// One request the server saw: path and Range header.
type SeenRequest = { Path: string; Range: string option }

/// A tiny HTTP/1.1 server on 127.0.0.1 (free port) serving fixed bodies by path. It honours "Range: bytes=N-" with
/// 206 + Content-Range (unless supportRange is false), and cuts the transfer of the requests whose 1-based numbers are in
/// cutRequests after cutAt bytes (the headers promise the whole body; then the socket closes).
type LoopbackServer(files: IDictionary<string, byte[]>, ?cutRequests: Set<int>, ?cutAt: int, ?supportRange: bool) =
    let cutRequests = defaultArg cutRequests Set.empty
    let cutAt = defaultArg cutAt 0
    let supportRange = defaultArg supportRange true
    let listener = new TcpListener(IPAddress.Loopback, 0)
    do listener.Start()
    let port = (listener.LocalEndpoint :?> IPEndPoint).Port
    let seen = ConcurrentQueue<SeenRequest>()
    let count = ref 0
    let cts = new CancellationTokenSource()

    let respond (client: TcpClient) : Task =
        task {
            use client = client
            try
                use stream = client.GetStream()
                let head = ResizeArray<byte>()
                let one = Array.zeroCreate<byte> 1
                let mutable reading = true
                while reading do
                    let! n = stream.ReadAsync(one, 0, 1)
                    if n = 0 then reading <- false
                    else
                        head.Add one[0]
                        let k = head.Count
                        if k >= 4 && head[k - 4] = 13uy && head[k - 3] = 10uy && head[k - 2] = 13uy && head[k - 1] = 10uy then
                            reading <- false
                let lines = Encoding.ASCII.GetString(head.ToArray()).Split("\r\n")
                let path = (lines[0].Split(' ')).[1]
                let range =
                    lines |> Array.tryPick (fun l ->
                        if l.StartsWith("Range:", StringComparison.OrdinalIgnoreCase) then Some(l.Substring(6).Trim()) else None)
                seen.Enqueue { Path = path; Range = range }
                let number = Interlocked.Increment(&count.contents)
                let send (s: string) = stream.Write(Encoding.ASCII.GetBytes s)
                match files.TryGetValue path with
                | false, _ -> send "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                | true, body ->
                    let start =
                        match range with
                        | Some r when supportRange && r.StartsWith "bytes=" && r.EndsWith "-" -> int64 (r.Substring(6).TrimEnd('-'))
                        | _ -> 0L
                    if start >= int64 body.Length && start > 0L then
                        send (sprintf "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */%d\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" body.Length)
                    else
                        let length = int64 body.Length - start
                        let status = if start > 0L then "206 Partial Content" else "200 OK"
                        let rangeHeader = if start > 0L then sprintf "Content-Range: bytes %d-%d/%d\r\n" start (body.Length - 1) body.Length else ""
                        send (sprintf "HTTP/1.1 %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n%sAccept-Ranges: bytes\r\nConnection: close\r\n\r\n"
                                  status length rangeHeader)
                        let toSend = if cutRequests.Contains number then min (int64 cutAt) length else length
                        stream.Write(body, int start, int toSend)
                        stream.Flush()
            with _ -> ()
        }

    let loop =
        task {
            try
                while not cts.IsCancellationRequested do
                    let! client = listener.AcceptTcpClientAsync(cts.Token)
                    respond client |> ignore
            with _ -> ()
        }

    /// The server's base address, ending in '/'.
    member _.BaseUri = Uri(sprintf "http://127.0.0.1:%d/" port)
    /// The address of path (no leading '/').
    member this.Url(path: string) = Uri(this.BaseUri, path)
    /// Every request so far, in arrival order.
    member _.Requests = seen.ToArray() |> List.ofArray
    interface IDisposable with
        member _.Dispose() =
            cts.Cancel()
            listener.Stop()
            try loop.Wait(1000) |> ignore with _ -> ()
