//! Records to flattened records: entity tables, linking, and the value of each key.
//!
//! Entity records (header, containers, processes, files, pods) only fill per-file tables;
//! each event or flow is joined with its process, parent process, container, pod and
//! files as they stand when it is read, and then exposes the 75 keys of
//! [`Field`](crate::fields::Field) as borrowed [`Value`]s (no per-record allocation).

use crate::fields::Field;
use crate::time::write_iso;
use std::collections::HashMap;
use std::fmt::Write as _;
use sysflow::model::{
    Container, File, FileFlow, Foid, K8sEvent, NetworkFlow, Oid, OpFlags, Pod, Process,
    ProcessFlow, Record, Service, SfHeader,
};

/// A value of the flattened record, typed as the official tool types it.
#[derive(Clone, Copy, Debug)]
pub enum Value<'a> {
    /// JSON `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A string.
    Text(Text<'a>),
    /// A list of IPv4 addresses (pod host and internal IPs).
    IpList(&'a [i64]),
    /// A pod's services.
    Services(&'a [Service]),
    /// The (always empty) enrichment tags.
    Tags,
}

impl Value<'_> {
    /// The empty string, used for absent objects and unknown keys.
    pub const EMPTY: Value<'static> = Value::Text(Text::Str(""));

    /// Python truthiness (used when nesting keys that collide).
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Null | Value::Tags => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Text(t) => !t.is_empty(),
            Value::IpList(l) => !l.is_empty(),
            Value::Services(s) => !s.is_empty(),
        }
    }
}

