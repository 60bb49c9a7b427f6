//! The Avro file sink, with the reference's `filePath` naming and rotation rules.

use super::losses::{self, LOSSES_KEY};
use super::{RecordSink, RecordView};
use crate::avro::{AvroCodec, AvroFileWriter};
use crate::diag::{Diag, WarnGate};
use crate::error::{Result, SysFlowError};
use crate::model::{Record, SfHeader};
use std::fs;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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

type Writer = AvroFileWriter<fs::File>;

/// How often a file that could not be created for lack of space is tried again while
/// records arrive (it is also tried at every flush and rotation).
const RETRY_OPEN: Duration = Duration::from_secs(1);

/// At most one warning per kind in this time: a disk on the edge of full, where writes
/// fail and succeed in turn, cannot flood the log.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// An epoch that says something: 0 (a capture whose first event has no time) is unknown.
fn known(epoch: i64) -> Option<i64> {
    (epoch > 0).then_some(epoch)
}

/// Whether a write failed for lack of space (disk full, quota, file size limit): the
/// records are dropped and counted, and the capture goes on.
fn is_full(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOSPC | libc::EDQUOT | libc::EFBIG)
    )
}

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

/// An output file just opened, and whether it was created (rather than replaced).
struct Created {
    file: fs::File,
    /// The file did not exist: it is this sink's own (see [`FileSink::remove_unused_file`]).
    new: bool,
    /// The file existed and is to be replaced: `file` is a new file at this path in the
    /// same directory, renamed over it when the sink closes it ([`FileSink::finish`]).
    temp: Option<PathBuf>,
}

/// Creates an output file: never through a symlink (`O_NOFOLLOW`), never replacing an
/// existing file unless `replace`, with exactly `mode`. An existing file to replace is
/// left as it is: the output goes to a new file beside it ([`Created::temp`]), renamed
/// over it only once a whole output is closed ([`FileSink::settle_replacement`]).
fn create_file(name: &Path, mode: u32, replace: bool) -> std::io::Result<Created> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut o = fs::OpenOptions::new();
    o.write(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK);
    // An existing file to replace is only looked at (`O_PATH`: not opened for reading
    // or writing, so neither a device's open nor the file's own mode plays a part: it is
    // renamed over, not written).
    let mut look = fs::OpenOptions::new();
    look.read(true)
        .custom_flags(libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC);
    // Created if absent; an existing file is then looked at to be replaced (if asked).
    // Two rounds: the file may be removed between the two opens.
    let mut round = 0;
    let (f, new) = loop {
        round += 1;
        match o.clone().create_new(true).open(name) {
            Ok(f) => break (f, true),
            Err(e) if replace && e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => return Err(e),
        }
        match look.open(name) {
            Ok(f) => break (f, false),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) && round < 2 => {}
            Err(e) => return Err(e),
        }
    };
    if !new {
        // only a plain file of our own is replaced: never a device (/dev/null), a FIFO,
        // or a hard link to a file elsewhere; checked before anything is changed
        let m = f.metadata()?;
        if m.file_type().is_symlink() {
            // (said so by create_error)
            return Err(std::io::Error::from_raw_os_error(libc::ELOOP));
        }
        if let Some(why) = not_replaced(&m, statx_attributes(&f)) {
            return Err(std::io::Error::other(why));
        }
        // nor can anything in a directory that is append-only (its entries are never
        // removed or renamed over) or immutable
        let dir = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
            .open(dir_of(name))?;
        if let Some(what) = fixed(statx_attributes(&dir)) {
            return Err(std::io::Error::other(format!(
                "its directory is {what}, and nothing in it can be renamed over"
            )));
        }
    }
    let (file, temp) = if new {
        (f, None)
    } else {
        // the old file is left as it is (closed here)
        drop(f);
        let (file, temp) = create_beside(name, &o).map_err(|e| {
            if is_full(&e) {
                return e;
            }
            std::io::Error::new(
                e.kind(),
                format!(
                    "cannot create the new output beside it ({e}): to replace a file, the \
                     output is written in its directory and renamed over it at the end"
                ),
            )
        })?;
        (file, Some(temp))
    };
    // the umask may have narrowed it
    if let Err(e) = file.set_permissions(fs::Permissions::from_mode(mode)) {
        if let Some(t) = &temp {
            let _ = fs::remove_file(t);
        }
        return Err(e);
    }
    Ok(Created { file, new, temp })
}

/// What a file of type `t` is, as this library's messages say it: "a regular file", "a
/// directory", "a symlink", "a FIFO", "a socket", "a character device" or "a block
/// device".
pub fn file_type_name(t: fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_file() {
        "a regular file"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symlink"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "of an unknown type"
    }
}

/// The `statx(2)` attributes (`STATX_ATTR_*`) the kernel knows of the file `f` is (an
/// `O_PATH` one too), 0 where it cannot tell.
#[allow(unsafe_code)]
fn statx_attributes(f: &fs::File) -> u64 {
    use std::os::fd::AsRawFd;
    let mut buf = std::mem::MaybeUninit::<libc::statx>::zeroed();
    // SAFETY: statx writes at most one `struct statx` into `buf`, which is one; the path
    // is an empty C string, with AT_EMPTY_PATH: the file of the fd itself.
    let r = unsafe {
        libc::statx(
            f.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            0,
            buf.as_mut_ptr(),
        )
    };
    if r != 0 {
        return 0;
    }
    // SAFETY: filled by the successful statx (and zeroed before: any bytes are valid).
    let s = unsafe { buf.assume_init() };
    s.stx_attributes & s.stx_attributes_mask
}

/// What `statx(2)` attributes say keeps a file's entries as they are (no rename over it
/// or, for a directory, over anything in it): immutable or append-only.
fn fixed(attributes: u64) -> Option<&'static str> {
    if attributes & libc::STATX_ATTR_IMMUTABLE as u64 != 0 {
        Some("immutable (chattr +i)")
    } else if attributes & libc::STATX_ATTR_APPEND as u64 != 0 {
        Some("append-only (chattr +a)")
    } else {
        None
    }
}

