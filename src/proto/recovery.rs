//! The one type for a resumable session: the server's private id and an
//! offset. The connection keeps the one it resumes from; the dispatcher keeps
//! the one of the last event the application finished; users persist it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A resumable session: the server's private session id and the offset of the
/// last event handled. Persist it to resume after a process restart with
/// [`ClientBuilder::recovery_state`](crate::ClientBuilder::recovery_state).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryState {
    /// The private session id (a secret: it lets its holder take over the session).
    pub pid: String,
    /// The offset of the last event handled, if any.
    pub offset: Option<String>,
    /// The session's public id (`Socket::id`), which a recovery keeps: a
    /// restored socket knows it before the server's reply. States saved
    /// without it read as `None`.
    #[serde(default)]
    pub sid: Option<String>,
}

impl fmt::Debug for RecoveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveryState")
            .field("pid", &"<redacted>")
            .field("offset", &self.offset)
            .field("sid", &self.sid)
            .finish()
    }
}
