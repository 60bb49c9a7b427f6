//! The Avro file sink, with the reference's `filePath` naming and rotation rules.

use super::{RecordSink, RecordView};
use crate::avro::{AvroCodec, AvroFileWriter};
use crate::error::{Result, SysFlowError};
use crate::model::{Record, SfHeader};
use std::fs;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// How output file names are formed from the configured `filePath`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputPath {
    /// The path ended with `/`: a directory whose files are named by epoch seconds.
    Directory(PathBuf),
    /// A file path. When rotating, `.<epoch seconds>` is appended to it.
    Prefix(PathBuf),
}

impl OutputPath {
    /// Interprets a configured path: a trailing `/` means a directory.
    pub fn parse(path: &Path) -> Self {
        let s = path.as_os_str().as_encoded_bytes();
        if s.ends_with(b"/") {
            OutputPath::Directory(path.to_owned())
        } else {
            OutputPath::Prefix(path.to_owned())
        }
    }

    /// The file name for an output period starting at `epoch` (`None`: not rotating).
    pub fn file_for(&self, epoch: Option<i64>) -> PathBuf {
        match (self, epoch) {
            (OutputPath::Directory(d), e) => {
                let e = e.unwrap_or_else(crate::clock::wall_s);
                d.join(e.to_string())
            }
            (OutputPath::Prefix(p), Some(e)) => {
                let mut s = p.clone().into_os_string();
                s.push(format!(".{e}"));
                PathBuf::from(s)
            }
            (OutputPath::Prefix(p), None) => p.clone(),
        }
    }
}

type Writer = AvroFileWriter<BufWriter<fs::File>>;

/// How output files are created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileOptions {
    /// Compression of the data blocks.
    pub codec: AvroCodec,
    /// Permission bits of every file written (default `0o600`: records carry process
    /// arguments and environments, which often hold secrets). Directories the sink
    /// creates are `0o700`.
    pub mode: u32,
    /// Replace a file that already exists at a configured single-file path (default
    /// false: that is an error). Epoch-named files never replace one: a taken name gets a
    /// `-1`, `-2`, ... suffix.
    pub overwrite: bool,
}

impl Default for FileOptions {
    fn default() -> Self {
        Self {
            codec: AvroCodec::default(),
            mode: 0o600,
            overwrite: false,
        }
    }
}

/// Creates an output file: never through a symlink (`O_NOFOLLOW`), never replacing an
/// existing file unless `replace`, with exactly `mode`.
fn create_file(name: &Path, mode: u32, replace: bool) -> std::io::Result<fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut o = fs::OpenOptions::new();
    o.write(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK);
    if replace {
        o.create(true);
    } else {
        o.create_new(true);
    }
    let f = o.open(name)?;
    if replace {
        // only a plain file of our own is replaced: never a device (/dev/null), a FIFO,
        // or a hard link to a file elsewhere; checked before anything is changed
        use std::os::unix::fs::MetadataExt;
        let m = f.metadata()?;
        if !m.is_file() || m.nlink() != 1 || m.uid() != nix::unistd::geteuid().as_raw() {
            return Err(std::io::Error::other(
                "not a regular file of this user with one link: not replaced",
            ));
        }
        f.set_len(0)?;
    }
    // the umask may have narrowed it, and a replaced file keeps its old mode otherwise
    f.set_permissions(fs::Permissions::from_mode(mode))?;
    Ok(f)
}

/// The error for an output file that could not be created.
fn create_error(name: &Path, e: std::io::Error) -> SysFlowError {
    let symlink = fs::symlink_metadata(name).is_ok_and(|m| m.file_type().is_symlink());
    let why = match e.raw_os_error() {
        Some(libc::ELOOP | libc::EEXIST) if symlink => {
            "it is a symlink (output files are never written through one)"
        }
        Some(libc::EEXIST) => "it exists (set file_overwrite to replace it)",
        _ => "",
    };
    let what = if why.is_empty() {
        format!("cannot create output file {}", name.display())
    } else {
        format!("cannot create output file {}: {why}", name.display())
    };
    SysFlowError::io(what, e)
}

/// Writes records into SysFlow Avro files; a new file at every rotation.
///
/// Each file starts with the header record whose `filename` is the file's own path, and
/// is closed (its last block flushed) before the next one is opened.
pub struct FileSink {
    path: OutputPath,
    opts: FileOptions,
    rotating: bool,
    current: PathBuf,
    writer: Option<Writer>,
}

