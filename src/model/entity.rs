//! Entity records: header, container, pod, process, file.

use super::enums::{ContainerType, ObjectState};
use super::ids::{Foid, Oid};
use std::collections::BTreeMap;

/// Current SysFlow schema version written in [`SfHeader::version`].
pub const SCHEMA_VERSION: i64 = 5;

/// First record of every SysFlow file or stream (`sysflow.entity.SFHeader`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SfHeader {
    /// Schema field `version`: schema version (5).
    pub version: i64,
    /// Schema field `exporter`: exporter id (by default the host name).
    pub exporter: String,
    /// Schema field `ip`: the node's IP address.
    pub ip: String,
    /// Schema field `filename`: name of the file being written (`""` on a socket).
    pub filename: String,
}

impl Default for SfHeader {
    fn default() -> Self {
        Self {
            version: SCHEMA_VERSION,
            exporter: String::new(),
            ip: String::new(),
            filename: String::new(),
        }
    }
}

/// A container (`sysflow.entity.Container`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    /// Schema field `id`: container id (12 hex characters for Docker).
    pub id: String,
    /// Schema field `name`.
    pub name: String,
    /// Schema field `image`.
    pub image: String,
    /// Schema field `imageid`.
    pub imageid: String,
    /// Schema field `type`.
    pub container_type: ContainerType,
    /// Schema field `privileged`.
    pub privileged: bool,
    /// Schema field `podId`.
    pub pod_id: Option<String>,
}

/// A Kubernetes service port (`sysflow.entity.Port`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Port {
    /// Schema field `port`.
    pub port: i32,
    /// Schema field `targetPort`.
    pub target_port: i32,
    /// Schema field `nodePort`.
    pub node_port: i32,
    /// Schema field `proto`.
    pub proto: String,
}

/// A Kubernetes service (`sysflow.entity.Service`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Service {
    /// Schema field `name`.
    pub name: String,
    /// Schema field `id`.
    pub id: String,
    /// Schema field `namespace`.
    pub namespace: String,
    /// Schema field `portList`.
    pub port_list: Vec<Port>,
    /// Schema field `clusterIP`.
    pub cluster_ip: Vec<i64>,
}

/// A Kubernetes pod (`sysflow.entity.Pod`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pod {
    /// Schema field `ts`.
    pub ts: i64,
    /// Schema field `id`.
    pub id: String,
    /// Schema field `name`.
    pub name: String,
    /// Schema field `nodeName`.
    pub node_name: String,
    /// Schema field `hostIP`.
    pub host_ip: Vec<i64>,
    /// Schema field `internalIP`.
    pub internal_ip: Vec<i64>,
    /// Schema field `namespace`.
    pub namespace: String,
    /// Schema field `restartCount`.
    pub restart_count: i64,
    /// Schema field `labels`.
    pub labels: BTreeMap<String, String>,
    /// Schema field `selectors`.
    pub selectors: BTreeMap<String, String>,
    /// Schema field `services`.
    pub services: Vec<Service>,
}

/// A process (`sysflow.entity.Process`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    /// Schema field `state`.
    pub state: ObjectState,
    /// Schema field `oid`.
    pub oid: Oid,
    /// Schema field `poid`: the parent's OID, if known.
    pub poid: Option<Oid>,
    /// Schema field `ts`: time of the event that produced this record.
    pub ts: i64,
    /// Schema field `exe`: executable path (names from the kernel are stored as
    /// [`super::escape_name`] describes, as are `exe_args`, `cwd` and `env`).
    pub exe: String,
    /// Schema field `exeArgs`: arguments joined with spaces.
    pub exe_args: String,
    /// Schema field `uid`.
    pub uid: i32,
    /// Schema field `userName`.
    pub user_name: String,
    /// Schema field `gid`.
    pub gid: i32,
    /// Schema field `groupName`.
    pub group_name: String,
    /// Schema field `tty`: the process has a controlling terminal.
    pub tty: bool,
    /// Schema field `containerId`.
    pub container_id: Option<String>,
    /// Schema field `entry`: the process is a container's entry point (vpid 1).
    pub entry: bool,
    /// Schema field `cwd`.
    pub cwd: String,
    /// Schema field `env`: environment, one `NAME=value` per entry.
    pub env: Vec<String>,
}

/// A file, directory, pipe or unix socket (`sysflow.entity.File`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    /// Schema field `state`.
    pub state: ObjectState,
    /// Schema field `oid`.
    pub oid: Foid,
    /// Schema field `ts`.
    pub ts: i64,
    /// Schema field `restype`: resource type character code (see [`super::ResourceType`]).
    pub restype: i32,
    /// Schema field `path`: byte-exact where valid UTF-8, escaped reversibly where not
    /// ([`super::escape_name`]); at most `PATH_MAX - 1` = 4095 bytes before escaping.
    pub path: String,
    /// Schema field `containerId`.
    pub container_id: Option<String>,
}
