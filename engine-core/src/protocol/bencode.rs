//! Strict, total bencode (BEP 3) decoding and encoding.
//!
//! Hand-written rather than taken from a crate because we need three things together: the raw
//! byte span of a dictionary value (a torrent's info-hash is the SHA-1 of the `info` dict exactly
//! as it appears in the file), strict canonical-form checks (so `encode(decode(b)) == b`), and a
//! decoder that is total and depth-limited on untrusted input from peers and trackers.
//!
//! Decoded values borrow from the input; [`Value`] holds [`Cow`]s so the same type also builds
//! owned values for writing.

use std::borrow::Cow;
use std::collections::BTreeMap;

/// Nesting limit of [`Options::default`]: far deeper than any real torrent, message or tracker
/// response, and shallow enough that recursion cannot exhaust the stack.
pub const DEFAULT_MAX_DEPTH: u32 = 64;

/// A bencoded value. Dictionary keys are raw byte strings, kept sorted by the map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    Int(i64),
    Bytes(Cow<'a, [u8]>),
    List(Vec<Value<'a>>),
    Dict(BTreeMap<Cow<'a, [u8]>, Value<'a>>),
}

/// Why decoding failed; see [`BencodeError`] for where.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    #[error("unexpected end of input")]
    UnexpectedEof,
    #[error("unexpected byte 0x{0:02x}")]
    UnexpectedByte(u8),
    #[error("integer has no digits")]
    EmptyInteger,
    #[error("number has a leading zero")]
    LeadingZero,
    #[error("integer is -0")]
    NegativeZero,
    #[error("integer overflows i64")]
    IntegerOverflow,
    #[error("string length overflows")]
    LengthOverflow,
    #[error("dictionary key is not a byte string")]
    NonStringKey,
    #[error("dictionary keys are not sorted")]
    UnsortedKey,
    #[error("duplicate dictionary key")]
    DuplicateKey,
    #[error("nesting deeper than {0} levels")]
    TooDeep(u32),
    #[error("trailing data after the value")]
    TrailingData,
    #[error("top-level value is not a dictionary")]
    NotADict,
}

/// A decoding failure and the byte offset at which it was detected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("bencode: {kind} at byte {offset}")]
pub struct BencodeError {
    pub offset: usize,
    pub kind: ErrorKind,
}

/// Decoder settings. The default is strict BEP 3 with [`DEFAULT_MAX_DEPTH`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    pub max_depth: u32,
    /// Accept dictionaries whose keys are out of order (duplicates are still rejected, since
    /// they make the meaning ambiguous). Some real torrents and clients emit unsorted keys.
    pub allow_unsorted_keys: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_depth: DEFAULT_MAX_DEPTH,
            allow_unsorted_keys: false,
        }
    }
}

impl Options {
    /// Strict except for key order: for input written by other implementations.
    pub fn lenient() -> Self {
        Options {
            allow_unsorted_keys: true,
            ..Options::default()
        }
    }
}

/// A top-level dictionary whose values carry the raw bytes they were decoded from.
pub type SpannedDict<'a> = BTreeMap<&'a [u8], (Value<'a>, &'a [u8])>;

/// Decodes exactly one strict value spanning all of `buf`.
pub fn decode(buf: &[u8]) -> Result<Value<'_>, BencodeError> {
    decode_with(buf, &Options::default())
}

/// Decodes exactly one value spanning all of `buf`.
pub fn decode_with<'a>(buf: &'a [u8], opts: &Options) -> Result<Value<'a>, BencodeError> {
    let mut p = Parser { buf, pos: 0, opts };
    let v = p.value(0)?;
    p.finish()?;
    Ok(v)
}

/// Decodes one value at the start of `buf` and returns it with the number of bytes it used;
/// for messages where bencode is followed by raw data (BEP 9 `ut_metadata` pieces).
pub fn decode_prefix<'a>(
    buf: &'a [u8],
    opts: &Options,
) -> Result<(Value<'a>, usize), BencodeError> {
    let mut p = Parser { buf, pos: 0, opts };
    let v = p.value(0)?;
    Ok((v, p.pos))
}