impl FileSink {
    /// Prepares the output. A single file (`start_epoch` `None`, not rotating) is created at
    /// once; with rotation, the first file is opened when the first period starts
    /// ([`FileSink::ensure_open`]), `start_epoch` naming it if already known.
    ///
    /// Fails at once if the output cannot be created (missing or unwritable directory).
    pub fn create(path: &Path, codec: AvroCodec, start_epoch: Option<i64>) -> Result<Self> {
        let opts = FileOptions {
            codec,
            ..FileOptions::default()
        };
        Self::with_options(path, opts, start_epoch.is_some(), start_epoch)
    }

    /// Like [`FileSink::create`], choosing rotation explicitly; a rotating sink without a
    /// start epoch opens its first file in [`FileSink::ensure_open`].
    pub fn with_rotation(
        path: &Path,
        codec: AvroCodec,
        rotating: bool,
        start_epoch: Option<i64>,
    ) -> Result<Self> {
        let opts = FileOptions {
            codec,
            ..FileOptions::default()
        };
        Self::with_options(path, opts, rotating, start_epoch)
    }

    /// Like [`FileSink::with_rotation`], with every file creation option.
    ///
    /// Fails at once if the output cannot be created: a missing or unwritable directory,
    /// a symlink at the file's path, or an existing file at a single-file path without
    /// [`FileOptions::overwrite`].
    pub fn with_options(
        path: &Path,
        opts: FileOptions,
        rotating: bool,
        start_epoch: Option<i64>,
    ) -> Result<Self> {
        let out = OutputPath::parse(path);
        let dir = match &out {
            OutputPath::Directory(d) => {
                use std::os::unix::fs::DirBuilderExt;
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(d)
                    .map_err(|e| {
                        SysFlowError::io(
                            format!("cannot create output directory {}", d.display()),
                            e,
                        )
                    })?;
                d.clone()
            }
            OutputPath::Prefix(p) => match p.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
                _ => PathBuf::from("."),
            },
        };
        let mut sink = FileSink {
            rotating,
            current: PathBuf::new(),
            path: out,
            opts,
            writer: None,
        };
        if !rotating || start_epoch.is_some() {
            sink.open(start_epoch)?;
        } else {
            // Check now that files can be created there.
            let nonce = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let probe = dir.join(format!(".sysflow-probe-{}-{nonce}", std::process::id()));
            create_file(&probe, 0o600, false).map_err(|e| {
                SysFlowError::io(format!("cannot create files in {}", dir.display()), e)
            })?;
            let _ = fs::remove_file(&probe);
        }
        Ok(sink)
    }

    /// Opens the first file of a rotating output, named for `epoch`, if not open yet.
    pub fn ensure_open(&mut self, epoch: i64) -> Result<()> {
        if self.writer.is_none() && self.current.as_os_str().is_empty() {
            self.open(Some(epoch))?;
        }
        Ok(())
    }

    fn open(&mut self, epoch: Option<i64>) -> Result<()> {
        let name = self.path.file_for(epoch);
        // Only a configured single-file path is ever replaced (when asked); epoch-named
        // files take the next free `-N` name, and never the file this sink just closed.
        let single = matches!(self.path, OutputPath::Prefix(_)) && epoch.is_none();
        let mut attempt = name.clone();
        let mut n = 0;
        let f = loop {
            let replace = single && self.opts.overwrite;
            if attempt != self.current {
                match create_file(&attempt, self.opts.mode, replace) {
                    Ok(f) => break f,
                    Err(e) if e.raw_os_error() == Some(libc::EEXIST) && !single && n < 1000 => {}
                    Err(e) => return Err(create_error(&attempt, e)),
                }
            }
            n += 1;
            let mut s = name.clone().into_os_string();
            s.push(format!("-{n}"));
            attempt = s.into();
        };
        let name = attempt;
        let w = AvroFileWriter::new(BufWriter::with_capacity(1 << 16, f), self.opts.codec)
            .map_err(|e| SysFlowError::io(format!("writing {}", name.display()), e))?;
        self.writer = Some(w);
        self.current = name;
        Ok(())
    }

    /// The file being written.
    pub fn current_file(&self) -> &Path {
        &self.current
    }

    /// Whether file names carry epochs and rotate.
    pub fn is_rotating(&self) -> bool {
        self.rotating
    }

    /// Closes the current file and opens the one for the period starting at `epoch`.
    /// The caller then calls [`RecordSink::start`] to write its header.
    pub fn rotate(&mut self, epoch: i64) -> Result<()> {
        self.close()?;
        self.open(Some(epoch))
    }

    fn close(&mut self) -> Result<()> {
        if let Some(w) = self.writer.take() {
            let name = self.current.display().to_string();
            let mut out = w
                .finish()
                .map_err(|e| SysFlowError::io(format!("writing {name}"), e))?;
            std::io::Write::flush(&mut out)
                .map_err(|e| SysFlowError::io(format!("writing {name}"), e))?;
            out.get_ref()
                .sync_data()
                .map_err(|e| SysFlowError::io(format!("syncing {name}"), e))?;
        }
        Ok(())
    }

    fn append(&mut self, rec: &Record) -> Result<()> {
        let Some(w) = self.writer.as_mut() else {
            return Err(SysFlowError::io(
                "file sink is closed",
                std::io::Error::other("write after finish"),
            ));
        };
        w.append(rec)
            .map_err(|e| SysFlowError::io(format!("writing {}", self.current.display()), e))
    }
}

