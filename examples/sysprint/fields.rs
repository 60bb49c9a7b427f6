//! Field names: the 75 keys of a flattened record, and the attribute table behind `-l`,
//! the `-o str` column headers and their widths.

use std::io::{self, Write};

macro_rules! fields {
    ($($variant:ident => $key:literal,)+) => {
        /// One key of the flattened record, in the official output order.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Field {
            $(
                #[doc = concat!("`", $key, "`")]
                $variant,
            )+
        }

        impl Field {
            /// Every key, in output order (the order of a full JSON record).
            pub const ALL: &'static [Field] = &[$(Field::$variant),+];

            /// The dotted key (`proc.exe`).
            pub const fn key(self) -> &'static str {
                match self {
                    $(Field::$variant => $key,)+
                }
            }
        }
    };
}

fields! {
    Version => "version",
    Type => "type",
    State => "state",
    Opflags => "opflags",
    OpflagsBitmap => "opflags_bitmap",
    Ret => "ret",
    Ts => "ts",
    TsUts => "ts_uts",
    Endts => "endts",
    EndtsUts => "endts_uts",
    ProcPid => "proc.pid",
    ProcTid => "proc.tid",
    ProcUid => "proc.uid",
    ProcUser => "proc.user",
    ProcGid => "proc.gid",
    ProcGroup => "proc.group",
    ProcCwd => "proc.cwd",
    ProcExe => "proc.exe",
    ProcArgs => "proc.args",
    ProcTty => "proc.tty",
    ProcEntry => "proc.entry",
    ProcEnv => "proc.env",
    ProcCreatets => "proc.createts",
    PprocPid => "pproc.pid",
    PprocGid => "pproc.gid",
    PprocUid => "pproc.uid",
    PprocGroup => "pproc.group",
    PprocTty => "pproc.tty",
    PprocEntry => "pproc.entry",
    PprocEnv => "pproc.env",
    PprocUser => "pproc.user",
    PprocCwd => "pproc.cwd",
    PprocExe => "pproc.exe",
    PprocArgs => "pproc.args",
    PprocCreatets => "pproc.createts",
    FileFd => "file.fd",
    FilePath => "file.path",
    FileNewpath => "file.newpath",
    FileType => "file.type",
    FileOpenflags => "file.openflags",
    NetProto => "net.proto",
    NetSport => "net.sport",
    NetDport => "net.dport",
    NetSip => "net.sip",
    NetDip => "net.dip",
    Res => "res",
    FlowRbytes => "flow.rbytes",
    FlowRops => "flow.rops",
    FlowWbytes => "flow.wbytes",
    FlowWops => "flow.wops",
    PfNthreads => "pf.nthreads",
    PfNexits => "pf.nexits",
    PfNerrors => "pf.nerrors",
    ContainerId => "container.id",
    ContainerName => "container.name",
    ContainerImageid => "container.imageid",
    ContainerImage => "container.image",
    ContainerType => "container.type",
    ContainerPrivileged => "container.privileged",
    PodId => "pod.id",
    PodName => "pod.name",
    PodNname => "pod.nname",
    PodHostip => "pod.hostip",
    PodInternalip => "pod.internalip",
    PodNs => "pod.ns",
    PodRstrtcnt => "pod.rstrtcnt",
    PodServices => "pod.services",
    NodeId => "node.id",
    NodeIp => "node.ip",
    Filename => "filename",
    Schema => "schema",
    Tags => "tags",
    K8sAction => "k8s.action",
    K8sKind => "k8s.kind",
    K8sMsg => "k8s.msg",
}

impl Field {
    /// The field named `key`, if it is one of the 75 output keys.
    pub fn from_key(key: &str) -> Option<Field> {
        Field::ALL.iter().copied().find(|f| f.key() == key)
    }
}

/// One selected key: a known field, or any other name (which prints as `""`).
#[derive(Clone, Debug)]
pub struct Selected {
    /// The key as given.
    pub key: String,
    /// The field it names, if it is one of the 75 output keys.
    pub field: Option<Field>,
}

