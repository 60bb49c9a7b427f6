//! Evaluating a compiled filter on one event: left to right with short-circuits; a
//! missing value makes a check false for every operator (`!=` too); no allocation once the
//! scratch buffers have grown.

use std::cmp::Ordering;
use std::net::IpAddr;

use super::compile::{Check, Const, Node, Side, Target};
use super::fields::{EventFields, Value};
use super::fnmatch::fnmatch;
use super::parse::{Op, Transformer};
use super::table::Multi;

/// The most ancestors `proc.aname`/`proc.apid` without an index look at.
const MAX_ANCESTORS: usize = 1024;

/// Buffers reused across events: one extraction buffer and two transformer buffers per
/// side (left, right).
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    lhs: Vec<u8>,
    lhs_tr: [Vec<u8>; 2],
    rhs: Vec<u8>,
    rhs_tr: [Vec<u8>; 2],
}

/// Evaluates `node` on `ev`.
pub(crate) fn eval(node: &Node, ev: &dyn EventFields, s: &mut Scratch) -> bool {
    match node {
        Node::And(ch) => ch.iter().all(|c| eval(c, ev, s)),
        Node::Or(ch) => ch.iter().any(|c| eval(c, ev, s)),
        Node::Not(c) => !eval(c, ev, s),
        Node::Check(c) => check(c, ev, s),
    }
}

/// The `n`th value of a side, after its transformers; `None` when missing or when a
/// transformer fails (`b64` on invalid input).
fn value<'s>(
    side: &Side,
    ev: &'s dyn EventFields,
    n: usize,
    buf: &'s mut Vec<u8>,
    tr: &'s mut [Vec<u8>; 2],
) -> Option<Value<'s>> {
    buf.clear();
    let v = ev.value(&side.field, n, buf)?;
    if side.transformers.is_empty() {
        return Some(v);
    }
    let Value::Str(src) = v else {
        return None;
    };
    let [a, b] = tr;
    a.clear();
    transform(side.transformers[0], src, a)?;
    for t in &side.transformers[1..] {
        b.clear();
        transform(*t, a, b)?;
        std::mem::swap(a, b);
    }
    Some(Value::Str(a))
}

fn transform(t: Transformer, src: &[u8], out: &mut Vec<u8>) -> Option<()> {
    // Values may carry C string terminators; transformers ignore them.
    let mut src = src;
    while let [rest @ .., 0] = src {
        src = rest;
    }
    match t {
        Transformer::Val => out.extend_from_slice(src),
        Transformer::ToLower => out.extend(src.iter().map(u8::to_ascii_lowercase)),
        Transformer::ToUpper => out.extend(src.iter().map(u8::to_ascii_uppercase)),
        Transformer::Basename => {
            let start = src.iter().rposition(|&c| c == b'/').map_or(0, |p| p + 1);
            out.extend_from_slice(&src[start..]);
        }
        Transformer::B64 => b64_decode(src, out)?,
    }
    Some(())
}

/// Standard base64 with optional padding and no stray bits (libsinsp's
/// `Base64::decodeWithoutPadding`).
pub(crate) fn b64_decode(input: &[u8], out: &mut Vec<u8>) -> Option<()> {
    if input.is_empty() {
        return Some(());
    }
    let mut n = input.len();
    if input[n - 1] == b'=' {
        n -= 1;
        if n > 0 && input[n - 1] == b'=' {
            n -= 1;
        }
    }
    let data = &input[..n];
    if data.is_empty() || n % 4 == 1 {
        return None;
    }
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &c in data {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Leftover bits must be zero.
    (acc == 0).then_some(())
}

fn check(c: &Check, ev: &dyn EventFields, s: &mut Scratch) -> bool {
    let Scratch {
        lhs,
        lhs_tr,
        rhs,
        rhs_tr,
    } = s;
    match c.lhs.multi {
        Multi::Single => {
            let Some(v) = value(&c.lhs, ev, 0, lhs, lhs_tr) else {
                return false;
            };
            compare(c, v, ev, rhs, rhs_tr)
        }
        Multi::Ancestors => {
            for n in 0..MAX_ANCESTORS {
                let Some(v) = value(&c.lhs, ev, n, lhs, lhs_tr) else {
                    return false;
                };
                if compare(c, v, ev, rhs, rhs_tr) {
                    return true;
                }
            }
            false
        }
        Multi::Ends => {
            // Both ends: `lhs` holds the first, `rhs` the second (these fields take no
            // right-hand field).
            let a = value(&c.lhs, ev, 0, lhs, lhs_tr);
            let b = ev.value(&c.lhs.field, 1, rhs);
            let ends = [a, b];
            let present = || ends.iter().flatten();
            if present().next().is_none() {
                return false;
            }
            match c.op {
                Op::Exists => true,
                Op::Intersects => false,
                Op::Ne => present().all(|v| compare_const(c, *v)),
                _ => present().any(|v| compare_const(c, *v)),
            }
        }
    }
}

fn compare<'s>(
    c: &Check,
    v: Value<'_>,
    ev: &'s dyn EventFields,
    rhs: &'s mut Vec<u8>,
    rhs_tr: &'s mut [Vec<u8>; 2],
) -> bool {
    if let Target::Field(side) = &c.target {
        let Some(r) = value(side, ev, 0, rhs, rhs_tr) else {
            return false;
        };
        return compare_values(c.op, v, r);
    }
    compare_const(c, v)
}

