//! wss:// against the real server over https with a self-signed certificate
//! made in the test: refused by default, accepted once trusted.

mod common;

use std::path::PathBuf;

use common::client::{connected, next_event};
use common::{within, ServerOptions, TestServer, TIMEOUT};
use sioclient::{ClientBuilder, ConnectError};

/// A self-signed certificate for 127.0.0.1 and localhost, written next to the
/// test binary's scratch files; returns the PEM and the two file paths.
fn self_signed(name: &str) -> (String, PathBuf, PathBuf) {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("a certificate");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tls-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    let pem = cert.cert.pem();
    std::fs::write(&cert_path, &pem).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    (pem, cert_path, key_path)
}

#[tokio::test]
async fn an_unknown_certificate_is_refused_by_default() {
    let (_, cert, key) = self_signed("refused");
    let server = TestServer::start(ServerOptions::default().tls(cert, key)).await;
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
    let (pem, cert, key) = self_signed("trusted");
    let server = TestServer::start(ServerOptions::default().tls(cert, key)).await;
    let socket = connected(ClientBuilder::new(server.url()).tls_root_certificate_pem(pem)).await;
    let mut events = socket.events();
    let n: u32 = socket.emit_with_ack("echo", 7).await.unwrap();
    assert_eq!(n, 7);
    assert_eq!(next_event(&mut events, "echo").await.args()[0], 7);
    // wss:// is the same as https://.
    let wss = server.url().replacen("https://", "wss://", 1);
    let (pem, _, _) = self_signed("unused");
    let other = ClientBuilder::new(wss)
        .tls_root_certificate_pem(pem)
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
    let (pem, cert, key) = self_signed("polling");
    let server = TestServer::start(ServerOptions::default().tls(cert, key)).await;
    let socket = connected(
        ClientBuilder::new(server.url())
            .transports([sioclient::Transport::Polling])
            .tls_root_certificate_pem(pem),
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
