use std::collections::VecDeque;

use bytes::Bytes;
use serde_json::{json, Value};

use super::*;

/// The offset, and what is left of the arguments, of an event decoded from
/// `wire` (after the Engine.IO `4`) and its `attachments`.
fn offset_and_args(wire: &str, attachments: &[&'static [u8]]) -> (Option<String>, Vec<Value>) {
    let mut decoder = Decoder::default();
    let mut packet = decoder.decode_text(wire).expect(wire);
    for part in attachments {
        assert!(packet.is_none(), "{wire}: complete before its attachments");
        packet = decoder.decode_binary(Bytes::from_static(part)).expect(wire);
    }
    let packet = packet.expect("complete");
    let Body::Event { id, mut data } = packet.body else {
        panic!("{wire}: {:?}", packet.body);
    };
    let offset = data.take_offset(id);
    match data {
        EventData::Raw(event) => {
            let offset = offset.map(|text| text.get(event.json).to_owned());
            let args = event.elements.as_slice()[1..]
                .iter()
                .map(|&(start, end)| serde_json::from_str(&event.json[start..end]).unwrap())
                .collect();
            (offset, args)
        }
        EventData::Parsed { args, .. } => (offset.map(|text| text.get("").to_owned()), args),
    }
}

/// A wire string, its attachments, the offset taken off, the arguments left.
type OffsetCase = (
    &'static str,
    &'static [&'static [u8]],
    Option<&'static str>,
    Value,
);

