//! The source-independent syscall event model.
//!
//! Both sources — the scap capture reader and the live CO-RE probe — produce
//! [`SysEvent`]s; the state engine and the aggregator consume them and know nothing of
//! where they came from. An event describes one completed operation (enter and exit
//! already paired by the source), borrowing its strings from the source's buffer.
//!
//! Conventions:
//! - times are nanoseconds since the epoch;
//! - `res` is the syscall result (negative errno on failure);
//! - strings are raw bytes as the kernel saw them (not necessarily UTF-8), `None` when
//!   the source did not have them;
//! - an `fd` that is `None` is one the source could not attribute (for a capture, an exit
//!   whose enter event was missing); such operations change no flow.

/// Open flags in the scap `PPM_O_*` encoding (see [`crate::model::OpenFlags`]).
pub type PpmOpenFlags = u32;

/// One syscall-level event.
#[derive(Clone, Copy, Debug)]
pub struct SysEvent<'a> {
    /// Time of the event (ns since the epoch).
    pub ts: u64,
    /// Thread id of the caller (`-1` for metadata events not tied to a thread).
    pub tid: i64,
    /// Process id (thread group id) of the caller when the source carries it (the live
    /// probe's records: the kernel's `tgid`); `-1` when it does not (a capture's events,
    /// whose threads the state knows from the capture). It names the process of a thread
    /// the state has not seen (its clone lost, or before the startup snapshot).
    pub pid: i64,
    /// What happened.
    pub kind: EventKind<'a>,
}

/// IP socket endpoints, or a unix socket's kernel object pointers and path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockTuple<'a> {
    /// IPv4: addresses in network byte order, ports in host order.
    V4 {
        /// Source address.
        sip: [u8; 4],
        /// Source port.
        sport: u16,
        /// Destination address.
        dip: [u8; 4],
        /// Destination port.
        dport: u16,
    },
    /// IPv6.
    V6 {
        /// Source address.
        sip: [u8; 16],
        /// Source port.
        sport: u16,
        /// Destination address.
        dip: [u8; 16],
        /// Destination port.
        dport: u16,
    },
    /// Unix socket: source and destination kernel socket pointers and the path.
    Unix {
        /// Kernel address of this end.
        source: u64,
        /// Kernel address of the peer.
        dest: u64,
        /// Path (may be empty).
        path: &'a [u8],
    },
}

/// A socket address (bind, connect enter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockAddr<'a> {
    /// IPv4 address (network order) and port.
    V4([u8; 4], u16),
    /// IPv6 address and port.
    V6([u8; 16], u16),
    /// Unix socket path.
    Unix(&'a [u8]),
}

/// Process description carried by clone and execve exits.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcInfo<'a> {
    /// Executable as invoked (`argv[0]` or the path), `exe` param.
    pub exe: Option<&'a [u8]>,
    /// Arguments after `argv[0]`, NUL-separated.
    pub args: Option<&'a [u8]>,
    /// Thread id (of the child, on the child side of a clone).
    pub tid: i64,
    /// Process id (thread-group id).
    pub pid: i64,
    /// Parent thread id.
    pub ptid: i64,
    /// Working directory param (clone/execve carry one; execve's is ignored by sinsp).
    pub cwd: Option<&'a [u8]>,
    /// Command name (`comm`).
    pub comm: Option<&'a [u8]>,
    /// cgroups, NUL-separated `subsys=path` entries.
    pub cgroups: Option<&'a [u8]>,
    /// User id.
    pub uid: Option<u32>,
    /// Group id.
    pub gid: Option<u32>,
    /// Thread id in the pid namespace.
    pub vtid: Option<i64>,
    /// Process id in the pid namespace.
    pub vpid: Option<i64>,
}

