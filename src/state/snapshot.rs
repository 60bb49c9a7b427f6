//! A process or thread as the initial snapshot describes it (capture process list or
//! `/proc`).

use super::fd::FdInfo;

/// One thread of the initial snapshot, with its open fds.
#[derive(Clone, Debug, Default)]
pub struct ProcSnapshot {
    /// Thread id.
    pub tid: i64,
    /// Process id.
    pub pid: i64,
    /// Parent thread id.
    pub ptid: i64,
    /// Thread id in its pid namespace.
    pub vtid: i64,
    /// Process id in its pid namespace.
    pub vpid: i64,
    /// Command name.
    pub comm: Vec<u8>,
    /// `argv[0]`.
    pub exe: Vec<u8>,
    /// Full executable path.
    pub exepath: Vec<u8>,
    /// Arguments after `argv[0]`.
    pub args: Vec<Vec<u8>>,
    /// Working directory.
    pub cwd: Vec<u8>,
    /// Environment.
    pub env: Vec<Vec<u8>>,
    /// Uid.
    pub uid: u32,
    /// Gid.
    pub gid: u32,
    /// Login uid.
    pub loginuid: u32,
    /// Controlling terminal.
    pub tty: u32,
    /// `PPM_CL_*` flags.
    pub flags: u32,
    /// Creation time (0 when unknown, as in captures).
    pub clone_ts: u64,
    /// cgroups, `subsys=path`.
    pub cgroups: Vec<Vec<u8>>,
    /// Open fds.
    pub fds: Vec<(i64, FdInfo)>,
}
