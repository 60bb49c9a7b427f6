//! Flattened records to CSV rows (`-o csv`), as Python's `csv` module writes them with the
//! "excel" dialect: `,` separators, `\r\n` line ends, quotes only where needed.
//!
//! Cells hold Python's `str()` of each value: `True`/`False`, `()` for the tags, and the
//! Python `repr` of the pod lists (`['127.0.0.1', '1.0.168.192']`).

use crate::fields::Selected;
use crate::flatten::{Flat, Value, write_ip};
use std::fmt::Write as _;
use sysflow::model::Service;

/// Writes flattened records as CSV rows, the header row before the first record.
pub struct CsvFormat {
    selection: Vec<Selected>,
    cell: String,
    row: Vec<String>,
}

impl CsvFormat {
    /// A formatter for the selected keys.
    pub fn new(selection: Vec<Selected>) -> Self {
        CsvFormat {
            selection,
            cell: String::new(),
            row: Vec::new(),
        }
    }

    /// Appends the header row.
    pub fn write_header(&mut self, out: &mut Vec<u8>) {
        self.row.clear();
        self.row
            .extend(self.selection.iter().map(|s| s.key.clone()));
        write_row(out, &self.row);
    }

    /// Appends one record's row.
    pub fn write(&mut self, out: &mut Vec<u8>, flat: &Flat) {
        let n = self.selection.len();
        self.row.resize_with(n, String::new);
        for (sel, cell) in self.selection.iter().zip(self.row.iter_mut()) {
            cell.clear();
            let v = sel.field.map_or(Value::EMPTY, |f| flat.get(f));
            write_cell(cell, &v, &mut self.cell);
        }
        write_row(out, &self.row);
    }
}

/// Appends one row with the dialect's quoting.
fn write_row(out: &mut Vec<u8>, cells: &[String]) {
    if let [only] = cells {
        if only.is_empty() {
            out.extend_from_slice(b"\"\"\r\n");
            return;
        }
    }
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if c.contains([',', '"', '\r', '\n']) {
            out.push(b'"');
            for part in c.split_inclusive('"') {
                out.extend_from_slice(part.as_bytes());
                if part.ends_with('"') {
                    out.push(b'"');
                }
            }
            out.push(b'"');
        } else {
            out.extend_from_slice(c.as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Python's `str()` of a value.
fn write_cell(out: &mut String, v: &Value, scratch: &mut String) {
    match v {
        Value::Null => {}
        Value::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Text(t) => t.write_to(out),
        Value::Tags => out.push_str("()"),
        Value::IpList(ips) => repr_ips(out, ips, scratch),
        Value::Services(svcs) => {
            out.push('[');
            for (i, s) in svcs.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr_service(out, s, scratch);
            }
            out.push(']');
        }
    }
}

fn repr_ips(out: &mut String, ips: &[i64], scratch: &mut String) {
    out.push('[');
    for (i, ip) in ips.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        scratch.clear();
        write_ip(scratch, *ip);
        repr_str(out, scratch);
    }
    out.push(']');
}

fn repr_service(out: &mut String, s: &Service, scratch: &mut String) {
    out.push_str("{'name': ");
    repr_str(out, &s.name);
    out.push_str(", 'id': ");
    repr_str(out, &s.id);
    out.push_str(", 'namespace': ");
    repr_str(out, &s.namespace);
    out.push_str(", 'portList': [");
    for (i, p) in s.port_list.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(
            out,
            "{{'port': {}, 'targetPort': {}, 'nodePort': {}, 'proto': ",
            p.port, p.target_port, p.node_port
        );
        repr_str(out, &p.proto);
        out.push('}');
    }
    out.push_str("], 'clusterIP': ");
    repr_ips(out, &s.cluster_ip, scratch);
    out.push('}');
}

/// Python's `repr()` of a string.
pub fn repr_str(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_printable(c) => out.push(c),
            c if (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push(quote);
}

/// An approximation of Python's `str.isprintable` for one character: controls, format
/// characters, separators other than the space, private-use and noncharacters are not
/// printable. (Unassigned code points, which Python also escapes, are not tracked.)
fn is_printable(c: char) -> bool {
    let u = c as u32;
    !matches!(u,
        0x00..=0x1f | 0x7f..=0xa0 | 0xad
        | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x890..=0x891 | 0x8e2 | 0x180e
        | 0x1680 | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x206f
        | 0x3000 | 0xd800..=0xf8ff | 0xfeff | 0xfff9..=0xfffb | 0xfffe..=0xffff
        | 0x110bd | 0x110cd | 0x13430..=0x1343f | 0x1bca0..=0x1bca3 | 0x1d173..=0x1d17a
        | 0xe0001 | 0xe0020..=0xe007f | 0xf0000..=0x10ffff)
        && u & 0xfffe != 0xfffe
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repr(s: &str) -> String {
        let mut o = String::new();
        repr_str(&mut o, s);
        o
    }

    #[test]
    fn repr_quotes_like_python() {
        assert_eq!(repr("a"), "'a'");
        assert_eq!(repr("it's"), "\"it's\"");
        assert_eq!(repr("'\""), "'\\'\"'");
        assert_eq!(repr("\x01\x7fé\u{200b}"), "'\\x01\\x7fé\\u200b'");
    }

    #[test]
    fn rows_quote_only_when_needed() {
        let mut out = Vec::new();
        write_row(
            &mut out,
            &["a b".into(), "x,y".into(), "q\"".into(), String::new()],
        );
        assert_eq!(out, b"a b,\"x,y\",\"q\"\"\",\r\n");
        out.clear();
        write_row(&mut out, &[String::new()]);
        assert_eq!(out, b"\"\"\r\n");
    }
}
