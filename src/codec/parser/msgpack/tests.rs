//! Literal packets, written as hex bytes and quoted strings (a string's
//! UTF-8 bytes, its msgpack head written before it).

use std::collections::VecDeque;

use bytes::Bytes;
use serde_json::{json, Value};

use super::*;
use crate::codec::parser::{Decoder, Parser};

/// The bytes of `spec`: hex bytes and `"quoted"` text, separated by spaces.
fn b(spec: &str) -> Bytes {
    let mut out = Vec::new();
    let mut rest = spec.trim();
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').expect("a closing quote");
            out.extend_from_slice(&quoted.as_bytes()[..end]);
            rest = quoted[end + 1..].trim_start();
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            let hex = &rest[..end];
            for at in (0..hex.len()).step_by(2) {
                out.push(u8::from_str_radix(&hex[at..at + 2], 16).expect("hex"));
            }
            rest = rest[end..].trim_start();
        }
    }
    Bytes::from(out)
}

/// A packet decoded as the connection sees it, summed up.
fn decoded(spec: &str) -> Result<(String, String), ProtocolError> {
    let packet = decode(b(spec))?;
    Ok((packet.nsp.into_owned(), format!("{:?}", packet.body)))
}

#[test]
fn packets_of_the_reference_server_decode() {
    let table: &[(&str, &str, &str)] = &[
        // The CONNECT reply, keys in the server's order.
        (
            r#"83 a4 "type" 00 a4 "data" 82 a3 "sid" a2 "s1" a3 "pid" a2 "p1" a3 "nsp" a1 "/""#,
            "/",
            r#"Connect(Some(Object {"pid": String("p1"), "sid": String("s1")}))"#,
        ),
        (
            r#"82 a4 "type" 00 a3 "nsp" a6 "/admin""#,
            "/admin",
            "Connect(None)",
        ),
        (
            r#"84 a2 "id" 07 a4 "type" 03 a4 "data" 91 a7 "started" a3 "nsp" a1 "/""#,
            "/",
            r#"Ack { id: Some(7), args: [String("started")], attachments: [] }"#,
        ),
        (
            r#"83 a4 "type" 02 a4 "data" 94 a3 "bin" c4 03 010203 a4 "tail" a7 "Q8yltxk" a3 "nsp" a1 "/""#,
            "/",
            r#"Event { id: None, data: Parsed { name: "bin", args: [Object {"_placeholder": Bool(true), "num": Number(0)}, String("tail"), String("Q8yltxk")], attachments: [b"\x01\x02\x03"] } }"#,
        ),
        (
            r#"84 a4 "type" 02 a3 "nsp" a1 "/" a4 "data" 92 a2 "hi" 2a a2 "id" cd 0100"#,
            "/",
            r#"Event { id: Some(256), data: Parsed { name: "hi", args: [Number(42)], attachments: [] } }"#,
        ),
        (
            r#"83 a4 "type" 04 a3 "nsp" a1 "/" a4 "data" 81 a7 "message" a2 "no""#,
            "/",
            r#"ConnectError(Object {"message": String("no")})"#,
        ),
        (
            r#"83 a4 "type" 04 a3 "nsp" a1 "/" a4 "data" a3 "bad""#,
            "/",
            r#"ConnectError(String("bad"))"#,
        ),
        (
            r#"82 a4 "type" 01 a3 "nsp" a6 "/admin""#,
            "/admin",
            "Disconnect",
        ),
        // An unknown key is the server's business.
        (
            r#"83 a4 "type" 01 a3 "nsp" a1 "/" a5 "extra" c3"#,
            "/",
            "Disconnect",
        ),
    ];
    for (spec, nsp, body) in table {
        assert_eq!(
            decoded(spec),
            Ok((nsp.to_string(), body.to_string())),
            "{spec}"
        );
    }
}

