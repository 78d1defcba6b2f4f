//! Erlang's External Term Format, as Discord's gateway speaks it with
//! `encoding=etf` (the format of Discord's own `erlpack`).
//!
//! The gateway's payloads are JSON values, so this codec maps between
//! `serde_json::Value` and terms:
//! - sending: objects → maps with binary keys, strings → binaries (so
//!   snowflakes, already strings, stay strings), integers → small/32-bit
//!   integers or small bignums, floats → `NEW_FLOAT_EXT`, `null`/`true`/
//!   `false` → the atoms `nil`/`true`/`false`, arrays → lists (the empty one
//!   `NIL_EXT`);
//! - receiving, also what other encoders produce: atoms of any kind (other
//!   atoms become strings), strings as `STRING_EXT` (a list of bytes),
//!   tuples (as arrays), big integers up to 64 bits, old string floats.
//!
//! Decoding is bounded: nesting depth is capped and every length is checked
//! against the bytes left before anything is allocated, so a hostile
//! payload costs no more than its own size.

use serde_json::{Map, Number, Value};

const VERSION: u8 = 131;
const NEW_FLOAT: u8 = 70;
const SMALL_INTEGER: u8 = 97;
const INTEGER: u8 = 98;
const FLOAT: u8 = 99;
const ATOM: u8 = 100;
const SMALL_TUPLE: u8 = 104;
const LARGE_TUPLE: u8 = 105;
const NIL: u8 = 106;
const STRING: u8 = 107;
const LIST: u8 = 108;
const BINARY: u8 = 109;
const SMALL_BIG: u8 = 110;
const LARGE_BIG: u8 = 111;
const MAP: u8 = 116;
const SMALL_ATOM: u8 = 115;
const ATOM_UTF8: u8 = 118;
const SMALL_ATOM_UTF8: u8 = 119;

/// Deeper payloads are refused (the gateway's own are a few levels deep).
const MAX_DEPTH: usize = 64;

#[derive(Debug, PartialEq, Eq)]
pub struct DecodeError(pub &'static str);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid ETF: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

/// Encodes a JSON value as one ETF term, version byte first.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(VERSION);
    encode_into(value, &mut out);
    out
}

fn encode_into(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => atom("nil", out),
        Value::Bool(true) => atom("true", out),
        Value::Bool(false) => atom("false", out),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                integer(i128::from(i), out);
            } else if let Some(u) = n.as_u64() {
                integer(i128::from(u), out);
            } else {
                out.push(NEW_FLOAT);
                out.extend_from_slice(&n.as_f64().unwrap_or(0.0).to_be_bytes());
            }
        }
        Value::String(s) => binary(s.as_bytes(), out),
        Value::Array(items) if items.is_empty() => out.push(NIL),
        Value::Array(items) => {
            out.push(LIST);
            out.extend_from_slice(&(items.len() as u32).to_be_bytes());
            for item in items {
                encode_into(item, out);
            }
            out.push(NIL);
        }
        Value::Object(map) => {
            out.push(MAP);
            out.extend_from_slice(&(map.len() as u32).to_be_bytes());
            for (k, v) in map {
                binary(k.as_bytes(), out);
                encode_into(v, out);
            }
        }
    }
}

fn atom(name: &str, out: &mut Vec<u8>) {
    // erlpack writes ATOM_EXT; every decoder reads it.
    out.push(ATOM);
    out.extend_from_slice(&(name.len() as u16).to_be_bytes());
    out.extend_from_slice(name.as_bytes());
}

