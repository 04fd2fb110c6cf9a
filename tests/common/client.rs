//! Helpers for driving the library's sockets in tests.

use futures::StreamExt;
use sioclient::{ClientBuilder, DisconnectReason, Event, EventStream, Socket, SocketEvent};

use super::{within, TIMEOUT};

/// Connects with default options, failing the test on error or timeout.
pub async fn connect(url: &str) -> Socket {
    connected(ClientBuilder::new(url)).await
}

/// Connects as `builder` says, failing the test on error or timeout.
pub async fn connected(builder: ClientBuilder) -> Socket {
    within(TIMEOUT, "connect", builder.connect())
        .await
        .expect("connect")
}

/// The next socket event on the stream that `pred` accepts; the ones before it are skipped.
pub async fn wait_event(
    events: &mut EventStream,
    what: &str,
    pred: impl Fn(&SocketEvent) -> bool,
) -> SocketEvent {
    within(TIMEOUT, what, async {
        loop {
            match events.next().await {
                Some(event) if pred(&event) => return event,
                Some(_) => {}
                None => panic!("stream ended while waiting for {what}"),
            }
        }
    })
    .await
}

/// The next server event called `name` on the stream.
pub async fn next_event(events: &mut EventStream, name: &str) -> Event {
    match wait_event(
        events,
        name,
        |e| matches!(e, SocketEvent::Event(ev) if ev.name() == name),
    )
    .await
    {
        SocketEvent::Event(event) => event,
        _ => unreachable!("wait_event returns what the predicate accepted"),
    }
}

/// Waits for the next connect on the stream; returns whether it recovered the session.
pub async fn next_connect(events: &mut EventStream) -> bool {
    match wait_event(events, "connect", |e| {
        matches!(e, SocketEvent::Connect { .. })
    })
    .await
    {
        SocketEvent::Connect { recovered } => recovered,
        _ => unreachable!("wait_event returns what the predicate accepted"),
    }
}

/// Waits for the next disconnect on the stream; returns its reason.
pub async fn next_disconnect(events: &mut EventStream) -> DisconnectReason {
    match wait_event(events, "disconnect", |e| {
        matches!(e, SocketEvent::Disconnect(_))
    })
    .await
    {
        SocketEvent::Disconnect(reason) => reason,
        _ => unreachable!("wait_event returns what the predicate accepted"),
    }
}

/// The messages of an error and of every cause under it, joined as a
/// reporter that walks the chain prints them.
#[allow(dead_code)]
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut messages = vec![error.to_string()];
    let mut current = error.source();
    while let Some(cause) = current {
        messages.push(cause.to_string());
        current = cause.source();
    }
    messages.join(": ")
}
