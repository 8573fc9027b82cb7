/// A canonical serialisation (fixed field order, invariant round-trip numbers, no whitespace) and its
/// SHA-256, so equal training jobs get equal keys on every machine and any change of setting changes the key.
module WarmStart.Canonical

open System
open System.Globalization
open System.Security.Cryptography
open System.Text

/// A JSON value whose object fields keep the order they are written in.
type Json =
    | JNull
    | JBool of bool
    | JInt of int64
    | JNum of float
    | JStr of string
    | JArr of Json list
    | JObj of (string * Json) list

let private escape (s: string) =
    let sb = StringBuilder()
    for c in s do
        match c with
        | '"' -> sb.Append "\\\"" |> ignore
        | '\\' -> sb.Append "\\\\" |> ignore
        | c when c < ' ' -> sb.AppendFormat("\\u{0:x4}", int c) |> ignore
        | c -> sb.Append c |> ignore
    sb.ToString()

/// Compact JSON text: floats in round-trip form ("R"), so 0.1 and 0.1000000001 differ and 1.0 is "1".
let rec render (j: Json) =
    match j with
    | JNull -> "null"
    | JBool b -> if b then "true" else "false"
    | JInt i -> i.ToString(CultureInfo.InvariantCulture)
    | JNum f when Double.IsNaN f || Double.IsInfinity f -> sprintf "\"%s\"" (f.ToString(CultureInfo.InvariantCulture))
    | JNum f -> f.ToString("R", CultureInfo.InvariantCulture)
    | JStr s -> "\"" + escape s + "\""
    | JArr xs -> "[" + (xs |> List.map render |> String.concat ",") + "]"
    | JObj fields -> "{" + (fields |> List.map (fun (k, v) -> "\"" + escape k + "\":" + render v) |> String.concat ",") + "}"

/// Lowercase hex SHA-256 of the canonical text.
let hash (j: Json) =
    let bytes = SHA256.HashData(Encoding.UTF8.GetBytes(render j))
    Convert.ToHexString(bytes).ToLowerInvariant()

/// An optional value as JSON (null when absent).
let opt f = function Some v -> f v | None -> JNull
