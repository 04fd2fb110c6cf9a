//! Binary attachments both ways.
//!
//! Socket.IO sends a binary value as an attachment: the JSON text holds
//! `{"_placeholder":true,"num":N}` where the value stood, and the bytes follow
//! the text as the N-th binary WebSocket frame.
//!
//! - Emitting: the JSON writer (`codec::json`) writes a placeholder wherever
//!   serde serializes bytes (`serialize_bytes`, which is what `bytes::Bytes`
//!   and `serde_bytes` use) and collects the bytes, in one pass and at any
//!   depth. A `Vec<u8>` serializes as a sequence, so it stays a JSON array of
//!   numbers.
//! - Receiving: [`BinaryValue`] deserializes a JSON value whose placeholders
//!   stand for attachments, serving the attachment's bytes where the target
//!   type asks for bytes (or a sequence, so `Vec<u8>` works too).

use bytes::Bytes;
use serde::de::value::{BorrowedStrDeserializer, SeqDeserializer};
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};
use serde::forward_to_deserialize_any;
use serde_json::{Error, Value};

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
mod tests;
