//! Path arithmetic on raw bytes, as the capture state needs it (no file system access).

/// A name as the kernel passed it, without NUL bytes (C-string terminators; an abstract
/// unix socket's leading NUL). Every other byte is kept: the reference deletes
/// non-printable bytes here, losing the name (see [`crate::model::escape_name`] for how
/// names are stored).
pub fn strip_nul(s: &[u8]) -> Vec<u8> {
    s.iter().copied().filter(|&b| b != 0).collect()
}

/// `PATH_MAX` (`<linux/limits.h>`): a path the kernel accepts has at most
/// `PATH_MAX - 1` bytes. Longer results become `/PATH_TOO_LONG` (the reference's limit
/// is 1024).
pub const PATH_MAX: usize = 4096;

/// Appends `path` to `out` (whose first `base` bytes may not be rewound past), resolving
/// `.` and `..` components, collapsing repeated `/` and dropping a trailing `/` (except
/// for `/` itself). Other bytes are kept as they are (the reference replaces
/// non-printable ones with `.`).
fn append_sanitized(out: &mut Vec<u8>, base: usize, path: &[u8]) {
    let empty_base = out.len() == base;
    // The scanner stops at a NUL, as a C string would.
    let path = match path.iter().position(|&b| b == 0) {
        Some(n) => &path[..n],
        None => path,
    };
    let mut i = 0;
    let rewind = |out: &mut Vec<u8>| {
        // Drop the last component (and its trailing '/'), never below base + 1.
        if out.len() <= base + 1 {
            return;
        }
        out.pop();
        while out.len() > base + 1 && out[out.len() - 1] != b'/' {
            out.pop();
        }
    };
    while i < path.len() {
        let c = path[i];
        let at_component_start = out.len() == base || out.last() == Some(&b'/');
        if c == b'.' && at_component_start {
            let next = path.get(i + 1).copied();
            let next2 = path.get(i + 2).copied();
            if next == Some(b'.') && next2 == Some(b'/') {
                rewind(out);
                i += 3;
            } else if next == Some(b'.') && next2.is_none() {
                rewind(out);
                i += 2;
            } else if next == Some(b'/') {
                i += 2;
            } else if next.is_none() {
                i += 1;
            } else {
                out.push(c);
                i += 1;
            }
        } else if c == b'/' {
            if (out.len() > base && out.last() == Some(&b'/')) || (out.len() == base && !empty_base)
            {
                i += 1;
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    if out.len() > base + 1 && out.last() == Some(&b'/') {
        out.pop();
    }
}

/// Joins a directory (expected to end with `/`) and a path the way the capture state does:
/// an absolute `path` stands alone; the result is sanitized (`.` and `..` resolved,
/// repeated `/` collapsed). A result longer than `PATH_MAX - 1` bytes is
/// `/PATH_TOO_LONG`.
pub fn concatenate(dir: &[u8], path: &[u8]) -> Vec<u8> {
    let out = concatenate_unbounded(dir, path);
    if out.len() >= PATH_MAX {
        return b"/PATH_TOO_LONG".to_vec();
    }
    out
}

fn concatenate_unbounded(dir: &[u8], path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(dir.len() + path.len());
    if !path.is_empty() && path[0] != b'/' {
        out.extend_from_slice(dir);
        let base = 0;
        let start = out.len();
        // The base for rewinding is the start of the whole target (dir included).
        let _ = start;
        append_sanitized(&mut out, base, path);
    } else {
        append_sanitized(&mut out, 0, path);
    }
    out
}

/// The executable an `execveat(dirfd, path, …, flags)` ran, rebuilt from its arguments as
/// the kernel resolved them: an absolute `path` alone; a relative one against the working
/// directory `cwd` (for `AT_FDCWD`) or against the directory `dir` that `dirfd` names; with
/// `AT_EMPTY_PATH` and an empty path, the file `dirfd` itself refers to. `dir` is the name
/// the state has for `dirfd` (`None`: the fd is unknown); `cwd` ends with `/`.
///
/// Returns `<NA>` when the arguments do not tell: an unreadable path (`<NA>`) without
/// `AT_EMPTY_PATH`, an empty path without it (the call fails), or a relative path against
/// an unknown fd.
pub fn execveat_target(
    cwd: &[u8],
    dir: Option<&[u8]>,
    dirfd: i64,
    path: &[u8],
    flags: u32,
) -> Vec<u8> {
    const NA: &[u8] = b"<NA>";
    let empty_path = flags & crate::event::EXECVEAT_EMPTY_PATH != 0;
    // The capture cannot tell an empty path from an unreadable one: with AT_EMPTY_PATH
    // both mean the dirfd's own file.
    let base: Option<Vec<u8>> = if dirfd == super::AT_FDCWD {
        Some(cwd.to_vec())
    } else {
        dir.map(|d| {
            let mut d = d.to_vec();
            if d.last() != Some(&b'/') {
                d.push(b'/');
            }
            d
        })
    };
    if path.is_empty() || path == NA {
        if !empty_path {
            return NA.to_vec();
        }
        return match base {
            Some(b) => concatenate(b"", &b),
            None => NA.to_vec(),
        };
    }
    if path[0] == b'/' {
        return concatenate(b"", path);
    }
    match base {
        Some(b) => concatenate(&b, path),
        None => NA.to_vec(),
    }
}

/// Normalizes a path lexically: removes `.` and empty components, resolves `..` (never
/// above the root) and drops a trailing `/`. Relative paths stay relative.
pub fn normalize(path: &[u8]) -> Vec<u8> {
    let absolute = path.first() == Some(&b'/');
    let mut parts: Vec<&[u8]> = Vec::new();
    for comp in path.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                if parts.last().is_some_and(|p| *p != b"..") {
                    parts.pop();
                } else if !absolute {
                    parts.push(comp);
                }
            }
            _ => parts.push(comp),
        }
    }
    let mut out = Vec::with_capacity(path.len());
    if absolute {
        out.push(b'/');
    }
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(p);
    }
    if out.is_empty() && !absolute {
        out.push(b'.');
    }
    out
}

