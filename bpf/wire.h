/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * sysflow probe wire format: the ONE header holding every struct the ring
 * buffer carries and every map key/value user space reads.
 *
 * Rules: fixed-width fields, explicit padding, every name prefixed sf_/SF_
 * (vmlinux.h already defines many common names), sizes pinned by
 * _Static_assert (the Rust side asserts the same sizes on the generated
 * types). Constants are enumerators, not macros: enums reach BTF and so the
 * skeleton's `types` module; macros do not.
 *
 * Included by sysflow.bpf.c after vmlinux.h (which provides __u8..__s64).
 */
#ifndef SF_WIRE_H
#define SF_WIRE_H

enum sf_limits {
	SF_COMM_LEN = 16,
	SF_NSTR = 7,		/* strings a record can carry */
	SF_STR_MAX = 4096,	/* bytes of one string (path, args, env, cgroups) */
	SF_NAME_MAX = 256,	/* one path component */
	SF_REC_OFF_MAX = 24576, /* a string starts below this record offset */
	SF_REC_MAX = 28672,	/* SF_REC_OFF_MAX + SF_STR_MAX: largest record */
	SF_IO_SLOTS = 4,	/* threads counted per (process, fd) entry */
	SF_TFD_MAX = 32,	/* fds remembered per thread for its exit */
	SF_NR_MAX = 512,	/* syscall numbers covered by the bitmap */
	SF_FDS_MAX = 4096,	/* exec: open fds reported (bits of SF_S_FDS) */
	SF_MMSG_MAX = 1024,	/* sendmmsg/recvmmsg messages walked (UIO_MAXIOV) */
	SF_DRAIN_RETIRE = 1024, /* idle counter entries one drain run retires */
};

/* sf_hdr.kind: which body follows the header */
enum sf_kind {
	SF_K_SYS = 1,	  /* struct sf_sys; meaning by sf_hdr.nr */
	SF_K_NET = 2,	  /* struct sf_net; meaning by sf_hdr.nr */
	SF_K_CLONE = 3,	  /* struct sf_proc: clone-family exit, either side */
	SF_K_EXEC = 4,	  /* struct sf_proc: successful execve/execveat */
	SF_K_EXIT = 5,	  /* struct sf_exit: a thread exited (its last record) */
	SF_K_IOCOUNT = 6, /* struct sf_iocount: read/write counters of (hdr.tid, fd) */
	SF_K_TASK = 7,	  /* iter/task: a task; ts = its start, string SF_S_CGROUPS */
	SF_K_SELF = 8,	  /* iter/task, first record: tid/tgid of the reader (the collector) */
	SF_K_CGROUP = 9,  /* struct sf_cgmove: a task moved to another cgroup; string SF_S_CGROUPS */
};

/* sf_hdr.flags */
enum sf_hdr_flags {
	SF_HF_TRUNC = 0x1, /* a string was cut at its limit */
	SF_HF_FAULT = 0x2, /* a user or kernel memory read failed */
	SF_HF_COMPAT = 0x4, /* a 32-bit (ia32) syscall, translated to the x86-64 nr and layout */
	SF_HF_URING = 0x8,  /* an io_uring operation (nr: the syscall it is equivalent to) */
	SF_HF_LATE = 0x10,  /* IOCOUNT: counted after its fd's entry was shipped for good */
	SF_HF_COUNTS = 0x20, /* close: str 0 is a struct sf_iocount, the closing thread's
			      * counters of the fd (as an SF_K_IOCOUNT record would carry them) */
};

