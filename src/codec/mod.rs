//! The wire formats, pure: Engine.IO and Socket.IO packets, event arguments
//! and binary attachments. Nothing here does IO or knows about the layers
//! above; every wire limit is in [`limits`]. Socket.IO packets enter and
//! leave through [`parser`], the seam behind which the wire format of the
//! packets can change.

/// Implements serde's sequence serializers (`SerializeSeq`, `SerializeTuple`,
/// `SerializeTupleStruct`, `SerializeTupleVariant`) for a type with an
/// `element(&mut self, &T)` and a `finish(self)`, both returning
/// `Result<(), serde_json::Error>`.
macro_rules! sequence_serializer {
    ($ty:ident) => {
        impl serde::ser::SerializeSeq for $ty<'_> {
            type Ok = ();
            type Error = serde_json::Error;
            fn serialize_element<T: serde::Serialize + ?Sized>(
                &mut self,
                value: &T,
            ) -> Result<(), Self::Error> {
                self.element(value)
            }
            fn end(self) -> Result<(), Self::Error> {
                self.finish()
            }
        }
        impl serde::ser::SerializeTuple for $ty<'_> {
            type Ok = ();
            type Error = serde_json::Error;
            fn serialize_element<T: serde::Serialize + ?Sized>(
                &mut self,
                value: &T,
            ) -> Result<(), Self::Error> {
                self.element(value)
            }
            fn end(self) -> Result<(), Self::Error> {
                self.finish()
            }
        }
        impl serde::ser::SerializeTupleStruct for $ty<'_> {
            type Ok = ();
            type Error = serde_json::Error;
            fn serialize_field<T: serde::Serialize + ?Sized>(
                &mut self,
                value: &T,
            ) -> Result<(), Self::Error> {
                self.element(value)
            }
            fn end(self) -> Result<(), Self::Error> {
                self.finish()
            }
        }
        impl serde::ser::SerializeTupleVariant for $ty<'_> {
            type Ok = ();
            type Error = serde_json::Error;
            fn serialize_field<T: serde::Serialize + ?Sized>(
                &mut self,
                value: &T,
            ) -> Result<(), Self::Error> {
                self.element(value)
            }
            fn end(self) -> Result<(), Self::Error> {
                self.finish()
            }
        }
    };
}

/// Implements serde's map serializers (`SerializeMap`, `SerializeStruct`,
/// `SerializeStructVariant`) for a type with a `key(&mut self, &T)`, a
/// `value(&mut self, &T)` and a `finish(self)`, all returning
/// `Result<(), serde_json::Error>`.
macro_rules! map_serializer {
    ($ty:ident) => {
        impl serde::ser::SerializeMap for $ty<'_> {
            type Ok = ();
            type Error = serde_json::Error;
            fn serialize_key<T: serde::Serialize + ?Sized>(
                &mut self,
                key: &T,
            ) -> Result<(), Self::Error> {
                self.key(key)
            }
            fn serialize_value<T: serde::Serialize + ?Sized>(
                &mut self,
                value: &T,
            ) -> Result<(), Self::Error> {
                self.value(value)
            }
            fn end(self) -> Result<(), Self::Error> {
                self.finish()
            }
        }
        impl serde::ser::SerializeStruct for $ty<'_> {
            type Ok = ();
            type Error = serde_json::Error;
            fn serialize_field<T: serde::Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), Self::Error> {
                self.key(key)?;
                self.value(value)
            }
            fn end(self) -> Result<(), Self::Error> {
                self.finish()
            }
        }
        impl serde::ser::SerializeStructVariant for $ty<'_> {
            type Ok = ();
            type Error = serde_json::Error;
            fn serialize_field<T: serde::Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), Self::Error> {
                self.key(key)?;
                self.value(value)
            }
            fn end(self) -> Result<(), Self::Error> {
                self.finish()
            }
        }
    };
}

pub(crate) mod arg_deserializer;
pub(crate) mod args;
pub(crate) mod binary;
pub(crate) mod engine;
mod frame;
pub(crate) mod json;
pub(crate) mod limits;
pub(crate) mod map_key;
pub(crate) mod packet;
pub(crate) mod parser;
#[cfg(feature = "polling")]
pub(crate) mod payload;
pub(crate) mod raw;
#[cfg(test)]
pub(crate) mod shapes;

pub(crate) use frame::Frame;
