//! Borrowed `#[repr(C)]` views of records handed to the C record callback, and the
//! adapter that turns a Rust [`RecordView`] into them.

use crate::driver::ExitHandle;
use crate::export::RecordView;
use crate::model::{
    Container, File, FileEvent, FileFlow, Foid, NetworkEvent, NetworkFlow, Oid, Pod, Process,
    ProcessEvent, ProcessFlow, Record, SfHeader,
};
use std::cell::Cell;
use std::ffi::{c_char, c_void};
use std::sync::{Arc, OnceLock};

/// A borrowed UTF-8 string: `len` bytes at `ptr`, **not** NUL-terminated.
///
/// `ptr` is `NULL` (and `len` 0) only for an optional field that is absent; an empty
/// string has a non-`NULL` `ptr`. Print it with
/// `printf("%.*s", (int)s.len, s.ptr)` (`SYSFLOW_STR_FMT` / `SYSFLOW_STR_ARG`). Valid only
/// until the callback that received it returns: copy what you keep.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sysflow_str {
    /// First byte, or `NULL` for an absent optional string.
    pub ptr: *const c_char,
    /// Length in bytes.
    pub len: usize,
}

/// A borrowed array of strings (`len` entries at `items`; `items` is `NULL` when `len` is
/// 0). Valid only until the callback that received it returns.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sysflow_str_array {
    /// The strings.
    pub items: *const sysflow_str,
    /// Number of strings.
    pub len: usize,
}

/// A process identifier (`sysflow.type.OID`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct sysflow_oid {
    /// `createTS`: creation time of the process in ns since the epoch (0 if it existed
    /// before the capture started).
    pub create_ts: i64,
    /// `hpid`: host pid of the process.
    pub hpid: i64,
}

/// A file identifier (`sysflow.type.FOID`): SHA-1 of the container id then the path.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct sysflow_foid {
    /// The 20 digest bytes.
    pub bytes: [u8; 20],
}

/// `sysflow_record.kind` of a process event (the SysFlow union branch index).
pub const SYSFLOW_RECORD_PROCESS_EVENT: i32 = 4;
/// `sysflow_record.kind` of a network flow.
pub const SYSFLOW_RECORD_NETWORK_FLOW: i32 = 5;
/// `sysflow_record.kind` of a file flow.
pub const SYSFLOW_RECORD_FILE_FLOW: i32 = 6;
/// `sysflow_record.kind` of a file event.
pub const SYSFLOW_RECORD_FILE_EVENT: i32 = 7;
/// `sysflow_record.kind` of a network event.
pub const SYSFLOW_RECORD_NETWORK_EVENT: i32 = 8;
/// `sysflow_record.kind` of a process flow.
pub const SYSFLOW_RECORD_PROCESS_FLOW: i32 = 9;
/// `sysflow_record.kind` of a Kubernetes event (`k8s_api_url`; added in 0.4). It comes
/// with `cont`, `proc`, `file1` and `file2` all `NULL`.
pub const SYSFLOW_RECORD_K8S_EVENT: i32 = 11;

/// Entity `state`: created during the capture.
pub const SYSFLOW_STATE_CREATED: i32 = 0;
/// Entity `state`: modified (exec, setuid).
pub const SYSFLOW_STATE_MODIFIED: i32 = 1;
/// Entity `state`: existed already, (re-)exported.
pub const SYSFLOW_STATE_REUP: i32 = 2;

/// `op_flags` bit: a process or thread was cloned.
pub const SYSFLOW_OP_CLONE: i32 = 0x1;
/// `op_flags` bit: a process executed a new image.
pub const SYSFLOW_OP_EXEC: i32 = 0x2;
/// `op_flags` bit: a process or thread exited.
pub const SYSFLOW_OP_EXIT: i32 = 0x4;
/// `op_flags` bit: a process changed its user id.
pub const SYSFLOW_OP_SETUID: i32 = 0x8;
/// `op_flags` bit: a thread joined a namespace.
pub const SYSFLOW_OP_SETNS: i32 = 0x10;
/// `op_flags` bit: a connection was accepted.
pub const SYSFLOW_OP_ACCEPT: i32 = 0x20;
/// `op_flags` bit: a connection was initiated.
pub const SYSFLOW_OP_CONNECT: i32 = 0x40;
/// `op_flags` bit: a file was opened.
pub const SYSFLOW_OP_OPEN: i32 = 0x80;
/// `op_flags` bit: data was read or received.
pub const SYSFLOW_OP_READ_RECV: i32 = 0x100;
/// `op_flags` bit: data was written or sent.
pub const SYSFLOW_OP_WRITE_SEND: i32 = 0x200;
/// `op_flags` bit: a descriptor was closed.
pub const SYSFLOW_OP_CLOSE: i32 = 0x400;
/// `op_flags` bit: the flow was cut short.
pub const SYSFLOW_OP_TRUNCATE: i32 = 0x800;
/// `op_flags` bit: a socket was shut down.
pub const SYSFLOW_OP_SHUTDOWN: i32 = 0x1000;
/// `op_flags` bit: a file was memory-mapped.
pub const SYSFLOW_OP_MMAP: i32 = 0x2000;
/// `op_flags` bit: a digest was computed (never produced).
pub const SYSFLOW_OP_DIGEST: i32 = 0x4000;
/// `op_flags` bit: a directory was created.
pub const SYSFLOW_OP_MKDIR: i32 = 0x8000;
/// `op_flags` bit: a directory was removed.
pub const SYSFLOW_OP_RMDIR: i32 = 0x10000;
/// `op_flags` bit: a hard link was created.
pub const SYSFLOW_OP_LINK: i32 = 0x20000;
/// `op_flags` bit: a name was unlinked.
pub const SYSFLOW_OP_UNLINK: i32 = 0x40000;
/// `op_flags` bit: a symbolic link was created.
pub const SYSFLOW_OP_SYMLINK: i32 = 0x80000;
/// `op_flags` bit: a file was renamed.
pub const SYSFLOW_OP_RENAME: i32 = 0x100000;

