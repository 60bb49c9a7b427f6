//! The field table: every field name libsinsp 0.18.1 knows, with its type and flags, and
//! how a field expression (`name`, `name[arg]`, `evt.arg.NAME`) resolves to a [`Field`].

use super::fields::{ArgSel, Field};
use super::names;

/// The field accepts an argument, `name[arg]`.
pub(crate) const ARG_ALLOWED: u8 = 1;
/// The field needs an argument.
pub(crate) const ARG_REQUIRED: u8 = 2;
/// The field cannot be compared with another field (`val()`), on either side.
pub(crate) const NO_RHS: u8 = 4;
/// The field refuses transformers.
pub(crate) const NO_TRANSFORMER: u8 = 8;
/// The field gives a list of values.
pub(crate) const IS_LIST: u8 = 16;

/// `(name, libsinsp type name, flags)` of each field, in libsinsp's class order
/// (`sinsp_filtercheck_*.cpp` field tables of libs 0.18.1).
static FIELDS: &[(&str, &str, u8)] = &[
    ("evt.num", "UINT64", 0),
    ("evt.time", "CHARBUF", 0),
    ("evt.time.s", "CHARBUF", 0),
    ("evt.time.iso8601", "CHARBUF", 0),
    ("evt.datetime", "CHARBUF", 0),
    ("evt.datetime.s", "CHARBUF", 0),
    ("evt.rawtime", "ABSTIME", 0),
    ("evt.rawtime.s", "ABSTIME", 0),
    ("evt.rawtime.ns", "ABSTIME", 0),
    ("evt.reltime", "RELTIME", 0),
    ("evt.reltime.s", "RELTIME", 0),
    ("evt.reltime.ns", "RELTIME", 0),
    ("evt.pluginname", "CHARBUF", 0),
    ("evt.plugininfo", "CHARBUF", 0),
    ("evt.source", "CHARBUF", 0),
    ("evt.is_async", "BOOL", 0),
    ("evt.asynctype", "CHARBUF", 0),
    ("evt.hostname", "CHARBUF", 0),
    ("evt.latency", "RELTIME", 0),
    ("evt.latency.s", "RELTIME", 0),
    ("evt.latency.ns", "RELTIME", 0),
    ("evt.latency.quantized", "UINT64", 0),
    ("evt.latency.human", "CHARBUF", 0),
    ("evt.deltatime", "RELTIME", 0),
    ("evt.deltatime.s", "RELTIME", 0),
    ("evt.deltatime.ns", "RELTIME", 0),
    ("evt.outputtime", "CHARBUF", 0),
    ("evt.dir", "CHARBUF", 0),
    ("evt.type", "CHARBUF", 0),
    ("evt.type.is", "UINT32", ARG_REQUIRED),
    ("syscall.type", "CHARBUF", 0),
    ("evt.category", "CHARBUF", 0),
    ("evt.cpu", "INT16", 0),
    ("evt.args", "CHARBUF", 0),
    ("evt.arg", "CHARBUF", ARG_REQUIRED),
    ("evt.rawarg", "DYN", ARG_REQUIRED | NO_RHS | NO_TRANSFORMER),
    ("evt.info", "CHARBUF", 0),
    ("evt.buffer", "BYTEBUF", 0),
    ("evt.buflen", "UINT64", 0),
    ("evt.res", "CHARBUF", 0),
    ("evt.rawres", "INT64", 0),
    ("evt.failed", "BOOL", 0),
    ("evt.is_io", "BOOL", 0),
    ("evt.is_io_read", "BOOL", 0),
    ("evt.is_io_write", "BOOL", 0),
    ("evt.io_dir", "CHARBUF", 0),
    ("evt.is_wait", "BOOL", 0),
    ("evt.wait_latency", "RELTIME", 0),
    ("evt.is_syslog", "BOOL", 0),
    ("evt.count", "UINT32", 0),
    ("evt.count.error", "UINT32", 0),
    ("evt.count.error.file", "UINT32", 0),
    ("evt.count.error.net", "UINT32", 0),
    ("evt.count.error.memory", "UINT32", 0),
    ("evt.count.error.other", "UINT32", 0),
    ("evt.count.exit", "UINT32", 0),
    ("evt.count.procinfo", "UINT32", 0),
    ("evt.count.threadinfo", "UINT32", 0),
    (
        "evt.around",
        "UINT64",
        ARG_REQUIRED | NO_RHS | NO_TRANSFORMER,
    ),
    ("evt.abspath", "CHARBUF", ARG_REQUIRED),
    ("evt.buflen.in", "UINT64", 0),
    ("evt.buflen.out", "UINT64", 0),
    ("evt.buflen.file", "UINT64", 0),
    ("evt.buflen.file.in", "UINT64", 0),
    ("evt.buflen.file.out", "UINT64", 0),
    ("evt.buflen.net", "UINT64", 0),
    ("evt.buflen.net.in", "UINT64", 0),
    ("evt.buflen.net.out", "UINT64", 0),
    ("evt.is_open_read", "BOOL", 0),
    ("evt.is_open_write", "BOOL", 0),
    ("evt.infra.docker.name", "CHARBUF", 0),
    ("evt.infra.docker.container.id", "CHARBUF", 0),
    ("evt.infra.docker.container.name", "CHARBUF", 0),
    ("evt.infra.docker.container.image", "CHARBUF", 0),
    ("evt.is_open_exec", "BOOL", 0),
    ("evt.is_open_create", "BOOL", 0),
    ("proc.exe", "CHARBUF", 0),
    ("proc.pexe", "CHARBUF", 0),
    (
        "proc.aexe",
        "CHARBUF",
        ARG_ALLOWED | NO_RHS | NO_TRANSFORMER,
    ),
    ("proc.exepath", "CHARBUF", 0),
    ("proc.pexepath", "CHARBUF", 0),
    (
        "proc.aexepath",
        "CHARBUF",
        ARG_ALLOWED | NO_RHS | NO_TRANSFORMER,
    ),
    ("proc.name", "CHARBUF", 0),
    ("proc.pname", "CHARBUF", 0),
    (
        "proc.aname",
        "CHARBUF",
        ARG_ALLOWED | NO_RHS | NO_TRANSFORMER,
    ),
    ("proc.args", "CHARBUF", 0),
    ("proc.cmdline", "CHARBUF", 0),
    ("proc.pcmdline", "CHARBUF", 0),
    (
        "proc.acmdline",
        "CHARBUF",
        ARG_ALLOWED | NO_RHS | NO_TRANSFORMER,
    ),
    ("proc.cmdnargs", "UINT64", 0),
    ("proc.cmdlenargs", "UINT64", 0),
    ("proc.exeline", "CHARBUF", 0),
    ("proc.env", "CHARBUF", ARG_ALLOWED),
    (
        "proc.aenv",
        "CHARBUF",
        ARG_ALLOWED | NO_RHS | NO_TRANSFORMER,
    ),
    ("proc.cwd", "CHARBUF", 0),
    ("proc.loginshellid", "INT64", 0),
    ("proc.tty", "UINT32", 0),
    ("proc.pid", "INT64", 0),
    ("proc.ppid", "INT64", 0),
    ("proc.apid", "INT64", ARG_ALLOWED | NO_RHS | NO_TRANSFORMER),
    ("proc.vpid", "INT64", 0),
    ("proc.pvpid", "INT64", 0),
    ("proc.sid", "INT64", 0),
    ("proc.sname", "CHARBUF", 0),
    ("proc.sid.exe", "CHARBUF", 0),
    ("proc.sid.exepath", "CHARBUF", 0),
    ("proc.vpgid", "INT64", 0),
    ("proc.vpgid.name", "CHARBUF", 0),
    ("proc.vpgid.exe", "CHARBUF", 0),
    ("proc.vpgid.exepath", "CHARBUF", 0),
    ("proc.duration", "RELTIME", 0),
    ("proc.ppid.duration", "RELTIME", 0),
    ("proc.pid.ts", "RELTIME", 0),
    ("proc.ppid.ts", "RELTIME", 0),
    ("proc.is_exe_writable", "BOOL", 0),
    ("proc.is_exe_upper_layer", "BOOL", 0),
    ("proc.is_exe_lower_layer", "BOOL", 0),
    ("proc.is_exe_from_memfd", "BOOL", 0),
    ("proc.is_sid_leader", "BOOL", 0),
    ("proc.is_vpgid_leader", "BOOL", 0),
    ("proc.exe_ino", "INT64", 0),
    ("proc.exe_ino.ctime", "ABSTIME", 0),
    ("proc.exe_ino.mtime", "ABSTIME", 0),
    ("proc.exe_ino.ctime_duration_proc_start", "ABSTIME", 0),
    ("proc.exe_ino.ctime_duration_pidns_start", "ABSTIME", 0),
    ("proc.pidns_init_start_ts", "UINT64", 0),
    ("thread.cap_permitted", "CHARBUF", 0),
    ("thread.cap_inheritable", "CHARBUF", 0),
    ("thread.cap_effective", "CHARBUF", 0),
    ("proc.is_container_healthcheck", "BOOL", 0),
    ("proc.is_container_liveness_probe", "BOOL", 0),
    ("proc.is_container_readiness_probe", "BOOL", 0),
    ("proc.fdopencount", "UINT64", 0),
    ("proc.fdlimit", "INT64", 0),
    ("proc.fdusage", "DOUBLE", 0),
    ("proc.vmsize", "UINT64", 0),
    ("proc.vmrss", "UINT64", 0),
    ("proc.vmswap", "UINT64", 0),
    ("thread.pfmajor", "UINT64", 0),
    ("thread.pfminor", "UINT64", 0),
    ("thread.tid", "INT64", 0),
    ("thread.ismain", "BOOL", 0),
    ("thread.vtid", "INT64", 0),
    ("thread.nametid", "CHARBUF", 0),
    ("thread.exectime", "RELTIME", 0),
    ("thread.totexectime", "RELTIME", 0),
    ("thread.cgroups", "CHARBUF", 0),
    ("thread.cgroup", "CHARBUF", ARG_REQUIRED),
    ("proc.nthreads", "UINT64", 0),
    ("proc.nchilds", "UINT64", 0),
    ("thread.cpu", "DOUBLE", 0),
    ("thread.cpu.user", "DOUBLE", 0),
    ("thread.cpu.system", "DOUBLE", 0),
    ("thread.vmsize", "UINT64", 0),
    ("thread.vmrss", "UINT64", 0),
    ("thread.vmsize.b", "UINT64", 0),
    ("thread.vmrss.b", "UINT64", 0),
    ("proc.stdin.type", "CHARBUF", 0),
    ("proc.stdout.type", "CHARBUF", 0),
    ("proc.stderr.type", "CHARBUF", 0),
    ("proc.stdin.name", "CHARBUF", 0),
    ("proc.stdout.name", "CHARBUF", 0),
    ("proc.stderr.name", "CHARBUF", 0),
    ("user.uid", "UINT32", 0),
    ("user.name", "CHARBUF", 0),
    ("user.homedir", "CHARBUF", 0),
    ("user.shell", "CHARBUF", 0),
    ("user.loginuid", "INT64", 0),
    ("user.loginname", "CHARBUF", 0),
    ("group.gid", "UINT32", 0),
    ("group.name", "CHARBUF", 0),
    ("container.id", "CHARBUF", 0),
    ("container.full_id", "CHARBUF", 0),
    ("container.name", "CHARBUF", 0),
    ("container.image", "CHARBUF", 0),
    ("container.image.id", "CHARBUF", 0),
    ("container.type", "CHARBUF", 0),
    ("container.privileged", "BOOL", 0),
    ("container.mounts", "CHARBUF", 0),
    ("container.mount", "CHARBUF", ARG_REQUIRED),
    ("container.mount.source", "CHARBUF", ARG_REQUIRED),
    ("container.mount.dest", "CHARBUF", ARG_REQUIRED),
    ("container.mount.mode", "CHARBUF", ARG_REQUIRED),
    ("container.mount.rdwr", "CHARBUF", ARG_REQUIRED),
    ("container.mount.propagation", "CHARBUF", ARG_REQUIRED),
    ("container.image.repository", "CHARBUF", 0),
    ("container.image.tag", "CHARBUF", 0),
    ("container.image.digest", "CHARBUF", 0),
    ("container.healthcheck", "CHARBUF", 0),
    ("container.liveness_probe", "CHARBUF", 0),
    ("container.readiness_probe", "CHARBUF", 0),
    ("container.start_ts", "UINT64", 0),
    ("container.duration", "RELTIME", 0),
    ("container.ip", "CHARBUF", 0),
    ("container.cni.json", "CHARBUF", 0),
    ("fd.num", "INT64", 0),
    ("fd.type", "CHARBUF", 0),
    ("fd.typechar", "CHARBUF", 0),
    ("fd.name", "CHARBUF", 0),
    ("fd.directory", "CHARBUF", 0),
    ("fd.filename", "CHARBUF", 0),
    ("fd.ip", "IPADDR", NO_RHS | NO_TRANSFORMER),
    ("fd.cip", "IPADDR", 0),
    ("fd.sip", "IPADDR", 0),
    ("fd.lip", "IPADDR", 0),
    ("fd.rip", "IPADDR", 0),
    ("fd.port", "PORT", NO_RHS | NO_TRANSFORMER),
    ("fd.cport", "PORT", 0),
    ("fd.sport", "PORT", 0),
    ("fd.lport", "PORT", 0),
    ("fd.rport", "PORT", 0),
    ("fd.l4proto", "CHARBUF", 0),
    ("fd.sockfamily", "CHARBUF", 0),
    ("fd.is_server", "BOOL", 0),
    ("fd.uid", "CHARBUF", 0),
    ("fd.containername", "CHARBUF", 0),
    ("fd.containerdirectory", "CHARBUF", 0),
    ("fd.proto", "PORT", NO_RHS | NO_TRANSFORMER),
    ("fd.cproto", "CHARBUF", 0),
    ("fd.sproto", "CHARBUF", 0),
    ("fd.lproto", "CHARBUF", 0),
    ("fd.rproto", "CHARBUF", 0),
    ("fd.net", "IPNET", NO_RHS | NO_TRANSFORMER),
    ("fd.cnet", "IPNET", NO_RHS | NO_TRANSFORMER),
    ("fd.snet", "IPNET", NO_RHS | NO_TRANSFORMER),
    ("fd.lnet", "IPNET", NO_RHS | NO_TRANSFORMER),
    ("fd.rnet", "IPNET", NO_RHS | NO_TRANSFORMER),
    ("fd.connected", "BOOL", 0),
    ("fd.name_changed", "BOOL", 0),
    ("fd.cip.name", "CHARBUF", NO_RHS | NO_TRANSFORMER),
    ("fd.sip.name", "CHARBUF", NO_RHS | NO_TRANSFORMER),
    ("fd.lip.name", "CHARBUF", NO_RHS | NO_TRANSFORMER),
    ("fd.rip.name", "CHARBUF", NO_RHS | NO_TRANSFORMER),
    ("fd.dev", "INT32", 0),
    ("fd.dev.major", "INT32", 0),
    ("fd.dev.minor", "INT32", 0),
    ("fd.ino", "INT64", 0),
    ("fd.nameraw", "CHARBUF", 0),
    (
        "fd.types",
        "CHARBUF",
        IS_LIST | ARG_ALLOWED | NO_RHS | NO_TRANSFORMER,
    ),
    ("fd.is_upper_layer", "BOOL", 0),
    ("fd.is_lower_layer", "BOOL", 0),
    ("fs.path.name", "CHARBUF", 0),
    ("fs.path.nameraw", "CHARBUF", 0),
    ("fs.path.source", "CHARBUF", 0),
    ("fs.path.sourceraw", "CHARBUF", 0),
    ("fs.path.target", "CHARBUF", 0),
    ("fs.path.targetraw", "CHARBUF", 0),
    ("syslog.facility.str", "CHARBUF", 0),
    ("syslog.facility", "UINT32", 0),
    ("syslog.severity.str", "CHARBUF", 0),
    ("syslog.severity", "UINT32", 0),
    ("syslog.message", "CHARBUF", 0),
    ("util.cnt", "UINT64", 0),
    ("fdlist.nums", "CHARBUF", 0),
    ("fdlist.names", "CHARBUF", 0),
    ("fdlist.cips", "CHARBUF", 0),
    ("fdlist.sips", "CHARBUF", 0),
    ("fdlist.cports", "CHARBUF", 0),
    ("fdlist.sports", "CHARBUF", 0),
    ("k8s.ns.name", "CHARBUF", 0),
    ("k8s.pod.name", "CHARBUF", 0),
    ("k8s.pod.id", "CHARBUF", 0),
    ("k8s.pod.uid", "CHARBUF", 0),
    ("k8s.pod.sandbox_id", "CHARBUF", 0),
    ("k8s.pod.full_sandbox_id", "CHARBUF", 0),
    ("k8s.pod.label", "CHARBUF", ARG_REQUIRED),
    ("k8s.pod.labels", "CHARBUF", 0),
    ("k8s.pod.ip", "CHARBUF", 0),
    ("k8s.pod.cni.json", "CHARBUF", 0),
    ("k8s.rc.name", "CHARBUF", 0),
    ("k8s.rc.id", "CHARBUF", 0),
    ("k8s.rc.label", "CHARBUF", ARG_REQUIRED),
    ("k8s.rc.labels", "CHARBUF", 0),
    ("k8s.svc.name", "CHARBUF", 0),
    ("k8s.svc.id", "CHARBUF", 0),
    ("k8s.svc.label", "CHARBUF", ARG_REQUIRED),
    ("k8s.svc.labels", "CHARBUF", 0),
    ("k8s.ns.id", "CHARBUF", 0),
    ("k8s.ns.label", "CHARBUF", ARG_REQUIRED),
    ("k8s.ns.labels", "CHARBUF", 0),
    ("k8s.rs.name", "CHARBUF", 0),
    ("k8s.rs.id", "CHARBUF", 0),
    ("k8s.rs.label", "CHARBUF", ARG_REQUIRED),
    ("k8s.rs.labels", "CHARBUF", 0),
    ("k8s.deployment.name", "CHARBUF", 0),
    ("k8s.deployment.id", "CHARBUF", 0),
    ("k8s.deployment.label", "CHARBUF", ARG_REQUIRED),
    ("k8s.deployment.labels", "CHARBUF", 0),
    ("mesos.task.name", "CHARBUF", 0),
    ("mesos.task.id", "CHARBUF", 0),
    ("mesos.task.label", "CHARBUF", ARG_REQUIRED),
    ("mesos.task.labels", "CHARBUF", 0),
    ("mesos.framework.name", "CHARBUF", 0),
    ("mesos.framework.id", "CHARBUF", 0),
    ("marathon.app.name", "CHARBUF", 0),
    ("marathon.app.id", "CHARBUF", 0),
    ("marathon.app.label", "CHARBUF", ARG_REQUIRED),
    ("marathon.app.labels", "CHARBUF", 0),
    ("marathon.group.name", "CHARBUF", 0),
    ("marathon.group.id", "CHARBUF", 0),
    ("span.id", "INT64", 0),
    ("span.time", "CHARBUF", 0),
    ("span.ntags", "UINT32", 0),
    ("span.nargs", "UINT32", 0),
    ("span.tags", "CHARBUF", 0),
    ("span.tag", "CHARBUF", ARG_REQUIRED),
    ("span.args", "CHARBUF", 0),
    ("span.arg", "CHARBUF", ARG_REQUIRED),
    ("span.enterargs", "CHARBUF", 0),
    ("span.enterarg", "CHARBUF", ARG_REQUIRED),
    ("span.duration", "RELTIME", 0),
    ("span.duration.quantized", "UINT64", 0),
    ("span.duration.human", "CHARBUF", 0),
    ("span.duration.fortag", "RELTIME", ARG_REQUIRED),
    ("span.count", "UINT64", 0),
    ("span.count.fortag", "UINT64", ARG_REQUIRED),
    ("span.childcount.fortag", "UINT64", ARG_REQUIRED),
    ("span.idtag", "CHARBUF", ARG_REQUIRED),
    ("span.rawtime", "CHARBUF", 0),
    ("span.rawparenttime", "CHARBUF", 0),
    ("evtin.span.id", "INT64", 0),
    ("evtin.span.ntags", "UINT32", 0),
    ("evtin.span.nargs", "UINT32", 0),
    ("evtin.span.tags", "CHARBUF", 0),
    ("evtin.span.tag", "CHARBUF", ARG_REQUIRED),
    ("evtin.span.args", "CHARBUF", 0),
    ("evtin.span.arg", "CHARBUF", ARG_REQUIRED),
    ("evtin.span.p.id", "INT64", 0),
    ("evtin.span.p.ntags", "UINT32", 0),
    ("evtin.span.p.nargs", "UINT32", 0),
    ("evtin.span.p.tags", "CHARBUF", 0),
    ("evtin.span.p.tag", "CHARBUF", ARG_REQUIRED),
    ("evtin.span.p.args", "CHARBUF", 0),
    ("evtin.span.p.arg", "CHARBUF", ARG_REQUIRED),
    ("evtin.span.s.id", "INT64", 0),
    ("evtin.span.s.ntags", "UINT32", 0),
    ("evtin.span.s.nargs", "UINT32", 0),
    ("evtin.span.s.tags", "CHARBUF", 0),
    ("evtin.span.s.tag", "CHARBUF", ARG_REQUIRED),
    ("evtin.span.s.args", "CHARBUF", 0),
    ("evtin.span.s.arg", "CHARBUF", ARG_REQUIRED),
    ("evtin.span.m.id", "INT64", 0),
    ("evtin.span.m.ntags", "UINT32", 0),
    ("evtin.span.m.nargs", "UINT32", 0),
    ("evtin.span.m.tags", "CHARBUF", 0),
    ("evtin.span.m.tag", "CHARBUF", ARG_REQUIRED),
    ("evtin.span.m.args", "CHARBUF", 0),
    ("evtin.span.m.arg", "CHARBUF", ARG_REQUIRED),
];

