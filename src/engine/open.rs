//! Opening a link with the configured transport.

use crate::codec::engine::OpenInfo;
use crate::engine::config::{redacted, Transport, TransportConfig};
use crate::engine::link::BoxedLink;
#[cfg(feature = "polling")]
use crate::engine::polling;
use crate::engine::websocket;
use crate::error::ConnectError;

/// Opens a link with the configured transport and reads its open packet,
/// within the configured timeout.
///
/// The link is boxed: it moves from this future into the driver's, whose
/// idle size is the memory an idle connection costs.
pub(crate) async fn open(config: &TransportConfig) -> Result<(BoxedLink, OpenInfo), ConnectError> {
    let opening = async {
        match config.transport {
            #[cfg(feature = "polling")]
            Transport::Polling => polling::open(config).await,
            Transport::WebSocket => websocket::open(config).await,
        }
    };
    match tokio::time::timeout(config.timeout, opening).await {
        Ok(result) => result,
        Err(_) => Err(ConnectError::NoEngineIo {
            url: redacted(&config.url),
            detail: format!("no open packet within {:?}", config.timeout),
        }),
    }
}