impl RecordSink for FileSink {
    fn start(&mut self, header: &SfHeader) -> Result<()> {
        self.append(&Record::Header(header.clone()))
    }

    fn write(&mut self, view: &RecordView<'_>) -> Result<()> {
        self.append(view.record)
    }

    fn flush(&mut self) -> Result<()> {
        if let Some(w) = self.writer.as_mut() {
            w.flush()
                .map_err(|e| SysFlowError::io(format!("writing {}", self.current.display()), e))?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.close()
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_path_rules() {
        let d = OutputPath::parse(Path::new("/var/sf/"));
        assert_eq!(d.file_for(Some(17)), PathBuf::from("/var/sf/17"));
        let p = OutputPath::parse(Path::new("/var/out.sf"));
        assert_eq!(p.file_for(None), PathBuf::from("/var/out.sf"));
        assert_eq!(p.file_for(Some(17)), PathBuf::from("/var/out.sf.17"));
    }

    #[test]
    fn files_are_private_never_through_a_symlink_and_never_replaced_unasked() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        // a single file: 0600, and an existing one is an error unless overwrite is set
        let one = dir.path().join("one.sf");
        drop(FileSink::create(&one, AvroCodec::Null, None).unwrap());
        assert_eq!(mode(&one), 0o600);
        let e = FileSink::create(&one, AvroCodec::Null, None).err().unwrap();
        assert!(e.to_string().contains("exists"), "{e}");
        fs::set_permissions(&one, fs::Permissions::from_mode(0o644)).unwrap();
        let opts = FileOptions {
            overwrite: true,
            mode: 0o640,
            ..FileOptions::default()
        };
        drop(FileSink::with_options(&one, opts, false, None).unwrap());
        assert_eq!(mode(&one), 0o640);
        // a device or a hard-linked file is never replaced
        let e = FileSink::with_options(Path::new("/dev/null"), opts, false, None)
            .err()
            .unwrap();
        assert!(e.to_string().contains("not replaced"), "{e}");
        let other = dir.path().join("other");
        fs::write(&other, b"keep").unwrap();
        let hard = dir.path().join("hard.sf");
        fs::hard_link(&other, &hard).unwrap();
        assert!(FileSink::with_options(&hard, opts, false, None).is_err());
        assert_eq!(fs::read(&other).unwrap(), b"keep");
        // a symlink at the path is refused, with or without overwrite
        let target = dir.path().join("target");
        fs::write(&target, b"keep").unwrap();
        let link = dir.path().join("link.sf");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        for o in [FileOptions::default(), opts] {
            let e = FileSink::with_options(&link, o, false, None).err().unwrap();
            assert!(e.to_string().contains("symlink"), "{e}");
        }
        assert_eq!(fs::read(&target).unwrap(), b"keep");
        // a directory output: made 0700; epoch names already taken get a suffix
        let d = dir.path().join("a/b/");
        let mut dpath = d.clone().into_os_string();
        dpath.push("/");
        let dpath = PathBuf::from(dpath);
        fs::create_dir_all(dir.path().join("a")).unwrap();
        let s = FileSink::create(&dpath, AvroCodec::Null, Some(7)).unwrap();
        assert_eq!(mode(&d), 0o700);
        assert_eq!(s.current_file(), d.join("7"));
        drop(s);
        let s = FileSink::create(&dpath, AvroCodec::Null, Some(7)).unwrap();
        assert_eq!(s.current_file(), d.join("7-1"));
        assert_eq!(mode(s.current_file()), 0o600);
    }

    #[test]
    fn unwritable_path_fails_at_creation() {
        let e = FileSink::create(Path::new("/nonexistent-dir/x.sf"), AvroCodec::Null, None)
            .err()
            .expect("must fail");
        assert!(e.to_string().contains("/nonexistent-dir/x.sf"), "{e}");
    }
}
