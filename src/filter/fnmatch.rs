//! `fnmatch(3)` as glibc implements it for the flags the filter language uses: 0 (`glob`)
//! and `FNM_CASEFOLD` (`iglob`). Without `FNM_PATHNAME` and `FNM_PERIOD`, `*` and `?` match
//! `/` and leading dots too. Bytes are compared as in the C locale.

/// Whether `s` matches the whole `pattern`; `casefold` compares ASCII letters
/// case-insensitively.
pub(crate) fn fnmatch(pattern: &[u8], s: &[u8], casefold: bool) -> bool {
    let fold = |c: u8| if casefold { c.to_ascii_lowercase() } else { c };
    let (mut p, mut i) = (0usize, 0usize);
    // Where to resume after the last `*`: (pattern index after it, string index).
    let mut star: Option<(usize, usize)> = None;
    loop {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    while p < pattern.len() && pattern[p] == b'*' {
                        p += 1;
                    }
                    if p == pattern.len() {
                        return true;
                    }
                    star = Some((p, i));
                    continue;
                }
                b'?' if i < s.len() => {
                    p += 1;
                    i += 1;
                    continue;
                }
                b'[' if i < s.len() => match bracket(pattern, p, s[i], casefold) {
                    Some((true, next)) => {
                        p = next;
                        i += 1;
                        continue;
                    }
                    Some((false, _)) => {}
                    // An unterminated bracket is an ordinary `[`.
                    None => {
                        if s[i] == b'[' {
                            p += 1;
                            i += 1;
                            continue;
                        }
                    }
                },
                // An escaped byte; a trailing backslash matches nothing.
                b'\\'
                    if p + 1 < pattern.len()
                        && i < s.len()
                        && fold(pattern[p + 1]) == fold(s[i]) =>
                {
                    p += 2;
                    i += 1;
                    continue;
                }
                b'\\' => {}
                c if i < s.len() && c != b'?' && c != b'[' && fold(c) == fold(s[i]) => {
                    p += 1;
                    i += 1;
                    continue;
                }
                _ => {}
            }
        } else if i == s.len() {
            return true;
        }
        // Mismatch: let the last `*` take one more byte.
        match star {
            Some((sp, si)) if si < s.len() => {
                star = Some((sp, si + 1));
                p = sp;
                i = si + 1;
            }
            _ => return false,
        }
    }
}

/// Matches `c` against the bracket expression at `pattern[start]` (`[`): `Some((matched,
/// index after the closing ]))`, or `None` when the bracket is not terminated.
fn bracket(pattern: &[u8], start: usize, c: u8, casefold: bool) -> Option<(bool, usize)> {
    let fold = |x: u8| if casefold { x.to_ascii_lowercase() } else { x };
    let mut p = start + 1;
    let negate = matches!(pattern.get(p), Some(b'!') | Some(b'^'));
    if negate {
        p += 1;
    }
    let c = fold(c);
    let mut matched = false;
    let mut first = true;
    loop {
        let mut lo = *pattern.get(p)?;
        if lo == b']' && !first {
            return Some((matched != negate, p + 1));
        }
        first = false;
        if lo == b'[' && pattern.get(p + 1) == Some(&b':') {
            let rest = &pattern[p + 2..];
            let end = rest.windows(2).position(|w| w == b":]")?;
            let class = &rest[..end];
            if class_matches(class, c, casefold) {
                matched = true;
            }
            p += 2 + end + 2;
            continue;
        }
        if lo == b'\\' {
            p += 1;
            lo = *pattern.get(p)?;
        }
        p += 1;
        if pattern.get(p) == Some(&b'-') && pattern.get(p + 1).is_some_and(|&h| h != b']') {
            let mut hi = pattern[p + 1];
            p += 2;
            if hi == b'\\' {
                hi = *pattern.get(p)?;
                p += 1;
            }
            let (l, h) = (fold(lo), fold(hi));
            if (l..=h).contains(&c) || (casefold && (lo..=hi).contains(&c.to_ascii_uppercase())) {
                matched = true;
            }
        } else if fold(lo) == c {
            matched = true;
        }
    }
}

fn class_matches(class: &[u8], c: u8, casefold: bool) -> bool {
    match class {
        b"alnum" => c.is_ascii_alphanumeric(),
        b"alpha" => c.is_ascii_alphabetic(),
        b"blank" => c == b' ' || c == b'\t',
        b"cntrl" => c.is_ascii_control(),
        b"digit" => c.is_ascii_digit(),
        b"graph" => c.is_ascii_graphic(),
        b"lower" => c.is_ascii_lowercase() || (casefold && c.is_ascii_uppercase()),
        b"print" => c.is_ascii_graphic() || c == b' ',
        b"punct" => c.is_ascii_punctuation(),
        b"space" => matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'),
        b"upper" => c.is_ascii_uppercase() || (casefold && c.is_ascii_lowercase()),
        b"xdigit" => c.is_ascii_hexdigit(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::fnmatch;

    fn m(p: &str, s: &str) -> bool {
        fnmatch(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn wildcards_cross_slashes() {
        assert!(m("/etc/*", "/etc/shadow"));
        assert!(m("/*", "/etc/shadow"));
        assert!(m("*", ""));
        assert!(m("*.log", "/var/log/.x.log"));
        assert!(m("/etc/?hadow", "/etc/shadow"));
        assert!(!m("/etc/?", "/etc/"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(m("*a*a*a*a*a*a*b", "aaaaaaaaaab"));
        assert!(!m(&"*a".repeat(50), &"a".repeat(40)));
        assert!(!m("abc", "abcd"));
        assert!(!m("abcd", "abc"));
    }

    #[test]
    fn brackets_and_escapes() {
        assert!(m("[abc]x", "bx"));
        assert!(!m("[!abc]x", "bx"));
        assert!(m("[^abc]x", "dx"));
        assert!(m("[a-c]", "b"));
        assert!(m("[]]", "]"));
        assert!(m("[!]]", "a"));
        assert!(m("[[:digit:]]x", "7x"));
        assert!(m("[", "["));
        assert!(m("a[b", "a[b"));
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(!m("a\\", "a\\"));
        assert!(m("[\\]]", "]"));
    }

    #[test]
    fn casefold() {
        assert!(fnmatch(b"/ETC/*", b"/etc/x", true));
        assert!(fnmatch(b"[A-C]", b"b", true));
        assert!(fnmatch(b"[a-c]", b"B", true));
        assert!(!fnmatch(b"/ETC/*", b"/etc/x", false));
    }
}
