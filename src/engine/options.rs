//! How the client reaches its server, as the builder gathers it: plain
//! values, which [`EngineOptions::build`] turns into the
//! [`TransportConfig`] every link is opened with (the Engine.IO URL, the
//! checked headers, the proxy, the TLS connector, the link status and the
//! cookie jar).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};

use crate::engine::config::TransportConfig;
use crate::engine::cookies::CookieJar;
use crate::engine::proxy::Proxy;
use crate::engine::status::LinkStatus;
use crate::engine::stream::Dialer;
use crate::engine::tls::TlsOptions;
use crate::engine::transport::{Transport, Transports};
use crate::error::ConnectError;

/// The engine's options, with the JS client's defaults.
#[derive(Clone)]
pub(crate) struct EngineOptions {
    url: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    tls: TlsOptions,
    dialer: Dialer,
    /// `None` when the user named no transport.
    transports: Option<Transports>,
    upgrade: bool,
    remember_upgrade: bool,
    cookies: bool,
    proxy: ProxyChoice,
    timestamp_requests: bool,
}

/// Where the proxy comes from.
#[derive(Debug, Clone)]
enum ProxyChoice {
    /// `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY`.
    FromEnvironment,
    /// None: always direct.
    Direct,
    /// This one, or why its URL is not one.
    Given(Result<Proxy, String>),
}

impl fmt::Debug for EngineOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Query, header and auth values often hold secrets: only names show.
        let names = |pairs: &[(String, String)]| -> Vec<String> {
            pairs.iter().map(|(name, _)| name.clone()).collect()
        };
        f.debug_struct("EngineOptions")
            .field("url", &self.url.split('?').next().unwrap_or_default())
            .field("path", &self.path)
            .field("query", &names(&self.query))
            .field("headers", &names(&self.headers))
            .field("transports", &self.transports)
            .finish_non_exhaustive()
    }
}

impl EngineOptions {
    /// The defaults, for a user's URL (whose path names the namespace).
    pub(crate) fn new(url: String) -> Self {
        EngineOptions {
            url,
            path: "/socket.io/".into(),
            query: Vec::new(),
            headers: Vec::new(),
            tls: TlsOptions::default(),
            dialer: Dialer::default(),
            transports: Some(Transports::DEFAULT),
            upgrade: true,
            remember_upgrade: false,
            cookies: true,
            proxy: ProxyChoice::FromEnvironment,
            timestamp_requests: false,
        }
    }

    pub(crate) fn set_transports(&mut self, transports: impl IntoIterator<Item = Transport>) {
        self.transports = Transports::new(transports);
    }

    pub(crate) fn set_upgrade(&mut self, upgrade: bool) {
        self.upgrade = upgrade;
    }

    pub(crate) fn set_remember_upgrade(&mut self, remember: bool) {
        self.remember_upgrade = remember;
    }

    pub(crate) fn set_cookies(&mut self, keep: bool) {
        self.cookies = keep;
    }

    /// A proxy URL; an invalid one fails `build`.
    pub(crate) fn set_proxy(&mut self, url: &str) {
        self.proxy = ProxyChoice::Given(Proxy::parse(url));
    }

    pub(crate) fn set_no_proxy(&mut self) {
        self.proxy = ProxyChoice::Direct;
    }

    pub(crate) fn set_timestamp_requests(&mut self, on: bool) {
        self.timestamp_requests = on;
    }

    pub(crate) fn set_path(&mut self, path: String) {
        self.path = path;
    }

    pub(crate) fn add_query(&mut self, key: String, value: String) {
        self.query.push((key, value));
    }

    /// A header; an invalid name or value fails `build`.
    pub(crate) fn add_header(&mut self, name: String, value: String) {
        self.headers.push((name, value));
    }

    pub(crate) fn add_root_pem(&mut self, pem: Vec<u8>) {
        self.tls.root_pems.push(pem);
    }

    #[cfg(feature = "__rustls")]
    pub(crate) fn set_rustls_config(&mut self, config: Arc<rustls::ClientConfig>) {
        self.tls.rustls = Some(config);
    }

    #[cfg(feature = "native-tls")]
    pub(crate) fn set_native_tls_connector(&mut self, connector: native_tls::TlsConnector) {
        self.tls.native = Some(connector);
    }

    #[cfg(test)]
    pub(crate) fn set_dialer(&mut self, dialer: Dialer) {
        self.dialer = dialer;
    }

    /// What every link of the connection is opened with, each step timed by
    /// `timeout`, and the namespace the URL names. Fails on options that
    /// cannot work: a URL that does not parse or has another scheme, no
    /// transport, an invalid header or proxy, TLS roots that do not load.
    pub(crate) fn build(
        &self,
        timeout: Duration,
    ) -> Result<(TransportConfig, String), ConnectError> {
        let Some(transports) = self.transports else {
            return Err(ConnectError::InvalidOption(
                "transports must name at least one transport".into(),
            ));
        };
        let (url, namespace) = TransportConfig::engine_url(&self.url, &self.path, &self.query)?;
        let mut headers = Vec::with_capacity(self.headers.len());
        for (name, value) in &self.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| ConnectError::InvalidOption(format!("header name {name:?}: {e}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|e| ConnectError::InvalidOption(format!("header value {value:?}: {e}")))?;
            headers.push((name, value));
        }
        let proxy = match &self.proxy {
            ProxyChoice::FromEnvironment => Proxy::from_env(&url),
            ProxyChoice::Direct => None,
            ProxyChoice::Given(Ok(proxy)) => Some(proxy.clone()),
            ProxyChoice::Given(Err(why)) => return Err(ConnectError::InvalidOption(why.clone())),
        };
        let dialer = match (proxy, &self.dialer) {
            (Some(proxy), Dialer::Network) => Dialer::Proxy(Box::new(proxy)),
            (_, dialer) => dialer.clone(),
        };
        let tls = match url.scheme() {
            "wss" => Some(self.tls.connector()?),
            _ => None,
        };
        let config = TransportConfig {
            url,
            headers,
            timeout,
            tls,
            dialer,
            transports,
            upgrade: self.upgrade,
            remember_upgrade: self.remember_upgrade,
            status: Arc::new(LinkStatus::default()),
            cookies: self.cookies.then(|| Arc::new(CookieJar::default())),
            timestamp_requests: self.timestamp_requests,
        };
        Ok((config, namespace))
    }
}
