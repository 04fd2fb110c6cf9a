//! `ClientBuilder`: the options of a connection and its first socket.

use std::fmt;
use std::future::Future;
#[cfg(feature = "__rustls")]
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::client::auth::{self, AuthCallback};
use crate::client::shared::{Manager, Socket, SocketHandlers, SocketSettings};
use crate::client::socket::EventStream;
use crate::codec::parser::Parser;
use crate::driver::{Driver, DriverConfig};
use crate::engine::options::EngineOptions;
#[cfg(test)]
use crate::engine::stream::Dialer;
use crate::engine::transport::Transport;
use crate::error::ConnectError;
use crate::proto::auth::AuthSource;
use crate::proto::connection::ConnectionOptions;
use crate::proto::event::{Event, SocketEvent};
use crate::proto::reconnect::{ReconnectOptions, ReconnectPolicy};
use crate::proto::recovery::RecoveryState;
use crate::queue;

/// Builds a connection to a Socket.IO server and its first namespace socket.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use sioclient::ClientBuilder;
///
/// let socket = ClientBuilder::new("http://localhost:3000/chat")
///     .auth(serde_json::json!({ "token": "abc" }))
///     .reconnection_delay(Duration::from_millis(500))
///     .on("message", |event, _socket| async move {
///         println!("{}: {:?}", event.name(), event.args());
///     })
///     .connect()
///     .await?;
/// socket.emit("join", ("room-1", 42)).await?;
/// # Ok(()) }
/// ```
#[must_use = "a ClientBuilder does nothing until connect() is called"]
pub struct ClientBuilder {
    /// How the server is reached: the engine turns these into its links.
    engine: EngineOptions,
    auth: Result<AuthSource, ConnectError>,
    handlers: SocketHandlers,
    timeout: Duration,
    ack_timeout: Duration,
    retries: u32,
    reconnection: bool,
    attempts: Option<u32>,
    first_connect_window: Option<Duration>,
    policy: ReconnectPolicy,
    offline_buffer: usize,
    event_buffer: usize,
    strip_offsets: bool,
    parser: Parser,
    recovery_state: Option<RecoveryState>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The engine shows no query or header values; auth is left out.
        f.debug_struct("ClientBuilder")
            .field("engine", &self.engine)
            .field("timeout", &self.timeout)
            .field("ack_timeout", &self.ack_timeout)
            .field("retries", &self.retries)
            .field("reconnection", &self.reconnection)
            .field("attempts", &self.attempts)
            .field("first_connect_window", &self.first_connect_window)
            .field("policy", &self.policy)
            .field("offline_buffer", &self.offline_buffer)
            .field("event_buffer", &self.event_buffer)
            .field("strip_offsets", &self.strip_offsets)
            .field("parser", &self.parser)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Starts a builder for `url`: `http`, `https`, `ws` or `wss`. The URL's path
    /// names the namespace (`/` when empty), as in the JS client's `io(url)`.
    pub fn new(url: impl Into<String>) -> Self {
        ClientBuilder {
            engine: EngineOptions::new(url.into()),
            auth: Ok(AuthSource::None),
            handlers: SocketHandlers::default(),
            timeout: Duration::from_secs(20),
            ack_timeout: Duration::from_secs(30),
            retries: 0,
            reconnection: true,
            attempts: None,
            first_connect_window: Some(Duration::from_secs(30)),
            policy: ReconnectPolicy::default(),
            offline_buffer: 1024,
            event_buffer: 1024,
            strip_offsets: true,
            parser: Parser::Default,
            recovery_state: None,
        }
    }

