//! Opening a link: the configured transports are tried in order, and a
//! refusal that the next one can get past (a server that allows polling
//! only, a proxy that will not upgrade to WebSocket) moves on to it.

use crate::codec::engine::OpenInfo;
use crate::engine::config::{redacted, TransportConfig};
use crate::engine::link::BoxedLink;
#[cfg(feature = "polling")]
use crate::engine::polling;
use crate::engine::transport::Transport;
#[cfg(feature = "polling")]
use crate::engine::upgrade::Upgrading;
use crate::engine::websocket;
use crate::error::ConnectError;

/// Opens a link and reads its open packet, within the configured timeout.
///
/// The link is boxed: it moves from this future into the driver's, whose
/// idle size is the memory an idle connection costs.
pub(crate) async fn open(config: &TransportConfig) -> Result<(BoxedLink, OpenInfo), ConnectError> {
    let opening = async {
        let mut order = config.transports;
        if config.remember_upgrade && config.status.ever_upgraded() {
            order = order.preferring(Transport::WebSocket);
        }
        let mut transports = order.iter().peekable();
        // What the transports tried so far met; the most definite decides.
        let mut failed: Option<ConnectError> = None;
        loop {
            let transport = transports.next().unwrap_or(Transport::WebSocket);
            let opened = match transport {
                #[cfg(feature = "polling")]
                Transport::Polling => open_polling(config).await,
                Transport::WebSocket => websocket::open(config).await,
            };
            if let Ok((_, info)) = &opened {
                config.status.opened(transport, &info.sid);
            }
            let error = match opened {
                Err(error) => error,
                opened => return opened,
            };
            let next = transports.peek().is_some() && another_may_pass(&error);
            if next {
                tracing::debug!(?transport, %error, "trying the next transport");
            }
            let error = match failed.take() {
                Some(earlier) => decisive(earlier, error),
                None => error,
            };
            if !next {
                return Err(error);
            }
            failed = Some(error);
        }
    };
    match tokio::time::timeout(config.timeout, opening).await {
        Ok(result) => result,
        Err(_) => {
            tracing::debug!(url = %redacted(&config.url), "no HTTP response or open packet in time");
            Err(ConnectError::Timeout(config.timeout))
        }
    }
}

/// Opens a polling session, which moves to WebSocket when the server and
/// the options allow it.
#[cfg(feature = "polling")]
async fn open_polling(config: &TransportConfig) -> Result<(BoxedLink, OpenInfo), ConnectError> {
    let (polling, info) = polling::open(config).await?;
    let offered = info.upgrades.iter().any(|upgrade| upgrade == "websocket");
    if !(config.upgrade && offered && config.transports.contains(Transport::WebSocket)) {
        return Ok((Box::new(polling), info));
    }
    let probing = config.clone();
    let sid = info.sid.clone();
    let probe = Box::pin(async move {
        match tokio::time::timeout(probing.timeout, websocket::probe(&probing, &sid)).await {
            Ok(probed) => probed,
            Err(_) => Err(ConnectError::Timeout(probing.timeout)),
        }
    });
    let link = Upgrading::new(polling, probe, config.status.clone());
    Ok((Box::new(link), info))
}

/// Of two transports' failures, the one that says more: a refusal that
/// retrying cannot fix (an HTTP 4xx, another server version) over a
/// failed TLS handshake or another HTTP refusal, over an answer that is
/// not Engine.IO, over a dropped connection or a timeout; the earlier on a
/// tie. The server saying that a transport is not allowed says the least:
/// the other transport was tried for that. A refusal keeps the other
/// failure, so the error tells both.
fn decisive(earlier: ConnectError, later: ConnectError) -> ConnectError {
    let (mut winner, loser) = if definiteness(&later) > definiteness(&earlier) {
        (later, earlier)
    } else {
        (earlier, later)
    };
    if let ConnectError::HttpRefused {
        other_transport, ..
    } = &mut winner
    {
        other_transport.get_or_insert_with(|| Box::new(loser));
    }
    winner
}