/* string slots of SF_K_CLONE / SF_K_EXEC records (sf_hdr.slen index) */
enum sf_proc_str {
	SF_S_EXE = 0,	   /* argv[0] */
	SF_S_ARGS = 1,	   /* argv[1..], NUL-separated */
	SF_S_CGROUPS = 2,  /* "subsys=path" entries then "unified=path", NUL-separated */
	SF_S_ENV = 3,	   /* exec (and a CLONE_PARENT child): environment, NUL-separated */
	SF_S_EXEPATH = 4,  /* exec, and the child side of a CLONE_PARENT process clone:
			    * full path of the executable file (an unlinked one's with
			    * " (deleted)" after it, which may take it 10 bytes past SF_STR_MAX) */
	SF_S_FILENAME = 5, /* exec: the filename passed to execve */
	SF_S_CWD = 5,	   /* the child side of a CLONE_PARENT process clone: its working
			    * directory (the slot exec records use for SF_S_FILENAME) */
	SF_S_FDS = 6,	   /* exec: bitmap of the fds open after the exec (bit n = fd n) */
};

/* x86-64 syscall numbers the probe knows (sf_hdr.nr) */
enum sf_nr {
	SF_NR_READ = 0,
	SF_NR_WRITE = 1,
	SF_NR_OPEN = 2,
	SF_NR_CLOSE = 3,
	SF_NR_MMAP = 9,
	SF_NR_PREAD64 = 17,
	SF_NR_PWRITE64 = 18,
	SF_NR_READV = 19,
	SF_NR_WRITEV = 20,
	SF_NR_PIPE = 22,
	SF_NR_DUP = 32,
	SF_NR_DUP2 = 33,
	SF_NR_SENDFILE = 40,
	SF_NR_SOCKET = 41,
	SF_NR_CONNECT = 42,
	SF_NR_ACCEPT = 43,
	SF_NR_SENDTO = 44,
	SF_NR_RECVFROM = 45,
	SF_NR_SENDMSG = 46,
	SF_NR_RECVMSG = 47,
	SF_NR_SHUTDOWN = 48,
	SF_NR_BIND = 49,
	SF_NR_LISTEN = 50,
	SF_NR_SOCKETPAIR = 53,
	SF_NR_CLONE = 56,
	SF_NR_FORK = 57,
	SF_NR_VFORK = 58,
	SF_NR_EXECVE = 59,
	SF_NR_FCNTL = 72,
	SF_NR_CHDIR = 80,
	SF_NR_FCHDIR = 81,
	SF_NR_RENAME = 82,
	SF_NR_MKDIR = 83,
	SF_NR_RMDIR = 84,
	SF_NR_CREAT = 85,
	SF_NR_LINK = 86,
	SF_NR_UNLINK = 87,
	SF_NR_SYMLINK = 88,
	SF_NR_SETUID = 105,
	SF_NR_SETGID = 106,
	SF_NR_SETREUID = 113,
	SF_NR_SETREGID = 114,
	SF_NR_SETRESUID = 117,
	SF_NR_SETRESGID = 119,
	SF_NR_EPOLL_CREATE = 213,
	SF_NR_INOTIFY_INIT = 253,
	SF_NR_OPENAT = 257,
	SF_NR_MKDIRAT = 258,
	SF_NR_UNLINKAT = 263,
	SF_NR_RENAMEAT = 264,
	SF_NR_LINKAT = 265,
	SF_NR_SYMLINKAT = 266,
	SF_NR_SPLICE = 275,
	SF_NR_TEE = 276,
	SF_NR_VMSPLICE = 278,
	SF_NR_SIGNALFD = 282,
	SF_NR_TIMERFD_CREATE = 283,
	SF_NR_EVENTFD = 284,
	SF_NR_ACCEPT4 = 288,
	SF_NR_SIGNALFD4 = 289,
	SF_NR_EVENTFD2 = 290,
	SF_NR_EPOLL_CREATE1 = 291,
	SF_NR_DUP3 = 292,
	SF_NR_PIPE2 = 293,
	SF_NR_INOTIFY_INIT1 = 294,
	SF_NR_PREADV = 295,
	SF_NR_PWRITEV = 296,
	SF_NR_PERF_EVENT_OPEN = 298,
	SF_NR_RECVMMSG = 299,
	SF_NR_FANOTIFY_INIT = 300,
	SF_NR_OPEN_BY_HANDLE_AT = 304,
	SF_NR_SENDMMSG = 307,
	SF_NR_SETNS = 308,
	SF_NR_RENAMEAT2 = 316,
	SF_NR_MEMFD_CREATE = 319,
	SF_NR_USERFAULTFD = 323,
	SF_NR_COPY_FILE_RANGE = 326,
	SF_NR_EXECVEAT = 322,
	SF_NR_PREADV2 = 327,
	SF_NR_PWRITEV2 = 328,
	SF_NR_IO_URING_SETUP = 425,
	SF_NR_PIDFD_OPEN = 434,
	SF_NR_CLONE3 = 435,
	SF_NR_CLOSE_RANGE = 436,
	SF_NR_OPENAT2 = 437,
	SF_NR_PIDFD_GETFD = 438,
	SF_NR_MEMFD_SECRET = 447,
	SF_NR_FD_SEEN = 510, /* not a syscall: what an fd is, from the kernel (below) */
	SF_NR_NONE = 511, /* ia32 translation table: no x86-64 equivalent */
};

