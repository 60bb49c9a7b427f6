//! The `-w` output file: never one of the input files.
//!
//! An output that is the same file as an input (same device and inode: the same path,
//! another spelling of it, a symlink or a hard link to it) is refused before anything is
//! printed, and checked again on the opened file before it is rewritten. An existing
//! regular file is rewritten (emptied), as the official tool does.

use std::fs::{File, Metadata, OpenOptions};
use std::os::unix::fs::MetadataExt;
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

/// Opens the output for one input file's records: an existing regular file is emptied,
/// unless it is one of `inputs`.
pub fn open(out: &Path, inputs: &Inputs) -> Result<File, String> {
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .open(out)
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
