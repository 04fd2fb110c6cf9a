//! Writing JSON straight into a frame's `String`: a serde serializer whose
//! output is serde_json's to the byte (the same escapes, number formats, map
//! key rules and enum tagging, which a table test checks), but which writes
//! into the `String` itself, so nothing is checked as UTF-8 afterwards, and
//! looks for escapes in a string in one pass. Byte values
//! (`serialize_bytes`, what `bytes::Bytes` and `serde_bytes` use) become
//! attachment placeholders.

use std::fmt::Display;
use std::io::{self, Cursor};

use bytes::Bytes;
use serde::ser::{self, Serialize};
use serde_json::ser::{CompactFormatter, Formatter};
use serde_json::Error;

use crate::codec::map_key::{KeyOut, MapKey};

/// What each byte is escaped as inside a JSON string: 0 for nothing, `u`
/// for `\u00XX`, else the letter after the `\\`; serde_json's table.
const ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// Appends `text` as a JSON string, escaped as serde_json escapes it.
pub(crate) fn write_str(out: &mut String, text: &str) {
    out.reserve(text.len() + 2);
    out.push('"');
    let bytes = text.as_bytes();
    // Most strings need no escape: one pass that the compiler vectorizes
    // finds out, and they are copied whole.
    if !bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(text);
        out.push('"');
        return;
    }
    let mut plain_from = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        let escape = ESCAPE[usize::from(byte)];
        if escape == 0 {
            continue;
        }
        // Only ASCII bytes are escaped, so `at` is a character boundary.
        out.push_str(&text[plain_from..at]);
        out.push('\\');
        if escape == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("u00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        } else {
            out.push(char::from(escape));
        }
        plain_from = at + 1;
    }
    out.push_str(&text[plain_from..]);
    out.push('"');
}

/// Appends an integer.
fn write_integer(out: &mut String, value: impl itoa::Integer) {
    out.push_str(itoa::Buffer::new().format(value));
}

/// The text serde_json's formatter writes for a number, made in `buffer`.
pub(crate) fn number_text(
    buffer: &mut [u8; 64],
    write: impl FnOnce(&mut Cursor<&mut [u8]>) -> io::Result<()>,
) -> Result<&str, Error> {
    // The longest number serde_json writes is an i128 (40 bytes).
    let mut cursor = Cursor::new(&mut buffer[..]);
    write(&mut cursor).map_err(Error::io)?;
    let len = cursor.position() as usize;
    std::str::from_utf8(&buffer[..len])
        .map_err(|_| Error::io(io::Error::from(io::ErrorKind::InvalidData)))
}

/// Appends a number as serde_json's formatter writes it.
fn write_number(
    out: &mut String,
    write: impl FnOnce(&mut Cursor<&mut [u8]>) -> io::Result<()>,
) -> Result<(), Error> {
    let mut buffer = [0; 64];
    out.push_str(number_text(&mut buffer, write)?);
    Ok(())
}

/// Opens the object serde_json tags an enum variant with data in:
/// `{"<variant>":`, the data and a `}` to follow.
fn open_variant(out: &mut String, variant: &str) {
    out.push('{');
    write_str(out, variant);
    out.push(':');
}

/// Writes one JSON value into `out`; byte values go to `attachments`, with
/// a placeholder where they stood.
pub(crate) struct JsonWriter<'a> {
    pub(crate) out: &'a mut String,
    pub(crate) attachments: &'a mut Vec<Bytes>,
}

impl<'a> JsonWriter<'a> {
    /// A writer of a value inside this one.
    fn reborrow(&mut self) -> JsonWriter<'_> {
        JsonWriter {
            out: self.out,
            attachments: self.attachments,
        }
    }
}