/// The current output period's header (`sysflow.entity.SFHeader`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sysflow_header {
    /// `version`: schema version (5).
    pub version: i64,
    /// `exporter`: exporter id.
    pub exporter: sysflow_str,
    /// `ip`: node IP address.
    pub ip: sysflow_str,
    /// `filename`: file being written (empty without file output).
    pub filename: sysflow_str,
}

/// A container (`sysflow.entity.Container`).
///
/// Like every view, it is allocated by the library and may gain fields at its end in later
/// versions (`pod` came in 0.2): read it through the pointer you are given; never
/// allocate or copy one by value.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sysflow_container {
    /// `id`: container id.
    pub id: sysflow_str,
    /// `name`.
    pub name: sysflow_str,
    /// `image`.
    pub image: sysflow_str,
    /// `imageid`.
    pub imageid: sysflow_str,
    /// `type`: container runtime, the `sysflow.type.ContainerType` symbol index
    /// (0 `CT_DOCKER` … 9 `CT_BPM`).
    pub container_type: i32,
    /// `privileged`.
    pub privileged: bool,
    /// `podId` (`ptr` `NULL` when absent).
    pub pod_id: sysflow_str,
    /// The pod `pod_id` names, or `NULL` (no pod, or not known). Added in 0.2.
    pub pod: *const sysflow_pod,
}

/// A key and its value, borrowed.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sysflow_str_pair {
    /// The key.
    pub key: sysflow_str,
    /// The value.
    pub value: sysflow_str,
}

/// A borrowed string map (`len` pairs at `items`, sorted by key; `items` is `NULL` when
/// `len` is 0).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sysflow_str_map {
    /// The pairs.
    pub items: *const sysflow_str_pair,
    /// Number of pairs.
    pub len: usize,
}

/// A borrowed array of 64-bit integers (`items` is `NULL` when `len` is 0).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sysflow_long_array {
    /// The values.
    pub items: *const i64,
    /// Number of values.
    pub len: usize,
}

/// A Kubernetes pod (`sysflow.entity.Pod`), reached through its container. Added in 0.2;
/// later versions may append fields (the library allocates every view: never allocate or
/// copy one by value and rely on its size).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sysflow_pod {
    /// `ts`: when the collector built the record (ns since the epoch).
    pub ts: i64,
    /// `id`: the pod's uid.
    pub id: sysflow_str,
    /// `name`.
    pub name: sysflow_str,
    /// `nodeName`.
    pub node_name: sysflow_str,
    /// `hostIP`: IPv4 addresses as `s_addr` values (network-order bytes read as a host
    /// integer), as the SysFlow `ipaddr` type stores them.
    pub host_ip: sysflow_long_array,
    /// `internalIP`: the pod's IP addresses, same encoding.
    pub internal_ip: sysflow_long_array,
    /// `namespace`.
    pub namespace: sysflow_str,
    /// `restartCount`: restarts of the pod's containers, in total.
    pub restart_count: i64,
    /// `labels`.
    pub labels: sysflow_str_map,
    /// `selectors`.
    pub selectors: sysflow_str_map,
}

/// A process (`sysflow.entity.Process`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sysflow_process {
    /// `state`: one of `SYSFLOW_STATE_*`.
    pub state: i32,
    /// `oid`.
    pub oid: sysflow_oid,
    /// Whether `poid` is set.
    pub has_poid: bool,
    /// `poid`: the parent's OID (zero when `has_poid` is false).
    pub poid: sysflow_oid,
    /// `ts`: time of the event that produced the entity record (ns).
    pub ts: i64,
    /// `exe`: executable path.
    pub exe: sysflow_str,
    /// `exeArgs`: arguments joined with spaces.
    pub exe_args: sysflow_str,
    /// `uid`.
    pub uid: i32,
    /// `userName`.
    pub user_name: sysflow_str,
    /// `gid`.
    pub gid: i32,
    /// `groupName`.
    pub group_name: sysflow_str,
    /// `tty`: has a controlling terminal.
    pub tty: bool,
    /// `containerId` (`ptr` `NULL` when absent).
    pub container_id: sysflow_str,
    /// `entry`: the process is a container's entry point.
    pub entry: bool,
    /// `cwd`.
    pub cwd: sysflow_str,
    /// `env`: one `NAME=value` per entry.
    pub env: sysflow_str_array,
}