/// How values of a field are parsed and compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ty {
    /// Strings and paths.
    Str,
    /// Signed numbers of the given width in bits.
    Int(u8),
    /// Unsigned numbers (and times) of the given width in bits.
    Uint(u8),
    /// Port numbers; a right-hand side may be a service name.
    Port,
    /// `true` / `false`.
    Bool,
    /// IPv4 or IPv6 addresses.
    Ip,
    /// Networks (CIDR) on the right, an address on the left.
    Net,
    /// Floating point (libsinsp parses right-hand sides as 32-bit integers).
    Double,
    /// Byte buffers.
    Bytes,
    /// The type of an event parameter (`evt.rawarg`): numbers or text, decided per value.
    Dyn,
}

impl Ty {
    fn from_name(t: &str) -> Ty {
        match t {
            "CHARBUF" | "FSPATH" | "FSRELPATH" => Ty::Str,
            "INT8" => Ty::Int(8),
            "INT16" => Ty::Int(16),
            "INT32" => Ty::Int(32),
            "INT64" => Ty::Int(64),
            "UINT8" => Ty::Uint(8),
            "UINT16" => Ty::Uint(16),
            "UINT32" => Ty::Uint(32),
            "UINT64" | "RELTIME" | "ABSTIME" => Ty::Uint(64),
            "PORT" => Ty::Port,
            "BOOL" => Ty::Bool,
            "IPADDR" => Ty::Ip,
            "IPNET" => Ty::Net,
            "DOUBLE" => Ty::Double,
            "BYTEBUF" => Ty::Bytes,
            _ => Ty::Dyn,
        }
    }
}

