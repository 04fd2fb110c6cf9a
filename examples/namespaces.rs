//! Two namespaces over one connection, with an auth token fetched anew for
//! every (re)connect by an async callback, as a token refresh over HTTP
//! would be.
//!
//! `cargo run --example namespaces` starts the bundled Node server, connects
//! `/` and `/admin`, drops the link, and shows both namespaces back with a
//! fresh token. `cargo run --example namespaces -- http://host:port` uses
//! yours, which should have an `/admin` namespace answering `whoami` acks
//! with the handshake's auth.

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};
use sioclient::{ClientBuilder, SocketEvent};

/// Stands for an HTTP call to a token service.
async fn fetch_token(counter: &AtomicU32) -> Result<String, std::io::Error> {
    tokio::time::sleep(Duration::from_millis(50)).await;
    let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
    Ok(format!("token-{n}"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (url, _server) = support::server_from_args(&[]).await?;
    let issued = Arc::new(AtomicU32::new(0));
    let root = ClientBuilder::new(&url)
        .reconnection_delay(Duration::from_millis(200))
        // Called for every namespace on every connect; every namespace of
        // the connection shares it.
        .auth_with(move || {
            let issued = issued.clone();
            async move {
                let token = fetch_token(&issued).await?;
                Ok::<_, std::io::Error>(json!({ "token": token }))
            }
        })
        .connect()
        .await?;
    // Another namespace over the same connection, connected.
    let admin = root.io().socket("/admin").await?;
    show("after connecting", &[&root, &admin]).await?;

    let mut root_events = root.events();
    let mut admin_events = admin.events();
    println!("--- dropping the link");
    root.io().engine().close();
    for events in [&mut root_events, &mut admin_events] {
        while let Some(event) = events.next().await {
            if let SocketEvent::Connect { .. } = event {
                break;
            }
        }
    }
    show("after reconnecting", &[&root, &admin]).await?;
    admin.disconnect().await;
    root.disconnect().await;
    Ok(())
}

/// Prints what the server saw of each namespace's handshake.
async fn show(
    when: &str,
    sockets: &[&sioclient::Socket],
) -> Result<(), Box<dyn std::error::Error>> {
    for socket in sockets {
        let me: Value = socket.emit_with_ack("whoami", ()).await?;
        println!("{when}: {} has auth {}", socket.namespace(), me["auth"]);
    }
    Ok(())
}
