//! Per-section metadata: the section header, machine info, and the tables read before
//! the first event block (processes, fds, interfaces, users and groups).

use super::cursor::Cursor;
use super::fd::FdList;
use super::iface::Interface;
use super::proc::ProcEntry;
use super::user::{Group, User};

/// Magic in the section header that marks little-endian (host order) data.
pub(crate) const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
/// Highest format major version this reader understands.
pub(crate) const SUPPORTED_MAJOR: u16 = 1;
/// Bytes of the section header body (magic, major, minor, section length).
pub(crate) const SECTION_HEADER_BODY_LEN: u32 = 16;
/// Bytes of the machine info struct.
const MACHINE_INFO_LEN: usize = 180;
/// Bytes of the NUL-padded hostname field.
const HOSTNAME_LEN: usize = 128;

/// Everything a capture section says before its first event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScapMetadata {
    /// The section header.
    pub section: SectionHeader,
    /// Machine info block, if the section has one.
    pub machine: Option<MachineInfo>,
    /// Process list entries, in file order (all process list blocks appended).
    pub processes: Vec<ProcEntry>,
    /// File descriptor tables, one per fd list block, in file order.
    pub fds: Vec<FdList>,
    /// Network interfaces (from the last interface list block).
    pub interfaces: Vec<Interface>,
    /// Users (from the last user list block).
    pub users: Vec<User>,
    /// Groups (from the last user list block).
    pub groups: Vec<Group>,
}

impl ScapMetadata {
    /// All fd entries recorded for thread `tid` (over every fd list block for it).
    pub fn fds_of(&self, tid: u64) -> impl Iterator<Item = &super::fd::FdEntry> {
        self.fds
            .iter()
            .filter(move |list| list.tid == tid)
            .flat_map(|list| list.fds.iter())
    }
}

/// The section header block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SectionHeader {
    /// Format major version (1).
    pub major: u16,
    /// Format minor version.
    pub minor: u16,
    /// Section length in bytes, or `u64::MAX` when unknown.
    pub section_length: u64,
}

/// The machine info block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MachineInfo {
    /// Number of CPUs.
    pub num_cpus: u32,
    /// Physical memory in bytes.
    pub memory_bytes: u64,
    /// `pid_max` of the capturing kernel.
    pub max_pid: u64,
    /// Host name, without the NUL padding (raw bytes).
    pub hostname: Vec<u8>,
    /// Boot time, nanoseconds since the epoch (0 in old captures).
    pub boot_ts: u64,
    /// Machine flags (0 in old captures).
    pub flags: u64,
}

/// A problem inside a block body: where (offset from the body start) and what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BodyError {
    pub(crate) at: usize,
    pub(crate) what: &'static str,
}

impl BodyError {
    pub(crate) fn new(at: usize, what: &'static str) -> Self {
        Self { at, what }
    }
}

/// Turns a failed cursor read into a [`BodyError`] at `at`.
pub(crate) trait OrBad<T> {
    fn or_bad(self, at: usize, what: &'static str) -> Result<T, BodyError>;
}

impl<T> OrBad<T> for Option<T> {
    fn or_bad(self, at: usize, what: &'static str) -> Result<T, BodyError> {
        self.ok_or(BodyError::new(at, what))
    }
}

/// Reason used whenever an entry runs past the end of its block.
pub(crate) const PAST_END: &str = "entry extends past the end of the block";

/// Parses a section header body (magic already known to be needed first).
/// Returns the header and the magic found.
pub(crate) fn parse_section_header(body: &[u8]) -> Result<(u32, SectionHeader), BodyError> {
    let mut c = Cursor::new(body);
    let magic = c.u32().or_bad(0, PAST_END)?;
    let major = c.u16().or_bad(4, PAST_END)?;
    let minor = c.u16().or_bad(6, PAST_END)?;
    let section_length = c.u64().or_bad(8, PAST_END)?;
    Ok((
        magic,
        SectionHeader {
            major,
            minor,
            section_length,
        },
    ))
}

/// Parses a machine info body (the 180-byte struct; longer bodies are accepted).
pub(crate) fn parse_machine_info(body: &[u8]) -> Result<MachineInfo, BodyError> {
    if body.len() < MACHINE_INFO_LEN {
        return Err(BodyError::new(0, "shorter than the 180-byte machine info"));
    }
    let mut c = Cursor::new(body);
    let num_cpus = c.u32().or_bad(0, PAST_END)?;
    let memory_bytes = c.u64().or_bad(4, PAST_END)?;
    let max_pid = c.u64().or_bad(12, PAST_END)?;
    let raw_host = c.take(HOSTNAME_LEN).or_bad(20, PAST_END)?;
    let host_len = raw_host
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(raw_host.len());
    let boot_ts = c.u64().or_bad(148, PAST_END)?;
    let flags = c.u64().or_bad(156, PAST_END)?;
    Ok(MachineInfo {
        num_cpus,
        memory_bytes,
        max_pid,
        hostname: raw_host.get(..host_len).unwrap_or_default().to_vec(),
        boot_ts,
        flags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_info() {
        let mut body = Vec::new();
        body.extend(4u32.to_le_bytes());
        body.extend(1024u64.to_le_bytes());
        body.extend(32768u64.to_le_bytes());
        let mut host = [0u8; 128];
        host[..4].copy_from_slice(b"box\xff");
        body.extend(host);
        body.extend(77u64.to_le_bytes());
        body.extend(5u64.to_le_bytes());
        body.extend([0u8; 16]);
        let mi = parse_machine_info(&body).unwrap();
        assert_eq!(mi.num_cpus, 4);
        assert_eq!(mi.memory_bytes, 1024);
        assert_eq!(mi.max_pid, 32768);
        assert_eq!(mi.hostname, b"box\xff");
        assert_eq!((mi.boot_ts, mi.flags), (77, 5));
        assert!(parse_machine_info(&body[..179]).is_err());
    }

    #[test]
    fn section_header() {
        let body = [
            0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 2, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ];
        let (magic, sh) = parse_section_header(&body).unwrap();
        assert_eq!(magic, BYTE_ORDER_MAGIC);
        assert_eq!((sh.major, sh.minor, sh.section_length), (1, 2, u64::MAX));
        assert!(parse_section_header(&body[..15]).is_err());
    }
}
