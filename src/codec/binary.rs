//! Binary attachments both ways.
//!
//! Socket.IO sends a binary value as an attachment: the JSON text holds
//! `{"_placeholder":true,"num":N}` where the value stood, and the bytes follow
//! the text as the N-th binary WebSocket frame.
//!
//! - Emitting: [`AttachmentFormatter`] is a serde_json formatter that writes a
//!   placeholder wherever serde serializes bytes (`serialize_bytes`, which is
//!   what `bytes::Bytes` and `serde_bytes` use) and collects the bytes, in one
//!   pass and at any depth. A `Vec<u8>` serializes as a sequence, so it stays
//!   a JSON array of numbers.
//! - Receiving: [`BinaryValue`] deserializes a JSON value whose placeholders
//!   stand for attachments, serving the attachment's bytes where the target
//!   type asks for bytes (or a sequence, so `Vec<u8>` works too).

use std::io;

use bytes::Bytes;
use serde::de::value::{BorrowedStrDeserializer, SeqDeserializer};
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};
use serde::forward_to_deserialize_any;
use serde_json::ser::Formatter;
use serde_json::{Error, Value};

/// A compact JSON formatter that turns every byte array into an attachment
/// placeholder and keeps the bytes.
pub(crate) struct AttachmentFormatter<'b> {
    /// The packet's attachments; a placeholder's `num` is its index here.
    attachments: &'b mut Vec<Bytes>,
}

impl<'b> AttachmentFormatter<'b> {
    /// A formatter appending to `attachments`: the first byte array it meets
    /// gets `num` = `attachments.len()`.
    pub(crate) fn new(attachments: &'b mut Vec<Bytes>) -> Self {
        AttachmentFormatter { attachments }
    }
}

// Every other method keeps its default, which is the compact format.
impl Formatter for AttachmentFormatter<'_> {
    fn write_byte_array<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        value: &[u8],
    ) -> io::Result<()> {
        let num = self.attachments.len();
        // serde hands over a borrowed slice, so the bytes are copied once here;
        // there is no way to learn that they came from a `Bytes` and share it.
        self.attachments.push(Bytes::copy_from_slice(value));
        write!(writer, r#"{{"_placeholder":true,"num":{num}}}"#)
    }
}

/// The attachment `value` stands for, if it is a placeholder
/// `{"_placeholder":true,"num":N}` with `N` an index into `attachments`.
///
/// A placeholder-shaped object whose index is out of range is plain data: the
/// session rejects such indexes in binary packets before anything is decoded,
/// so this happens only in packets that have no attachments, where the
/// protocol gives placeholders no meaning.
fn placeholder<'a>(value: &Value, attachments: &'a [Bytes]) -> Option<&'a Bytes> {
    if attachments.is_empty() {
        return None;
    }
    let Value::Object(map) = value else {
        return None;
    };
    if map.get("_placeholder") != Some(&Value::Bool(true)) {
        return None;
    }
    let num = map.get("num")?.as_u64()?;
    attachments.get(usize::try_from(num).ok()?)
}

/// A deserializer over a JSON value whose placeholders stand for `attachments`.
///
/// At a placeholder, `deserialize_bytes`, `deserialize_byte_buf` and
/// `deserialize_any` visit the attachment's bytes, and `deserialize_seq` (and
/// `deserialize_tuple`) visit them as a sequence of `u8`, so `Bytes`,
/// `serde_bytes` types and `Vec<u8>` all receive the bytes. Every other request
/// sees the placeholder as the plain JSON object it is. Arrays, objects and
/// enums are walked with this deserializer, so placeholders work at any depth;
/// everything else is served as `&Value` serves it.
///
/// A type that deserializes any JSON value, such as `serde_json::Value`, gets
/// bytes at a placeholder, which it does not accept: decoding it there fails.
#[derive(Clone, Copy)]
pub(crate) struct BinaryValue<'a> {
    value: &'a Value,
    attachments: &'a [Bytes],
}