/// How many values a field gives an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Multi {
    /// One value (`n` = 0).
    Single,
    /// `proc.aname`/`proc.apid` without an index: every ancestor, parent first; a check
    /// holds when it holds for any of them.
    Ancestors,
    /// `fd.ip`/`fd.port`/`fd.net`: both ends; `!=` holds when no end is equal, other
    /// operators when some end matches.
    Ends,
}

/// A resolved field expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// What the event is asked for.
    pub field: Field,
    /// The field table's name (`proc.aname` for `proc.aname[2]`).
    pub name: &'static str,
    /// libsinsp's type name, for messages (`CHARBUF`, `INT64`).
    pub type_name: &'static str,
    /// How values are parsed and compared.
    pub ty: Ty,
    /// `ARG_*`, `NO_RHS`, `NO_TRANSFORMER`, `IS_LIST`.
    pub flags: u8,
    /// How many values it has.
    pub multi: Multi,
}

fn nonexistent(full: &str) -> String {
    format!("filter_check called with nonexistent field {full}")
}

fn syntax_error(full: &str) -> String {
    format!("filter syntax error: {full}")
}

fn lookup(name: &str) -> Option<(&'static str, &'static str, u8)> {
    FIELDS.iter().find(|(n, _, _)| *n == name).copied()
}