    /// The transports to use, in the order to try them, as the JS option
    /// `transports`. A link opens with the first; when the server or
    /// something between refuses it in a way the next one may get past (a
    /// server that allows polling only, a proxy that will not upgrade to
    /// WebSocket), the next is tried. Default: WebSocket, then polling (with
    /// the `polling` feature).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), sioclient::ConnectError> {
    /// use sioclient::{ClientBuilder, Transport};
    /// // A server started with `transports: ["polling"]`, or a network that
    /// // refuses WebSocket.
    /// let socket = ClientBuilder::new("http://localhost:3000")
    ///     .transports([Transport::Polling])
    ///     .connect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn transports(mut self, transports: impl IntoIterator<Item = Transport>) -> Self {
        self.engine.set_transports(transports);
        self
    }

    /// Whether a polling session moves to WebSocket when the server offers it
    /// and `transports` includes WebSocket, as the JS option `upgrade`.
    /// Default true.
    pub fn upgrade(mut self, upgrade: bool) -> Self {
        self.engine.set_upgrade(upgrade);
        self
    }

    /// Whether, once an upgrade to WebSocket succeeded, later links of this
    /// connection try WebSocket first, as the JS option `rememberUpgrade`.
    /// Default false.
    pub fn remember_upgrade(mut self, remember: bool) -> Self {
        self.engine.set_remember_upgrade(remember);
        self
    }

    /// Whether the connection keeps the cookies the server or a load
    /// balancer sets and sends them back on every later request (polls,
    /// posts, the WebSocket handshake, reconnects): what keeps a session on
    /// one node behind a load balancer with cookie affinity. Default true.
    pub fn cookies(mut self, keep: bool) -> Self {
        self.engine.set_cookies(keep);
        self
    }

    /// Reaches the server through a proxy, for both transports:
    /// `http://[user:password@]host:port` for an HTTP proxy (a `CONNECT`
    /// tunnel), `socks5://[user:password@]host:port` for SOCKS5. Without
    /// it, `HTTPS_PROXY` (for `https`/`wss` servers), `HTTP_PROXY` (for
    /// `http`/`ws`), `ALL_PROXY` and `NO_PROXY` are honoured (`NO_PROXY` as
    /// curl and Go read it: domains with their subdomains, IP addresses and
    /// CIDR blocks, `host:port` for one port, `*`); loopback hosts are always
    /// reached directly.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), sioclient::ConnectError> {
    /// let socket = sioclient::ClientBuilder::new("https://example.com")
    ///     .proxy("http://user:secret@proxy.corp:3128")
    ///     .connect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn proxy(mut self, url: &str) -> Self {
        self.engine.set_proxy(url);
        self
    }

    /// Whether every polling request carries a `t` parameter of its own, as
    /// the JS option `timestampRequests`, for caches and proxies that would
    /// answer a GET from their cache. Default false.
    pub fn timestamp_requests(mut self, on: bool) -> Self {
        self.engine.set_timestamp_requests(on);
        self
    }

    /// Never uses a proxy, whatever the environment says.
    pub fn no_proxy(mut self) -> Self {
        self.engine.set_no_proxy();
        self
    }

    /// The server's Engine.IO path. Default `/socket.io/`.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.engine.set_path(path.into());
        self
    }

    /// Adds a query parameter to the handshake URL.
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.engine.add_query(key.into(), value.into());
        self
    }

    /// Adds an HTTP header to the WebSocket upgrade request.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.engine.add_header(name.into(), value.into());
        self
    }

    /// The auth payload sent with every CONNECT: any value that serializes to a JSON object.
    pub fn auth(mut self, auth: impl Serialize) -> Self {
        self.auth = match serde_json::to_value(auth) {
            Ok(Value::Object(map)) => Ok(AuthSource::Static(map)),
            Ok(other) => Err(ConnectError::InvalidAuth(other.to_string())),
            Err(error) => Err(ConnectError::InvalidAuth(error.to_string())),
        };
        self
    }

    /// Computes the auth payload anew for every (re)connect, to refresh
    /// tokens: a closure returning a JSON value, or a closure returning a
    /// future of `Result<payload, error>` (see [`AuthCallback`]). The payload
    /// must be a JSON object; anything else fails that connect with
    /// [`ConnectError::InvalidAuth`]. A future's error is
    /// [`ConnectError::AuthFailed`], and the attempt is retried.
    ///
    /// ```no_run
    /// # async fn fetch_token() -> Result<String, std::io::Error> { Ok(String::new()) }
    /// # async fn run() -> Result<(), sioclient::ConnectError> {
    /// use serde_json::json;
    /// use sioclient::ClientBuilder;
    ///
    /// let socket = ClientBuilder::new("http://localhost:3000")
    ///     .auth_with(|| async {
    ///         let token = fetch_token().await?; // an HTTP call, say
    ///         Ok::<_, std::io::Error>(json!({ "token": token }))
    ///     })
    ///     .connect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn auth_with<Kind>(mut self, auth: impl AuthCallback<Kind>) -> Self {
        self.auth = Ok(auth::source(auth));
        self
    }

    /// Adds a listener of the server event `name`; see [`Socket::on`].
    pub fn on<F, Fut>(mut self, name: &str, handler: F) -> Self
    where
        F: Fn(Event, Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.handlers.on(name, handler);
        self
    }

    /// Adds a listener of the next server event `name` only; see [`Socket::once`].
    pub fn once<F, Fut>(mut self, name: &str, handler: F) -> Self
    where
        F: FnOnce(Event, Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.handlers.once(name, handler);
        self
    }

    /// Adds a catch-all listener of server events; see [`Socket::on_any`].
    pub fn on_any<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(Event, Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.handlers.on_any(handler);
        self
    }

    /// Adds a listener of every emitted event; see [`Socket::on_any_outgoing`].
    pub fn on_any_outgoing<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(Event, Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.handlers.on_any_outgoing(handler);
        self
    }

    /// Adds a listener of state changes; see [`Socket::on_lifecycle`].
    pub fn on_lifecycle<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(SocketEvent, Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.handlers.on_lifecycle(handler);
        self
    }

    /// Time allowed to open the connection (TCP, TLS, upgrade, Engine.IO
    /// handshake), and then for the server to answer a namespace's CONNECT.
    /// Default 20 s. A replay of missed events stops the second clock: it is
    /// the server's answer, however long it takes.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Default time to wait for an acknowledgement. Default 30 s.
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.ack_timeout = timeout;
        self
    }

    /// At-least-once delivery to the server: every emit but a volatile one asks
    /// for an ack and is sent again, with a fresh ack id, when none comes within
    /// the ack timeout, up to `retries` more times. One packet is in flight at a
    /// time, in emit order; the queue waits while disconnected and goes out
    /// again first after a reconnect. `emit` then resolves once the server
    /// acknowledged, and fails with
    /// [`EmitError::Unacknowledged`](crate::EmitError::Unacknowledged) when the
    /// tries are used up. Default 0: every emit is sent once.
    ///
    /// The server's handlers must acknowledge every event for this to work.
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Whether to reconnect by itself after losing the connection. Default true.
    pub fn reconnection(mut self, reconnection: bool) -> Self {
        self.reconnection = reconnection;
        self
    }

    /// How many reconnection attempts before giving up; `None` (the default) never gives up.
    pub fn reconnection_attempts(mut self, attempts: Option<u32>) -> Self {
        self.attempts = attempts;
        self
    }

    /// How long a first connect keeps trying: attempts are retried with the
    /// usual backoff within this window (a server that comes up a few seconds
    /// late is still reached), none starts or runs past its end, and then
    /// `connect()` fails with the last attempt's error. Default 30 s; `None`
    /// retries until the server answers, for a service that may start before
    /// its server. Once a namespace of the connection has connected,
    /// reconnection is not bounded in time (see
    /// [`reconnection_attempts`](Self::reconnection_attempts)).
    pub fn first_connect_window(mut self, window: Option<Duration>) -> Self {
        self.first_connect_window = window;
        self
    }

    /// Wait before the first reconnection attempt, doubled for each further one. Default 1 s.
    /// Zero means zero.
    pub fn reconnection_delay(mut self, delay: Duration) -> Self {
        self.policy.delay = delay;
        self
    }

    /// Upper bound of the wait between reconnection attempts. Default 5 s.
    pub fn reconnection_delay_max(mut self, delay: Duration) -> Self {
        self.policy.delay_max = delay;
        self
    }

    /// Random deviation of each wait, as a fraction of it, in `0.0..=1.0`. Default 0.5.
    pub fn randomization_factor(mut self, factor: f64) -> Self {
        self.policy.randomization_factor = factor;
        self
    }

    /// How many emits wait while disconnected before emit fails with
    /// [`EmitError::BufferFull`](crate::EmitError::BufferFull). Default 1024.
    pub fn offline_buffer(mut self, capacity: usize) -> Self {
        self.offline_buffer = capacity;
        self
    }

    /// How many received events wait for the handlers before the client stops
    /// reading from the server (backpressure). Default 1024.
    pub fn event_buffer(mut self, capacity: usize) -> Self {
        self.event_buffer = capacity;
        self
    }

    /// The wire format of the packets, which must be the server's, as the JS
    /// option `parser`. Default: [`Parser::Default`], socket.io's own.
    ///
    /// With the `msgpack` feature, `Parser::MsgPack` reaches a server
    /// that runs socket.io-msgpack-parser. Everything works as with the
    /// default parser, and an event reads the same with either: a byte
    /// string in the data is an attachment, with its placeholder in
    /// [`Event::args`](crate::Event::args), and [`Event::decode`](crate::Event::decode)
    /// puts it in place.
    ///
    /// Against a server that runs another parser the first connect fails
    /// with an error that names the parser: such a server closes the link
    /// at the first packet.
    ///
    /// ```no_run
    /// # #[cfg(feature = "msgpack")]
    /// # async fn run() -> Result<(), sioclient::ConnectError> {
    /// use sioclient::{ClientBuilder, Parser};
    ///
    /// let socket = ClientBuilder::new("http://localhost:3000")
    ///     .parser(Parser::MsgPack)
    ///     .connect()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn parser(mut self, parser: Parser) -> Self {
        self.parser = parser;
        self
    }

    /// Whether to strip the recovery offset from incoming events. Default true.
    ///
    /// With connection state recovery the server appends an offset string to the
    /// arguments of every event that asks for no ack; the client removes it and
    /// exposes it as [`Event::offset`]. The protocol has a blind spot: a volatile
    /// event carries no offset, so when its last argument is a string that string
    /// is taken for an offset. Turn stripping off for servers whose adapter
    /// appends no offsets.
    pub fn strip_offsets(mut self, strip: bool) -> Self {
        self.strip_offsets = strip;
        self
    }

    /// Resumes a session saved with [`Socket::recovery_state`] (for example before a
    /// restart): the first CONNECT asks the server to replay what was missed.
    pub fn recovery_state(mut self, state: RecoveryState) -> Self {
        self.recovery_state = Some(state);
        self
    }

    /// Trusts the certificate(s) in `pem` for `wss://`, on top of the default roots:
    /// for servers with a private or self-signed certificate. Certificates are
    /// always verified; a PEM without a certificate fails `connect()`.
    pub fn tls_root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.engine.add_root_pem(pem.into());
        self
    }

    /// Uses this rustls configuration for `wss://` as is (roots, client
    /// certificates, protocol versions), instead of the default one.
    #[cfg(feature = "__rustls")]
    #[cfg_attr(
        docsrs,
        doc(cfg(any(
            feature = "rustls-tls-webpki-roots",
            feature = "rustls-tls-native-roots"
        )))
    )]
    pub fn tls_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.engine.set_rustls_config(config);
        self
    }

    /// Uses this native-tls connector for `wss://` as is. It takes precedence over
    /// rustls when both features are enabled.
    #[cfg(feature = "native-tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "native-tls")))]
    pub fn native_tls_connector(mut self, connector: native_tls::TlsConnector) -> Self {
        self.engine.set_native_tls_connector(connector);
        self
    }

    /// Makes every link's stream with `dialer`: tests connect in memory.
    #[cfg(test)]
    pub(crate) fn dialer(mut self, dialer: Dialer) -> Self {
        self.engine.set_dialer(dialer);
        self
    }

    /// Connects and resolves once the server has accepted the namespace.
    ///
    /// With reconnection on (the default) a failed first attempt is retried per the
    /// reconnection options within the [first-connect
    /// window](Self::first_connect_window) (30 s by default), after which this fails
    /// with the last attempt's error; attempts used up before that end it with
    /// [`ConnectError::ReconnectFailed`], whose source is the last attempt's error.
    /// With the window set to `None` and unlimited attempts it waits until the
    /// server is reachable. An attempt
    /// succeeds when the namespace connects, not when the link opens: a link that
    /// closes, or whose CONNECT gets no valid answer within [`timeout`](Self::timeout),
    /// is a failed attempt.
    ///
    /// Some failures end it at once, whatever the attempts: a refusal by the
    /// server's middleware, and what retrying cannot fix (a socket.io 2.x server, a
    /// server that does not allow WebSocket, an HTTP 4xx other than 408 and 429 on
    /// the handshake, a failed TLS handshake). Once a namespace has connected, later
    /// reconnects follow the policy whatever the failure.
    ///
    /// Every failed attempt is logged at `warn` with its cause and the URL tried
    /// (query values redacted), and reaches the [`on_lifecycle`](Self::on_lifecycle)
    /// handlers as [`SocketEvent::ConnectError`] or [`SocketEvent::ReconnectError`]
    /// before this returns.
    pub async fn connect(self) -> Result<Socket, ConnectError> {
        let socket = self.start()?;
        socket.connect().await?;
        Ok(socket)
    }

    /// Connects like [`connect`](Self::connect), and returns with the socket a
    /// stream of its events that starts with the connect event: it misses
    /// nothing the server sends from the first connect on (not even what the
    /// server emits on connection, which a stream taken with
    /// [`Socket::events`] after `connect()` may miss).
    ///
    /// The stream applies backpressure as every [`EventStream`] does: poll it,
    /// or drop it.
    pub async fn connect_with_events(self) -> Result<(Socket, EventStream), ConnectError> {
        let socket = self.start()?;
        // Before the connect command: no connect event can be past yet.
        let events = socket.events_from_connect();
        socket.connect().await?;
        Ok((socket, events))
    }

    /// Builds the socket without connecting it, as the JS option
    /// `autoConnect: false`: handlers and streams are put in place first,
    /// then [`Socket::connect`] connects, and nothing the server sends on
    /// connection can be missed. Nothing touches the network before that.
    /// Fails only on invalid options. Call it within a tokio runtime.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), sioclient::ConnectError> {
    /// use futures::StreamExt;
    ///
    /// let socket = sioclient::ClientBuilder::new("http://localhost:3000").build()?;
    /// socket.on("welcome", |event, _socket| async move {
    ///     println!("{:?}", event.args());
    /// });
    /// let mut events = socket.events();
    /// socket.connect().await?;
    /// while let Some(event) = events.next().await {
    ///     println!("{event:?}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn build(self) -> Result<Socket, ConnectError> {
        self.start()
    }

    /// Starts the connection's task and its first socket, not connected yet.
    fn start(self) -> Result<Socket, ConnectError> {
        let factor = self.policy.randomization_factor;
        if !(0.0..=1.0).contains(&factor) {
            return Err(ConnectError::InvalidOption(format!(
                "randomization_factor must be within 0..=1, got {factor}"
            )));
        }
        let auth = self.auth?;
        let (transport, namespace) = self.engine.build(self.timeout)?;
        let engine = transport.status.clone();
        let config = DriverConfig {
            transport,
            connection: ConnectionOptions {
                strip_offsets: self.strip_offsets,
                retries: self.retries,
                parser: self.parser,
                reconnect: ReconnectOptions {
                    enabled: self.reconnection,
                    attempts: self.attempts,
                    first_connect_window: self.first_connect_window,
                    policy: self.policy,
                },
            },
        };
        let (control_tx, control_rx) = queue::unbounded();
        let driver = Driver::new(config, control_rx, control_tx.downgrade());
        tokio::spawn(driver.run());
        let manager = Manager::new(
            control_tx,
            engine,
            SocketSettings {
                auth,
                offline_buffer: self.offline_buffer,
                event_buffer: self.event_buffer,
                ack_timeout: self.ack_timeout,
                retries: self.retries,
                parser: self.parser,
            },
        );
        Ok(manager.attach(&namespace, self.handlers, self.recovery_state))
    }
}
