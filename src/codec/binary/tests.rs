//! Attachments both ways: placeholders, round trips through the argument
//! serializer and deserializer, and the limits.

use std::collections::{BTreeMap, HashMap};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::*;
use crate::codec::arg_deserializer::ValueArgsDeserializer;
use crate::codec::args::write_args;
use crate::codec::limits::MAX_ATTACHMENTS;

/// `{"_placeholder":true,"num":N}`.
fn ph(num: u64) -> Value {
    json!({"_placeholder": true, "num": num})
}

fn att(data: &[&'static [u8]]) -> Vec<Bytes> {
    data.iter().map(|d| Bytes::from_static(d)).collect()
}

/// Decodes one value with placeholders.
fn decode<T: DeserializeOwned>(value: &Value, attachments: &[Bytes]) -> Result<T, Error> {
    T::deserialize(BinaryValue::new(value, attachments))
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct File {
    name: String,
    data: Bytes,
    copy: Vec<u8>,
    #[serde(with = "serde_bytes")]
    thumb: Vec<u8>,
    maybe: Option<Bytes>,
    parts: Vec<Bytes>,
    by_id: BTreeMap<u32, Bytes>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Blob {
    Unit,
    One(Bytes),
    Two(Vec<u8>, Bytes),
    Named { b: Bytes },
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(untagged)]
enum Either {
    Number(u8),
    // serde's `String` also takes bytes that are UTF-8, and `Bytes` takes a
    // string: untagged, only bytes that are not UTF-8 reach `Binary`.
    Text(String),
    Binary(Bytes),
}

#[test]
fn placeholders_decode_as_bytes_at_every_depth() {
    let a = att(&[b"zero", b"one", b"two", b"three", b"four", b""]);
    let value = json!({
        "name": "f",
        "data": ph(0),
        "copy": ph(1),
        "thumb": ph(2),
        "maybe": ph(3),
        "parts": [ph(4), ph(5)],
        "by_id": {"7": ph(0)},
    });
    let file: File = decode(&value, &a).expect("decodes");
    assert_eq!(
        file,
        File {
            name: "f".into(),
            data: a[0].clone(),
            copy: b"one".to_vec(),
            thumb: b"two".to_vec(),
            maybe: Some(a[3].clone()),
            parts: vec![a[4].clone(), a[5].clone()],
            by_id: BTreeMap::from([(7, a[0].clone())]),
        }
    );

    let blobs = json!(["Unit", {"One": ph(0)}, {"Two": [ph(1), ph(2)]}, {"Named": {"b": ph(3)}}]);
    let got: Vec<Blob> = decode(&blobs, &a).expect("enums");
    assert_eq!(
        got,
        [
            Blob::Unit,
            Blob::One(a[0].clone()),
            Blob::Two(b"one".to_vec(), a[2].clone()),
            Blob::Named { b: a[3].clone() },
        ]
    );

    let deep = json!([[[{"x": [ph(1)]}]]]);
    type Deep = Vec<Vec<Vec<HashMap<String, Vec<Vec<u8>>>>>>;
    let got: Deep = decode(&deep, &a).expect("deep");
    assert_eq!(got[0][0][0]["x"], [b"one".to_vec()]);

    let got: serde_bytes::ByteBuf = decode(&ph(1), &a).expect("ByteBuf");
    assert_eq!(got.as_slice(), b"one");
    let got: [u8; 3] = decode(&ph(2), &a).expect("array");
    assert_eq!(&got, b"two");
    let got: (Bytes, Option<Bytes>) = decode(&json!([ph(5), null]), &a).expect("tuple");
    assert_eq!(got, (a[5].clone(), None));
}

#[test]
fn decoding_placeholders_as_something_else() {
    let a = att(&[b"ab"]);
    // A placeholder is a plain object to a map or struct.
    let map: BTreeMap<String, Value> = decode(&ph(0), &a).expect("map");
    assert_eq!(map["num"], json!(0));
    // serde_json::Value cannot hold bytes: it sees the placeholder, as
    // Event::args does.
    assert_eq!(decode::<Value>(&ph(0), &a).expect("value"), ph(0));
    assert_eq!(
        decode::<Vec<Value>>(&json!([ph(0)]), &a).expect("values"),
        [ph(0)]
    );
    // Untagged enums go through deserialize_any, so they see it too.
    assert!(decode::<Either>(&ph(0), &a).is_err());
    // Wrong lengths and types are errors.
    assert!(decode::<[u8; 1]>(&ph(0), &a).is_err());
    assert!(decode::<[u8; 3]>(&ph(0), &a).is_err());
    assert!(decode::<String>(&ph(0), &a).is_err());
    assert!(decode::<u8>(&ph(0), &a).is_err());
    // Ignored fields do not need to be understood.
    #[derive(Deserialize)]
    struct Nothing {}
    decode::<Nothing>(&json!({"skip": ph(0)}), &a).expect("ignored");
}

#[test]
fn out_of_range_or_malformed_placeholders_are_plain_data() {
    let a = att(&[b"x"]);
    let cases = [
        ph(1),
        ph(u64::MAX),
        json!({"_placeholder": true, "num": -1}),
        json!({"_placeholder": true, "num": "0"}),
        json!({"_placeholder": "true", "num": 0}),
        json!({"num": 0}),
    ];
    for value in cases {
        let got: Value = decode(&value, &a).expect("plain");
        assert_eq!(got, value);
        assert!(decode::<Bytes>(&value, &a).is_err(), "{value}");
    }
    // Without attachments (a packet that is not binary) nothing is a placeholder.
    let got: Value = decode(&ph(0), &[]).expect("plain");
    assert_eq!(got, ph(0));
}

#[test]
fn everything_else_decodes_as_serde_json_does() {
    let a = att(&[b"x"]);
    let value = json!({
        "s": "t", "n": -3, "f": 1.5, "b": true, "z": null,
        "arr": [1, "two", [3]], "o": {"1": 2, "-5": 3, "true": 4},
        "big": u64::MAX,
    });
    let plain: Value = decode(&value, &a).expect("Value");
    assert_eq!(plain, value);
    #[derive(Debug, Deserialize, PartialEq)]
    struct Typed {
        s: String,
        n: i8,
        f: f32,
        b: bool,
        z: Option<u8>,
        arr: (u8, String, [u16; 1]),
        o: HashMap<String, u64>,
        big: u128,
    }
    let typed: Typed = decode(&value, &a).expect("typed");
    assert_eq!(typed.arr, (1, "two".into(), [3]));
    assert_eq!(typed.big, u128::from(u64::MAX));
    // Numeric and boolean keys, as serde_json parses them.
    let ints: BTreeMap<i32, u8> = decode(&json!({"1": 2, "-5": 3}), &a).expect("int keys");
    assert_eq!(ints, BTreeMap::from([(1, 2), (-5, 3)]));
    let bools: BTreeMap<bool, u8> = decode(&json!({"true": 1}), &a).expect("bool keys");
    assert_eq!(bools, BTreeMap::from([(true, 1)]));
    for bad in [
        json!({" 1": 0}),
        json!({"1 ": 0}),
        json!({"x": 0}),
        json!({"1.5": 0}),
    ] {
        assert!(decode::<BTreeMap<i32, u8>>(&bad, &a).is_err(), "{bad}");
    }
    // A struct from an array, and too many elements for it.
    #[derive(Debug, Deserialize, PartialEq)]
    struct P {
        x: u8,
        y: Bytes,
    }
    let p: P = decode(&json!([1, ph(0)]), &a).expect("struct from array");
    assert_eq!(
        p,
        P {
            x: 1,
            y: a[0].clone()
        }
    );
    assert!(decode::<P>(&json!([1, ph(0), 3]), &a).is_err());
    assert!(decode::<(u8,)>(&json!([1, 2]), &a).is_err());
}

/// What `write_args` sends, the typed decode gets back.
#[test]
fn encode_then_decode_round_trips() {
    let file = File {
        name: "f".into(),
        data: Bytes::from_static(&[0, 255, 1]),
        copy: vec![9, 8, 7],
        thumb: vec![1],
        maybe: None,
        parts: vec![Bytes::new(), Bytes::from_static(b"p")],
        by_id: BTreeMap::from([(3, Bytes::from_static(b"three"))]),
    };
    let mut json = String::from("[");
    let mut attachments = Vec::new();
    write_args(
        &mut json,
        &(&file, Blob::One(Bytes::from_static(b"one"))),
        &mut attachments,
    )
    .expect("encodes");
    json.push(']');
    let json = json.replacen("[,", "[", 1);
    // data, thumb, parts[0], parts[1], by_id[3], One; copy stays JSON.
    assert_eq!(attachments.len(), 6);
    let args: Vec<Value> = serde_json::from_str(&json).expect("JSON");
    let (back, blob): (File, Blob) =
        Deserialize::deserialize(ValueArgsDeserializer::new(&args, &attachments)).expect("decodes");
    assert_eq!(back, file);
    assert_eq!(blob, Blob::One(Bytes::from_static(b"one")));
}

/// Arbitrary JSON with placeholders, in and out of range, into many
/// target types: errors are fine, panics are not.
#[test]
fn arbitrary_input_never_panics() {
    let a = att(&[b"a", b"bc"]);
    let leaves = [
        ph(0),
        ph(1),
        ph(2),
        json!(null),
        json!(-1),
        json!(300),
        json!("s"),
        json!({"_placeholder": true}),
        json!([]),
        json!({}),
    ];
    let mut values: Vec<Value> = leaves.to_vec();
    for x in &leaves {
        values.push(json!([x, x]));
        values.push(json!({"k": x, "1": x}));
        values.push(json!({"One": x}));
        values.push(json!([[x], {"a": [x]}]));
    }
    for v in &values {
        let _ = decode::<Value>(v, &a);
        let _ = decode::<Bytes>(v, &a);
        let _ = decode::<Vec<u8>>(v, &a);
        let _ = decode::<Vec<Bytes>>(v, &a);
        let _ = decode::<Option<Vec<Option<Bytes>>>>(v, &a);
        let _ = decode::<BTreeMap<u8, Vec<u8>>>(v, &a);
        let _ = decode::<BTreeMap<String, Bytes>>(v, &a);
        let _ = decode::<Blob>(v, &a);
        let _ = decode::<Either>(v, &a);
        let _ = decode::<File>(v, &a);
        let _ = decode::<(u8, Bytes)>(v, &a);
        let _ = decode::<[u8; 2]>(v, &a);
        let _ = decode::<serde::de::IgnoredAny>(v, &a);
    }
}

/// The cap is documented as 256 on `Event::attachments` and in the crate docs.
#[test]
fn documented_attachment_cap() {
    assert_eq!(MAX_ATTACHMENTS, 256);
}