/* Every record starts with this. */
struct sf_hdr {
	__u64 ts;	     /* CLOCK_BOOTTIME ns (clone: the child's start_boottime) */
	__u32 tid;	     /* thread (init pid namespace) */
	__u32 tgid;	     /* process */
	__u32 size;	     /* whole record, header included */
	__u16 kind;	     /* enum sf_kind */
	__u16 nr;	     /* enum sf_nr for SF_K_SYS / SF_K_NET, else 0 */
	__u16 slen[SF_NSTR]; /* byte lengths of the strings after the body, in order */
	__u16 flags;	     /* enum sf_hdr_flags */
};

/*
 * SF_K_SYS: a syscall exit. arg[] are the six syscall arguments as passed;
 * aux[] are values the probe resolved:
 *   open/openat/openat2/creat/open_by_handle_at: aux[0] = 1 if the call created
 *       the file, aux[1] = openat2's how->flags; str 0 = path as passed (none for
 *       open_by_handle_at; left out of a successful open whose str 1 is more than "/"
 *       unless sf_open_user_path is set), str 1 = the opened file's path, walked in the
 *       kernel from its own dentry and mount (what was really opened)
 *   eventfd*, epoll_create*, memfd_create, timerfd_create, signalfd*, pidfd_open,
 *   pidfd_getfd, inotify_init*, fanotify_init, userfaultfd, io_uring_setup,
 *   perf_event_open, memfd_secret: res = the new fd; aux[2] = its inode's i_mode;
 *       str 0 = its dentry's name ("[eventfd]", "memfd:x", ...), str 1 = its path
 *       when it is a file of a mounted file system (pidfd_getfd of a file)
 *   dup/dup2/dup3/fcntl(F_DUPFD*): aux[2] = the new fd's i_mode; str 1 = its file's
 *       path walked in the kernel, for regular files and devices
 *   pipe/pipe2: aux[0], aux[1] = the two fds, aux[2] = pipe inode
 *   socketpair: aux[0], aux[1] = fds, aux[2] = this end's sock, aux[3] = peer
 *   close: with SF_HF_COUNTS, str 0 = a struct sf_iocount: the closing thread's read/
 *       write counters of the fd, shipped with its close (the other threads' come as
 *       SF_K_IOCOUNT records before it)
 *   chdir/fchdir: str 0 = working directory after the call (absolute) or,
 *       on failure, the path passed (chdir)
 *   mkdir..renameat2: str 0 = first path, str 1 = second path
 *   execve/execveat (failure only): str 0 = filename
 *   SF_NR_FD_SEEN (no syscall): each open fd of a process the collector started, right
 *       after its clone record (the child inherited them from the collector, which is
 *       not captured), and the first read or write a descendant of the collector makes
 *       on an fd: res = the fd, aux[0] = its inode number, aux[1] = the file's
 *       f_flags, aux[2] = its inode's i_mode; str 1 = its path walked in the kernel,
 *       for regular files, directories and devices. Sockets come as SF_K_NET.
 */