/// A clone, fork, vfork or clone3 exit, from either side.
#[derive(Clone, Copy, Debug)]
pub struct CloneEvent<'a> {
    /// Result: the child's tid in the parent, 0 in the child, negative on failure.
    pub res: i64,
    /// Clone flags (scap `PPM_CL_*` encoding), if known.
    pub flags: Option<u32>,
    /// What the event says about the caller (parent side) or the child (child side).
    pub info: ProcInfo<'a>,
    /// The child's own image (live capture, child side of a `CLONE_PARENT` process clone,
    /// whose kernel parent, `ptid`, is not the process it copied); `None` otherwise, and
    /// in capture files.
    pub own: Option<OwnImage<'a>>,
}

/// What the kernel says of a new process itself, where its parent is not the process it
/// copied (`CLONE_PARENT`): read from the child's task at its first return from the clone.
#[derive(Clone, Copy, Debug, Default)]
pub struct OwnImage<'a> {
    /// Full path of its executable (`d_path` of `mm->exe_file`).
    pub exepath: &'a [u8],
    /// Its working directory (`d_path` of `fs->pwd`).
    pub cwd: Option<&'a [u8]>,
    /// Its environment, NUL-separated (as an exec record carries it).
    pub env: Option<&'a [u8]>,
    /// Its controlling terminal's device number (0: none).
    pub tty: u32,
    /// Its login uid (`u32::MAX`: unset).
    pub loginuid: u32,
    /// The thread that cloned it (whose fd table it copied), if the probe caught it.
    pub caller: Option<i64>,
}

/// An execve or execveat exit.
#[derive(Clone, Copy, Debug)]
pub struct ExecveEvent<'a> {
    /// Result: 0 on success, negative errno.
    pub res: i64,
    /// The new image's description (valid when `res >= 0`).
    pub info: ProcInfo<'a>,
    /// Environment, NUL-separated.
    pub env: Option<&'a [u8]>,
    /// Controlling terminal number (0 = none), if the source knows it.
    pub tty: Option<u32>,
    /// Login uid.
    pub loginuid: Option<u32>,
    /// Full executable path as resolved by the kernel (scap `trusted_exepath`).
    pub exepath: Option<&'a [u8]>,
    /// The filename passed to execve, when the enter event was seen.
    pub filename: Option<&'a [u8]>,
    /// The fds open after the exec, as a bitmap (bit `n` of byte `n / 8` is fd `n`;
    /// fds past its end are unknown), when the source read it from the kernel: the
    /// close-on-exec fds the exec closed are the ones missing (live source).
    pub open_fds: Option<&'a [u8]>,
    /// The thread that called execve when it was not the process's main thread: the
    /// kernel gave it the main thread's id (the event's `tid`), and `old_tid` is gone
    /// without an exit (live source).
    pub old_tid: Option<i64>,
}

/// `execveat`'s `AT_EMPTY_PATH` flag in the scap encoding (`PPM_EXVAT_AT_EMPTY_PATH`).
pub const EXECVEAT_EMPTY_PATH: u32 = 1;

/// The target of an `execveat` call, as the call passed it.
#[derive(Clone, Copy, Debug)]
pub struct ExecAt<'a> {
    /// Directory fd the path is relative to (`-100` is `AT_FDCWD`).
    pub dirfd: i64,
    /// The path as passed: may be relative or empty; `<NA>` when the source could not
    /// read it.
    pub path: &'a [u8],
    /// Flags in the scap encoding ([`EXECVEAT_EMPTY_PATH`], …).
    pub flags: u32,
}

/// A change of user or group ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdChange {
    /// `setuid(uid)`.
    SetUid(u32),
    /// `setreuid(ruid, euid)`.
    SetReuid(u32, u32),
    /// `setresuid(ruid, euid, suid)`.
    SetResuid(u32, u32, u32),
    /// `setgid(gid)`.
    SetGid(u32),
    /// `setregid(rgid, egid)`.
    SetRegid(u32, u32),
    /// `setresgid(rgid, egid, sgid)`.
    SetResgid(u32, u32, u32),
}

/// Which open-like syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenKind {
    /// `open`.
    Open,
    /// `openat`.
    OpenAt,
    /// `openat2`.
    OpenAt2,
    /// `creat`.
    Creat,
    /// `open_by_handle_at` (no path: only the kernel's path of what was opened).
    ByHandle,
    /// Another fd-creating call SysFlow treats as an open (`timerfd_create`).
    Other,
}