impl<'a> BinaryValue<'a> {
    /// A deserializer over `value`, whose placeholders index `attachments`.
    pub(crate) fn new(value: &'a Value, attachments: &'a [Bytes]) -> Self {
        BinaryValue { value, attachments }
    }

    fn bytes(&self) -> Option<&'a Bytes> {
        placeholder(self.value, self.attachments)
    }
}

/// Visits `items` as a sequence of [`BinaryValue`]s, failing if the visitor
/// leaves some unread (as serde_json does for `&Value`).
fn visit_array<'a, V: Visitor<'a>>(
    items: &'a [Value],
    attachments: &'a [Bytes],
    visitor: V,
) -> Result<V::Value, Error> {
    let mut seq = Seq::new(items, attachments);
    let value = visitor.visit_seq(&mut seq)?;
    if seq.iter.len() == 0 {
        Ok(value)
    } else {
        Err(de::Error::invalid_length(
            items.len(),
            &"fewer elements in array",
        ))
    }
}

/// Visits `map` with [`BinaryValue`] values, failing if the visitor leaves
/// some entries unread (as serde_json does for `&Value`).
fn visit_object<'a, V: Visitor<'a>>(
    map: &'a serde_json::Map<String, Value>,
    attachments: &'a [Bytes],
    visitor: V,
) -> Result<V::Value, Error> {
    let mut access = Map {
        iter: map.iter(),
        value: None,
        attachments,
    };
    let value = visitor.visit_map(&mut access)?;
    if access.iter.len() == 0 {
        Ok(value)
    } else {
        Err(de::Error::invalid_length(
            map.len(),
            &"fewer elements in map",
        ))
    }
}

/// Visits an attachment as a sequence of `u8`, failing if the visitor leaves
/// some unread.
fn visit_byte_seq<'a, V: Visitor<'a>>(bytes: &'a [u8], visitor: V) -> Result<V::Value, Error> {
    let mut seq = SeqDeserializer::<_, Error>::new(bytes.iter().copied());
    let value = visitor.visit_seq(&mut seq)?;
    seq.end()?;
    Ok(value)
}

/// Forwards each listed method to the value's own deserializer.
macro_rules! forward_to_value {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
                self.value.$method(visitor)
            }
        )*
    };
}

