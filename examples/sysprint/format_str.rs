//! Flattened records to the human-readable table (`-o str`): the official tool's
//! `tabulate` "github" tables, reproduced.
//!
//! Each value becomes a cell of a fixed width (padded, or cut to `..` and its tail); rows
//! are rendered in chunks of 1001 then 1000 rows, only the first with a header. Within a
//! chunk, a column whose cells all read as numbers is right-aligned with its padding
//! kept; any other column is left-aligned with its cells trimmed, so column widths depend
//! on the data of the chunk, exactly as in the reference.

use crate::fields::{Field, Selected, column_attr};
use crate::flatten::{Flat, Value};
use crate::format_json;
use std::borrow::Cow;
use std::fmt::Write as _;

/// Rows per chunk after the first (which has one more: rows 0 to 1000).
const CHUNK: u64 = 1000;

/// One table column.
struct Column {
    /// `None` for the record number (`idx`).
    field: Option<Field>,
    header: &'static str,
    width: usize,
}

/// What the table shows.
pub struct TableSpec<'a> {
    /// The `-c` selection, if given (and not overridden by `-A`).
    pub fields: Option<&'a [Selected]>,
    /// `-A`: every field is a column.
    pub all: bool,
    /// The default columns (changed by `-k` and `-K`).
    pub defaults: &'a [&'a str],
    /// Terminal width in columns.
    pub terminal_width: usize,
}

/// Writes flattened records as tables.
pub struct StrFormat {
    columns: Vec<Column>,
    /// Cell texts of the pending chunk (`rows[..used]`; the rest are kept for reuse).
    rows: Vec<Vec<String>>,
    used: usize,
    header_pending: bool,
    text: String,
    json: Vec<u8>,
    scratch: String,
}

impl StrFormat {
    /// Chooses the columns and their widths; fails on names that cannot be columns.
    pub fn new(spec: &TableSpec) -> Result<Self, String> {
        // The keys that set the width factor: the -c list or the defaults (even with -A).
        let sizing: Vec<&str> = match (spec.fields, spec.all) {
            (Some(sel), false) => sel.iter().map(|s| s.key.as_str()).collect(),
            _ => spec.defaults.to_vec(),
        };
        let mut base: Vec<usize> = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for k in &sizing {
            if let Some(a) = column_attr(k) {
                if !seen.contains(k) {
                    seen.push(k);
                    base.push(a.width);
                }
            }
        }
        if base.is_empty() {
            return Err(format!(
                "none of the fields {:?} can be a table column (see -l; query-only \
                 attributes cannot be printed)",
                sizing.join(",")
            ));
        }
        let total: usize = base.iter().sum();
        let factor =
            ((spec.terminal_width as f64 - (6 * base.len() + 10) as f64) / total as f64).min(1.25);

        let keys: Vec<&str> = match (spec.fields, spec.all) {
            (_, true) => Field::ALL.iter().map(|f| f.key()).collect(),
            (Some(sel), false) => sel
                .iter()
                .map(|s| s.key.as_str())
                .filter(|k| *k != "idx")
                .collect(),
            (None, false) => spec.defaults.to_vec(),
        };
        let mut columns = Vec::with_capacity(keys.len() + 1);
        for key in std::iter::once("idx").chain(keys) {
            let Some(a) = column_attr(key) else {
                return Err(format!(
                    "{key:?} cannot be a table column (not an attribute, or query-only; see -l)"
                ));
            };
            let scaled = (factor * a.width as f64).trunc();
            let width = if scaled > 8.0 {
                scaled as usize
            } else {
                a.width
            };
            columns.push(Column {
                field: Field::from_key(key),
                header: a.header,
                width,
            });
        }
        Ok(StrFormat {
            columns,
            rows: Vec::new(),
            used: 0,
            header_pending: true,
            text: String::new(),
            json: Vec::new(),
            scratch: String::new(),
        })
    }

