//! Event records: process, file, network and Kubernetes events.

use super::enums::{K8sAction, K8sComponent};
use super::flags::OpFlags;
use super::ids::{Foid, Oid};

/// A process event: clone, exec, exit, setuid (`sysflow.event.ProcessEvent`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessEvent {
    /// Schema field `procOID`.
    pub proc_oid: Oid,
    /// Schema field `ts`.
    pub ts: i64,
    /// Schema field `tid`.
    pub tid: i64,
    /// Schema field `opFlags`.
    pub op_flags: OpFlags,
    /// Schema field `args`.
    pub args: Vec<String>,
    /// Schema field `ret`.
    pub ret: i32,
}

/// A file event: mkdir, rmdir, link, unlink, symlink, rename (`sysflow.event.FileEvent`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEvent {
    /// Schema field `procOID`.
    pub proc_oid: Oid,
    /// Schema field `ts`.
    pub ts: i64,
    /// Schema field `tid`.
    pub tid: i64,
    /// Schema field `opFlags`.
    pub op_flags: OpFlags,
    /// Schema field `fileOID`.
    pub file_oid: Foid,
    /// Schema field `ret`.
    pub ret: i32,
    /// Schema field `newFileOID`: the second file of link, symlink and rename.
    pub new_file_oid: Option<Foid>,
}

/// A network event (`sysflow.event.NetworkEvent`); defined by the schema, not produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkEvent {
    /// Schema field `procOID`.
    pub proc_oid: Oid,
    /// Schema field `ts`.
    pub ts: i64,
    /// Schema field `tid`.
    pub tid: i64,
    /// Schema field `opFlags`.
    pub op_flags: OpFlags,
    /// Schema field `sip`.
    pub sip: i32,
    /// Schema field `sport`.
    pub sport: i32,
    /// Schema field `dip`.
    pub dip: i32,
    /// Schema field `dport`.
    pub dport: i32,
    /// Schema field `proto`.
    pub proto: i32,
    /// Schema field `ret`.
    pub ret: i32,
}

/// A Kubernetes event (`sysflow.event.K8sEvent`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct K8sEvent {
    /// Schema field `kind`.
    pub kind: K8sComponent,
    /// Schema field `action`.
    pub action: K8sAction,
    /// Schema field `ts`.
    pub ts: i64,
    /// Schema field `message`.
    pub message: String,
}