impl<'a> Deserializer<'a> for BinaryValue<'a> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        // A placeholder stays a placeholder for self-describing targets such as
        // `serde_json::Value`, which cannot hold bytes: the same view as
        // `Event::args`. Byte fields ask for bytes and get them below.
        match self.value {
            Value::Array(items) => visit_array(items, self.attachments, visitor),
            Value::Object(map) => visit_object(map, self.attachments, visitor),
            other => other.deserialize_any(visitor),
        }
    }

    forward_to_value!(
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_str
        deserialize_string deserialize_unit deserialize_identifier
    );

    fn deserialize_bytes<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.bytes() {
            Some(bytes) => visitor.visit_borrowed_bytes(bytes),
            None => self.value.deserialize_bytes(visitor),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.value.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        if let Some(bytes) = self.bytes() {
            return visit_byte_seq(bytes, visitor);
        }
        match self.value {
            Value::Array(items) => visit_array(items, self.attachments, visitor),
            other => other.deserialize_seq(visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'a>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Object(map) => visit_object(map, self.attachments, visitor),
            other => other.deserialize_map(visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'a>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.value {
            Value::Object(map) => visit_object(map, self.attachments, visitor),
            // serde_json accepts a struct written as an array of its fields.
            Value::Array(items) => visit_array(items, self.attachments, visitor),
            other => other.deserialize_struct(name, fields, visitor),
        }
    }

    fn deserialize_enum<V: Visitor<'a>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        // `{"Variant": content}`: the content may hold placeholders. A unit
        // variant (a string) or anything malformed is the Value's business.
        if let Value::Object(map) = self.value {
            let mut entries = map.iter();
            if let (Some((variant, content)), None) = (entries.next(), entries.next()) {
                return visitor.visit_enum(Enum {
                    variant,
                    content: BinaryValue::new(content, self.attachments),
                });
            }
        }
        self.value.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

/// The elements of an array, each a [`BinaryValue`].
pub(crate) struct Seq<'a> {
    iter: std::slice::Iter<'a, Value>,
    attachments: &'a [Bytes],
}

impl<'a> Seq<'a> {
    /// The elements of `items`, whose placeholders index `attachments`.
    pub(crate) fn new(items: &'a [Value], attachments: &'a [Bytes]) -> Self {
        Seq {
            iter: items.iter(),
            attachments,
        }
    }
}

impl<'a> SeqAccess<'a> for Seq<'a> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'a>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.iter.next() {
            Some(value) => seed
                .deserialize(BinaryValue::new(value, self.attachments))
                .map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// The entries of an object, each value a [`BinaryValue`].
struct Map<'a> {
    iter: serde_json::map::Iter<'a>,
    /// The value of the key last handed out.
    value: Option<&'a Value>,
    attachments: &'a [Bytes],
}

impl<'a> MapAccess<'a> for Map<'a> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'a>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.iter.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(Key(key)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some(value) => seed.deserialize(BinaryValue::new(value, self.attachments)),
            None => Err(de::Error::custom("value is missing")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// An enum written as `{"Variant": content}`.
struct Enum<'a> {
    variant: &'a str,
    content: BinaryValue<'a>,
}

impl<'a> EnumAccess<'a> for Enum<'a> {
    type Error = Error;
    type Variant = BinaryValue<'a>;

    fn variant_seed<S: DeserializeSeed<'a>>(
        self,
        seed: S,
    ) -> Result<(S::Value, BinaryValue<'a>), Error> {
        let variant = seed.deserialize(BorrowedStrDeserializer::<Error>::new(self.variant))?;
        Ok((variant, self.content))
    }
}

impl<'a> VariantAccess<'a> for BinaryValue<'a> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        // `{"Unit": null}`, as serde_json accepts it.
        de::Deserialize::deserialize(self)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'a>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'a>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn struct_variant<V: Visitor<'a>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }
}

/// An object key. Keys are strings, but like serde_json this also serves
/// numeric and boolean keys (`{"1":"x"}` into a `BTreeMap<u32, String>`).
struct Key<'a>(&'a str);

/// Parses the key as a number of the requested type, as serde_json does:
/// the whole key must be the number, with no surrounding whitespace.
macro_rules! numeric_key {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
                let numeric = self.0.starts_with(|c: char| c.is_ascii_digit() || c == '-')
                    && !self.0.bytes().any(|b| b.is_ascii_whitespace());
                if !numeric {
                    return Err(de::Error::invalid_type(de::Unexpected::Str(self.0), &visitor));
                }
                let mut json = serde_json::Deserializer::from_str(self.0);
                let value = (&mut json).$method(visitor)?;
                json.end()?;
                Ok(value)
            }
        )*
    };
}

impl<'a> Deserializer<'a> for Key<'a> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_borrowed_str(self.0)
    }

    numeric_key!(
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64
    );

    fn deserialize_bool<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            other => Err(de::Error::invalid_type(
                de::Unexpected::Str(other),
                &visitor,
            )),
        }
    }

    fn deserialize_option<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        // A key is never null.
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'a>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        BorrowedStrDeserializer::<Error>::new(self.0).deserialize_enum(name, variants, visitor)
    }

    forward_to_deserialize_any! {
        <W: Visitor<'a>>
        char str string bytes byte_buf unit unit_struct seq tuple tuple_struct
        map struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
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

        let blobs =
            json!(["Unit", {"One": ph(0)}, {"Two": [ph(1), ph(2)]}, {"Named": {"b": ph(3)}}]);
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
            Deserialize::deserialize(ValueArgsDeserializer::new(&args, &attachments))
                .expect("decodes");
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
}
