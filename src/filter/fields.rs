//! The fields a filter reads, their types, and the values an event gives them.
//!
//! Names and types follow libsinsp 0.18.1's field tables (`evt.*`, `proc.*`, `thread.*`,
//! `user.*`, `group.*`, `container.*`, `k8s.*`, `fd.*`). The values come from the
//! capture state (processes, fds, users, containers) and from the event itself; see
//! [`EventFields`].

use std::net::IpAddr;

/// The type of a field's values, which decides how a right-hand side is parsed and which
/// operators apply (libsinsp's `PT_*` types).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// A string (`PT_CHARBUF`).
    CharBuf,
    /// A file-system path (`PT_FSPATH`): a string for every operator.
    FsPath,
    /// A signed 64-bit number (`PT_INT64`, `PT_PID`, `PT_FD`, `PT_ERRNO`).
    Int64,
    /// An unsigned 64-bit number (`PT_UINT64`).
    Uint64,
    /// An unsigned 32-bit number (`PT_UINT32`, `PT_UID`, `PT_GID`).
    Uint32,
    /// A port number (`PT_PORT`); a right-hand side may be a service name (`https`).
    Port,
    /// `true` or `false` (`PT_BOOL`).
    Bool,
    /// An IPv4 or IPv6 address (`PT_IPADDR`).
    IpAddr,
    /// A network (`PT_IPNET`): the right-hand side is a CIDR, `a.b.c.d/n`.
    IpNet,
    /// Nanoseconds since the epoch (`PT_ABSTIME`).
    AbsTime,
}

impl FieldType {
    /// Whether values are numbers (compared numerically).
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            FieldType::Int64
                | FieldType::Uint64
                | FieldType::Uint32
                | FieldType::Port
                | FieldType::AbsTime
        )
    }

    /// Whether values are strings.
    pub fn is_string(self) -> bool {
        matches!(self, FieldType::CharBuf | FieldType::FsPath)
    }
}

/// Which parameter `evt.arg` names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ArgSel {
    /// `evt.arg[N]`: the event's `N`th parameter (0-based, in the scap event table's order).
    Index(u32),
    /// `evt.arg.NAME` / `evt.arg[NAME]`: the parameter called `NAME`.
    Name(String),
}