/// Every output key, in output order.
pub fn all_fields() -> Vec<Selected> {
    Field::ALL
        .iter()
        .map(|&f| Selected {
            key: f.key().to_string(),
            field: Some(f),
        })
        .collect()
}

/// Parses a `-c` list: split on `,` (no trimming, empty names kept), first occurrence of
/// each name kept.
pub fn parse_fields(list: &str) -> Vec<Selected> {
    let mut out: Vec<Selected> = Vec::new();
    for key in list.split(',') {
        if out.iter().all(|s| s.key != key) {
            out.push(Selected {
                key: key.to_string(),
                field: Field::from_key(key),
            });
        }
    }
    out
}

/// One row of the official attribute table.
#[derive(Clone, Copy, Debug)]
pub struct Attr {
    /// The key (`proc.exe`).
    pub key: &'static str,
    /// Column header in `-o str`.
    pub header: &'static str,
    /// Base column width in `-o str`.
    pub width: usize,
    /// Description printed by `-l`.
    pub description: &'static str,
    /// Only usable in SFQL filters: never a column, `""` when selected with `-c`.
    pub query_only: bool,
}

impl Attr {
    const fn new(
        key: &'static str,
        header: &'static str,
        width: usize,
        description: &'static str,
        query_only: bool,
    ) -> Self {
        Attr {
            key,
            header,
            width,
            description,
            query_only,
        }
    }
}