impl<'a> ser::Serializer for JsonWriter<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out.push_str(if v { "true" } else { "false" });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        write_integer(self.out, v);
        Ok(())
    }

    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        write_integer(self.out, v);
        Ok(())
    }

    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        write_integer(self.out, v);
        Ok(())
    }

    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        write_integer(self.out, v);
        Ok(())
    }

    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        write_integer(self.out, v);
        Ok(())
    }

    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        write_integer(self.out, v);
        Ok(())
    }

    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        write_integer(self.out, v);
        Ok(())
    }

    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        write_integer(self.out, v);
        Ok(())
    }

    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        write_integer(self.out, v);
        Ok(())
    }

    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        write_integer(self.out, v);
        Ok(())
    }

    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        if !v.is_finite() {
            return self.serialize_unit();
        }
        write_number(self.out, |w| CompactFormatter.write_f32(w, v))
    }

    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        if !v.is_finite() {
            return self.serialize_unit();
        }
        write_number(self.out, |w| CompactFormatter.write_f64(w, v))
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        write_str(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_str(self.out, v);
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        let num = self.attachments.len();
        // serde hands over a borrowed slice, so the bytes are copied once here;
        // there is no way to learn that they came from a `Bytes` and share it.
        self.attachments.push(Bytes::copy_from_slice(v));
        self.out.push_str(r#"{"_placeholder":true,"num":"#);
        write_integer(self.out, num);
        self.out.push('}');
        Ok(())
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.out.push_str("null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        write_str(self.out, variant);
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        let mut this = self;
        open_variant(this.out, variant);
        value.serialize(this.reborrow())?;
        this.out.push('}');
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'a>, Error> {
        self.out.push('[');
        Ok(Compound::new(self, "]"))
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'a>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, Error> {
        open_variant(self.out, variant);
        self.out.push('[');
        Ok(Compound::new(self, "]}"))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a>, Error> {
        self.out.push('{');
        Ok(Compound::new(self, "}"))
    }

    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Compound<'a>, Error> {
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, Error> {
        open_variant(self.out, variant);
        self.out.push('{');
        Ok(Compound::new(self, "}}"))
    }

    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result<(), Error> {
        self.serialize_str(&value.to_string())
    }
}

/// The elements of an array or the entries of an object being written.
pub(crate) struct Compound<'a> {
    writer: JsonWriter<'a>,
    first: bool,
    /// What closes it.
    close: &'static str,
}

impl<'a> Compound<'a> {
    fn new(writer: JsonWriter<'a>, close: &'static str) -> Self {
        Compound {
            writer,
            first: true,
            close,
        }
    }

    /// Writes the `,` before every element but the first.
    fn separate(&mut self) {
        if !std::mem::take(&mut self.first) {
            self.writer.out.push(',');
        }
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.separate();
        value.serialize(self.writer.reborrow())
    }

    fn key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.separate();
        key.serialize(MapKey(&mut *self.writer.out))?;
        self.writer.out.push(':');
        Ok(())
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(self.writer.reborrow())
    }

    fn finish(self) -> Result<(), Error> {
        self.writer.out.push_str(self.close);
        Ok(())
    }
}

sequence_serializer!(Compound);
map_serializer!(Compound);

