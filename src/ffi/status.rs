//! [`sysflow_status`]: the result of every fallible C call.

use crate::error::ErrorCode;
use std::ffi::{CStr, c_char};

/// The result of a C API call: `SYSFLOW_STATUS_OK` (0) or what went wrong.
///
/// Numbers are stable and never reused. 1–99 are misuses of the C API itself (a `NULL`
/// argument, a struct of unknown size, a call in the wrong state); 100–199 are the
/// library's error codes (`ErrorCode` in Rust, the reference library's `SysFlowError`
/// codes) offset by 100. A failing call also records a detail message for the calling
/// thread, which `sysflow_last_error` copies out. Unknown values may appear in later
/// versions: treat any value other than `SYSFLOW_STATUS_OK` as a failure.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct sysflow_status(pub i32);

impl sysflow_status {
    /// Success.
    pub const OK: sysflow_status = sysflow_status(0);
    /// A pointer argument (or a pointer inside an argument) that must not be `NULL` was.
    pub const NULL_ARGUMENT: sysflow_status = sysflow_status(1);
    /// A string that must be UTF-8 is not.
    pub const INVALID_UTF8: sysflow_status = sysflow_status(2);
    /// A struct's `struct_size` is not a size this library knows (not filled by its init
    /// function, or compiled against another version of `sysflow.h`).
    pub const UNKNOWN_STRUCT_SIZE: sysflow_status = sysflow_status(3);
    /// The driver is running (`sysflow_driver_run` on another thread).
    pub const ALREADY_RUNNING: sysflow_status = sysflow_status(4);
    /// The driver has already run; a driver runs once, create a new one.
    pub const ALREADY_RAN: sysflow_status = sysflow_status(5);
    /// The call is not allowed from inside a record callback (`sysflow_driver_run`).
    pub const IN_CALLBACK: sysflow_status = sysflow_status(6);
    /// An internal error (a Rust panic) was caught at the boundary: a bug, please report it.
    pub const PANIC: sysflow_status = sysflow_status(7);

    /// Failure inside the capture machinery (`LibsError`).
    pub const LIBS_ERROR: sysflow_status = sysflow_status(100);
    /// Not privileged enough to load the probe (`ProbeAccessDenied`).
    pub const PROBE_ACCESS_DENIED: sysflow_status = sysflow_status(101);
    /// The probe or a prerequisite such as BTF does not exist (`ProbeNotExist`).
    pub const PROBE_NOT_EXIST: sysflow_status = sysflow_status(102);
    /// Reading the file system (an input file, `/proc`) failed (`ErrorReadingFileSystem`).
    pub const ERROR_READING_FILE_SYSTEM: sysflow_status = sysflow_status(103);
    /// A name or path is too long (`NameTooLong`).
    pub const NAME_TOO_LONG: sysflow_status = sysflow_status(104);
    /// A probe pre-check failed (`ProbeCheckError`).
    pub const PROBE_CHECK_ERROR: sysflow_status = sysflow_status(105);
    /// The probe could not be loaded or attached (`ProbeNotLoaded`).
    pub const PROBE_NOT_LOADED: sysflow_status = sysflow_status(106);
    /// The probe and the library disagree (`DriverLibsMismatch`).
    pub const DRIVER_LIBS_MISMATCH: sysflow_status = sysflow_status(107);
    /// Input (a capture, a kernel event) could not be parsed (`EventParsingError`).
    pub const EVENT_PARSING_ERROR: sysflow_status = sysflow_status(108);
    /// A `/proc` resource was not found (`ProcResourceNotFound`).
    pub const PROC_RESOURCE_NOT_FOUND: sysflow_status = sysflow_status(109);
    /// The operation is not supported, yet or on this kernel (`OperationNotSupported`).
    pub const OPERATION_NOT_SUPPORTED: sysflow_status = sysflow_status(110);
    /// The configuration is invalid (`InvalidConfig`).
    pub const INVALID_CONFIG: sysflow_status = sysflow_status(111);
    /// Writing output or another I/O operation failed (`Io`).
    pub const IO: sysflow_status = sysflow_status(112);