/// Decodes a dictionary spanning all of `buf`, keeping each value's raw encoding alongside it.
pub fn decode_dict_with_spans<'a>(
    buf: &'a [u8],
    opts: &Options,
) -> Result<SpannedDict<'a>, BencodeError> {
    let mut p = Parser { buf, pos: 0, opts };
    if p.peek()? != b'd' {
        return Err(p.err(ErrorKind::NotADict));
    }
    let mut map = BTreeMap::new();
    p.dict(0, |k, v, raw| {
        map.insert(k, (v, raw));
    })?;
    p.finish()?;
    Ok(map)
}

struct Parser<'a, 'o> {
    buf: &'a [u8],
    pos: usize,
    opts: &'o Options,
}

impl<'a> Parser<'a, '_> {
    fn err(&self, kind: ErrorKind) -> BencodeError {
        BencodeError {
            offset: self.pos,
            kind,
        }
    }

    fn peek(&self) -> Result<u8, BencodeError> {
        self.buf
            .get(self.pos)
            .copied()
            .ok_or(self.err(ErrorKind::UnexpectedEof))
    }

    fn finish(&self) -> Result<(), BencodeError> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(self.err(ErrorKind::TrailingData))
        }
    }

    fn value(&mut self, depth: u32) -> Result<Value<'a>, BencodeError> {
        match self.peek()? {
            b'i' => self.int().map(Value::Int),
            b'0'..=b'9' => self.bytes().map(|b| Value::Bytes(Cow::Borrowed(b))),
            b'l' => {
                self.enter(depth)?;
                let mut items = Vec::new();
                while self.peek()? != b'e' {
                    items.push(self.value(depth + 1)?);
                }
                self.pos += 1;
                Ok(Value::List(items))
            }
            b'd' => {
                let mut map = BTreeMap::new();
                self.dict(depth, |k, v, _| {
                    map.insert(Cow::Borrowed(k), v);
                })?;
                Ok(Value::Dict(map))
            }
            b => Err(self.err(ErrorKind::UnexpectedByte(b))),
        }
    }

    /// Consumes a container's opening byte after checking the depth limit.
    fn enter(&mut self, depth: u32) -> Result<(), BencodeError> {
        if depth >= self.opts.max_depth {
            return Err(self.err(ErrorKind::TooDeep(self.opts.max_depth)));
        }
        self.pos += 1;
        Ok(())
    }

    /// Parses a dictionary starting at `d`, handing each `(key, value, raw value bytes)` to `f`.
    fn dict(
        &mut self,
        depth: u32,
        mut f: impl FnMut(&'a [u8], Value<'a>, &'a [u8]),
    ) -> Result<(), BencodeError> {
        self.enter(depth)?;
        let mut seen: Option<std::collections::BTreeSet<&'a [u8]>> =
            self.opts.allow_unsorted_keys.then(Default::default);
        let mut prev: Option<&'a [u8]> = None;
        while self.peek()? != b'e' {
            let key_at = self.pos;
            if !self.peek()?.is_ascii_digit() {
                return Err(self.err(ErrorKind::NonStringKey));
            }
            let key = self.bytes()?;
            let order_error = match &mut seen {
                Some(seen) => (!seen.insert(key)).then_some(ErrorKind::DuplicateKey),
                None => match prev.map(|p| p.cmp(key)) {
                    Some(std::cmp::Ordering::Equal) => Some(ErrorKind::DuplicateKey),
                    Some(std::cmp::Ordering::Greater) => Some(ErrorKind::UnsortedKey),
                    _ => None,
                },
            };
            if let Some(kind) = order_error {
                return Err(BencodeError {
                    offset: key_at,
                    kind,
                });
            }
            prev = Some(key);
            let start = self.pos;
            let v = self.value(depth + 1)?;
            f(key, v, &self.buf[start..self.pos]);
        }
        self.pos += 1;
        Ok(())
    }

    fn int(&mut self) -> Result<i64, BencodeError> {
        self.pos += 1; // 'i'
        let negative = self.peek()? == b'-';
        if negative {
            self.pos += 1;
        }
        let digits_at = self.pos;
        let mut n: i64 = 0;
        loop {
            let b = self.peek()?;
            match b {
                b'0'..=b'9' => {
                    if self.pos > digits_at && n == 0 {
                        return Err(BencodeError {
                            offset: digits_at,
                            kind: ErrorKind::LeadingZero,
                        });
                    }
                    let d = i64::from(b - b'0');
                    // Accumulate negative numbers downwards so i64::MIN is representable.
                    n = n
                        .checked_mul(10)
                        .and_then(|n| {
                            if negative {
                                n.checked_sub(d)
                            } else {
                                n.checked_add(d)
                            }
                        })
                        .ok_or(self.err(ErrorKind::IntegerOverflow))?;
                    self.pos += 1;
                }
                b'e' if self.pos == digits_at => return Err(self.err(ErrorKind::EmptyInteger)),
                b'e' => {
                    if negative && n == 0 {
                        return Err(BencodeError {
                            offset: digits_at,
                            kind: ErrorKind::NegativeZero,
                        });
                    }
                    self.pos += 1;
                    return Ok(n);
                }
                b => return Err(self.err(ErrorKind::UnexpectedByte(b))),
            }
        }
    }

    fn bytes(&mut self) -> Result<&'a [u8], BencodeError> {
        let digits_at = self.pos;
        let mut len: usize = 0;
        loop {
            match self.peek()? {
                b @ b'0'..=b'9' => {
                    if self.pos > digits_at && len == 0 {
                        return Err(BencodeError {
                            offset: digits_at,
                            kind: ErrorKind::LeadingZero,
                        });
                    }
                    len = len
                        .checked_mul(10)
                        .and_then(|l| l.checked_add(usize::from(b - b'0')))
                        .ok_or(self.err(ErrorKind::LengthOverflow))?;
                    self.pos += 1;
                }
                b':' if self.pos > digits_at => break,
                b => return Err(self.err(ErrorKind::UnexpectedByte(b))),
            }
        }
        self.pos += 1; // ':'
        let s = self
            .pos
            .checked_add(len)
            .and_then(|end| self.buf.get(self.pos..end))
            .ok_or(BencodeError {
                offset: self.buf.len(),
                kind: ErrorKind::UnexpectedEof,
            })?;
        self.pos += len;
        Ok(s)
    }
}

