//! The arguments of a received EVENT, split without being parsed.
//!
//! Building a `serde_json::Value` tree for every event (an array, an object
//! per map, a `String` per string) is most of the cost of receiving one, and
//! a handler that decodes into its own types throws the tree away. So the
//! data array of an EVENT is only checked and cut into the byte ranges of
//! its elements here; `Event` parses them when, and as, it is asked to.
//!
//! Checking and cutting are two passes over the text, on purpose:
//! [`validate`] runs serde_json's own parser with a visitor that builds
//! nothing, so exactly the texts that parse into a `Value` are accepted
//! (same depth limit, same number range, same string escapes) and the values
//! built later from the ranges cannot fail; [`split_array`] then only has to
//! find the top-level commas of text known to be valid JSON.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A byte range `start..end` of a JSON text.
pub(crate) type Span = (usize, usize);

/// How many spans a [`Spans`] holds without allocating: an event name, two
/// arguments and an offset, the common shape.
const INLINE: usize = 4;

/// The byte ranges of the elements of one JSON array, in order; the first
/// few are stored inline, since one list is made per received event.
#[derive(Clone, Debug)]
pub(crate) enum Spans {
    /// Up to [`INLINE`] spans: the count and the slots.
    Inline(usize, [Span; INLINE]),
    /// More than [`INLINE`].
    Heap(Vec<Span>),
}

impl Default for Spans {
    fn default() -> Self {
        Spans::Inline(0, [(0, 0); INLINE])
    }
}

impl Spans {
    /// The spans, in order.
    pub(crate) fn as_slice(&self) -> &[Span] {
        match self {
            Spans::Inline(len, items) => items.get(..*len).unwrap_or_default(),
            Spans::Heap(items) => items,
        }
    }

    /// Appends `span`, moving to the heap past [`INLINE`] spans.
    fn push(&mut self, span: Span) {
        match self {
            Spans::Inline(len, items) => {
                if let Some(slot) = items.get_mut(*len) {
                    *slot = span;
                    *len += 1;
                } else {
                    let mut heap = Vec::with_capacity(INLINE * 2);
                    heap.extend_from_slice(items);
                    heap.push(span);
                    *self = Spans::Heap(heap);
                }
            }
            Spans::Heap(items) => items.push(span),
        }
    }

    /// Removes and returns the last span.
    pub(crate) fn pop(&mut self) -> Option<Span> {
        match self {
            Spans::Inline(len, items) => {
                let last = len.checked_sub(1)?;
                let span = *items.get(last)?;
                *len = last;
                Some(span)
            }
            Spans::Heap(items) => items.pop(),
        }
    }
}

/// A string taken from a JSON text: where it stands in the text when it has
/// no escapes, so that it costs no copy, or its unescaped value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Text {
    /// The string's characters are these bytes of the text, between its quotes.
    At(Span),
    /// The unescaped string, for one written with `\` escapes.
    Owned(Box<str>),
}

impl Text {
    /// The string, `json` being the text the span refers to.
    pub(crate) fn get<'a>(&'a self, json: &'a str) -> &'a str {
        match self {
            Text::At((start, end)) => json.get(*start..*end).unwrap_or_default(),
            Text::Owned(s) => s,
        }
    }

    /// The string value of the element at `span` of `json`, if it is a
    /// JSON string; `json` must have passed [`validate`].
    pub(crate) fn of(json: &str, (start, end): Span) -> Option<Text> {
        let element = json.get(start..end)?;
        let inner = element.strip_prefix('"')?.strip_suffix('"')?;
        if inner.contains('\\') {
            // Valid JSON, so this parses; `None` (not a string) otherwise.
            serde_json::from_str::<String>(element)
                .ok()
                .map(|s| Text::Owned(s.into_boxed_str()))
        } else {
            // Valid JSON: without escapes, the bytes between the quotes are
            // the string (no quote or control character can stand there).
            Some(Text::At((start + 1, end - 1)))
        }
    }
}

/// Checks that `json` is exactly one JSON value that `serde_json::Value`
/// would accept, building nothing, and fails with the error that parsing it
/// into a `Value` would give.
pub(crate) fn validate(json: &str) -> Result<(), serde_json::Error> {
    serde_json::from_str::<Valid>(json).map(|Valid| ())
}

