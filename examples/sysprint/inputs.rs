//! Command-line paths to the trace files to print, in the official tool's order.
//!
//! A file is printed as is. A directory contributes its regular files (symlinks to files
//! included, not recursive), ordered by the number formed by all the digits of their
//! path as given (`d1/x9.sf` is 19, before `d1/x05.sf`, 105); ties keep the directory's
//! listing order.

use std::cmp::Ordering;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// Why a path yields no files.
#[derive(Debug)]
pub enum InputError {
    /// Neither a regular file nor a directory (or it does not exist): skipped, as the
    /// official tool skips it. The path, and what it is instead (see [`what_is`]).
    NotFileOrDir(PathBuf, String),
    /// The run cannot continue (an unreadable directory, a file that cannot be ordered).
    Fatal(String),
}

/// The files to print for one command-line path.
pub fn files_for(path: &Path) -> Result<Vec<PathBuf>, InputError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        let why = if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_symlink()) {
            format!("it is a symlink to what cannot be looked at ({e})")
        } else {
            what_is(Err(e))
        };
        InputError::NotFileOrDir(path.into(), why)
    })?;
    if meta.is_file() {
        return Ok(vec![path.to_owned()]);
    }
    if !meta.is_dir() {
        return Err(InputError::NotFileOrDir(path.into(), what_is(Ok(meta))));
    }
    let entries = std::fs::read_dir(path)
        .map_err(|e| InputError::Fatal(format!("cannot list {}: {e}", path.display())))?;
    let mut files: Vec<(Vec<u8>, PathBuf)> = Vec::new();
    for entry in entries {
        let entry =
            entry.map_err(|e| InputError::Fatal(format!("cannot list {}: {e}", path.display())))?;
        let full = join(path, &entry.file_name());
        if !std::fs::metadata(&full).is_ok_and(|m| m.is_file()) {
            continue;
        }
        if sysflow::export::is_unfinished_output(&entry.file_name()) {
            eprintln!(
                "sysprint: {}: skipped: the unfinished output of a collector replacing a file",
                full.display()
            );
            continue;
        }
        let digits = digit_key(&full);
        if digits.is_empty() {
            return Err(InputError::Fatal(format!(
                "cannot order {}: files of a directory are ordered by the digits in their \
                 path (as the official sysprint does), and this path has none",
                full.display()
            )));
        }
        files.push((digits, full));
    }
    files.sort_by(|a, b| compare_numbers(&a.0, &b.0));
    Ok(files.into_iter().map(|(_, p)| p).collect())
}

/// What a path that is neither a regular file nor a directory is, for the message that
/// skips it: its file type, or why it could not be looked at.
pub(crate) fn what_is(meta: std::io::Result<std::fs::Metadata>) -> String {
    match meta {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "it does not exist".into(),
        Err(e) => format!("it cannot be looked at ({e})"),
        Ok(m) => format!(
            "it is {}; only regular files and directories are read",
            sysflow::export::file_type_name(m.file_type())
        ),
    }
}

/// `dir/name`, without doubling a trailing `/` of `dir`.
fn join(dir: &Path, name: &std::ffi::OsStr) -> PathBuf {
    let mut s = dir.as_os_str().as_bytes().to_vec();
    if !s.ends_with(b"/") {
        s.push(b'/');
    }
    s.extend_from_slice(name.as_bytes());
    PathBuf::from(OsString::from_vec(s))
}

/// The ASCII digits of a path, without leading zeros.
fn digit_key(p: &Path) -> Vec<u8> {
    let d: Vec<u8> = p
        .as_os_str()
        .as_bytes()
        .iter()
        .copied()
        .filter(u8::is_ascii_digit)
        .collect();
    if d.is_empty() {
        return d;
    }
    let zeros = d.iter().take_while(|&&c| c == b'0').count();
    let key = d[zeros..].to_vec();
    if key.is_empty() { vec![b'0'] } else { key }
}

/// Compares two digit strings without leading zeros as numbers.
fn compare_numbers(a: &[u8], b: &[u8]) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_sort_by_path_digits() {
        let key = |s: &str| digit_key(Path::new(s));
        let mut v = vec!["d1/x10.sf", "d1/x05.sf", "d1/x9.sf"];
        v.sort_by(|a, b| compare_numbers(&key(a), &key(b)));
        assert_eq!(v, ["d1/x9.sf", "d1/x05.sf", "d1/x10.sf"]);
        assert_eq!(key("a/0.sf"), b"0");
        assert!(key("a/b.sf").is_empty());
        assert_eq!(join(Path::new("d/"), "x".as_ref()), Path::new("d/x"));
    }
}
