//! A small client-side codec for Erlang's External Term Format, written
//! apart from the server's (`gateway::etf`) so the gateway's ETF is checked
//! against a second reading of the format. It writes the way Elixir
//! clients do (map keys as atoms, `SMALL_ATOM_UTF8`), not as the server
//! does, so the server's decoder sees other encodings than its own.

use serde_json::{Map, Value};

pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = vec![131];
    put(v, &mut out);
    out
}

fn atom(name: &str, out: &mut Vec<u8>) {
    out.push(119);
    out.push(name.len() as u8);
    out.extend_from_slice(name.as_bytes());
}

fn put(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => atom("nil", out),
        Value::Bool(b) => atom(if *b { "true" } else { "false" }, out),
        Value::Number(n) if n.is_f64() => {
            out.push(70);
            out.extend_from_slice(&n.as_f64().unwrap().to_bits().to_be_bytes());
        }
        Value::Number(n) => {
            let i = n.as_i64().map(i128::from).unwrap_or_else(|| i128::from(n.as_u64().unwrap()));
            // Always a small big, whatever the size: legal, and not what
            // the server writes.
            let mut m = i.unsigned_abs();
            let mut digits = Vec::new();
            while m > 0 {
                digits.push(m as u8);
                m >>= 8;
            }
            out.extend_from_slice(&[110, digits.len() as u8, u8::from(i < 0)]);
            out.extend_from_slice(&digits);
        }
        Value::String(s) => {
            out.push(109);
            out.extend_from_slice(&(s.len() as u32).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Value::Array(items) => {
            out.push(108);
            out.extend_from_slice(&(items.len() as u32).to_be_bytes());
            for i in items {
                put(i, out);
            }
            out.push(106);
        }
        Value::Object(m) => {
            out.push(116);
            out.extend_from_slice(&(m.len() as u32).to_be_bytes());
            for (k, v) in m {
                atom(k, out);
                put(v, out);
            }
        }
    }
}

/// Decodes a term; panics on anything the gateway should never send.
pub fn decode(bytes: &[u8]) -> Value {
    assert_eq!(bytes[0], 131, "ETF starts with its version byte");
    let mut pos = 1;
    let v = get(bytes, &mut pos);
    assert_eq!(pos, bytes.len(), "one term per message");
    v
}

fn take<'a>(b: &'a [u8], pos: &mut usize, n: usize) -> &'a [u8] {
    let s = &b[*pos..*pos + n];
    *pos += n;
    s
}

fn be(b: &[u8]) -> usize {
    b.iter().fold(0usize, |acc, d| (acc << 8) | usize::from(*d))
}

fn get(b: &[u8], pos: &mut usize) -> Value {
    let tag = take(b, pos, 1)[0];
    match tag {
        97 => Value::from(take(b, pos, 1)[0]),
        98 => Value::from(i32::from_be_bytes(take(b, pos, 4).try_into().unwrap())),
        110 => {
            let n = usize::from(take(b, pos, 1)[0]);
            let sign = take(b, pos, 1)[0];
            let m = take(b, pos, n).iter().rev().fold(0u64, |acc, d| (acc << 8) | u64::from(*d));
            if sign == 0 {
                Value::from(m)
            } else {
                Value::from(-(m as i64))
            }
        }
        70 => Value::from(f64::from_bits(u64::from_be_bytes(take(b, pos, 8).try_into().unwrap()))),
        100 | 118 => {
            let n = be(take(b, pos, 2));
            match std::str::from_utf8(take(b, pos, n)).unwrap() {
                "nil" => Value::Null,
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                other => panic!("unexpected atom {other}"),
            }
        }
        109 => {
            let n = be(take(b, pos, 4));
            Value::String(String::from_utf8(take(b, pos, n).to_vec()).expect("binaries are UTF-8"))
        }
        106 => Value::Array(Vec::new()),
        108 => {
            let n = be(take(b, pos, 4));
            let items = (0..n).map(|_| get(b, pos)).collect();
            assert_eq!(take(b, pos, 1)[0], 106, "proper lists");
            Value::Array(items)
        }
        116 => {
            let n = be(take(b, pos, 4));
            let mut m = Map::new();
            for _ in 0..n {
                let Value::String(k) = get(b, pos) else { panic!("map keys are binaries") };
                m.insert(k, get(b, pos));
            }
            Value::Object(m)
        }
        other => panic!("unexpected ETF tag {other}"),
    }
}
