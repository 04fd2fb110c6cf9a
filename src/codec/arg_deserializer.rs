//! Typed decoding of an event's argument list, the mirror of `codec::args`:
//! a tuple type takes one argument per field, `()` takes none, any other type
//! takes the single argument.
//!
//! The arguments come as `Value`s (binary events and ack replies) or as
//! slices of a received frame's JSON text (plain events, decoded without
//! building `Value`s); [`ArgSource`] is what the two have to provide.
//!
//! Placeholders of binary attachments decode as the attachment's bytes
//! wherever the target type asks for bytes or a byte sequence (see
//! `codec::binary::BinaryValue`).

use bytes::Bytes;
use serde::de::{self, DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde_json::de::StrRead;
use serde_json::{Error, Value};

use crate::codec::binary::{BinaryValue, Seq};
use crate::codec::raw::Span;

/// Where the arguments of one event come from.
pub(crate) trait ArgSource<'de> {
    /// A deserializer of one argument.
    type One<'a>: Deserializer<'de, Error = Error>
    where
        Self: 'a;
    /// The arguments as a sequence, one per field of a tuple type.
    type Seq: SeqAccess<'de, Error = Error>;

    /// How many arguments there are.
    fn count(&self) -> usize;

    /// Runs `f` on a deserializer of the only argument, or fails with
    /// [`not_one`] if there is not exactly one.
    fn with_single<T>(
        self,
        f: impl for<'a> FnOnce(Self::One<'a>) -> Result<T, Error>,
    ) -> Result<T, Error>;

    /// The arguments as a sequence.
    fn seq(self) -> Self::Seq;
}

/// A deserializer over the arguments of one event.
pub(crate) struct ArgsDeserializer<S>(S);

/// Arguments as `Value`s, whose placeholders index their attachments.
pub(crate) struct ValueArgs<'a> {
    args: &'a [Value],
    attachments: &'a [Bytes],
}

/// The deserializer over arguments held as `Value`s.
pub(crate) type ValueArgsDeserializer<'a> = ArgsDeserializer<ValueArgs<'a>>;

impl<'a> ValueArgsDeserializer<'a> {
    /// A deserializer over `args`, whose placeholders index `attachments`.
    pub(crate) fn new(args: &'a [Value], attachments: &'a [Bytes]) -> Self {
        ArgsDeserializer(ValueArgs { args, attachments })
    }
}

impl<'de> ArgSource<'de> for ValueArgs<'de> {
    type One<'a>
        = BinaryValue<'de>
    where
        Self: 'a;
    type Seq = Seq<'de>;

    fn count(&self) -> usize {
        self.args.len()
    }

    fn with_single<T>(
        self,
        f: impl for<'a> FnOnce(BinaryValue<'de>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        match self.args {
            [one] => f(BinaryValue::new(one, self.attachments)),
            _ => Err(not_one(self.args.len())),
        }
    }

    fn seq(self) -> Seq<'de> {
        Seq::new(self.args, self.attachments)
    }
}

/// Arguments as slices of a received frame's JSON text, each deserialized by
/// serde_json from its own slice, so no `Value` is built on the way.
pub(crate) struct TextArgs<'a> {
    json: &'a str,
    args: &'a [Span],
}

/// The deserializer over arguments read straight from the frame's text.
pub(crate) type TextArgsDeserializer<'a> = ArgsDeserializer<TextArgs<'a>>;

impl<'a> TextArgsDeserializer<'a> {
    /// A deserializer over the arguments standing at `args` in `json`.
    pub(crate) fn new(json: &'a str, args: &'a [Span]) -> Self {
        ArgsDeserializer(TextArgs { json, args })
    }
}

impl<'de> ArgSource<'de> for TextArgs<'de> {
    type One<'a>
        = &'a mut serde_json::Deserializer<StrRead<'de>>
    where
        Self: 'a;
    type Seq = TextSeq<'de>;

    fn count(&self) -> usize {
        self.args.len()
    }

    fn with_single<T>(
        self,
        f: impl for<'a> FnOnce(&'a mut serde_json::Deserializer<StrRead<'de>>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        match self.args {
            [one] => whole(json_at(self.json, *one), f),
            _ => Err(not_one(self.args.len())),
        }
    }

    fn seq(self) -> TextSeq<'de> {
        TextSeq {
            json: self.json,
            args: self.args.iter(),
        }
    }
}

/// The error for a type other than a tuple given other than one argument.
fn not_one(count: usize) -> Error {
    de::Error::invalid_length(
        count,
        &"exactly one argument (use a tuple type for several)",
    )
}

impl<'de, S: ArgSource<'de>> ArgsDeserializer<S> {
    fn single<T>(self, f: impl for<'a> FnOnce(S::One<'a>) -> Result<T, Error>) -> Result<T, Error> {
        self.0.with_single(f)
    }
}

