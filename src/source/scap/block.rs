//! Block framing: every block is `u32 type, u32 total_length, body, padding,
//! u32 total_length`. This module names the block types and sorts them into kinds.

/// Bytes of the block header (`type` + `total_length`).
pub(crate) const HEADER_LEN: u32 = 8;
/// Bytes of the trailing length.
pub(crate) const TRAILER_LEN: u32 = 4;
/// Largest block total length accepted; larger claims are treated as corruption.
pub(crate) const MAX_BLOCK_LEN: u32 = 64 << 20;

/// Section header block.
pub(crate) const SHB: u32 = 0x0A0D_0D0A;

/// The kinds of block a reader acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockKind {
    SectionHeader,
    MachineInfo,
    /// Process list of the given version (1..=9).
    ProcList(u8),
    /// File descriptor list; `true` for V2 (entries carry their own length).
    FdList {
        v2: bool,
    },
    /// Interface list; `true` for V2 (entries carry their own length).
    InterfaceList {
        v2: bool,
    },
    /// User and group list; `true` for V2 (entries carry their own length).
    UserList {
        v2: bool,
    },
    Event(EventBlock),
    Unknown,
}

/// The shape of an event block's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EventBlock {
    /// Event header has `nparams` (26 bytes) rather than the V1 22-byte header.
    pub(crate) v2: bool,
    /// A `u32 flags` follows the `u16 cpu`.
    pub(crate) with_flags: bool,
}

impl BlockKind {
    pub(crate) fn of(block_type: u32) -> Self {
        let event = |v2, with_flags| Self::Event(EventBlock { v2, with_flags });
        match block_type {
            SHB => Self::SectionHeader,
            0x201 | 0x8002_ABCD => Self::MachineInfo,
            0x202 | 0x8000_ABCD => Self::ProcList(1),
            0x207 | 0x8013_ABCD => Self::ProcList(2),
            0x209 | 0x8014_ABCD => Self::ProcList(3),
            0x210 => Self::ProcList(4),
            0x211 => Self::ProcList(5),
            0x212 => Self::ProcList(6),
            0x213 => Self::ProcList(7),
            0x214 => Self::ProcList(8),
            0x215 => Self::ProcList(9),
            0x203 | 0x8001_ABCD => Self::FdList { v2: false },
            0x218 => Self::FdList { v2: true },
            0x205 | 0x8011_ABCD => Self::InterfaceList { v2: false },
            0x219 => Self::InterfaceList { v2: true },
            0x206 | 0x8012_ABCD => Self::UserList { v2: false },
            0x220 => Self::UserList { v2: true },
            0x204 | 0x8010_ABCD => event(false, false),
            0x216 | 0x221 => event(true, false),
            0x208 => event(false, true),
            0x217 | 0x222 => event(true, true),
            _ => Self::Unknown,
        }
    }

    /// Name used in error messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::SectionHeader => "section header",
            Self::MachineInfo => "machine info",
            Self::ProcList(_) => "process list",
            Self::FdList { .. } => "fd list",
            Self::InterfaceList { .. } => "interface list",
            Self::UserList { .. } => "user list",
            Self::Event(_) => "event",
            Self::Unknown => "unknown",
        }
    }
}

/// A block header as read from the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockHeader {
    pub(crate) block_type: u32,
    pub(crate) total_len: u32,
    /// Offset of the block's first byte in the (decompressed) capture.
    pub(crate) offset: u64,
}

impl BlockHeader {
    pub(crate) fn parse(raw: [u8; 8], offset: u64) -> Self {
        let [a, b, c, d, e, f, g, h] = raw;
        Self {
            block_type: u32::from_le_bytes([a, b, c, d]),
            total_len: u32::from_le_bytes([e, f, g, h]),
            offset,
        }
    }

    /// Offset of the first body byte.
    pub(crate) fn body_offset(&self) -> u64 {
        self.offset.saturating_add(u64::from(HEADER_LEN))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(BlockKind::of(0x0A0D_0D0A), BlockKind::SectionHeader);
        assert_eq!(BlockKind::of(0x215), BlockKind::ProcList(9));
        assert_eq!(BlockKind::of(0x8014_ABCD), BlockKind::ProcList(3));
        assert_eq!(
            BlockKind::of(0x222),
            BlockKind::Event(EventBlock {
                v2: true,
                with_flags: true
            })
        );
        assert_eq!(
            BlockKind::of(0x8010_ABCD),
            BlockKind::Event(EventBlock {
                v2: false,
                with_flags: false
            })
        );
        assert_eq!(BlockKind::of(0x999), BlockKind::Unknown);
    }

    #[test]
    fn header() {
        let h = BlockHeader::parse([0x16, 2, 0, 0, 0x40, 0, 0, 0], 100);
        assert_eq!(
            (h.block_type, h.total_len, h.body_offset()),
            (0x216, 64, 108)
        );
    }
}