struct sf_sys {
	__s64 res;
	__u64 arg[6];
	__u64 aux[4];
};

/* Socket endpoints. IP addresses in network order; ports in host order. */
struct sf_tuple {
	__u8 saddr[16]; /* IPv4: first 4 bytes */
	__u8 daddr[16];
	__u64 sk;     /* unix: this end's kernel socket */
	__u64 peer;   /* unix: the peer's kernel socket */
	__u16 family; /* AF_INET, AF_INET6, AF_UNIX; 0 = none */
	__u16 sport;
	__u16 dport;
	__u16 pad;
};

/*
 * SF_K_NET: a socket call with endpoints.
 *   connect: t = (local, remote), str 1 = the sockaddr_in (16 bytes) or the first 24
 *   bytes of the sockaddr_in6 asked for (as passed; IP sockets only); accept/accept4:
 *   fd = new fd (res),
 *   t = (remote, local); recvfrom/recvmsg of a datagram with its sender:
 *   t = (sender, local); sendto/sendmsg of a datagram with an address:
 *   t = (local, destination); bind: t.saddr/t.sport = the address asked for,
 *   t.daddr/t.dport = the IPv4 address the kernel bound (its choice for port 0).
 *   SF_NR_FD_SEEN (see SF_K_SYS): fd = the socket, t = (local, remote) as the
 *   kernel has them now, res = 1 for a stream socket made by accept (its backlog is
 *   its listener's), else 0. Unix sockets: str 0 = path.
 */
struct sf_net {
	__s64 res;
	__s64 fd;
	struct sf_tuple t;
	__u32 sock_type; /* SOCK_STREAM, SOCK_DGRAM, ... (0: unknown) */
	__u32 pad;
};

/* SF_K_CLONE / SF_K_EXEC: the task the record describes (strings: enum sf_proc_str). */
struct sf_proc {
	__s64 res;
	__u64 clone_flags; /* kernel CLONE_* flags of the call (clone) */
	__u64 start_ts;	   /* CLOCK_BOOTTIME ns the described task started */
	__u32 tid;
	__u32 pid;
	__u32 ptid; /* real parent's thread id */
	__u32 vtid; /* ids in the task's own pid namespace */
	__u32 vpid;
	__u32 uid; /* effective */
	__u32 gid;
	__u32 loginuid;
	__u32 tty;	   /* encoded as /proc/<pid>/stat's tty_nr */
	__u32 pidns_level; /* 0: the initial pid namespace */
	__u32 old_tid;	   /* exec: the thread id before the exec (non-leader exec); the child
			    * side of a CLONE_PARENT process clone: the tid of the thread that
			    * cloned it (0: unknown) */
	__u32 children_ns_other; /* clone: the caller's children get another pid namespace
				    than its own (after unshare(CLONE_NEWPID) or setns) */
	__u8 comm[SF_COMM_LEN];
};

/* SF_K_CGROUP: hdr.tid/tgid moved (its whole thread group when threadgroup); the string
 * SF_S_CGROUPS holds all its cgroups after the move. in_exec: the task was inside an
 * execve (task->in_execve) when it moved, so its exec record, which comes later, may
 * describe the image it already is */
struct sf_cgmove {
	__u32 threadgroup;
	__u32 in_exec;
};

/* SF_K_EXIT */
struct sf_exit {
	__s64 status; /* task->exit_code */
	__u32 group_dead;
	__u32 pad;
};

/* SF_K_IOCOUNT: counters of thread sf_hdr.tid on fd */
struct sf_iocount {
	__s64 fd;
	__u64 first_ts; /* CLOCK_BOOTTIME ns of the first counted call */
	__u64 read_ops;
	__u64 read_bytes;
	__u64 write_ops;
	__u64 write_bytes;
};

/* ---- maps user space reads ---- */

/* sf_io: key (process, fd) -> counters of up to SF_IO_SLOTS threads */
struct sf_io_key {
	__u32 tgid;
	__s32 fd;
};

