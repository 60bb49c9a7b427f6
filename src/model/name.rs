//! How names from the kernel are stored in SysFlow's strings: see [`escape_name`].

use std::fmt::Write as _;

/// Stores a name from the kernel (path, executable, argument, environment entry, user
/// name) in a SysFlow string, which Avro requires to be valid UTF-8.
///
/// Linux names are arbitrary bytes (except NUL). SysFlow stores them as follows:
///
/// - a name that is valid UTF-8 is kept byte for byte, backslashes and control characters
///   included (the reference replaces non-printable bytes with `.` in fd names and deletes
///   them from file event paths, an upstream bug that loses the name);
/// - a name that is not valid UTF-8 is escaped: each byte that is not part of a valid
///   UTF-8 sequence becomes `\x` and two lowercase hex digits (`\xff`), and each
///   backslash becomes two (`\\`); the valid parts are kept as they are.
///
/// [`unescape_name`] reverses this: a string holding only `\\` and `\xHH` escapes
/// whose decoding is not valid UTF-8 was escaped, and decodes to the original bytes;
/// every other string is a name stored as it is. So every name that is not valid UTF-8
/// round-trips exactly, and so does every valid one, except a valid name that itself
/// reads as such an escape (a file literally named `a\xff`), which reads back as the
/// bytes it spells (`a` and 0xff).
pub fn escape_name(name: &[u8]) -> String {
    if let Ok(s) = std::str::from_utf8(name) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(name.len() + 8);
    for chunk in name.utf8_chunks() {
        let valid = chunk.valid();
        if valid.contains('\\') {
            out.push_str(&valid.replace('\\', "\\\\"));
        } else {
            out.push_str(valid);
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// The raw bytes of a name stored by [`escape_name`] (see there for the one ambiguous
/// case).
pub fn unescape_name(s: &str) -> Vec<u8> {
    if s.contains('\\')
        && let Some(d) = decode_escapes(s)
        && std::str::from_utf8(&d).is_err()
    {
        return d;
    }
    s.as_bytes().to_vec()
}

/// Decodes `\\` and `\xHH`; `None` at any other backslash.
fn decode_escapes(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'\\') => {
                out.push(b'\\');
                i += 2;
            }
            Some(b'x') => {
                let hex = s.get(i + 2..i + 4)?;
                if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 4;
            }
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(name: &[u8]) -> String {
        let s = escape_name(name);
        assert_eq!(unescape_name(&s), name, "{s:?}");
        s
    }

    #[test]
    fn valid_utf8_is_kept_byte_exact() {
        for n in [
            "/etc/passwd",
            "/tmp/caf\u{e9}",
            "/tmp/\u{1f600}",
            "/tmp/a\u{1}b\nc",
            "",
            "s/[\\s\\n]//g",
            "/tmp/a\\b",
            "\\x41\\\\",
        ] {
            assert_eq!(round_trip(n.as_bytes()), n);
        }
    }

    #[test]
    fn names_that_are_not_utf8_are_escaped_reversibly() {
        assert_eq!(round_trip(b"/tmp/\xff\xfe"), "/tmp/\\xff\\xfe");
        // With a backslash, and with text that looks like an escape.
        assert_eq!(round_trip(b"/tmp/a\\b\xff"), "/tmp/a\\\\b\\xff");
        assert_eq!(round_trip(b"/tmp/\\xff\xff"), "/tmp/\\\\xff\\xff");
        // A truncated multi-byte sequence, then valid text.
        assert_eq!(round_trip(b"\xe2\x82x\\"), "\\xe2\\x82x\\\\");
        // Every byte value, alone and between others.
        for b in 1..=255u8 {
            round_trip(&[b]);
            round_trip(&[b'a', b, b'\\', b, b'z', 0xff]);
        }
    }

    #[test]
    fn a_4095_byte_name_round_trips() {
        let mut name = b"/".to_vec();
        while name.len() < 4095 {
            name.extend_from_slice(b"d\xff\\/");
        }
        name.truncate(4095);
        let s = round_trip(&name);
        assert!(s.len() > 4095);
    }

    #[test]
    fn a_valid_name_spelling_an_escape_is_the_documented_ambiguity() {
        assert_eq!(escape_name(b"a\\xff"), "a\\xff");
        assert_eq!(unescape_name("a\\xff"), b"a\xff");
        // Escapes that decode to valid UTF-8, or malformed ones, are plain names.
        for s in ["\\", "a\\b", "\\x", "\\x4", "\\xzz", "\\x41", "\\u0041"] {
            assert_eq!(unescape_name(s), s.as_bytes(), "{s:?}");
        }
    }
}
