//! The auth payload of a namespace's CONNECT, and where it comes from: a
//! fixed object, or a callback run on every (re)connect. An async callback
//! is only started here; the driver runs its future and hands the outcome
//! back to the connection.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::ConnectError;

/// The future of an async auth callback.
pub(crate) type AuthFuture = Pin<Box<dyn Future<Output = Result<Value, ConnectError>> + Send>>;

/// An async auth callback.
pub(crate) type AsyncAuth = Arc<dyn Fn() -> AuthFuture + Send + Sync>;

/// The auth payload of a namespace, evaluated on every (re)connect.
#[derive(Clone, Default)]
pub(crate) enum AuthSource {
    /// No auth.
    #[default]
    None,
    /// The same JSON object every time.
    Static(Map<String, Value>),
    /// Called on every connect, so tokens can be refreshed.
    Dynamic(Arc<dyn Fn() -> Value + Send + Sync>),
    /// Called on every connect; the CONNECT waits for its future.
    Async(AsyncAuth),
}

/// The payload of one CONNECT, as far as it is known now.
pub(crate) enum Auth {
    Ready(Result<Map<String, Value>, ConnectError>),
    /// The async callback's future gives it; see [`object`] for its outcome.
    Later,
}

impl AuthSource {
    /// Calls the callback, if it is not async.
    pub(crate) fn evaluate(&self) -> Auth {
        match self {
            AuthSource::None => Auth::Ready(Ok(Map::new())),
            AuthSource::Static(map) => Auth::Ready(Ok(map.clone())),
            AuthSource::Dynamic(make) => Auth::Ready(object(make())),
            AuthSource::Async(_) => Auth::Later,
        }
    }
}

/// The payload as the CONNECT carries it: a JSON object.
pub(crate) fn object(value: Value) -> Result<Map<String, Value>, ConnectError> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(ConnectError::InvalidAuth(type_name(&other).to_owned())),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