    /// Starts a new input file (its own record numbers and its own header).
    pub fn start_file(&mut self) {
        self.used = 0;
        self.header_pending = true;
    }

    /// Adds record number `idx`; renders the chunk into `out` when it is complete.
    pub fn write(&mut self, out: &mut Vec<u8>, idx: u64, flat: &Flat) {
        if self.rows.len() == self.used {
            self.rows.push(Vec::with_capacity(self.columns.len()));
        }
        let row = &mut self.rows[self.used];
        row.resize_with(self.columns.len(), String::new);
        for (col, cell) in self.columns.iter().zip(row.iter_mut()) {
            self.text.clear();
            match col.field {
                None => {
                    let _ = write!(self.text, "{idx}");
                }
                Some(f) => cell_text(
                    &mut self.text,
                    &flat.get(f),
                    &mut self.json,
                    &mut self.scratch,
                ),
            }
            cell.clear();
            fit(cell, &self.text, col.width);
        }
        self.used += 1;
        if idx > 0 && idx % CHUNK == 0 {
            self.flush(out);
        }
    }

    /// Renders what is pending at the end of an input file.
    pub fn finish_file(&mut self, out: &mut Vec<u8>) {
        if self.used > 0 {
            self.flush(out);
        }
    }

    fn flush(&mut self, out: &mut Vec<u8>) {
        let headers: Option<Vec<&str>> = self
            .header_pending
            .then(|| self.columns.iter().map(|c| c.header).collect());
        render(
            out,
            &self.rows[..self.used],
            self.columns.len(),
            headers.as_deref(),
        );
        self.header_pending = false;
        self.used = 0;
    }
}

