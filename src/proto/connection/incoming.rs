//! What arrives on the link: Engine.IO and Socket.IO packets, binary
//! attachments, and what each does to the namespaces.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;
use tokio::time::Instant;

use super::{settle, Connection, Ending, LinkFault, NsState, HELD_MAX_BYTES, HELD_MAX_EVENTS};
use crate::codec::engine::EnginePacket;
use crate::codec::limits::MAX_MESSAGE_BYTES;
use crate::codec::packet::{Packet, PacketKind, RawEvent, Received};
use crate::codec::Frame;
use crate::error::protocol::ProtocolError;
use crate::error::ConnectError;
use crate::proto::emit::AckPayload;
use crate::proto::event::{AckRequest, DisconnectReason, Event, SocketEvent};
use crate::proto::recovery::RecoveryState;

/// An EVENT or ACK packet, and its attachments as they come.
pub(super) struct Partial {
    kind: PacketKind,
    /// None for a namespace this client did not open: assembled, then dropped.
    ns: Option<usize>,
    id: Option<u64>,
    data: Value,
    offset: Option<String>,
    expected: usize,
    buffers: Vec<Bytes>,
    /// Bytes of the text frame and the attachments so far.
    bytes: usize,
}

impl Connection {
    /// A text message arrived. Call for each, in the order they arrived.
    /// `Err` means the link must end: call
    /// [`handle_link_lost`](Connection::handle_link_lost).
    pub(crate) fn handle_text(&mut self, text: &str, now: Instant) -> Result<(), LinkFault> {
        self.now = now;
        if let Some(link) = &mut self.link {
            link.last_seen = now;
        }
        let packet = EnginePacket::decode(text).map_err(LinkFault::protocol)?;
        match packet {
            EnginePacket::Ping(payload) => {
                let mut pong = String::with_capacity(1 + payload.len());
                EnginePacket::Pong(payload).encode(&mut pong);
                self.outbox.push_back(Frame::Text(pong));
                Ok(())
            }
            EnginePacket::Message(message) => {
                if self.partial.is_some() {
                    return Err(LinkFault::protocol(ProtocolError::MissingAttachments));
                }
                match Received::decode(message).map_err(LinkFault::protocol)? {
                    Received::Event { nsp, id, event } => self.on_event(nsp, id, event, text.len()),
                    Received::Packet(packet) => self.on_packet(packet, text.len()),
                }
            }
            EnginePacket::Close => Err(LinkFault {
                reason: DisconnectReason::TransportClose,
                error: ConnectError::HandshakeClosed,
            }),
            EnginePacket::Pong(_)
            | EnginePacket::Noop
            | EnginePacket::Upgrade
            | EnginePacket::Open(_) => Ok(()),
        }
    }