/// Why an existing file at an output's path is not one `file_overwrite` replaces, if it
/// is not: only a regular file of this process's effective user with no other name (hard
/// link) is, and one that can be renamed over (not immutable or append-only, no mount
/// point). `attributes`: its `statx(2)` ones.
fn not_replaced(m: &fs::Metadata, attributes: u64) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    if let Some(what) = fixed(attributes) {
        return Some(format!("it is {what}, and cannot be renamed over"));
    }
    if attributes & libc::STATX_ATTR_MOUNT_ROOT as u64 != 0 {
        return Some("something is mounted on it, and it cannot be renamed over".into());
    }
    if !m.is_file() {
        return Some(format!(
            "it is {}, and only a regular file is replaced",
            file_type_name(m.file_type())
        ));
    }
    if m.nlink() != 1 {
        return Some(format!(
            "it has {} names (hard links), and only a file with one is replaced",
            m.nlink()
        ));
    }
    let me = nix::unistd::geteuid().as_raw();
    if m.uid() != me {
        return Some(format!(
            "it belongs to uid {}, and only a file of this user (uid {me}) is replaced",
            m.uid()
        ));
    }
    None
}

/// The directory holding `path` (`.` for a bare name).
fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// What names the new file written beside one to replace: `.NAME` + this + `PID-N`.
const UNFINISHED_MARK: &[u8] = b".sysflow-";

/// Creates a new file (`o`, exclusively) in the directory of `name`, named after it:
/// `.NAME.sysflow-PID-N` (hidden; see [`is_unfinished_output`]), NAME cut to its first 200
/// bytes (a name may be up to 255 bytes long).
fn create_beside(name: &Path, o: &fs::OpenOptions) -> std::io::Result<(fs::File, PathBuf)> {
    use std::os::unix::ffi::OsStrExt;
    let base = name.file_name().unwrap_or_default().as_bytes();
    let base = std::ffi::OsStr::from_bytes(&base[..base.len().min(200)]);
    for n in 0..1000 {
        let mut s = std::ffi::OsString::from(".");
        s.push(base);
        s.push(std::ffi::OsStr::from_bytes(UNFINISHED_MARK));
        s.push(format!("{}-{n}", std::process::id()));
        let temp = name.with_file_name(s);
        match o.clone().create_new(true).open(&temp) {
            Ok(f) => return Ok((f, temp)),
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("1000 names for it are taken"))
}

/// Whether a file name is that of the new file a [`FileSink`] writes beside one it
/// replaces (`.NAME.sysflow-PID-N`): left in a directory only by a process killed before
/// it ended (its header says `"complete":false`; the file it was to replace is whole).
pub fn is_unfinished_output(name: &std::ffi::OsStr) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let b = name.as_bytes();
    let n = UNFINISHED_MARK.len();
    let Some(at) = b.windows(n).rposition(|w| w == UNFINISHED_MARK) else {
        return false;
    };
    let numeric =
        |p: Option<&[u8]>| p.is_some_and(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit));
    let mut parts = b[at + n..].split(|&c| c == b'-');
    b.first() == Some(&b'.')
        && numeric(parts.next())
        && numeric(parts.next())
        && parts.next().is_none()
}

/// The error for an output file that could not be created.
fn create_error(name: &Path, e: std::io::Error) -> SysFlowError {
    let symlink = fs::symlink_metadata(name).is_ok_and(|m| m.file_type().is_symlink());
    let why = match e.raw_os_error() {
        Some(libc::ELOOP | libc::EEXIST) if symlink => {
            "it is a symlink (output files are never written through one)"
        }
        Some(libc::EEXIST) => {
            return SysFlowError::OutputExists {
                path: name.to_owned(),
                source: e,
            };
        }
        _ => "",
    };
    let what = if why.is_empty() {
        format!("cannot create output file {}", name.display())
    } else {
        format!("cannot create output file {}: {why}", name.display())
    };
    SysFlowError::io(what, e)
}