/// A string value, kept in a form that is rendered on demand.
#[derive(Clone, Copy, Debug)]
pub enum Text<'a> {
    /// A string as stored.
    Str(&'a str),
    /// A timestamp, rendered as ISO text.
    Iso(i64),
    /// Operation flags, rendered as the official flag string.
    OpFlags(u32),
    /// One IPv4 address.
    Ip(i64),
    /// A file's resource type code as a one-character string.
    Char(char),
    /// Environment entries joined with `;` (empty entries and `=` dropped).
    Env(&'a [String]),
    /// A file event's or flow's resource: the path, then `, ` and the new path.
    FileRes(Option<&'a str>, Option<&'a str>),
    /// A network flow's resource: `sip:sport-dip:dport`.
    NetRes(i32, i32, i32, i32),
}

impl<'a> Text<'a> {
    /// The string itself when no rendering is needed.
    pub fn as_str(&self) -> Option<&'a str> {
        match self {
            Text::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Appends the rendered string to `out`.
    pub fn write_to(&self, out: &mut String) {
        match *self {
            Text::Str(s) => out.push_str(s),
            Text::Iso(ns) => write_iso(out, ns),
            Text::OpFlags(bits) => write_op_flags(out, bits),
            Text::Ip(v) => write_ip(out, v),
            Text::Char(c) => out.push(c),
            Text::Env(env) => {
                let mut first = true;
                for e in env.iter().filter(|e| !e.is_empty() && e.as_str() != "=") {
                    if !first {
                        out.push(';');
                    }
                    first = false;
                    out.push_str(e);
                }
            }
            Text::FileRes(path, new_path) => {
                out.push_str(path.unwrap_or(""));
                if let Some(n) = new_path {
                    out.push_str(", ");
                    out.push_str(n);
                }
            }
            Text::NetRes(sip, sport, dip, dport) => {
                write_ip(out, i64::from(sip));
                let _ = write!(out, ":{sport}-");
                write_ip(out, i64::from(dip));
                let _ = write!(out, ":{dport}");
            }
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Text::Str(s) => s.is_empty(),
            Text::Env(env) => env.iter().all(|e| e.is_empty() || e == "="),
            Text::FileRes(p, n) => p.is_none_or(str::is_empty) && n.is_none(),
            _ => false,
        }
    }
}

/// Appends the dotted quad of an address stored as the reference stores it (the low 32
/// bits, first octet in the lowest byte).
pub fn write_ip(out: &mut String, v: i64) {
    let b = (v as u32).to_le_bytes();
    let _ = write!(out, "{}.{}.{}.{}", b[0], b[1], b[2], b[3]);
}

/// Appends the official rendering of operation flags.
fn write_op_flags(out: &mut String, bits: u32) {
    let f = OpFlags::from_bits_retain(bits);
    let named = |out: &mut String, list: &[(OpFlags, &str)]| {
        let start = out.len();
        for (flag, name) in list {
            if f.contains(*flag) {
                out.push_str(name);
            }
        }
        out.len() > start
    };
    if named(
        out,
        &[
            (OpFlags::MKDIR, "MKDIR"),
            (OpFlags::RMDIR, "RMDIR"),
            (OpFlags::LINK, "LINK"),
            (OpFlags::SYMLINK, "SYMLINK"),
            (OpFlags::UNLINK, "UNLINK"),
            (OpFlags::RENAME, "RENAME"),
        ],
    ) || named(
        out,
        &[
            (OpFlags::CLONE, "CLONE"),
            (OpFlags::EXEC, "EXEC"),
            (OpFlags::EXIT, "EXIT"),
            (OpFlags::SETUID, "SETUID"),
        ],
    ) {
        return;
    }
    for (flag, letter) in [
        (OpFlags::OPEN, 'O'),
        (OpFlags::ACCEPT, 'A'),
        (OpFlags::CONNECT, 'C'),
        (OpFlags::WRITE_SEND, 'W'),
        (OpFlags::READ_RECV, 'R'),
        (OpFlags::SETNS, 'N'),
        (OpFlags::MMAP, 'M'),
        (OpFlags::SHUTDOWN, 'S'),
        (OpFlags::CLOSE, 'C'),
        (OpFlags::TRUNCATE, 'T'),
        (OpFlags::DIGEST, 'D'),
    ] {
        out.push(if f.contains(flag) { letter } else { ' ' });
    }
}

/// The process table key of the reference: the minimal little-endian bytes of the pid
/// followed by those of the creation time (negative values count as 0). Not injective,
/// on purpose: colliding OIDs share an entry as they do in the official tool.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct ProcKey {
    len: u8,
    bytes: [u8; 16],
}

impl ProcKey {
    fn of(oid: &Oid) -> Self {
        let mut k = ProcKey {
            len: 0,
            bytes: [0; 16],
        };
        for v in [oid.hpid, oid.create_ts] {
            let mut n = v.max(0) as u64;
            while n > 0 {
                k.bytes[usize::from(k.len)] = n as u8;
                k.len += 1;
                n >>= 8;
            }
        }
        k
    }
}

/// What the file's own writer schema declares, where an absent field prints differently
/// from its default value (the official tool prints `""` for each of these when the
/// schema lacks it).
#[derive(Clone, Copy, Debug)]
pub struct SchemaInfo {
    /// Whether `Process` has the `entry` field (otherwise `proc.entry` is `""`).
    pub process_has_entry: bool,
    /// Whether `NetworkFlow` has the `fd` field (otherwise a network flow's `file.fd` is
    /// `""`).
    pub network_flow_has_fd: bool,
    /// Whether `FileFlow` has the `fd` field (otherwise a file flow's `file.fd` is `""`).
    pub file_flow_has_fd: bool,
    /// Whether `FileFlow` has the `openFlags` field (otherwise `file.openflags` is `""`;
    /// the official tool stops with an error there).
    pub file_flow_has_open_flags: bool,
}

impl SchemaInfo {
    /// Reads the relevant facts from the embedded schema JSON.
    pub fn from_schema_json(json: &str) -> Self {
        let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
        let has = |record: &str, field: &str| {
            record_fields(&v, record).is_none_or(|fields| fields.contains(&field))
        };
        SchemaInfo {
            process_has_entry: has("Process", "entry"),
            network_flow_has_fd: has("NetworkFlow", "fd"),
            file_flow_has_fd: has("FileFlow", "fd"),
            file_flow_has_open_flags: has("FileFlow", "openFlags"),
        }
    }
}

/// The field names of the record type named `name` anywhere in a schema.
fn record_fields<'v>(v: &'v serde_json::Value, name: &str) -> Option<Vec<&'v str>> {
    match v {
        serde_json::Value::Object(m) => {
            let full = m.get("name").and_then(|n| n.as_str());
            if m.get("type").and_then(|t| t.as_str()) == Some("record")
                && full.is_some_and(|n| n == name || n.ends_with(&format!(".{name}")))
            {
                let fields = m.get("fields")?.as_array()?;
                return Some(
                    fields
                        .iter()
                        .filter_map(|f| f.get("name")?.as_str())
                        .collect(),
                );
            }
            m.values().find_map(|x| record_fields(x, name))
        }
        serde_json::Value::Array(a) => a.iter().find_map(|x| record_fields(x, name)),
        _ => None,
    }
}