fn resolved(entry: (&'static str, &'static str, u8), field: Field) -> Resolved {
    let (name, type_name, flags) = entry;
    Resolved {
        field,
        name,
        type_name,
        ty: Ty::from_name(type_name),
        flags,
        multi: Multi::Single,
    }
}

/// Parses a number the way `sscanf("%d")` does for libsinsp's `parsed32`: optional
/// leading blanks and sign, digits, nothing after.
pub(crate) fn sscanf_i64(s: &str) -> Option<i64> {
    let (neg, mag, _) = sscanf_digits(s)?;
    // strtol saturates.
    Some(if neg {
        if mag > 1 << 63 {
            i64::MIN
        } else {
            (mag as i64).wrapping_neg()
        }
    } else {
        i64::try_from(mag).unwrap_or(i64::MAX)
    })
}

/// Parses a number the way `sscanf("%lu")` does: a leading `-` wraps (`-1` is the
/// largest value), too many digits saturate.
pub(crate) fn sscanf_u64(s: &str) -> Option<u64> {
    let (neg, mag, overflow) = sscanf_digits(s)?;
    Some(if overflow {
        u64::MAX
    } else if neg {
        mag.wrapping_neg()
    } else {
        mag
    })
}

/// `(negative, magnitude)` of `[blanks][+-]digits`; saturating like `strtoull`, `None`
/// when malformed or when anything follows.
pub(crate) fn sscanf_digits(s: &str) -> Option<(bool, u64, bool)> {
    let b = s
        .trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r'])
        .as_bytes();
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    let mut overflow = false;
    for d in digits {
        match v
            .checked_mul(10)
            .and_then(|x| x.checked_add(u64::from(d - b'0')))
        {
            Some(x) => v = x,
            None => {
                overflow = true;
                v = u64::MAX;
            }
        }
    }
    Some((neg, v, overflow))
}