/// The bookkeeping of the current output period, for its file's [`LOSSES_KEY`] entry.
#[derive(Debug, Default)]
struct Period {
    /// Epoch seconds it started (the file's epoch, or the first event's time; `None`
    /// while unknown).
    start: Option<i64>,
    /// Epoch seconds it ended, as the driver said ([`FileSink::set_period_losses`]) or
    /// the next period's start.
    end: Option<i64>,
    /// The driver's losses by cause.
    causes: Vec<(&'static str, u64)>,
    /// Records of this period the sink could not write.
    drops: u64,
    /// Block writes that failed for lack of space.
    failed_blocks: u64,
    /// File creations (or header writes) that failed for lack of space.
    failed_opens: u64,
}

/// A run of writes failing for lack of space: logged once when it starts, once when it
/// ends (both only if the [`WarnGate`] let its start through).
#[derive(Debug, Default)]
struct Outage {
    records: u64,
    failures: u64,
    /// Its start was logged (then its end is too).
    told: bool,
}

/// Runs of failures that ended without being logged (the gate was closed all along).
#[derive(Debug, Default)]
struct Untold {
    runs: u64,
    records: u64,
    failures: u64,
}

impl Untold {
    /// What to add to the next warning about lack of space.
    fn note(&self) -> String {
        if self.runs == 0 {
            return String::new();
        }
        format!(
            " (before this, {} runs of failures for lack of space went unlogged: {} records \
             dropped in {} failed writes)",
            self.runs, self.records, self.failures
        )
    }
}

/// Writes records into SysFlow Avro files; a new file at every rotation.
///
/// Each file starts with the header record whose `filename` is the file's own path, and
/// is closed (its last block flushed) before the next one is opened.
///
/// # A full disk
///
/// When a block cannot be written for lack of space (`ENOSPC`, `EDQUOT`, `EFBIG`), its
/// records are dropped and counted ([`RecordSink::dropped`], [`FileSink::failed_blocks`])
/// and the file is cut back to the end of its last whole block, so it stays a valid
/// Avro file holding every record written before; the capture goes on, and the next
/// blocks are tried again (space may come back). When writing resumes, the sink asks for
/// the entities to be written again ([`RecordSink::take_reset_request`]): the records
/// dropped may have described processes or files that later records refer to. The period's header record is never in
/// a dropped block: until a block holding it is written, it is carried into the next one.
/// A file that cannot be created, or whose Avro header cannot be written, is removed; the
/// period's records are then dropped and counted while it is tried again (at every flush,
/// at most every second while records arrive, at the next rotation and at the end). A
/// warning is logged when a run of failures starts and when it ends, not per block, and
/// at most one such pair a minute: runs of failures that start while that limit holds
/// are logged late if they last, else summed up in the next warning. Any other write
/// error (`EIO`, ...) is returned and stops the capture.
///
/// Warnings go through the [`log`] facade with the target `sysflowlibs` (to stderr while
/// no logger is installed); the driver's file sink uses its `app_name` instead, like all
/// the driver's diagnostics.
///
/// Every file records its period's losses in its Avro header ([`super::FileLosses`]).
pub struct FileSink {
    path: OutputPath,
    opts: FileOptions,
    rotating: bool,
    /// The file being written, or the one waiting to be created.
    current: PathBuf,
    /// The last file closed: an epoch-named file never reuses its name.
    closed: PathBuf,
    writer: Option<Writer>,
    /// The current period's file could not be created for lack of space: its epoch.
    waiting: Option<Option<i64>>,
    next_retry: Instant,
    /// The period's header record while it is in no written block yet.
    header: Option<SfHeader>,
    /// Whether `period.start` came from the file's epoch (else from the first event).
    epoch_named: bool,
    period: Period,
    /// Records of earlier periods that never got a file, told in the next file.
    unfiled: u64,
    /// The driver's loss counts of earlier periods that never got a file, added to the
    /// next file's (so the files' counts still add up to the run's).
    unfiled_causes: Vec<(&'static str, u64)>,
    dropped: u64,
    failed_blocks: u64,
    outage: Option<Outage>,
    reset: bool,
    /// The current (or last) file, if this sink created it (rather than replacing an
    /// existing file): held open, so that its inode cannot be freed and reused by another
    /// file while the sink may still remove it ([`FileSink::remove_unused_file`]).
    created: Option<fs::File>,
    /// A record other than the period's header went into the current (or last) file.
    filled: bool,
    /// The new file written in place of `current`, an existing file it replaces when
    /// closed ([`Created::temp`]).
    temp: Option<PathBuf>,
    /// The run feeding the sink failed or stopped early ([`FileSink::run_incomplete`]).
    run_incomplete: bool,
    /// Space ran out as the last file was closed (its losses entry not rewritten, or its
    /// sync failed): it may say `"complete":false` or miss its last records.
    short_at_close: bool,
    /// Files closed and kept (a file removed as unused is taken off again).
    files_written: u64,
    /// The last file closed counts in `files_written`.
    counted_last: bool,
    /// Bytes the sink had written whole into its last closed file: a file removed as
    /// unused must still be exactly that long (not rewritten in place by someone else).
    closed_len: u64,
    /// Where warnings go.
    diag: Diag,
    /// Warnings about runs of failures for lack of space.
    outage_gate: WarnGate,
    untold: Untold,
    /// Warnings about a file closed on a full disk.
    close_gate: WarnGate,
    close_held: u64,
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
    /// [`FileOptions::overwrite`]. A full disk is no error: the file is tried again later
    /// (see [`FileSink`]).
    pub fn with_options(
        path: &Path,
        opts: FileOptions,
        rotating: bool,
        start_epoch: Option<i64>,
    ) -> Result<Self> {
        Self::with_diag(path, opts, rotating, start_epoch, Diag::default())
    }

    /// Like [`FileSink::with_options`], logging its warnings through `diag` (the driver's,
    /// whose target is its `app_name`).
    pub(crate) fn with_diag(
        path: &Path,
        opts: FileOptions,
        rotating: bool,
        start_epoch: Option<i64>,
        diag: Diag,
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
                        // EEXIST from a recursive create: the path itself is something
                        // else than a directory (a parent that is one gives ENOTDIR)
                        let what = if e.raw_os_error() == Some(libc::EEXIST) {
                            format!(
                                "cannot create output directory {}: it exists and is not a \
                                 directory (a trailing / names an output directory)",
                                d.display()
                            )
                        } else {
                            format!("cannot create output directory {}", d.display())
                        };
                        SysFlowError::io(what, e)
                    })?;
                d.clone()
            }
            OutputPath::Prefix(p) => dir_of(p).to_owned(),
        };
        let mut sink = FileSink {
            rotating,
            current: PathBuf::new(),
            closed: PathBuf::new(),
            path: out,
            opts,
            writer: None,
            waiting: None,
            next_retry: Instant::now(),
            header: None,
            epoch_named: start_epoch.is_some(),
            period: Period {
                start: start_epoch.and_then(known),
                ..Period::default()
            },
            unfiled: 0,
            unfiled_causes: Vec::new(),
            dropped: 0,
            failed_blocks: 0,
            outage: None,
            reset: false,
            created: None,
            filled: false,
            temp: None,
            run_incomplete: false,
            short_at_close: false,
            files_written: 0,
            counted_last: false,
            closed_len: 0,
            diag,
            outage_gate: WarnGate::new(WARN_EVERY),
            untold: Untold::default(),
            close_gate: WarnGate::new(WARN_EVERY),
            close_held: 0,
        };
        if !rotating || start_epoch.is_some() {
            sink.open(start_epoch)?;
        } else {
            // Check now that files can be created there.
            let nonce = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let probe = dir.join(format!(".sysflow-probe-{}-{nonce}", std::process::id()));
            match create_file(&probe, 0o600, false) {
                Ok(_) => {
                    let _ = fs::remove_file(&probe);
                }
                // no inode left: the first file is tried again when the first period starts
                Err(e) if is_full(&e) => {}
                Err(e) => {
                    return Err(SysFlowError::io(
                        format!("cannot create files in {}", dir.display()),
                        e,
                    ));
                }
            }
        }
        Ok(sink)
    }

    /// Opens the first file of a rotating output, named for `epoch`, if not open yet.
    /// `epoch` also starts the first period of a file opened without one.
    pub fn ensure_open(&mut self, epoch: i64) -> Result<()> {
        if !self.epoch_named && self.period.start.is_none() {
            self.period.start = known(epoch);
        }
        if self.writer.is_none() && self.waiting.is_none() && self.current.as_os_str().is_empty() {
            self.epoch_named = true;
            self.period.start = known(epoch);
            self.open(Some(epoch))?;
        }
        Ok(())
    }

    /// Creates the period's file and writes its Avro header. A full disk leaves the sink
    /// waiting for space (`self.waiting`), and no file behind.
    fn open(&mut self, epoch: Option<i64>) -> Result<()> {
        self.created = None;
        self.filled = false;
        let name = self.path.file_for(epoch);
        // Only a configured single-file path is ever replaced (when asked); epoch-named
        // files take the next free `-N` name, and never the file this sink just closed.
        let single = matches!(self.path, OutputPath::Prefix(_)) && epoch.is_none();
        let mut attempt = name.clone();
        let mut n = 0;
        let f = loop {
            let replace = single && self.opts.overwrite;
            if attempt != self.closed {
                match create_file(&attempt, self.opts.mode, replace) {
                    Ok(c) => break c,
                    Err(e) if e.raw_os_error() == Some(libc::EEXIST) && !single && n < 1000 => {}
                    Err(e) if is_full(&e) => {
                        self.open_failed(epoch, attempt, &e);
                        return Ok(());
                    }
                    Err(e) => return Err(create_error(&attempt, e)),
                }
            }
            n += 1;
            let mut s = name.clone().into_os_string();
            s.push(format!("-{n}"));
            attempt = s.into();
        };
        let created = if f.new { f.file.try_clone().ok() } else { None };
        let placeholder = losses::placeholder();
        let meta: [(&str, &[u8]); 1] = [(LOSSES_KEY, &placeholder)];
        let w = match AvroFileWriter::with_metadata(f.file, self.opts.codec, &meta) {
            Ok(w) => w,
            Err(e) => {
                // a partial header is no Avro file: nothing of it is left behind (the
                // file it was to replace stays as it was)
                let _ = fs::remove_file(f.temp.as_ref().unwrap_or(&attempt));
                if is_full(&e) {
                    self.open_failed(epoch, attempt, &e);
                    return Ok(());
                }
                return Err(SysFlowError::io(
                    format!("writing {}", attempt.display()),
                    e,
                ));
            }
        };
        self.writer = Some(w);
        self.current = attempt;
        self.created = created;
        self.temp = f.temp;
        if self.waiting.take().is_some() {
            // opened late: the period's header (if already given) goes first
            if let Some(h) = self.header.as_mut() {
                h.filename = super::fanout::header_filename(&self.current);
                let h = Record::Header(h.clone());
                self.append(&h)?;
            }
        }
        if self.outage.is_some() {
            self.recovered();
        }
        Ok(())
    }

    fn open_failed(&mut self, epoch: Option<i64>, name: PathBuf, e: &std::io::Error) {
        self.current = name;
        self.waiting = Some(epoch);
        self.next_retry = Instant::now() + RETRY_OPEN;
        self.period.failed_opens += 1;
        self.failed(0, e);
    }

    /// Tries again to create the file of a period that has none.
    fn retry_open(&mut self) -> Result<()> {
        if let Some(epoch) = self.waiting {
            self.next_retry = Instant::now() + RETRY_OPEN;
            self.open(epoch)?;
        }
        Ok(())
    }

    /// Counts a failure for lack of space that cost `lost` records.
    fn failed(&mut self, lost: u64, e: &std::io::Error) {
        self.dropped += lost;
        self.period.drops += lost;
        let o = self.outage.get_or_insert_with(Outage::default);
        o.records += lost;
        o.failures += 1;
        // a run of failures is logged when it starts, or later while it lasts if the
        // gate was closed then
        if !o.told && self.outage_gate.admit(Instant::now()) {
            o.told = true;
            let untold = std::mem::take(&mut self.untold);
            self.diag.warn(format_args!(
                "{}: {e}: records are dropped (and counted) until space comes back{}",
                self.current.display(),
                untold.note()
            ));
        }
    }

    /// Something was written after failures for lack of space.
    fn recovered(&mut self) {
        if let Some(o) = self.outage.take() {
            if o.told {
                self.diag.warn(format_args!(
                    "{}: writing again after lack of space: {} records dropped in {} failed \
                     writes",
                    self.current.display(),
                    o.records,
                    o.failures
                ));
            } else {
                self.untold.runs += 1;
                self.untold.records += o.records;
                self.untold.failures += o.failures;
            }
            // what was dropped may have described entities later records refer to
            self.reset = true;
        }
    }

    /// A warning about a file closed on a full disk, through its gate.
    fn close_warning(&mut self, args: std::fmt::Arguments<'_>) {
        if !self.close_gate.admit(Instant::now()) {
            self.close_held += 1;
            return;
        }
        match std::mem::take(&mut self.close_held) {
            0 => self.diag.warn(args),
            n => self.diag.warn(format_args!(
                "{args} ({n} similar warnings held back before this one)"
            )),
        }
    }

    /// The file being written (or, while the disk is full, the one to be created).
    pub fn current_file(&self) -> &Path {
        &self.current
    }

    /// Removes the current (last) file if this sink created it (it did not replace an
    /// existing file) and no record but its period's header went into it: for a run that
    /// failed before writing anything, so that it leaves no empty file behind. Call it
    /// after [`RecordSink::finish`]; returns the path removed.
    pub fn remove_unused_file(&mut self) -> Option<PathBuf> {
        use std::os::unix::fs::MetadataExt;
        if self.writer.is_some() || self.filled {
            return None;
        }
        let own = self.created.as_ref()?.metadata().ok()?;
        // still the file this sink made (not one put there since): as the sink holds its
        // own open, its inode cannot have been reused by a file created since
        let m = fs::symlink_metadata(&self.current).ok()?;
        if !m.is_file() || (m.dev(), m.ino()) != (own.dev(), own.ino()) {
            return None;
        }
        // and still holding only what the sink wrote: the same inode truncated and written
        // again (another writer replacing the file in place, `cp` onto it) is not ours
        if m.len() != self.closed_len {
            return None;
        }
        fs::remove_file(&self.current).ok()?;
        self.created = None;
        if std::mem::take(&mut self.counted_last) {
            self.files_written -= 1;
        }
        Some(self.current.clone())
    }

    /// Whether file names carry epochs and rotate.
    pub fn is_rotating(&self) -> bool {
        self.rotating
    }

    /// Block writes that failed for lack of space, since the start.
    pub fn failed_blocks(&self) -> u64 {
        self.failed_blocks
    }

    /// Whether the current period's file is missing for lack of space (its records are
    /// dropped and counted until it can be created).
    pub fn is_waiting_for_space(&self) -> bool {
        self.waiting.is_some()
    }

    /// Records the current period's losses by cause and its end (epoch seconds), written
    /// into the file's header when it is closed ([`super::FileLosses`]). The driver calls
    /// it right before each rotation and before [`RecordSink::finish`]; a later call
    /// replaces the earlier one. The sink adds its own counters (`file_drops`, ...);
    /// causes named like them are left out.
    pub fn set_period_losses(&mut self, period_end: i64, losses: &[(&'static str, u64)]) {
        self.period.end = known(period_end).or(self.period.end);
        self.period.causes = losses.to_vec();
    }

    /// Closes the current file and opens the one for the period starting at `epoch`.
    /// The caller then calls [`RecordSink::start`] to write its header.
    pub fn rotate(&mut self, epoch: i64) -> Result<()> {
        self.period.end.get_or_insert(epoch);
        self.close()?;
        self.period.start = known(epoch);
        self.epoch_named = true;
        self.open(Some(epoch))
    }

    /// Writes the block being filled, if any (`last`: as the file's last block); a full
    /// disk drops it (counted).
    fn write_block(&mut self, last: bool) -> Result<()> {
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        let before = w.committed();
        match if last { w.flush_last() } else { w.flush() } {
            Ok(()) => {
                if w.committed() != before {
                    self.written();
                }
                Ok(())
            }
            Err(e) => self.block_failed(e),
        }
    }

    /// A block was written whole.
    fn written(&mut self) {
        self.header = None;
        if self.outage.is_some() {
            self.recovered();
        }
    }

    /// A block write failed: for lack of space, its records are dropped and the file cut
    /// back to its last whole block; any other error is returned.
    fn block_failed(&mut self, e: std::io::Error) -> Result<()> {
        let name = self.current.display().to_string();
        if !is_full(&e) {
            return Err(SysFlowError::io(format!("writing {name}"), e));
        }
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        let mut lost = w.discard_block();
        let at = w.committed();
        let f = w.get_mut();
        f.set_len(at)
            .and_then(|()| f.seek(SeekFrom::Start(at)).map(drop))
            .map_err(|e2| {
                SysFlowError::io(
                    format!("{name}: cannot cut it back to its last whole block ({e})"),
                    e2,
                )
            })?;
        if let Some(h) = &self.header {
            // the header is carried into the next block rather than lost
            lost = lost.saturating_sub(1);
            w.append(&Record::Header(h.clone()))
                .map_err(|e| SysFlowError::io(format!("writing {name}"), e))?;
        }
        self.failed_blocks += 1;
        self.period.failed_blocks += 1;
        self.failed(lost, &e);
        Ok(())
    }

    /// Ends the current period: its file is flushed, given its losses and closed; a
    /// period without a file leaves its drops to the next file. A file written in place
    /// of an existing one then replaces it ([`FileSink::settle_replacement`]).
    fn close(&mut self) -> Result<()> {
        let had_file = self.writer.is_some();
        let closed = self.close_file();
        if let Some(temp) = self.temp.take() {
            return self.settle_replacement(temp, closed);
        }
        if had_file {
            self.counted_last = closed.is_ok();
            self.files_written += u64::from(self.counted_last);
        }
        closed
    }

    /// Renames the new file `temp`, just closed (`closed`: how), over the file it
    /// replaces, `current`, if it is a whole output; or removes it, leaving the old file
    /// as it was, when the close failed, the run failed or was stopped before its input's
    /// end ([`FileSink::run_incomplete`]), or records were dropped or space ran out as it
    /// was closed (a full disk): only a whole output replaces a file.
    fn settle_replacement(&mut self, temp: PathBuf, closed: Result<()>) -> Result<()> {
        self.counted_last = false;
        if closed.is_err() || self.run_incomplete || self.dropped > 0 || self.short_at_close {
            let _ = fs::remove_file(&temp);
            let name = self.current.display();
            if self.run_incomplete {
                // the run's error or its input_stopped count tells the caller (and
                // SinkStats::files_written is 0): a warning would come before it
                self.diag.debug(format_args!(
                    "{name}: not replaced, its new output removed: the run failed or was \
                     stopped before its input's end"
                ));
            } else if closed.is_ok() {
                let why = if self.dropped > 0 {
                    "records were dropped (lack of space)"
                } else {
                    "space ran out as it was closed"
                };
                self.diag.warn(format_args!(
                    "{name}: not replaced, its new output removed: {why}"
                ));
            }
            return closed;
        }
        if let Err(e) = fs::rename(&temp, &self.current) {
            // (made immutable or mounted on since it was looked at): no new file is left
            // beside the old one, which stays as it was
            let left = match fs::remove_file(&temp) {
                Ok(()) => "removed".to_owned(),
                Err(r) => format!("left at {} ({r})", temp.display()),
            };
            return Err(SysFlowError::io(
                format!(
                    "cannot replace {} with the new output ({left}; the file was left as it \
                     was)",
                    self.current.display()
                ),
                e,
            ));
        }
        // the rename itself made durable (best effort: the data was synced at the close)
        if let Ok(d) = fs::File::open(dir_of(&self.current)) {
            let _ = d.sync_all();
        }
        self.files_written += 1;
        Ok(())
    }

    /// Says the run feeding this sink failed or was stopped before its input's end, before
    /// [`RecordSink::finish`]: a file written to replace an existing one (`overwrite`) is
    /// then removed, and the old file stays as it was. Only a whole output replaces a file.
    pub fn run_incomplete(&mut self) {
        self.run_incomplete = true;
    }

    /// The new file being written to replace an existing one at the end
    /// (`.NAME.sysflow-PID-N` beside it), while it is: what to remove if the process must
    /// end at once.
    pub fn unfinished_output(&self) -> Option<&Path> {
        self.temp.as_deref()
    }

    /// Files written and kept, since the start: closed with their records (a file
    /// replacing an existing one once it replaced it), not removed as unused
    /// ([`FileSink::remove_unused_file`]). 0 after a run whose output could never be
    /// created (a full disk) or that left an old file in place.
    pub fn files_written(&self) -> u64 {
        self.files_written
    }

    /// Closes the current period's file (see [`FileSink::close`]).
    fn close_file(&mut self) -> Result<()> {
        self.short_at_close = false;
        self.write_block(true)?;
        let period = std::mem::take(&mut self.period);
        if let Some(mut w) = self.writer.take() {
            let name = self.current.display().to_string();
            // only after a failed last block: the carried header
            let lost = w.discard_block();
            self.dropped += lost;
            if let Some(o) = &mut self.outage {
                o.records += lost;
            }
            let start = period.start;
            let end = period
                .end
                .unwrap_or_else(crate::clock::wall_s)
                .max(start.unwrap_or(i64::MIN));
            let own = [
                ("file_drops", period.drops + lost),
                ("file_failed_blocks", period.failed_blocks),
                ("file_failed_opens", period.failed_opens),
                ("unfiled_drops", self.unfiled),
            ];
            self.unfiled = 0;
            let mut causes = period.causes;
            add_causes(&mut causes, &std::mem::take(&mut self.unfiled_causes));
            self.closed_len = w.committed();
            let value = losses::encode(start, end, self.closed_len, &own, &causes);
            let span = w.metadata_span(LOSSES_KEY);
            let f = w.into_inner();
            if let Some((at, len)) = span
                && len == value.len()
            {
                use std::os::unix::fs::FileExt;
                match f.write_all_at(&value, at) {
                    Ok(()) => {}
                    Err(e) if is_full(&e) => {
                        self.short_at_close = true;
                        self.close_warning(format_args!(
                            "{name}: {e}: its {LOSSES_KEY} header entry keeps saying incomplete"
                        ));
                    }
                    Err(e) => return Err(SysFlowError::io(format!("writing {name}"), e)),
                }
            }
            match f.sync_data() {
                Ok(()) => {}
                Err(e) if is_full(&e) => {
                    self.short_at_close = true;
                    self.close_warning(format_args!(
                        "{name}: {e} at sync: its last records may be missing"
                    ));
                }
                Err(e) => return Err(SysFlowError::io(format!("syncing {name}"), e)),
            }
            self.closed = self.current.clone();
        } else if self.waiting.take().is_some() {
            // the period never got a file
            let header = u64::from(self.header.is_some());
            self.dropped += header;
            self.unfiled += period.drops + header;
            add_causes(&mut self.unfiled_causes, &period.causes);
            if let Some(o) = &mut self.outage {
                o.records += header;
            }
        }
        self.header = None;
        Ok(())
    }

    fn append(&mut self, rec: &Record) -> Result<()> {
        if self.writer.is_none() && self.waiting.is_some() && Instant::now() >= self.next_retry {
            self.retry_open()?;
        }
        let Some(w) = self.writer.as_mut() else {
            if self.waiting.is_some() {
                self.dropped += 1;
                self.period.drops += 1;
                if let Some(o) = &mut self.outage {
                    o.records += 1;
                }
                return Ok(());
            }
            return Err(SysFlowError::io(
                "file sink is closed",
                std::io::Error::other("write after finish"),
            ));
        };
        let before = w.committed();
        match w.append(rec) {
            Ok(()) => {
                if w.committed() != before {
                    self.written();
                }
                Ok(())
            }
            Err(e) => self.block_failed(e),
        }
    }
}

impl RecordSink for FileSink {
    fn start(&mut self, header: &SfHeader) -> Result<()> {
        self.header = Some(header.clone());
        if self.writer.is_none() && self.waiting.is_some() {
            // written when the file can be created, or counted dropped with the period
            return Ok(());
        }
        self.append(&Record::Header(header.clone()))
    }

    fn write(&mut self, view: &RecordView<'_>) -> Result<()> {
        if self.period.start.is_none() && view.record.kind().is_event_or_flow() {
            // a period whose start was not given (or given as 0): its first event's time
            self.period.start = view.record.ts().and_then(|ns| known(ns / 1_000_000_000));
        }
        // marked before the append: a failing append may leave the record in the block,
        // to be written by a later flush, and the file must then not count as empty
        // (a record dropped while the file waits for space went into no file)
        self.filled |= self.writer.is_some();
        self.append(view.record)
    }

    /// The file holds entities as records of their own.
    fn needs_links(&self) -> bool {
        false
    }

    fn flush(&mut self) -> Result<()> {
        self.retry_open()?;
        self.write_block(false)
    }

    /// Closes the file (after a last try to create it, if the disk was full).
    fn finish(&mut self) -> Result<()> {
        self.retry_open()?;
        self.close()?;
        let untold = std::mem::take(&mut self.untold);
        let held = std::mem::take(&mut self.close_held);
        if held > 0 {
            self.diag.warn(format_args!(
                "{}: output ends with {held} warnings about files closed short of space held back (their losses header entries or last records may be missing)",
                self.current.display()
            ));
        }
        if let Some(o) = self.outage.take() {
            self.diag.warn(format_args!(
                "{}: output ends short of space: {} records dropped in {} failed writes \
                 since space ran out{}",
                self.current.display(),
                o.records,
                o.failures,
                untold.note()
            ));
        } else if untold.runs > 0 {
            self.diag.warn(format_args!(
                "{}: output ends with {} runs of failures for lack of space that went \
                 unlogged: {} records dropped in {} failed writes",
                self.current.display(),
                untold.runs,
                untold.records,
                untold.failures
            ));
        }
        Ok(())
    }

    fn take_reset_request(&mut self) -> bool {
        std::mem::take(&mut self.reset)
    }

    fn dropped(&self) -> u64 {
        self.dropped
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// Adds `more` into `into`, cause by cause (a cause `into` lacks is appended).
fn add_causes(into: &mut Vec<(&'static str, u64)>, more: &[(&'static str, u64)]) {
    for &(name, n) in more {
        match into.iter_mut().find(|(k, _)| *k == name) {
            Some((_, v)) => *v += n,
            None => into.push((name, n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `rec` into `s`, linked to nothing.
    fn write_bare(s: &mut FileSink, header: &SfHeader, rec: &Record) {
        let view = RecordView {
            header,
            container: None,
            pod: None,
            process: None,
            file: None,
            new_file: None,
            record: rec,
        };
        s.write(&view).unwrap();
    }

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
        assert!(matches!(e, SysFlowError::OutputExists { .. }), "{e:?}");
        assert!(e.to_string().contains("exists (set file_overwrite"), "{e}");
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
        assert!(
            e.to_string()
                .contains("it is a character device, and only a regular file is replaced"),
            "{e}"
        );
        let other = dir.path().join("other");
        fs::write(&other, b"keep").unwrap();
        let hard = dir.path().join("hard.sf");
        fs::hard_link(&other, &hard).unwrap();
        let e = FileSink::with_options(&hard, opts, false, None)
            .err()
            .unwrap();
        assert!(e.to_string().contains("it has 2 names (hard links)"), "{e}");
        assert_eq!(fs::read(&other).unwrap(), b"keep");
        // nor another user's file (root's files are this test's own when it runs as root)
        let theirs = dir.path().join("theirs.sf");
        fs::write(&theirs, b"keep").unwrap();
        let me = nix::unistd::geteuid().as_raw();
        if nix::unistd::chown(&theirs, Some(nix::unistd::Uid::from_raw(me + 1)), None).is_ok() {
            let e = FileSink::with_options(&theirs, opts, false, None)
                .err()
                .unwrap();
            let said = format!("it belongs to uid {}, and only a file of this user", me + 1);
            assert!(e.to_string().contains(&said), "{e}");
            assert_eq!(fs::read(&theirs).unwrap(), b"keep");
        }
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
    fn a_replaced_file_stays_whole_until_a_whole_output_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let opts = FileOptions {
            overwrite: true,
            ..FileOptions::default()
        };
        let names = |d: &Path| {
            let mut v: Vec<String> = fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        // a name of 250 bytes: the new file's name beside it must still fit in 255
        let long = "a".repeat(250);
        for name in ["one.sf", long.as_str()] {
            let path = dir.path().join(name);
            for (failed, records, replaced) in [
                (false, 0, true),
                (false, 3, true),
                (true, 0, false),
                (true, 3, false),
            ] {
                fs::write(&path, b"old").unwrap();
                let mut s = FileSink::with_options(&path, opts, false, None).unwrap();
                s.start(&SfHeader::default()).unwrap();
                let h = SfHeader::default();
                for i in 0..records {
                    let rec = Record::ProcessFlow(crate::model::ProcessFlow {
                        ts: i,
                        ..Default::default()
                    });
                    write_bare(&mut s, &h, &rec);
                }
                s.flush().unwrap();
                // written beside it: the old file is whole meanwhile
                assert_eq!(fs::read(&path).unwrap(), b"old");
                assert_eq!(names(dir.path()).len(), 2);
                if failed {
                    s.run_incomplete();
                }
                s.finish().unwrap();
                assert_eq!(s.files_written(), u64::from(replaced));
                let now = fs::read(&path).unwrap();
                assert_eq!(now != b"old", replaced, "{failed} {records}");
                assert_eq!(names(dir.path()), [name], "{failed} {records}");
            }
            fs::remove_file(&path).unwrap();
        }
    }

    #[test]
    fn a_block_failing_for_lack_of_space_is_dropped_counted_and_cut_off() {
        use crate::avro::SfReader;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.sf");
        let h = SfHeader::default();
        let rec = Record::Header(h.clone());
        let count = |p: &Path| SfReader::open(p).unwrap().map(Result::unwrap).count();
        for errno in [libc::ENOSPC, libc::EDQUOT, libc::EFBIG] {
            let _ = fs::remove_file(&path);
            let mut s = FileSink::create(&path, AvroCodec::Null, None).unwrap();
            s.start(&h).unwrap();
            for _ in 0..5 {
                s.append(&rec).unwrap();
            }
            // the first block fails: the period header is carried over, never dropped
            let w = s.writer.as_mut().unwrap();
            std::io::Write::write_all(w.get_mut(), b"part of a block").unwrap();
            s.block_failed(std::io::Error::from_raw_os_error(errno))
                .unwrap();
            assert_eq!((s.dropped(), s.failed_blocks()), (5, 1));
            s.flush().unwrap();
            let good = fs::metadata(&path).unwrap().len();
            // a later block, half written when the disk filled up
            for _ in 0..10 {
                s.append(&rec).unwrap();
            }
            let w = s.writer.as_mut().unwrap();
            std::io::Write::write_all(w.get_mut(), b"part of a block").unwrap();
            s.block_failed(std::io::Error::from_raw_os_error(errno))
                .unwrap();
            assert_eq!((s.dropped(), s.failed_blocks()), (15, 2));
            assert_eq!(fs::metadata(&path).unwrap().len(), good, "cut back");
            // and the next ones are written again
            s.append(&rec).unwrap();
            s.finish().unwrap();
            assert_eq!(count(&path), 2);
            assert!(s.take_reset_request());
        }
        // any other error stops the run, naming the file
        let _ = fs::remove_file(&path);
        let mut s = FileSink::create(&path, AvroCodec::Null, None).unwrap();
        s.start(&h).unwrap();
        let e = s
            .block_failed(std::io::Error::from_raw_os_error(libc::EIO))
            .unwrap_err();
        assert!(e.to_string().contains("x.sf"), "{e}");
    }

    #[test]
    fn full_disk_warnings_go_out_through_the_drivers_diag_a_few_at_most() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.sf");
        let (diag, kept) = Diag::keeping("disk-app");
        let mut s = FileSink::with_diag(&path, FileOptions::default(), false, None, diag).unwrap();
        let h = SfHeader::default();
        let rec = Record::Header(h.clone());
        let full = || std::io::Error::from_raw_os_error(libc::ENOSPC);
        s.start(&h).unwrap();
        // a disk on the edge of full: a block fails, the next one is written, 50 times
        for _ in 0..50 {
            s.append(&rec).unwrap();
            s.block_failed(full()).unwrap();
            s.append(&rec).unwrap();
            s.flush().unwrap();
        }
        assert_eq!(s.dropped(), 50);
        let lines = kept.lock().clone();
        assert!(lines.iter().all(|(t, _)| t == "disk-app"), "{lines:?}");
        assert_eq!(
            lines.len(),
            2,
            "one run of failures told, its start and end: {lines:?}"
        );
        assert!(
            lines[0].1.contains("records are dropped (and counted)"),
            "{lines:?}"
        );
        assert!(
            lines[1].1.contains(
                "writing again after lack of space: 1 records dropped in 1 failed writes"
            ),
            "{lines:?}"
        );
        // a run that starts while the gate is closed is told once it opens, if it lasts,
        // with the runs held back before it
        s.append(&rec).unwrap();
        s.block_failed(full()).unwrap();
        assert_eq!(kept.lock().len(), 2);
        s.outage_gate = WarnGate::new(Duration::ZERO);
        s.append(&rec).unwrap();
        s.block_failed(full()).unwrap();
        s.finish().unwrap();
        let lines = kept.lock().clone();
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(
            lines[2].1.contains(
                "records are dropped (and counted) until space comes back (before this, 49 runs \
                 of failures for lack of space went unlogged: 49 records dropped in 49 failed \
                 writes)"
            ),
            "{lines:?}"
        );
        assert!(
            lines[3]
                .1
                .contains("output ends short of space: 2 records dropped in 2 failed writes"),
            "{lines:?}"
        );
    }

    #[test]
    fn only_an_unused_file_of_its_own_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let h = SfHeader::default();
        let path = dir.path().join("x.sf");
        let opts = |overwrite| FileOptions {
            overwrite,
            ..FileOptions::default()
        };
        // created, header only: removed
        let mut s = FileSink::with_options(&path, opts(false), false, None).unwrap();
        s.start(&h).unwrap();
        s.finish().unwrap();
        assert_eq!(s.remove_unused_file().as_deref(), Some(path.as_path()));
        assert!(!path.exists());
        // created, with a record: kept
        let mut s = FileSink::with_options(&path, opts(false), false, None).unwrap();
        s.start(&h).unwrap();
        write_bare(&mut s, &h, &Record::Header(h.clone()));
        s.finish().unwrap();
        assert_eq!(s.remove_unused_file(), None);
        assert!(path.is_file());
        // replaced (it existed before): kept
        let mut s = FileSink::with_options(&path, opts(true), false, None).unwrap();
        s.finish().unwrap();
        assert_eq!(s.remove_unused_file(), None);
        assert!(path.is_file());
        // created, but another file put in its place since: kept
        fs::remove_file(&path).unwrap();
        let mut s = FileSink::with_options(&path, opts(false), false, None).unwrap();
        s.finish().unwrap();
        let other = dir.path().join("other");
        fs::write(&other, b"someone else's").unwrap();
        fs::rename(&other, &path).unwrap();
        assert_eq!(s.remove_unused_file(), None);
        assert_eq!(fs::read(&path).unwrap(), b"someone else's");
    }

    #[test]
    fn a_new_file_in_place_of_the_removed_one_is_kept_even_with_its_inode() {
        // ext4 (this machine's /tmp) hands a freed inode to the next file created in the
        // same directory: without the sink holding its file open, the stranger's file
        // would carry the sink's device and inode, and be removed as the sink's own
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.sf");
        let mut s = FileSink::with_options(&path, FileOptions::default(), false, None).unwrap();
        s.start(&SfHeader::default()).unwrap();
        s.finish().unwrap();
        fs::remove_file(&path).unwrap();
        fs::write(&path, b"someone else's").unwrap();
        assert_eq!(s.remove_unused_file(), None);
        assert_eq!(fs::read(&path).unwrap(), b"someone else's");
    }

    #[test]
    fn the_same_inode_written_again_by_another_writer_is_kept() {
        // another writer replacing the file in place (O_TRUNC, `cp` onto it) keeps its
        // inode: only the length tells that it no longer holds just this sink's header
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.sf");
        let mut s = FileSink::with_options(&path, FileOptions::default(), false, None).unwrap();
        s.start(&SfHeader::default()).unwrap();
        s.finish().unwrap();
        fs::write(&path, b"another writer's records, in the same inode").unwrap();
        assert_eq!(s.remove_unused_file(), None);
        assert!(path.is_file());
    }

    #[test]
    fn unwritable_path_fails_at_creation() {
        let e = FileSink::create(Path::new("/nonexistent-dir/x.sf"), AvroCodec::Null, None)
            .err()
            .expect("must fail");
        assert!(e.to_string().contains("/nonexistent-dir/x.sf"), "{e}");
    }
}