/// The per-file entity tables.
pub struct Linker {
    schema: SchemaInfo,
    header: Option<SfHeader>,
    procs: HashMap<ProcKey, Process>,
    files: HashMap<Foid, File>,
    containers: HashMap<String, Container>,
    pods: HashMap<String, Pod>,
}

/// Why a record cannot be flattened.
#[derive(Debug)]
pub struct FlattenError(pub String);

impl Linker {
    /// Empty tables for a file written with the given schema.
    pub fn new(schema: SchemaInfo) -> Self {
        Linker {
            schema,
            header: None,
            procs: HashMap::new(),
            files: HashMap::new(),
            containers: HashMap::new(),
            pods: HashMap::new(),
        }
    }

    /// Takes an entity record into the tables (a header clears them); gives back events
    /// and flows, which are what gets printed.
    pub fn absorb(&mut self, rec: Record) -> Option<Record> {
        match rec {
            Record::Header(h) => {
                self.procs.clear();
                self.files.clear();
                self.containers.clear();
                self.pods.clear();
                self.header = Some(h);
            }
            Record::Container(c) => {
                self.containers.insert(c.id.clone(), c);
            }
            Record::Process(p) => {
                self.procs.insert(ProcKey::of(&p.oid), p);
            }
            Record::File(f) => {
                self.files.insert(f.oid, f);
            }
            Record::Pod(p) => {
                self.pods.insert(p.id.clone(), p);
            }
            other => return Some(other),
        }
        None
    }

    /// Joins an event or flow with the entities it refers to.
    pub fn flatten<'a>(&'a self, rec: &'a Record) -> Result<Flat<'a>, FlattenError> {
        let kind = match rec {
            Record::ProcessEvent(_) => Kind::Pe,
            Record::FileEvent(_) => Kind::Fe,
            Record::FileFlow(_) => Kind::Ff,
            Record::NetworkFlow(_) => Kind::Nf,
            Record::ProcessFlow(_) => Kind::Pf,
            Record::K8sEvent(_) => Kind::Ke,
            other => {
                return Err(FlattenError(format!(
                    "a {} record, which sysprint cannot print (the official tool stops there too)",
                    other.kind().schema_name()
                )));
            }
        };
        let mut flat = Flat {
            kind,
            common: Common::of(rec),
            schema: &self.schema,
            header: self.header.as_ref(),
            proc: None,
            pproc: None,
            container: None,
            pod: None,
            file1: None,
            file2: None,
            nf: None,
            ff: None,
            pf: None,
            ke: None,
            counters: None,
        };
        match rec {
            Record::NetworkFlow(n) => {
                flat.nf = Some(n);
                flat.counters = Some((
                    n.num_r_recv_bytes,
                    n.num_r_recv_ops,
                    n.num_w_send_bytes,
                    n.num_w_send_ops,
                ));
            }
            Record::FileFlow(f) => {
                flat.ff = Some(f);
                flat.counters = Some((
                    f.num_r_recv_bytes,
                    f.num_r_recv_ops,
                    f.num_w_send_bytes,
                    f.num_w_send_ops,
                ));
            }
            Record::ProcessFlow(f) => flat.pf = Some(f),
            Record::K8sEvent(k) => flat.ke = Some(k),
            _ => {}
        }
        if kind == Kind::Ke {
            return Ok(flat);
        }
        if let Some(oid) = rec.proc_oid() {
            flat.proc = self.procs.get(&ProcKey::of(&oid));
        }
        if let Some(p) = flat.proc {
            flat.pproc = p.poid.and_then(|o| self.procs.get(&ProcKey::of(&o)));
            flat.container = p
                .container_id
                .as_deref()
                .and_then(|id| self.containers.get(id));
        }
        flat.pod = flat
            .container
            .and_then(|c| c.pod_id.as_deref())
            .and_then(|id| self.pods.get(id));
        let (f1, f2) = rec.file_oids();
        flat.file1 = f1.and_then(|o| self.files.get(&o));
        flat.file2 = f2.and_then(|o| self.files.get(&o));
        if let Some(f) = flat.file1 {
            if char::from_u32(f.restype as u32).is_none() {
                return Err(FlattenError(format!(
                    "file {:?} has restype {}, not a character code",
                    f.path, f.restype
                )));
            }
        }
        Ok(flat)
    }
}

