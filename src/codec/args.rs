//! Turning the value a caller passes to `emit` into the JSON argument list
//! of an EVENT or ACK packet.
//!
//! The rule: a tuple is several arguments, `()` is none, any other value is
//! one argument. So a `Vec` is one array argument and a unit struct is one
//! `null` argument. Serde represents fixed-size arrays (`[T; N]`) as tuples,
//! so they too are spread into `N` arguments; pass a `Vec` or a slice for a
//! single array argument. `serde_json::Value::Null` serializes as `()`, so it
//! means no arguments; `Option::<T>::None` is one `null` argument.
//!
//! Bytes (whatever serializes with `serialize_bytes`: `bytes::Bytes`,
//! `serde_bytes`) become binary attachments, at any depth; see
//! `codec::binary`.

use bytes::Bytes;
use serde::ser::{self, Serialize, SerializeTuple};

use crate::codec::json::JsonWriter;
use crate::codec::packet::write_event_open;

/// Appends each argument of `args` to `out` as `,<json>` (nothing for
/// `()`), following the module's rule, and each byte value in them to
/// `attachments`, writing its placeholder (numbered from
/// `attachments.len()`) where it stood.
///
/// On error `out` and `attachments` are left as they were.
pub(crate) fn write_args<T: Serialize + ?Sized>(
    out: &mut String,
    args: &T,
    attachments: &mut Vec<Bytes>,
) -> Result<(), serde_json::Error> {
    let start = out.len();
    let first_attachment = attachments.len();
    let result = args.serialize(Arguments(JsonArguments { out, attachments }));
    if result.is_err() {
        out.truncate(start);
        attachments.truncate(first_attachment);
    }
    result
}

/// Appends an emit's whole Engine.IO text frame (`42[<nsp>,][<id>]["name",...]`,
/// or `45<n>-...` with attachments) to `out`, and its attachments to
/// `attachments`. Returns where the ack id stands in `out`.
///
/// The arguments are serialized straight into the frame; only when they hold
/// bytes is the head, which counts the attachments, written again. On error
/// `out` and `attachments` are left as they were.
pub(crate) fn encode_event<T: Serialize + ?Sized>(
    out: &mut String,
    attachments: &mut Vec<Bytes>,
    nsp: &str,
    id: Option<u64>,
    name: &str,
    args: &T,
) -> Result<usize, serde_json::Error> {
    let start = out.len();
    let first_attachment = attachments.len();
    out.push('4');
    let mut id_at = write_event_open(out, nsp, id, name, 0);
    let args_at = out.len();
    if let Err(error) = write_args(out, args, attachments) {
        out.truncate(start);
        return Err(error);
    }
    out.push(']');
    let count = attachments.len() - first_attachment;
    if count > 0 {
        let rest = out.split_off(args_at);
        out.truncate(start + 1);
        id_at = write_event_open(out, nsp, id, name, count);
        out.push_str(&rest);
    }
    Ok(id_at)
}

/// Where the arguments of an emit go, as a parser writes them.
pub(crate) trait ArgumentSink: Sized {
    /// Writes one value, the single argument.
    type One: ser::Serializer<Ok = (), Error = serde_json::Error>;
    /// Writes each element of a top-level tuple as an argument.
    type Spread: SerializeTuple<Ok = (), Error = serde_json::Error>;

    /// There are no arguments: the value was `()`.
    fn none(self) -> Result<(), serde_json::Error>;

    /// The `len` elements of a tuple are the arguments.
    fn spread(self, len: usize) -> Self::Spread;

    /// The value is the one argument.
    fn one(self) -> Self::One;
}

/// The module's rule as a serializer, for every parser: spreads tuples,
/// drops `()`, and hands any other value to the sink as one argument.
pub(crate) struct Arguments<S>(pub(crate) S);

/// The serializer of one argument of sink `S`.
type One<S> = <S as ArgumentSink>::One;

/// Forwards each listed method to the writer of the single argument.
macro_rules! one_argument {
    ($($method:ident($($arg:ident: $ty:ty),*) -> $ok:ty),* $(,)?) => {
        $(
            fn $method(self, $($arg: $ty),*) -> Result<$ok, serde_json::Error> {
                ser::Serializer::$method(self.0.one(), $($arg),*)
            }
        )*
    };
}

impl<S: ArgumentSink> ser::Serializer for Arguments<S> {
    type Ok = ();
    type Error = serde_json::Error;
    type SerializeSeq = <One<S> as ser::Serializer>::SerializeSeq;
    type SerializeTuple = S::Spread;
    type SerializeTupleStruct = <One<S> as ser::Serializer>::SerializeTupleStruct;
    type SerializeTupleVariant = <One<S> as ser::Serializer>::SerializeTupleVariant;
    type SerializeMap = <One<S> as ser::Serializer>::SerializeMap;
    type SerializeStruct = <One<S> as ser::Serializer>::SerializeStruct;
    type SerializeStructVariant = <One<S> as ser::Serializer>::SerializeStructVariant;

