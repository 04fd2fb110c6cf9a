//! Binary attachments against the real Node socket.io server: buffers both
//! ways, nested, in acks both ways, typed, large, and the maxPayload check,
//! each with the default parser and with socket.io-msgpack-parser.

mod common;

use bytes::Bytes;
use common::client::{connected, next_event, wait_event};
use common::parsers::{both_parsers, builder, options};
use common::{ev, within, TestServer, TIMEOUT};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sioclient::{EmitError, Parser, SocketEvent};
use tokio::sync::mpsc;

/// `{"_placeholder":true,"num":N}`, how an attachment shows in `Event::args`.
fn ph(num: u64) -> Value {
    json!({"_placeholder": true, "num": num})
}

/// How the server logs a Node Buffer (`Buffer.toJSON`).
fn node_buffer(data: &[u8]) -> Value {
    json!({"type": "Buffer", "data": data})
}

/// Bytes that are neither constant nor a short period, so a misordered or
/// truncated copy shows.
fn pattern(len: usize) -> Bytes {
    let mut state: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect::<Vec<u8>>()
        .into()
}

both_parsers!(one_buffer_each_way, |parser| {
    let server = TestServer::start(options(parser)).await;
    let socket = connected(builder(&server.url(), parser)).await;
    let mut events = socket.events();
    let data = Bytes::from_static(&[0, 1, 2, 255]);
    socket.emit("echo", data.clone()).await.unwrap();

    // The server got a real Buffer, not a placeholder object.
    let line = server.wait_for(ev("echo"), TIMEOUT).await;
    assert_eq!(line["args"], json!([node_buffer(&data)]));

    let echo = next_event(&mut events, "echo").await;
    assert_eq!(echo.args(), &[ph(0)]);
    assert_eq!(echo.attachments(), std::slice::from_ref(&data));
    assert_eq!(echo.decode::<Bytes>().unwrap(), data);
    assert_eq!(echo.decode::<Vec<u8>>().unwrap(), data.to_vec());

    // Beside JSON arguments, and an empty buffer.
    socket
        .emit("echo", ("before", Bytes::new(), 7, data.clone()))
        .await
        .unwrap();
    let echo = next_event(&mut events, "echo").await;
    assert_eq!(echo.args(), &[json!("before"), ph(0), json!(7), ph(1)]);
    let (before, empty, n, last): (String, Bytes, u8, Vec<u8>) = echo.decode().unwrap();
    assert_eq!(
        (before.as_str(), empty.len(), n, last),
        ("before", 0, 7, data.to_vec())
    );
});

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Inner {
    b: Bytes,
    list: Vec<Bytes>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Upload {
    name: String,
    a: Bytes,
    inner: Inner,
}

both_parsers!(several_buffers_nested_in_an_object_each_way, |parser| {
    let server = TestServer::start(options(parser)).await;
    let socket = connected(builder(&server.url(), parser)).await;
    let mut events = socket.events();
    let upload = Upload {
        name: "photo".into(),
        a: Bytes::from_static(b"a"),
        inner: Inner {
            b: Bytes::from_static(&[2, 2]),
            list: vec![Bytes::from_static(&[3]), Bytes::from_static(&[4, 4, 4])],
        },
    };
    socket.emit("echo", &upload).await.unwrap();

    let line = server.wait_for(ev("echo"), TIMEOUT).await;
    assert_eq!(
        line["args"],
        json!([{
            "name": "photo",
            "a": node_buffer(b"a"),
            "inner": {
                "b": node_buffer(&[2, 2]),
                "list": [node_buffer(&[3]), node_buffer(&[4, 4, 4])],
            },
        }])
    );

    let echo = next_event(&mut events, "echo").await;
    assert_eq!(echo.attachments().len(), 4);
    // The server numbers them in its own walk order; each placeholder points at
    // its own bytes whatever the numbering.
    let args = &echo.args()[0];
    let at = |pointer: &str| {
        let num = args
            .pointer(pointer)
            .and_then(|p| p["num"].as_u64())
            .unwrap_or_else(|| panic!("placeholder at {pointer} in {args}"));
        echo.attachments()[num as usize].clone()
    };
    assert_eq!(at("/a"), upload.a);
    assert_eq!(at("/inner/b"), upload.inner.b);
    assert_eq!(at("/inner/list/1"), upload.inner.list[1]);
    assert_eq!(echo.decode::<Upload>().unwrap(), upload);
});

both_parsers!(an_ack_reply_carries_a_buffer, |parser| {
    let server = TestServer::start(options(parser)).await;
    let socket = connected(builder(&server.url(), parser)).await;
    let data = pattern(300);
    let reply: Bytes = socket.emit_with_ack("echo", data.clone()).await.unwrap();
    assert_eq!(reply, data);
    let (text, nested): (String, Upload) = socket
        .emit_with_ack(
            "echo",
            (
                "with",
                Upload {
                    name: "n".into(),
                    a: data.clone(),
                    inner: Inner {
                        b: Bytes::new(),
                        list: vec![data.slice(..10)],
                    },
                },
            ),
        )
        .await
        .unwrap();
    assert_eq!(text, "with");
    assert_eq!(nested.a, data);
    assert_eq!(nested.inner.list, [data.slice(..10)]);
});

both_parsers!(a_handler_answers_an_ack_request_with_a_buffer, |parser| {
    let server = TestServer::start(options(parser)).await;
    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel();
    let socket = connected(builder(&server.url(), parser).on(
        "server-ack",
        move |event, _socket| {
            let seen_tx = seen_tx.clone();
            async move {
                // The request itself is a binary event asking for an ack.
                let asked: Bytes = event.decode().unwrap();
                let mut answer = asked.to_vec();
                answer.reverse();
                event.ack(&("reversed", Bytes::from(answer))).unwrap();
                seen_tx.send(asked).unwrap();
            }
        },
    ))
    .await;
    let mut events = socket.events();
    socket
        .emit("ask-ack", Bytes::from_static(&[1, 2, 3]))
        .await
        .unwrap();
    let asked = within(TIMEOUT, "handler", seen_rx.recv()).await.unwrap();
    assert_eq!(asked, Bytes::from_static(&[1, 2, 3]));

    // The server saw a Buffer in the reply and sends it back to us.
    let line = server.wait_for(ev("ack-confirmed"), TIMEOUT).await;
    assert_eq!(line["reply"], json!(["reversed", node_buffer(&[3, 2, 1])]));
    let confirmed = next_event(&mut events, "ack-confirmed").await;
    assert_eq!(confirmed.args(), &[json!(["reversed", ph(0)])]);
    // One argument: the array of the ack's arguments.
    let ((word, bytes),): ((String, Bytes),) = confirmed.decode().unwrap();
    assert_eq!((word.as_str(), &bytes[..]), ("reversed", &[3, 2, 1][..]));
});

/// One struct with a `Bytes` field and one with `Vec<u8>` fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct WithBytes {
    id: u32,
    data: Bytes,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct WithVec {
    id: u32,
    /// Sent as an attachment through serde_bytes.
    #[serde(with = "serde_bytes")]
    data: Vec<u8>,
    /// Sent as a JSON array of numbers: a plain `Vec<u8>` is a sequence.
    plain: Vec<u8>,
}

/// The same shape as `WithVec` without serde_bytes: a plain `Vec<u8>` field
/// still receives an attachment's bytes.
#[derive(Debug, PartialEq, Deserialize)]
struct WithVecReceived {
    id: u32,
    data: Vec<u8>,
    plain: Vec<u8>,
}

both_parsers!(a_typed_struct_with_a_bytes_field_round_trips, |parser| {
    let server = TestServer::start(options(parser)).await;
    let socket = connected(builder(&server.url(), parser)).await;
    let mut events = socket.events();

    let with_bytes = WithBytes {
        id: 1,
        data: pattern(64),
    };
    socket.emit("echo", &with_bytes).await.unwrap();
    let echo = next_event(&mut events, "echo").await;
    assert_eq!(echo.decode::<WithBytes>().unwrap(), with_bytes);
    let back: WithBytes = socket.emit_with_ack("echo", &with_bytes).await.unwrap();
    assert_eq!(back, with_bytes);
    // The server echoes the acked emit too.
    let echo = next_event(&mut events, "echo").await;
    assert_eq!(echo.decode::<WithBytes>().unwrap(), with_bytes);

    let with_vec = WithVec {
        id: 2,
        data: pattern(33).to_vec(),
        plain: vec![1, 2, 3],
    };
    socket.emit("echo", &with_vec).await.unwrap();
    let echo = next_event(&mut events, "echo").await;
    assert_eq!(echo.attachments().len(), 1, "only the serde_bytes field");
    assert_eq!(echo.args()[0]["plain"], json!([1, 2, 3]));
    assert_eq!(echo.decode::<WithVec>().unwrap(), with_vec);
    assert_eq!(
        echo.decode::<WithVecReceived>().unwrap(),
        WithVecReceived {
            id: 2,
            data: with_vec.data.clone(),
            plain: vec![1, 2, 3],
        }
    );
    let back: WithVec = socket.emit_with_ack("echo", &with_vec).await.unwrap();
    assert_eq!(back, with_vec);
});

both_parsers!(a_512_kib_buffer_round_trips_intact, |parser| {
    let server = TestServer::start(options(parser)).await;
    let socket = connected(builder(&server.url(), parser)).await;
    let mut events = socket.events();
    let data = pattern(512 * 1024);
    socket.emit("echo", ("big", data.clone())).await.unwrap();
    let echo = next_event(&mut events, "echo").await;
    let (name, back): (String, Bytes) = echo.decode().unwrap();
    assert_eq!(name, "big");
    assert_eq!(back.len(), data.len());
    assert!(back == data, "the bytes came back changed");
    let reply: Bytes = socket.emit_with_ack("echo", data.clone()).await.unwrap();
    assert!(reply == data, "the ack reply's bytes changed");
});

both_parsers!(
    an_emit_above_max_payload_fails_and_the_connection_stays_up,
    |parser| {
        let server =
            TestServer::start(options(parser).arg("--max-http-buffer-size").arg("1000")).await;
        let socket = connected(builder(&server.url(), parser)).await;
        let mut events = socket.events();

        // The largest message counts: the attachment with the default
        // parser, the whole packet with msgpack.
        let result = socket.emit("echo", pattern(1001)).await;
        assert!(
            matches!(
                result,
                Err(EmitError::PayloadTooLarge {
                    size,
                    max: 1000
                }) if size == 1001 || parser == Parser::MsgPack && size > 1001
            ),
            "{result:?}"
        );
        // A text frame counts too, and so does an ack request.
        let result = socket.emit("echo", "x".repeat(1000)).await;
        assert!(
            matches!(result, Err(EmitError::PayloadTooLarge { max: 1000, .. })),
            "{result:?}"
        );
        let result = socket
            .emit_with_ack::<Bytes, _>("echo", ("ok", pattern(5000)))
            .await;
        assert!(
            matches!(
                result,
                Err(sioclient::AckError::Emit(EmitError::PayloadTooLarge {
                    size,
                    max: 1000
                })) if size == 5000 || parser == Parser::MsgPack && size > 5000
            ),
            "{result:?}"
        );

        // At the limit goes through, and the connection never dropped.
        let fits = pattern(if parser == Parser::MsgPack { 950 } else { 1000 });
        socket.emit("echo", fits.clone()).await.unwrap();
        let echo = wait_event(&mut events, "echo or disconnect", |e| match e {
            SocketEvent::Event(event) => event.name() == "echo",
            SocketEvent::Disconnect(_) => true,
            _ => false,
        })
        .await;
        let SocketEvent::Event(echo) = echo else {
            panic!("disconnected: {echo:?}");
        };
        assert_eq!(echo.decode::<Bytes>().unwrap(), fits);
        assert!(socket.connected());
        assert_eq!(
            server.count(ev("disconnect")),
            0,
            "the server never dropped us"
        );
    }
);

both_parsers!(
    binary_events_with_recovery_offsets_decode_without_the_offset,
    |parser| {
        let server = TestServer::start(options(parser).recovery()).await;
        let socket = connected(builder(&server.url(), parser)).await;
        let mut events = socket.events();
        socket
            .emit(
                "stream",
                json!({"count": 10, "interval_ms": 1, "binary": true}),
            )
            .await
            .unwrap();
        // Every tenth tick carries a one-byte buffer, after which the server
        // appends the offset.
        let tick = wait_event(
            &mut events,
            "the binary tick",
            |e| matches!(e, SocketEvent::Event(ev) if ev.name() == "tick" && ev.args()[0] == 10),
        )
        .await;
        let SocketEvent::Event(tick) = tick else {
            unreachable!("wait_event returns what the predicate accepted")
        };
        assert!(tick.offset().is_some(), "{tick:?}");
        assert_eq!(tick.args(), &[json!(10), ph(0)]);
        let (n, data): (u32, Bytes) = tick.decode().unwrap();
        assert_eq!((n, &data[..]), (10, &[10][..]));
    }
);