/// The printed record types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Process event.
    Pe,
    /// File event.
    Fe,
    /// File flow.
    Ff,
    /// Network flow.
    Nf,
    /// Process flow.
    Pf,
    /// Kubernetes event.
    Ke,
}

impl Kind {
    /// The `type` value.
    pub const fn code(self) -> &'static str {
        match self {
            Kind::Pe => "PE",
            Kind::Fe => "FE",
            Kind::Ff => "FF",
            Kind::Nf => "NF",
            Kind::Pf => "PF",
            Kind::Ke => "KE",
        }
    }
}

/// An event or flow joined with its entities.
pub struct Flat<'a> {
    kind: Kind,
    common: Common,
    schema: &'a SchemaInfo,
    header: Option<&'a SfHeader>,
    proc: Option<&'a Process>,
    pproc: Option<&'a Process>,
    container: Option<&'a Container>,
    pod: Option<&'a Pod>,
    file1: Option<&'a File>,
    file2: Option<&'a File>,
    nf: Option<&'a NetworkFlow>,
    ff: Option<&'a FileFlow>,
    pf: Option<&'a ProcessFlow>,
    ke: Option<&'a K8sEvent>,
    /// Read bytes, read ops, written bytes, write ops of file and network flows.
    counters: Option<(i64, i64, i64, i64)>,
}

/// Shorthands for building values.
fn s(v: &str) -> Value<'_> {
    Value::Text(Text::Str(v))
}

fn int(v: impl Into<i64>) -> Value<'static> {
    Value::Int(v.into())
}