/// A field with its argument, as a compiled filter reads it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// `evt.type`: the scap event table's name of the event (`execve`, `openat`, `procexit`).
    EvtType,
    /// `evt.dir`: `>` for an enter event (procexit is one), `<` for an exit.
    EvtDir,
    /// `evt.num`: the event's number, counting from 1 every event the source read.
    EvtNum,
    /// `evt.time`: local time of day, `HH:MM:SS.nnnnnnnnn`.
    EvtTime,
    /// `evt.rawtime`: ns since the epoch.
    EvtRawtime,
    /// `evt.arg[N]`, `evt.arg.NAME`: a parameter rendered as text.
    EvtArg(ArgSel),
    /// `evt.rawarg.NAME`: a parameter's raw value (text for strings, decimal for numbers).
    EvtRawarg(String),
    /// `evt.res`: `SUCCESS` or the errno name (`ENOENT`).
    EvtRes,
    /// `evt.rawres`: the result as a number.
    EvtRawres,
    /// `evt.failed`: the result is an error.
    EvtFailed,
    /// `proc.name`: the command name (`comm`).
    ProcName,
    /// `proc.exe`: `argv[0]`.
    ProcExe,
    /// `proc.exepath`: the executable's full path.
    ProcExepath,
    /// `proc.cmdline`: `comm` and the arguments, space-separated.
    ProcCmdline,
    /// `proc.args`: the arguments after `argv[0]`, space-separated.
    ProcArgs,
    /// `proc.pid`: the process id (host).
    ProcPid,
    /// `proc.ppid`: the parent's process id.
    ProcPpid,
    /// `proc.pname`: the parent's command name.
    ProcPname,
    /// `proc.aname[n]`: the `n`th ancestor's command name (0 = the process itself); with no
    /// index, any ancestor (not the process itself).
    ProcAname(Option<u32>),
    /// `proc.apid[n]`: the `n`th ancestor's pid; with no index, any ancestor's.
    ProcApid(Option<u32>),
    /// `proc.tty`: the controlling terminal number (0 = none).
    ProcTty,
    /// `proc.cwd`: the working directory.
    ProcCwd,
    /// `proc.env`: the environment (`K=V K=V …`); `proc.env[VAR]`: one variable's value.
    ProcEnv(Option<String>),
    /// `proc.sid`: the session id.
    ProcSid,
    /// `proc.vpid`: the process id in its pid namespace.
    ProcVpid,
    /// `thread.tid`: the thread id (host).
    ThreadTid,
    /// `thread.vtid`: the thread id in its pid namespace.
    ThreadVtid,
    /// `user.uid`.
    UserUid,
    /// `user.name`.
    UserName,
    /// `user.loginuid`.
    UserLoginuid,
    /// `group.gid`.
    GroupGid,
    /// `group.name`.
    GroupName,
    /// `container.id`: 12 characters; `host` for a host process.
    ContainerId,
    /// `container.name`: `host` for a host process.
    ContainerName,
    /// `container.type`: `docker`, `cri`, `containerd`, `cri-o`, `podman`, …; `host`.
    ContainerType,
    /// `container.image`.
    ContainerImage,
    /// `container.image.repository`.
    ContainerImageRepository,
    /// `container.image.tag`.
    ContainerImageTag,
    /// `container.privileged`.
    ContainerPrivileged,
    /// `k8s.pod.name`.
    K8sPodName,
    /// `k8s.pod.uid`.
    K8sPodUid,
    /// `k8s.pod.id` (the pod sandbox id).
    K8sPodId,
    /// `k8s.ns.name`.
    K8sNsName,
    /// `fd.num`.
    FdNum,
    /// `fd.type`: `file`, `directory`, `ipv4`, `ipv6`, `unix`, `pipe`, `event`, …
    FdType,
    /// `fd.typechar`: `f`, `d`, `4`, `6`, `u`, `p`, `e`, …
    FdTypechar,
    /// `fd.name`: the file path or the connection tuple.
    FdName,
    /// `fd.directory`: a file's directory.
    FdDirectory,
    /// `fd.filename`: a file's name without its directory.
    FdFilename,
    /// `fd.l4proto`: `tcp`, `udp`, `icmp`, `raw`.
    FdL4proto,
    /// `fd.sip`: the server's address.
    FdSip,
    /// `fd.cip`: the client's address.
    FdCip,
    /// `fd.lip`: the local address.
    FdLip,
    /// `fd.rip`: the remote address.
    FdRip,
    /// `fd.sport`.
    FdSport,
    /// `fd.cport`.
    FdCport,
    /// `fd.lport`.
    FdLport,
    /// `fd.rport`.
    FdRport,
    /// `fd.ip`: either end's address (filter only).
    FdIp,
    /// `fd.port`: either end's port (filter only).
    FdPort,
    /// `fd.net`: either end's address, compared with a network (filter only).
    FdNet,
    /// `fd.snet`: the server's address, compared with a network.
    FdSnet,
    /// `fd.cnet`: the client's address, compared with a network.
    FdCnet,
    /// `fd.is_server`: the process is the server end of the socket.
    FdIsServer,
    /// A libsinsp field this crate knows but does not extract (`evt.buffer`,
    /// `thread.cap_permitted`, `fd.sip.name`, …): it compiles with its type and is always
    /// missing.
    Unsupported(&'static str),
}

/// A value an event gives a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// Strings and paths, as raw bytes.
    Str(&'a [u8]),
    /// Signed numbers.
    Int(i64),
    /// Unsigned numbers (ports, uids, times).
    Uint(u64),
    /// Booleans.
    Bool(bool),
    /// Addresses.
    Ip(IpAddr),
}

/// What a filter reads from one event: implemented over the capture state and the event
/// by the pipeline, and by tests over described events.
pub trait EventFields {
    /// The `n`th value of `field` for this event, or `None` when the event has no such
    /// value (the comparison is then false for every operator).
    ///
    /// `n` is 0 for single-valued fields. Multi-valued fields count from 0:
    /// `proc.aname`/`proc.apid` without an index give the parent (0), the grandparent
    /// (1), …; `fd.ip`, `fd.port` and `fd.net` give the client or local end (0), then the
    /// server or remote end (1). `None` ends the values.
    ///
    /// Values may borrow from `scratch`, which the caller clears and reuses (so a
    /// composed value such as `proc.cmdline` costs no allocation per event).
    fn value<'s>(&'s self, field: &Field, n: usize, scratch: &'s mut Vec<u8>) -> Option<Value<'s>>;
}
