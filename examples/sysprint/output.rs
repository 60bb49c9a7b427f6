//! The `-w` output file: never one of the input files, never written through a symlink.
//!
//! * An output that is the same file as an input (same device and inode: the same path,
//!   another spelling of it, a symlink or a hard link to it) is refused before anything
//!   is printed, and checked again on the opened file before it is rewritten.
//! * The final component of the path is never followed if it is a symlink (`O_NOFOLLOW`),
//!   as the library's own file sink does: a link planted at the output's path would
//!   otherwise have sysprint overwrite whatever it points to. The names of sysprint's
//!   own descriptors (`/dev/stdout`, `/dev/stderr`, `/dev/fd/N`, `/proc/self/fd/N`) are
//!   the exception: they are symlinks, but to a descriptor the caller gave us.
//! * A new file is created with mode `0600` (records carry command lines); an existing
//!   regular file keeps its mode and is rewritten (emptied), as the official tool does.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The files being read, by device and inode.
#[derive(Debug, Default)]
pub struct Inputs(Vec<((u64, u64), PathBuf)>);

impl Inputs {
    /// The identities of `files` (those that can be stat'ed; following symlinks).
    pub fn of<'a>(files: impl IntoIterator<Item = &'a Path>) -> Self {
        Inputs(
            files
                .into_iter()
                .filter_map(|f| {
                    let m = std::fs::metadata(f).ok()?;
                    Some(((m.dev(), m.ino()), f.to_owned()))
                })
                .collect(),
        )
    }

    /// The input that is the file `m` describes, if any.
    fn find(&self, m: &Metadata) -> Option<&Path> {
        let id = (m.dev(), m.ino());
        self.0
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, p)| p.as_path())
    }

    /// The error for an output that is an input.
    fn same_file(out: &Path, input: &Path) -> String {
        format!(
            "-w {}: it is the same file as the input {}; refusing to overwrite an input \
             (choose another output file)",
            out.display(),
            input.display()
        )
    }

    /// Refuses an output path that names one of the inputs (through any spelling,
    /// symlink or hard link). An output that does not exist yet is fine.
    pub fn check(&self, out: &Path) -> Result<(), String> {
        match std::fs::metadata(out) {
            Ok(m) => match self.find(&m) {
                Some(input) => Err(Self::same_file(out, input)),
                None => Ok(()),
            },
            Err(_) => Ok(()),
        }
    }
}

/// Whether `p` names one of this process's descriptors: `/dev/stdout`, `/dev/stderr`,
/// `/dev/fd/N` or `/proc/self/fd/N`, spelled exactly so.
fn is_own_descriptor(p: &Path) -> bool {
    let Some(s) = p.to_str() else {
        return false;
    };
    if matches!(s, "/dev/stdout" | "/dev/stderr") {
        return true;
    }
    ["/dev/fd/", "/proc/self/fd/"].iter().any(|prefix| {
        s.strip_prefix(prefix)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// Opens the output for one input file's records: a new file is created `0600`; an
/// existing regular file is emptied, unless it is one of `inputs`; a symlink is refused
/// (except [`is_own_descriptor`] names).
pub fn open(out: &Path, inputs: &Inputs) -> Result<File, String> {
    let mut o = OpenOptions::new();
    o.write(true).create(true).mode(0o600);
    if !is_own_descriptor(out) {
        o.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    }
    let f = o.open(out).map_err(|e| open_error(out, e))?;
    let m = f
        .metadata()
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    if let Some(input) = inputs.find(&m) {
        return Err(Inputs::same_file(out, input));
    }
    if m.is_file() {
        f.set_len(0)
            .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    }
    Ok(f)
}

/// The error for an output that could not be opened.
fn open_error(out: &Path, e: io::Error) -> String {
    let symlink = std::fs::symlink_metadata(out).is_ok_and(|m| m.file_type().is_symlink());
    if symlink && e.raw_os_error() == Some(libc::ELOOP) {
        format!(
            "cannot write {}: it is a symlink, and sysprint never writes through one \
             (give the path of the file it points to)",
            out.display()
        )
    } else {
        format!("cannot write {}: {e}", out.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_descriptors_are_named_exactly() {
        for p in [
            "/dev/stdout",
            "/dev/stderr",
            "/dev/fd/1",
            "/proc/self/fd/12",
        ] {
            assert!(is_own_descriptor(Path::new(p)), "{p}");
        }
        for p in [
            "/dev/fd/",
            "/dev/fd/1x",
            "/proc/1/fd/1",
            "/dev/../dev/stdout",
            "out.json",
            "/tmp/stdout",
        ] {
            assert!(!is_own_descriptor(Path::new(p)), "{p}");
        }
    }

    #[test]
    fn an_input_is_never_the_output() {
        let d = tempfile::tempdir().unwrap();
        let input = d.path().join("in.sf");
        std::fs::write(&input, b"input").unwrap();
        let link = d.path().join("link.sf");
        std::os::unix::fs::symlink(&input, &link).unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        let inputs = Inputs::of([input.as_path()]);
        assert!(inputs.check(&input).is_err());
        assert!(inputs.check(&link).is_err());
        assert!(inputs.check(&d.path().join("sub/../in.sf")).is_err());
        assert!(inputs.check(&d.path().join("new.json")).is_ok());
        let e = open(&input, &inputs).unwrap_err();
        assert!(e.contains("same file"), "{e}");
        assert_eq!(std::fs::read(&input).unwrap(), b"input");
    }
}
