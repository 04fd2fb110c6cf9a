//! Writing JSON straight into a frame's `String`, checked as UTF-8 once.

use std::cell::Cell;
use std::io;

use serde::Serialize;

/// Appends `value` to `out` as compact JSON.
///
/// On error `out` is left as it was.
pub(crate) fn write_json<T: Serialize + ?Sized>(
    out: &mut String,
    value: &T,
) -> Result<(), serde_json::Error> {
    write_utf8(out, |bytes| {
        let comma = Cell::new(false);
        serde_json::to_writer(ByteWriter::new(bytes, &comma), value)
    })
}

/// Lets `write` append bytes to `out`, then checks once that `out` is still
/// UTF-8; on error (of `write` or of the check) `out` is left as it was.
///
/// serde_json writes `str` fragments, but its writer interface takes bytes
/// and nothing in its contract promises whole characters per write. So the
/// bytes go into `out`'s own buffer (taken, not copied) and are checked as
/// a whole at the end, instead of per fragment: one pass of the fast UTF-8
/// check over the frame rather than a call per key, quote and comma, and no
/// `unsafe`.
pub(crate) fn write_utf8(
    out: &mut String,
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), serde_json::Error>,
) -> Result<(), serde_json::Error> {
    let start = out.len();
    let mut bytes = std::mem::take(out).into_bytes();
    let mut result = write(&mut bytes);
    if result.is_err() {
        bytes.truncate(start);
    }
    *out = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            result = Err(serde_json::Error::io(invalid_utf8()));
            let mut bytes = error.into_bytes();
            bytes.truncate(start);
            // The first `start` bytes are what `out` held, so they are UTF-8
            // and the lossy conversion copies them as they are.
            String::from_utf8(bytes)
                .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
        }
    };
    result
}

/// An `io::Write` that appends to a byte buffer, preceded by a separator
/// when one is pending.
pub(crate) struct ByteWriter<'s, 'c> {
    out: &'s mut Vec<u8>,
    /// Set when a `,` must precede the next byte written: each argument
    /// gets its separator only once it writes its first byte.
    comma: &'c Cell<bool>,
}

impl<'s, 'c> ByteWriter<'s, 'c> {
    /// A writer appending to `out`, emitting a `,` first whenever `comma` is
    /// set.
    pub(crate) fn new(out: &'s mut Vec<u8>, comma: &'c Cell<bool>) -> Self {
        Self { out, comma }
    }
}

/// The error for bytes that are not UTF-8, which serde_json never writes.
fn invalid_utf8() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "serializer wrote invalid UTF-8")
}

impl io::Write for ByteWriter<'_, '_> {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    // serde_json calls `write_all`; doing it in one step skips the default
    // loop around `write`.
    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        if self.comma.replace(false) {
            self.out.push(b',');
        }
        self.out.extend_from_slice(buf);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    struct Point {
        x: i32,
        y: i32,
    }

    #[test]
    fn write_json_table() {
        let table: Vec<(String, &str)> = vec![
            (json(&"a\"é"), r#""a\"é""#),
            (json(&(1, "x")), r#"[1,"x"]"#),
            (json(&()), "null"),
            (json(&Point { x: 1, y: 2 }), r#"{"x":1,"y":2}"#),
        ];
        for (got, want) in table {
            assert_eq!(got, want);
        }

        fn json<T: Serialize + ?Sized>(v: &T) -> String {
            let mut out = String::new();
            write_json(&mut out, v).expect("serializes");
            out
        }
    }

    /// A failing writer leaves `out` as it was, with the bytes it wrote
    /// before failing gone.
    #[test]
    fn failed_write_restores_out() {
        let mut out = String::from("kéep");
        let result = write_utf8(&mut out, |buf| {
            buf.extend_from_slice(b",partial\xff");
            Err(serde_json::Error::io(invalid_utf8()))
        });
        assert!(result.is_err());
        assert_eq!(out, "kéep");
    }
}
