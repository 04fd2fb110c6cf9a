//! TLS with a private root certificate: the server's certificate is signed
//! by a root of your own, which the client is told to trust.
//!
//! `cargo run --example tls` starts the bundled Node server over https with
//! the test certificates in `tests/fixtures/tls`;
//! `cargo run --example tls -- https://host:port root.pem` connects to your
//! server, trusting the root certificate in `root.pem`.

mod support;

use std::path::PathBuf;

use sioclient::ClientBuilder;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
    let (server_cert, server_key) = (fixtures.join("server.pem"), fixtures.join("server.key"));
    let (url, _server) = support::server_from_args(&[
        "--tls-cert",
        &server_cert.to_string_lossy(),
        "--tls-key",
        &server_key.to_string_lossy(),
    ])
    .await?;
    let root = match std::env::args().nth(2) {
        Some(path) => PathBuf::from(path),
        None => fixtures.join("root.pem"),
    };
    println!("connecting to {url}, trusting {}", root.display());

    // The default roots alone refuse the private certificate...
    let refused = ClientBuilder::new(&url).reconnection(false).connect().await;
    if let Err(sioclient::ConnectError::Transport(error)) = &refused {
        let cause = std::error::Error::source(error).map_or(String::new(), |c| c.to_string());
        println!(
            "without the root: {error} ({cause}); is_tls: {}",
            error.is_tls()
        );
    }
    // ... and trusting the private root lets it through. The platform's
    // or Mozilla's roots stay trusted as well.
    let socket = ClientBuilder::new(&url)
        .tls_root_certificate_pem(std::fs::read(&root)?)
        .connect()
        .await?;
    let reply: String = socket.emit_with_ack("echo", "over TLS").await?;
    println!("with the root: connected, the ack says {reply:?}");
    socket.disconnect().await;
    Ok(())
}