struct sf_io_slot {
	__u32 tid; /* 0: free */
	__u32 pad;
	__u64 first_ts;
	__u64 read_ops;
	__u64 read_bytes;
	__u64 write_ops;
	__u64 write_bytes;
};

struct sf_io_val {
	struct sf_io_slot slot[SF_IO_SLOTS];
	__u64 dead; /* enum sf_io_state: nonzero once closed or retired (see sf_count) */
};

/* sf_io_val.dead */
enum sf_io_state {
	SF_IO_LIVE = 0,	   /* counting */
	SF_IO_RETIRING = 1, /* being shipped for good; its setter deletes the entry */
	SF_IO_CLOSED = 2,   /* the fd was closed and shipped; kept for the fd number's next file */
};

/* sf_thread_fds: tid -> fds it has counters on (for its exit) */
struct sf_tfds {
	__u32 n;
	__u32 overflow; /* more fds than SF_TFD_MAX: exit scans the whole map */
	__s32 fd[SF_TFD_MAX];
};

/* sf_stats: per-CPU counters */
struct sf_stats {
	__u64 events;	    /* records submitted to the ring */
	__u64 ring_drops;   /* records lost: ring full */
	__u64 io_overflow;  /* counted calls shipped one by one (slots or map full) */
	__u64 sampled_out;  /* syscall events skipped by samplingRatio */
	__u64 sample_clock; /* sampling position (not a statistic) */
	__u64 late_counts;  /* counters shipped by a counting thread after its fd's entry was retired */
	__u64 uring_other;  /* io_uring completions of operations not turned into records */
	__u64 mmsg_trunc;   /* sendmmsg/recvmmsg calls with more than SF_MMSG_MAX messages */
	__u64 scm_unnamed;  /* fds received with SCM_RIGHTS past what the probe names per call */
	__u64 wake_clock;   /* bytes submitted since the last ring fill check (not a statistic) */
};

_Static_assert(sizeof(struct sf_hdr) == 40, "sf_hdr layout");
_Static_assert(sizeof(struct sf_sys) == 88, "sf_sys layout");
_Static_assert(sizeof(struct sf_tuple) == 56, "sf_tuple layout");
_Static_assert(sizeof(struct sf_net) == 80, "sf_net layout");
_Static_assert(sizeof(struct sf_proc) == 88, "sf_proc layout");
_Static_assert(sizeof(struct sf_exit) == 16, "sf_exit layout");
_Static_assert(sizeof(struct sf_cgmove) == 8, "sf_cgmove layout");
_Static_assert(sizeof(struct sf_iocount) == 48, "sf_iocount layout");
_Static_assert(sizeof(struct sf_io_key) == 8, "sf_io_key layout");
_Static_assert(sizeof(struct sf_io_slot) == 48, "sf_io_slot layout");
_Static_assert(sizeof(struct sf_io_val) == 48 * SF_IO_SLOTS + 8, "sf_io_val layout");
_Static_assert(sizeof(struct sf_tfds) == 8 + 4 * SF_TFD_MAX, "sf_tfds layout");
_Static_assert(sizeof(struct sf_stats) == 80, "sf_stats layout");

/*
 * Types only used through casts of ring-buffer memory, and enums never used
 * as a declared type, do not reach BTF. This union, instantiated once in
 * sysflow.bpf.c, anchors them all so libbpf-cargo emits them in `types`.
 */
union sf_btf_anchor {
	struct sf_hdr hdr;
	struct sf_sys sys;
	struct sf_net net;
	struct sf_proc proc;
	struct sf_exit exit;
	struct sf_cgmove cgmove;
	struct sf_iocount iocount;
	struct sf_io_key io_key;
	struct sf_io_val io_val;
	struct sf_tfds tfds;
	struct sf_stats stats;
	enum sf_limits limits;
	enum sf_kind kind;
	enum sf_hdr_flags hdr_flags;
	enum sf_proc_str proc_str;
	enum sf_nr nr;
};

#endif /* SF_WIRE_H */