/// Resolves a field expression, `name` or `name[arg]` (libsinsp glues the two back
/// together and parses the whole; so do we).
pub(crate) fn resolve(name: &str, arg: Option<&str>) -> Result<Resolved, String> {
    let full = match arg {
        Some(a) => format!("{name}[{a}]"),
        None => name.to_string(),
    };
    resolve_full(&full)
}

pub(crate) fn resolve_full(full: &str) -> Result<Resolved, String> {
    if full.starts_with("evt.arg") && !full.starts_with("evt.args") {
        return resolve_evt_arg(full, "evt.arg");
    }
    if full.starts_with("evt.rawarg") {
        return resolve_evt_arg(full, "evt.rawarg");
    }
    if let Some(rest) = full.strip_prefix("evt.around") {
        let entry = lookup("evt.around").expect("in table");
        return match rest.as_bytes().first() {
            Some(b'[') => {
                let close = rest.find(']').unwrap_or(rest.len());
                let num = &rest[1..close.max(1)];
                sscanf_digits(num).ok_or_else(|| format!("{num} is not a valid number"))?;
                if close + 1 != rest.len() {
                    return Err(nonexistent(full));
                }
                Ok(resolved(entry, Field::Unsupported("evt.around")))
            }
            Some(b'.') => Err("wrong syntax for evt.around".into()),
            _ => Err(syntax_error(full)),
        };
    }
    if let Some(rest) = full.strip_prefix("evt.type.is") {
        let entry = lookup("evt.type.is").expect("in table");
        let Some(t) = rest.strip_prefix('.') else {
            return Err(syntax_error(full));
        };
        let known = sscanf_digits(t).is_some_and(|(neg, v, _)| !neg && v <= u64::from(u32::MAX))
            || names::EVENTS.iter().any(|(n, _)| *n == t);
        if !known {
            return Err(nonexistent(full));
        }
        return Ok(resolved(entry, Field::Unsupported("evt.type.is")));
    }
    if let Some(rest) = full.strip_prefix("evt.abspath") {
        if matches!(rest, "" | ".src" | ".dst") {
            let entry = lookup("evt.abspath").expect("in table");
            return Ok(resolved(entry, Field::Unsupported("evt.abspath")));
        }
        return Err(nonexistent(full));
    }
    let (base, arg) = match full.find('[') {
        Some(open) => {
            let rest = &full[open + 1..];
            let close = rest.find(']').map(|c| open + 1 + c);
            match close {
                Some(c) if c + 1 == full.len() => (&full[..open], Some(&full[open + 1..c])),
                _ => return Err(nonexistent(full)),
            }
        }
        None => (full, None),
    };
    let Some(entry) = lookup(base) else {
        return Err(nonexistent(full));
    };
    let flags = entry.2;
    if arg.is_some() && flags & (ARG_ALLOWED | ARG_REQUIRED) == 0 {
        return Err(nonexistent(full));
    }
    if arg.is_none() && flags & ARG_REQUIRED != 0 {
        return Err(syntax_error(full));
    }
    let index = |a: Option<&str>| -> Result<Option<u32>, String> {
        match a {
            None => Ok(None),
            // A bad index makes libsinsp's field parser fail: the field is unknown.
            Some(a) => match sscanf_i64(a) {
                Some(v) if (0..=i64::from(i32::MAX)).contains(&v) => Ok(Some(v as u32)),
                Some(v) if i64::from(v as i32) == v => Ok(Some(u32::MAX)),
                _ => Err(nonexistent(full)),
            },
        }
    };
    let field = match base {
        "evt.type" => Field::EvtType,
        "evt.dir" => Field::EvtDir,
        "evt.num" => Field::EvtNum,
        "evt.time" => Field::EvtTime,
        "evt.rawtime" => Field::EvtRawtime,
        "evt.res" => Field::EvtRes,
        "evt.rawres" => Field::EvtRawres,
        "evt.failed" => Field::EvtFailed,
        "proc.name" => Field::ProcName,
        "proc.exe" => Field::ProcExe,
        "proc.exepath" => Field::ProcExepath,
        "proc.cmdline" => Field::ProcCmdline,
        "proc.args" => Field::ProcArgs,
        "proc.pid" => Field::ProcPid,
        "proc.ppid" => Field::ProcPpid,
        "proc.pname" => Field::ProcPname,
        "proc.aname" => Field::ProcAname(index(arg)?),
        "proc.apid" => Field::ProcApid(index(arg)?),
        "proc.aexe" | "proc.aexepath" | "proc.acmdline" => {
            index(arg)?;
            Field::Unsupported(entry.0)
        }
        "proc.tty" => Field::ProcTty,
        "proc.cwd" => Field::ProcCwd,
        "proc.env" => Field::ProcEnv(arg.map(str::to_string)),
        "proc.sid" => Field::ProcSid,
        "proc.vpid" => Field::ProcVpid,
        "thread.tid" => Field::ThreadTid,
        "thread.vtid" => Field::ThreadVtid,
        "user.uid" => Field::UserUid,
        "user.name" => Field::UserName,
        "user.loginuid" => Field::UserLoginuid,
        "group.gid" => Field::GroupGid,
        "group.name" => Field::GroupName,
        "container.id" => Field::ContainerId,
        "container.name" => Field::ContainerName,
        "container.type" => Field::ContainerType,
        "container.image" => Field::ContainerImage,
        "container.image.repository" => Field::ContainerImageRepository,
        "container.image.tag" => Field::ContainerImageTag,
        "container.privileged" => Field::ContainerPrivileged,
        "k8s.pod.name" => Field::K8sPodName,
        "k8s.pod.uid" => Field::K8sPodUid,
        "k8s.pod.id" => Field::K8sPodId,
        "k8s.ns.name" => Field::K8sNsName,
        "fd.num" => Field::FdNum,
        "fd.type" => Field::FdType,
        "fd.typechar" => Field::FdTypechar,
        "fd.name" => Field::FdName,
        "fd.directory" => Field::FdDirectory,
        "fd.filename" => Field::FdFilename,
        "fd.l4proto" => Field::FdL4proto,
        "fd.sip" => Field::FdSip,
        "fd.cip" => Field::FdCip,
        "fd.lip" => Field::FdLip,
        "fd.rip" => Field::FdRip,
        "fd.sport" => Field::FdSport,
        "fd.cport" => Field::FdCport,
        "fd.lport" => Field::FdLport,
        "fd.rport" => Field::FdRport,
        "fd.ip" => Field::FdIp,
        "fd.port" => Field::FdPort,
        "fd.net" => Field::FdNet,
        "fd.snet" => Field::FdSnet,
        "fd.cnet" => Field::FdCnet,
        "fd.is_server" => Field::FdIsServer,
        _ => Field::Unsupported(entry.0),
    };
    let multi = match &field {
        Field::ProcAname(None) | Field::ProcApid(None) => Multi::Ancestors,
        Field::FdIp | Field::FdPort | Field::FdNet => Multi::Ends,
        _ => Multi::Single,
    };
    let mut r = resolved(entry, field);
    r.multi = multi;
    Ok(r)
}