/// The text of a value in a cell: `1`/`0` for booleans, JSON for lists and objects.
fn cell_text(out: &mut String, v: &Value, json: &mut Vec<u8>, scratch: &mut String) {
    match v {
        Value::Null => {}
        Value::Bool(b) => out.push(if *b { '1' } else { '0' }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Text(t) => {
            let start = out.len();
            t.write_to(out);
            escape_controls(out, start);
        }
        other => {
            json.clear();
            format_json::write_value(json, other, scratch);
            out.push_str(&String::from_utf8_lossy(json));
        }
    }
}

/// Writes the control characters (C0, DEL, C1) of `out[start..]` as `\xNN`, and the
/// invisible ones that reorder or hide text (bidirectional controls, zero-width
/// characters) as `\u{NNNN}`: a name recorded from any process (a file name, an
/// argument) must not move the cursor, change colours, break a row or show other text
/// than it holds in the analyst's terminal. (The official tool prints them as they are;
/// JSON output escapes the controls as JSON does.)
fn escape_controls(out: &mut String, start: usize) {
    if !out[start..].chars().any(|c| c.is_control() || invisible(c)) {
        return;
    }
    let text = out.split_off(start);
    for c in text.chars() {
        if c.is_control() {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else if invisible(c) {
            let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
}

/// Bidirectional controls (U+061C, U+200E-F, U+202A-E, U+2066-9) and zero-width
/// characters (U+200B-D, U+2060, U+FEFF).
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{061c}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}'
    )
}

/// Pads `text` to `width` characters, or keeps `..` and its last `width` characters.
fn fit(out: &mut String, text: &str, width: usize) {
    let n = text.chars().count();
    if n <= width {
        out.push_str(text);
        out.extend(std::iter::repeat_n(' ', width - n));
    } else {
        out.push_str("..");
        let skip = text
            .char_indices()
            .nth(n - width)
            .map_or(text.len(), |(i, _)| i);
        out.push_str(&text[skip..]);
    }
}

/// Python's `str.isspace` for one character.
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()`.
fn py_strip(s: &str) -> &str {
    s.trim_matches(py_space)
}

/// Python's `str.splitlines()` (no line ends kept).
fn py_splitlines(s: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        let boundary = matches!(
            c,
            '\n' | '\r'
                | '\u{0b}'
                | '\u{0c}'
                | '\u{1c}'
                | '\u{1d}'
                | '\u{1e}'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        );
        if boundary {
            lines.push(&s[start..i]);
            let mut end = i + c.len_utf8();
            if c == '\r' {
                if let Some(&(_, '\n')) = it.peek() {
                    it.next();
                    end += 1;
                }
            }
            start = end;
        }
    }
    if start < s.len() {
        lines.push(&s[start..]);
    }
    lines
}

/// Width of a (possibly multi-line) cell: its longest `\r`/`\n`-separated part.
fn cell_width(s: &str) -> usize {
    s.split(['\r', '\n'])
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
}

/// How `tabulate` types a cell; a column takes the most general type of its cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum CellType {
    Empty,
    Bool,
    Int,
    Float,
    Str,
}

fn classify(s: &str) -> CellType {
    if s.is_empty() {
        CellType::Empty
    } else if s == "True" || s == "False" {
        CellType::Bool
    } else if py_int(s) || (thousands(s) && !s.contains('.')) {
        CellType::Int
    } else if py_float(s).is_some_and(f64::is_finite)
        || (s.len() <= 4 && ["inf", "-inf", "nan"].contains(&s.to_lowercase().as_str()))
        || thousands(s)
    {
        CellType::Float
    } else {
        CellType::Str
    }
}

/// Digits with single underscores between them (Python's `digitpart`); returns the
/// bytes consumed (0 if none).
fn digit_part(b: &[u8]) -> usize {
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
        if i + 1 < b.len() && b[i] == b'_' && b[i + 1].is_ascii_digit() {
            i += 1;
        }
    }
    i
}

fn strip_sign(b: &[u8]) -> &[u8] {
    match b.first() {
        Some(b'+' | b'-') => &b[1..],
        _ => b,
    }
}

/// Whether Python's `int()` accepts the string.
fn py_int(s: &str) -> bool {
    let b = strip_sign(py_strip(s).as_bytes());
    !b.is_empty() && digit_part(b) == b.len()
}

/// Python's `float()` of the string, if it accepts it.
fn py_float(s: &str) -> Option<f64> {
    let t = py_strip(s);
    let b = strip_sign(t.as_bytes());
    let negative = t.starts_with('-');
    let lower = String::from_utf8_lossy(b).to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Some(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if lower == "nan" {
        return Some(f64::NAN);
    }
    let mut i = digit_part(b);
    let mut digits = i > 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac = digit_part(&b[i..]);
        digits |= frac > 0;
        i += frac;
    }
    if !digits {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let rest = strip_sign(&b[i + 1..]);
        let exp = digit_part(rest);
        if exp == 0 {
            return None;
        }
        i = b.len() - rest.len() + exp;
    }
    if i != b.len() {
        return None;
    }
    t.replace('_', "").parse().ok()
}

/// `tabulate`'s "number with thousands separators" pattern
/// (`^(([+-]?\d{1,3})(?:,\d{3})*)?(?(1)\.\d*|\.\d+)?$`, where `$` may precede a final
/// newline).
fn thousands(s: &str) -> bool {
    let b = s.strip_suffix('\n').unwrap_or(s).as_bytes();
    let point_digits = |r: &[u8], need: bool| match r.split_first() {
        None => true,
        Some((b'.', d)) => d.iter().all(u8::is_ascii_digit) && (!need || !d.is_empty()),
        _ => false,
    };
    // Without the integer part.
    if point_digits(b, true) {
        return true;
    }
    let r = strip_sign(b);
    let lead = r.iter().take_while(|c| c.is_ascii_digit()).count();
    if !(1..=3).contains(&lead) {
        return false;
    }
    let mut r = &r[lead..];
    while r.len() >= 4 && r[0] == b',' && r[1..4].iter().all(u8::is_ascii_digit) {
        r = &r[4..];
    }
    point_digits(r, false)
}

/// Python's `format(x, 'g')`.
fn py_g(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{x:.5e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.abs())
    } else {
        trim(&format!("{x:.*}", (5 - exp) as usize))
    }
}

/// `tabulate`'s count of characters after the decimal point (or exponent), -1 if none.
fn after_point(s: &str) -> isize {
    if py_int(s) {
        return -1;
    }
    let pos = s.rfind('.').or_else(|| s.to_lowercase().rfind('e'));
    match pos {
        Some(p) if py_float(s).is_some() || thousands(s) => (s.len() - p - 1) as isize,
        _ => -1,
    }
}

/// One column of a chunk, ready to draw.
struct Drawn<'r> {
    /// Cell texts after trimming (text columns) or number formatting (float columns).
    cells: Vec<Cow<'r, str>>,
    /// Numeric columns are right-aligned.
    right: bool,
    width: usize,
}

/// Types, trims and measures column `ci` of a chunk.
fn draw_column<'r>(rows: &'r [Vec<String>], ci: usize, header: Option<&str>) -> Drawn<'r> {
    let ty = rows
        .iter()
        .map(|r| classify(&r[ci]))
        .fold(CellType::Bool, Ord::max);
    let cells: Vec<Cow<str>> = match ty {
        CellType::Int => rows.iter().map(|r| Cow::Borrowed(r[ci].as_str())).collect(),
        CellType::Float => {
            // Re-rendered with Python's `format(x, 'g')`, then aligned on the point.
            let formatted: Vec<String> = rows
                .iter()
                .map(|r| {
                    let v = r[ci].replace(',', "");
                    py_float(&v).map_or_else(|| r[ci].clone(), py_g)
                })
                .collect();
            let decimals: Vec<isize> = formatted.iter().map(|s| after_point(s)).collect();
            let most = decimals.iter().copied().max().unwrap_or(-1);
            formatted
                .into_iter()
                .zip(decimals)
                .map(|(mut s, d)| {
                    s.extend(std::iter::repeat_n(' ', (most - d) as usize));
                    Cow::Owned(s)
                })
                .collect()
        }
        _ => rows
            .iter()
            .map(|r| Cow::Borrowed(py_strip(&r[ci])))
            .collect(),
    };
    let mut width = cells.iter().map(|c| cell_width(c)).max().unwrap_or(0);
    if let Some(h) = header {
        width = width.max(h.chars().count() + 2);
    }
    Drawn {
        cells,
        right: matches!(ty, CellType::Int | CellType::Float),
        width,
    }
}

/// Renders one chunk as a "github" table.
fn render(out: &mut Vec<u8>, rows: &[Vec<String>], ncols: usize, headers: Option<&[&str]>) {
    let multiline = rows
        .iter()
        .any(|r| r.iter().any(|c| c.contains(['\r', '\n'])));
    let cols: Vec<Drawn> = (0..ncols)
        .map(|ci| draw_column(rows, ci, headers.map(|h| h[ci])))
        .collect();
    if let Some(h) = headers {
        push_line(out, &cols, h.iter().copied());
    }
    out.push(b'|');
    for (ci, c) in cols.iter().enumerate() {
        if ci > 0 {
            out.push(b'|');
        }
        out.extend(std::iter::repeat_n(b'-', c.width + 2));
    }
    out.extend_from_slice(b"|\n");
    for r in 0..rows.len() {
        if multiline {
            let parts: Vec<Vec<&str>> = cols.iter().map(|c| py_splitlines(&c.cells[r])).collect();
            let height = parts.iter().map(Vec::len).max().unwrap_or(0);
            for li in 0..height {
                push_line(
                    out,
                    &cols,
                    parts.iter().map(|p| p.get(li).copied().unwrap_or("")),
                );
            }
        } else {
            push_line(out, &cols, cols.iter().map(|c| &*c.cells[r]));
        }
    }
}

/// Appends `| text | text |` with each text padded to its column.
fn push_line<'s>(out: &mut Vec<u8>, cols: &[Drawn], texts: impl Iterator<Item = &'s str>) {
    out.push(b'|');
    for (col, text) in cols.iter().zip(texts) {
        out.push(b' ');
        let fill = col.width.saturating_sub(text.chars().count());
        if col.right {
            out.extend(std::iter::repeat_n(b' ', fill));
            out.extend_from_slice(text.as_bytes());
        } else {
            out.extend_from_slice(text.as_bytes());
            out.extend(std::iter::repeat_n(b' ', fill));
        }
        out.extend_from_slice(b" |");
    }
    out.push(b'\n');
}

/// The terminal width the official tool uses: that of the first of stdin, stdout and
/// stderr that is a terminal, else 80.
pub fn terminal_width() -> usize {
    for fd in 0..3 {
        let mut ws = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ only writes one `winsize` through the pointer, which points
        // to a live, properly aligned local for the duration of the call.
        let r = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
        if r == 0 {
            return usize::from(ws.ws_col);
        }
    }
    80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_cells_controls_and_invisible_characters_are_escaped() {
        let (mut out, mut json, mut scratch) = (String::new(), Vec::new(), String::new());
        let v = Value::Text(crate::flatten::Text::Str("ok\u{1b}[2J\u{202e}txt.exe"));
        cell_text(&mut out, &v, &mut json, &mut scratch);
        assert_eq!(out, r"ok\x1b[2J\u{202e}txt.exe");
    }

    #[test]
    fn control_characters_reach_the_table_escaped() {
        let mut out = String::from("kept\x1b");
        escape_controls(&mut out, 4);
        assert_eq!(out, "kept\\x1b");
        let mut out = String::from("/tmp/ctrl\u{1}\u{1b}[31mred\nx\u{7f}\u{85}é");
        escape_controls(&mut out, 0);
        assert_eq!(out, r"/tmp/ctrl\x01\x1b[31mred\x0ax\x7f\x85é");
    }

    #[test]
    fn cells_are_typed_like_tabulate() {
        assert_eq!(classify("120485  "), CellType::Int);
        assert_eq!(classify("-1_500   "), CellType::Int);
        assert_eq!(classify("1,234"), CellType::Int);
        assert_eq!(classify("1.5e3 "), CellType::Float);
        assert_eq!(classify("nan  "), CellType::Str);
        assert_eq!(classify("nan"), CellType::Float);
        assert_eq!(classify("1e999"), CellType::Str);
        assert_eq!(classify("        "), CellType::Str);
        assert_eq!(classify("..09-13T12"), CellType::Str);
        assert_eq!(classify("1__0"), CellType::Str);
        assert_eq!(classify("1,234.5"), CellType::Float);
    }

    #[test]
    fn g_format_matches_python() {
        assert_eq!(py_g(1234567.0), "1.23457e+06");
        assert_eq!(py_g(1000.0), "1000");
        assert_eq!(py_g(-2.5), "-2.5");
        assert_eq!(py_g(0.0001), "0.0001");
        assert_eq!(py_g(0.00001), "1e-05");
        assert_eq!(py_g(123456.0), "123456");
    }

    #[test]
    fn cells_fit_their_width() {
        let mut s = String::new();
        fit(&mut s, "/usr/local/apache2/bin/httpd", 20);
        assert_eq!(s, "..al/apache2/bin/httpd");
        s.clear();
        fit(&mut s, "ab", 4);
        assert_eq!(s, "ab  ");
    }

    #[test]
    fn lines_split_like_python() {
        assert_eq!(py_splitlines("a\r\nb\x0bc\n"), ["a", "b", "c"]);
        assert_eq!(py_splitlines(""), Vec::<&str>::new());
    }
}
