//! What arrives on the link: Engine.IO and Socket.IO packets, binary
//! attachments, and what each does to the namespaces.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::{AckPayload, Frame, NsState, Resume, Session};
use crate::engineio::packet::EnginePacket;
use crate::error::ConnectError;
use crate::event::{AckRequest, DisconnectReason, Event, SocketEvent};
use crate::protocol_error::ProtocolError;
use crate::socketio::packet::{Packet, PacketKind, RawEvent, Received};

/// The most bytes the attachments of one received packet may add up to:
/// the largest WebSocket message the client accepts.
pub(crate) const MAX_ATTACHMENT_BYTES: usize = 64 << 20;

/// A binary packet waiting for its attachments.
pub(super) struct Partial {
    kind: PacketKind,
    /// None for a namespace this client did not open: assembled, then dropped.
    ns: Option<usize>,
    id: Option<u64>,
    data: Value,
    offset: Option<String>,
    expected: usize,
    buffers: Vec<Bytes>,
    /// Bytes of the attachments so far.
    bytes: usize,
}

impl Session {
    /// A text message arrived. `Err` means the link must end with that reason.
    pub(crate) fn on_text(&mut self, text: &str, now: Instant) -> Result<(), DisconnectReason> {
        self.now = now;
        if let Some(link) = &mut self.link {
            link.last_seen = now;
        }
        let packet = EnginePacket::decode(text).map_err(parse_error)?;
        match packet {
            EnginePacket::Ping(payload) => {
                let mut pong = String::with_capacity(1 + payload.len());
                EnginePacket::Pong(payload).encode(&mut pong);
                self.outbox.push(Frame::Text(pong));
                Ok(())
            }
            EnginePacket::Message(message) => {
                if self.partial.is_some() {
                    return Err(parse_error(ProtocolError::MissingAttachments));
                }
                match Received::decode(message).map_err(parse_error)? {
                    Received::Event { nsp, id, event } => {
                        self.on_event(nsp, id, event);
                        Ok(())
                    }
                    Received::Packet(packet) => self.on_packet(packet).map_err(parse_error),
                }
            }
            EnginePacket::Close => Err(DisconnectReason::TransportClose),
            EnginePacket::Pong(_)
            | EnginePacket::Noop
            | EnginePacket::Upgrade
            | EnginePacket::Open(_) => Ok(()),
        }
    }

    /// A binary message arrived: the next attachment of the packet being assembled.
    pub(crate) fn on_binary(&mut self, data: Bytes, now: Instant) -> Result<(), DisconnectReason> {
        self.now = now;
        if let Some(link) = &mut self.link {
            link.last_seen = now;
        }
        let Some(partial) = &mut self.partial else {
            return Err(parse_error(ProtocolError::UnexpectedBinary));
        };
        // The count is capped, but each frame may be as large as a WebSocket
        // message: cap the sum too, so a hostile server cannot make one
        // half-received packet hold gigabytes.
        partial.bytes = partial.bytes.saturating_add(data.len());
        if partial.bytes > MAX_ATTACHMENT_BYTES {
            return Err(parse_error(ProtocolError::AttachmentsTooLarge {
                max: MAX_ATTACHMENT_BYTES,
            }));
        }
        partial.buffers.push(data);
        if partial.buffers.len() < partial.expected {
            return Ok(());
        }
        let Some(partial) = self.partial.take() else {
            return Ok(());
        };
        let Some(ns) = partial.ns else {
            return Ok(());
        };
        self.on_complete(
            partial.kind,
            ns,
            partial.id,
            partial.data,
            partial.offset,
            partial.buffers,
        )
        .map_err(parse_error)
    }

    /// A plain EVENT (no attachments), its arguments split but not parsed.
    ///
    /// The same steps as an EVENT through [`on_packet`](Self::on_packet) and
    /// `on_complete`, whose checks `Received::decode` already made.
    fn on_event(&mut self, nsp: &str, id: Option<u64>, mut event: RawEvent<'_>) {
        let Some(ns) = self.find(nsp) else {
            tracing::debug!(%nsp, "packet for a namespace this client did not open");
            return;
        };
        // Only a socket with a session (pid) gets offsets; ack-requesting
        // events keep their last argument.
        let offset = if self.strip_offsets && self.namespaces[ns].resume.is_some() {
            event.take_offset(id)
        } else {
            None
        };
        self.deliver_event(ns, id, |ack| Event::from_raw(event, offset, ack));
    }

