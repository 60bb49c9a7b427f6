//! Flattened records to JSON text (`-o json`, `-o flatjson`), as Python's `json.dumps`
//! writes it: `", "` and `": "` separators, pure ASCII with lowercase `\uXXXX` escapes.
//!
//! `json` nests the dotted keys (`proc.exe` becomes `"proc": {"exe": …}`) the way the
//! official tool does; `flatjson` keeps them as they are.

use crate::fields::Selected;
use crate::flatten::{Flat, Text, Value, write_ip};
use sysflow::model::Service;

/// Appends `s` as a JSON string literal.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut plain = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Skip eight plain bytes at a time.
        if let Some(word) = bytes.get(i..i + 8) {
            let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
            if !needs_escape(word) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
            i += 1;
            continue;
        }
        out.extend_from_slice(&bytes[plain..i]);
        if b < 0x80 {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0c => out.extend_from_slice(b"\\f"),
                _ => push_u_escape(out, u16::from(b)),
            }
            i += 1;
        } else {
            // `i` is on a character boundary: every byte before it was ASCII or a whole
            // character handled here.
            let c = s[i..].chars().next().unwrap_or(char::REPLACEMENT_CHARACTER);
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                push_u_escape(out, *u);
            }
            i += c.len_utf8();
        }
        plain = i;
    }
    out.extend_from_slice(&bytes[plain..]);
    out.push(b'"');
}

/// Whether any of the eight bytes of `w` is not printable ASCII, `"` or `\`.
fn needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte of `x` is zero exactly when the matching high bit is set here.
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let below_space = w.wrapping_sub(0x20 * ONES) & !w & HIGH;
    (w & HIGH)
        | below_space
        | zero_byte(w ^ (u64::from(b'"') * ONES))
        | zero_byte(w ^ (u64::from(b'\\') * ONES))
        | zero_byte(w ^ (0x7f * ONES))
        != 0
}

fn push_u_escape(out: &mut Vec<u8>, u: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[usize::from((u >> shift) & 0xf)]);
    }
}

/// Appends a value as JSON; `scratch` is a reusable buffer for rendered strings.
pub fn write_value(out: &mut Vec<u8>, v: &Value, scratch: &mut String) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Int(i) => push_int(out, *i),
        Value::Text(t) => write_text(out, t, scratch),
        Value::IpList(ips) => write_ips(out, ips, scratch),
        Value::Services(svcs) => {
            out.push(b'[');
            for (i, svc) in svcs.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                write_service(out, svc, scratch);
            }
            out.push(b']');
        }
        Value::Tags => out.extend_from_slice(b"[]"),
    }
}

fn write_text(out: &mut Vec<u8>, t: &Text, scratch: &mut String) {
    match t.as_str() {
        Some(s) => write_str(out, s),
        None => {
            scratch.clear();
            t.write_to(scratch);
            write_str(out, scratch);
        }
    }
}

fn push_int(out: &mut Vec<u8>, i: i64) {
    let mut buf = [0u8; 20];
    let mut n = i.unsigned_abs();
    let mut p = buf.len();
    loop {
        p -= 1;
        buf[p] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[p..]);
}

fn write_ips(out: &mut Vec<u8>, ips: &[i64], scratch: &mut String) {
    out.push(b'[');
    for (i, ip) in ips.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        scratch.clear();
        write_ip(scratch, *ip);
        write_str(out, scratch);
    }
    out.push(b']');
}

fn write_service(out: &mut Vec<u8>, svc: &Service, scratch: &mut String) {
    out.extend_from_slice(b"{\"name\": ");
    write_str(out, &svc.name);
    out.extend_from_slice(b", \"id\": ");
    write_str(out, &svc.id);
    out.extend_from_slice(b", \"namespace\": ");
    write_str(out, &svc.namespace);
    out.extend_from_slice(b", \"portList\": [");
    for (i, p) in svc.port_list.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(b"{\"port\": ");
        push_int(out, p.port.into());
        out.extend_from_slice(b", \"targetPort\": ");
        push_int(out, p.target_port.into());
        out.extend_from_slice(b", \"nodePort\": ");
        push_int(out, p.node_port.into());
        out.extend_from_slice(b", \"proto\": ");
        write_str(out, &p.proto);
        out.push(b'}');
    }
    out.extend_from_slice(b"], \"clusterIP\": ");
    write_ips(out, &svc.cluster_ip, scratch);
    out.push(b'}');
}