/// The attribute table, in the order `-l` lists it.
pub const ATTRS: &[Attr] = &[
    Attr::new("idx", "Rec #", 6, "Record number", false),
    Attr::new("type", "T", 2, "Record type", false),
    Attr::new("state", "State", 12, "Entity state", false),
    Attr::new("opflags", "Op Flags", 14, "Operation flags", false),
    Attr::new(
        "opflags_bitmap",
        "Op Flags",
        5,
        "Operation flags bitmap",
        false,
    ),
    Attr::new("ret", "Ret", 4, "Return code", false),
    Attr::new("ts", "Start Time", 26, "Record start time", false),
    Attr::new("ts_uts", "Start Time", 21, "Records start timestamp", false),
    Attr::new("endts", "End Time", 26, "Record end time", false),
    Attr::new("endts_uts", "End Time", 21, "Record end timestamp", false),
    Attr::new("proc.pid", "PID", 8, "Process PID", false),
    Attr::new("proc.tid", "TID", 8, "Thread PID", false),
    Attr::new("proc.uid", "UID", 5, "Process user ID", false),
    Attr::new("proc.user", "User", 8, "Process user name", false),
    Attr::new("proc.gid", "GID", 5, "Process group ID", false),
    Attr::new("proc.group", "Group", 8, "Process group name", false),
    Attr::new(
        "proc.apid",
        "A. PIDs",
        20,
        "Process ancestors PIDs (query only)",
        true,
    ),
    Attr::new(
        "proc.aname",
        "A. Proc. Names",
        20,
        "Process ancestors names (query only)",
        true,
    ),
    Attr::new("proc.cwd", "Cwd", 20, "Current working directory ", false),
    Attr::new("proc.exe", "Cmd", 20, "Process command/filename", false),
    Attr::new("proc.args", "Args", 20, "Process command arguments", false),
    Attr::new(
        "proc.name",
        "Proc. Name",
        20,
        "Process name (query only)",
        true,
    ),
    Attr::new(
        "proc.cmdline",
        "Cmd Line",
        20,
        "Process command line (query only)",
        true,
    ),
    Attr::new("proc.tty", "TTY", 5, "Process TTY status", false),
    Attr::new(
        "proc.env",
        "Env",
        30,
        "Process environment variables",
        false,
    ),
    Attr::new(
        "proc.entry",
        "Entry",
        5,
        "Process container entrypoint",
        false,
    ),
    Attr::new(
        "proc.createts",
        "Proc. Creation Time",
        21,
        "Process creation timestamp",
        false,
    ),
    Attr::new("pproc.pid", "PPID", 8, "Parent process ID", false),
    Attr::new("pproc.gid", "PGID", 5, "Parent process group ID", false),
    Attr::new("pproc.uid", "PUID", 5, "Parent process user ID", false),
    Attr::new(
        "pproc.group",
        "PGroup",
        8,
        "Parent process group name",
        false,
    ),
    Attr::new("pproc.tty", "PTTY", 5, "Parent process TTY status", false),
    Attr::new(
        "pproc.env",
        "PEnv",
        30,
        "Parent process environment variables",
        false,
    ),
    Attr::new(
        "pproc.entry",
        "PEntry",
        5,
        "Parent process container entry",
        false,
    ),
    Attr::new("pproc.user", "PUser", 8, "Parent process user name", false),
    Attr::new(
        "pproc.cwd",
        "PCwd",
        20,
        "Parent current working directory ",
        false,
    ),
    Attr::new(
        "pproc.exe",
        "PCmd",
        20,
        "Parent process command/filename",
        false,
    ),
    Attr::new(
        "pproc.args",
        "PArgs",
        20,
        "Parent process command arguments",
        false,
    ),
    Attr::new(
        "pproc.name",
        "PProc. Name",
        20,
        "Parent process name (query only)",
        true,
    ),
    Attr::new(
        "pproc.cmdline",
        "PProc. Cmd Line",
        20,
        "Parent process command line (query only)",
        true,
    ),
    Attr::new(
        "pproc.createts",
        "PProc. Creation Time",
        21,
        "Parent process creation timestamp",
        false,
    ),
    Attr::new("file.fd", "FD", 5, "File descriptor number", false),
    Attr::new("file.path", "Path", 30, "File path", false),
    Attr::new("file.newpath", "New Path", 30, "New file path", false),
    Attr::new("file.name", "File Name", 30, "File name (query only)", true),
    Attr::new(
        "file.directory",
        "Dir",
        30,
        "File directory (query only)",
        true,
    ),
    Attr::new("file.type", "File Type", 8, "File type", false),
    Attr::new(
        "file.is_open_write",
        "W",
        5,
        "File open with write flag (query only)",
        true,
    ),
    Attr::new(
        "file.is_open_read",
        "R",
        5,
        "File open with read flag (query only)",
        true,
    ),
    Attr::new("file.openflags", "Open Flags", 5, "File open flags", false),
    Attr::new("net.proto", "Proto", 5, "Network protocol", false),
    Attr::new("net.sport", "SPort", 5, "Source port", false),
    Attr::new("net.dport", "DPort", 5, "Destination port", false),
    Attr::new(
        "net.port",
        "Port",
        5,
        "Source or destination port (query only)",
        true,
    ),
    Attr::new("net.sip", "SIP", 16, "Source IP", false),
    Attr::new("net.dip", "DIP", 16, "Destination IP", false),
    Attr::new(
        "net.ip",
        "IP",
        5,
        "Source or destination IP (query only)",
        true,
    ),
    Attr::new("res", "Resource", 45, "File or network resource", false),
    Attr::new(
        "flow.rbytes",
        "NoBRead",
        8,
        "Flow bytes read/received",
        false,
    ),
    Attr::new(
        "flow.rops",
        "NoOpsRead",
        8,
        "Flow operations read/received",
        false,
    ),
    Attr::new(
        "flow.wbytes",
        "NoBWrite",
        8,
        "Flow bytes written/sent",
        false,
    ),
    Attr::new(
        "flow.wops",
        "NoOpsWrite",
        8,
        "Flow bytes written/sent",
        false,
    ),
    Attr::new("container.id", "Cont ID", 12, "Container ID", false),
    Attr::new("container.name", "Cont Name", 12, "Container name", false),
    Attr::new(
        "container.imageid",
        "Image ID",
        12,
        "Container image ID",
        false,
    ),
    Attr::new(
        "container.image",
        "Image Name",
        12,
        "Container image name",
        false,
    ),
    Attr::new("container.type", "Cont Type", 8, "Container type", false),
    Attr::new(
        "container.privileged",
        "Privileged",
        5,
        "Container privilege status",
        false,
    ),
    Attr::new("pf.nthreads", "NoThreads", 8, "Threads created", false),
    Attr::new("pf.nexits", "NoThrExits", 8, "Threads exited", false),
    Attr::new("pf.nerrors", "NoThrErrs", 8, "Clone errors", false),
    Attr::new("pod.id", "Pod Id", 12, "Pod Identifier", false),
    Attr::new("pod.name", "Pod Name", 30, "Pod Name", false),
    Attr::new("pod.nname", "Pod Node Name", 12, "Pod Node Name", false),
    Attr::new("pod.hostip", "Pod Host IP", 16, "Pod Host IP", false),
    Attr::new(
        "pod.internalip",
        "Pod Intern IP",
        16,
        "Pod Internal IP",
        false,
    ),
    Attr::new("pod.ns", "Pod Namespace", 12, "Pod Namespace", false),
    Attr::new("pod.rstrtcnt", "Rstrt Cnt", 9, "Pod Restart Count", false),
    Attr::new("pod.services", "Pod Services", 100, "Pod Services", false),
    Attr::new("k8s.action", "K8s EV Action", 25, "K8s Event Action", false),
    Attr::new(
        "k8s.kind",
        "K8s EV Comp Type",
        26,
        "K8s Event Component Type",
        false,
    ),
    Attr::new("k8s.msg", "K8s EV Msg", 100, "K8s Event Message", false),
    Attr::new("node.id", "Node ID", 12, "Node identifier", false),
    Attr::new("node.ip", "Node IP", 16, "Node IP address", false),
    Attr::new("tags", "Tags", 10, "Enrichment tags", false),
    Attr::new("schema", "SF Schema", 8, "SysFlow schema version", false),
    Attr::new(
        "version",
        "API version",
        8,
        "SysFlow JSON schema version",
        false,
    ),
    Attr::new(
        "filename",
        "File name",
        15,
        "SysFlow trace file name",
        false,
    ),
];