    /// A binary message arrived: the next attachment of the packet being
    /// assembled. Call for each, in order with the text messages; `Err` as
    /// for [`handle_text`](Connection::handle_text).
    pub(crate) fn handle_binary(&mut self, data: Bytes, now: Instant) -> Result<(), LinkFault> {
        self.now = now;
        if let Some(link) = &mut self.link {
            link.last_seen = now;
        }
        let Some(partial) = &mut self.partial else {
            return Err(LinkFault::protocol(ProtocolError::UnexpectedBinary));
        };
        // The count is capped, but each frame may be as large as a WebSocket
        // message: cap the sum too, so a hostile server cannot make one
        // half-received packet hold gigabytes.
        partial.bytes = partial.bytes.saturating_add(data.len());
        if partial.bytes > MAX_MESSAGE_BYTES {
            return Err(LinkFault::protocol(ProtocolError::AttachmentsTooLarge {
                max: MAX_MESSAGE_BYTES,
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
        self.on_complete(ns, *partial)
    }

    /// A plain EVENT (no attachments), its arguments split but not parsed.
    ///
    /// The same steps as an EVENT through [`on_packet`](Self::on_packet) and
    /// `on_complete`, whose checks `Received::decode` already made.
    fn on_event(
        &mut self,
        nsp: &str,
        id: Option<u64>,
        mut event: RawEvent<'_>,
        size: usize,
    ) -> Result<(), LinkFault> {
        let Some(ns) = self.find(nsp) else {
            tracing::debug!(%nsp, "packet for a namespace this client did not open");
            return Ok(());
        };
        // Only a socket with a session (pid) gets offsets; ack-requesting
        // events keep their last argument.
        let offset = if self.strip_offsets && self.namespaces[ns].recovery.is_some() {
            event.take_offset(id)
        } else {
            None
        };
        self.deliver_event(ns, id, size, |ack| Event::from_raw(event, offset, ack))
    }

    fn on_packet(&mut self, mut packet: Packet<'_>, size: usize) -> Result<(), LinkFault> {
        let Some(ns) = self.find(&packet.nsp) else {
            tracing::debug!(nsp = %packet.nsp, "packet for a namespace this client did not open");
            if packet.attachments > 0 {
                // Its attachments still follow: take them, then drop the packet.
                self.partial = Some(Box::new(Partial {
                    kind: packet.kind,
                    ns: None,
                    id: None,
                    data: Value::Null,
                    offset: None,
                    expected: packet.attachments,
                    buffers: Vec::new(),
                    bytes: size,
                }));
            }
            return Ok(());
        };
        // Only a socket with a session (pid) gets offsets; the codec leaves
        // ack-requesting events whole.
        let offset = if self.strip_offsets && self.namespaces[ns].recovery.is_some() {
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
            PacketKind::Connect => self.on_connect_reply(ns, data),
            PacketKind::ConnectError => self.on_connect_error(ns, data),
            PacketKind::Disconnect => {
                self.on_server_disconnect(ns);
                Ok(())
            }
            PacketKind::Event
            | PacketKind::Ack
            | PacketKind::BinaryEvent
            | PacketKind::BinaryAck => {
                let packet = Partial {
                    kind,
                    ns: Some(ns),
                    id,
                    data: data.unwrap_or_default(),
                    offset,
                    expected: attachments,
                    buffers: Vec::new(),
                    bytes: size,
                };
                // Only the binary kinds announce attachments.
                if attachments == 0 {
                    return self.on_complete(ns, packet);
                }
                self.partial = Some(Box::new(packet));
                Ok(())
            }
        }
    }

    fn on_connect_reply(&mut self, ns: usize, data: Option<Value>) -> Result<(), LinkFault> {
        let namespace = &mut self.namespaces[ns];
        let replayed = match namespace.state {
            NsState::Connecting => false,
            NsState::Replaying => true,
            NsState::Inactive => {
                // Disconnected by the user while the CONNECT was on its way.
                self.send_disconnect(ns);
                return Ok(());
            }
            NsState::Connected => {
                tracing::debug!(nsp = %namespace.path, "duplicate CONNECT reply ignored");
                return Ok(());
            }
        };
        let (sid, pid) = connect_reply(data)?;
        let recovered = match (&namespace.recovery, &pid) {
            (Some(old), Some(new)) => old.pid == *new,
            _ => false,
        };
        let shared_pid = pid.as_deref().map(Arc::from);
        namespace.last_sid = Some(sid.clone());
        namespace.connect_deadline = None;
        if replayed && recovered {
            // The replay already announced the connect; the reply ends it.
            namespace.state = NsState::Connected;
            namespace.status.set_connected(Some(sid), shared_pid, true);
            tracing::debug!(nsp = %namespace.path, "replay complete");
            self.send_reliable(ns);
            return Ok(());
        }
        if replayed {
            tracing::warn!(
                nsp = %namespace.path,
                "the server replayed events, then opened a fresh session"
            );
        }
        if !recovered {
            // A fresh session: offsets of the old one mean nothing to it.
            namespace.recovery = pid.map(|pid| RecoveryState {
                pid,
                offset: None,
                sid: Some(sid.to_string()),
            });
            namespace.recent.clear();
        }
        namespace.state = NsState::Connected;
        namespace
            .status
            .set_connected(Some(sid), shared_pid, recovered);
        tracing::debug!(nsp = %namespace.path, recovered, "namespace connected");
        let held = namespace.take_held();
        self.establish();
        let namespace = &mut self.namespaces[ns];
        settle(
            &mut namespace.waiters,
            &mut self.deliveries,
            namespace.id,
            &Ok(()),
        );
        // At-least-once emits go out again before the application hears of the
        // connect, so that what it emits from its connect handler queues behind.
        self.send_reliable(ns);
        self.deliveries.push_back((
            self.namespaces[ns].id,
            SocketEvent::Connect { recovered }.into(),
        ));
        self.deliveries.extend(
            held.into_iter()
                .map(|ev| (self.namespaces[ns].id, ev.into())),
        );
        Ok(())
    }

    /// A replay outgrew what is held for the CONNECT reply: the server
    /// restores the session (it replays only then), so the socket is
    /// connected for the application before the reply, and the replay flows
    /// to it as it comes, under the usual backpressure.
    fn start_replay(&mut self, ns: usize) {
        self.establish();
        let namespace = &mut self.namespaces[ns];
        namespace.state = NsState::Replaying;
        let pid = namespace
            .recovery
            .as_ref()
            .map(|recovery| Arc::from(recovery.pid.as_str()));
        namespace
            .status
            .set_connected(namespace.last_sid.clone(), pid, true);
        tracing::debug!(nsp = %namespace.path, "a long replay: delivered before the CONNECT reply");
        let held = namespace.take_held();
        settle(
            &mut namespace.waiters,
            &mut self.deliveries,
            namespace.id,
            &Ok(()),
        );
        self.deliveries.push_back((
            self.namespaces[ns].id,
            SocketEvent::Connect { recovered: true }.into(),
        ));
        self.deliveries.extend(
            held.into_iter()
                .map(|ev| (self.namespaces[ns].id, ev.into())),
        );
    }

    fn on_connect_error(&mut self, ns: usize, data: Option<Value>) -> Result<(), LinkFault> {
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
            _ => {
                return Err(LinkFault::protocol(ProtocolError::InvalidPayload(
                    "CONNECT_ERROR payload must be an object or a string",
                )))
            }
        };
        if self.namespaces[ns].state == NsState::Inactive {
            tracing::debug!("CONNECT_ERROR for a namespace the client left");
            return Ok(());
        }
        let error = ConnectError::Rejected { message, data };
        tracing::warn!(nsp = %self.namespaces[ns].path, %error, "namespace refused");
        // Whatever the server replayed first, the session was not restored.
        self.namespaces[ns].status.set_refused();
        self.deliveries.push_back((
            self.namespaces[ns].id,
            SocketEvent::ConnectError(error.clone()).into(),
        ));
        // A refusal by the server is final for this namespace: retrying would be refused too.
        self.end_at(ns, Ending::ByServer(error));
        Ok(())
    }

    fn on_server_disconnect(&mut self, ns: usize) {
        self.end_at(ns, Ending::ByServer(ConnectError::ServerDisconnect));
    }

    /// An EVENT or ACK with all of its attachments.
    fn on_complete(&mut self, ns: usize, packet: Partial) -> Result<(), LinkFault> {
        let Partial {
            kind,
            id,
            data,
            offset,
            buffers: attachments,
            bytes: size,
            ..
        } = packet;
        if matches!(kind, PacketKind::BinaryEvent | PacketKind::BinaryAck) {
            // Only binary packets have placeholders; in others they are plain data.
            check_placeholders(&data, attachments.len()).map_err(LinkFault::protocol)?;
        }
        let Value::Array(mut args) = data else {
            return Err(LinkFault::protocol(ProtocolError::InvalidPayload(
                "expected an array",
            )));
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
            return Err(LinkFault::protocol(ProtocolError::InvalidPayload(
                "event without a name",
            )));
        }
        let name = match args.remove(0) {
            Value::String(name) => name,
            _ => {
                return Err(LinkFault::protocol(ProtocolError::InvalidPayload(
                    "event name must be a string",
                )))
            }
        };
        self.deliver_event(ns, id, size, |ack| {
            Event::new(name, args, attachments, offset, ack)
        })
    }

    /// Delivers the event `make` builds with its ack request, and records its
    /// offset; drops it if the namespace is inactive, or if a recovery
    /// replays an event that was already received.
    ///
    /// Before the CONNECT reply, an event is held for the reply, up to a
    /// bound (`size` is what its frames took): past it, the replay of a
    /// recovery flows on before the reply, and anything else is refused.
    fn deliver_event(
        &mut self,
        ns: usize,
        id: Option<u64>,
        size: usize,
        make: impl FnOnce(Option<AckRequest>) -> Event,
    ) -> Result<(), LinkFault> {
        let namespace = &mut self.namespaces[ns];
        match namespace.state {
            NsState::Inactive => {
                tracing::debug!(nsp = %namespace.path, "event for an inactive namespace dropped");
                return Ok(());
            }
            NsState::Connecting => {
                let replay = namespace.recovery_from.is_some();
                if replay {
                    // The server is answering: the reply follows its replay,
                    // however long that takes.
                    namespace.connect_deadline = None;
                }
                namespace.held_bytes = namespace.held_bytes.saturating_add(size);
                if namespace.held.len() >= HELD_MAX_EVENTS || namespace.held_bytes > HELD_MAX_BYTES
                {
                    if !replay {
                        return Err(LinkFault::protocol(ProtocolError::TooMuchBeforeConnect {
                            max_events: HELD_MAX_EVENTS,
                            max_bytes: HELD_MAX_BYTES,
                        }));
                    }
                    self.start_replay(ns);
                }
            }
            NsState::Replaying | NsState::Connected => {}
        }
        let namespace = &mut self.namespaces[ns];
        let ack = id.map(|id| AckRequest {
            id,
            nsp: namespace.path.clone(),
            link: self.link_id,
            sink: self.ack_sink.clone(),
            answered: AtomicBool::new(false),
        });
        let event = make(ack);
        if let (Some(offset), Some(_)) = (event.offset(), &namespace.recovery) {
            if namespace.recent.is_repeat(offset) {
                tracing::debug!(nsp = %namespace.path, offset, "event replayed twice dropped");
                return Ok(());
            }
            namespace.recent.record(offset);
        }
        let event = SocketEvent::Event(event);
        if namespace.state == NsState::Connecting {
            namespace.held.push(event);
        } else {
            self.deliveries
                .push_back((self.namespaces[ns].id, event.into()));
        }
        Ok(())
    }
}

/// The sid and pid of a CONNECT reply. A v5 server always sends an object
/// with a string sid; a bare reply is what a Socket.IO v2 server sends.
fn connect_reply(data: Option<Value>) -> Result<(Arc<str>, Option<String>), LinkFault> {
    let mut data = match data {
        Some(Value::Object(map)) => map,
        Some(_) => {
            return Err(LinkFault::protocol(ProtocolError::InvalidPayload(
                "CONNECT reply must be an object",
            )))
        }
        None => {
            tracing::warn!("the server answered the CONNECT without a sid: a Socket.IO v2 server");
            return Err(LinkFault {
                reason: DisconnectReason::ParseError,
                error: ConnectError::UnsupportedServer,
            });
        }
    };
    let sid = match data.remove("sid") {
        Some(Value::String(sid)) => Arc::from(sid),
        _ => {
            return Err(LinkFault::protocol(ProtocolError::InvalidPayload(
                "CONNECT reply without a string sid",
            )))
        }
    };
    let pid = match data.remove("pid") {
        Some(Value::String(pid)) => Some(pid),
        _ => None,
    };
    Ok((sid, pid))
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
