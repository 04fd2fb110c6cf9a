//! The public face: the builder, the manager and socket handles, the
//! handlers they register, and the dispatcher task that runs them.
//!
//! `shared` holds the handles and what they share; `registry` the handlers;
//! `auth` the callbacks `auth_with` takes;
//! `socket` and `manager` the handles' methods; `dispatcher` the task;
//! `builder` puts a connection together. Nothing here imports upwards:
//! `shared` and `registry` know no other file of this layer.

pub(crate) mod auth;
pub(crate) mod builder;
pub(crate) mod dispatcher;
pub(crate) mod manager;
pub(crate) mod registry;
pub(crate) mod shared;
pub(crate) mod socket;
