//! What arrives on the link: Engine.IO and Socket.IO packets, binary
//! attachments, and what each does to the namespaces.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;
use tokio::time::Instant;

use super::{Connection, Ending, LinkFault, NsState, HELD_MAX_BYTES, HELD_MAX_EVENTS};
use crate::codec::engine::EnginePacket;
use crate::codec::parser::{Body, Incoming};
use crate::codec::Frame;
use crate::error::protocol::ProtocolError;
use crate::error::ConnectError;
use crate::proto::emit::AckPayload;
use crate::proto::event::{AckRequest, DisconnectReason, Event, SocketEvent};
use crate::proto::recovery::RecoveryState;
use crate::proto::update::{StatusChange, Update};

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
                self.broadcast(SocketEvent::Ping);
                Ok(())
            }
            EnginePacket::Message(message) => {
                match self
                    .decoder
                    .decode_text(message)
                    .map_err(LinkFault::protocol)?
                {
                    Some(packet) => self.on_packet(packet),
                    None => Ok(()),
                }
            }
            EnginePacket::Close => Err(LinkFault::closed_by_server()),
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
        match self
            .decoder
            .decode_binary(data)
            .map_err(LinkFault::protocol)?
        {
            Some(packet) => self.on_packet(packet),
            None => Ok(()),
        }
    }

    fn on_packet(&mut self, packet: Incoming<'_>) -> Result<(), LinkFault> {
        if let Some(link) = &mut self.link {
            link.heard = true;
        }
        let Some(ns) = self.find(&packet.nsp) else {
            tracing::debug!(nsp = %packet.nsp, "packet for a namespace this client did not open");
            return Ok(());
        };
        match packet.body {
            Body::Connect(data) => self.on_connect_reply(ns, data),
            Body::ConnectError(data) => self.on_connect_error(ns, data),
            Body::Disconnect => {
                self.on_server_disconnect(ns);
                Ok(())
            }
            Body::Ack {
                id,
                args,
                attachments,
            } => {
                self.on_ack(ns, id, AckPayload { args, attachments });
                Ok(())
            }
            Body::Event { id, data } => {
                // Only a socket with a session (pid) gets offsets; ack-requesting
                // events keep their last argument.
                let strip = self.strip_offsets && self.namespaces[ns].recovery.is_some();
                self.deliver_event(ns, id, packet.size, |ack| {
                    Event::received(data, id, strip, ack)
                })
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
            let connected = StatusChange::Connected {
                sid: Some(sid),
                pid: shared_pid,
                recovered: true,
            };
            self.updates
                .push_back((namespace.id, Update::Status(connected)));
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
        let connected = StatusChange::Connected {
            sid: Some(sid),
            pid: shared_pid,
            recovered,
        };
        self.updates
            .push_back((namespace.id, Update::Status(connected)));
        tracing::debug!(nsp = %namespace.path, recovered, "namespace connected");
        let held = namespace.take_held();
        self.establish();
        self.namespaces[ns].settle(&mut self.deliveries, Ok(()));
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
        let connected = StatusChange::Connected {
            sid: namespace.last_sid.clone(),
            pid,
            recovered: true,
        };
        self.updates
            .push_back((namespace.id, Update::Status(connected)));
        tracing::debug!(nsp = %namespace.path, "a long replay: delivered before the CONNECT reply");
        let held = namespace.take_held();
        namespace.settle(&mut self.deliveries, Ok(()));
        self.deliveries.push_back((
            self.namespaces[ns].id,
            SocketEvent::Connect { recovered: true }.into(),
        ));
        self.deliveries.extend(
            held.into_iter()
                .map(|ev| (self.namespaces[ns].id, ev.into())),
        );
    }

    fn on_connect_error(&mut self, ns: usize, data: Value) -> Result<(), LinkFault> {
        let (message, data) = match data {
            Value::Object(mut map) => {
                let message = match map.remove("message") {
                    Some(Value::String(message)) => message,
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                (message, map.remove("data"))
            }
            Value::String(message) => (message, None),
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
        let refused = Update::Status(StatusChange::Refused);
        self.updates.push_back((self.namespaces[ns].id, refused));
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

    /// An acknowledgement: of the at-least-once emit in flight, or of an
    /// emit that asked for one.
    fn on_ack(&mut self, ns: usize, id: Option<u64>, payload: AckPayload) {
        let Some(id) = id else {
            tracing::debug!("ack without an id ignored");
            return;
        };
        let namespace = &mut self.namespaces[ns];
        let socket = namespace.id;
        match namespace.reliable.on_ack(id, payload) {
            Ok(done) => {
                if let Some((key, payload)) = done {
                    self.updates
                        .push_back((socket, Update::Reliable(key, Ok(payload))));
                }
                self.send_reliable(ns);
            }
            Err(payload) => self.updates.push_back((socket, Update::Ack(id, payload))),
        }
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
            parser: self.decoder.parser(),
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