/// Joins `base` and `path` (an absolute `path` replaces `base`) and normalizes the result.
pub fn join_normalized(base: &[u8], path: &[u8]) -> Vec<u8> {
    if path.first() == Some(&b'/') || base.is_empty() {
        return normalize(path);
    }
    let mut joined = base.to_vec();
    if joined.last() != Some(&b'/') {
        joined.push(b'/');
    }
    joined.extend_from_slice(path);
    normalize(&joined)
}

#[cfg(test)]
mod tests {
    use super::super::AT_FDCWD;
    use super::*;

    fn c(a: &str, b: &str) -> String {
        String::from_utf8(concatenate(a.as_bytes(), b.as_bytes())).unwrap()
    }

    #[test]
    fn concatenate_follows_the_state_rules() {
        assert_eq!(c("/home/u/", "file"), "/home/u/file");
        assert_eq!(c("/home/u/", "./file"), "/home/u/file");
        assert_eq!(c("/home/u/", "../file"), "/home/file");
        assert_eq!(c("/home/u/", "../../../file"), "/file");
        assert_eq!(c("/home/u/", "/etc//passwd/"), "/etc/passwd");
        assert_eq!(c("/", "/"), "/");
        assert_eq!(c("/a/", "b/.."), "/a");
        assert_eq!(c("/a/", "."), "/a");
        assert_eq!(c("", "./setuid"), "setuid");
        assert_eq!(c("/a/", "x\u{1}y"), "/a/x\u{1}y", "kept, not a dot");
        assert_eq!(c("/a/", ""), "");
    }

