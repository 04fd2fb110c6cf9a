//! Map keys as serde_json takes them, for both parsers: strings, chars and
//! unit variants as they are; integers, finite floats and booleans as their
//! JSON text; anything else is serde_json's error. The parser writes the
//! text its own way (a JSON string, a msgpack string).

use std::fmt::Display;

use serde::ser::{self, Impossible, Serialize};
use serde_json::ser::{CompactFormatter, Formatter};
use serde_json::Error;

use crate::codec::json::number_text;

/// Where a key's text goes.
pub(crate) trait KeyOut {
    /// Writes `text`, the whole key.
    fn key(self, text: &str);
}

/// A serializer of one map key, which hands its text to `O`.
pub(crate) struct MapKey<O>(pub(crate) O);

impl<O: KeyOut> MapKey<O> {
    fn text(self, text: &str) -> Result<(), Error> {
        self.0.key(text);
        Ok(())
    }

    fn integer(self, value: impl itoa::Integer) -> Result<(), Error> {
        self.text(itoa::Buffer::new().format(value))
    }
}

fn key_must_be_a_string() -> Error {
    ser::Error::custom("key must be a string")
}

fn float_key_must_be_finite() -> Error {
    ser::Error::custom("float key must be finite (got NaN or +/-inf)")
}

impl<O: KeyOut> ser::Serializer for MapKey<O> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Impossible<(), Error>;
    type SerializeTuple = Impossible<(), Error>;
    type SerializeTupleStruct = Impossible<(), Error>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Impossible<(), Error>;
    type SerializeStruct = Impossible<(), Error>;
    type SerializeStructVariant = Impossible<(), Error>;

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.text(v)
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.text(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.text(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.text(if v { "true" } else { "false" })
    }

    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.integer(v)
    }

    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.integer(v)
    }

    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.integer(v)
    }

    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.integer(v)
    }

    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        self.integer(v)
    }

    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.integer(v)
    }

    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.integer(v)
    }

    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.integer(v)
    }

    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.integer(v)
    }

    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        self.integer(v)
    }

    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        if !v.is_finite() {
            return Err(float_key_must_be_finite());
        }
        let mut buffer = [0; 64];
        self.text(number_text(&mut buffer, |w| {
            CompactFormatter.write_f32(w, v)
        })?)
    }

    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        if !v.is_finite() {
            return Err(float_key_must_be_finite());
        }
        let mut buffer = [0; 64];
        self.text(number_text(&mut buffer, |w| {
            CompactFormatter.write_f64(w, v)
        })?)
    }

    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result<(), Error> {
        self.text(&value.to_string())
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_none(self) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_unit(self) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(key_must_be_a_string())
    }
}