    /// The status of a library error code.
    pub(crate) const fn from_error_code(code: ErrorCode) -> Self {
        match code {
            ErrorCode::LibsError => Self::LIBS_ERROR,
            ErrorCode::ProbeAccessDenied => Self::PROBE_ACCESS_DENIED,
            ErrorCode::ProbeNotExist => Self::PROBE_NOT_EXIST,
            ErrorCode::ErrorReadingFileSystem => Self::ERROR_READING_FILE_SYSTEM,
            ErrorCode::NameTooLong => Self::NAME_TOO_LONG,
            ErrorCode::ProbeCheckError => Self::PROBE_CHECK_ERROR,
            ErrorCode::ProbeNotLoaded => Self::PROBE_NOT_LOADED,
            ErrorCode::DriverLibsMismatch => Self::DRIVER_LIBS_MISMATCH,
            ErrorCode::EventParsingError => Self::EVENT_PARSING_ERROR,
            ErrorCode::ProcResourceNotFound => Self::PROC_RESOURCE_NOT_FOUND,
            ErrorCode::OperationNotSupported => Self::OPERATION_NOT_SUPPORTED,
            ErrorCode::InvalidConfig => Self::INVALID_CONFIG,
            ErrorCode::Io => Self::IO,
        }
    }

    /// The static description of this status.
    pub(crate) fn description(self) -> &'static CStr {
        match self {
            Self::OK => c"success",
            Self::NULL_ARGUMENT => c"NULL argument",
            Self::INVALID_UTF8 => c"string argument is not valid UTF-8",
            Self::UNKNOWN_STRUCT_SIZE => c"unknown struct_size (struct not initialised by its init function, or header/library version mismatch)",
            Self::ALREADY_RUNNING => c"driver is already running",
            Self::ALREADY_RAN => c"driver has already run (a driver runs once)",
            Self::IN_CALLBACK => c"call not allowed from inside a record callback",
            Self::PANIC => c"internal error (caught panic; please report it)",
            Self::LIBS_ERROR => c"capture error",
            Self::PROBE_ACCESS_DENIED => c"access denied loading the probe",
            Self::PROBE_NOT_EXIST => c"probe or prerequisite does not exist",
            Self::ERROR_READING_FILE_SYSTEM => c"error reading the file system",
            Self::NAME_TOO_LONG => c"name too long",
            Self::PROBE_CHECK_ERROR => c"probe check failed",
            Self::PROBE_NOT_LOADED => c"probe not loaded",
            Self::DRIVER_LIBS_MISMATCH => c"probe/library mismatch",
            Self::EVENT_PARSING_ERROR => c"malformed input",
            Self::PROC_RESOURCE_NOT_FOUND => c"/proc resource not found",
            Self::OPERATION_NOT_SUPPORTED => c"operation not supported",
            Self::INVALID_CONFIG => c"invalid configuration",
            Self::IO => c"I/O error",
            _ => c"unknown status",
        }
    }
}

/// A static, NUL-terminated English description of `status` (never `NULL`; "unknown
/// status" for a number this version does not define). Never free it.
#[unsafe(no_mangle)]
pub extern "C" fn sysflow_status_str(status: sysflow_status) -> *const c_char {
    ffi_boundary!(value c"internal error".as_ptr() => {
        status.description().as_ptr()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_has_its_own_described_status() {
        let codes = [
            ErrorCode::LibsError,
            ErrorCode::ProbeAccessDenied,
            ErrorCode::ProbeNotExist,
            ErrorCode::ErrorReadingFileSystem,
            ErrorCode::NameTooLong,
            ErrorCode::ProbeCheckError,
            ErrorCode::ProbeNotLoaded,
            ErrorCode::DriverLibsMismatch,
            ErrorCode::EventParsingError,
            ErrorCode::ProcResourceNotFound,
            ErrorCode::OperationNotSupported,
            ErrorCode::InvalidConfig,
            ErrorCode::Io,
        ];
        for code in codes {
            let s = sysflow_status::from_error_code(code);
            assert_eq!(s.0, 100 + code as i32, "{code:?}");
            assert_ne!(s.description(), c"unknown status", "{code:?}");
        }
        for n in 0..=7 {
            assert_ne!(sysflow_status(n).description(), c"unknown status", "{n}");
        }
        assert_eq!(sysflow_status(8).description(), c"unknown status");
        assert_eq!(sysflow_status(-1).description(), c"unknown status");
    }
}