/// The data of an EVENT `["x", <value>]` whose value is `value_spec`.
fn event_value(value_spec: &str) -> Result<(Value, Vec<Bytes>), ProtocolError> {
    let spec = format!(r#"83 a4 "type" 02 a3 "nsp" a1 "/" a4 "data" 92 a1 "x" {value_spec}"#);
    match decode(b(&spec))?.body {
        Body::Event {
            data:
                EventData::Parsed {
                    mut args,
                    attachments,
                    ..
                },
            ..
        } => Ok((args.remove(0), attachments)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn values_read_as_the_server_s_json_would_carry_them() {
    let table: &[(&str, Value)] = &[
        ("00", json!(0)),
        ("7f", json!(127)),
        ("ff", json!(-1)),
        ("e0", json!(-32)),
        ("cc ff", json!(255)),
        ("cd ffff", json!(65535)),
        ("ce ffffffff", json!(4294967295u64)),
        ("cf 0000010000000000", json!(1u64 << 40)),
        ("cf ffffffffffffffff", json!(u64::MAX)),
        ("d0 df", json!(-33)),
        ("d1 8000", json!(-32768)),
        ("d2 80000000", json!(-2147483648i64)),
        ("d3 8000000000000000", json!(i64::MIN)),
        ("ca 3fc00000", json!(1.5)),
        ("cb 3ff8000000000000", json!(1.5)),
        // NaN and the infinities, as JSON.stringify writes them.
        ("cb 7ff8000000000000", json!(null)),
        ("cb 7ff0000000000000", json!(null)),
        ("c0", json!(null)),
        ("c2", json!(false)),
        ("c3", json!(true)),
        (r#"a2 "ok""#, json!("ok")),
        (r#"d9 02 "ok""#, json!("ok")),
        (r#"da 0002 "ok""#, json!("ok")),
        (r#"db 00000002 "ok""#, json!("ok")),
        (r#"a2 c3a9"#, json!("é")),
        ("92 01 02", json!([1, 2])),
        ("dc 0001 01", json!([1])),
        ("dd 00000001 01", json!([1])),
        (r#"82 a1 "a" 01 a1 "b" 90"#, json!({"a": 1, "b": []})),
        (r#"de 0001 a1 "a" 01"#, json!({"a": 1})),
        (r#"df 00000001 a1 "a" 01"#, json!({"a": 1})),
        // A JavaScript object's keys are strings.
        ("81 01 02", json!({"1": 2})),
        ("81 c3 02", json!({"true": 2})),
        // notepack.io's `undefined`, and a Date: what JSON would carry.
        ("d4 00 00", json!(null)),
        ("d7 00 0000000000000000", json!("1970-01-01T00:00:00.000Z")),
        ("d7 00 000001939dd8047b", json!("2024-12-06T21:20:00.123Z")),
        ("d7 00 ffffffffffffffff", json!("1969-12-31T23:59:59.999Z")),
    ];
    for (spec, want) in table {
        let (value, attachments) = event_value(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
        assert_eq!(value, *want, "{spec}");
        assert!(attachments.is_empty(), "{spec}");
    }
}

#[test]
fn byte_strings_and_array_buffers_become_attachments() {
    let placeholder = |num: u64| json!({"_placeholder": true, "num": num});
    for spec in [
        "c4 02 0102",
        "c5 0002 0102",
        "c6 00000002 0102",
        "c7 02 00 0102",
    ] {
        let (value, attachments) = event_value(spec).unwrap();
        assert_eq!(value, placeholder(0), "{spec}");
        assert_eq!(attachments, [Bytes::from_static(&[1, 2])], "{spec}");
    }
    let (value, attachments) = event_value(r#"92 c4 01 aa 81 a1 "b" c4 00"#).unwrap();
    assert_eq!(value, json!([placeholder(0), {"b": placeholder(1)}]));
    assert_eq!(attachments, [Bytes::from_static(&[0xaa]), Bytes::new()]);
}

#[test]
fn dates_are_written_as_javascript_writes_them() {
    assert_eq!(
        iso_8601(-62_198_755_200_000).as_deref(),
        Some("-000001-01-01T00:00:00.000Z")
    );
    assert_eq!(
        iso_8601(253_402_300_800_000).as_deref(),
        Some("+010000-01-01T00:00:00.000Z")
    );
    assert_eq!(iso_8601(8_640_000_000_000_001), None);
    assert_eq!(iso_8601(i64::MIN), None);
}

#[test]
fn bad_packets_are_refused_with_what_is_wrong() {
    let head = r#"a4 "type" 02 a3 "nsp" a1 "/" a4 "data""#;
    let deep = format!("83 {head} {} 00", "91 ".repeat(130));
    let table: Vec<(String, &str)> = vec![
        (String::new(), "truncated"),
        ("93 01 02 03".into(), "a packet must be a map"),
        (r#"a5 "hello""#.into(), "a packet must be a map"),
        (r#"83 a4 "type" 02"#.into(), "truncated"),
        (
            r#"82 a4 "type" a1 "x" a3 "nsp" a1 "/""#.into(),
            "the packet type must be an integer from 0 to 4",
        ),
        (
            r#"82 a4 "type" 05 a3 "nsp" a1 "/""#.into(),
            "the packet type must be an integer from 0 to 4",
        ),
        (
            r#"82 a4 "type" ff a3 "nsp" a1 "/""#.into(),
            "the packet type must be an integer from 0 to 4",
        ),
        (
            r#"81 a3 "nsp" a1 "/""#.into(),
            "the packet type must be an integer from 0 to 4",
        ),
        (
            r#"82 a4 "type" 01 a3 "nsp" 01"#.into(),
            "the namespace must be a string",
        ),
        (
            r#"81 a4 "type" 01"#.into(),
            "the namespace must be a string",
        ),
        (
            format!(r#"84 {head} 91 a1 "x" a2 "id" ff"#),
            "the ack id must be a non-negative integer",
        ),
        (
            format!(r#"84 {head} 91 a1 "x" a2 "id" a1 "1""#),
            "the ack id must be a non-negative integer",
        ),
        (
            format!(r#"84 {head} 91 a1 "x" a2 "id" cb 3ff8000000000000"#),
            "the ack id must be a non-negative integer",
        ),
        (
            format!("83 {head} a1 \"x\""),
            "an EVENT's or ACK's data must be an array",
        ),
        (
            format!("83 {head} 90"),
            "an event's data must start with its name",
        ),
        (
            format!("83 {head} 91 01"),
            "an event's data must start with its name",
        ),
        (
            format!(r#"83 {head} 91 a7 "connect""#),
            "the event name is reserved",
        ),
        (
            r#"83 a4 "type" 00 a3 "nsp" a1 "/" a4 "data" 90"#.into(),
            "a CONNECT's data must be a map",
        ),
        (
            r#"83 a4 "type" 01 a3 "nsp" a1 "/" a4 "data" 80"#.into(),
            "a DISCONNECT carries no data",
        ),
        (
            r#"83 a4 "type" 04 a3 "nsp" a1 "/" a4 "data" 01"#.into(),
            "a CONNECT_ERROR's data must be a map or a string",
        ),
        (
            r#"83 a4 "type" 00 a3 "nsp" a1 "/" a4 "data" 81 a1 "k" c4 01 00"#.into(),
            "binary data in a packet that takes none",
        ),
        (
            r#"82 a4 "type" 01 a3 "nsp" a1 "/" c0"#.into(),
            "bytes after the packet",
        ),
        (
            r#"82 01 01 a3 "nsp" a1 "/""#.into(),
            "a packet's keys must be strings",
        ),
        // Lengths beyond the message, refused before anything is made for them.
        (format!("83 {head} 92 a1 \"x\" c6 ffffffff"), "truncated"),
        (format!("83 {head} 92 a1 \"x\" db 7fffffff"), "truncated"),
        (format!("83 {head} dd ffffffff"), "truncated"),
        (format!("83 {head} df ffffffff"), "truncated"),
        (format!("83 {head} 92 a1 \"x\" c9 ffffffff 00"), "truncated"),
        (format!("83 {head} 92 a1 \"x\" a3 \"ab\""), "truncated"),
        (format!("83 {head} 92 a1 \"x\" cd 01"), "truncated"),
        (deep, "nested deeper than 128 levels"),
        (
            format!("83 {head} 92 a1 \"x\" d4 05 00"),
            "extension type 5",
        ),
        (
            format!("83 {head} 92 a1 \"x\" c7 01 ff 00"),
            "extension type -1",
        ),
        (
            format!("83 {head} 92 a1 \"x\" d5 00 0000"),
            "extension type 0",
        ),
        (
            format!("83 {head} 92 a1 \"x\" c1"),
            "the never-used marker 0xc1",
        ),
        (
            format!("83 {head} 92 a1 \"x\" a1 ff"),
            "a string is not UTF-8",
        ),
        (
            format!("83 {head} 92 a1 \"x\" 81 90 00"),
            "a map key must be a string or a number",
        ),
    ];
    for (spec, problem) in table {
        assert_eq!(
            decoded(&spec),
            Err(ProtocolError::InvalidMsgPack(problem.to_owned())),
            "{spec}"
        );
    }
}

#[test]
fn a_packet_of_more_values_than_the_bound_is_refused() {
    // One byte a value on the wire, 32 in memory: the bound stops it.
    let mut message = b(r#"83 a4 "type" 02 a3 "nsp" a1 "/" a4 "data" dd"#).to_vec();
    message.extend_from_slice(&(MAX_MSGPACK_VALUES as u32).to_be_bytes());
    message.resize(message.len() + MAX_MSGPACK_VALUES, 0xc0);
    assert_eq!(
        decode(Bytes::from(message)).map(|_| ()),
        Err(ProtocolError::InvalidMsgPack(format!(
            "more than {MAX_MSGPACK_VALUES} values"
        )))
    );
}

#[test]
fn a_text_packet_is_a_parser_mismatch() {
    let mut decoder = Decoder::new(Parser::MsgPack);
    assert_eq!(
        decoder.decode_text("0{\"sid\":\"s\"}").map(|_| ()),
        Err(ProtocolError::ParserMismatch {
            ours: Parser::MsgPack
        })
    );
}

fn one_binary(frames: VecDeque<Frame>) -> Bytes {
    match Vec::from(frames).as_slice() {
        [Frame::Binary(data)] => data.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn packets_encode_as_the_reference_client_does() {
    // The CONNECT as socket.io-client sends it: data even when empty.
    assert_eq!(
        one_binary(VecDeque::from([connect_frame("/", None)])),
        b(r#"83 a4 "type" 00 a3 "nsp" a1 "/" a4 "data" 80"#)
    );
    assert_eq!(
        one_binary(VecDeque::from([connect_frame(
            "/admin",
            Some(json!({"pid": "p1", "offset": "o1"}))
        )])),
        b(
            r#"83 a4 "type" 00 a3 "nsp" a6 "/admin" a4 "data" 82 a6 "offset" a2 "o1" a3 "pid" a2 "p1""#
        )
    );
    assert_eq!(
        one_binary(VecDeque::from([disconnect_frame("/admin")])),
        b(r#"82 a4 "type" 01 a3 "nsp" a6 "/admin""#)
    );
    let event = MsgPackEvent::encode("/", "stream", &json!({"n": 2, "every": 10}), true).unwrap();
    let mut out = VecDeque::new();
    event.write(Some(7), &mut out);
    assert_eq!(
        one_binary(out),
        b(
            r#"84 a4 "type" 02 a3 "nsp" a1 "/" a4 "data" 92 a6 "stream" 82 a5 "every" 0a a1 "n" 02 a2 "id" 07"#
        )
    );
    assert!(event.largest_message() >= b(r#"84 a4 "type" 02 a3 "nsp" a1 "/" a4 "data" 92 a6 "stream" 82 a5 "every" 0a a1 "n" 02 a2 "id" cf 0000000000000000"#).len());
    let frames = ack_message("/admin", 300, &("ok", -33, 1.5)).unwrap();
    assert_eq!(
        frames,
        [Frame::Binary(b(
            r#"84 a4 "type" 03 a3 "nsp" a6 "/admin" a4 "data" 93 a2 "ok" d0 df cb 3ff8000000000000 a2 "id" cd 012c"#
        ))]
    );
}

#[test]
fn an_emit_without_an_ack_goes_without_an_id_and_bytes_go_in_place() {
    let bytes = Bytes::from_static(&[1, 2, 3]);
    let event = MsgPackEvent::encode("/", "up", &(&bytes, "tail"), false).unwrap();
    let mut out = VecDeque::new();
    event.write(Some(9), &mut out);
    assert_eq!(
        one_binary(out),
        b(r#"83 a4 "type" 02 a3 "nsp" a1 "/" a4 "data" 93 a2 "up" c4 03 010203 a4 "tail""#)
    );
    let (name, args, attachments) = event.decode();
    assert_eq!(name, "up");
    assert_eq!(
        args,
        [json!({"_placeholder": true, "num": 0}), json!("tail")]
    );
    assert_eq!(attachments, [bytes]);
}

#[test]
fn what_is_written_reads_back_the_same() {
    let bytes = Bytes::from_static(b"\x00\xffraw");
    let args = (
        json!({"nested": [1, -1, 2.25, null, true, "é", {"k": []}]}),
        &bytes,
        u64::MAX,
        i64::MIN,
    );
    let event = MsgPackEvent::encode("/chat", "all", &args, false).unwrap();
    let mut out = VecDeque::new();
    event.write(None, &mut out);
    let packet = decode(one_binary(out)).unwrap();
    assert_eq!(packet.nsp, "/chat");
    let Body::Event {
        id: None,
        data:
            EventData::Parsed {
                name,
                args,
                attachments,
            },
    } = packet.body
    else {
        panic!("{:?}", packet.body);
    };
    assert_eq!(name, "all");
    assert_eq!(
        args,
        [
            json!({"nested": [1, -1, 2.25, null, true, "é", {"k": []}]}),
            json!({"_placeholder": true, "num": 0}),
            json!(u64::MAX),
            json!(i64::MIN),
        ]
    );
    assert_eq!(attachments, [bytes]);
}

/// A data array read back: its values and attachments, or the error.
type ReadBack = Result<(Value, Vec<Bytes>), String>;

/// The data array the arguments of `args` make: written directly and read
/// back, and as the JSON of `codec::args` makes it, which it must agree
/// with.
fn both_ways<A: serde::Serialize + ?Sized>(args: &A) -> (ReadBack, ReadBack) {
    let read = |data: Vec<u8>| {
        let data = Bytes::from(data);
        let mut reader = Reader::new(&data);
        let value = reader.value(1).map_err(|e| e.to_string())?;
        Ok((value, reader.attachments))
    };
    let mut direct = Vec::new();
    let direct = args::write_event_data(&mut direct, "ev", args)
        .map_err(|e| e.to_string())
        .and_then(|()| read(direct));
    let through_json = (|| {
        let mut json = String::new();
        let mut attachments = Vec::new();
        crate::codec::args::write_args(&mut json, args, &mut attachments)
            .map_err(|e| e.to_string())?;
        let list = format!("[\"ev\"{json}]");
        let values: Value = serde_json::from_str(&list).map_err(|e| e.to_string())?;
        Ok((values, attachments))
    })();
    (direct, through_json)
}

#[test]
fn arguments_written_directly_read_as_their_json_would() {
    use std::collections::{BTreeMap, HashMap};

    use crate::codec::shapes::{Chat, Newtype, Pair, Unit, E};

    /// A sequence and a map that do not say their length up front.
    struct Unsized;
    impl serde::Serialize for Unsized {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::{SerializeMap, SerializeSeq, SerializeTuple};
            let mut tuple = s.serialize_tuple(2)?;
            tuple.serialize_element(&UnsizedSeq)?;
            tuple.serialize_element(&UnsizedMap)?;
            return tuple.end();
            struct UnsizedSeq;
            impl serde::Serialize for UnsizedSeq {
                fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    let mut seq = s.serialize_seq(None)?;
                    for i in 0..20 {
                        seq.serialize_element(&i)?;
                    }
                    seq.end()
                }
            }
            struct UnsizedMap;
            impl serde::Serialize for UnsizedMap {
                fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    let mut map = s.serialize_map(None)?;
                    map.serialize_entry("a", &1)?;
                    map.serialize_entry(&2, &[3])?;
                    map.end()
                }
            }
        }
    }

    let bytes = Bytes::from_static(b"\x00\x01");
    let chat = Chat {
        user: "alice",
        text: "hé \"quoted\"".into(),
        reply_to: None,
        tags: vec!["a", "b"],
    };
    let cases: Vec<(&str, (ReadBack, ReadBack))> = vec![
        ("no arguments", both_ways(&())),
        ("null is no arguments", both_ways(&Value::Null)),
        ("a number", both_ways(&7)),
        (
            "numbers",
            both_ways(&(-1i8, 300u16, -70000i32, u64::MAX, i64::MIN)),
        ),
        (
            "wide numbers",
            both_ways(&(i128::MAX, i128::MIN, u128::MAX, 5i128, -5i128)),
        ),
        (
            "floats",
            both_ways(&(0.1f32, 1e20f32, 2.5f64, f64::NAN, f64::INFINITY, -0.0f64)),
        ),
        ("text", both_ways(&("", "é😀", 'x', '😀'))),
        (
            "options",
            both_ways(&(None::<u8>, Some(3), Some(()), Some((1, 2)))),
        ),
        ("a vec is one argument", both_ways(&vec![1, 2, 3])),
        ("nested tuples", both_ways(&((1, (2, "3")), [4, 5]))),
        (
            "structs",
            both_ways(&(Unit, Newtype(-4), Pair(1, "p"), &chat)),
        ),
        (
            "variants",
            both_ways(&(E::A, E::B(1), E::C(1, 2), E::D { z: true })),
        ),
        (
            "maps with keys of each kind",
            both_ways(&(
                HashMap::from([(1, "one"), (-2, "minus two")]),
                BTreeMap::from([(true, 1), (false, 0)]),
                BTreeMap::from([('c', 1)]),
                BTreeMap::from([(E::A, 1)]),
            )),
        ),
        (
            "bytes at any depth",
            both_ways(&(&bytes, vec![&bytes], json!({"k": 1}))),
        ),
        (
            "a value",
            both_ways(&json!({"b": [1, {"c": null}], "a": "x"})),
        ),
        ("lengths said at the end", both_ways(&Unsized)),
    ];
    for (what, (direct, through_json)) in cases {
        assert_eq!(direct, through_json, "{what}");
        assert!(direct.is_ok(), "{what}: {direct:?}");
    }
    // What serde_json refuses is refused the same way.
    let bad_key = BTreeMap::from([(vec![1], 1)]);
    assert!(both_ways(&bad_key).0.is_err());
    assert!(both_ways(&bad_key).1.is_err());
    let optional_key = HashMap::from([(Some(1), 1)]);
    assert_eq!(both_ways(&optional_key).0, both_ways(&optional_key).1);
    assert!(both_ways(&optional_key).0.is_ok());
}