/// How much a transport's failure says about the server; see [`decisive`].
fn definiteness(error: &ConnectError) -> u8 {
    match error {
        ConnectError::HttpRefused { .. } if not_allowed(error) => 0,
        ConnectError::UnsupportedServer => 4,
        ConnectError::HttpRefused { .. } if error.retrying_cannot_fix() => 4,
        ConnectError::HttpRefused { .. } => 3,
        ConnectError::Transport(transport) if transport.is_tls() => 3,
        ConnectError::NoEngineIo { .. } | ConnectError::Protocol(_) => 2,
        _ => 1,
    }
}

/// The server does not allow the transport: Engine.IO error code 0.
fn not_allowed(error: &ConnectError) -> bool {
    matches!(error, ConnectError::HttpRefused { engine_io: Some(e), .. } if e.code == 0)
}

/// Whether a refusal is one that another transport may get past: the
/// server does not allow this transport (Engine.IO code 0), or something
/// between refused or dropped the request without an Engine.IO answer, as
/// proxies that will not upgrade to WebSocket do.
fn another_may_pass(error: &ConnectError) -> bool {
    match error {
        ConnectError::HttpRefused {
            engine_io: Some(engine_io),
            ..
        } => engine_io.code == 0,
        ConnectError::HttpRefused { status, .. } => {
            matches!(status, 400 | 403 | 405 | 426 | 501 | 502)
        }
        ConnectError::NoEngineIo { .. } => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::EngineIoError;

    fn refused(status: u16, code: Option<u64>) -> ConnectError {
        ConnectError::HttpRefused {
            url: "http://h/socket.io/".into(),
            status,
            body: String::new(),
            engine_io: code.map(|code| EngineIoError {
                code,
                message: "m".into(),
            }),
            other_transport: None,
        }
    }

    #[test]
    fn what_the_next_transport_may_get_past() {
        let table = [
            (refused(400, Some(0)), true),
            (refused(400, Some(1)), false),
            (refused(400, Some(5)), false),
            (refused(400, None), true),
            (refused(403, None), true),
            (refused(404, None), false),
            (refused(426, None), true),
            (refused(500, None), false),
            (
                ConnectError::NoEngineIo {
                    url: String::new(),
                    detail: String::new(),
                },
                true,
            ),
            (ConnectError::UnsupportedServer, false),
            (ConnectError::HandshakeClosed, false),
        ];
        for (error, passes) in table {
            assert_eq!(another_may_pass(&error), passes, "{error}");
        }
    }

    fn dropped() -> ConnectError {
        ConnectError::NoEngineIo {
            url: "ws://h/socket.io/?EIO=4&transport=websocket".into(),
            detail: "the connection closed before the WebSocket handshake completed".into(),
        }
    }

    #[test]
    fn the_most_definite_failure_decides_and_keeps_the_other() {
        // A proxy drops the WebSocket, then answers the polling request 404.
        match decisive(dropped(), refused(404, None)) {
            ConnectError::HttpRefused {
                status: 404,
                other_transport: Some(other),
                ..
            } => assert!(matches!(*other, ConnectError::NoEngineIo { .. })),
            other => panic!("{other:?}"),
        }
        // The other way round, too.
        match decisive(refused(404, None), dropped()) {
            ConnectError::HttpRefused {
                status: 404,
                other_transport: Some(_),
                ..
            } => {}
            other => panic!("{other:?}"),
        }
        // A server version refusal over a dropped connection.
        assert!(matches!(
            decisive(dropped(), ConnectError::UnsupportedServer),
            ConnectError::UnsupportedServer
        ));
        // "Transport unknown" says least: the other transport's failure wins.
        assert!(matches!(
            decisive(refused(400, Some(0)), ConnectError::HandshakeClosed),
            ConnectError::HandshakeClosed
        ));
        // A tie keeps the earlier.
        assert!(matches!(
            decisive(
                ConnectError::HandshakeClosed,
                ConnectError::Timeout(Default::default())
            ),
            ConnectError::HandshakeClosed
        ));
        // The chain shows both, each once.
        let error = decisive(dropped(), refused(404, None));
        let chain = crate::error::ErrorChain(&error).to_string();
        assert!(
            chain.contains("HTTP 404") && chain.contains("closed before"),
            "{chain}"
        );
    }
}