fn or_null<T>(o: Option<T>, f: impl FnOnce(T) -> Value<'static>) -> Value<'static> {
    o.map_or(Value::Null, f)
}

/// The fields shared by the event and flow types (absent where a type lacks them).
struct Common {
    ts: i64,
    tid: Option<i64>,
    op_flags: Option<u32>,
    end_ts: Option<i64>,
    ret: Option<i32>,
}

impl Common {
    fn of(rec: &Record) -> Common {
        let (ts, tid, op, end_ts, ret) = match rec {
            Record::ProcessEvent(e) => (e.ts, Some(e.tid), Some(e.op_flags), None, Some(e.ret)),
            Record::FileEvent(e) => (e.ts, Some(e.tid), Some(e.op_flags), None, Some(e.ret)),
            Record::FileFlow(f) => (f.ts, Some(f.tid), Some(f.op_flags), Some(f.end_ts), None),
            Record::NetworkFlow(f) => (f.ts, Some(f.tid), Some(f.op_flags), Some(f.end_ts), None),
            Record::ProcessFlow(f) => (f.ts, None, Some(f.op_flags), Some(f.end_ts), None),
            Record::K8sEvent(e) => (e.ts, None, None, None, None),
            _ => (0, None, None, None, None),
        };
        Common {
            ts,
            tid,
            op_flags: op.map(|o| o.bits()),
            end_ts,
            ret,
        }
    }
}

impl<'a> Flat<'a> {
    /// The value of one key.
    pub fn get(&self, field: Field) -> Value<'a> {
        use Field as F;
        let proc = self.proc;
        let pproc = self.pproc;
        let cont = self.container;
        let pod = self.pod;
        let (nf, ff, pf, ke) = (self.nf, self.ff, self.pf, self.ke);
        let counters = self.counters;
        let text_or_empty = |o: Option<&'a str>| s(o.unwrap_or(""));
        match field {
            F::Version => s("4"),
            F::Type => s(self.kind.code()),
            F::State => match (proc, self.file1) {
                (Some(p), _) => s(p.state.symbol()),
                (None, Some(f)) => s(f.state.symbol()),
                (None, None) => Value::EMPTY,
            },
            F::Opflags => self
                .common
                .op_flags
                .map_or(Value::EMPTY, |b| Value::Text(Text::OpFlags(b))),
            F::OpflagsBitmap => self.common.op_flags.map_or(Value::EMPTY, |b| int(b as i32)),
            F::Ret => or_null(self.common.ret, int),
            F::Ts => Value::Text(Text::Iso(self.common.ts)),
            F::TsUts => int(self.common.ts),
            F::Endts => self
                .common
                .end_ts
                .map_or(Value::EMPTY, |t| Value::Text(Text::Iso(t))),
            F::EndtsUts => or_null(self.common.end_ts, int),
            F::ProcPid => or_null(proc, |p| int(p.oid.hpid)),
            F::ProcTid => or_null(self.common.tid, int),
            F::ProcUid => or_null(proc, |p| int(p.uid)),
            F::ProcUser => text_or_empty(proc.map(|p| p.user_name.as_str())),
            F::ProcGid => or_null(proc, |p| int(p.gid)),
            F::ProcGroup => text_or_empty(proc.map(|p| p.group_name.as_str())),
            F::ProcCwd => text_or_empty(proc.map(|p| p.cwd.as_str())),
            F::ProcExe => text_or_empty(proc.map(|p| p.exe.as_str())),
            F::ProcArgs => text_or_empty(proc.map(|p| p.exe_args.as_str())),
            F::ProcTty => proc.map_or(Value::EMPTY, |p| Value::Bool(p.tty)),
            F::ProcEntry => self.entry(proc),
            F::ProcEnv => proc.map_or(Value::EMPTY, |p| Value::Text(Text::Env(&p.env))),
            F::ProcCreatets => or_null(proc, |p| int(p.oid.create_ts)),
            F::PprocPid => or_null(pproc, |p| int(p.oid.hpid)),
            F::PprocGid => or_null(pproc, |p| int(p.gid)),
            F::PprocUid => or_null(pproc, |p| int(p.uid)),
            F::PprocGroup => text_or_empty(pproc.map(|p| p.group_name.as_str())),
            F::PprocTty => pproc.map_or(Value::EMPTY, |p| Value::Bool(p.tty)),
            F::PprocEntry => self.entry(pproc),
            F::PprocEnv => pproc.map_or(Value::EMPTY, |p| Value::Text(Text::Env(&p.env))),
            F::PprocUser => text_or_empty(pproc.map(|p| p.user_name.as_str())),
            F::PprocCwd => text_or_empty(pproc.map(|p| p.cwd.as_str())),
            F::PprocExe => text_or_empty(pproc.map(|p| p.exe.as_str())),
            F::PprocArgs => text_or_empty(pproc.map(|p| p.exe_args.as_str())),
            F::PprocCreatets => pproc.map_or(Value::EMPTY, |p| int(p.oid.create_ts)),
            F::FileFd => match (ff, nf) {
                (Some(f), _) if self.schema.file_flow_has_fd => int(f.fd),
                (_, Some(n)) if self.schema.network_flow_has_fd => int(n.fd),
                _ => Value::EMPTY,
            },
            F::FilePath => text_or_empty(self.file1.map(|f| f.path.as_str())),
            F::FileNewpath => text_or_empty(self.file2.map(|f| f.path.as_str())),
            F::FileType => self.file1.map_or(Value::EMPTY, |f| {
                // Checked in `Linker::flatten`.
                Value::Text(Text::Char(
                    char::from_u32(f.restype as u32).unwrap_or(char::REPLACEMENT_CHARACTER),
                ))
            }),
            F::FileOpenflags => ff
                .filter(|_| self.schema.file_flow_has_open_flags)
                .map_or(Value::EMPTY, |f| int(f.open_flags)),
            F::NetProto => nf.map_or(Value::EMPTY, |n| int(n.proto)),
            F::NetSport => or_null(nf, |n| int(n.sport)),
            F::NetDport => or_null(nf, |n| int(n.dport)),
            F::NetSip => nf.map_or(Value::EMPTY, |n| Value::Text(Text::Ip(i64::from(n.sip)))),
            F::NetDip => nf.map_or(Value::EMPTY, |n| Value::Text(Text::Ip(i64::from(n.dip)))),
            F::Res => match self.kind {
                Kind::Ff | Kind::Fe => Value::Text(Text::FileRes(
                    self.file1.map(|f| f.path.as_str()),
                    self.file2.map(|f| f.path.as_str()),
                )),
                Kind::Nf => nf.map_or(Value::EMPTY, |n| {
                    Value::Text(Text::NetRes(n.sip, n.sport, n.dip, n.dport))
                }),
                _ => Value::EMPTY,
            },
            F::FlowRbytes => or_null(counters, |c| int(c.0)),
            F::FlowRops => or_null(counters, |c| int(c.1)),
            F::FlowWbytes => or_null(counters, |c| int(c.2)),
            F::FlowWops => or_null(counters, |c| int(c.3)),
            F::PfNthreads => or_null(pf, |f| int(f.num_threads_cloned)),
            F::PfNexits => or_null(pf, |f| int(f.num_threads_exited)),
            F::PfNerrors => or_null(pf, |f| int(f.num_clone_errors)),
            F::ContainerId => text_or_empty(cont.map(|c| c.id.as_str())),
            F::ContainerName => text_or_empty(cont.map(|c| c.name.as_str())),
            F::ContainerImageid => text_or_empty(cont.map(|c| c.imageid.as_str())),
            F::ContainerImage => text_or_empty(cont.map(|c| c.image.as_str())),
            F::ContainerType => text_or_empty(cont.map(|c| c.container_type.symbol())),
            F::ContainerPrivileged => cont.map_or(Value::EMPTY, |c| Value::Bool(c.privileged)),
            F::PodId => text_or_empty(pod.map(|p| p.id.as_str())),
            F::PodName => text_or_empty(pod.map(|p| p.name.as_str())),
            F::PodNname => text_or_empty(pod.map(|p| p.node_name.as_str())),
            F::PodHostip => pod.map_or(Value::EMPTY, |p| Value::IpList(&p.host_ip)),
            F::PodInternalip => pod.map_or(Value::EMPTY, |p| Value::IpList(&p.internal_ip)),
            F::PodNs => text_or_empty(pod.map(|p| p.namespace.as_str())),
            F::PodRstrtcnt => or_null(pod, |p| int(p.restart_count)),
            F::PodServices => pod.map_or(Value::EMPTY, |p| Value::Services(&p.services)),
            F::NodeId => text_or_empty(self.header.map(|h| h.exporter.as_str())),
            F::NodeIp => text_or_empty(self.header.map(|h| h.ip.as_str())),
            F::Filename => text_or_empty(self.header.map(|h| h.filename.as_str())),
            F::Schema => self.header.map_or(Value::EMPTY, |h| int(h.version)),
            F::Tags => Value::Tags,
            F::K8sAction => text_or_empty(ke.map(|k| k.action.symbol())),
            F::K8sKind => text_or_empty(ke.map(|k| k.kind.symbol())),
            F::K8sMsg => text_or_empty(ke.map(|k| k.message.as_str())),
        }
    }

    fn entry(&self, p: Option<&Process>) -> Value<'a> {
        match p {
            Some(p) if self.schema.process_has_entry => Value::Bool(p.entry),
            _ => Value::EMPTY,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(bits: u32) -> String {
        let mut s = String::new();
        write_op_flags(&mut s, bits);
        s
    }

    #[test]
    fn op_flags_render_like_the_reference() {
        assert_eq!(flags(1664), "O  W    C  ");
        assert_eq!(flags(2880), "  CWR    T ");
        assert_eq!(flags(0), " ".repeat(11));
        assert_eq!(flags((1 << 15) | (1 << 20) | (1 << 2)), "MKDIRRENAME");
        assert_eq!(flags(15), "CLONEEXECEXITSETUID");
        assert_eq!(flags((1 << 18) | (1 << 19)), "SYMLINKUNLINK");
    }

    #[test]
    fn addresses_and_keys() {
        let mut s = String::new();
        write_ip(&mut s, -1_062_731_775);
        assert_eq!(s, "1.0.168.192");
        let a = ProcKey::of(&Oid::new(0, 65792));
        let b = ProcKey::of(&Oid::new(1, 256));
        assert!(a == b);
        assert!(ProcKey::of(&Oid::new(-5, -1)) == ProcKey::of(&Oid::new(0, 0)));
    }
}