/// A JSON value that was checked and dropped.
///
/// It is deserialized through `deserialize_any`, as `serde_json::Value` is,
/// with every nested value deserialized the same way. serde_json's own
/// `IgnoredAny` would be cheaper but skips values without the checks a
/// `Value` gets (nesting depth, number range, escapes), so texts that a
/// `Value` refuses would pass.
struct Valid;

impl<'de> Deserialize<'de> for Valid {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Valid)
    }
}

impl<'de> Visitor<'de> for Valid {
    type Value = Valid;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Valid, E> {
        Ok(Valid)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Valid, E> {
        Ok(Valid)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Valid, E> {
        Ok(Valid)
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<Valid, E> {
        Ok(Valid)
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<Valid, E> {
        Ok(Valid)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Valid, E> {
        Ok(Valid)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Valid, E> {
        Ok(Valid)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Valid, E> {
        Ok(Valid)
    }

    fn visit_none<E: de::Error>(self) -> Result<Valid, E> {
        Ok(Valid)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Valid, D::Error> {
        Valid::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Valid, A::Error> {
        while seq.next_element::<Valid>()?.is_some() {}
        Ok(Valid)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Valid, A::Error> {
        while map.next_key::<Valid>()?.is_some() {
            map.next_value::<Valid>()?;
        }
        Ok(Valid)
    }
}

/// Index of the first byte at or after `at` that is not JSON whitespace.
fn skip_ws(bytes: &[u8], mut at: usize) -> usize {
    while matches!(bytes.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

/// `end` moved back over JSON whitespace, but not before `start`.
fn trim_ws(bytes: &[u8], start: usize, mut end: usize) -> usize {
    while end > start && matches!(bytes.get(end - 1), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        end -= 1;
    }
    end
}

/// The byte ranges of the top-level elements of `json`, if it is an array
/// (surrounding whitespace allowed); `None` for any other value.
///
/// `json` must have passed [`validate`]: this only tracks strings and
/// brackets to find the commas between elements, and trusts everything else.
/// On other text it still returns without panicking, with spans that may
/// be meaningless.
pub(crate) fn split_array(json: &str) -> Option<Spans> {
    let bytes = json.as_bytes();
    let mut at = skip_ws(bytes, 0);
    if bytes.get(at) != Some(&b'[') {
        return None;
    }
    at = skip_ws(bytes, at + 1);
    let mut spans = Spans::default();
    if bytes.get(at) == Some(&b']') {
        return Some(spans);
    }
    let mut start = at;
    let mut depth = 0usize;
    while let Some(&b) = bytes.get(at) {
        match b {
            b'"' => {
                // Skip to the closing quote; `\` escapes the byte after it.
                at += 1;
                while let Some(&c) = bytes.get(at) {
                    match c {
                        b'"' => break,
                        b'\\' => at += 2,
                        _ => at += 1,
                    }
                }
            }
            b'[' | b'{' => depth += 1,
            b']' | b'}' if depth > 0 => depth -= 1,
            b']' | b'}' => {
                spans.push((start, trim_ws(bytes, start, at)));
                return Some(spans);
            }
            b',' if depth == 0 => {
                spans.push((start, trim_ws(bytes, start, at)));
                start = skip_ws(bytes, at + 1);
                at = start;
                continue;
            }
            _ => {}
        }
        at += 1;
    }
    // Unterminated: not valid JSON, which callers never pass.
    Some(spans)
}

/// Deepest nesting [`split_simple`] handles; deeper text goes to
/// serde_json, well before its own limit of 128.
const SIMPLE_DEPTH: u32 = 64;

/// Checks and splits `json` in one pass, if it is a JSON array written in a
/// plain subset of JSON: strings without `\u` escapes, integers of at most
/// 18 digits, decimals without exponent of at most 18 digits on each side
/// of the point, nesting at most [`SIMPLE_DEPTH`] deep. Anything else
/// (another value, any invalid text, anything outside the subset) gives
/// `None`, and the caller falls back to [`validate`] and [`split_array`],
/// whose verdict and error are serde_json's own.
///
/// The subset is what servers send in practice, and every text in it is
/// one that serde_json parses into a `Value` (no number in it can overflow
/// an `f64`, no escape can be a lone surrogate): `Some` is only ever
/// returned for text the slow path would accept, with the same spans (the
/// tests check both on every input they have).
pub(crate) fn split_simple(json: &str) -> Option<Spans> {
    let bytes = json.as_bytes();
    let mut at = skip_ws(bytes, 0);
    if bytes.get(at) != Some(&b'[') {
        return None;
    }
    // One bit per open container, set for objects; the outer array is depth 1.
    let mut objects: u64 = 0;
    let mut depth: u32 = 1;
    at = skip_ws(bytes, at + 1);
    let mut spans = Spans::default();
    if bytes.get(at) == Some(&b']') {
        return (skip_ws(bytes, at + 1) == bytes.len()).then_some(spans);
    }
    let mut start = at;
    loop {
        // A value starts at `at` (whitespace skipped).
        match *bytes.get(at)? {
            b'"' => at = simple_string(bytes, at)?,
            b'-' | b'0'..=b'9' => at = simple_number(bytes, at)?,
            b't' => at = literal(bytes, at, b"true")?,
            b'f' => at = literal(bytes, at, b"false")?,
            b'n' => at = literal(bytes, at, b"null")?,
            open @ (b'[' | b'{') => {
                if depth >= SIMPLE_DEPTH {
                    return None;
                }
                let bit = 1u64 << depth;
                if open == b'{' {
                    objects |= bit;
                } else {
                    objects &= !bit;
                }
                depth += 1;
                at = skip_ws(bytes, at + 1);
                match (open, bytes.get(at)) {
                    (b'[', Some(b']')) | (b'{', Some(b'}')) => {
                        depth -= 1;
                        at += 1;
                    }
                    (b'[', _) => continue,
                    _ => {
                        at = simple_key(bytes, at)?;
                        continue;
                    }
                }
            }
            _ => return None,
        }
        // A value ends at `at`: close containers, or go on to the next value.
        loop {
            if depth == 1 {
                spans.push((start, at));
            }
            at = skip_ws(bytes, at);
            let in_object = objects & (1u64 << (depth - 1)) != 0;
            match (bytes.get(at), in_object) {
                (Some(b','), false) => {
                    at = skip_ws(bytes, at + 1);
                    if depth == 1 {
                        start = at;
                    }
                    break;
                }
                (Some(b','), true) => {
                    at = simple_key(bytes, skip_ws(bytes, at + 1))?;
                    break;
                }
                (Some(b']'), false) | (Some(b'}'), true) => {
                    depth -= 1;
                    at += 1;
                    if depth == 0 {
                        return (skip_ws(bytes, at) == bytes.len()).then_some(spans);
                    }
                    // The container is a value that ends here.
                    continue;
                }
                _ => return None,
            }
        }
    }
}

/// The index after the plain JSON string starting at `at` (on its quote):
/// no control characters, escapes other than `\u`.
fn simple_string(bytes: &[u8], mut at: usize) -> Option<usize> {
    at += 1;
    loop {
        at = plain_run(bytes, at);
        match *bytes.get(at)? {
            b'"' => return Some(at + 1),
            b'\\' => match *bytes.get(at + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => at += 2,
                _ => return None,
            },
            0..=0x1f => return None,
            _ => at += 1,
        }
    }
}

/// The index of the first byte at or after `at` that a JSON string must
/// look at (`"`, `\\` or a control character), or where the last whole
/// word of eight bytes ends: eight bytes are looked at in one step, which
/// pays off on long strings.
fn plain_run(bytes: &[u8], mut at: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    const QUOTE: u64 = u64::from_ne_bytes([b'"'; 8]);
    const BACKSLASH: u64 = u64::from_ne_bytes([b'\\'; 8]);
    const SPACE: u64 = u64::from_ne_bytes([0x20; 8]);
    while let Some(word) = bytes.get(at..at + 8) {
        let mut eight = [0; 8];
        eight.copy_from_slice(word);
        let word = u64::from_le_bytes(eight);
        // The high bit of a byte is set where the byte is zero (after the
        // xor: the quote or the backslash) or below 0x20. A borrow only
        // runs upwards from a byte that is found, so the lowest one found
        // is the first such byte.
        let zero_if_quote = word ^ QUOTE;
        let zero_if_backslash = word ^ BACKSLASH;
        let found = (zero_if_quote.wrapping_sub(ONES) & !zero_if_quote
            | zero_if_backslash.wrapping_sub(ONES) & !zero_if_backslash
            | word.wrapping_sub(SPACE) & !word)
            & HIGH;
        if found != 0 {
            return at + (found.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at
}

/// The index after `: ` following the plain string key at `at`, where the
/// key's value starts.
fn simple_key(bytes: &[u8], at: usize) -> Option<usize> {
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    let at = skip_ws(bytes, simple_string(bytes, at)?);
    (bytes.get(at) == Some(&b':')).then(|| skip_ws(bytes, at + 1))
}

/// The index after the plain number starting at `at`:
/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?`, at most 18 digits on each side of the
/// point, so that it cannot overflow.
fn simple_number(bytes: &[u8], mut at: usize) -> Option<usize> {
    if bytes.get(at) == Some(&b'-') {
        at += 1;
    }
    let digits = |from: usize| {
        bytes.get(from..).map_or(0, |rest| {
            rest.iter().take_while(|b| b.is_ascii_digit()).count()
        })
    };
    let int = digits(at);
    if int == 0 || int > 18 || (int > 1 && bytes.get(at) == Some(&b'0')) {
        return None;
    }
    at += int;
    if bytes.get(at) == Some(&b'.') {
        let frac = digits(at + 1);
        if frac == 0 || frac > 18 {
            return None;
        }
        at += 1 + frac;
    }
    match bytes.get(at) {
        Some(b'e' | b'E' | b'.') => None,
        _ => Some(at),
    }
}

/// The index after the literal `word` at `at`.
fn literal(bytes: &[u8], at: usize, word: &[u8]) -> Option<usize> {
    let end = at + word.len();
    (bytes.get(at..end) == Some(word)).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The elements of `json` as text, per [`split_array`].
    fn split(json: &str) -> Option<Vec<&str>> {
        let spans = split_array(json)?;
        Some(
            spans
                .as_slice()
                .iter()
                .map(|&(s, e)| json.get(s..e).expect("in bounds"))
                .collect(),
        )
    }

    #[test]
    fn split_table() {
        let table: &[(&str, Option<&[&str]>)] = &[
            (
                r#"["foo","bar","Q8FtvoZ"]"#,
                Some(&[r#""foo""#, r#""bar""#, r#""Q8FtvoZ""#]),
            ),
            (
                r#"["tick",7,{"user":"alice","text":"hello world"},"Q8Ftu7"]"#,
                Some(&[
                    r#""tick""#,
                    "7",
                    r#"{"user":"alice","text":"hello world"}"#,
                    r#""Q8Ftu7""#,
                ]),
            ),
            (r#"["withack",1]"#, Some(&[r#""withack""#, "1"])),
            (
                r#"["bin2",{"buf":{"_placeholder":true,"num":0},"s":"t"},{"_placeholder":true,"num":1},"Q8FtvqR"]"#,
                Some(&[
                    r#""bin2""#,
                    r#"{"buf":{"_placeholder":true,"num":0},"s":"t"}"#,
                    r#"{"_placeholder":true,"num":1}"#,
                    r#""Q8FtvqR""#,
                ]),
            ),
            ("[]", Some(&[])),
            (" [ ] ", Some(&[])),
            (
                " [ \"x\" , 1 ,\n[ 2 , 3 ] ]\t",
                Some(&["\"x\"", "1", "[ 2 , 3 ]"]),
            ),
            (
                r#"["a,b","c]d","e{f","g\"h,","i\\",[","],{"k,":"]"}]"#,
                Some(&[
                    r#""a,b""#,
                    r#""c]d""#,
                    r#""e{f""#,
                    r#""g\"h,""#,
                    r#""i\\""#,
                    r#"[","]"#,
                    r#"{"k,":"]"}"#,
                ]),
            ),
            (
                r#"["é😀",-1.5e3,true,false,null]"#,
                Some(&[r#""é😀""#, "-1.5e3", "true", "false", "null"]),
            ),
            ("[[[[[]]]],{}]", Some(&["[[[[]]]]", "{}"])),
            (
                "[1,2,3,4,5,6,7,8,9]",
                Some(&["1", "2", "3", "4", "5", "6", "7", "8", "9"]),
            ),
            ("{}", None),
            (r#""x""#, None),
            ("1", None),
            ("", None),
            ("  ", None),
        ];
        for (json, want) in table {
            validate(json)
                .or_else(|e| if want.is_none() { Ok(()) } else { Err(e) })
                .expect(json);
            assert_eq!(split(json).as_deref(), *want, "{json}");
            fast_agrees(json);
            if let Some(want) = want {
                // The spans cut out exactly the values serde_json sees.
                let Ok(Value::Array(values)) = serde_json::from_str::<Value>(json) else {
                    panic!("{json} is an array");
                };
                let parsed: Vec<Value> = want
                    .iter()
                    .map(|s| serde_json::from_str(s).expect("an element"))
                    .collect();
                assert_eq!(parsed, values, "{json}");
            }
        }
    }

    /// `validate` accepts exactly what `Value` accepts, with the same error.
    #[test]
    fn validate_is_value_parsing() {
        let deep_ok = format!("[\"x\",{}{}]", "[".repeat(126), "]".repeat(126));
        let deep_bad = format!("[\"x\",{}{}]", "[".repeat(127), "]".repeat(127));
        let deep_obj = format!("[\"x\",{}1{}]", "{\"k\":".repeat(127), "}".repeat(127));
        let table: Vec<&str> = vec![
            r#"["x"]"#,
            r#"["x",1,{"a":[1,2,{"b":null}]},"o"]"#,
            "[",
            "]",
            "[1,]",
            "[1 2]",
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{1:2}"#,
            r#"["x",1e400]"#,
            r#"["x",-1e400]"#,
            r#"["x",1e-400]"#,
            r#"["x",18446744073709551616]"#,
            r#"["x",-9223372036854775809]"#,
            r#"["x",01]"#,
            r#"["x",1.]"#,
            r#"["x",.5]"#,
            r#"["x",+1]"#,
            r#"["x","\ud800"]"#,
            r#"["x","\udc00"]"#,
            r#"["x","\ud83d\ude00"]"#,
            r#"["x","\u00e9\n\t\/"]"#,
            r#"["x","\x"]"#,
            "[\"x\",\"a\u{1}b\"]",
            "[\"x\",\"a\tb\"]",
            r#"["x",tru]"#,
            r#"["x",nul]"#,
            r#"["x"] x"#,
            r#"["x"]]"#,
            "[\"x\"]\n",
            "",
            " ",
            &deep_ok,
            &deep_bad,
            &deep_obj,
        ];
        for json in table {
            fast_agrees(json);
            let value = serde_json::from_str::<Value>(json).map(drop);
            let valid = validate(json);
            assert_eq!(
                valid.as_ref().map_err(ToString::to_string),
                value.as_ref().map_err(ToString::to_string),
                "{json}"
            );
        }
    }

    /// [`split_simple`] answers only for text the slow path accepts, with
    /// the slow path's spans. Returns whether it answered.
    fn fast_agrees(json: &str) -> bool {
        let Some(fast) = split_simple(json) else {
            return false;
        };
        assert!(
            validate(json).is_ok(),
            "fast path accepted invalid {json:?}"
        );
        let slow = split_array(json).expect("an array");
        assert_eq!(fast.as_slice(), slow.as_slice(), "{json:?}");
        true
    }

    #[test]
    fn fast_path_table() {
        let deep = |n: usize| format!("[{}{}]", "[".repeat(n), "]".repeat(n));
        // (text, whether the one-pass splitter takes it)
        let table: Vec<(String, bool)> = vec![
            (
                r#"["tick",7,{"user":"alice","text":"hello world"},"Q8Ftu7"]"#.into(),
                true,
            ),
            (r#"["foo","bar","Q8FtvoZ"]"#.into(), true),
            (
                r#"["x",-0,0,1.5,-12.25,123456789012345678,true,false,null]"#.into(),
                true,
            ),
            (
                r#"["a\"b\\c\/d\n\r\t\b\f","é😀",{},[],{"k":{"k":[{}]}}]"#.into(),
                true,
            ),
            (" [ \"x\" , { \"a\" : [ 1 , 2 ] } ] \n".into(), true),
            ("[]".into(), true),
            (deep(63), true),
            (deep(64), false),
            (deep(200), false),
            (r#"["x","\u00e9"]"#.into(), false),
            (r#"["x",1e5]"#.into(), false),
            (r#"["x",1E5]"#.into(), false),
            (r#"["x",1.5e-3]"#.into(), false),
            (r#"["x",1234567890123456789]"#.into(), false),
            (r#"["x",0.1234567890123456789]"#.into(), false),
            (r#"["x",1e400]"#.into(), false),
            (r#"{"x":1}"#.into(), false),
            (r#""x""#.into(), false),
            ("[1,]".into(), false),
            ("[,1]".into(), false),
            ("[1 2]".into(), false),
            ("[01]".into(), false),
            ("[-01]".into(), false),
            ("[1.]".into(), false),
            ("[.5]".into(), false),
            ("[+1]".into(), false),
            ("[-]".into(), false),
            ("[1.5.5]".into(), false),
            ("[tru]".into(), false),
            ("[truex]".into(), false),
            ("[nul]".into(), false),
            ("[\"a\u{1}\"]".into(), false),
            ("[\"a\u{7f}\"]".into(), true),
            (r#"["\x"]"#.into(), false),
            (r#"[{"a"}]"#.into(), false),
            (r#"[{"a":}]"#.into(), false),
            (r#"[{"a":1,}]"#.into(), false),
            (r#"[{1:1}]"#.into(), false),
            (r#"[{"a":1]]"#.into(), false),
            (r#"[[1}]"#.into(), false),
            ("[1]]".into(), false),
            ("[1] x".into(), false),
            ("[1".into(), false),
            ("[".into(), false),
            ("".into(), false),
        ];
        for (json, fast) in table {
            assert_eq!(fast_agrees(&json), fast, "{json}");
        }
    }

    /// A little xorshift generator, so the random tests need no crate and
    /// run the same every time.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    /// Appends a random JSON value (mostly valid, in and out of the plain
    /// subset), with random whitespace.
    fn random_value(rng: &mut Rng, out: &mut String, depth: usize) {
        const WS: &[&str] = &["", "", "", " ", "\n", " \t"];
        const STRINGS: &[&str] = &[
            "",
            "a",
            "tick",
            "é😀",
            r#"\""#,
            r#"\\"#,
            r#"\n"#,
            r#"\/"#,
            r#"\u00e9"#,
            r#"\ud83d\ude00"#,
            r#"\ud800"#,
            "\u{1}",
            "\u{7f}",
            r#"\q"#,
            "]",
            ",",
            "{",
        ];
        const NUMBERS: &[&str] = &[
            "0",
            "-0",
            "7",
            "-12",
            "123456789012345678",
            "1234567890123456789",
            "18446744073709551616",
            "1.5",
            "-0.25",
            "1.",
            ".5",
            "01",
            "1e5",
            "1E+2",
            "-1e-400",
            "1e400",
            "2.5e308",
            "1.7976931348623157e308",
            "+1",
            "-",
        ];
        out.push_str(rng.pick(WS));
        let kind = if depth > 4 {
            rng.below(4)
        } else {
            rng.below(6)
        };
        match kind {
            0 => {
                out.push('"');
                for _ in 0..rng.below(3) {
                    out.push_str(rng.pick(STRINGS));
                }
                out.push('"');
            }
            1 => out.push_str(rng.pick(NUMBERS)),
            2 => out.push_str(rng.pick(&["true", "false", "null", "nul", "truex"])),
            3 => out.push_str(rng.pick(NUMBERS)),
            4 => {
                out.push('[');
                for i in 0..rng.below(4) {
                    if i > 0 {
                        out.push(',');
                    }
                    random_value(rng, out, depth + 1);
                }
                out.push_str(rng.pick(WS));
                out.push(']');
            }
            _ => {
                out.push('{');
                for i in 0..rng.below(4) {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(rng.pick(WS));
                    out.push_str(rng.pick(&[r#""k""#, r#""é""#, r#""\n""#, "1", "k"]));
                    out.push_str(rng.pick(WS));
                    out.push(':');
                    random_value(rng, out, depth + 1);
                }
                out.push_str(rng.pick(WS));
                out.push('}');
            }
        }
        out.push_str(rng.pick(WS));
    }

    /// Eight bytes at a time finds what one byte at a time finds: every
    /// special byte at every place of a word, after plain ASCII, non-ASCII
    /// and DEL bytes.
    #[test]
    fn plain_run_finds_the_first_special_byte() {
        fn one_at_a_time(bytes: &[u8], mut at: usize) -> usize {
            while at + 8 <= bytes.len() {
                let word = &bytes[at..at + 8];
                if let Some(i) = word
                    .iter()
                    .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                {
                    return at + i;
                }
                at += 8;
            }
            at
        }
        for filler in ["a", "é", "\u{7f}", " ", "\u{20ac}"] {
            for special in ["\"", "\\", "\u{0}", "\u{1}", "\u{1f}", "\n"] {
                for len in 0..40 {
                    let plain: String = filler.repeat(len);
                    for cut in 0..=plain.len() {
                        if !plain.is_char_boundary(cut) {
                            continue;
                        }
                        let text = format!("{}{special}{}", &plain[..cut], &plain[cut..]);
                        for start in [0, 1, 3, 7] {
                            let bytes = text.as_bytes();
                            if start <= bytes.len() {
                                assert_eq!(
                                    plain_run(bytes, start),
                                    one_at_a_time(bytes, start),
                                    "{text:?} from {start}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    /// On random arrays, and on random edits of them, the one-pass splitter
    /// never accepts what serde_json refuses and always cuts the same spans.
    #[test]
    fn fast_path_agrees_on_random_text() {
        const EDITS: &[&str] = &[
            "[", "]", "{", "}", ",", ":", "\"", "\\", " ", "0", "-", ".", "e", "é", "\u{1}",
        ];
        let mut rng = Rng(0x5eed_1234_abcd_0042);
        let (mut valid, mut fast) = (0, 0);
        for _ in 0..60_000 {
            let mut json = String::from("[\"ev\"");
            for _ in 0..rng.below(4) {
                json.push(',');
                random_value(&mut rng, &mut json, 1);
            }
            json.push(']');
            for _ in 0..rng.below(3) {
                let mut chars: Vec<char> = json.chars().collect();
                let at = rng.below(chars.len() + 1);
                match rng.below(3) {
                    0 if at < chars.len() => {
                        chars.remove(at);
                    }
                    1 if at < chars.len() => {
                        chars[at] = rng.pick(EDITS).chars().next().unwrap_or(' ')
                    }
                    _ => chars.splice(at..at, rng.pick(EDITS).chars()).for_each(drop),
                }
                json = chars.into_iter().collect();
            }
            valid += usize::from(validate(&json).is_ok());
            fast += usize::from(fast_agrees(&json));
        }
        // Both paths were well exercised.
        assert!(
            valid > 10_000 && fast > 5_000 && valid > fast + 2_000,
            "{valid} {fast}"
        );
    }

    #[test]
    fn text_of_table() {
        let json = r#"["plain","a\"b","é","","\u0041",1,null]"#;
        let spans = split_array(json).expect("an array");
        let got: Vec<Option<String>> = spans
            .as_slice()
            .iter()
            .map(|&span| Text::of(json, span).map(|t| t.get(json).to_owned()))
            .collect();
        let want: Vec<Option<String>> = vec![
            Some("plain".into()),
            Some("a\"b".into()),
            Some("é".into()),
            Some(String::new()),
            Some("A".into()),
            None,
            None,
        ];
        assert_eq!(got, want);
        assert_eq!(Text::of(json, (1, 8)), Some(Text::At((2, 7))));
        assert_eq!(Text::of(json, (0, 999)), None);
        assert_eq!(Text::of(json, (2, 1)), None);
    }

    #[test]
    fn spans_push_and_pop_across_inline_and_heap() {
        let mut spans = Spans::default();
        assert_eq!(spans.pop(), None);
        for i in 0..10 {
            spans.push((i, i + 1));
            assert_eq!(spans.as_slice().len(), i + 1);
        }
        assert!(matches!(spans, Spans::Heap(_)));
        assert_eq!(spans.pop(), Some((9, 10)));
        let mut small = Spans::default();
        small.push((0, 1));
        small.push((1, 2));
        assert_eq!(small.pop(), Some((1, 2)));
        assert_eq!(small.as_slice(), &[(0, 1)]);
        assert_eq!(small.pop(), Some((0, 1)));
        assert_eq!(small.pop(), None);
    }

    /// Arbitrary text never makes the splitter panic, valid or not.
    #[test]
    fn split_never_panics() {
        let frames = [
            r#"["a\"b",{"c":[1,"]"]},"\\",null]"#,
            r#"["é😀","x"]"#,
            "[\"\\",
        ];
        for frame in frames {
            for (i, _) in frame.char_indices().chain([(frame.len(), ' ')]) {
                let _ = split_array(&frame[..i]);
                let _ = split_array(&frame[i..]);
                for c in ['"', '\\', '[', ']', '{', '}', ',', ' '] {
                    let mut mutated = frame.to_owned();
                    mutated.insert(i, c);
                    fast_agrees(&mutated);
                    if let Some(spans) = split_array(&mutated) {
                        for &(s, e) in spans.as_slice() {
                            let _ = Text::of(&mutated, (s, e));
                        }
                    }
                }
            }
        }
    }
}
