//! The arguments of an emit or an ack answer written straight as msgpack.
//!
//! They follow the rule of `codec::args` (a tuple is several arguments, `()`
//! none, anything else one) and carry what their JSON would: a non-negative
//! integer is an unsigned one, a non-finite float is nil, an `f32` goes as
//! the float 64 of its shortest decimal, a map key as the string serde_json
//! would write, a unit struct as nil, an enum variant as serde_json tags it.
//! Bytes (`serialize_bytes`) go in place as a bin, as this parser carries
//! binary data. Maps and structs keep the order their fields come in.

use rmp::encode;
use serde::ser::{self, Serialize};
use serde_json::Error;

use crate::codec::args::{ArgumentSink, Arguments};
use crate::codec::map_key::{KeyOut, MapKey};

/// Writes an event's data array: `name`, then each argument of `args`.
pub(super) fn write_event_data<A: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    name: &str,
    args: &A,
) -> Result<(), Error> {
    args.serialize(Arguments(Top {
        out,
        name: Some(name),
    }))
}

/// Writes the array of an ack answer's arguments.
pub(super) fn write_ack_data<A: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    args: &A,
) -> Result<(), Error> {
    args.serialize(Arguments(Top { out, name: None }))
}

// Writing to a `Vec` cannot fail, and no length here reaches 4 GiB (an emit
// is checked against the server's maxPayload), hence the ignored results
// and the `as u32`.

fn nil(out: &mut Vec<u8>) {
    let _ = encode::write_nil(out);
}

fn string(out: &mut Vec<u8>, text: &str) {
    let _ = encode::write_str(out, text);
}

fn array_head(out: &mut Vec<u8>, len: usize) {
    let _ = encode::write_array_len(out, len as u32);
}

fn map_head(out: &mut Vec<u8>, len: usize) {
    let _ = encode::write_map_len(out, len as u32);
}

fn signed(out: &mut Vec<u8>, value: i64) {
    match u64::try_from(value) {
        Ok(value) => unsigned(out, value),
        Err(_) => {
            let _ = encode::write_sint(out, value);
        }
    }
}

fn unsigned(out: &mut Vec<u8>, value: u64) {
    let _ = encode::write_uint(out, value);
}

/// A finite float as float 64, any other as nil (JSON has no such number).
fn float(out: &mut Vec<u8>, value: f64) {
    if value.is_finite() {
        let _ = encode::write_f64(out, value);
    } else {
        nil(out);
    }
}

/// A wide integer as JSON would carry it: an integer when one fits, else
/// the float its digits parse into.
fn wide(out: &mut Vec<u8>, value: i128) {
    if let Ok(value) = u64::try_from(value) {
        unsigned(out, value);
    } else if let Ok(value) = i64::try_from(value) {
        signed(out, value);
    } else {
        float(out, value as f64);
    }
}

/// Opens the map of one entry that tags an enum variant with data, as
/// serde_json's object does: its key, the data to follow.
fn open_variant(out: &mut Vec<u8>, variant: &str) {
    map_head(out, 1);
    string(out, variant);
}

/// The data array: its head, the event's name, then the arguments.
struct Top<'a, 'n> {
    out: &'a mut Vec<u8>,
    name: Option<&'n str>,
}

impl<'a> Top<'a, '_> {
    /// Writes the head of an array of `args` arguments and the name.
    fn head(self, args: usize) -> &'a mut Vec<u8> {
        let named = usize::from(self.name.is_some());
        array_head(self.out, named + args);
        if let Some(name) = self.name {
            string(self.out, name);
        }
        self.out
    }
}

impl<'a> ArgumentSink for Top<'a, '_> {
    type One = Value<'a>;
    type Spread = Seq<'a>;

    fn none(self) -> Result<(), Error> {
        self.head(0);
        Ok(())
    }

    fn spread(self, len: usize) -> Seq<'a> {
        Seq::known(self.head(len))
    }

    fn one(self) -> Value<'a> {
        Value { out: self.head(1) }
    }
}

