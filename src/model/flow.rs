//! Flow records: counters of related operations over a time span.

use super::flags::OpFlags;
use super::ids::{Foid, Oid};

/// Thread activity of one process (`sysflow.flow.ProcessFlow`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessFlow {
    /// Schema field `procOID`.
    pub proc_oid: Oid,
    /// Schema field `ts`.
    pub ts: i64,
    /// Schema field `numThreadsCloned`.
    pub num_threads_cloned: i64,
    /// Schema field `opFlags`.
    pub op_flags: OpFlags,
    /// Schema field `endTs`.
    pub end_ts: i64,
    /// Schema field `numThreadsExited`.
    pub num_threads_exited: i64,
    /// Schema field `numCloneErrors`.
    pub num_clone_errors: i64,
}

/// I/O of one thread on one file descriptor (`sysflow.flow.FileFlow`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileFlow {
    /// Schema field `procOID`.
    pub proc_oid: Oid,
    /// Schema field `ts`.
    pub ts: i64,
    /// Schema field `tid`.
    pub tid: i64,
    /// Schema field `opFlags`.
    pub op_flags: OpFlags,
    /// Schema field `openFlags` (`PPM_O_*` encoding, see [`super::OpenFlags`]).
    pub open_flags: i32,
    /// Schema field `endTs`.
    pub end_ts: i64,
    /// Schema field `fileOID`.
    pub file_oid: Foid,
    /// Schema field `fd`.
    pub fd: i32,
    /// Schema field `numRRecvOps`.
    pub num_r_recv_ops: i64,
    /// Schema field `numWSendOps`.
    pub num_w_send_ops: i64,
    /// Schema field `numRRecvBytes`.
    pub num_r_recv_bytes: i64,
    /// Schema field `numWSendBytes`.
    pub num_w_send_bytes: i64,
}

/// I/O of one thread on one IPv4 socket (`sysflow.flow.NetworkFlow`).
///
/// Addresses are the four network-order address bytes read as a little-endian `u32` and
/// stored in the schema's signed `int` (127.0.0.1 is 16777343), as the reference writes them;
/// see [`ipv4_to_avro`] and [`avro_to_ipv4`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkFlow {
    /// Schema field `procOID`.
    pub proc_oid: Oid,
    /// Schema field `ts`.
    pub ts: i64,
    /// Schema field `tid`.
    pub tid: i64,
    /// Schema field `opFlags`.
    pub op_flags: OpFlags,
    /// Schema field `endTs`.
    pub end_ts: i64,
    /// Schema field `sip`: client address.
    pub sip: i32,
    /// Schema field `sport`: client port.
    pub sport: i32,
    /// Schema field `dip`: server address.
    pub dip: i32,
    /// Schema field `dport`: server port.
    pub dport: i32,
    /// Schema field `proto`: IP protocol number (6 TCP, 17 UDP).
    pub proto: i32,
    /// Schema field `fd`.
    pub fd: i32,
    /// Schema field `numRRecvOps`.
    pub num_r_recv_ops: i64,
    /// Schema field `numWSendOps`.
    pub num_w_send_ops: i64,
    /// Schema field `numRRecvBytes`.
    pub num_r_recv_bytes: i64,
    /// Schema field `numWSendBytes`.
    pub num_w_send_bytes: i64,
}

/// Encodes an IPv4 address the way SysFlow stores it in `sip`/`dip`.
pub fn ipv4_to_avro(addr: std::net::Ipv4Addr) -> i32 {
    i32::from_le_bytes(addr.octets())
}

/// Decodes a SysFlow `sip`/`dip` value into an IPv4 address.
pub fn avro_to_ipv4(v: i32) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::from(v.to_le_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn ip_encoding_matches_reference() {
        assert_eq!(ipv4_to_avro(Ipv4Addr::LOCALHOST), 16_777_343);
        assert_eq!(ipv4_to_avro(Ipv4Addr::new(10, 0, 0, 200)), -939_524_086);
        assert_eq!(avro_to_ipv4(-939_524_086), Ipv4Addr::new(10, 0, 0, 200));
    }
}