/// Forwards each listed method to the single argument's deserializer.
macro_rules! forward_to_single {
    ($($method:ident),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                self.single(|one| one.$method(visitor))
            }
        )*
    };
}

impl<'de, S: ArgSource<'de>> Deserializer<'de> for ArgsDeserializer<S> {
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
        if self.0.count() == 0 {
            visitor.visit_unit()
        } else {
            self.single(|one| one.deserialize_unit(visitor))
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        let count = self.0.count();
        if count != len {
            return Err(de::Error::invalid_length(
                count,
                &format!("{len} arguments").as_str(),
            ));
        }
        visitor.visit_seq(self.0.seq())
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.single(|one| one.deserialize_unit_struct(name, visitor))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.single(|one| one.deserialize_newtype_struct(name, visitor))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.single(|one| one.deserialize_tuple_struct(name, len, visitor))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.single(|one| one.deserialize_struct(name, fields, visitor))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.single(|one| one.deserialize_enum(name, variants, visitor))
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

/// The arguments of a plain received event as a sequence.
pub(crate) struct TextSeq<'a> {
    json: &'a str,
    args: std::slice::Iter<'a, Span>,
}

impl<'de> SeqAccess<'de> for TextSeq<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.args.next() {
            Some(&span) => seed
                .deserialize(TextArg {
                    json: self.json,
                    span,
                })
                .map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.args.len())
    }
}

/// One argument of a plain received event, read by serde_json from its text,
/// but not at all when the target ignores it (`IgnoredAny`, as for an
/// argument a tuple type skips): the text was checked when the event arrived.
struct TextArg<'de> {
    json: &'de str,
    span: Span,
}

/// Forwards each listed method, with its arguments, to serde_json's
/// deserializer over the argument's text.
macro_rules! forward_to_text {
    ($($method:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Error> {
                whole(json_at(self.json, self.span), |de| de.$method($($arg,)* visitor))
            }
        )*
    };
}

impl<'de> Deserializer<'de> for TextArg<'de> {
    type Error = Error;

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    forward_to_text!(
        deserialize_any(),
        deserialize_bool(),
        deserialize_i8(),
        deserialize_i16(),
        deserialize_i32(),
        deserialize_i64(),
        deserialize_i128(),
        deserialize_u8(),
        deserialize_u16(),
        deserialize_u32(),
        deserialize_u64(),
        deserialize_u128(),
        deserialize_f32(),
        deserialize_f64(),
        deserialize_char(),
        deserialize_str(),
        deserialize_string(),
        deserialize_bytes(),
        deserialize_byte_buf(),
        deserialize_option(),
        deserialize_unit(),
        deserialize_seq(),
        deserialize_map(),
        deserialize_identifier(),
        deserialize_unit_struct(name: &'static str),
        deserialize_newtype_struct(name: &'static str),
        deserialize_tuple(len: usize),
        deserialize_tuple_struct(name: &'static str, len: usize),
        deserialize_struct(name: &'static str, fields: &'static [&'static str]),
        deserialize_enum(name: &'static str, variants: &'static [&'static str]),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    /// Decodes `args` from both sources, which must agree.
    fn decode<T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
        args: Value,
    ) -> Result<T, Error> {
        let text = args.to_string();
        let spans = crate::codec::raw::split_array(&text).expect("an array");
        let from_text = T::deserialize(TextArgsDeserializer::new(&text, spans.as_slice()));
        let Value::Array(args) = args else {
            panic!("test args must be an array")
        };
        let from_values = T::deserialize(ValueArgsDeserializer::new(&args, &[]));
        match (&from_values, &from_text) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{text}"),
            (Err(_), Err(_)) => {}
            _ => panic!("{text}: the sources disagree: {from_values:?} / {from_text:?}"),
        }
        from_values
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

    /// Every kind of argument, as each shape of tuple field: an ignored one
    /// is skipped, not read, and the others decode as serde_json decodes them.
    #[test]
    fn tuple_fields_of_every_shape_decode_and_ignored_ones_are_skipped() {
        #[derive(Debug, Deserialize, PartialEq)]
        enum Kind {
            Plain,
            Tagged(u8),
        }
        #[derive(Debug, Deserialize, PartialEq)]
        struct Wrapper(String);
        let args =
            json!([{"deep": [1, {"x": "y"}]}, -2, "Plain", {"Tagged": 4}, "w", [1, 2], null, 1.5]);
        type Fields = (
            serde::de::IgnoredAny,
            i64,
            Kind,
            Kind,
            Wrapper,
            (u8, u8),
            Option<bool>,
            f64,
        );
        let got: Fields = decode(args).unwrap();
        assert_eq!(
            (got.1, got.2, got.3, got.4, got.5, got.6, got.7),
            (
                -2,
                Kind::Plain,
                Kind::Tagged(4),
                Wrapper("w".into()),
                (1, 2),
                None,
                1.5
            )
        );
        assert!(decode::<(u8, serde::de::IgnoredAny, u8)>(json!([1, "x", "no"])).is_err());
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