#[test]
fn the_offset_is_the_last_string_of_an_event_without_an_ack_id() {
    let table: &[OffsetCase] = &[
        (
            r#"2["foo","bar","Q8FtvoZ"]"#,
            &[],
            Some("Q8FtvoZ"),
            json!(["bar"]),
        ),
        (
            r#"2["tick","A",39,"Q8Ftvxw"]"#,
            &[],
            Some("Q8Ftvxw"),
            json!(["A", 39]),
        ),
        (
            r#"2["foo","1795562728913-0"]"#,
            &[],
            Some("1795562728913-0"),
            json!([]),
        ),
        (r#"2/admin,["foo",""]"#, &[], Some(""), json!([])),
        (
            r#"51-["bin",{"_placeholder":true,"num":0},"Q8FtvoZ.2"]"#,
            &[b"abc"],
            Some("Q8FtvoZ.2"),
            json!([{"_placeholder": true, "num": 0}]),
        ),
        (r#"21["withack",1]"#, &[], None, json!([1])),
        (r#"21["withack","s"]"#, &[], None, json!(["s"])),
        (
            r#"51-1["bin",{"_placeholder":true,"num":0},"s"]"#,
            &[b"x"],
            None,
            json!([{"_placeholder": true, "num": 0}, "s"]),
        ),
        (r#"2["foo"]"#, &[], None, json!([])),
        (r#"2["foo",1]"#, &[], None, json!([1])),
        (r#"2["foo",["x"]]"#, &[], None, json!([["x"]])),
    ];
    for (wire, attachments, offset, rest) in table {
        let (got, args) = offset_and_args(wire, attachments);
        assert_eq!(got.as_deref(), *offset, "{wire}");
        assert_eq!(Value::Array(args), *rest, "{wire}");
    }
}

#[test]
fn packets_decode_to_what_the_connection_acts_on() {
    let mut decoder = Decoder::default();
    let cases: &[(&str, &str, &str)] = &[
        (
            r#"0{"sid":"s1","pid":"p"}"#,
            "/",
            r#"Connect(Some(Object {"pid": String("p"), "sid": String("s1")}))"#,
        ),
        ("0/admin,", "/admin", "Connect(None)"),
        (
            r#"4/admin,{"message":"no"}"#,
            "/admin",
            r#"ConnectError(Object {"message": String("no")})"#,
        ),
        (r#"4"err""#, "/", r#"ConnectError(String("err"))"#),
        ("1/admin,", "/admin", "Disconnect"),
        ("1", "/", "Disconnect"),
        (
            r#"31["ok","x"]"#,
            "/",
            r#"Ack { id: Some(1), args: [String("ok"), String("x")], attachments: [] }"#,
        ),
    ];
    for (wire, nsp, body) in cases {
        let packet = decoder.decode_text(wire).expect(wire).expect(wire);
        assert_eq!(packet.nsp, *nsp, "{wire}");
        assert_eq!(format!("{:?}", packet.body), *body, "{wire}");
        assert_eq!(packet.size, wire.len(), "{wire}");
    }
}

#[test]
fn a_binary_packet_waits_for_every_attachment() {
    let mut decoder = Decoder::default();
    let wire = r#"62-/admin,4[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
    assert!(decoder.decode_text(wire).unwrap().is_none());
    assert!(decoder
        .decode_binary(Bytes::from_static(b"ab"))
        .unwrap()
        .is_none());
    let packet = decoder
        .decode_binary(Bytes::from_static(b"cde"))
        .unwrap()
        .expect("complete");
    assert_eq!(packet.nsp, "/admin");
    assert_eq!(packet.size, wire.len() + 5);
    let Body::Ack {
        id, attachments, ..
    } = packet.body
    else {
        panic!("{:?}", packet.body);
    };
    assert_eq!(id, Some(4));
    assert_eq!(attachments, [&b"ab"[..], &b"cde"[..]]);
    // The next packet starts afresh.
    assert!(decoder.decode_text("1").unwrap().is_some());
}

#[test]
fn attachments_out_of_turn_are_refused() {
    let mut decoder = Decoder::default();
    assert!(matches!(
        decoder.decode_binary(Bytes::from_static(b"x")),
        Err(ProtocolError::UnexpectedBinary)
    ));
    let wire = r#"51-["bin",{"_placeholder":true,"num":0}]"#;
    assert!(decoder.decode_text(wire).unwrap().is_none());
    assert!(matches!(
        decoder.decode_text(r#"2["next"]"#),
        Err(ProtocolError::MissingAttachments)
    ));
    // A new link forgets the half-received packet.
    decoder.reset();
    assert!(decoder.decode_text(r#"2["next"]"#).unwrap().is_some());
}

#[test]
fn placeholders_must_point_at_an_attachment() {
    let cases: &[(&str, usize)] = &[
        (r#"51-["bin",{"_placeholder":true,"num":1}]"#, 1),
        (r#"50-["bin",{"_placeholder":true,"num":0}]"#, 0),
    ];
    for &(wire, parts) in cases {
        let mut decoder = Decoder::default();
        let mut outcome = decoder.decode_text(wire).map(|_| ());
        for _ in 0..parts {
            outcome = decoder.decode_binary(Bytes::from_static(b"x")).map(|_| ());
        }
        assert!(
            matches!(outcome, Err(ProtocolError::PlaceholderOutOfRange { .. })),
            "{wire}: {outcome:?}"
        );
    }
}

#[test]
fn control_packets_encode_as_the_reference_parser_does() {
    let text = |frame: Frame| match frame {
        Frame::Text(text) => text,
        Frame::Binary(_) => panic!("binary"),
    };
    assert_eq!(text(connect_frame(Parser::Default, "/", None)), "40");
    assert_eq!(
        text(connect_frame(
            Parser::Default,
            "/admin",
            Some(json!({"token": "t"}))
        )),
        r#"40/admin,{"token":"t"}"#
    );
    assert_eq!(text(disconnect_frame(Parser::Default, "/")), "41");
    assert_eq!(
        text(disconnect_frame(Parser::Default, "/admin")),
        "41/admin,"
    );
}

fn texts(out: VecDeque<Frame>) -> Vec<String> {
    out.into_iter()
        .map(|frame| match frame {
            Frame::Text(text) => text,
            Frame::Binary(data) => format!("<{} bytes>", data.len()),
        })
        .collect()
}

#[test]
fn the_ack_id_is_spliced_where_the_layout_puts_it() {
    let table: [(&str, bool, Option<u64>, &str); 6] = [
        ("/", false, None, r#"42["e",1]"#),
        ("/", true, Some(0), r#"420["e",1]"#),
        ("/", true, Some(17), r#"4217["e",1]"#),
        ("/admin", true, Some(3), r#"42/admin,3["e",1]"#),
        ("/admin", false, None, r#"42/admin,["e",1]"#),
        ("/", true, None, r#"42["e",1]"#),
    ];
    for (nsp, acked, id, expected) in table {
        let message = EventMessage::encode(Parser::Default, nsp, "e", &1, acked).unwrap();
        let mut out = VecDeque::new();
        message.write(id, &mut out);
        assert_eq!(texts(out), [expected], "{nsp} {id:?}");
    }
}

#[test]
fn binary_emits_get_their_id_after_the_attachment_count() {
    let bytes = Bytes::from_static(&[1, 2, 3]);
    let message = EventMessage::encode(Parser::Default, "/admin", "up", &(&bytes,), true).unwrap();
    let mut out = VecDeque::new();
    message.write(Some(9), &mut out);
    assert_eq!(
        texts(out),
        [
            r#"451-/admin,9["up",{"_placeholder":true,"num":0}]"#,
            "<3 bytes>"
        ]
    );
    // The text without its id, and room for the longest one.
    assert_eq!(message.largest_message(), 47 + 20);
    assert_eq!(
        message.decode(),
        (
            "up".to_owned(),
            vec![json!({"_placeholder": true, "num": 0})],
            vec![bytes]
        )
    );
}

#[test]
fn a_plain_emit_is_moved_out_whole() {
    let message = EventMessage::encode(Parser::Default, "/", "e", &("a", 1), false).unwrap();
    assert_eq!(message.largest_message(), r#"42["e","a",1]"#.len());
    let mut out = VecDeque::new();
    message.write_plain(&mut out);
    assert_eq!(texts(out), [r#"42["e","a",1]"#]);
}

#[test]
fn an_ack_answer_is_one_text_message_and_its_attachments() {
    let frames = ack_message(Parser::Default, "/admin", 4, &("ok", 1)).unwrap();
    assert_eq!(frames, [Frame::Text(r#"43/admin,4["ok",1]"#.into())]);
    let bytes = Bytes::from_static(b"xy");
    let frames = ack_message(Parser::Default, "/", 0, &(&bytes,)).unwrap();
    assert_eq!(
        frames,
        [
            Frame::Text(r#"461-0[{"_placeholder":true,"num":0}]"#.into()),
            Frame::Binary(bytes)
        ]
    );
}
