//! wss:// against the real server over https with a self-signed certificate
//! made in the test: refused by default, accepted once trusted.

mod common;

use std::path::PathBuf;

use common::client::{connected, next_event};
use common::{within, ServerOptions, TestServer, TIMEOUT};
use sioclient::{ClientBuilder, ConnectError};

/// The test certificates: a private root, a server certificate for
/// 127.0.0.1 and localhost that it signed (valid until the year 4096), and
/// a second root that signed nothing here.
fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// The PEM of a root certificate of the fixtures.
fn root(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).expect("the test certificates")
}

/// Options for a server with the fixtures' server certificate.
fn tls_server() -> ServerOptions {
    ServerOptions::default().tls(fixture("server.pem"), fixture("server.key"))
}

#[tokio::test]
async fn an_unknown_certificate_is_refused_by_default() {
    let server = TestServer::start(tls_server()).await;
    assert!(server.url().starts_with("https://"), "{}", server.url());
    let result = within(
        TIMEOUT,
        "connect",
        ClientBuilder::new(server.url())
            .reconnection(false)
            .connect(),
    )
    .await;
    match result {
        Err(ConnectError::Transport(error)) => {
            assert!(error.is_tls(), "{error:?}");
            let text = common::client::error_chain(&error).to_lowercase();
            assert!(text.contains("certificate"), "{text}");
        }
        other => panic!("expected a certificate error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_trusted_root_certificate_lets_events_flow() {
    let server = TestServer::start(tls_server()).await;
    let socket =
        connected(ClientBuilder::new(server.url()).tls_root_certificate_pem(root("root.pem")))
            .await;
    let mut events = socket.events();
    let n: u32 = socket.emit_with_ack("echo", 7).await.unwrap();
    assert_eq!(n, 7);
    assert_eq!(next_event(&mut events, "echo").await.args()[0], 7);
    // wss:// is the same as https://.
    let wss = server.url().replacen("https://", "wss://", 1);
    let other = ClientBuilder::new(wss)
        .tls_root_certificate_pem(root("other-root.pem"))
        .reconnection(false)
        .connect()
        .await;
    assert!(
        matches!(other, Err(ConnectError::Transport(_))),
        "{other:?}"
    );
}

#[tokio::test]
async fn a_pem_without_a_certificate_is_a_build_error() {
    let result = ClientBuilder::new("wss://127.0.0.1:1")
        .tls_root_certificate_pem("not a pem")
        .connect()
        .await;
    assert!(
        matches!(result, Err(ConnectError::InvalidOption(_))),
        "{result:?}"
    );
}

/// https:// polling takes the same TLS options as wss://.
#[cfg(feature = "polling")]
#[tokio::test]
async fn polling_over_https_uses_the_same_tls_options() {
    let server = TestServer::start(tls_server()).await;
    let socket = connected(
        ClientBuilder::new(server.url())
            .transports([sioclient::Transport::Polling])
            .tls_root_certificate_pem(root("root.pem")),
    )
    .await;
    let n: u32 = socket.emit_with_ack("echo", 9).await.unwrap();
    assert_eq!(n, 9);
    assert_eq!(
        socket.io().engine().transport(),
        Some(sioclient::Transport::Polling)
    );
    let refused = ClientBuilder::new(server.url())
        .transports([sioclient::Transport::Polling])
        .reconnection(false)
        .connect()
        .await;
    assert!(
        matches!(&refused, Err(ConnectError::Transport(error)) if error.is_tls()),
        "{refused:?}"
    );
}

/// `https://` to a server that speaks plain HTTP: refused at once, with the
/// hint that the server may speak plain HTTP.
#[tokio::test]
async fn https_to_a_plain_http_server_says_it_may_speak_plain_http() {
    let server = TestServer::start(ServerOptions::default()).await;
    let url = server.url().replacen("http://", "https://", 1);
    let error = within(TIMEOUT, "connect", ClientBuilder::new(url).connect())
        .await
        .expect_err("no TLS there");
    match &error {
        ConnectError::Transport(transport) => assert!(transport.is_tls(), "{error:?}"),
        other => panic!("expected a TLS failure, got {other:?}"),
    }
    assert!(error.to_string().contains("plain HTTP"), "{error:?}");
}
