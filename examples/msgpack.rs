//! Talks to a server that runs socket.io-msgpack-parser, as the JS client
//! does with `parser: require("socket.io-msgpack-parser")`: typed emits and
//! acks, and bytes in place, read the same as with the default parser.
//!
//! `cargo run --example msgpack` starts the bundled Node server with that
//! parser; `cargo run --example msgpack -- URL` reaches your server, which
//! echoes `echo` events back and acknowledges them with their arguments.
//! Needs the `msgpack` feature (on for the examples).

mod support;

use serde::{Deserialize, Serialize};
use sioclient::bytes::Bytes;
use sioclient::{ClientBuilder, Parser};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Reading {
    sensor: String,
    celsius: f64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (url, _server) = support::server_from_args(&["--parser", "msgpack"]).await?;
    // Client and server must use the same parser: against a server with the
    // default one, this connect fails at once with an error that says so.
    let socket = ClientBuilder::new(&url)
        .parser(Parser::MsgPack)
        .connect()
        .await?;
    let reading = Reading {
        sensor: "north".into(),
        celsius: 21.5,
    };
    // A byte string travels as msgpack `bin`, in place; the handler reads it
    // as with the default parser, where it is an attachment.
    let frame = Bytes::from_static(&[0xca, 0xfe]);
    let (echoed, bytes): (Reading, Bytes) = socket
        .emit_with_ack("echo", (&reading, frame.clone()))
        .await?;
    println!("acknowledged: {echoed:?} and {} bytes", bytes.len());
    if echoed != reading || bytes != frame {
        return Err("the acknowledgement does not match what was sent".into());
    }
    socket.disconnect().await;
    Ok(())
}