/// A member of the output object: a selected key, or an object of nested members.
enum Node {
    Leaf {
        name: String,
        /// `"name": `, pre-encoded.
        prefix: Vec<u8>,
        /// Index into the selection.
        slot: usize,
    },
    Object {
        name: String,
        prefix: Vec<u8>,
        members: Vec<Node>,
    },
}

impl Node {
    fn name(&self) -> &str {
        match self {
            Node::Leaf { name, .. } | Node::Object { name, .. } => name,
        }
    }

    fn object(name: &str) -> Node {
        Node::Object {
            name: name.to_string(),
            prefix: member_prefix(name),
            members: Vec::new(),
        }
    }
}

fn member_prefix(name: &str) -> Vec<u8> {
    let mut p = Vec::new();
    write_str(&mut p, name);
    p.extend_from_slice(b": ");
    p
}

/// How the selected keys are laid out in each object.
enum Layout {
    /// Fixed shape, computed once.
    Fixed(Vec<Node>),
    /// A key is both a value and a parent of other keys: whether the value is replaced
    /// by an object depends on the value (the reference replaces "falsy" ones), so the
    /// shape is computed per record.
    PerRecord(Vec<Vec<String>>),
}

/// Writes flattened records as JSON objects.
pub struct JsonFormat {
    selection: Vec<Selected>,
    layout: Layout,
    scratch: String,
}

/// Why a record cannot be nested (the official tool fails there too).
#[derive(Debug)]
pub struct NestError(pub String);

impl JsonFormat {
    /// A formatter for the selected keys, nested (`json`) or not (`flatjson`).
    pub fn new(selection: Vec<Selected>, nested: bool) -> Self {
        let layout = if nested {
            fixed_layout(&selection).unwrap_or_else(|| {
                Layout::PerRecord(
                    selection
                        .iter()
                        .map(|s| s.key.split('.').map(str::to_string).collect())
                        .collect(),
                )
            })
        } else {
            Layout::Fixed(
                selection
                    .iter()
                    .enumerate()
                    .map(|(slot, s)| Node::Leaf {
                        name: s.key.clone(),
                        prefix: member_prefix(&s.key),
                        slot,
                    })
                    .collect(),
            )
        };
        JsonFormat {
            selection,
            layout,
            scratch: String::new(),
        }
    }

    /// Appends one record as a JSON object (no newline).
    pub fn write(&mut self, out: &mut Vec<u8>, flat: &Flat) -> Result<(), NestError> {
        let value = |slot: usize| {
            self.selection[slot]
                .field
                .map_or(Value::EMPTY, |f| flat.get(f))
        };
        match &self.layout {
            Layout::Fixed(members) => {
                write_object(out, members, &value, &mut self.scratch);
                Ok(())
            }
            Layout::PerRecord(paths) => {
                let mut root: Vec<(&str, Tree)> = Vec::new();
                for (slot, path) in paths.iter().enumerate() {
                    insert(&mut root, path, value(slot)).map_err(|at| {
                        NestError(format!(
                            "cannot nest key {:?}: {at:?} already holds a non-empty value",
                            self.selection[slot].key
                        ))
                    })?;
                }
                write_tree(out, &root, &mut self.scratch);
                Ok(())
            }
        }
    }
}

fn write_object<'a>(
    out: &mut Vec<u8>,
    members: &[Node],
    value: &impl Fn(usize) -> Value<'a>,
    scratch: &mut String,
) {
    out.push(b'{');
    for (i, m) in members.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        match m {
            Node::Leaf { prefix, slot, .. } => {
                out.extend_from_slice(prefix);
                write_value(out, &value(*slot), scratch);
            }
            Node::Object {
                prefix, members, ..
            } => {
                out.extend_from_slice(prefix);
                write_object(out, members, value, scratch);
            }
        }
    }
    out.push(b'}');
}