/// `evt.arg[N]`, `evt.arg.NAME`, `evt.rawarg.NAME` (`sinsp_filter_check_event::extract_arg`).
fn resolve_evt_arg(full: &str, base: &'static str) -> Result<Resolved, String> {
    let raw = base == "evt.rawarg";
    let entry = lookup(base).expect("in table");
    let rest = &full[base.len()..];
    match rest.as_bytes().first() {
        Some(b'[') => {
            if raw {
                return Err("evt.arg fields must be expressed explicitly".into());
            }
            let close = rest.find(']').unwrap_or(rest.len());
            let num = &rest[1..close.max(1)];
            let n = sscanf_i64(num).ok_or_else(|| format!("{num} is not a valid number"))?;
            if close + 1 != rest.len() {
                return Err(nonexistent(full));
            }
            // parsed32 wraps like a C int; a negative index never exists.
            let n = n as i32;
            let idx = u32::try_from(n).unwrap_or(u32::MAX);
            Ok(resolved(entry, Field::EvtArg(ArgSel::Index(idx))))
        }
        Some(b'.') => {
            let want = &rest[1..];
            let longest = names::EVENTS
                .iter()
                .flat_map(|(_, params)| params.iter())
                .filter(|p| want.starts_with(**p))
                .max_by_key(|p| p.len());
            match longest {
                None => Err(format!("unknown event argument {want}")),
                Some(p) if p.len() != want.len() => Err(nonexistent(full)),
                Some(p) => {
                    let field = if raw {
                        Field::EvtRawarg((*p).to_string())
                    } else {
                        Field::EvtArg(ArgSel::Name((*p).to_string()))
                    };
                    let mut r = resolved(entry, field);
                    if raw {
                        r.type_name = "DYN";
                        r.ty = Ty::Dyn;
                    }
                    Ok(r)
                }
            }
        }
        _ => Err(syntax_error(full)),
    }
}