/// A file, directory, pipe or unix socket (`sysflow.entity.File`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sysflow_file {
    /// `state`: one of `SYSFLOW_STATE_*`.
    pub state: i32,
    /// `oid`.
    pub oid: sysflow_foid,
    /// `ts`.
    pub ts: i64,
    /// `restype`: resource type character (`'f'` file, `'d'` directory, `'4'`/`'6'`
    /// socket, `'u'` unix socket, `'p'` pipe, `'?'` unknown).
    pub restype: i32,
    /// `path`.
    pub path: sysflow_str,
    /// `containerId` (`ptr` `NULL` when absent).
    pub container_id: sysflow_str,
}

/// A process event: clone, exec, exit, setuid (`sysflow.event.ProcessEvent`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sysflow_process_event {
    /// `procOID`.
    pub proc_oid: sysflow_oid,
    /// `ts` (ns).
    pub ts: i64,
    /// `tid`.
    pub tid: i64,
    /// `opFlags`: `SYSFLOW_OP_*` bits.
    pub op_flags: i32,
    /// `args`.
    pub args: sysflow_str_array,
    /// `ret`.
    pub ret: i32,
}

/// A file event: mkdir, rmdir, link, unlink, symlink, rename (`sysflow.event.FileEvent`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sysflow_file_event {
    /// `procOID`.
    pub proc_oid: sysflow_oid,
    /// `ts` (ns).
    pub ts: i64,
    /// `tid`.
    pub tid: i64,
    /// `opFlags`: `SYSFLOW_OP_*` bits.
    pub op_flags: i32,
    /// `fileOID`.
    pub file_oid: sysflow_foid,
    /// `ret`.
    pub ret: i32,
    /// Whether `new_file_oid` is set (link, symlink, rename).
    pub has_new_file_oid: bool,
    /// `newFileOID` (zero when `has_new_file_oid` is false).
    pub new_file_oid: sysflow_foid,
}

/// A network event (`sysflow.event.NetworkEvent`; defined by the schema, not produced
/// today).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sysflow_network_event {
    /// `procOID`.
    pub proc_oid: sysflow_oid,
    /// `ts` (ns).
    pub ts: i64,
    /// `tid`.
    pub tid: i64,
    /// `opFlags`: `SYSFLOW_OP_*` bits.
    pub op_flags: i32,
    /// `sip`.
    pub sip: i32,
    /// `sport`.
    pub sport: i32,
    /// `dip`.
    pub dip: i32,
    /// `dport`.
    pub dport: i32,
    /// `proto`.
    pub proto: i32,
    /// `ret`.
    pub ret: i32,
}

/// I/O of one thread on one file descriptor (`sysflow.flow.FileFlow`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sysflow_file_flow {
    /// `procOID`.
    pub proc_oid: sysflow_oid,
    /// `ts` (ns).
    pub ts: i64,
    /// `tid`.
    pub tid: i64,
    /// `opFlags`: `SYSFLOW_OP_*` bits.
    pub op_flags: i32,
    /// `openFlags` (scap `PPM_O_*` encoding).
    pub open_flags: i32,
    /// `endTs` (ns).
    pub end_ts: i64,
    /// `fileOID`.
    pub file_oid: sysflow_foid,
    /// `fd`.
    pub fd: i32,
    /// `numRRecvOps`.
    pub num_r_recv_ops: i64,
    /// `numWSendOps`.
    pub num_w_send_ops: i64,
    /// `numRRecvBytes`.
    pub num_r_recv_bytes: i64,
    /// `numWSendBytes`.
    pub num_w_send_bytes: i64,
}

/// I/O of one thread on one IPv4 socket (`sysflow.flow.NetworkFlow`). Addresses are the
/// four network-order bytes read as a little-endian integer (127.0.0.1 is 16777343):
/// `memcpy` them into a `struct in_addr` on a little-endian host.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sysflow_network_flow {
    /// `procOID`.
    pub proc_oid: sysflow_oid,
    /// `ts` (ns).
    pub ts: i64,
    /// `tid`.
    pub tid: i64,
    /// `opFlags`: `SYSFLOW_OP_*` bits.
    pub op_flags: i32,
    /// `endTs` (ns).
    pub end_ts: i64,
    /// `sip`: client address.
    pub sip: i32,
    /// `sport`: client port.
    pub sport: i32,
    /// `dip`: server address.
    pub dip: i32,
    /// `dport`: server port.
    pub dport: i32,
    /// `proto`: IP protocol number (6 TCP, 17 UDP).
    pub proto: i32,
    /// `fd`.
    pub fd: i32,
    /// `numRRecvOps`.
    pub num_r_recv_ops: i64,
    /// `numWSendOps`.
    pub num_w_send_ops: i64,
    /// `numRRecvBytes`.
    pub num_r_recv_bytes: i64,
    /// `numWSendBytes`.
    pub num_w_send_bytes: i64,
}