    fn on_packet(&mut self, mut packet: Packet<'_>) -> Result<(), ProtocolError> {
        let Some(ns) = self.find(&packet.nsp) else {
            tracing::debug!(nsp = %packet.nsp, "packet for a namespace this client did not open");
            if packet.attachments > 0 {
                // Its attachments still follow: take them, then drop the packet.
                self.partial = Some(Partial {
                    kind: packet.kind,
                    ns: None,
                    id: None,
                    data: Value::Null,
                    offset: None,
                    expected: packet.attachments,
                    buffers: Vec::new(),
                    bytes: 0,
                });
            }
            return Ok(());
        };
        // Only a socket with a session (pid) gets offsets; the codec leaves
        // ack-requesting events whole.
        let offset = if self.strip_offsets && self.namespaces[ns].resume.is_some() {
            packet.take_offset()
        } else {
            None
        };
        let Packet {
            kind,
            nsp: _,
            attachments,
            id,
            data,
        } = packet;
        match kind {
            PacketKind::Connect => {
                self.on_connect_reply(ns, data);
                Ok(())
            }
            PacketKind::ConnectError => {
                self.on_connect_error(ns, data);
                Ok(())
            }
            PacketKind::Disconnect => {
                self.on_server_disconnect(ns);
                Ok(())
            }
            PacketKind::Event | PacketKind::Ack => {
                self.on_complete(kind, ns, id, data.unwrap_or_default(), offset, Vec::new())
            }
            PacketKind::BinaryEvent | PacketKind::BinaryAck => {
                let data = data.unwrap_or_default();
                if attachments == 0 {
                    return self.on_complete(kind, ns, id, data, offset, Vec::new());
                }
                self.partial = Some(Partial {
                    kind,
                    ns: Some(ns),
                    id,
                    data,
                    offset,
                    expected: attachments,
                    buffers: Vec::new(),
                    bytes: 0,
                });
                Ok(())
            }
        }
    }

    fn on_connect_reply(&mut self, ns: usize, data: Option<Value>) {
        let namespace = &mut self.namespaces[ns];
        match namespace.state {
            NsState::Connecting => {}
            NsState::Inactive => {
                // Disconnected by the user while the CONNECT was on its way.
                self.send_disconnect(ns);
                return;
            }
            NsState::Connected => {
                tracing::debug!(nsp = %namespace.path, "duplicate CONNECT reply ignored");
                return;
            }
        }
        let mut data = match data {
            Some(Value::Object(map)) => map,
            _ => Map::new(),
        };
        let sid: Arc<str> = match data.remove("sid") {
            Some(Value::String(sid)) => sid.into(),
            _ => Arc::from(""),
        };
        let pid = match data.remove("pid") {
            Some(Value::String(pid)) => Some(pid),
            _ => None,
        };
        let recovered = match (&namespace.resume, &pid) {
            (Some(old), Some(new)) => old.pid == *new,
            _ => false,
        };
        let shared_pid = pid.as_deref().map(Arc::from);
        if !recovered {
            // A fresh session: offsets of the old one mean nothing to it.
            namespace.resume = pid.map(|pid| Resume { pid, offset: None });
            namespace.recent.clear();
        }
        namespace.state = NsState::Connected;
        namespace.status.set_connected(sid, shared_pid, recovered);
        tracing::debug!(nsp = %namespace.path, recovered, "namespace connected");
        for waiter in namespace.waiters.drain(..) {
            let _ = waiter.send(Ok(()));
        }
        let held = std::mem::take(&mut namespace.held);
        // At-least-once emits go out again before the application hears of the
        // connect, so that what it emits from its connect handler queues behind.
        self.send_reliable(ns);
        self.deliveries
            .push_back((ns, SocketEvent::Connect { recovered }.into()));
        self.deliveries
            .extend(held.into_iter().map(|ev| (ns, ev.into())));
    }