/// Writes one value.
struct Value<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> ser::Serializer for Value<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Seq<'a>;
    type SerializeTuple = Seq<'a>;
    type SerializeTupleStruct = Seq<'a>;
    type SerializeTupleVariant = Seq<'a>;
    type SerializeMap = Map<'a>;
    type SerializeStruct = Map<'a>;
    type SerializeStructVariant = Map<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        let _ = encode::write_bool(self.out, v);
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }

    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }

    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }

    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        signed(self.out, v);
        Ok(())
    }

    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        wide(self.out, v);
        Ok(())
    }

    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }

    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }

    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }

    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        unsigned(self.out, v);
        Ok(())
    }

    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        match i128::try_from(v) {
            Ok(v) => wide(self.out, v),
            Err(_) => float(self.out, v as f64),
        }
        Ok(())
    }

    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        // JSON carries the shortest decimal of the f32, which the server
        // reads as a float 64: 0.1f32 is 0.1, not 0.10000000149011612.
        let decimal = serde_json::to_string(&v)?;
        float(self.out, decimal.parse().unwrap_or(f64::NAN));
        Ok(())
    }

    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        float(self.out, v);
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        string(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        string(self.out, v);
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        let _ = encode::write_bin(self.out, v);
        Ok(())
    }

    fn serialize_none(self) -> Result<(), Error> {
        nil(self.out);
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        nil(self.out);
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        nil(self.out);
        Ok(())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        string(self.out, variant);
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
        open_variant(self.out, variant);
        value.serialize(self)
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Seq<'a>, Error> {
        Ok(match len {
            Some(len) => {
                array_head(self.out, len);
                Seq::known(self.out)
            }
            None => Seq::counted(self.out),
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Seq<'a>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Seq<'a>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Seq<'a>, Error> {
        open_variant(self.out, variant);
        self.serialize_seq(Some(len))
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Map<'a>, Error> {
        Ok(match len {
            Some(len) => {
                map_head(self.out, len);
                Map::known(self.out)
            }
            None => Map::counted(self.out),
        })
    }

    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Map<'a>, Error> {
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Map<'a>, Error> {
        open_variant(self.out, variant);
        self.serialize_map(Some(len))
    }
}

/// The elements of an array whose head is written, or, when its length was
/// not given, counted and buffered until its end writes the head.
struct Seq<'a> {
    out: &'a mut Vec<u8>,
    counted: Option<(Vec<u8>, usize)>,
}

impl<'a> Seq<'a> {
    fn known(out: &'a mut Vec<u8>) -> Self {
        Seq { out, counted: None }
    }

    fn counted(out: &'a mut Vec<u8>) -> Self {
        Seq {
            out,
            counted: Some((Vec::new(), 0)),
        }
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let out = match &mut self.counted {
            Some((buffer, count)) => {
                *count += 1;
                buffer
            }
            None => &mut *self.out,
        };
        value.serialize(Value { out })
    }

    fn finish(self) -> Result<(), Error> {
        if let Some((buffer, count)) = self.counted {
            array_head(self.out, count);
            self.out.extend_from_slice(&buffer);
        }
        Ok(())
    }
}

/// The entries of a map whose head is written, or counted and buffered as
/// [`Seq`]'s elements are.
struct Map<'a> {
    seq: Seq<'a>,
}

impl<'a> Map<'a> {
    fn known(out: &'a mut Vec<u8>) -> Self {
        Map {
            seq: Seq::known(out),
        }
    }

    fn counted(out: &'a mut Vec<u8>) -> Self {
        Map {
            seq: Seq::counted(out),
        }
    }

    fn out(&mut self) -> &mut Vec<u8> {
        match &mut self.seq.counted {
            Some((buffer, _)) => buffer,
            None => &mut *self.seq.out,
        }
    }

    fn key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        if let Some((_, count)) = &mut self.seq.counted {
            *count += 1;
        }
        key.serialize(MapKey(self.out()))
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(Value { out: self.out() })
    }

    fn finish(self) -> Result<(), Error> {
        if let Some((buffer, count)) = self.seq.counted {
            map_head(self.seq.out, count);
            self.seq.out.extend_from_slice(&buffer);
        }
        Ok(())
    }
}

sequence_serializer!(Seq);
map_serializer!(Map);

/// Keys are written as msgpack strings.
impl KeyOut for &mut Vec<u8> {
    fn key(self, text: &str) {
        string(self, text);
    }
}
