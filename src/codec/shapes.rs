//! Values of every shape serde knows, for the tests of the writers of
//! arguments (JSON and msgpack) against serde_json.

/// A unit struct: `null`.
#[derive(serde::Serialize)]
pub(crate) struct Unit;

/// A newtype struct: its value.
#[derive(serde::Serialize)]
pub(crate) struct Newtype(pub(crate) i32);

/// A tuple struct: an array.
#[derive(serde::Serialize)]
pub(crate) struct Pair(pub(crate) i32, pub(crate) &'static str);

/// A struct with a field that is sometimes skipped.
#[derive(serde::Serialize)]
pub(crate) struct Chat {
    pub(crate) user: &'static str,
    pub(crate) text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reply_to: Option<u32>,
    pub(crate) tags: Vec<&'static str>,
}

/// One variant of each kind; orderable, so that it can be a map key.
#[derive(serde::Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum E {
    A,
    B(i32),
    C(i32, i32),
    D { z: bool },
}
