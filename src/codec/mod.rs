//! The wire formats, pure: Engine.IO and Socket.IO packets, event arguments
//! and binary attachments. Nothing here does IO or knows about the layers
//! above; every wire limit is in [`limits`]. Socket.IO packets enter and
//! leave through [`parser`], the seam behind which the wire format of the
//! packets can change.

pub(crate) mod arg_deserializer;
pub(crate) mod args;
pub(crate) mod binary;
pub(crate) mod engine;
mod frame;
pub(crate) mod json;
pub(crate) mod limits;
pub(crate) mod packet;
pub(crate) mod parser;
#[cfg(feature = "polling")]
pub(crate) mod payload;
pub(crate) mod raw;

pub(crate) use frame::Frame;