/// An open-like exit.
#[derive(Clone, Copy, Debug)]
pub struct OpenEvent<'a> {
    /// Which syscall.
    pub kind: OpenKind,
    /// The new fd, or a negative errno.
    pub fd: i64,
    /// Directory fd of the `*at` variants (`-100` is AT_FDCWD).
    pub dirfd: Option<i64>,
    /// The path as passed. A live capture leaves it out of a successful open whose
    /// [`OpenEvent::kernel_path`] names a file, unless asked
    /// (`LiveConfig::open_paths_as_passed`).
    pub path: Option<&'a [u8]>,
    /// The opened file's absolute path as the kernel resolved it (walked from the file's
    /// own dentry and mount, relative to the process's root), when the source has it
    /// (live source). It wins over `path`: it is what was opened, whatever the user
    /// memory said.
    pub kernel_path: Option<&'a [u8]>,
    /// Open flags (`PPM_O_*`).
    pub flags: PpmOpenFlags,
}

/// Read or write direction of an I/O operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoDir {
    /// read, pread, readv, preadv, recv, recvfrom, recvmsg, recvmmsg.
    Read,
    /// write, pwrite, writev, pwritev, send, sendto, sendmsg, sendmmsg.
    Write,
}

/// One read or write family call.
#[derive(Clone, Copy, Debug)]
pub struct IoEvent<'a> {
    /// Direction.
    pub dir: IoDir,
    /// The fd, if attributed.
    pub fd: Option<i64>,
    /// Result: bytes transferred, or negative errno.
    pub res: i64,
    /// Peer address of datagram calls (recvfrom/sendto/…), if any.
    pub tuple: Option<SockTuple<'a>>,
}

/// Counters of reads and writes the kernel aggregated on one (thread, fd) — live only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoCounters {
    /// The fd.
    pub fd: i64,
    /// Read calls.
    pub read_ops: u64,
    /// Bytes read (successful calls).
    pub read_bytes: u64,
    /// Write calls.
    pub write_ops: u64,
    /// Bytes written.
    pub write_bytes: u64,
    /// Time of the first counted call.
    pub first_ts: u64,
    /// The process the counters belong to, when the source knows it (live: always). A
    /// thread's counters can arrive after its exit (another thread shipped them, closing
    /// the fd); they are then charged to a live thread of this process.
    pub pid: Option<i64>,
}

/// Which file-system operation a [`FileOpEvent`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileOp {
    /// mkdir, mkdirat.
    Mkdir,
    /// rmdir.
    Rmdir,
    /// unlink, unlinkat (also `unlinkat(AT_REMOVEDIR)`).
    Unlink,
    /// link, linkat.
    Link,
    /// symlink, symlinkat.
    Symlink,
    /// rename, renameat, renameat2.
    Rename,
}

/// A file-system operation on paths.
#[derive(Clone, Copy, Debug)]
pub struct FileOpEvent<'a> {
    /// The operation.
    pub op: FileOp,
    /// Result.
    pub res: i64,
    /// The `*at` variant was used (dirfds are meaningful).
    pub at: bool,
    /// Directory fd for `path1` (`*at` variants).
    pub dirfd1: Option<i64>,
    /// First path: the created/removed path, the link/rename source, the symlink target.
    pub path1: Option<&'a [u8]>,
    /// Directory fd for `path2`.
    pub dirfd2: Option<i64>,
    /// Second path: link/rename destination, symlink path.
    pub path2: Option<&'a [u8]>,
}

