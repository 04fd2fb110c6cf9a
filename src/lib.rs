//! sioclient placeholder
pub(crate) mod engineio;
pub(crate) mod socketio;