/// Appends the canonical encoding of `v` (dict keys come out sorted because the map is).
pub fn encode(v: &Value<'_>, out: &mut Vec<u8>) {
    match v {
        Value::Int(n) => {
            out.push(b'i');
            out.extend_from_slice(n.to_string().as_bytes());
            out.push(b'e');
        }
        Value::Bytes(b) => encode_bytes(b, out),
        Value::List(items) => {
            out.push(b'l');
            items.iter().for_each(|i| encode(i, out));
            out.push(b'e');
        }
        Value::Dict(map) => {
            out.push(b'd');
            for (k, v) in map {
                encode_bytes(k, out);
                encode(v, out);
            }
            out.push(b'e');
        }
    }
}

fn encode_bytes(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

/// Builders and accessors. Accessors return `None` on a type mismatch so callers can map that
/// to their own "wrong type" error.
impl<'a> Value<'a> {
    /// The canonical encoding as a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        encode(self, &mut out);
        out
    }

    /// An owned byte string.
    pub fn bytes(b: impl Into<Vec<u8>>) -> Value<'static> {
        Value::Bytes(Cow::Owned(b.into()))
    }

    /// A dictionary from `(key, value)` pairs; a later duplicate key replaces an earlier one.
    pub fn dict<K: Into<Vec<u8>>>(entries: impl IntoIterator<Item = (K, Value<'a>)>) -> Self {
        Value::Dict(
            entries
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into()), v))
                .collect(),
        )
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The byte string as UTF-8, or `None` if it is not a string or not valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    pub fn as_list(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    pub fn as_dict(&self) -> Option<&BTreeMap<Cow<'a, [u8]>, Value<'a>>> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// `self[key]` if `self` is a dictionary holding `key`.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.as_dict().and_then(|d| d.get(key.as_bytes()))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn arb_value() -> impl Strategy<Value = Value<'static>> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(Value::Int),
            proptest::collection::vec(any::<u8>(), 0..12).prop_map(Value::bytes),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
                proptest::collection::vec(
                    (proptest::collection::vec(any::<u8>(), 0..6), inner),
                    0..6
                )
                .prop_map(Value::dict),
            ]
        })
    }

    fn err(buf: &[u8]) -> (usize, ErrorKind) {
        let e = decode(buf).expect_err("should fail");
        (e.offset, e.kind)
    }

    #[test]
    fn decodes_basic_values() {
        assert_eq!(decode(b"i42e"), Ok(Value::Int(42)));
        assert_eq!(decode(b"i-7e"), Ok(Value::Int(-7)));
        assert_eq!(decode(b"i0e"), Ok(Value::Int(0)));
        assert_eq!(decode(b"0:"), Ok(Value::bytes(b"".to_vec())));
        assert_eq!(decode(b"4:spam"), Ok(Value::bytes("spam")));
        assert_eq!(
            decode(b"d3:cow3:moo4:spaml1:a1:bee"),
            Ok(Value::dict([
                ("cow", Value::bytes("moo")),
                (
                    "spam",
                    Value::List(vec![Value::bytes("a"), Value::bytes("b")])
                ),
            ]))
        );
        assert_eq!(decode(b"i-9223372036854775808e"), Ok(Value::Int(i64::MIN)));
        assert_eq!(decode(b"i9223372036854775807e"), Ok(Value::Int(i64::MAX)));
    }

    #[test]
    fn rejects_non_canonical_and_malformed() {
        assert_eq!(err(b"i03e"), (1, ErrorKind::LeadingZero));
        assert_eq!(err(b"i-0e"), (2, ErrorKind::NegativeZero));
        assert_eq!(err(b"i-e"), (2, ErrorKind::EmptyInteger));
        assert_eq!(err(b"ie"), (1, ErrorKind::EmptyInteger));
        assert_eq!(
            err(b"i9223372036854775808e"),
            (19, ErrorKind::IntegerOverflow)
        );
        assert_eq!(err(b"i1"), (2, ErrorKind::UnexpectedEof));
        assert_eq!(err(b"i1.5e"), (2, ErrorKind::UnexpectedByte(b'.')));
        assert_eq!(err(b"03:abc"), (0, ErrorKind::LeadingZero));
        assert_eq!(err(b"5:abc"), (5, ErrorKind::UnexpectedEof));
        assert_eq!(
            err(b"99999999999999999999999:"),
            (19, ErrorKind::LengthOverflow)
        );
        assert_eq!(err(b":"), (0, ErrorKind::UnexpectedByte(b':')));
        assert_eq!(err(b"i1ei2e"), (3, ErrorKind::TrailingData));
        assert_eq!(err(b""), (0, ErrorKind::UnexpectedEof));
        assert_eq!(err(b"l"), (1, ErrorKind::UnexpectedEof));
        assert_eq!(err(b"di1ei2ee"), (1, ErrorKind::NonStringKey));
        assert_eq!(err(b"d1:b1:x1:a1:xe"), (7, ErrorKind::UnsortedKey));
        assert_eq!(err(b"d1:a1:x1:a1:ye"), (7, ErrorKind::DuplicateKey));
    }

    #[test]
    fn lenient_accepts_unsorted_keys_but_not_duplicates() {
        let lenient = Options::lenient();
        let v = decode_with(b"d1:bi2e1:ai1ee", &lenient).expect("unsorted is fine");
        assert_eq!(v.get("a").and_then(Value::as_int), Some(1));
        assert_eq!(v.to_bytes(), b"d1:ai1e1:bi2ee");
        let e = decode_with(b"d1:bi2e1:ai1e1:bi3ee", &lenient).expect_err("duplicate");
        assert_eq!((e.offset, e.kind), (13, ErrorKind::DuplicateKey));
    }

    #[test]
    fn depth_limit() {
        let ok = [vec![b'l'; 64], vec![b'e'; 64]].concat();
        assert!(decode(&ok).is_ok());
        let deep = [vec![b'l'; 65], vec![b'e'; 65]].concat();
        assert_eq!(err(&deep), (64, ErrorKind::TooDeep(64)));
        // A million nested lists must fail fast rather than overflow the stack.
        let huge = vec![b'l'; 1_000_000];
        assert_eq!(err(&huge), (64, ErrorKind::TooDeep(64)));
    }

    #[test]
    fn spans_and_prefix() {
        let buf = b"d4:infod1:xi1ee3:zzzi5ee";
        let d = decode_dict_with_spans(buf, &Options::default()).expect("valid");
        let (info, raw) = &d[&b"info"[..]];
        assert_eq!(*raw, b"d1:xi1ee");
        assert_eq!(info.get("x").and_then(Value::as_int), Some(1));
        assert_eq!(d[&b"zzz"[..]].1, b"i5e");
        assert_eq!(
            decode_dict_with_spans(b"li1ee", &Options::default()).map(|_| ()),
            Err(BencodeError {
                offset: 0,
                kind: ErrorKind::NotADict
            })
        );
        let (v, used) = decode_prefix(b"d1:ai1eeRAW", &Options::default()).expect("valid");
        assert_eq!((v.get("a").and_then(Value::as_int), used), (Some(1), 8));
    }

    #[test]
    fn error_message_names_offset() {
        assert_eq!(
            decode(b"i03e").expect_err("leading zero").to_string(),
            "bencode: number has a leading zero at byte 1"
        );
    }

    proptest! {
        #[test]
        fn round_trips(v in arb_value()) {
            let bytes = v.to_bytes();
            prop_assert_eq!(decode(&bytes), Ok(v));
        }

        /// The lenient decoder and the prefix decoder give back the same value, the latter
        /// claiming exactly the encoding and not what follows it.
        #[test]
        fn round_trips_leniently_and_as_prefix(v in arb_value(), tail in proptest::collection::vec(any::<u8>(), 0..8)) {
            let mut bytes = v.to_bytes();
            let n = bytes.len();
            prop_assert_eq!(decode_with(&bytes, &Options::lenient()), Ok(v.clone()));
            bytes.extend_from_slice(&tail);
            prop_assert_eq!(decode_prefix(&bytes, &Options::default()), Ok((v, n)));
        }

        /// Strict decoding accepts only canonical encodings, so re-encoding is the identity.
        #[test]
        fn decoder_is_total_and_canonical(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(v) = decode(&bytes) {
                prop_assert_eq!(v.to_bytes(), bytes);
            }
        }

        /// Random bytes rarely parse; corrupting valid encodings explores the interesting paths.
        #[test]
        fn corrupted_encodings_are_total_and_canonical(
            v in arb_value(),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = v.to_bytes();
            let i = at.index(bytes.len());
            bytes[i] = byte;
            bytes.truncate(cut.index(bytes.len() + 1));
            for opts in [Options::default(), Options::lenient()] {
                if let Ok(v) = decode_with(&bytes, &opts) {
                    if !opts.allow_unsorted_keys {
                        prop_assert_eq!(v.to_bytes(), bytes.clone());
                    }
                }
                let _ = decode_prefix(&bytes, &opts);
                let _ = decode_dict_with_spans(&bytes, &opts);
            }
        }
    }
}