/// Thread activity of one process (`sysflow.flow.ProcessFlow`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sysflow_process_flow {
    /// `procOID`.
    pub proc_oid: sysflow_oid,
    /// `ts` (ns).
    pub ts: i64,
    /// `numThreadsCloned`.
    pub num_threads_cloned: i64,
    /// `opFlags`: `SYSFLOW_OP_*` bits.
    pub op_flags: i32,
    /// `endTs` (ns).
    pub end_ts: i64,
    /// `numThreadsExited`.
    pub num_threads_exited: i64,
    /// `numCloneErrors`.
    pub num_clone_errors: i64,
}

/// What the Kubernetes API server reported (`sysflow.event.K8sEvent`). Added in 0.4.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sysflow_k8s_event {
    /// `kind`: the `K8sComponent` symbol's index: 0 nodes, 1 namespaces, 2 pods, 3
    /// replication controllers, 4 services, 5 events, 6 replica sets, 7 daemon sets, 8
    /// deployments, 9 unknown.
    pub kind: i32,
    /// `action`: the `K8sAction` symbol's index: 0 added, 1 modified, 2 deleted, 3 error,
    /// 4 nonexistent, 5 unknown.
    pub action: i32,
    /// `ts`: when the collector received the event (ns since the epoch).
    pub ts: i64,
    /// `message`: the event as JSON, `{"type", "apiVersion", "kind", "items": [...]}`.
    pub message: sysflow_str,
}

/// The record's data; the member to read is given by `sysflow_record.kind`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union sysflow_record_data {
    /// `kind == SYSFLOW_RECORD_PROCESS_EVENT`.
    pub process_event: sysflow_process_event,
    /// `kind == SYSFLOW_RECORD_NETWORK_FLOW`.
    pub network_flow: sysflow_network_flow,
    /// `kind == SYSFLOW_RECORD_FILE_FLOW`.
    pub file_flow: sysflow_file_flow,
    /// `kind == SYSFLOW_RECORD_FILE_EVENT`.
    pub file_event: sysflow_file_event,
    /// `kind == SYSFLOW_RECORD_NETWORK_EVENT`.
    pub network_event: sysflow_network_event,
    /// `kind == SYSFLOW_RECORD_PROCESS_FLOW`.
    pub process_flow: sysflow_process_flow,
    /// `kind == SYSFLOW_RECORD_K8S_EVENT` (added in 0.4).
    pub k8s_event: sysflow_k8s_event,
}

/// An event or flow record: `kind` (one of `SYSFLOW_RECORD_*`, the SysFlow union branch
/// index) says which member of `data` is valid. Later versions may deliver kinds this
/// header does not know: ignore them.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sysflow_record {
    /// One of `SYSFLOW_RECORD_*`.
    pub kind: i32,
    /// The record, by `kind`.
    pub data: sysflow_record_data,
}

/// The record callback: called once per event or flow record, in output order, on the
/// thread running `sysflow_driver_run`.
///
/// - `userdata`: the config's `userdata`.
/// - `hdr`: the current header (never `NULL`).
/// - `cont`: the container of the record's process, or `NULL`.
/// - `proc`: the record's process, or `NULL` if unknown.
/// - `file1`: the file of a file flow, or the (first) file of a file event, else `NULL`.
/// - `file2`: the second file of a link, symlink or rename event, else `NULL`.
/// - `rec`: the record (never `NULL`).
///
/// Every pointer, and every string and array reachable from it, is borrowed from the
/// driver and valid only until the callback returns: copy what you keep. The callback may
/// call `sysflow_driver_exit` (the run then stops cleanly), `sysflow_driver_free` (the
/// free is deferred until `sysflow_driver_run` returns) and the status/error functions;
/// `sysflow_driver_run` from a callback fails with `SYSFLOW_STATUS_IN_CALLBACK`. It must
/// not unwind (no C++ exception or `longjmp` out of it): that aborts the process.
pub type sysflow_record_cb = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        hdr: *const sysflow_header,
        cont: *const sysflow_container,
        proc: *const sysflow_process,
        file1: *const sysflow_file,
        file2: *const sysflow_file,
        rec: *const sysflow_record,
    ),
>;

