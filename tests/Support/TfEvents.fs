/// A reader for TensorBoard event files written independently of the code under test: TFRecord framing
/// (length, masked CRC, payload, masked CRC) and just enough protobuf wire format to read `Event.step` and the
/// scalar values (`Summary.Value.tag`, `simple_value`) of tensorflow/core/util/event.proto and summary.proto, and the
/// hparams plugin's session start and end (tensorboard/plugins/hparams/plugin_data.proto).
module WarmStart.Tests.TfEvents

open System
open System.IO

/// A scalar read back from an event file.
type Scalar = { Tag: string; Step: int64; Value: float32 }

/// Protobuf fields of a message: (field number, wire type, varint or fixed value, length-delimited bytes).
let private fields (bytes: byte[]) =
    let mutable i = 0
    let varint () =
        let mutable v = 0UL
        let mutable shift = 0
        let mutable go = true
        while go do
            let b = bytes[i]
            i <- i + 1
            v <- v ||| (uint64 (b &&& 0x7Fuy) <<< shift)
            shift <- shift + 7
            go <- b &&& 0x80uy <> 0uy
        v
    [ while i < bytes.Length do
        let key = varint ()
        let field, wire = int (key >>> 3), int (key &&& 7UL)
        match wire with
        | 0 -> yield field, wire, varint (), [||]
        | 1 -> yield field, wire, BitConverter.ToUInt64(bytes, i), [||]; i <- i + 8
        | 5 -> yield field, wire, uint64 (BitConverter.ToUInt32(bytes, i)), [||]; i <- i + 4
        | 2 ->
            let n = int (varint ())
            yield field, wire, 0UL, bytes[i .. i + n - 1]
            i <- i + n
        | w -> failwithf "unsupported protobuf wire type %d at byte %d" w i ]

/// The records of a TFRecord file (payloads only; lengths checked against the file).
let records (path: string) =
    let bytes = File.ReadAllBytes path
    let mutable i = 0
    [ while i < bytes.Length do
        if i + 12 > bytes.Length then failwithf "%s: truncated record header at byte %d" path i
        let n = int (BitConverter.ToUInt64(bytes, i))
        if i + 12 + n + 4 > bytes.Length then failwithf "%s: record of %d bytes at byte %d runs past the end" path n i
        yield bytes[i + 12 .. i + 12 + n - 1]
        i <- i + 12 + n + 4 ]

/// The values of a record's summary (Event.summary = 5, Summary.value = 1), each as (tag, its fields).
let private summaryValues (record: byte[]) =
    [ for (f, w, _, summary) in fields record do
        if f = 5 && w = 2 then
            for (vf, vw, _, value) in fields summary do
                if vf = 1 && vw = 2 then
                    let vfs = fields value
                    let tag = vfs |> List.pick (fun (f, w, _, b) -> if f = 1 && w = 2 then Some(Text.Encoding.UTF8.GetString b) else None)
                    yield tag, vfs ]

/// Every scalar of an event file, in file order.
let scalars (path: string) : Scalar list =
    [ for r in records path do
        let step = fields r |> List.tryPick (fun (f, w, v, _) -> if f = 2 && w = 0 then Some(int64 v) else None) |> Option.defaultValue 0L
        for tag, vfs in summaryValues r do
            let hasMetadata = vfs |> List.exists (fun (f, w, _, _) -> f = 9 && w = 2)
            match vfs |> List.tryPick (fun (f, w, v, _) -> if f = 2 && w = 5 then Some v else None) with
            | Some bits -> yield { Tag = tag; Step = step; Value = BitConverter.Int32BitsToSingle(int32 (uint32 bits)) }
            | None when hasMetadata -> () // a plugin's summary (hparams), read by `hparams`
            | None -> failwithf "%s: value '%s' has no simple_value" path tag ]

/// A hyper-parameter value of the hparams plugin (google.protobuf.Value: number_value = 2, string_value = 3, bool_value = 4).
type HParam =
    | Number of float
    | Text of string
    | Flag of bool

/// The plugin payloads of an event file: (tag, plugin name, content bytes), in file order.
let pluginData (path: string) =
    [ for r in records path do
        for tag, vfs in summaryValues r do
            for (mf, mw, _, meta) in vfs do
                if mf = 9 && mw = 2 then
                    for (pf, pw, _, plugin) in fields meta do
                        if pf = 1 && pw = 2 then
                            let pfs = fields plugin
                            let name = pfs |> List.tryPick (fun (f, w, _, b) -> if f = 1 && w = 2 then Some(Text.Encoding.UTF8.GetString b) else None)
                            let content = pfs |> List.tryPick (fun (f, w, _, b) -> if f = 2 && w = 2 then Some b else None)
                            yield tag, defaultArg name "", defaultArg content [||] ]

/// The hyper-parameters of the hparams plugin's session start (HParamsPluginData.session_start_info = 3, whose
/// field 1 is the map<string, Value> hparams), or None when the file has none.
let hparams (path: string) : Map<string, HParam> option =
    pluginData path
    |> List.tryPick (fun (tag, plugin, content) ->
        if plugin <> "hparams" || tag <> "_hparams_/session_start_info" then None
        else
            fields content |> List.tryPick (fun (f, w, _, start) ->
                if f <> 3 || w <> 2 then None
                else
                    Some(Map.ofList [
                        for (sf, sw, _, entry) in fields start do
                            if sf = 1 && sw = 2 then
                                let efs = fields entry
                                let key = efs |> List.pick (fun (f, w, _, b) -> if f = 1 && w = 2 then Some(Text.Encoding.UTF8.GetString b) else None)
                                let value = efs |> List.pick (fun (f, w, _, b) -> if f = 2 && w = 2 then Some b else None)
                                let v =
                                    fields value |> List.pick (fun (f, w, v, b) ->
                                        match f, w with
                                        | 2, 1 -> Some(Number(BitConverter.Int64BitsToDouble(int64 v)))
                                        | 3, 2 -> Some(Text(Text.Encoding.UTF8.GetString b))
                                        | 4, 0 -> Some(Flag(v <> 0UL))
                                        | _ -> None)
                                yield key, v ])))

/// True when the file ends the hparams session with status SUCCESS (SessionEndInfo.status = 1).
let sessionSucceeded (path: string) =
    pluginData path |> List.exists (fun (tag, plugin, content) ->
        plugin = "hparams" && tag = "_hparams_/session_end_info"
        && fields content |> List.exists (fun (f, w, _, e) -> f = 4 && w = 2 && fields e |> List.exists (fun (ef, ew, v, _) -> ef = 1 && ew = 0 && v = 1UL)))
