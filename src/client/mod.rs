//! The public face: the builder, the manager and socket handles, handlers
//! and their dispatcher task.

pub(crate) mod builder;
pub(crate) mod dispatcher;
pub(crate) mod manager;
pub(crate) mod socket;