thread_local! {
    /// How many record callbacks are executing on this thread.
    static CALLBACK_DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Whether the calling thread is inside a record callback.
pub(crate) fn in_callback() -> bool {
    CALLBACK_DEPTH.with(|d| d.get() > 0)
}

/// Marks the thread as inside a callback while alive.
struct CallbackScope;

impl CallbackScope {
    fn enter() -> Self {
        CALLBACK_DEPTH.with(|d| d.set(d.get() + 1));
        CallbackScope
    }
}

impl Drop for CallbackScope {
    fn drop(&mut self) {
        CALLBACK_DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// State shared by a driver handle and its callback adapter.
#[derive(Debug, Default)]
pub(crate) struct CallbackShared {
    /// The driver's exit handle, set once the driver exists: a failing adapter stops the run.
    pub(crate) exit: OnceLock<ExitHandle>,
    /// Set when the adapter caught a panic: its message.
    pub(crate) panic: parking_lot::Mutex<Option<String>>,
}

/// The Rust callback that calls a C [`sysflow_record_cb`].
pub(crate) struct CCallback {
    callback: unsafe extern "C" fn(
        *mut c_void,
        *const sysflow_header,
        *const sysflow_container,
        *const sysflow_process,
        *const sysflow_file,
        *const sysflow_file,
        *const sysflow_record,
    ),
    userdata: *mut c_void,
    /// Reused storage for string arrays (process `env`, event `args`).
    strs: Vec<sysflow_str>,
    /// Reused storage for string maps (pod `labels`, `selectors`).
    pairs: Vec<sysflow_str_pair>,
    shared: Arc<CallbackShared>,
}

// SAFETY: the raw pointers are the C caller's `userdata` (the C API documents that the
// callback receives it on whichever thread calls `sysflow_driver_run`, so the caller
// accepts that it moves between threads) and `strs` and `pairs`, whose entries point into records
// only during a call and are never dereferenced by Rust.
unsafe impl Send for CCallback {}

const EMPTY: &[u8; 1] = b"\0";

fn s(v: &str) -> sysflow_str {
    if v.is_empty() {
        sysflow_str {
            ptr: EMPTY.as_ptr().cast(),
            len: 0,
        }
    } else {
        sysflow_str {
            ptr: v.as_ptr().cast(),
            len: v.len(),
        }
    }
}

fn opt(v: Option<&str>) -> sysflow_str {
    v.map(s).unwrap_or(sysflow_str {
        ptr: std::ptr::null(),
        len: 0,
    })
}

/// A pointer to the value, or `NULL`.
fn ptr<T>(o: &Option<T>) -> *const T {
    o.as_ref().map_or(std::ptr::null(), std::ptr::from_ref)
}

fn oid(o: Oid) -> sysflow_oid {
    sysflow_oid {
        create_ts: o.create_ts,
        hpid: o.hpid,
    }
}

fn foid(f: Foid) -> sysflow_foid {
    sysflow_foid { bytes: f.0 }
}

fn header(h: &SfHeader) -> sysflow_header {
    sysflow_header {
        version: h.version,
        exporter: s(&h.exporter),
        ip: s(&h.ip),
        filename: s(&h.filename),
    }
}

fn container(c: &Container, pod: *const sysflow_pod) -> sysflow_container {
    sysflow_container {
        id: s(&c.id),
        name: s(&c.name),
        image: s(&c.image),
        imageid: s(&c.imageid),
        container_type: c.container_type.index(),
        privileged: c.privileged,
        pod_id: opt(c.pod_id.as_deref()),
        pod,
    }
}

/// A range of `pairs` filled with a map's entries (sorted by key: the map is ordered).
fn push_pairs(
    pairs: &mut Vec<sysflow_str_pair>,
    m: &std::collections::BTreeMap<String, String>,
) -> std::ops::Range<usize> {
    let start = pairs.len();
    pairs.extend(m.iter().map(|(k, v)| sysflow_str_pair {
        key: s(k),
        value: s(v),
    }));
    start..pairs.len()
}

fn str_map(pairs: &[sysflow_str_pair], r: std::ops::Range<usize>) -> sysflow_str_map {
    match pairs.get(r.clone()) {
        Some(items) if !items.is_empty() => sysflow_str_map {
            items: items.as_ptr(),
            len: items.len(),
        },
        _ => sysflow_str_map {
            items: std::ptr::null(),
            len: 0,
        },
    }
}

fn longs(v: &[i64]) -> sysflow_long_array {
    sysflow_long_array {
        items: if v.is_empty() {
            std::ptr::null()
        } else {
            v.as_ptr()
        },
        len: v.len(),
    }
}

fn pod(p: &Pod, labels: sysflow_str_map, selectors: sysflow_str_map) -> sysflow_pod {
    sysflow_pod {
        ts: p.ts,
        id: s(&p.id),
        name: s(&p.name),
        node_name: s(&p.node_name),
        host_ip: longs(&p.host_ip),
        internal_ip: longs(&p.internal_ip),
        namespace: s(&p.namespace),
        restart_count: p.restart_count,
        labels,
        selectors,
    }
}

fn file(f: &File) -> sysflow_file {
    sysflow_file {
        state: f.state.index(),
        oid: foid(f.oid),
        ts: f.ts,
        restype: f.restype,
        path: s(&f.path),
        container_id: opt(f.container_id.as_deref()),
    }
}

/// A range of `strs` filled with `items`.
fn push_all(strs: &mut Vec<sysflow_str>, items: &[String]) -> std::ops::Range<usize> {
    let start = strs.len();
    strs.extend(items.iter().map(|i| s(i)));
    start..strs.len()
}

fn array(strs: &[sysflow_str], r: std::ops::Range<usize>) -> sysflow_str_array {
    if r.is_empty() {
        sysflow_str_array {
            items: std::ptr::null(),
            len: 0,
        }
    } else {
        sysflow_str_array {
            items: strs[r.clone()].as_ptr(),
            len: r.len(),
        }
    }
}

fn process(p: &Process, env: sysflow_str_array) -> sysflow_process {
    sysflow_process {
        state: p.state.index(),
        oid: oid(p.oid),
        has_poid: p.poid.is_some(),
        poid: p.poid.map(oid).unwrap_or_default(),
        ts: p.ts,
        exe: s(&p.exe),
        exe_args: s(&p.exe_args),
        uid: p.uid,
        user_name: s(&p.user_name),
        gid: p.gid,
        group_name: s(&p.group_name),
        tty: p.tty,
        container_id: opt(p.container_id.as_deref()),
        entry: p.entry,
        cwd: s(&p.cwd),
        env,
    }
}

fn process_event(e: &ProcessEvent, args: sysflow_str_array) -> sysflow_process_event {
    sysflow_process_event {
        proc_oid: oid(e.proc_oid),
        ts: e.ts,
        tid: e.tid,
        op_flags: e.op_flags.to_avro(),
        args,
        ret: e.ret,
    }
}

fn file_event(e: &FileEvent) -> sysflow_file_event {
    sysflow_file_event {
        proc_oid: oid(e.proc_oid),
        ts: e.ts,
        tid: e.tid,
        op_flags: e.op_flags.to_avro(),
        file_oid: foid(e.file_oid),
        ret: e.ret,
        has_new_file_oid: e.new_file_oid.is_some(),
        new_file_oid: e.new_file_oid.map(foid).unwrap_or_default(),
    }
}

fn network_event(e: &NetworkEvent) -> sysflow_network_event {
    sysflow_network_event {
        proc_oid: oid(e.proc_oid),
        ts: e.ts,
        tid: e.tid,
        op_flags: e.op_flags.to_avro(),
        sip: e.sip,
        sport: e.sport,
        dip: e.dip,
        dport: e.dport,
        proto: e.proto,
        ret: e.ret,
    }
}

fn file_flow(f: &FileFlow) -> sysflow_file_flow {
    sysflow_file_flow {
        proc_oid: oid(f.proc_oid),
        ts: f.ts,
        tid: f.tid,
        op_flags: f.op_flags.to_avro(),
        open_flags: f.open_flags,
        end_ts: f.end_ts,
        file_oid: foid(f.file_oid),
        fd: f.fd,
        num_r_recv_ops: f.num_r_recv_ops,
        num_w_send_ops: f.num_w_send_ops,
        num_r_recv_bytes: f.num_r_recv_bytes,
        num_w_send_bytes: f.num_w_send_bytes,
    }
}

fn network_flow(f: &NetworkFlow) -> sysflow_network_flow {
    sysflow_network_flow {
        proc_oid: oid(f.proc_oid),
        ts: f.ts,
        tid: f.tid,
        op_flags: f.op_flags.to_avro(),
        end_ts: f.end_ts,
        sip: f.sip,
        sport: f.sport,
        dip: f.dip,
        dport: f.dport,
        proto: f.proto,
        fd: f.fd,
        num_r_recv_ops: f.num_r_recv_ops,
        num_w_send_ops: f.num_w_send_ops,
        num_r_recv_bytes: f.num_r_recv_bytes,
        num_w_send_bytes: f.num_w_send_bytes,
    }
}

fn process_flow(f: &ProcessFlow) -> sysflow_process_flow {
    sysflow_process_flow {
        proc_oid: oid(f.proc_oid),
        ts: f.ts,
        num_threads_cloned: f.num_threads_cloned,
        op_flags: f.op_flags.to_avro(),
        end_ts: f.end_ts,
        num_threads_exited: f.num_threads_exited,
        num_clone_errors: f.num_clone_errors,
    }
}

impl CCallback {
    /// An adapter for a non-`NULL` C callback.
    pub(crate) fn new(
        callback: sysflow_record_cb,
        userdata: *mut c_void,
        shared: Arc<CallbackShared>,
    ) -> Option<Self> {
        Some(Self {
            callback: callback?,
            userdata,
            strs: Vec::new(),
            pairs: Vec::new(),
            shared,
        })
    }

    /// Delivers one record; a panic while building the views is caught, recorded and
    /// stops the run (the C callback is then no longer called).
    pub(crate) fn call(&mut self, view: &RecordView<'_>) {
        if self.shared.panic.lock().is_some() {
            return;
        }
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.deliver(view)));
        if let Err(payload) = r {
            let msg = super::boundary::panic_message(&*payload).to_owned();
            *self.shared.panic.lock() = Some(msg);
            if let Some(exit) = self.shared.exit.get() {
                exit.exit();
            }
        }
    }

    fn deliver(&mut self, view: &RecordView<'_>) {
        // Fill the string-array storage first: the views point into it, so it must not
        // grow once they are built.
        self.strs.clear();
        let env = view.process.map(|p| push_all(&mut self.strs, &p.env));
        let args = match view.record {
            Record::ProcessEvent(e) => Some(push_all(&mut self.strs, &e.args)),
            _ => None,
        };
        self.pairs.clear();
        let pod_maps = view.pod.map(|p| {
            (
                push_pairs(&mut self.pairs, &p.labels),
                push_pairs(&mut self.pairs, &p.selectors),
            )
        });
        let strs = &self.strs;
        let pairs = &self.pairs;
        let data = match view.record {
            Record::ProcessEvent(e) => (
                SYSFLOW_RECORD_PROCESS_EVENT,
                sysflow_record_data {
                    process_event: process_event(e, array(strs, args.unwrap_or(0..0))),
                },
            ),
            Record::NetworkFlow(f) => (
                SYSFLOW_RECORD_NETWORK_FLOW,
                sysflow_record_data {
                    network_flow: network_flow(f),
                },
            ),
            Record::FileFlow(f) => (
                SYSFLOW_RECORD_FILE_FLOW,
                sysflow_record_data {
                    file_flow: file_flow(f),
                },
            ),
            Record::FileEvent(e) => (
                SYSFLOW_RECORD_FILE_EVENT,
                sysflow_record_data {
                    file_event: file_event(e),
                },
            ),
            Record::NetworkEvent(e) => (
                SYSFLOW_RECORD_NETWORK_EVENT,
                sysflow_record_data {
                    network_event: network_event(e),
                },
            ),
            Record::ProcessFlow(f) => (
                SYSFLOW_RECORD_PROCESS_FLOW,
                sysflow_record_data {
                    process_flow: process_flow(f),
                },
            ),
            Record::K8sEvent(e) => (
                SYSFLOW_RECORD_K8S_EVENT,
                sysflow_record_data {
                    k8s_event: sysflow_k8s_event {
                        kind: e.kind.index(),
                        action: e.action.index(),
                        ts: e.ts,
                        message: s(&e.message),
                    },
                },
            ),
            // Entities and headers reach C linked to events and flows, never alone.
            _ => return,
        };
        let rec = sysflow_record {
            kind: data.0,
            data: data.1,
        };
        let hdr = header(view.header);
        let pod_view = view.pod.zip(pod_maps).map(|(p, (labels, selectors))| {
            pod(p, str_map(pairs, labels), str_map(pairs, selectors))
        });
        let cont = view.container.map(|c| container(c, ptr(&pod_view)));
        let proc = view
            .process
            .map(|p| process(p, array(strs, env.clone().unwrap_or(0..0))));
        let file1 = view.file.map(file);
        let file2 = view.new_file.map(file);
        let _scope = CallbackScope::enter();
        // SAFETY: `callback` is the caller's non-NULL function pointer with this exact
        // signature. Every pointer passed is NULL or points to a local that outlives the
        // call, and the strings and arrays they reach point into `view` and `self.strs`,
        // neither of which changes during the call (nor `self.pairs`, which the pod's
        // maps point into). The function is `extern "C"`, so an
        // unwind out of it aborts instead of entering Rust frames.
        unsafe {
            (self.callback)(
                self.userdata,
                &hdr,
                ptr(&cont),
                ptr(&proc),
                ptr(&file1),
                ptr(&file2),
                &rec,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ContainerType, ObjectState, OpFlags};

    #[test]
    fn constants_match_the_model() {
        use crate::model::RecordKind as K;
        assert_eq!(SYSFLOW_RECORD_PROCESS_EVENT, K::ProcessEvent.index() as i32);
        assert_eq!(SYSFLOW_RECORD_NETWORK_FLOW, K::NetworkFlow.index() as i32);
        assert_eq!(SYSFLOW_RECORD_FILE_FLOW, K::FileFlow.index() as i32);
        assert_eq!(SYSFLOW_RECORD_FILE_EVENT, K::FileEvent.index() as i32);
        assert_eq!(SYSFLOW_RECORD_NETWORK_EVENT, K::NetworkEvent.index() as i32);
        assert_eq!(SYSFLOW_RECORD_PROCESS_FLOW, K::ProcessFlow.index() as i32);
        assert_eq!(SYSFLOW_STATE_CREATED, ObjectState::Created.index());
        assert_eq!(SYSFLOW_STATE_MODIFIED, ObjectState::Modified.index());
        assert_eq!(SYSFLOW_STATE_REUP, ObjectState::Reup.index());
        assert_eq!(ContainerType::Bpm.index(), 9);
        let ops = [
            (SYSFLOW_OP_CLONE, OpFlags::CLONE),
            (SYSFLOW_OP_EXEC, OpFlags::EXEC),
            (SYSFLOW_OP_EXIT, OpFlags::EXIT),
            (SYSFLOW_OP_SETUID, OpFlags::SETUID),
            (SYSFLOW_OP_SETNS, OpFlags::SETNS),
            (SYSFLOW_OP_ACCEPT, OpFlags::ACCEPT),
            (SYSFLOW_OP_CONNECT, OpFlags::CONNECT),
            (SYSFLOW_OP_OPEN, OpFlags::OPEN),
            (SYSFLOW_OP_READ_RECV, OpFlags::READ_RECV),
            (SYSFLOW_OP_WRITE_SEND, OpFlags::WRITE_SEND),
            (SYSFLOW_OP_CLOSE, OpFlags::CLOSE),
            (SYSFLOW_OP_TRUNCATE, OpFlags::TRUNCATE),
            (SYSFLOW_OP_SHUTDOWN, OpFlags::SHUTDOWN),
            (SYSFLOW_OP_MMAP, OpFlags::MMAP),
            (SYSFLOW_OP_DIGEST, OpFlags::DIGEST),
            (SYSFLOW_OP_MKDIR, OpFlags::MKDIR),
            (SYSFLOW_OP_RMDIR, OpFlags::RMDIR),
            (SYSFLOW_OP_LINK, OpFlags::LINK),
            (SYSFLOW_OP_UNLINK, OpFlags::UNLINK),
            (SYSFLOW_OP_SYMLINK, OpFlags::SYMLINK),
            (SYSFLOW_OP_RENAME, OpFlags::RENAME),
        ];
        assert_eq!(ops.len(), OpFlags::all().iter().count());
        for (c, f) in ops {
            assert_eq!(c, f.to_avro(), "{f:?}");
        }
    }

    /// What the test callback copied out of the views.
    #[derive(Default)]
    struct Seen {
        pod_name: String,
        pod_ip: Vec<i64>,
        labels: Vec<(String, String)>,
        pod_id: String,
        calls: u32,
        no_pod: u32,
    }

    fn string(v: sysflow_str) -> String {
        if v.ptr.is_null() {
            return String::new();
        }
        // SAFETY: a view handed to the callback: `len` bytes at `ptr`, live for the call.
        let b = unsafe { std::slice::from_raw_parts(v.ptr.cast::<u8>(), v.len) };
        String::from_utf8_lossy(b).into_owned()
    }

    unsafe extern "C" fn copy_pod(
        userdata: *mut c_void,
        _hdr: *const sysflow_header,
        cont: *const sysflow_container,
        _proc: *const sysflow_process,
        _f1: *const sysflow_file,
        _f2: *const sysflow_file,
        _rec: *const sysflow_record,
    ) {
        // SAFETY: the test passes a `Seen` as userdata; the views are valid during the
        // call, and `pod` is NULL or points to a view as well.
        unsafe {
            let seen = &mut *userdata.cast::<Seen>();
            seen.calls += 1;
            let c = &*cont;
            seen.pod_id = string(c.pod_id);
            if c.pod.is_null() {
                seen.no_pod += 1;
                return;
            }
            let p = &*c.pod;
            seen.pod_name = string(p.name);
            seen.pod_ip =
                std::slice::from_raw_parts(p.internal_ip.items, p.internal_ip.len).to_vec();
            seen.labels = std::slice::from_raw_parts(p.labels.items, p.labels.len)
                .iter()
                .map(|kv| (string(kv.key), string(kv.value)))
                .collect();
        }
    }

    #[test]
    fn the_container_view_reaches_its_pod() {
        let mut seen = Seen::default();
        let mut cb = CCallback::new(
            Some(copy_pod),
            std::ptr::from_mut(&mut seen).cast(),
            Arc::default(),
        )
        .unwrap();
        let pod = Pod {
            id: "u-1".into(),
            name: "web".into(),
            internal_ip: vec![0x0500_000a],
            labels: [
                ("app".to_string(), "web".to_string()),
                ("tier".into(), "a".into()),
            ]
            .into_iter()
            .collect(),
            ..Default::default()
        };
        let container = Container {
            id: "4c89aca6a4e2".into(),
            name: "app".into(),
            image: "bb:latest".into(),
            imageid: String::new(),
            container_type: ContainerType::Containerd,
            privileged: false,
            pod_id: Some("u-1".into()),
        };
        let header = SfHeader::default();
        let rec = Record::ProcessFlow(ProcessFlow::default());
        let mut view = RecordView {
            header: &header,
            container: Some(&container),
            pod: Some(&pod),
            process: None,
            file: None,
            new_file: None,
            record: &rec,
        };
        cb.call(&view);
        assert_eq!((seen.calls, seen.no_pod), (1, 0));
        assert_eq!(
            (seen.pod_id.as_str(), seen.pod_name.as_str()),
            ("u-1", "web")
        );
        assert_eq!(seen.pod_ip, vec![0x0500_000a]);
        assert_eq!(
            seen.labels,
            [
                ("app".to_string(), "web".to_string()),
                ("tier".into(), "a".into())
            ]
        );
        view.pod = None;
        cb.call(&view);
        assert_eq!((seen.calls, seen.no_pod), (2, 1));
    }

    #[test]
    fn strings_are_borrowed_and_absent_is_null() {
        let v = s("abc");
        assert_eq!(v.len, 3);
        assert!(!s("").ptr.is_null() && s("").len == 0);
        assert!(opt(None).ptr.is_null());
        let _ = ContainerType::Docker;
    }
}
