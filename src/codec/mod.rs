//! The wire formats, pure: Engine.IO and Socket.IO packets, event arguments
//! and binary attachments. Nothing here does IO or knows about the layers
//! above; every wire limit is in [`limits`].

pub(crate) mod arg_deserializer;
pub(crate) mod args;
pub(crate) mod binary;
pub(crate) mod engine;
mod frame;
pub(crate) mod json;
pub(crate) mod limits;
pub(crate) mod packet;
#[cfg(feature = "polling")]
pub(crate) mod payload;
pub(crate) mod raw;

pub(crate) use frame::Frame;
