//! The crate's error type and the seed's error codes.

use std::io;
use std::path::PathBuf;

/// Error codes of the reference library (`sfexception::SysFlowError`), plus the ones a
/// Rust library needs (configuration and plain I/O). Numbers are stable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// Failure inside the capture machinery.
    LibsError = 0,
    /// Not privileged enough to load the probe.
    ProbeAccessDenied = 1,
    /// The probe (or what it needs, such as BTF) does not exist.
    ProbeNotExist = 2,
    /// Reading the file system (`/proc`, an input file) failed.
    ErrorReadingFileSystem = 3,
    /// A name or path is too long.
    NameTooLong = 4,
    /// A probe pre-check failed.
    ProbeCheckError = 5,
    /// The probe could not be loaded or attached.
    ProbeNotLoaded = 6,
    /// The probe and the library disagree on versions or layouts.
    DriverLibsMismatch = 7,
    /// Input (a capture, a SysFlow file, a kernel event) could not be parsed.
    EventParsingError = 8,
    /// A `/proc` resource was not found.
    ProcResourceNotFound = 9,
    /// The operation is not supported (yet, or on this kernel).
    OperationNotSupported = 10,
    /// The configuration is invalid.
    InvalidConfig = 11,
    /// Writing output or another I/O operation failed.
    Io = 12,
}

/// Errors of the `sysflow` crate. Each variant maps onto an [`ErrorCode`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SysFlowError {
    /// Failure inside the capture machinery.
    #[error("capture error: {0}")]
    Libs(String),
    /// Not privileged enough to load the probe.
    #[error("access denied loading the probe: {0}")]
    ProbeAccessDenied(String),
    /// The probe or a prerequisite (BTF) does not exist.
    #[error("probe unavailable: {0}")]
    ProbeNotExist(String),
    /// Reading a file or directory failed.
    #[error("cannot read {}: {source}", path.display())]
    ReadingFileSystem {
        /// What was being read.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A name or path is too long.
    #[error("name too long: {0}")]
    NameTooLong(String),
    /// A probe pre-check failed.
    #[error("probe check failed: {0}")]
    ProbeCheck(String),
    /// The probe could not be loaded or attached (the verifier's message is included).
    #[error("probe not loaded: {0}")]
    ProbeNotLoaded(String),
    /// Probe and library disagree.
    #[error("probe/library mismatch: {0}")]
    DriverLibsMismatch(String),
    /// Input could not be parsed. Everything before `offset` was delivered.
    #[error("{input}: malformed data at byte offset {offset}: {reason}")]
    EventParsing {
        /// The input: a file path, or a description such as `"socket"`.
        input: String,
        /// Byte offset of the damage in the (decompressed) input.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A `/proc` resource was not found.
    #[error("not found in /proc: {0}")]
    ProcResourceNotFound(String),
    /// The operation is not supported.
    #[error("not supported: {0}")]
    OperationNotSupported(String),
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// `falco_filter` does not parse or compile; the error gives the byte index, line and
    /// column where. Its code is [`ErrorCode::LibsError`], as the reference's.
    #[error("falco_filter: {0}")]
    Filter(#[from] crate::filter::FilterError),
    /// A single output file (`file_path`) already exists and `file_overwrite` is not set.
    /// Its code is [`ErrorCode::Io`]. A command line may say this with its own option's
    /// name (`sysporter` names `--overwrite`).
    #[error(
        "cannot create output file {}: it exists (set file_overwrite to replace it)",
        path.display()
    )]
    OutputExists {
        /// The output file.
        path: PathBuf,
        /// The underlying error (`EEXIST`).
        source: io::Error,
    },
    /// An I/O operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, on what.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The library found its own bookkeeping inconsistent (a bug, whatever the input):
    /// the run stops with this error rather than a panic. Its code is
    /// [`ErrorCode::LibsError`].
    #[error("internal error (a bug in sysflow, please report it): {0}")]
    Internal(String),
}

impl SysFlowError {
    /// The error's code, as the reference library numbers them.
    pub fn code(&self) -> ErrorCode {
        match self {
            SysFlowError::Libs(_) | SysFlowError::Filter(_) | SysFlowError::Internal(_) => {
                ErrorCode::LibsError
            }
            SysFlowError::ProbeAccessDenied(_) => ErrorCode::ProbeAccessDenied,
            SysFlowError::ProbeNotExist(_) => ErrorCode::ProbeNotExist,
            SysFlowError::ReadingFileSystem { .. } => ErrorCode::ErrorReadingFileSystem,
            SysFlowError::NameTooLong(_) => ErrorCode::NameTooLong,
            SysFlowError::ProbeCheck(_) => ErrorCode::ProbeCheckError,
            SysFlowError::ProbeNotLoaded(_) => ErrorCode::ProbeNotLoaded,
            SysFlowError::DriverLibsMismatch(_) => ErrorCode::DriverLibsMismatch,
            SysFlowError::EventParsing { .. } => ErrorCode::EventParsingError,
            SysFlowError::ProcResourceNotFound(_) => ErrorCode::ProcResourceNotFound,
            SysFlowError::OperationNotSupported(_) => ErrorCode::OperationNotSupported,
            SysFlowError::InvalidConfig(_) => ErrorCode::InvalidConfig,
            SysFlowError::Io { .. } | SysFlowError::OutputExists { .. } => ErrorCode::Io,
        }
    }

    /// Builds an [`SysFlowError::Io`] with a context message.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        SysFlowError::Io {
            context: context.into(),
            source,
        }
    }

    /// Builds an [`SysFlowError::EventParsing`].
    pub fn parsing(input: impl Into<String>, offset: u64, reason: impl Into<String>) -> Self {
        SysFlowError::EventParsing {
            input: input.into(),
            offset,
            reason: reason.into(),
        }
    }
}

/// Result type of this crate.
pub type Result<T, E = SysFlowError> = std::result::Result<T, E>;