fn compare_const(c: &Check, v: Value<'_>) -> bool {
    match &c.target {
        Target::Exists => true,
        Target::One(k) => compare_one(c.op, v, k),
        Target::Set(set) => match v {
            Value::Str(b) => set.bytes.contains(b),
            Value::Int(i) => set.nums.contains(&i128::from(i)),
            Value::Uint(u) => set.nums.contains(&i128::from(u)),
            Value::Bool(b) => set.bools[usize::from(b)],
            Value::Ip(ip) => {
                set.ips.contains(&ip) || set.nets.iter().any(|(n, bits)| in_net(ip, *n, *bits))
            }
        },
        Target::Paths(p) => match v {
            Value::Str(b) => p.matches(b),
            _ => false,
        },
        Target::Regex(re) => match v {
            Value::Str(b) => re.is_match(b),
            _ => false,
        },
        Target::Field(_) => false,
    }
}

fn num(v: Value<'_>) -> Option<i128> {
    match v {
        Value::Int(i) => Some(i128::from(i)),
        Value::Uint(u) => Some(i128::from(u)),
        Value::Bool(b) => Some(i128::from(b)),
        _ => None,
    }
}

fn ordering_holds(op: Op, o: Ordering) -> bool {
    match op {
        Op::Eq => o == Ordering::Equal,
        Op::Ne => o != Ordering::Equal,
        Op::Lt => o == Ordering::Less,
        Op::Le => o != Ordering::Greater,
        Op::Gt => o == Ordering::Greater,
        Op::Ge => o != Ordering::Less,
        _ => false,
    }
}

fn compare_one(op: Op, v: Value<'_>, k: &Const) -> bool {
    match (k, v) {
        (Const::Bytes(c), Value::Str(s)) => compare_str(op, s, c),
        (Const::Dyn(c, _), Value::Str(s)) => compare_str(op, s, c),
        (Const::Num(c), v) | (Const::Dyn(_, Some(c)), v) => match num(v) {
            Some(n) => ordering_holds(op, n.cmp(c)),
            None => false,
        },
        (Const::Bool(c), Value::Bool(b)) => ordering_holds(op, b.cmp(c)),
        (Const::Bool(c), v) => num(v).is_some_and(|n| ordering_holds(op, (n != 0).cmp(c))),
        (Const::Ip(c), Value::Ip(ip)) => ordering_holds(op, canonical(ip).cmp(&canonical(*c))),
        (Const::Net(n, bits), Value::Ip(ip)) => {
            let inside = in_net(ip, *n, *bits);
            match op {
                Op::Eq => inside,
                Op::Ne => !inside,
                _ => false,
            }
        }
        _ => false,
    }
}

/// An IPv4-mapped IPv6 address as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (canonical(ip), net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(bits))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(bits))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

fn compare_str(op: Op, s: &[u8], c: &[u8]) -> bool {
    match op {
        Op::Eq | Op::In | Op::Intersects => s == c,
        Op::Ne => s != c,
        Op::Lt | Op::Le | Op::Gt | Op::Ge => ordering_holds(op, s.cmp(c)),
        Op::Contains | Op::BContains => find(s, c, false),
        Op::IContains => find(s, c, true),
        Op::StartsWith | Op::BStartsWith => s.starts_with(c),
        Op::EndsWith => s.ends_with(c),
        Op::Glob => fnmatch(c, s, false),
        Op::IGlob => fnmatch(c, s, true),
        Op::Exists => true,
        Op::Regex | Op::Pmatch => false,
    }
}

fn find(hay: &[u8], needle: &[u8], fold: bool) -> bool {
    if needle.is_empty() {
        return true;
    }
    if needle.len() > hay.len() {
        return false;
    }
    hay.windows(needle.len()).any(|w| {
        if fold {
            w.eq_ignore_ascii_case(needle)
        } else {
            w == needle
        }
    })
}

/// Field against field (both of the same type).
fn compare_values(op: Op, l: Value<'_>, r: Value<'_>) -> bool {
    match (l, r) {
        (Value::Str(a), Value::Str(b)) => compare_str(op, a, b),
        (Value::Ip(a), Value::Ip(b)) => match op {
            Op::Eq | Op::In | Op::Intersects => canonical(a) == canonical(b),
            Op::Ne => canonical(a) != canonical(b),
            _ => false,
        },
        (a, b) => match (num(a), num(b)) {
            (Some(x), Some(y)) => {
                let op = if matches!(op, Op::In | Op::Intersects) {
                    Op::Eq
                } else {
                    op
                };
                ordering_holds(op, x.cmp(&y))
            }
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        b64_decode(s.as_bytes(), &mut out).map(|()| out)
    }

    #[test]
    fn base64() {
        assert_eq!(dec("YmFzaA=="), Some(b"bash".to_vec()));
        assert_eq!(dec("YmFzaA"), Some(b"bash".to_vec()));
        assert_eq!(dec("YmFzaGE="), Some(b"basha".to_vec()));
        assert_eq!(dec(""), Some(vec![]));
        assert_eq!(dec("YmFzaB=="), None);
        assert_eq!(dec("Y"), None);
        assert_eq!(dec("Ym!z"), None);
        assert_eq!(dec("=="), None);
    }

    #[test]
    fn networks() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(in_net(ip("93.184.216.34"), ip("93.184.216.0"), 24));
        assert!(!in_net(ip("93.184.217.34"), ip("93.184.216.0"), 24));
        assert!(in_net(ip("1.2.3.4"), ip("0.0.0.0"), 0));
        assert!(in_net(ip("::ffff:10.1.2.3"), ip("10.0.0.0"), 8));
        assert!(in_net(ip("fd00::1"), ip("fd00::"), 8));
    }
}