    fn serialize_unit(self) -> Result<(), Self::Error> {
        self.0.none()
    }

    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, Self::Error> {
        Ok(self.0.spread(len))
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Self::Error> {
        ser::Serializer::serialize_some(self.0.one(), value)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Self::Error> {
        ser::Serializer::serialize_newtype_struct(self.0.one(), name, value)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Self::Error> {
        ser::Serializer::serialize_newtype_variant(self.0.one(), name, index, variant, value)
    }

    fn collect_str<T: std::fmt::Display + ?Sized>(self, value: &T) -> Result<(), Self::Error> {
        ser::Serializer::collect_str(self.0.one(), value)
    }

    one_argument!(
        serialize_bool(v: bool) -> (),
        serialize_i8(v: i8) -> (),
        serialize_i16(v: i16) -> (),
        serialize_i32(v: i32) -> (),
        serialize_i64(v: i64) -> (),
        serialize_i128(v: i128) -> (),
        serialize_u8(v: u8) -> (),
        serialize_u16(v: u16) -> (),
        serialize_u32(v: u32) -> (),
        serialize_u64(v: u64) -> (),
        serialize_u128(v: u128) -> (),
        serialize_f32(v: f32) -> (),
        serialize_f64(v: f64) -> (),
        serialize_char(v: char) -> (),
        serialize_str(v: &str) -> (),
        serialize_bytes(v: &[u8]) -> (),
        serialize_none() -> (),
        serialize_unit_struct(name: &'static str) -> (),
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str) -> (),
        serialize_seq(len: Option<usize>) -> Self::SerializeSeq,
        serialize_tuple_struct(name: &'static str, len: usize) -> Self::SerializeTupleStruct,
        serialize_tuple_variant(name: &'static str, index: u32, variant: &'static str, len: usize) -> Self::SerializeTupleVariant,
        serialize_map(len: Option<usize>) -> Self::SerializeMap,
        serialize_struct(name: &'static str, len: usize) -> Self::SerializeStruct,
        serialize_struct_variant(name: &'static str, index: u32, variant: &'static str, len: usize) -> Self::SerializeStructVariant,
    );
}

/// The JSON of the default parser: `,<json>` per argument.
struct JsonArguments<'a> {
    out: &'a mut String,
    attachments: &'a mut Vec<Bytes>,
}

impl<'a> ArgumentSink for JsonArguments<'a> {
    type One = JsonWriter<'a>;
    type Spread = Self;

    fn none(self) -> Result<(), serde_json::Error> {
        Ok(())
    }

    fn spread(self, _len: usize) -> Self {
        self
    }

    fn one(self) -> JsonWriter<'a> {
        self.out.push(',');
        JsonWriter {
            out: self.out,
            attachments: self.attachments,
        }
    }
}

impl SerializeTuple for JsonArguments<'_> {
    type Ok = ();
    type Error = serde_json::Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Self::Error> {
        self.out.push(',');
        value.serialize(JsonWriter {
            out: self.out,
            attachments: self.attachments,
        })
    }

    fn end(self) -> Result<(), Self::Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn encode_event_writes_whole_frames_and_where_the_id_goes() {
        let table: Vec<(&str, Option<u64>, String, &str, usize)> = vec![
            ("/", None, "plain".into(), r#"42["x","plain"]"#, 2),
            (
                "/admin",
                Some(3),
                "acked".into(),
                r#"42/admin,3["x","acked"]"#,
                9,
            ),
        ];
        for (nsp, id, arg, want, id_at) in table {
            let mut out = String::new();
            let mut attachments = Vec::new();
            let at = encode_event(&mut out, &mut attachments, nsp, id, "x", &arg).unwrap();
            assert_eq!((out.as_str(), at), (want, id_at));
            assert!(attachments.is_empty());
        }
        let mut out = String::from("kept");
        let mut attachments = Vec::new();
        let args = ("a", Bytes::from_static(b"z"));
        let at = encode_event(&mut out, &mut attachments, "/admin", Some(7), "x", &args).unwrap();
        assert_eq!(
            out,
            r#"kept451-/admin,7["x","a",{"_placeholder":true,"num":0}]"#
        );
        assert_eq!(&out[at..at + 1], "7");
        assert_eq!(attachments, [Bytes::from_static(b"z")]);
    }

    #[test]
    fn encode_event_leaves_out_untouched_on_error() {
        let mut out = String::from("kept");
        let mut attachments = vec![Bytes::from_static(b"old")];
        let bad: BTreeMap<Vec<u8>, u8> = BTreeMap::from([(vec![1], 1)]);
        assert!(encode_event(&mut out, &mut attachments, "/", None, "x", &bad).is_err());
        assert_eq!(out, "kept");
        assert_eq!(attachments.len(), 1);
    }

    #[derive(serde::Serialize)]
    struct Point {
        x: i32,
        y: i32,
    }

    #[derive(serde::Serialize)]
    struct Unit;

    #[derive(serde::Serialize)]
    struct Pair(i32, &'static str);

    #[derive(serde::Serialize)]
    struct Wrap((i32, i32));

    #[derive(serde::Serialize)]
    struct WithTuple {
        t: (i32, &'static str),
    }

    #[derive(serde::Serialize)]
    enum E {
        A,
        B(i32),
        C(i32, i32),
        D { z: bool },
    }

    fn args<T: Serialize + ?Sized>(v: &T) -> String {
        let mut out = String::from("2[\"ev\"");
        let mut attachments = Vec::new();
        write_args(&mut out, v, &mut attachments).expect("serializes");
        assert!(attachments.is_empty(), "no bytes, no attachments");
        out.strip_prefix("2[\"ev\"")
            .expect("prefix kept")
            .to_owned()
    }

    #[test]
    fn args_table() {
        let table: Vec<(String, &str)> = vec![
            (args(&("a", 1)), r#","a",1"#),
            (args(&()), ""),
            (args(&vec![1, 2]), ",[1,2]"),
            (args(&[1, 2][..]), ",[1,2]"),
            (args(&42), ",42"),
            (args(&-1.5), ",-1.5"),
            (args(&true), ",true"),
            (args(&'é'), r#","é""#),
            (args("hé\"llo\n"), r#","hé\"llo\n""#),
            (args(&String::from("s")), r#","s""#),
            (args(&Point { x: 1, y: -2 }), r#",{"x":1,"y":-2}"#),
            (args(&(vec![1],)), ",[1]"),
            (args(&((),)), ",null"),
            (args(&((1, 2), 3)), ",[1,2],3"),
            (args(&WithTuple { t: (1, "a") }), r#",{"t":[1,"a"]}"#),
            (args(&None::<i32>), ",null"),
            (args(&Some(3)), ",3"),
            (args(&Some((1, 2))), ",[1,2]"),
            (args(&Unit), ",null"),
            (args(&Pair(1, "b")), r#",[1,"b"]"#),
            (args(&Wrap((1, 2))), ",[1,2]"),
            (args(&E::A), r#","A""#),
            (args(&E::B(1)), r#",{"B":1}"#),
            (args(&E::C(1, 2)), r#",{"C":[1,2]}"#),
            (args(&E::D { z: true }), r#",{"D":{"z":true}}"#),
            (args(&BTreeMap::from([(1, "x")])), r#",{"1":"x"}"#),
            (
                args(&serde_json::json!({"k": [1, null]})),
                r#",{"k":[1,null]}"#,
            ),
            (args(&serde_json::json!(null)), ""),
            (args(&serde_json::json!([null])), ",[null]"),
            (args(&Some(())), ",null"),
            (args(&[1, 2]), ",1,2"),
            (args(&[0u8; 0]), ""),
            (
                args(&("a", Point { x: 0, y: 0 }, vec!["b"])),
                r#","a",{"x":0,"y":0},["b"]"#,
            ),
            (args(&&&7u8), ",7"),
            (args(&u128::MAX), ",340282366920938463463374607431768211455"),
        ];
        for (got, want) in table {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn error_leaves_out_untouched() {
        let mut out = String::from("keep");
        let mut attachments = vec![Bytes::from_static(b"old")];
        let bad = BTreeMap::from([(vec![1], 2)]);
        let blob = Bytes::from_static(b"new");
        assert!(write_args(&mut out, &("ok", &blob, &bad), &mut attachments).is_err());
        assert_eq!(out, "keep");
        assert_eq!(attachments, [Bytes::from_static(b"old")]);
        assert!(write_args(&mut out, &f64::NAN, &mut attachments).is_ok());
        assert_eq!(out, "keep,null");
    }

    /// Serializes `v` as arguments, returning the JSON and the attachments.
    fn binary<T: Serialize + ?Sized>(v: &T) -> (String, Vec<Bytes>) {
        let mut out = String::new();
        let mut attachments = Vec::new();
        write_args(&mut out, v, &mut attachments).expect("serializes");
        (out, attachments)
    }

    /// `{"_placeholder":true,"num":N}`.
    fn ph(num: usize) -> String {
        format!(r#"{{"_placeholder":true,"num":{num}}}"#)
    }

    #[derive(serde::Serialize)]
    struct File {
        name: &'static str,
        data: Bytes,
        #[serde(with = "serde_bytes")]
        thumb: Vec<u8>,
        raw: Vec<u8>,
    }

    #[derive(serde::Serialize)]
    enum Blob {
        One(Bytes),
        Two(Bytes, Bytes),
        Named { b: Bytes },
    }

    #[test]
    fn bytes_become_attachments_at_any_depth() {
        let a = || Bytes::from_static(&[1, 2, 3]);
        let b = || Bytes::from_static(b"b");
        let c = || Bytes::from_static(&[]);
        /// What was written, the JSON wanted, the attachments wanted.
        type Case = ((String, Vec<Bytes>), String, Vec<Bytes>);
        let table: Vec<Case> = vec![
            // Top level: one argument each.
            (binary(&a()), format!(",{}", ph(0)), vec![a()]),
            (
                binary(&(a(), "x", b())),
                format!(",{},\"x\",{}", ph(0), ph(1)),
                vec![a(), b()],
            ),
            (
                binary(&serde_bytes::Bytes::new(b"b")),
                format!(",{}", ph(0)),
                vec![b()],
            ),
            // An empty buffer is still an attachment.
            (binary(&c()), format!(",{}", ph(0)), vec![c()]),
            // Nested in a struct, beside `serde_bytes` and a plain Vec<u8>,
            // which stays an array of numbers.
            (
                binary(&File {
                    name: "f",
                    data: a(),
                    thumb: vec![b'b'],
                    raw: vec![7, 8],
                }),
                format!(
                    r#",{{"name":"f","data":{},"thumb":{},"raw":[7,8]}}"#,
                    ph(0),
                    ph(1)
                ),
                vec![a(), b()],
            ),
            // In maps and arrays, numbered in the order they are written.
            (
                binary(&BTreeMap::from([("z", vec![a()]), ("a", vec![b(), c()])])),
                format!(r#",{{"a":[{},{}],"z":[{}]}}"#, ph(0), ph(1), ph(2)),
                vec![b(), c(), a()],
            ),
            (
                binary(&(vec![vec![a()], vec![]], Some(b()), None::<Bytes>)),
                format!(",[[{}],[]],{},null", ph(0), ph(1)),
                vec![a(), b()],
            ),
            // In enum variants.
            (
                binary(&[Blob::One(a()), Blob::Two(b(), c()), Blob::Named { b: a() }][..]),
                format!(
                    r#",[{{"One":{}}},{{"Two":[{},{}]}},{{"Named":{{"b":{}}}}}]"#,
                    ph(0),
                    ph(1),
                    ph(2),
                    ph(3)
                ),
                vec![a(), b(), c(), a()],
            ),
            (
                binary(&serde_json::json!({"no": "bytes"})),
                r#",{"no":"bytes"}"#.to_owned(),
                vec![],
            ),
        ];
        for ((json, attachments), want_json, want_attachments) in table {
            assert_eq!(json, want_json);
            assert_eq!(attachments, want_attachments, "{json}");
        }
    }

    #[test]
    fn numbering_continues_after_existing_attachments() {
        let mut out = String::new();
        let mut attachments = vec![Bytes::from_static(b"0")];
        write_args(&mut out, &(Bytes::from_static(b"1"),), &mut attachments).expect("ok");
        assert_eq!(out, format!(",{}", ph(1)));
        assert_eq!(attachments.len(), 2);
    }

    #[test]
    fn bytes_as_a_map_key_is_an_error() {
        let mut out = String::new();
        let mut attachments = Vec::new();
        let bad = BTreeMap::from([(Bytes::from_static(b"k"), 1)]);
        assert!(write_args(&mut out, &bad, &mut attachments).is_err());
        assert_eq!((out.as_str(), attachments.len()), ("", 0));
    }

    #[test]
    fn an_event_frame_holds_the_arguments_and_counts_the_attachments() {
        let mut out = String::new();
        let mut attachments = Vec::new();
        encode_event(&mut out, &mut attachments, "/", Some(3), "foo", &("bar", 1)).expect("args");
        assert_eq!(out, r#"423["foo","bar",1]"#);

        let mut out = String::new();
        let blob = Bytes::from_static(&[1, 2]);
        encode_event(
            &mut out,
            &mut attachments,
            "/",
            None,
            "foo",
            &("bar", &blob),
        )
        .expect("args");
        assert_eq!(out, r#"451-["foo","bar",{"_placeholder":true,"num":0}]"#);
        assert_eq!(attachments, [blob]);
    }
}
