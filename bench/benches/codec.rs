//! Encode and decode cost of the wire codecs: a typical JSON event, with and
//! without recovery-offset stripping, and a 64 KiB binary event.
//!
//! Decoding runs the client's whole receive path (Engine.IO and Socket.IO
//! parsing, offset stripping, attachment assembly and placeholder checks) and
//! then the typed decode a handler would do.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde::{Deserialize, Serialize};
use sioclient::bench_support::{encode_event, Receiver};

#[derive(Serialize, Deserialize)]
struct Msg<'a> {
    user: &'a str,
    text: &'a str,
}

#[derive(Deserialize)]
struct OwnedMsg {
    user: String,
    text: String,
}

/// `["tick",i,{"user":"alice","text":"hello world"},"Q8Ftu<i>"]` as the
/// server sends it.
fn typical_frame(i: u64) -> String {
    format!(r#"42["tick",{i},{{"user":"alice","text":"hello world"}},"Q8Ftu{i}"]"#)
}

fn typical(c: &mut Criterion) {
    let mut group = c.benchmark_group("typical_event");
    let msg = Msg {
        user: "alice",
        text: "hello world",
    };

    let mut i = 0u64;
    let mut out = String::new();
    let mut attachments = Vec::new();
    group.bench_function("encode", |b| {
        b.iter(|| {
            i += 1;
            out.clear();
            let offset = format!("Q8Ftu{i}");
            encode_event(
                &mut out,
                &mut attachments,
                "/",
                None,
                "tick",
                &(i, &msg, offset),
            )
            .expect("encodes");
            black_box(&out);
        })
    });

    let frames: Vec<String> = (0..1024).map(typical_frame).collect();
    for (label, strip) in [("decode_strip_offset", true), ("decode_keep_offset", false)] {
        let mut receiver = Receiver::new(strip);
        let mut next = frames.iter().cycle();
        group.bench_function(label, |b| {
            b.iter(|| {
                let frame = next.next().expect("cycle never ends");
                let event = receiver.text(frame).expect("an event");
                if strip {
                    let (n, msg): (u64, OwnedMsg) = event.decode().expect("decodes");
                    black_box((n, msg.user, msg.text, event.offset().map(str::len)));
                } else {
                    let (n, msg, offset): (u64, OwnedMsg, String) =
                        event.decode().expect("decodes");
                    black_box((n, msg.user, msg.text, offset));
                }
            })
        });
    }
    group.finish();
}

const BLOB: usize = 64 * 1024;

#[derive(Serialize)]
struct Upload<'a> {
    name: &'a str,
    data: &'a Bytes,
}

#[derive(Deserialize)]
struct Received {
    name: String,
    data: Bytes,
}

#[derive(Deserialize)]
struct ReceivedVec {
    name: String,
    data: Vec<u8>,
}

fn binary(c: &mut Criterion) {
    let mut group = c.benchmark_group("binary_64k");
    group.throughput(Throughput::Bytes(BLOB as u64));
    let blob = Bytes::from((0..BLOB).map(|i| (i * 31 % 251) as u8).collect::<Vec<u8>>());

    let mut out = String::new();
    group.bench_function("encode", |b| {
        b.iter(|| {
            out.clear();
            // A fresh list per emit, as `Socket::emit` makes: the cost includes
            // copying the 64 KiB into the attachment and freeing it.
            let mut attachments = Vec::new();
            let upload = Upload {
                name: "photo.png",
                data: &blob,
            };
            encode_event(&mut out, &mut attachments, "/", None, "upload", &upload)
                .expect("encodes");
            black_box((&out, attachments));
        })
    });

    let text =
        r#"451-["upload",{"name":"photo.png","data":{"_placeholder":true,"num":0}},"Q8Ftu1"]"#;
    let mut receiver = Receiver::new(true);
    group.bench_function("decode_bytes", |b| {
        b.iter(|| {
            assert!(receiver.text(text).is_none(), "waits for its attachment");
            let event = receiver.binary(blob.clone()).expect("an event");
            let received: Received = event.decode().expect("decodes");
            black_box((received.name, received.data));
        })
    });
    group.bench_function("decode_vec", |b| {
        b.iter(|| {
            assert!(receiver.text(text).is_none(), "waits for its attachment");
            let event = receiver.binary(blob.clone()).expect("an event");
            let received: ReceivedVec = event.decode().expect("decodes");
            black_box((received.name, received.data));
        })
    });
    group.finish();
}

criterion_group!(benches, typical, binary);
criterion_main!(benches);