/// Whether `name` is an `evt.type` value libsinsp accepts: an event name or a syscall name.
pub(crate) fn is_event_type_name(name: &str) -> bool {
    names::EVENTS.iter().any(|(n, _)| *n == name) || names::SYSCALLS.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_known_and_unsupported_fields() {
        let r = resolve("proc.name", None).unwrap();
        assert_eq!((r.field, r.ty), (Field::ProcName, Ty::Str));
        let r = resolve("proc.aname", Some("2")).unwrap();
        assert_eq!(
            (r.field, r.multi),
            (Field::ProcAname(Some(2)), Multi::Single)
        );
        let r = resolve("proc.aname", None).unwrap();
        assert_eq!(r.multi, Multi::Ancestors);
        assert!(r.flags & NO_TRANSFORMER != 0);
        assert_eq!(
            resolve("evt.buffer", None).unwrap().field,
            Field::Unsupported("evt.buffer")
        );
        assert_eq!(resolve("evt.buffer", None).unwrap().ty, Ty::Bytes);
        assert_eq!(
            resolve("k8s.pod.label", Some("app")).unwrap().field,
            Field::Unsupported("k8s.pod.label")
        );
        assert_eq!(
            resolve("proc.env", Some("HOME")).unwrap().field,
            Field::ProcEnv(Some("HOME".into()))
        );
        assert!(resolve("fd.sip.name", None).is_ok());
        assert!(resolve("thread.cap_permitted", None).is_ok());
        assert!(resolve("container.mount", Some("0")).is_ok());
        assert_eq!(
            resolve("container.mount", None).unwrap_err(),
            "filter syntax error: container.mount"
        );
    }

    #[test]
    fn rejects_unknown_fields() {
        for (n, a) in [
            ("proc.nmae", None),
            ("fd.dip", None),
            ("fd.dport", None),
            ("proc.name", Some("1")),
            ("proc.aname", Some("x")),
            ("evt.typex", None),
        ] {
            let full = match a {
                Some(a) => format!("{n}[{a}]"),
                None => n.to_string(),
            };
            assert_eq!(
                resolve(n, a).unwrap_err(),
                format!("filter_check called with nonexistent field {full}")
            );
        }
    }

    #[test]
    fn event_arguments() {
        assert_eq!(
            resolve("evt.arg", Some("1")).unwrap().field,
            Field::EvtArg(ArgSel::Index(1))
        );
        assert_eq!(
            resolve("evt.arg.name", None).unwrap().field,
            Field::EvtArg(ArgSel::Name("name".into()))
        );
        assert_eq!(
            resolve("evt.arg", Some("x")).unwrap_err(),
            "x is not a valid number"
        );
        assert_eq!(
            resolve("evt.arg.nosuchparam", None).unwrap_err(),
            "unknown event argument nosuchparam"
        );
        assert_eq!(
            resolve("evt.rawarg", Some("0")).unwrap_err(),
            "evt.arg fields must be expressed explicitly"
        );
        let r = resolve("evt.rawarg.res", None).unwrap();
        assert_eq!((r.field, r.ty), (Field::EvtRawarg("res".into()), Ty::Dyn));
        assert_eq!(
            resolve("evt.arg", None).unwrap_err(),
            "filter syntax error: evt.arg"
        );
        assert!(resolve("evt.args", None).is_ok());
        assert!(resolve("evt.type.is.open", None).is_ok());
        assert!(resolve("evt.around", Some("100")).is_ok());
    }

    #[test]
    fn event_type_names() {
        assert!(is_event_type_name("execve"));
        assert!(is_event_type_name("procexit"));
        assert!(is_event_type_name("pread64"));
        assert!(!is_event_type_name("EXECVE"));
    }
}