/// Everything the sources report.
#[derive(Clone, Copy, Debug)]
pub enum EventKind<'a> {
    /// clone/fork/vfork/clone3 exit (either side).
    Clone(CloneEvent<'a>),
    /// execve/execveat exit.
    Execve(ExecveEvent<'a>),
    /// An execveat exit from a source that knows the executable only by the call's
    /// arguments (captures whose exit event has no `trusted_exepath`): the state resolves
    /// `at` against the caller's fds and working directory, as the kernel did.
    ExecveAt {
        /// The exit (its `exepath` and `filename` unset).
        exec: ExecveEvent<'a>,
        /// The call's target.
        at: ExecAt<'a>,
    },
    /// The thread (its whole process when `threadgroup`) moved to another cgroup without
    /// an exec (live source: the kernel's `cgroup_attach_task`).
    CgroupMove {
        /// All its cgroups after the move: NUL-separated `subsys=path` entries.
        cgroups: &'a [u8],
        /// The whole thread group moved.
        threadgroup: bool,
    },
    /// A thread exited (its last event).
    Exit {
        /// Exit status as the kernel reports it.
        status: i64,
        /// The thread the kernel chose to re-parent the exiting thread's children to.
        reaper: Option<i64>,
    },
    /// set*uid/set*gid exit, with the requested ids when known.
    SetIds {
        /// Result.
        res: i64,
        /// The requested change, if the source saw the arguments.
        change: Option<IdChange>,
    },
    /// open/openat/openat2/creat exit.
    Open(OpenEvent<'a>),
    /// A read or write family call.
    Io(IoEvent<'a>),
    /// Read/write counters aggregated in the kernel (live source).
    IoCounters(IoCounters),
    /// close exit.
    Close {
        /// The fd.
        fd: Option<i64>,
        /// Result.
        res: i64,
    },
    /// shutdown exit.
    Shutdown {
        /// The fd.
        fd: Option<i64>,
        /// Result.
        res: i64,
    },
    /// mmap/mmap2 (reported at the call).
    Mmap {
        /// The fd the source attributed to the call (the enter's fd), if any.
        fd: Option<i64>,
        /// The `fd` argument.
        fd_arg: i64,
        /// mmap flags (`PPM_MAP_*`).
        flags: u32,
    },
    /// setns exit.
    Setns {
        /// The namespace fd.
        fd: Option<i64>,
        /// Result.
        res: i64,
    },
    /// socket exit.
    Socket {
        /// The new fd or negative errno.
        fd: i64,
        /// Address family (`AF_*`).
        domain: u32,
        /// Socket type (`SOCK_*`, with flags).
        sock_type: u32,
        /// Protocol.
        proto: u32,
    },
    /// socketpair exit.
    Socketpair {
        /// Result.
        res: i64,
        /// First fd.
        fd1: i64,
        /// Second fd.
        fd2: i64,
        /// Kernel pointer of the first end.
        source: u64,
        /// Kernel pointer of the peer.
        peer: u64,
    },
    /// bind exit.
    Bind {
        /// The fd.
        fd: Option<i64>,
        /// Result.
        res: i64,
        /// The address bound, as the call asked for it.
        addr: Option<SockAddr<'a>>,
        /// The IPv4 address the kernel bound, when the source read it from the socket
        /// (live): the port the kernel chose for a bind to port 0.
        bound_v4: Option<([u8; 4], u16)>,
    },
    /// connect, at the call (before it completes): the destination being connected to.
    ConnectEnter {
        /// The fd.
        fd: i64,
        /// The address, if the source recorded it.
        addr: Option<SockAddr<'a>>,
    },
    /// connect exit.
    Connect {
        /// The fd, as known from the call (`None`: the call was not seen).
        fd: Option<i64>,
        /// The fd as reported with the result (used when the call was not seen).
        exit_fd: Option<i64>,
        /// Result.
        res: i64,
        /// Endpoints after the call (local, remote).
        tuple: Option<SockTuple<'a>>,
        /// The endpoints were read from the socket after the call (live capture): they
        /// are the kernel's and replace the fd's, destination included. A capture's
        /// exit tuple only fills a destination its enter did not give.
        tuple_from_socket: bool,
    },
    /// accept/accept4 exit.
    Accept {
        /// The new fd or negative errno.
        fd: i64,
        /// Endpoints (remote peer, local).
        tuple: Option<SockTuple<'a>>,
    },
    /// pipe/pipe2 exit.
    Pipe {
        /// Result.
        res: i64,
        /// Read end.
        fd1: i64,
        /// Write end.
        fd2: i64,
        /// Inode of the pipe.
        ino: u64,
    },
    /// What an fd is now, as the kernel has it (live source only; no syscall). Shipped at
    /// the first read or write on an fd number that no record named since its last close
    /// (an fd inherited at a fork or from the collector, made before the capture, made by
    /// a call the probe does not model, or whose creation record was lost), for each fd
    /// received with `SCM_RIGHTS`, and for each fd of a process the collector started:
    /// such a process may be gone before `/proc` can be read.
    FdSeen {
        /// The fd.
        fd: i64,
        /// The inode's type and permission bits (`i_mode`).
        mode: u32,
        /// The inode number.
        ino: u64,
        /// The open file's kernel flags (`f_flags`: `O_*`).
        flags: u32,
        /// The path walked in the kernel, for regular files, directories and devices.
        path: Option<&'a [u8]>,
        /// A socket's endpoints (local, remote).
        tuple: Option<SockTuple<'a>>,
        /// A socket's type (`SOCK_STREAM`, `SOCK_DGRAM`, ...); 0 otherwise.
        sock_type: u32,
        /// A stream socket the kernel made by accepting a connection (it keeps its
        /// listener's backlog, `sk_max_ack_backlog`; a connecting socket's is 0): the
        /// server's end of its connection.
        accepted: bool,
    },
    /// dup/dup2/dup3/fcntl(F_DUPFD*) exit.
    Dup {
        /// The new fd (or negative errno).
        res: i64,
        /// The duplicated fd.
        oldfd: Option<i64>,
        /// The new fd's file, named by the kernel, when it is a file of a mounted file
        /// system (live source): so a dup of an fd the capture never saw made (one
        /// inherited from a process that is not captured) still names its file.
        kernel_path: Option<&'a [u8]>,
    },
    /// chdir exit.
    Chdir {
        /// Result.
        res: i64,
        /// The path passed.
        path: Option<&'a [u8]>,
    },
    /// fchdir exit.
    Fchdir {
        /// The fd.
        fd: Option<i64>,
        /// Result.
        res: i64,
    },
    /// close_range exit (live source).
    CloseRange {
        /// First fd.
        first: u32,
        /// Last fd.
        last: u32,
        /// Flags.
        flags: u32,
        /// Result.
        res: i64,
    },
    /// mkdir/rmdir/unlink/link/symlink/rename exits.
    FileOp(FileOpEvent<'a>),
    /// A new fd that is not an opened path: eventfd, epoll_create, memfd_create,
    /// timerfd_create, signalfd, pidfd_open, pidfd_getfd, inotify_init, fanotify_init,
    /// userfaultfd, io_uring_setup, perf_event_open, memfd_secret (live source).
    NewFd {
        /// The new fd, or a negative errno.
        fd: i64,
        /// The file's dentry name as the kernel has it (`[eventfd]`, `memfd:name`, …).
        name: &'a [u8],
        /// The file's type and mode bits (`st_mode`), 0 if unknown.
        mode: u32,
        /// Its path, when it is a file of a mounted file system (`pidfd_getfd` of a
        /// regular file or directory).
        file_path: Option<&'a [u8]>,
    },
    /// An event the aggregator does not use; it still tells the state a thread exists.
    Other,
    /// Container metadata (JSON, as the capture's container events carry it).
    ContainerJson(&'a [u8]),
    /// A user known to the capture.
    UserAdded {
        /// Uid.
        uid: u32,
        /// Primary gid.
        gid: u32,
        /// Name.
        name: &'a [u8],
        /// Home directory.
        home: &'a [u8],
        /// Shell.
        shell: &'a [u8],
        /// Container the user belongs to (`""` for the host).
        container_id: &'a [u8],
    },
    /// A group known to the capture.
    GroupAdded {
        /// Gid.
        gid: u32,
        /// Name.
        name: &'a [u8],
        /// Container (`""` for the host).
        container_id: &'a [u8],
    },
}
