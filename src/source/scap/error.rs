//! Errors of the scap reader: what went wrong and at which byte of the capture.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// A failure to read a scap capture.
///
/// `offset` is the byte offset in the (decompressed) capture where the problem was found:
/// the start of the damaged block or entry, or the end of the data for a truncated file.
#[derive(Debug)]
pub struct ScapError {
    /// Byte offset in the decompressed capture.
    pub offset: u64,
    /// What went wrong.
    pub kind: ScapErrorKind,
}

impl ScapError {
    pub(crate) fn new(offset: u64, kind: ScapErrorKind) -> Self {
        Self { offset, kind }
    }

    /// Converts an I/O error met while reading at `offset`; an unexpected end of the
    /// (compressed) stream is reported as a truncated capture.
    pub(crate) fn io(offset: u64, source: io::Error) -> Self {
        let kind = if source.kind() == io::ErrorKind::UnexpectedEof {
            ScapErrorKind::Truncated {
                what: "compressed stream",
            }
        } else {
            ScapErrorKind::Io { source }
        };
        Self::new(offset, kind)
    }

    /// The capture at `path` could not be opened.
    pub(crate) fn open(path: &std::path::Path, source: io::Error) -> Self {
        Self::new(
            0,
            ScapErrorKind::Open {
                path: path.to_path_buf(),
                source,
            },
        )
    }

    /// Whether a stop request ended the read (see [`super::StoppableFile`]): not damage.
    pub(crate) fn is_stop_requested(&self) -> bool {
        matches!(&self.kind, ScapErrorKind::Io { source } if super::stoppable::is_stop_requested(source))
    }
}

impl fmt::Display for ScapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "scap capture: {} (at byte offset {})",
            self.kind, self.offset
        )
    }
}

impl std::error::Error for ScapError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ScapErrorKind::Io { source } | ScapErrorKind::Open { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The kinds of [`ScapError`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScapErrorKind {
    /// The capture file could not be opened.
    #[error("cannot open {}: {source}", path.display())]
    Open {
        /// The path given to [`ScapReader::open`](super::ScapReader::open).
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// Reading the underlying stream failed (including a corrupt gzip stream).
    #[error("read failed: {source}")]
    Io {
        /// The underlying error.
        source: io::Error,
    },
    /// The data ends in the middle of a block.
    #[error("file is truncated: it ends inside {what}")]
    Truncated {
        /// What was being read when the data ended.
        what: &'static str,
    },
    /// The first block is not a section header block: this is not a scap capture.
    #[error("not a scap capture: first block type is {found:#010x}, expected 0x0a0d0d0a")]
    NotScap {
        /// The block type found instead.
        found: u32,
    },
    /// The section header's byte-order magic is wrong (or byte-swapped: big-endian
    /// captures are not supported).
    #[error("bad byte-order magic {found:#010x} in section header, expected 0x1a2b3c4d")]
    BadMagic {
        /// The magic found.
        found: u32,
    },
    /// The section header announces a format major version this reader cannot read.
    #[error("unsupported scap format version {major}.{minor} (only major version 1 is readable)")]
    UnsupportedVersion {
        /// Major version in the section header.
        major: u16,
        /// Minor version in the section header.
        minor: u16,
    },
    /// A block's total length is too small for its type.
    #[error("block of type {block_type:#x} has length {length}, less than the minimum {min}")]
    BlockTooShort {
        /// The block type.
        block_type: u32,
        /// The block total length from its header.
        length: u32,
        /// The smallest valid length for this block type.
        min: u32,
    },
    /// A block's total length is larger than this reader accepts.
    #[error("block of type {block_type:#x} has length {length}, more than the {limit}-byte limit")]
    BlockTooLarge {
        /// The block type.
        block_type: u32,
        /// The block total length from its header.
        length: u32,
        /// The largest accepted block length.
        limit: u32,
    },
    /// A metadata block's trailing length differs from the length in its header.
    #[error(
        "block of type {block_type:#x}: trailing length {trailer} differs from header length {header}"
    )]
    TrailerMismatch {
        /// The block type.
        block_type: u32,
        /// The length in the block header.
        header: u32,
        /// The length in the block trailer.
        trailer: u32,
    },
    /// A metadata block's content is inconsistent.
    #[error("malformed {block} block (type {block_type:#x}): {what}")]
    MalformedBlock {
        /// Human-readable block name (e.g. "process list").
        block: &'static str,
        /// The block type.
        block_type: u32,
        /// What is wrong.
        what: &'static str,
    },
    /// An event block's content is inconsistent.
    #[error("malformed event block (event type {event_type}): {what}")]
    MalformedEvent {
        /// The event type from the event header (0 if the header itself is unreadable).
        event_type: u16,
        /// What is wrong.
        what: &'static str,
    },
    /// A block that is neither an event block nor a new section header follows the events.
    #[error(
        "unexpected block of type {block_type:#x} after events (expected an event block or a new section header)"
    )]
    UnexpectedBlock {
        /// The block type found.
        block_type: u32,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_offset() {
        let err = ScapError::new(
            1234,
            ScapErrorKind::Truncated {
                what: "an event block",
            },
        );
        let text = err.to_string();
        assert!(text.contains("1234"), "{text}");
        assert!(text.contains("truncated"), "{text}");
    }

    #[test]
    fn unexpected_eof_is_truncation() {
        let err = ScapError::io(7, io::Error::from(io::ErrorKind::UnexpectedEof));
        assert!(matches!(err.kind, ScapErrorKind::Truncated { .. }));
        let err = ScapError::io(7, io::Error::from(io::ErrorKind::InvalidData));
        assert!(matches!(err.kind, ScapErrorKind::Io { .. }));
    }
}