    #[test]
    fn execveat_resolves_as_the_kernel_did() {
        use crate::event::EXECVEAT_EMPTY_PATH as EMPTY;
        let t = |dir: Option<&str>, dirfd: i64, path: &str, flags: u32| {
            let d = dir.map(str::as_bytes);
            String::from_utf8(execveat_target(b"/work/", d, dirfd, path.as_bytes(), flags)).unwrap()
        };
        // Relative to the directory fd (CASE-01), with or without a trailing '/'.
        assert_eq!(t(Some("/usr/bin"), 7, "ls", 0), "/usr/bin/ls");
        assert_eq!(t(Some("/usr/bin/"), 7, "./ls", 0), "/usr/bin/ls");
        assert_eq!(t(Some("/usr/bin"), 7, "../sbin/ip", 0), "/usr/sbin/ip");
        // The fd's own file with AT_EMPTY_PATH and an empty (or unreadable) path (CASE-02).
        assert_eq!(t(Some("/usr/bin/id"), 8, "", EMPTY), "/usr/bin/id");
        assert_eq!(t(Some("/usr/bin/id"), 8, "<NA>", EMPTY), "/usr/bin/id");
        // AT_EMPTY_PATH only matters for an empty path.
        assert_eq!(t(Some("/usr/bin"), 7, "ls", EMPTY), "/usr/bin/ls");
        // AT_FDCWD: the working directory.
        assert_eq!(t(None, AT_FDCWD, "bin/tool", 0), "/work/bin/tool");
        // An absolute path ignores dirfd, even an unknown one.
        assert_eq!(t(None, 42, "/bin//sh", 0), "/bin/sh");
        // What the arguments cannot tell.
        assert_eq!(t(None, 42, "ls", 0), "<NA>");
        assert_eq!(t(None, 42, "", EMPTY), "<NA>");
        assert_eq!(t(Some("/usr/bin/id"), 8, "", 0), "<NA>");
        assert_eq!(t(Some("/usr/bin"), 7, "<NA>", 0), "<NA>");
    }

    #[test]
    fn paths_up_to_path_max_are_kept() {
        // A 4095-byte path (PATH_MAX - 1, the longest the kernel accepts) made of a
        // directory and a relative name, with non-UTF-8 bytes and a backslash in it.
        let dir = format!("/{}/", "d".repeat(2000)).into_bytes();
        let mut name = b"x\\\xff\x01".to_vec();
        name.resize(4095 - dir.len(), b'n');
        let p = concatenate(&dir, &name);
        assert_eq!(p.len(), 4095);
        assert_eq!(p, [dir.as_slice(), name.as_slice()].concat());
        let escaped = crate::model::escape_name(&p);
        assert_eq!(crate::model::unescape_name(&escaped), p);
        // One byte more is too long.
        name.push(b'n');
        assert_eq!(concatenate(&dir, &name), b"/PATH_TOO_LONG");
        // A long input that resolves to a short path is fine.
        let mut up: Vec<u8> = std::iter::repeat_n(b"../".as_slice(), 1500)
            .flatten()
            .copied()
            .collect();
        up.push(b'f');
        assert_eq!(concatenate(b"/a/", &up), b"/f");
        assert_eq!(
            strip_nul(b"\0/tmp/.X11-unix/X0\xff"),
            b"/tmp/.X11-unix/X0\xff"
        );
    }

    #[test]
    fn normalize_is_lexical() {
        let n = |s: &str| String::from_utf8(normalize(s.as_bytes())).unwrap();
        assert_eq!(n("/a/./b/../c/"), "/a/c");
        assert_eq!(n("/../x"), "/x");
        assert_eq!(n("a/../../b"), "../b");
        assert_eq!(n("./x"), "x");
        let j = |a: &str, b: &str| {
            String::from_utf8(join_normalized(a.as_bytes(), b.as_bytes())).unwrap()
        };
        assert_eq!(j("/tmp/", "d/../f"), "/tmp/f");
        assert_eq!(j("/tmp", "/etc/x"), "/etc/x");
    }
}
