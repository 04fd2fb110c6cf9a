//! A scripted Engine.IO peer: a raw WebSocket server in this process, for
//! what a real server will not do (silence, malformed replies, floods,
//! messages the client must refuse). Each connection runs the script given
//! to [`Scripted::start`]; the server counts the connections it accepted.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// The open packet of a Socket.IO 4 server with the default heartbeat.
pub const OPEN: &str = r#"0{"sid":"scripted","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":100000000}"#;

/// A running scripted server; dropping it stops accepting.
pub struct Scripted {
    port: u16,
    links: Arc<AtomicUsize>,
    accept: JoinHandle<()>,
}

/// One accepted WebSocket connection, as the script sees it.
pub struct Peer {
    ws: WebSocketStream<TcpStream>,
    /// Which connection this is, from 1.
    pub link: usize,
}

impl Scripted {
    /// Listens on a free port; `script` runs once per accepted connection.
    pub async fn start<F, Fut>(script: F) -> Scripted
    where
        F: Fn(Peer) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        let links = Arc::new(AtomicUsize::new(0));
        let counter = links.clone();
        let script = Arc::new(script);
        let accept = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let link = counter.fetch_add(1, Ordering::SeqCst) + 1;
                let script = script.clone();
                tokio::spawn(async move {
                    // Large enough for the messages the tests send on purpose.
                    let config = WebSocketConfig::default()
                        .max_message_size(None)
                        .max_frame_size(None);
                    let Ok(ws) =
                        tokio_tungstenite::accept_async_with_config(tcp, Some(config)).await
                    else {
                        return;
                    };
                    script(Peer { ws, link }).await;
                });
            }
        });
        Scripted {
            port,
            links,
            accept,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many connections it accepted so far.
    pub fn links(&self) -> usize {
        self.links.load(Ordering::SeqCst)
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Peer {
    /// Sends a text frame; false once the client is gone.
    pub async fn send(&mut self, text: impl Into<String>) -> bool {
        self.ws.send(Message::text(text.into())).await.is_ok()
    }

    /// Queues a text frame without flushing; false once the client is gone.
    pub async fn feed(&mut self, text: impl Into<String>) -> bool {
        self.ws.feed(Message::text(text.into())).await.is_ok()
    }

    /// Sends a binary frame; false once the client is gone.
    pub async fn send_binary(&mut self, data: Vec<u8>) -> bool {
        self.ws.send(Message::binary(data)).await.is_ok()
    }

    /// Flushes what was fed.
    pub async fn flush(&mut self) -> bool {
        self.ws.flush().await.is_ok()
    }

    /// The next text frame from the client, `None` when it is gone.
    pub async fn recv(&mut self) -> Option<String> {
        loop {
            match self.ws.next().await? {
                Ok(Message::Text(text)) => return Some(text.as_str().to_owned()),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// Sends [`OPEN`] and returns the client's first frame (its CONNECT).
    pub async fn handshake(&mut self) -> Option<String> {
        self.send(OPEN).await;
        self.recv().await
    }

    /// Closes the WebSocket with a close frame, as a server does on purpose.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }

    /// Keeps the connection open, reading, until the client goes.
    pub async fn idle(mut self) {
        while self.recv().await.is_some() {}
    }
}
