//! Unit tests of the session state machine: literal frames in, frames and
//! socket events out, synthetic time.
