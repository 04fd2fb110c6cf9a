//! Reaching the real Node server through real proxies: tinyproxy (HTTP
//! CONNECT) and microsocks (SOCKS5), over both transports, with credentials.
//!
//! The server listens on loopback, which the client always reaches
//! directly unless a proxy is set on the builder: these tests set it.

#![cfg(feature = "polling")]

mod common;

use common::client::connected;
use common::proxies::TestProxy;
use common::{ServerOptions, TestServer};
use sioclient::{ClientBuilder, ConnectError, Transport};

async fn echo_through(proxy_url: &str, transport: Transport) {
    let server = TestServer::start(ServerOptions::default()).await;
    let socket = connected(
        ClientBuilder::new(server.url())
            .proxy(proxy_url)
            .transports([transport]),
    )
    .await;
    let n: u32 = socket.emit_with_ack("echo", 41).await.unwrap();
    assert_eq!(n, 41);
    assert_eq!(socket.io().engine().transport(), Some(transport));
}

#[tokio::test]
async fn through_an_http_connect_proxy_over_both_transports() {
    let proxy = TestProxy::http().await;
    echo_through(&proxy.url("http"), Transport::WebSocket).await;
    echo_through(&proxy.url("http"), Transport::Polling).await;
}

#[tokio::test]
async fn through_a_socks5_proxy_over_both_transports() {
    let proxy = TestProxy::socks5().await;
    echo_through(&proxy.url("socks5"), Transport::WebSocket).await;
    echo_through(&proxy.url("socks5"), Transport::Polling).await;
}

#[tokio::test]
async fn wrong_credentials_are_a_clear_refusal() {
    let server = TestServer::start(ServerOptions::default()).await;
    let proxy = TestProxy::http().await;
    let error = ClientBuilder::new(server.url())
        .proxy(
            &proxy
                .url("http")
                .replace(common::proxies::PASSWORD, "wrong"),
        )
        .transports([Transport::WebSocket])
        .reconnection(false)
        .connect()
        .await
        .expect_err("refused");
    assert!(matches!(error, ConnectError::Transport(_)), "{error:?}");
    let text = common::client::error_chain(&error);
    assert!(
        text.contains("refused the tunnel") && text.contains("credentials"),
        "{text}"
    );
}

#[tokio::test]
async fn a_proxy_url_that_is_not_one_fails_at_build_time() {
    let error = ClientBuilder::new("http://localhost:1")
        .proxy("ftp://proxy.test")
        .connect()
        .await
        .expect_err("not a proxy");
    assert!(matches!(error, ConnectError::InvalidOption(_)), "{error:?}");
}
