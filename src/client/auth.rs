//! What [`ClientBuilder::auth_with`](crate::ClientBuilder::auth_with)
//! accepts: a closure that returns the auth payload, or one that returns a
//! future of it.

use std::error::Error;
use std::future::Future;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::error::ConnectError;
use crate::proto::auth::{AuthFuture, AuthSource};

/// A callback that gives the auth payload of every (re)connect:
///
/// - a closure returning a [`serde_json::Value`], called on the connection's
///   task (keep it quick);
/// - a closure returning a future of `Result<T, E>`, where `T` serializes to
///   a JSON object and `E` is any error: a token refresh over HTTP, say.
///   The namespace's CONNECT waits for it, within the connect
///   [`timeout`](crate::ClientBuilder::timeout); an `Err` is
///   [`ConnectError::AuthFailed`] and fails the attempt, which reconnection
///   retries as it retries a CONNECT without an answer.
///
/// The type parameter only tells the two apart; it is inferred.
pub trait AuthCallback<Kind>: sealed::Sealed<Kind> {}

/// The marker of a closure returning the payload itself.
#[derive(Debug)]
pub enum ReturnsValue {}

/// The marker of a closure returning a future of the payload.
#[derive(Debug)]
pub enum ReturnsFuture {}

mod sealed {
    use crate::proto::auth::AuthSource;

    pub trait Sealed<Kind> {
        fn into_source(self) -> Source;
    }

    /// Public in name only, so the trait can return it.
    pub struct Source(pub(crate) AuthSource);

    impl std::fmt::Debug for Source {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Source")
        }
    }
}

impl<F> AuthCallback<ReturnsValue> for F where F: Fn() -> Value + Send + Sync + 'static {}

impl<F> sealed::Sealed<ReturnsValue> for F
where
    F: Fn() -> Value + Send + Sync + 'static,
{
    fn into_source(self) -> sealed::Source {
        sealed::Source(AuthSource::Dynamic(Arc::new(self)))
    }
}

impl<F, Fut, T, E> AuthCallback<ReturnsFuture> for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Serialize,
    E: Into<Box<dyn Error + Send + Sync>>,
{
}

impl<F, Fut, T, E> sealed::Sealed<ReturnsFuture> for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Serialize,
    E: Into<Box<dyn Error + Send + Sync>>,
{
    fn into_source(self) -> sealed::Source {
        sealed::Source(AuthSource::Async(Arc::new(move || -> AuthFuture {
            let future = self();
            Box::pin(async move {
                match future.await {
                    Ok(payload) => serde_json::to_value(payload)
                        .map_err(|error| ConnectError::AuthFailed(Arc::new(error))),
                    Err(error) => Err(ConnectError::AuthFailed(Arc::from(error.into()))),
                }
            })
        })))
    }
}

/// The auth source of a callback.
pub(crate) fn source<Kind>(callback: impl AuthCallback<Kind>) -> AuthSource {
    callback.into_source().0
}
