//! Typed decoding of an event's argument list, the mirror of `socketio::args`:
//! a tuple type takes one argument per field, `()` takes none, any other type
//! takes the single argument.
//!
//! Placeholders of binary attachments decode as the attachment's bytes
//! wherever the target type asks for bytes or a byte sequence (see
//! `socketio::binary::BinaryValue`).

use bytes::Bytes;
use serde::de::{self, DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde_json::de::StrRead;
use serde_json::{Error, Value};

use crate::socketio::binary::{BinaryValue, Seq};
use crate::socketio::raw::Span;

/// A deserializer over the arguments of one event and their attachments.
pub(crate) struct ArgsDeserializer<'a> {
    args: &'a [Value],
    attachments: &'a [Bytes],
}

impl<'a> ArgsDeserializer<'a> {
    /// A deserializer over `args`, whose placeholders index `attachments`.
    pub(crate) fn new(args: &'a [Value], attachments: &'a [Bytes]) -> Self {
        ArgsDeserializer { args, attachments }
    }

    fn single(&self) -> Result<BinaryValue<'a>, Error> {
        match self.args {
            [one] => Ok(BinaryValue::new(one, self.attachments)),
            _ => Err(de::Error::invalid_length(
                self.args.len(),
                &"exactly one argument (use a tuple type for several)",
            )),
        }
    }
}

/// Forwards each listed method to the single argument's own deserializer.
macro_rules! forward_to_single {
    ($($method:ident),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                self.single()?.$method(visitor)
            }
        )*
    };
}

impl<'de> Deserializer<'de> for ArgsDeserializer<'de> {
    type Error = Error;

    forward_to_single!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier,
        deserialize_ignored_any,
    );

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.args.is_empty() {
            visitor.visit_unit()
        } else {
            self.single()?.deserialize_unit(visitor)
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        if self.args.len() != len {
            return Err(de::Error::invalid_length(
                self.args.len(),
                &format!("{len} arguments").as_str(),
            ));
        }
        visitor.visit_seq(Seq::new(self.args, self.attachments))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.single()?.deserialize_unit_struct(name, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.single()?.deserialize_newtype_struct(name, visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.single()?.deserialize_tuple_struct(name, len, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.single()?.deserialize_struct(name, fields, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.single()?.deserialize_enum(name, variants, visitor)
    }
}

/// A deserializer over the arguments of a plain received event, read
/// straight from its JSON text: the same rules as [`ArgsDeserializer`], with
/// each argument deserialized by serde_json from its own slice of the text,
/// so no `Value` is built on the way.
pub(crate) struct JsonArgsDeserializer<'a> {
    json: &'a str,
    args: &'a [Span],
}

impl<'a> JsonArgsDeserializer<'a> {
    /// A deserializer over the arguments standing at `args` in `json`.
    pub(crate) fn new(json: &'a str, args: &'a [Span]) -> Self {
        JsonArgsDeserializer { json, args }
    }

    /// A serde_json deserializer over the single argument.
    fn single(&self) -> Result<serde_json::Deserializer<StrRead<'a>>, Error> {
        match self.args {
            [one] => Ok(json_at(self.json, *one)),
            _ => Err(de::Error::invalid_length(
                self.args.len(),
                &"exactly one argument (use a tuple type for several)",
            )),
        }
    }
}

/// A serde_json deserializer over the text at `span` of `json`.
fn json_at(json: &str, (start, end): Span) -> serde_json::Deserializer<StrRead<'_>> {
    // The spans come from the splitter and lie in `json`; an empty text
    // would only give an "EOF" error, never a panic.
    serde_json::Deserializer::from_str(json.get(start..end).unwrap_or_default())
}

/// Runs `f` on `de`, then checks nothing but whitespace follows, as
/// `serde_json::from_str` does.
fn whole<'de, T>(
    mut de: serde_json::Deserializer<StrRead<'de>>,
    f: impl FnOnce(&mut serde_json::Deserializer<StrRead<'de>>) -> Result<T, Error>,
) -> Result<T, Error> {
    let value = f(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Forwards each listed method to the single argument's serde_json deserializer.
macro_rules! forward_to_single_json {
    ($($method:ident),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                whole(self.single()?, |de| de.$method(visitor))
            }
        )*
    };
}

impl<'de> Deserializer<'de> for JsonArgsDeserializer<'de> {
    type Error = Error;

    forward_to_single_json!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier,
        deserialize_ignored_any,
    );

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.args.is_empty() {
            visitor.visit_unit()
        } else {
            whole(self.single()?, |de| de.deserialize_unit(visitor))
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        if self.args.len() != len {
            return Err(de::Error::invalid_length(
                self.args.len(),
                &format!("{len} arguments").as_str(),
            ));
        }
        visitor.visit_seq(JsonSeq {
            json: self.json,
            args: self.args.iter(),
        })
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        whole(self.single()?, |de| {
            de.deserialize_unit_struct(name, visitor)
        })
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        whole(self.single()?, |de| {
            de.deserialize_newtype_struct(name, visitor)
        })
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        whole(self.single()?, |de| {
            de.deserialize_tuple_struct(name, len, visitor)
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        whole(self.single()?, |de| {
            de.deserialize_struct(name, fields, visitor)
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        whole(self.single()?, |de| {
            de.deserialize_enum(name, variants, visitor)
        })
    }
}

/// The arguments of a plain received event as a sequence, one per field of a
/// tuple type.
struct JsonSeq<'a> {
    json: &'a str,
    args: std::slice::Iter<'a, Span>,
}

impl<'de> SeqAccess<'de> for JsonSeq<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.args.next() {
            Some(&span) => whole(json_at(self.json, span), |de| seed.deserialize(de)).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.args.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    fn decode<T: serde::de::DeserializeOwned>(args: Value) -> Result<T, Error> {
        let Value::Array(args) = args else {
            panic!("test args must be an array")
        };
        T::deserialize(ArgsDeserializer::new(&args, &[]))
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Msg {
        user: String,
        n: u32,
    }

    #[test]
    fn tuple_takes_one_argument_per_field() {
        let got: (u32, String, Value) = decode(json!([1, "two", {"three": 3}])).unwrap();
        assert_eq!(got, (1, "two".to_owned(), json!({"three": 3})));
    }

    #[test]
    fn single_type_takes_the_one_argument() {
        assert_eq!(decode::<String>(json!(["a"])).unwrap(), "a");
        assert_eq!(decode::<Vec<u8>>(json!([[1, 2]])).unwrap(), vec![1, 2]);
        let msg: Msg = decode(json!([{"user": "alice", "n": 3}])).unwrap();
        assert_eq!(
            msg,
            Msg {
                user: "alice".into(),
                n: 3
            }
        );
        assert_eq!(decode::<Option<u8>>(json!([null])).unwrap(), None);
    }

    #[test]
    fn unit_takes_no_argument() {
        decode::<()>(json!([])).unwrap();
    }

    #[test]
    fn wrong_counts_are_errors_not_panics() {
        assert!(decode::<String>(json!([])).is_err());
        assert!(decode::<String>(json!(["a", "b"])).is_err());
        assert!(decode::<(u8, u8)>(json!([1])).is_err());
        assert!(decode::<(u8, u8)>(json!([1, 2, 3])).is_err());
        assert!(decode::<(u8,)>(json!(["x"])).is_err());
    }
}
