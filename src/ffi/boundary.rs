//! The panic boundary (`ffi_boundary!`) and the calling thread's last error.

use super::status::sysflow_status;
use crate::error::SysFlowError;
use std::any::Any;
use std::cell::RefCell;
use std::ffi::c_char;

/// A failed call: the status returned to C and the detail kept as the thread's last error.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: sysflow_status,
    pub(crate) detail: String,
}

impl Failure {
    pub(crate) fn new(status: sysflow_status, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
        }
    }

    /// A `NULL` pointer where one is not allowed.
    pub(crate) fn null(function: &str, argument: &str) -> Self {
        Self::new(
            sysflow_status::NULL_ARGUMENT,
            format!("{function}: `{argument}` is NULL"),
        )
    }
}

impl From<SysFlowError> for Failure {
    fn from(e: SysFlowError) -> Self {
        Self::new(sysflow_status::from_error_code(e.code()), e.to_string())
    }
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Records `msg` as the calling thread's last error (interior NULs are escaped so the
/// C copy is the whole message).
pub(crate) fn set_last_error(msg: &str) {
    let _ = LAST_ERROR.try_with(|e| {
        if let Ok(mut e) = e.try_borrow_mut() {
            e.clear();
            e.push_str(&msg.replace('\0', "\\0"));
        }
    });
}

/// Clears the calling thread's last error (after a successful call).
pub(crate) fn clear_last_error() {
    let _ = LAST_ERROR.try_with(|e| {
        if let Ok(mut e) = e.try_borrow_mut() {
            e.clear();
        }
    });
}

/// The message of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "non-string panic payload"
    }
}

/// Ends a status-returning boundary: success clears the last error, a failure records it,
/// a panic becomes [`sysflow_status::PANIC`].
pub(crate) fn status_result(
    r: std::thread::Result<Result<(), Failure>>,
    function: &str,
) -> sysflow_status {
    match r {
        Ok(Ok(())) => {
            clear_last_error();
            sysflow_status::OK
        }
        Ok(Err(f)) => {
            set_last_error(&f.detail);
            f.status
        }
        Err(payload) => {
            set_last_error(&format!(
                "{function}: internal panic (a bug in sysflow, please report it): {}",
                panic_message(&*payload)
            ));
            sysflow_status::PANIC
        }
    }
}

/// Wraps the body of every exported function: a panic never unwinds into C.
///
/// - `ffi_boundary!(status "name" => { ... })`: the body is a block of type
///   `Result<(), Failure>`; the function returns `SYSFLOW_STATUS_OK`, the failure's status
///   (recording its detail as the thread's last error) or `SYSFLOW_STATUS_PANIC`.
/// - `ffi_boundary!(value on_panic => { ... })`: the body returns the function's value;
///   `on_panic` is returned if it panics. The last error is not touched, so this form
///   allocates nothing of its own (what `sysflow_driver_exit` needs to be
///   async-signal-safe).
macro_rules! ffi_boundary {
    (status $name:literal => $body:block) => {
        $crate::ffi::boundary::status_result(
            ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(
                || -> ::std::result::Result<(), $crate::ffi::boundary::Failure> { $body },
            )),
            $name,
        )
    };
    (value $on_panic:expr => $body:block) => {
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body)) {
            Ok(v) => v,
            Err(_) => $on_panic,
        }
    };
}

/// Copies the calling thread's last error message into `buf`.
///
/// The last error is the detail of the most recent call on this thread that returned a
/// status: a failure records a message naming what failed and why, a success clears it
/// (`sysflow_driver_exit` never touches it). At most `len - 1` bytes are copied (cut at a
/// UTF-8 character boundary) and the copy is always NUL-terminated when `len > 0`.
///
/// Returns the length in bytes of the whole message, without its NUL (0 if there is no
/// error): if the result is `>= len`, the copy was truncated; call again with a buffer of
/// at least `result + 1` bytes. `buf` may be `NULL` when `len` is 0, to ask for the length.
///
/// # Safety
///
/// `buf` must be `NULL` or point to at least `len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sysflow_last_error(buf: *mut c_char, len: usize) -> usize {
    ffi_boundary!(value 0 => {
        LAST_ERROR
            .try_with(|e| {
                let Ok(msg) = e.try_borrow() else { return 0 };
                if !buf.is_null() && len > 0 {
                    let mut n = msg.len().min(len - 1);
                    while !msg.is_char_boundary(n) {
                        n -= 1;
                    }
                    // SAFETY: the caller guarantees `buf` points to `len` writable bytes;
                    // `n + 1 <= len`, and `msg` is a live Rust string that cannot overlap a
                    // caller buffer.
                    unsafe {
                        std::ptr::copy_nonoverlapping(msg.as_ptr(), buf.cast::<u8>(), n);
                        *buf.add(n) = 0;
                    }
                }
                msg.len()
            })
            .unwrap_or(0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_error() -> String {
        let mut buf = [0 as c_char; 256];
        // SAFETY: `buf` is 256 writable bytes.
        let n = unsafe { sysflow_last_error(buf.as_mut_ptr(), buf.len()) };
        // SAFETY: `sysflow_last_error` NUL-terminated the buffer.
        let s = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
        assert_eq!(n, s.to_bytes().len());
        s.to_str().unwrap().to_owned()
    }

    fn panicking() -> sysflow_status {
        ffi_boundary!(status "panicking" => {
            if std::hint::black_box(true) {
                panic!("boom");
            }
            Ok(())
        })
    }

    fn failing() -> sysflow_status {
        ffi_boundary!(status "failing" => {
            Err(Failure::new(sysflow_status::IO, "disk\0full"))
        })
    }

    #[test]
    fn panics_become_a_status_and_a_message() {
        assert_eq!(panicking(), sysflow_status::PANIC);
        let e = last_error();
        assert!(e.contains("panicking") && e.contains("boom"), "{e}");
        let v: u32 = ffi_boundary!(value 7 => { panic!("boom") });
        assert_eq!(v, 7);
    }

    #[test]
    fn failures_record_the_detail_and_success_clears_it() {
        assert_eq!(failing(), sysflow_status::IO);
        assert_eq!(last_error(), "disk\\0full");
        let ok = ffi_boundary!(status "ok" => { Ok(()) });
        assert_eq!(ok, sysflow_status::OK);
        assert_eq!(last_error(), "");
    }
}