/// The attribute usable as an `-o str` column (`idx` included, query-only ones excluded).
pub fn column_attr(key: &str) -> Option<&'static Attr> {
    ATTRS.iter().find(|a| a.key == key && !a.query_only)
}

/// Default `-o str` columns (after the record number).
pub const DEFAULT_COLUMNS: &[&str] = &[
    "ts_uts",
    "type",
    "proc.exe",
    "proc.args",
    "pproc.pid",
    "proc.pid",
    "proc.tid",
    "opflags",
    "res",
    "flow.rbytes",
    "flow.wbytes",
    "container.id",
];

/// Default `-o str` columns with `-K` (Kubernetes events).
pub const K8S_EVENT_COLUMNS: &[&str] = &["ts_uts", "type", "k8s.action", "k8s.kind", "k8s.msg"];

/// Writes the `-l` listing, byte for byte as the official tool prints it.
pub fn write_list(out: &mut impl Write) -> io::Result<()> {
    let rule = "-".repeat(30);
    writeln!(out, "{rule}")?;
    writeln!(out, "List of attributes:")?;
    writeln!(out, "{rule}")?;
    for a in ATTRS {
        writeln!(out, "{:<40} {:<40}", a.key, a.description)?;
    }
    writeln!(out, "{rule}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_consistent() {
        assert_eq!(Field::ALL.len(), 75);
        assert_eq!(ATTRS.len(), 88);
        for f in Field::ALL {
            assert!(column_attr(f.key()).is_some(), "{}", f.key());
            assert_eq!(Field::from_key(f.key()), Some(*f));
        }
        assert!(column_attr("proc.name").is_none());
        assert_eq!(column_attr("idx").map(|a| a.width), Some(6));
    }
}