/// Keys are written as JSON strings.
impl KeyOut for &mut String {
    fn key(self, text: &str) {
        write_str(self, text);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;
    use crate::codec::shapes::{Chat, Newtype, Pair, Unit, E};

    /// `value` as the writer writes it, or its error.
    fn written<T: Serialize + ?Sized>(value: &T) -> Result<String, String> {
        let mut out = String::new();
        let mut attachments = Vec::new();
        value
            .serialize(JsonWriter {
                out: &mut out,
                attachments: &mut attachments,
            })
            .map_err(|e| e.to_string())?;
        assert!(attachments.is_empty());
        Ok(out)
    }

    /// The writer and serde_json agree to the byte on `value`, or both fail.
    fn same<T: Serialize + ?Sized>(value: &T) {
        let ours = written(value);
        let theirs = serde_json::to_string(value).map_err(|e| e.to_string());
        assert_eq!(ours, theirs);
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let every_control: String = (0u8..0x20).map(char::from).collect();
        for text in [
            "",
            "plain",
            "tick",
            "a\"b",
            "back\\slash",
            "\u{7f} DEL stays",
            "é ü 😀 €",
            &every_control,
            "\"\"\\\\",
            "ends with a quote\"",
        ] {
            same(text);
            same(&text.chars().next());
        }
    }

    #[test]
    fn numbers_are_written_as_serde_json_writes_them() {
        same(&(i8::MIN, i16::MIN, i32::MIN, i64::MIN, i128::MIN));
        same(&(u8::MAX, u16::MAX, u32::MAX, u64::MAX, u128::MAX, 0u8));
        same(&(0.1f32, 1e20f32, 1e-7f32, -0.0f32, f32::MAX, f32::NAN));
        same(&(0.1f64, 1e20, 1e-7, -0.0, f64::MAX, f64::MIN_POSITIVE));
        same(&(f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 2.5, 100.0));
    }

    #[test]
    fn every_shape_of_value_is_written_as_serde_json_writes_it() {
        let chat = Chat {
            user: "alice",
            text: "hé \"quoted\"".into(),
            reply_to: None,
            tags: vec!["a", "b"],
        };
        same(&chat);
        same(&Chat {
            reply_to: Some(3),
            tags: Vec::new(),
            ..chat
        });
        same(&(Unit, Newtype(-4), Pair(1, "p"), (), Some(()), None::<u8>));
        same(&(E::A, E::B(1), E::C(1, 2), E::D { z: true }));
        same(&vec![vec![1, 2], vec![], vec![3]]);
        same(&serde_json::json!({"b": [1, {"c": null}], "a": "x", "": {}}));
        same(&(true, false, 'x', IpAddr::V4(Ipv4Addr::LOCALHOST)));
        same(&BTreeMap::from([(1, "one"), (-2, "minus two")]));
        same(&BTreeMap::from([(true, 1), (false, 0)]));
        same(&BTreeMap::from([('c', 1)]));
        same(&BTreeMap::from([(E::A, 1)]));
        same(&BTreeMap::from([(Some(2u8), 1)]));
        same(&HashMap::from([(u128::MAX, 1)]));
        same(&BTreeMap::from([("k\"ey", vec![1.5])]));
    }

    #[test]
    fn what_serde_json_refuses_is_refused() {
        same(&BTreeMap::from([(vec![1], 1)]));
        same(&BTreeMap::from([(E::B(1), 1)]));
        same(&BTreeMap::from([((), 1)]));
        same(&BTreeMap::from([(None::<u8>, 1)]));
        let float_keys: Vec<(f64, i32)> = vec![(1.5, 1), (f64::NAN, 2)];
        for (key, value) in float_keys {
            same(&HashMap::from([(FloatKey(key), value)]));
        }
        assert!(written(&BTreeMap::from([(serde_bytes::Bytes::new(b"k"), 1)])).is_err());
    }

    /// A map key that serializes as a float, which serde_json quotes when
    /// it is finite and refuses otherwise.
    #[derive(PartialEq)]
    struct FloatKey(f64);
    impl Eq for FloatKey {}
    impl std::hash::Hash for FloatKey {
        fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
            self.0.to_bits().hash(state);
        }
    }
    impl Serialize for FloatKey {
        fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_f64(self.0)
        }
    }

    #[test]
    fn bytes_become_placeholders_numbered_from_what_is_there() {
        let mut out = String::new();
        let mut attachments = vec![Bytes::from_static(b"old")];
        let blob = Bytes::from_static(b"\x00\x01");
        (&blob, vec![&blob])
            .serialize(JsonWriter {
                out: &mut out,
                attachments: &mut attachments,
            })
            .unwrap();
        assert_eq!(
            out,
            r#"[{"_placeholder":true,"num":1},[{"_placeholder":true,"num":2}]]"#
        );
        assert_eq!(attachments.len(), 3);
    }
}
