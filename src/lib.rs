//! sioclient placeholder
pub(crate) mod engineio;
pub(crate) mod protocol_error;
pub(crate) mod reconnect;
pub(crate) mod socketio;