    fn on_connect_error(&mut self, ns: usize, data: Option<Value>) {
        let (message, data) = match data {
            Some(Value::Object(mut map)) => {
                let message = match map.remove("message") {
                    Some(Value::String(message)) => message,
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                (message, map.remove("data"))
            }
            Some(Value::String(message)) => (message, None),
            Some(other) => (other.to_string(), None),
            None => (String::new(), None),
        };
        if self.namespaces[ns].state == NsState::Inactive {
            tracing::debug!("CONNECT_ERROR for a namespace the client left");
            return;
        }
        let error = ConnectError::Rejected { message, data };
        self.deliveries
            .push_back((ns, SocketEvent::ConnectError(error.clone()).into()));
        // A refusal by the server is final for this namespace: retrying would be refused too.
        self.end_by_server(ns, &error);
    }

    fn on_server_disconnect(&mut self, ns: usize) {
        self.end_by_server(ns, &ConnectError::ServerDisconnect);
    }

    /// The server ended the namespace for good: no reconnection, no recovery.
    fn end_by_server(&mut self, ns: usize, waiter_error: &ConnectError) {
        let namespace = &mut self.namespaces[ns];
        if namespace.state == NsState::Connected {
            namespace.status.set_disconnected();
            self.deliveries.push_back((
                ns,
                SocketEvent::Disconnect(DisconnectReason::IoServerDisconnect).into(),
            ));
        }
        namespace.resume = None;
        namespace.state = NsState::Inactive;
        namespace.held.clear();
        namespace.fail_acks();
        namespace.fail_waiters(waiter_error);
        namespace.reliable.link_lost();
    }

    /// An EVENT or ACK with all of its attachments.
    fn on_complete(
        &mut self,
        kind: PacketKind,
        ns: usize,
        id: Option<u64>,
        data: Value,
        offset: Option<String>,
        attachments: Vec<Bytes>,
    ) -> Result<(), ProtocolError> {
        if matches!(kind, PacketKind::BinaryEvent | PacketKind::BinaryAck) {
            // Only binary packets have placeholders; in others they are plain data.
            check_placeholders(&data, attachments.len())?;
        }
        let Value::Array(mut args) = data else {
            return Err(ProtocolError::InvalidPayload("expected an array"));
        };
        let namespace = &mut self.namespaces[ns];
        if matches!(kind, PacketKind::Ack | PacketKind::BinaryAck) {
            let Some(id) = id else {
                tracing::debug!("ack without an id ignored");
                return Ok(());
            };
            let payload = match namespace
                .reliable
                .on_ack(id, AckPayload { args, attachments })
            {
                Ok(()) => {
                    self.send_reliable(ns);
                    return Ok(());
                }
                Err(payload) => payload,
            };
            match namespace.acks.remove(&id) {
                Some(waiter) => {
                    let _ = waiter.send(Ok(payload));
                }
                None => tracing::debug!(id, "ack for an unknown or expired id"),
            }
            return Ok(());
        }
        if args.is_empty() {
            return Err(ProtocolError::InvalidPayload("event without a name"));
        }
        let name = match args.remove(0) {
            Value::String(name) => name,
            _ => return Err(ProtocolError::InvalidPayload("event name must be a string")),
        };
        self.deliver_event(ns, id, |ack| {
            Event::new(name, args, attachments, offset, ack)
        });
        Ok(())
    }

    /// Delivers the event `make` builds with its ack request, or holds it
    /// while the namespace waits for the CONNECT reply of a recovery, and
    /// records its offset; drops it if the namespace is inactive, or if a
    /// recovery replays an event that was already received.
    fn deliver_event(
        &mut self,
        ns: usize,
        id: Option<u64>,
        make: impl FnOnce(Option<AckRequest>) -> Event,
    ) {
        let namespace = &mut self.namespaces[ns];
        if namespace.state == NsState::Inactive {
            tracing::debug!(nsp = %namespace.path, "event for an inactive namespace dropped");
            return;
        }
        let ack = id.map(|id| AckRequest {
            id,
            nsp: namespace.path.clone(),
            link: self.link_id,
            sink: self.ack_sink.clone(),
            answered: AtomicBool::new(false),
        });
        let event = make(ack);
        if let (Some(offset), Some(_)) = (event.offset(), &namespace.resume) {
            if namespace.recent.is_repeat(offset) {
                tracing::debug!(nsp = %namespace.path, offset, "event replayed twice dropped");
                return;
            }
            namespace.recent.record(offset);
        }
        let event = SocketEvent::Event(event);
        if namespace.state == NsState::Connecting {
            namespace.held.push(event);
        } else {
            self.deliveries.push_back((ns, event.into()));
        }
    }
}

/// Checks that every placeholder points at an attachment that exists.
fn check_placeholders(value: &Value, count: usize) -> Result<(), ProtocolError> {
    // Iterative so a deeply nested payload cannot overflow the stack.
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => {
                if map.get("_placeholder") == Some(&Value::Bool(true)) {
                    if let Some(num) = map.get("num").and_then(Value::as_u64) {
                        if num >= count as u64 {
                            return Err(ProtocolError::PlaceholderOutOfRange { num, count });
                        }
                        continue;
                    }
                }
                stack.extend(map.values());
            }
            _ => {}
        }
    }
    Ok(())
}

fn parse_error(error: ProtocolError) -> DisconnectReason {
    tracing::warn!(%error, "protocol error from the server");
    DisconnectReason::ParseError
}