/// The nesting of the reference when it does not depend on values; `None` if it does.
fn fixed_layout(selection: &[Selected]) -> Option<Layout> {
    let mut root: Vec<Node> = Vec::new();
    for (slot, sel) in selection.iter().enumerate() {
        let parts: Vec<&str> = sel.key.split('.').collect();
        let (last, parents) = parts.split_last()?;
        let mut level = &mut root;
        for p in parents {
            let pos = match level.iter().position(|n| n.name() == *p) {
                Some(pos) => {
                    if let Node::Leaf { slot, .. } = level[pos] {
                        // Unknown keys are always "" (falsy: replaced by an object);
                        // a real field's value decides per record.
                        if selection[slot].field.is_some() {
                            return None;
                        }
                        level[pos] = Node::object(p);
                    }
                    pos
                }
                None => {
                    level.push(Node::object(p));
                    level.len() - 1
                }
            };
            let Node::Object { members, .. } = &mut level[pos] else {
                return None;
            };
            level = members;
        }
        let leaf = Node::Leaf {
            name: last.to_string(),
            prefix: member_prefix(last),
            slot,
        };
        match level.iter().position(|n| n.name() == *last) {
            Some(pos) => level[pos] = leaf,
            None => level.push(leaf),
        }
    }
    Some(Layout::Fixed(root))
}

/// A record's nested object, built per record.
enum Tree<'k, 'a> {
    Leaf(Value<'a>),
    Object(Vec<(&'k str, Tree<'k, 'a>)>),
}

/// Inserts `value` at `path`; on failure returns the path component in the way.
fn insert<'k, 'a>(
    mut level: &mut Vec<(&'k str, Tree<'k, 'a>)>,
    path: &'k [String],
    value: Value<'a>,
) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        return Ok(());
    };
    for p in parents {
        let pos = match level.iter().position(|(n, _)| *n == p.as_str()) {
            Some(pos) => pos,
            None => {
                level.push((p, Tree::Object(Vec::new())));
                level.len() - 1
            }
        };
        if let Tree::Leaf(v) = &level[pos].1 {
            if v.is_truthy() {
                return Err(p.clone());
            }
            level[pos].1 = Tree::Object(Vec::new());
        }
        let Tree::Object(members) = &mut level[pos].1 else {
            return Err(p.clone());
        };
        level = members;
    }
    match level.iter().position(|(n, _)| *n == last.as_str()) {
        Some(pos) => level[pos].1 = Tree::Leaf(value),
        None => level.push((last, Tree::Leaf(value))),
    }
    Ok(())
}

fn write_tree(out: &mut Vec<u8>, members: &[(&str, Tree)], scratch: &mut String) {
    out.push(b'{');
    for (i, (name, t)) in members.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        write_str(out, name);
        out.extend_from_slice(b": ");
        match t {
            Tree::Leaf(v) => write_value(out, v, scratch),
            Tree::Object(m) => write_tree(out, m, scratch),
        }
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &str) -> String {
        let mut v = Vec::new();
        write_str(&mut v, s);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn the_word_scan_finds_every_byte_to_escape() {
        for b in 0..=255u8 {
            let plain = (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\';
            for pos in 0..8 {
                let mut w = [b'a'; 8];
                w[pos] = b;
                assert_eq!(
                    needs_escape(u64::from_le_bytes(w)),
                    !plain,
                    "{b:#x} at {pos}"
                );
            }
        }
    }

    #[test]
    fn strings_escape_like_python() {
        assert_eq!(enc("a/b"), "\"a/b\"");
        assert_eq!(enc("\"\\\n\r\t\x08\x0c"), r#""\"\\\n\r\t\b\f""#);
        assert_eq!(enc("\x01\x7f"), r#""\u0001\u007f""#);
        assert_eq!(enc("é☃😀"), r#""\u00e9\u2603\ud83d\ude00""#);
        assert_eq!(
            enc("0123456789abcdef\"0123456é"),
            r#""0123456789abcdef\"0123456\u00e9""#
        );
    }
}