fn binary(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(BINARY);
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn integer(i: i128, out: &mut Vec<u8>) {
    if (0..=255).contains(&i) {
        out.extend_from_slice(&[SMALL_INTEGER, i as u8]);
    } else if i32::try_from(i).is_ok() {
        out.push(INTEGER);
        out.extend_from_slice(&(i as i32).to_be_bytes());
    } else {
        let sign = u8::from(i < 0);
        let mut magnitude = i.unsigned_abs();
        let mut digits = Vec::with_capacity(16);
        while magnitude > 0 {
            digits.push(magnitude as u8);
            magnitude >>= 8;
        }
        out.extend_from_slice(&[SMALL_BIG, digits.len() as u8, sign]);
        out.extend_from_slice(&digits);
    }
}

/// Decodes one ETF term (version byte first) into a JSON value. Trailing
/// bytes are an error.
pub fn decode(bytes: &[u8]) -> Result<Value, DecodeError> {
    let mut r = Reader { bytes, pos: 0 };
    if r.u8()? != VERSION {
        return Err(DecodeError("unknown version"));
    }
    let value = r.term(0)?;
    if r.pos != bytes.len() {
        return Err(DecodeError("trailing bytes"));
    }
    Ok(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or(DecodeError("truncated"))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<usize, DecodeError> {
        let b = self.take(2)?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }

    fn u32(&mut self) -> Result<usize, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }

    /// A count of items, each at least one byte: more than the bytes left
    /// is a lie, refused before anything is reserved for it.
    fn count(&mut self, wide: bool) -> Result<usize, DecodeError> {
        let n = if wide { self.u32()? } else { usize::from(self.u8()?) };
        if n > self.bytes.len() - self.pos {
            return Err(DecodeError("length beyond the payload"));
        }
        Ok(n)
    }

    fn term(&mut self, depth: usize) -> Result<Value, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError("nested too deeply"));
        }
        let tag = self.u8()?;
        Ok(match tag {
            SMALL_INTEGER => Value::from(self.u8()?),
            INTEGER => {
                let b = self.take(4)?;
                Value::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            }
            SMALL_BIG | LARGE_BIG => {
                let n = if tag == SMALL_BIG { usize::from(self.u8()?) } else { self.u32()? };
                let negative = self.u8()? != 0;
                let digits = self.take(n)?;
                let mut magnitude: u64 = 0;
                for (i, d) in digits.iter().enumerate() {
                    if *d != 0 {
                        if i >= 8 {
                            return Err(DecodeError("integer beyond 64 bits"));
                        }
                        magnitude |= u64::from(*d) << (8 * i);
                    }
                }
                if negative {
                    let i = match i64::try_from(magnitude) {
                        Ok(m) => -m,
                        Err(_) if magnitude == 1 << 63 => i64::MIN,
                        Err(_) => return Err(DecodeError("integer beyond 64 bits")),
                    };
                    Value::from(i)
                } else {
                    Value::from(magnitude)
                }
            }
            NEW_FLOAT => {
                let b = self.take(8)?;
                let f = f64::from_be_bytes(b.try_into().expect("eight bytes"));
                Value::Number(Number::from_f64(f).ok_or(DecodeError("float is not finite"))?)
            }
            FLOAT => {
                let text = std::str::from_utf8(self.take(31)?).map_err(|_| DecodeError("float text"))?;
                let f: f64 = text.trim_end_matches('\0').trim().parse().map_err(|_| DecodeError("float text"))?;
                Value::Number(Number::from_f64(f).ok_or(DecodeError("float is not finite"))?)
            }
            ATOM | ATOM_UTF8 | SMALL_ATOM | SMALL_ATOM_UTF8 => {
                let n = if matches!(tag, ATOM | ATOM_UTF8) { self.u16()? } else { usize::from(self.u8()?) };
                let name = std::str::from_utf8(self.take(n)?).map_err(|_| DecodeError("atom is not UTF-8"))?;
                match name {
                    "nil" | "null" => Value::Null,
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    other => Value::String(other.to_owned()),
                }
            }
            BINARY => {
                let n = self.u32()?;
                let bytes = self.take(n)?;
                Value::String(String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError("binary is not UTF-8"))?)
            }
            // A list of small integers, as Erlang writes a charlist.
            STRING => {
                let n = self.u16()?;
                Value::Array(self.take(n)?.iter().map(|&b| Value::from(b)).collect())
            }
            NIL => Value::Array(Vec::new()),
            LIST => {
                let n = self.count(true)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.term(depth + 1)?);
                }
                // A proper list ends with NIL; an improper tail is kept
                // as a last item.
                match self.term(depth + 1)? {
                    Value::Array(tail) if tail.is_empty() => {}
                    tail => items.push(tail),
                }
                Value::Array(items)
            }
            SMALL_TUPLE | LARGE_TUPLE => {
                let n = self.count(tag == LARGE_TUPLE)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.term(depth + 1)?);
                }
                Value::Array(items)
            }
            MAP => {
                let n = self.count(true)?;
                let mut map = Map::new();
                for _ in 0..n {
                    let key = match self.term(depth + 1)? {
                        Value::String(s) => s,
                        Value::Number(n) => n.to_string(),
                        _ => return Err(DecodeError("map key is not a string, atom or integer")),
                    };
                    let value = self.term(depth + 1)?;
                    map.insert(key, value);
                }
                Value::Object(map)
            }
            _ => return Err(DecodeError("unsupported term")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            ".{0,40}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::btree_map(".{0,12}", inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn every_json_value_round_trips(value in json_value()) {
            prop_assert_eq!(decode(&encode(&value)).unwrap(), value);
        }

        /// Arbitrary bytes never panic or allocate beyond their size.
        #[test]
        fn garbage_is_an_error_not_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let mut with_version = vec![VERSION];
            with_version.extend(&bytes);
            let _ = decode(&bytes);
            let _ = decode(&with_version);
        }
    }

    /// Bytes as Erlang's `term_to_binary` writes them (checked by hand
    /// against the format's documentation), read the way Discord's rules say.
    #[test]
    fn reads_what_erlang_writes() {
        // #{<<"op">> => 1, <<"d">> => nil}
        let heartbeat = [
            131, 116, 0, 0, 0, 2, 109, 0, 0, 0, 2, b'o', b'p', 97, 1, 109, 0, 0, 0, 1, b'd', 100, 0, 3, b'n', b'i',
            b'l',
        ];
        assert_eq!(decode(&heartbeat).unwrap(), json!({"op": 1, "d": null}));
        // A snowflake as a small big: 175928847299117063.
        let id: u64 = 175_928_847_299_117_063;
        let mut big = vec![131, SMALL_BIG, 8, 0];
        big.extend(id.to_le_bytes());
        assert_eq!(decode(&big).unwrap(), json!(id));
        // Atoms as keys and SMALL_ATOM_UTF8 booleans; a tuple; a charlist.
        let bytes = [131, 116, 0, 0, 0, 1, 119, 1, b'a', 104, 3, 119, 4, b't', b'r', b'u', b'e', 107, 0, 2, 1, 2, 106];
        assert_eq!(decode(&bytes).unwrap(), json!({"a": [true, [1, 2], []]}));
        // Negative numbers, 32-bit and big.
        assert_eq!(decode(&[131, INTEGER, 0xff, 0xff, 0xff, 0xfe]).unwrap(), json!(-2));
        assert_eq!(decode(&[131, SMALL_BIG, 1, 1, 5]).unwrap(), json!(-5));
    }

    /// What Discord's erlpack (Python, 1.0.1) writes for
    /// `{'op': 1, 'd': None, 'id': 175928847299117063, 's': 'x', 'l': [1, 2], 'e': []}`:
    /// `nil` as SMALL_ATOM_EXT, the snowflake as a small big.
    #[test]
    fn reads_erlpacks_own_bytes() {
        let bytes = b"\x83t\x00\x00\x00\x06m\x00\x00\x00\x02opa\x01m\x00\x00\x00\x01ds\x03nilm\x00\x00\x00\x02idn\x08\x00\x07\x00\x02\xc1Z\x06q\x02m\x00\x00\x00\x01sm\x00\x00\x00\x01xm\x00\x00\x00\x01ll\x00\x00\x00\x02a\x01a\x02jm\x00\x00\x00\x01ej";
        assert_eq!(
            decode(bytes).unwrap(),
            json!({"op": 1, "d": null, "id": 175_928_847_299_117_063_u64, "s": "x", "l": [1, 2], "e": []})
        );
    }

    #[test]
    fn writes_what_erlpack_writes() {
        assert_eq!(encode(&json!(null)), [131, ATOM, 0, 3, b'n', b'i', b'l']);
        assert_eq!(encode(&json!("12")), [131, BINARY, 0, 0, 0, 2, b'1', b'2']);
        assert_eq!(encode(&json!(300)), [131, INTEGER, 0, 0, 1, 44]);
        assert_eq!(encode(&json!([])), [131, NIL]);
        assert_eq!(encode(&json!(u64::MAX)), [131, SMALL_BIG, 8, 0, 255, 255, 255, 255, 255, 255, 255, 255]);
        for edge in [json!(i64::MIN), json!(i64::MAX), json!(u64::MAX), json!(-256), json!(256), json!(i32::MIN)] {
            assert_eq!(decode(&encode(&edge)).unwrap(), edge);
        }
    }

    #[test]
    fn lies_and_depth_are_refused() {
        assert_eq!(decode(&[131, LIST, 0xff, 0xff, 0xff, 0xff]), Err(DecodeError("length beyond the payload")));
        assert_eq!(decode(&[131, MAP, 0x7f, 0xff, 0xff, 0xff, NIL]), Err(DecodeError("length beyond the payload")));
        let mut deep = vec![131];
        for _ in 0..100 {
            deep.extend([LIST, 0, 0, 0, 1]);
        }
        assert_eq!(decode(&deep), Err(DecodeError("nested too deeply")));
        assert!(decode(&[131, SMALL_BIG, 9, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1]).is_err());
        assert!(decode(&[131, NIL, 0]).is_err());
    }
}
