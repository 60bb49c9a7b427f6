// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sysflow live probe (CO-RE): turns syscall exits and process lifecycle
 * tracepoints into the records of wire.h.
 *
 * Attach points (all tp_btf; fentry/kprobes/classic tracepoints are not
 * available on our machines): sys_exit, sched_process_fork, _exec, _exit,
 * cgroup_attach_task;
 * plus an iter/task program for the snapshot (exact task start times and
 * cgroups, read in the kernel) and the collector's own identity.
 *
 * Hot path: sys_exit checks our own process, the syscall bitmap and (for
 * sampleable syscalls) the sampling ratio before anything else. Reads and
 * writes are counted in the sf_io hash map, never shipped one by one; their
 * counters are shipped as SF_K_IOCOUNT records on close (the closing thread's
 * inside the close record), dup2-over, exec, thread exit, and drained by user space
 * on demand.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

#include "wire.h"

char LICENSE[] SEC("license") = "GPL";

#define SF_AF_UNIX 1
#define SF_AF_INET 2
#define SF_AF_INET6 10
#define SF_SOCK_STREAM 1
#define SF_SOCK_DGRAM 2
#define SF_AT_FDCWD -100
#define SF_TS_COMPAT 0x0002
#define SF_FMODE_CREATED 0x100000
#define SF_S_IFMT 0170000
#define SF_S_IFSOCK 0140000
#define SF_MAP_ANONYMOUS 0x20
#define SF_F_DUPFD 0
#define SF_F_DUPFD_CLOEXEC 1030
#define SF_CLOSE_RANGE_CLOEXEC 4
#define SF_CLONE_VM 0x100
#define SF_CLONE_VFORK 0x4000
#define SF_CLONE_PARENT 0x8000
#define SF_PF_KTHREAD 0x00200000 /* task_struct.flags: a kernel thread */
#define SF_CLONE_THREAD 0x10000
#define SF_SIGCHLD 17
#define SF_EBADF 9
#define SF_EINPROGRESS 115
#define SF_MSG_FASTOPEN 0x20000000
#define SF_FMODE_WRITE 0x2
#define SF_S_IFREG 0100000
#define SF_S_IFDIR 0040000
#define SF_S_IFCHR 0020000
#define SF_S_IFBLK 0060000
#define SF_IA32_SOCKETCALL 102

#define SF_OFF_MASK 32767			/* > SF_REC_MAX: masking keeps valid offsets */
#define SF_SCRATCH (SF_OFF_MASK + 1 + SF_STR_MAX) /* any masked write of <= SF_STR_MAX fits */
#define SF_DELETED " (deleted)"			/* d_path's mark of an unlinked file */
#define SF_WALK_MAX 2048			/* path components: PATH_MAX / 2 ("/a" each) */
#define SF_CG_MAX 16				/* cgroup subsystems */
#define SF_CLOSE_RANGE_MAX 65536

/* ---- knobs: const volatile (.rodata), set by user space before load ---- */
const volatile __u32 sf_sampling = 1;			 /* keep 1 in N sampleable syscalls */
const volatile __u8 sf_drop_mode = 0;			 /* drop failed close/bind */
/* ship every open's path as passed, not only where the kernel's path says less (a
 * filter on the event's arguments needs it; reading it is a user-memory string read
 * per open) */
const volatile __u8 sf_open_user_path = 1;
const volatile __u64 sf_wake_bytes = 0;			 /* force a wake-up past this fill */
/* ... checked once per this many bytes a CPU submits (0: every record) */
const volatile __u64 sf_wake_check_bytes = 0;
const volatile __u8 sf_direct = 0; /* bpf_rdonly_cast exists (kernel >= 6.2): see SF_DIRECT */
const volatile __u64 sf_sys_bitmap[SF_NR_MAX / 64] = {};	 /* syscalls captured */
const volatile __u64 sf_sample_bitmap[SF_NR_MAX / 64] = {}; /* ... that may be sampled out */
/* 32-bit (ia32) syscalls: which raw numbers to look at, and each one's x86-64 number
 * (SF_NR_NONE: none); both filled by user space from one table */
const volatile __u64 sf_sys_bitmap32[SF_NR_MAX / 64] = {};
const volatile __u16 sf_ia32_nr[SF_NR_MAX] = {};

/*
 * The collector's own process (host tgid): never captured. In .bss, not
 * .rodata: user space learns it from the task iterator after load (the
 * iterator runs as the collector, so bpf_get_current_pid_tgid() there is the
 * collector's identity in the initial pid namespace, whatever pid namespace
 * the collector runs in) and sets it before attaching anything else.
 */
volatile __u32 sf_self_tgid = 0;

/*
 * A kernel pointer held as a plain value (a map value, a global function's argument),
 * made loadable: fields read through it are plain loads that the JIT guards (a bad
 * address reads as 0) instead of one bpf_probe_read_kernel() call per field, which cost
 * ~30 ns each on the hot paths (path walks, fd lookups). Pointers loaded through it are
 * loadable the same way.
 */
extern void *bpf_rdonly_cast(const void *obj__ign, __u32 btf_id) __ksym __weak;
#define SF_K(type, p) ((type *)bpf_rdonly_cast((const void *)(__u64)(p), bpf_core_type_id_kernel(type)))
/*
 * Whether the kernel has bpf_rdonly_cast (6.2 and later; user space sets sf_direct from
 * the kernel release). A load-time constant: the verifier never walks the branch not
 * taken, so kernels 5.17-6.1 load the bpf_probe_read_kernel versions and never meet the
 * kfunc call (which libbpf leaves unresolved there: the symbol is weak). Use SF_K only
 * under `if (SF_DIRECT)`.
 */
#define SF_DIRECT (sf_direct != 0)

/* every wire type reaches BTF through this (see wire.h) */
union sf_btf_anchor sf_btf_anchor __attribute__((unused));

/* zero values for BPF_NOEXIST inserts */
static const struct sf_io_val sf_io_zero = {};
static const struct sf_io_val sf_io_closed = { .dead = SF_IO_CLOSED };
static const struct sf_tfds sf_tfds_zero = {};

/* ---- maps ---- */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* resized by user space before load */
} sf_rb SEC(".maps");

/*
 * Not preallocated: the map's memory follows the fds counted on. A deleted element's
 * memory stays mapped while a program holds it (RCU), but the allocator may hand it to the
 * next insert on the deleting CPU at once: a count that found the entry just before its
 * deletion and adds after such an insert is lost (or lands in the new entry). The window is a few instructions of the
 * counting thread (the counting protocol below); no insert follows a delete in the same
 * program (see sf_fd_made).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sf_io_key);
	__type(value, struct sf_io_val);
} sf_io SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__type(key, __u32);
	__type(value, struct sf_tfds);
} sf_thread_fds SEC(".maps");

/* parent tid -> start_boottime of the child its clone just created */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} sf_fork_start SEC(".maps");

/* child tid -> tid of the thread that cloned it, for a new process whose kernel parent is
 * not its caller (CLONE_PARENT): the child's clone record names whose fd table it copied */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} sf_fork_caller SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sf_stats);
} sf_stats_map SEC(".maps");

struct sf_scratch {
	__u8 buf[SF_SCRATCH];
};

/* one record under construction per CPU; a plain array indexed by CPU since
 * per-CPU map values are limited to 32 KiB (user space sizes it to the
 * possible CPUs) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct sf_scratch);
} sf_scratch_map SEC(".maps");

/*
 * State of a path walk. It lives in a map value, not on the stack, on
 * purpose: the verifier does not track map contents, so every bpf_loop
 * iteration looks the same to it and the callback verifies in one pass
 * (stack-held counters made each iteration a new state: "program too large").
 */
struct sf_walk {
	__u64 name[SF_WALK_MAX]; /* component name pointers, leaf first */
	__u64 node;		 /* dentry or kernfs_node being walked */
	__u64 mnt;		 /* struct mount of the dentry */
	__u64 root_d;		 /* the task's root: the walk stops there */
	__u64 root_mnt;
	__u32 n;     /* names collected */
	__u32 off;   /* emit: where the next '/' goes */
	__u32 limit; /* emit: the last offset the path's NUL may take */
	__u32 trunc;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sf_walk);
} sf_walk_map SEC(".maps");

/* kernfs_node.parent before it became __parent (6.15) */
struct kernfs_node___old {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

/* ------------------------------------------------------------------------ */
/* small helpers */

static __always_inline struct sf_stats *sf_st(void)
{
	__u32 z = 0;
	return bpf_map_lookup_elem(&sf_stats_map, &z);
}

static __always_inline bool sf_bit(const volatile __u64 *map, __u64 nr)
{
	/* keep nr 64-bit: see bpfproto NOTES (verifier bound on .rodata index) */
	if (nr >= SF_NR_MAX)
		return false;
	return (map[nr / 64] >> (nr % 64)) & 1;
}

/* the ring buffer's wake-up flag for a record of `size` bytes: a forced wake-up once the
 * ring holds sf_wake_bytes. The fill is checked once per sf_wake_check_bytes of this
 * CPU's records, not per record: the query reads the consumer's position, a cache line
 * user space writes, so a query per record costs a miss each. User space sets the
 * interval so that all CPUs together are at most a sixteenth of sf_wake_bytes late. */
static __always_inline __u64 sf_wake(struct sf_stats *st, __u32 size)
{
	if (!sf_wake_bytes)
		return BPF_RB_NO_WAKEUP;
	if (st && sf_wake_check_bytes) {
		st->wake_clock += size;
		if (st->wake_clock < sf_wake_check_bytes)
			return BPF_RB_NO_WAKEUP;
		st->wake_clock = 0;
	}
	if (bpf_ringbuf_query(&sf_rb, BPF_RB_AVAIL_DATA) >= sf_wake_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline void sf_hdr_init(struct sf_hdr *h, __u16 kind, __u16 nr, __u64 ts, __u32 tid,
					__u32 tgid)
{
	__builtin_memset(h, 0, sizeof(*h));
	h->ts = ts;
	h->tid = tid;
	h->tgid = tgid;
	h->kind = kind;
	h->nr = nr;
}

/* per-CPU scratch record: header at 0, body after it, strings after the body */
static __always_inline struct sf_scratch *sf_scratch(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	return bpf_map_lookup_elem(&sf_scratch_map, &cpu);
}

/* a fixed-size record reserved in the ring with its header filled in; a full ring counts
 * a drop and gives NULL */
static __always_inline void *sf_reserve(__u32 size, __u16 kind, __u64 ts, __u32 tid, __u32 tgid)
{
	struct sf_hdr *h = bpf_ringbuf_reserve(&sf_rb, size, 0);
	if (!h) {
		struct sf_stats *st = sf_st();
		if (st)
			st->ring_drops++;
		return NULL;
	}
	sf_hdr_init(h, kind, 0, ts, tid, tgid);
	h->size = size;
	return h;
}

/* submits a record from sf_reserve */
static __always_inline void sf_commit(void *rec)
{
	struct sf_stats *st = sf_st();
	bpf_ringbuf_submit(rec, sf_wake(st, ((struct sf_hdr *)rec)->size));
	if (st)
		st->events++;
}

static __always_inline bool sf_submit(__u8 *buf, __u32 size)
{
	struct sf_stats *st = sf_st();
	if (size > SF_REC_MAX)
		size = SF_REC_MAX;
	((struct sf_hdr *)buf)->size = size;
	long err = bpf_ringbuf_output(&sf_rb, buf, size, sf_wake(st, size));
	if (st) {
		if (err)
			st->ring_drops++;
		else
			st->events++;
	}
	return !err;
}

/* ---- strings appended to a scratch record ---- */

/* a record offset masked into the scratch buffer; the barrier keeps the mask, which the
 * compiler would drop where it knows the offset is small but the verifier does not */
static __always_inline __u32 sf_at(__u32 off)
{
	asm volatile("" : "+r"(off));
	return off & SF_OFF_MASK;
}

static __always_inline __u32 sf_put_ustr(__u8 *buf, __u32 off, int idx, const void *src)
{
	struct sf_hdr *h = (void *)buf;
	if (!src)
		return off;
	if (off >= SF_REC_OFF_MAX) {
		h->flags |= SF_HF_TRUNC;
		return off;
	}
	long n = bpf_probe_read_user_str(&buf[sf_at(off)], SF_STR_MAX, src);
	if (n <= 0) {
		h->flags |= SF_HF_FAULT;
		return off;
	}
	if (n >= SF_STR_MAX)
		h->flags |= SF_HF_TRUNC;
	h->slen[idx & 7] = n;
	return off + (__u32)n;
}

static __always_inline __u32 sf_put_kstr(__u8 *buf, __u32 off, int idx, const void *src)
{
	struct sf_hdr *h = (void *)buf;
	if (!src)
		return off;
	if (off >= SF_REC_OFF_MAX) {
		h->flags |= SF_HF_TRUNC;
		return off;
	}
	long n = bpf_probe_read_kernel_str(&buf[sf_at(off)], SF_STR_MAX, src);
	if (n <= 0) {
		h->flags |= SF_HF_FAULT;
		return off;
	}
	h->slen[idx & 7] = n;
	return off + (__u32)n;
}

/* string idx: len bytes at src, user memory (user) or kernel memory */
static __always_inline __u32 sf_put_bytes(__u8 *buf, __u32 off, int idx, const void *src, __u64 len,
					  bool user)
{
	struct sf_hdr *h = (void *)buf;
	if (!src || len == 0)
		return off;
	if (off >= SF_REC_OFF_MAX) {
		h->flags |= SF_HF_TRUNC;
		return off;
	}
	if (len > SF_STR_MAX) {
		len = SF_STR_MAX;
		h->flags |= SF_HF_TRUNC;
	}
	long err = user ? bpf_probe_read_user(&buf[sf_at(off)], len, src) :
			  bpf_probe_read_kernel(&buf[sf_at(off)], len, src);
	if (err) {
		h->flags |= SF_HF_FAULT;
		return off;
	}
	h->slen[idx & 7] = len;
	return off + (__u32)len;
}

static __always_inline __u32 sf_put_ubytes(__u8 *buf, __u32 off, int idx, const void *src, __u64 len)
{
	return sf_put_bytes(buf, off, idx, src, len, true);
}

/* ---- path walks: collect component names leaf-first, then emit root-first ---- */

struct sf_wctx {
	struct sf_walk *w;
	__u8 *buf;
};

static __always_inline struct sf_walk *sf_walk_state(void)
{
	__u32 z = 0;
	return bpf_map_lookup_elem(&sf_walk_map, &z);
}

static long sf_emit_step(__u64 i, void *ctx)
{
	struct sf_wctx *c = ctx;
	struct sf_walk *w = c->w;
	__u8 *buf = c->buf;
	__u32 n = w->n;
	if (i >= n || n > SF_WALK_MAX)
		return 1;
	__u32 idx = n - 1 - (__u32)i;
	const void *name = (const void *)w->name[idx & (SF_WALK_MAX - 1)];
	__u32 o = w->off;
	if (o + 2 > w->limit || o >= SF_REC_MAX) {
		w->trunc = 1;
		return 1;
	}
	/* room for the name and its NUL, up to the limit */
	__u32 room = w->limit - o;
	if (room > SF_NAME_MAX)
		room = SF_NAME_MAX;
	buf[o & SF_OFF_MASK] = '/';
	long r = bpf_probe_read_kernel_str(&buf[(o + 1) & SF_OFF_MASK], room, name);
	if (r >= room && room < SF_NAME_MAX)
		w->trunc = 1; /* the name may have been cut at the limit */
	if (r <= 0) {
		buf[(o + 1) & SF_OFF_MASK] = 0;
		w->off = o + 1;
		w->trunc = 1;
		return 1;
	}
	w->off = o + (__u32)r; /* on the NUL, which the next '/' overwrites */
	return 0;
}

/* writes "/c1/c2/...\0" from w->name (w->n names, leaf first) at off; returns the NUL's offset */
static __always_inline __u32 sf_emit_path(__u8 *buf, struct sf_walk *w, __u32 off, __u32 limit)
{
	if (off >= SF_REC_MAX) {
		w->trunc = 1;
		return off;
	}
	if (w->n == 0) {
		buf[off & SF_OFF_MASK] = '/';
		buf[(off + 1) & SF_OFF_MASK] = 0;
		return off + 1;
	}
	w->off = off;
	w->limit = limit;
	struct sf_wctx c = { .w = w, .buf = buf };
	bpf_loop(SF_WALK_MAX, sf_emit_step, &c, 0);
	return w->off;
}

static __always_inline long sf_dwalk_direct(struct sf_walk *w)
{
	struct dentry *d = SF_K(struct dentry, w->node);
	struct mount *mnt = SF_K(struct mount, w->mnt);
	__u64 vmnt = w->mnt + bpf_core_field_offset(struct mount, mnt);

	if (w->node == w->root_d && vmnt == w->root_mnt)
		return 1; /* the task's root (chroot / container root) */
	if (w->node == (__u64)mnt->mnt.mnt_root) {
		struct mount *parent = mnt->mnt_parent;
		if (!parent || (__u64)parent == w->mnt)
			return 1; /* the namespace's root */
		w->node = (__u64)mnt->mnt_mountpoint;
		w->mnt = (__u64)parent;
		return 0;
	}
	struct dentry *up = d->d_parent;
	if (!up || (__u64)up == w->node)
		return 1;
	__u32 n = w->n;
	if (n >= SF_WALK_MAX) {
		w->trunc = 1;
		return 1;
	}
	w->name[n & (SF_WALK_MAX - 1)] = (__u64)d->d_name.name;
	w->n = n + 1;
	w->node = (__u64)up;
	return 0;
}

/* the same step through bpf_probe_read_kernel (kernels before 6.2) */
static __always_inline long sf_dwalk_read(struct sf_walk *w)
{
	struct dentry *d = (void *)w->node;
	struct mount *mnt = (void *)w->mnt;
	struct vfsmount *vmnt = (void *)mnt + bpf_core_field_offset(struct mount, mnt);

	if ((__u64)d == w->root_d && (__u64)vmnt == w->root_mnt)
		return 1; /* the task's root (chroot / container root) */
	if (d == BPF_CORE_READ(vmnt, mnt_root)) {
		struct mount *parent = BPF_CORE_READ(mnt, mnt_parent);
		if (!parent || parent == mnt)
			return 1; /* the namespace's root */
		w->node = (__u64)BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = (__u64)parent;
		return 0;
	}
	struct dentry *up = BPF_CORE_READ(d, d_parent);
	if (!up || up == d)
		return 1;
	__u32 n = w->n;
	if (n >= SF_WALK_MAX) {
		w->trunc = 1;
		return 1;
	}
	w->name[n & (SF_WALK_MAX - 1)] = (__u64)BPF_CORE_READ(d, d_name.name);
	w->n = n + 1;
	w->node = (__u64)up;
	return 0;
}

static long sf_dwalk_step(__u64 i, void *ctx)
{
	struct sf_wctx *c = ctx;
	if (SF_DIRECT)
		return sf_dwalk_direct(c->w);
	return sf_dwalk_read(c->w);
}

/* d_op->d_dname of files made by alloc_file_pseudo on a file system without dentry
 * operations (memfd_create, shmem_file_setup): d_path names them "/<name> (deleted)" */
extern const void simple_dname __ksym __weak;

/*
 * d_path's name of a file that has no directory: a dentry that is its own parent without
 * being its mount's root, named by simple_dname (a memfd: "/memfd:x (deleted)", what
 * /proc/<pid>/exe and /proc/<pid>/fd show). Writes it at off; returns the NUL's offset,
 * or off when the dentry is not such a file.
 */
static __always_inline __u32 sf_pseudo_name(__u8 *buf, __u32 off, __u64 dentry, __u64 vfsmnt)
{
	struct dentry *d = (void *)dentry;
	struct vfsmount *vm = (void *)vfsmnt;
	if (!bpf_ksym_exists(&simple_dname))
		return off;
	if ((__u64)BPF_CORE_READ(d, d_parent) != dentry || (__u64)BPF_CORE_READ(vm, mnt_root) == dentry)
		return off;
	const struct dentry_operations *op = BPF_CORE_READ(d, d_op);
	if (!op || (__u64)BPF_CORE_READ(op, d_dname) != (__u64)&simple_dname)
		return off;
	buf[sf_at(off)] = '/';
	long r = bpf_probe_read_kernel_str(&buf[sf_at(off + 1)], SF_NAME_MAX,
					   BPF_CORE_READ(d, d_name.name));
	if (r <= 0)
		return off;
	__u32 end = off + (__u32)r; /* on the name's NUL */
	if (bpf_probe_read_kernel(&buf[sf_at(end)], sizeof(SF_DELETED), SF_DELETED))
		return off;
	return end + sizeof(SF_DELETED) - 1;
}

/* whether d_path adds " (deleted)": a dentry unhashed (unlinked) that is not its own parent */
static __always_inline bool sf_unlinked(__u64 dentry)
{
	struct dentry *d = (void *)dentry;
	return !BPF_CORE_READ(d, d_hash.pprev) && (__u64)BPF_CORE_READ(d, d_parent) != dentry;
}

/*
 * Appends the absolute path of (dentry, vfsmount), relative to the current
 * task's root, as string idx. The executable's path (idx SF_S_EXEPATH) is named as
 * d_path and /proc/<pid>/exe name it: " (deleted)" after an unlinked file, and a memfd
 * as "/memfd:<name> (deleted)". A global function: verified once, on its own.
 */
__noinline int sf_g_dpath(struct sf_scratch *s, __u32 off, __u32 idx, __u64 dentry, __u64 vfsmnt)
{
	struct sf_walk *w = sf_walk_state();
	if (!s || !w || !dentry || !vfsmnt || idx >= SF_NSTR)
		return off;
	__u8 *buf = s->buf;
	struct sf_hdr *h = (void *)buf;
	if (off >= SF_REC_OFF_MAX) {
		h->flags |= SF_HF_TRUNC;
		return off;
	}
	struct task_struct *task = bpf_get_current_task_btf();
	struct fs_struct *fs = task->fs;
	w->node = dentry;
	w->mnt = vfsmnt - bpf_core_field_offset(struct mount, mnt);
	w->root_d = (__u64)fs->root.dentry;
	w->root_mnt = (__u64)fs->root.mnt;
	w->n = 0;
	w->trunc = 0;
	struct sf_wctx c = { .w = w, .buf = buf };
	bpf_loop(SF_WALK_MAX * 2, sf_dwalk_step, &c, 0);
	__u32 end = off;
	if (w->n == 0)
		end = sf_pseudo_name(buf, off, dentry, vfsmnt);
	if (end == off) {
		end = sf_emit_path(buf, w, off, off + SF_STR_MAX - 1);
		/* the mark goes past the path's SF_STR_MAX when it must (a path of 4,086 to
		 * 4,095 bytes, which d_path itself cannot name, or one cut at the limit, then
		 * flagged SF_HF_TRUNC): without it such a deleted executable would pass for
		 * one on disk. The scratch buffer has room for it after any masked offset. */
		if (idx == SF_S_EXEPATH && sf_unlinked(dentry) && end < SF_REC_OFF_MAX &&
		    !bpf_probe_read_kernel(&buf[sf_at(end)], sizeof(SF_DELETED), SF_DELETED))
			end += sizeof(SF_DELETED) - 1;
	}
	if (w->trunc)
		h->flags |= SF_HF_TRUNC;
	if (end < off || end >= SF_REC_MAX)
		return off;
	h->slen[idx & 7] = end + 1 - off;
	return end + 1;
}

static __always_inline struct kernfs_node *sf_kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(struct kernfs_node, __parent))
		return BPF_CORE_READ(kn, __parent);
	return BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
}

static long sf_kwalk_step(__u64 i, void *ctx)
{
	struct sf_wctx *c = ctx;
	struct sf_walk *w = c->w;
	struct kernfs_node *kn = (void *)w->node;
	struct kernfs_node *parent = sf_kn_parent(kn);
	if (!parent)
		return 1; /* the hierarchy's root: not part of the path */
	__u32 n = w->n;
	if (n >= SF_WALK_MAX) {
		w->trunc = 1;
		return 1;
	}
	w->name[n & (SF_WALK_MAX - 1)] = (__u64)BPF_CORE_READ(kn, name);
	w->n = n + 1;
	w->node = (__u64)parent;
	return 0;
}

/*
 * writes "name=path\0" at off, path the cgroup of kernfs node kn_ptr from its
 * hierarchy's root; name is a kernel string (a subsystem's name), or
 * "unified" when name_ptr is 0. Returns the end.
 */
__noinline int sf_g_cg_entry(struct sf_scratch *s, __u32 off, __u32 limit, __u64 name_ptr, __u64 kn_ptr)
{
	struct kernfs_node *kn = (void *)kn_ptr;
	struct sf_walk *w = sf_walk_state();
	if (!s || !w || !kn)
		return off;
	__u8 *buf = s->buf;
	if (off + 40 >= limit || off >= SF_REC_OFF_MAX) {
		((struct sf_hdr *)buf)->flags |= SF_HF_TRUNC;
		return off;
	}
	long r;
	if (name_ptr) {
		r = bpf_probe_read_kernel_str(&buf[sf_at(off)], 32, (const void *)name_ptr);
		if (r <= 1)
			return off;
	} else {
		const char unified[8] = "unified";
		for (int i = 0; i < 7; i++)
			buf[(off + i) & SF_OFF_MASK] = unified[i];
		r = 8;
	}
	__u32 o = off + (__u32)r - 1;
	buf[o & SF_OFF_MASK] = '=';
	o += 1;
	w->node = (__u64)kn;
	w->n = 0;
	w->trunc = 0;
	struct sf_wctx c = { .w = w, .buf = buf };
	bpf_loop(SF_WALK_MAX, sf_kwalk_step, &c, 0);
	o = sf_emit_path(buf, w, o, limit);
	if (w->trunc)
		((struct sf_hdr *)buf)->flags |= SF_HF_TRUNC;
	return o + 1; /* keep the NUL: entries are NUL-separated */
}

/* appends "subsys=path\0" for every cgroup subsystem of the task, then
 * "unified=path\0" for the default hierarchy, as string SF_S_CGROUPS */
__noinline int sf_g_cgroups(struct sf_scratch *s, __u32 off, __u64 task_ptr)
{
	struct task_struct *task = (void *)task_ptr;
	if (!s)
		return off;
	struct sf_hdr *h = (void *)s->buf;
	if (off >= SF_REC_OFF_MAX) {
		h->flags |= SF_HF_TRUNC;
		return off;
	}
	struct css_set *cs = BPF_CORE_READ(task, cgroups);
	if (!cs)
		return off;
	__u32 count = bpf_core_enum_value(enum cgroup_subsys_id, CGROUP_SUBSYS_COUNT);
	__u32 start = off, o = off;
	__u32 limit = start + SF_STR_MAX - SF_NAME_MAX - 1;
	for (__u32 i = 0; i < SF_CG_MAX; i++) {
		if (i >= count)
			break;
		struct cgroup_subsys_state *css = NULL;
		bpf_probe_read_kernel(&css, sizeof(css),
				      (void *)cs + bpf_core_field_offset(struct css_set, subsys) + i * sizeof(void *));
		if (!css)
			continue;
		/* the v1 name, as /proc/<pid>/cgroup and the v1 mounts spell it (blkio, not io) */
		__u64 name = (__u64)BPF_CORE_READ(css, ss, legacy_name);
		__u64 kn = (__u64)BPF_CORE_READ(css, cgroup, kn);
		if (!name)
			continue;
		__u32 n = sf_g_cg_entry(s, o, limit, name, kn);
		if (n < o || n > limit)
			break;
		o = n;
	}
	/* the default (v2) hierarchy: the only one on a pure v2 host, "/" or the
	 * container's cgroup on a hybrid one */
	struct cgroup *dfl = BPF_CORE_READ(cs, dfl_cgrp);
	if (dfl) {
		__u32 n = sf_g_cg_entry(s, o, limit, 0, (__u64)BPF_CORE_READ(dfl, kn));
		if (n >= o && n <= limit)
			o = n;
	}
	if (o > start)
		h->slen[SF_S_CGROUPS] = o - start;
	return o;
}

/* ---- task description ---- */

/* `pid`'s number and namespace at `level` (its own namespace, for the pid's own level);
 * zeroes when there is none */
static __always_inline struct upid sf_upid(struct pid *pid, __u32 level)
{
	struct upid up = {};
	if (!pid || level > 32)
		return up;
	bpf_probe_read_kernel(&up, sizeof(up),
			      (void *)pid + bpf_core_field_offset(struct pid, numbers) +
				      level * bpf_core_type_size(struct upid));
	return up;
}

static __always_inline __u32 sf_ns_nr(struct pid *pid, __u32 level)
{
	return sf_upid(pid, level).nr;
}

static __always_inline void sf_fill_proc(struct task_struct *t, struct sf_proc *p)
{
	__builtin_memset(p, 0, sizeof(*p));
	p->tid = BPF_CORE_READ(t, pid);
	p->pid = BPF_CORE_READ(t, tgid);
	p->ptid = BPF_CORE_READ(t, real_parent, pid);
	struct pid *tp = BPF_CORE_READ(t, thread_pid);
	__u32 level = BPF_CORE_READ(tp, level);
	p->pidns_level = level;
	p->vtid = sf_ns_nr(tp, level);
	p->vpid = sf_ns_nr(BPF_CORE_READ(t, group_leader, thread_pid), level);
	p->uid = BPF_CORE_READ(t, cred, euid.val);
	p->gid = BPF_CORE_READ(t, cred, egid.val);
	p->loginuid = (__u32)-1;
	if (bpf_core_field_exists(t->loginuid))
		p->loginuid = BPF_CORE_READ(t, loginuid.val);
	struct tty_struct *tty = BPF_CORE_READ(t, signal, tty);
	if (tty) {
		__u32 major = BPF_CORE_READ(tty, driver, major);
		__u32 minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
		/* new_encode_dev(), as /proc/<pid>/stat's tty_nr */
		p->tty = (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
	}
	p->start_ts = BPF_CORE_READ(t, start_boottime);
	BPF_CORE_READ_STR_INTO(&p->comm, t, comm);
}

/* argv[0] and the other arguments of the current task */
__noinline int sf_g_args(struct sf_scratch *s, __u32 off, __u64 task_ptr)
{
	struct task_struct *task = (void *)task_ptr;
	if (!s)
		return off;
	__u8 *buf = s->buf;
	struct sf_hdr *h = (void *)buf;
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	if (!mm)
		return off;
	__u64 as = BPF_CORE_READ(mm, arg_start), ae = BPF_CORE_READ(mm, arg_end);
	if (ae <= as)
		return off;
	off = sf_put_ustr(buf, off, SF_S_EXE, (const void *)as);
	__u64 n0 = h->slen[SF_S_EXE];
	if (n0 == 0 || as + n0 >= ae)
		return off;
	return sf_put_ubytes(buf, off, SF_S_ARGS, (const void *)(as + n0), ae - as - n0);
}

/* ---- fds and sockets ---- */

/* the bitmap of the task's open fds (after an exec: close-on-exec fds are gone), as
 * string SF_S_FDS; fds past SF_FDS_MAX are not reported (SF_HF_TRUNC) */
__noinline int sf_g_open_fds(struct sf_scratch *s, __u32 off, __u64 task_ptr)
{
	struct task_struct *task = (void *)task_ptr;
	if (!s)
		return off;
	struct sf_hdr *h = (void *)s->buf;
	if (off >= SF_REC_OFF_MAX) {
		h->flags |= SF_HF_TRUNC;
		return off;
	}
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt)
		return off;
	__u32 max = BPF_CORE_READ(fdt, max_fds);
	const void *bits = BPF_CORE_READ(fdt, open_fds);
	__u32 len = max / 8;
	if (len > SF_FDS_MAX / 8) {
		len = SF_FDS_MAX / 8;
		h->flags |= SF_HF_TRUNC;
	}
	if (len == 0 || !bits)
		return off;
	if (bpf_probe_read_kernel(&s->buf[sf_at(off)], len & (SF_FDS_MAX / 8 * 2 - 1), bits)) {
		h->flags |= SF_HF_FAULT;
		return off;
	}
	h->slen[SF_S_FDS] = len;
	return off + len;
}

/* the file behind fd in task's table (task: a task_struct pointer as a plain value) */
static __always_inline struct file *sf_fd_file(void *task, __s64 fd)
{
	if (fd < 0)
		return NULL;
	__u64 max;
	struct file **arr; /* a pointer to pointers: a plain value to the verifier either way */
	if (SF_DIRECT) {
		struct files_struct *files = SF_K(struct task_struct, task)->files;
		struct fdtable *fdt = files ? files->fdt : NULL;
		if (!fdt)
			return NULL;
		max = fdt->max_fds;
		arr = fdt->fd;
	} else {
		struct fdtable *fdt = BPF_CORE_READ((struct task_struct *)task, files, fdt);
		if (!fdt)
			return NULL;
		max = BPF_CORE_READ(fdt, max_fds);
		arr = BPF_CORE_READ(fdt, fd);
	}
	if ((__u64)fd >= max)
		return NULL;
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &arr[fd]);
	return f;
}

/* the file's inode mode (type and permissions), 0 when unreadable */
static __always_inline umode_t sf_file_mode(struct file *f)
{
	if (!SF_DIRECT)
		return BPF_CORE_READ(f, f_inode, i_mode);
	struct inode *ino = SF_K(struct file, f)->f_inode;
	return ino ? ino->i_mode : 0;
}

/* the file's f_mode (FMODE_*) */
static __always_inline __u32 sf_file_fmode(struct file *f)
{
	if (!SF_DIRECT)
		return BPF_CORE_READ(f, f_mode);
	return SF_K(struct file, f)->f_mode;
}

static __always_inline struct sock *sf_fd_sock(void *task, __s64 fd)
{
	struct file *f = sf_fd_file(task, fd);
	if (!f)
		return NULL;
	if ((sf_file_mode(f) & SF_S_IFMT) != SF_S_IFSOCK)
		return NULL;
	if (!SF_DIRECT) {
		struct socket *sock = BPF_CORE_READ(f, private_data);
		return BPF_CORE_READ(sock, sk);
	}
	struct socket *sock = SF_K(struct file, f)->private_data;
	return sock ? SF_K(struct socket, sock)->sk : NULL;
}

/* endpoints of a kernel socket: (local, remote), or (remote, local) */
static __always_inline void sf_sk_tuple(struct sock *sk, struct sf_tuple *t, bool remote_first)
{
	__u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u16 lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	__u16 rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	__u8 *l = remote_first ? t->daddr : t->saddr;
	__u8 *r = remote_first ? t->saddr : t->daddr;
	t->family = fam;
	if (fam == SF_AF_INET) {
		__u32 la = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 ra = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(l, &la, 4);
		__builtin_memcpy(r, &ra, 4);
	} else if (fam == SF_AF_INET6) {
		/* all 16 bytes (BPF_CORE_READ_INTO would copy sizeof(*l), one) */
		bpf_core_read(l, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(r, 16, &sk->__sk_common.skc_v6_daddr);
	} else if (fam == SF_AF_UNIX) {
		t->sk = (__u64)sk;
		t->peer = (__u64)BPF_CORE_READ((struct unix_sock *)sk, peer);
		return;
	} else {
		return;
	}
	if (remote_first) {
		t->sport = rport;
		t->dport = lport;
	} else {
		t->sport = lport;
		t->dport = rport;
	}
}

/* sockaddr_in / sockaddr_in6 in user memory -> one side of a tuple; returns the family */
static __always_inline __u16 sf_user_inet(const void *uaddr, __u8 *addr, __u16 *port)
{
	struct {
		__u16 family;
		__u16 port;
		__u32 a4; /* sin_addr, or sin6_flowinfo */
	} sa = {};
	if (!uaddr || bpf_probe_read_user(&sa, sizeof(sa), uaddr))
		return 0;
	*port = bpf_ntohs(sa.port);
	if (sa.family == SF_AF_INET) {
		__builtin_memcpy(addr, &sa.a4, 4);
	} else if (sa.family == SF_AF_INET6) {
		if (bpf_probe_read_user(addr, 16, uaddr + 8))
			return 0;
	} else {
		return sa.family;
	}
	return sa.family;
}

/*
 * An abstract unix name (sun_path starting with NUL) is the `n` bytes after that NUL, with
 * no NUL of its own: copied exactly (at most 107 bytes, sun_path's size) and terminated
 * here, as string 0. Reading it as a string took whatever followed it in memory.
 */
static __always_inline __u32 sf_put_sun_abstract(__u8 *buf, __u32 off, const void *name, __s64 n,
						 bool user)
{
	struct sf_hdr *h = (void *)buf;
	if (off >= SF_REC_OFF_MAX || n < 0)
		return off;
	__u32 len = n > 107 ? 107 : (__u32)n;
	long r = user ? bpf_probe_read_user(&buf[sf_at(off)], len & 127, name)
		      : bpf_probe_read_kernel(&buf[sf_at(off)], len & 127, name);
	if (r) {
		h->flags |= SF_HF_FAULT;
		return off;
	}
	buf[sf_at(off + len)] = 0;
	h->slen[0] = len + 1;
	return off + len + 1;
}

/* unix socket path of a user sockaddr_un of `addrlen` bytes (an abstract name without its
 * leading NUL), as the kernel takes it: a pathname ends at its first NUL or at `addrlen`
 * (at most sun_path's 108 bytes), whatever follows in the caller's memory; an address of
 * sun_family alone (autobind) names nothing */
static __always_inline __u32 sf_put_user_sun_path(__u8 *buf, __u32 off, const void *uaddr,
						  __u64 addrlen)
{
	__u8 first = 0;
	if (!uaddr || addrlen <= 2 || bpf_probe_read_user(&first, 1, uaddr + 2))
		return off;
	if (!first)
		return sf_put_sun_abstract(buf, off, uaddr + 3, (__s64)addrlen - 3, true);
	struct sf_hdr *h = (void *)buf;
	if (off >= SF_REC_OFF_MAX) {
		h->flags |= SF_HF_TRUNC;
		return off;
	}
	__u32 size = (addrlen - 2 > 108 ? 108 : (__u32)addrlen - 2) + 1; /* with the NUL added */
	long n = bpf_probe_read_user_str(&buf[sf_at(off)], size & 127, uaddr + 2);
	if (n <= 0) {
		h->flags |= SF_HF_FAULT;
		return off;
	}
	h->slen[0] = n;
	return off + (__u32)n;
}

/* bound path of a kernel unix socket */
static __always_inline __u32 sf_put_kernel_sun_path(__u8 *buf, __u32 off, struct sock *sk)
{
	struct unix_address *a = BPF_CORE_READ((struct unix_sock *)sk, addr);
	if (!a)
		return off;
	const void *path = (void *)a + bpf_core_field_offset(struct unix_address, name) + 2;
	__u8 first = 0;
	if (bpf_probe_read_kernel(&first, 1, path))
		return off;
	if (first)
		return sf_put_kstr(buf, off, 0, path);
	/* len: the address's bytes, sun_family's 2 and the leading NUL included */
	return sf_put_sun_abstract(buf, off, path + 1, (__s64)BPF_CORE_READ(a, len) - 3, false);
}

/* ------------------------------------------------------------------------ */
/* read/write counters */

/*
 * The counting protocol. Per (process, fd) an sf_io entry holds a slot per thread.
 *
 * - A counting thread claims a free slot once (compare-and-swap of its tid) and from then
 *   on adds to it with atomic adds; nothing else ever adds to that slot.
 * - Shipping takes each counter with an atomic exchange against 0 (read-and-clear), so
 *   what a shipper takes and what is added after it are disjoint: nothing is shipped
 *   twice, whoever ships and however often.
 * - A close ships every slot. When no other thread than the closing one holds a slot, it
 *   keeps the entry for the fd number's next file: it moves `dead` from LIVE to CLOSED
 *   (compare-and-swap). The next call that makes an fd under that number (sf_fd_made), or
 *   else the first count after that, revives the entry (CLOSED -> LIVE, compare-and-swap;
 *   a count that wins treats it as the fd's first count: sf_count) instead of deleting
 *   and inserting it again: an open-write-close loop costs no map insert or delete. The
 *   thread keeps its slot across the revival. Otherwise the close retires the entry (a
 *   slot is freed only when its thread exits: kept, the other threads' slots would leave
 *   none for the next file's threads).
 * - An entry leaves the map only after `dead` is set to RETIRING (a close as above,
 *   dup2/dup3 over the fd, close_range, exec, the process's end, an idle or closed entry
 *   retired by the drain).
 *   Only the shipper that moves it there (from LIVE or CLOSED, compare-and-swap) deletes
 *   it, after taking every slot (a second delete could take a newer entry made under the
 *   same key after the first); a reviver and a retirer race on the same CLOSED value, so
 *   exactly one wins. A counting thread that found the entry adds first and reads `dead`
 *   after (the locked add is a full barrier on x86, so the load cannot move before it;
 *   the shipper's compare-and-swap is one too): if it reads LIVE, a later shipper's
 *   exchange takes its add (a close's, a retirer's, or, when the fd was closed and its
 *   entry revived in between, that of the fd number's next file, which then carries the
 *   call: the kernel does not say which file a call that raced its fd's close used); if it
 *   reads anything else, it takes its own slot itself and ships the rest (SF_HF_LATE,
 *   sf_stats.late_counts). Either way each increment is shipped exactly once.
 * - A deleted entry's memory can be reused by the next insert on the deleting CPU at once
 *   (see the map): a count between its lookup and its add racing a delete and an insert
 *   is lost, the one gap of this protocol.
 * - A counted call that completes after another thread closed or replaced its fd is
 *   charged to the fd number as it is at the call's exit (the kernel does not say which
 *   file the call used).
 */

static __always_inline void sf_ship_counts(__u32 tgid, __u32 tid, __s32 fd, __u64 first_ts,
					   __u64 rops, __u64 rbytes, __u64 wops, __u64 wbytes, __u64 now,
					   __u16 flags)
{
	struct sf_rec_iocount {
		struct sf_hdr h;
		struct sf_iocount c;
	} *r = sf_reserve(sizeof(struct sf_rec_iocount), SF_K_IOCOUNT, now, tid, tgid);
	if (!r)
		return;
	r->h.flags = flags;
	r->c.fd = fd;
	r->c.first_ts = first_ts ? first_ts : now;
	r->c.read_ops = rops;
	r->c.read_bytes = rbytes;
	r->c.write_ops = wops;
	r->c.write_bytes = wbytes;
	sf_commit(r);
}

/* takes slot s's counters (read-and-clear) into out (first_ts as counted: 0 when none);
 * returns whether any call was counted. Ops and bytes are separate atomics: a take
 * between a call's two adds gets its op without its bytes (or the reverse), and the rest
 * goes with the next take. */
static __always_inline bool sf_take_counts(struct sf_io_slot *s, struct sf_iocount *out)
{
	out->read_ops = __sync_lock_test_and_set(&s->read_ops, 0);
	out->read_bytes = __sync_lock_test_and_set(&s->read_bytes, 0);
	out->write_ops = __sync_lock_test_and_set(&s->write_ops, 0);
	out->write_bytes = __sync_lock_test_and_set(&s->write_bytes, 0);
	out->first_ts = __sync_lock_test_and_set(&s->first_ts, 0);
	return out->read_ops || out->read_bytes || out->write_ops || out->write_bytes;
}

/* takes slot s's counters (read-and-clear) and ships them when any; with `release` the
 * slot is freed too (its thread is gone). Returns 1 when something was shipped. */
static __always_inline int sf_take_slot(__u32 tgid, __s32 fd, struct sf_io_slot *s, __u32 owner,
					bool release, __u64 now, __u16 flags)
{
	struct sf_iocount t;
	bool any = sf_take_counts(s, &t);
	if (release)
		s->tid = 0;
	if (!any)
		return 0;
	sf_ship_counts(tgid, owner, fd, t.first_ts, t.read_ops, t.read_bytes, t.write_ops,
		       t.write_bytes, now, flags);
	return 1;
}

/* ships slot s when it belongs to tid (or to anyone if tid == 0); 1 when something went */
static __always_inline int sf_ship_slot(__u32 tgid, __s32 fd, struct sf_io_slot *s, __u32 tid,
					bool release, __u64 now)
{
	__u32 owner = s->tid;
	if (!owner || (tid && owner != tid))
		return 0;
	return sf_take_slot(tgid, fd, s, owner, release, now, 0);
}

/* moves entry v to RETIRING from LIVE or CLOSED; true for the caller that did (it deletes
 * the entry) */
static __always_inline bool sf_io_retire(struct sf_io_val *v)
{
	/* the only other change of `dead` is LIVE <-> CLOSED (a close, a revival): retry
	 * from the value read, so a revival between two attempts cannot leave the entry
	 * without a retirer */
	for (int i = 0; i < 4; i++) {
		__u64 cur = *(volatile __u64 *)&v->dead;
		if (cur == SF_IO_RETIRING)
			return false;
		if (__sync_val_compare_and_swap(&v->dead, cur, SF_IO_RETIRING) == cur)
			return true;
	}
	return false;
}

/* ships every slot of entry v (all threads) and, with `retire`, deletes it under the
 * protocol above; returns the number of slots shipped */
static __always_inline int sf_ship_entry(struct sf_io_key *k, struct sf_io_val *v, bool retire,
					 __u64 now)
{
	int n = 0;
	/* only the shipper that sets RETIRING deletes: while this entry is in the map no new
	 * one can be made under its key, so the delete removes this entry and never a newer
	 * one a second shipper's late delete would take with it */
	bool owner = retire && sf_io_retire(v);
	for (int i = 0; i < SF_IO_SLOTS; i++)
		n += sf_ship_slot(k->tgid, k->fd, &v->slot[i], 0, false, now);
	if (owner)
		bpf_map_delete_elem(&sf_io, k);
	return n;
}

/*
 * Ships the counters of (tgid, fd): only thread tid's slot (freeing it: the thread is
 * exiting), or every slot when tid == 0. With `drop` the entry is retired (the fd is
 * closed: close, dup2 over it, exec, the process's end).
 */
__noinline int sf_g_ship_fd(__u32 tgid, __s32 fd, __u32 tid, __u32 drop, __u64 now)
{
	struct sf_io_key k = { .tgid = tgid, .fd = fd };
	struct sf_io_val *v = bpf_map_lookup_elem(&sf_io, &k);
	if (!v)
		return 0;
	if (drop || !tid) {
		sf_ship_entry(&k, v, drop, now);
		return 0;
	}
	for (int i = 0; i < SF_IO_SLOTS; i++)
		sf_ship_slot(tgid, fd, &v->slot[i], tid, true, now);
	return 0;
}

struct sf_ship_ctx {
	struct sf_tfds *t;
	__u64 now;
	__u32 tgid;
	__u32 tid;
	__u32 drop;
	__u32 pad;
};

static long sf_ship_list_step(__u64 i, void *ctx)
{
	struct sf_ship_ctx *c = ctx;
	struct sf_tfds *t = c->t;
	if (i >= t->n || i >= SF_TFD_MAX)
		return 1;
	__s32 fd = t->fd[i & (SF_TFD_MAX - 1)];
	sf_g_ship_fd(c->tgid, fd, c->drop ? 0 : c->tid, c->drop, c->now);
	return 0;
}

static long sf_ship_scan_step(struct bpf_map *map, struct sf_io_key *key, struct sf_io_val *val,
			      void *ctx)
{
	struct sf_ship_ctx *c = ctx;
	if (key->tgid != c->tgid)
		return 0;
	__s32 fd = key->fd;
	for (int i = 0; i < SF_IO_SLOTS; i++)
		sf_ship_slot(c->tgid, fd, &val->slot[i], c->drop ? 0 : c->tid, !c->drop, c->now);
	return 0;
}

/*
 * Ships every counter thread tid holds (exit), or every counter of the fds the thread
 * touched (drop: exec and the last thread's exit, when the fds are about to be closed
 * without a close syscall).
 */
__noinline int sf_g_ship_thread(__u32 tgid, __u32 tid, __u32 drop, __u64 now)
{
	struct sf_tfds *t = bpf_map_lookup_elem(&sf_thread_fds, &tid);
	if (!t)
		return 0;
	struct sf_ship_ctx c = { .t = t, .now = now, .tgid = tgid, .tid = tid, .drop = drop };
	bpf_loop(SF_TFD_MAX, sf_ship_list_step, &c, 0);
	if (t->overflow)
		bpf_for_each_map_elem(&sf_io, sf_ship_scan_step, &c, 0);
	bpf_map_delete_elem(&sf_thread_fds, &tid);
	return 0;
}

/* remembers that tid counts on fd (for its exit) */
static __always_inline void sf_note_fd(__u32 tid, __s32 fd)
{
	struct sf_tfds *t = bpf_map_lookup_elem(&sf_thread_fds, &tid);
	if (!t) {
		bpf_map_update_elem(&sf_thread_fds, &tid, &sf_tfds_zero, BPF_NOEXIST);
		t = bpf_map_lookup_elem(&sf_thread_fds, &tid);
		if (!t) {
			struct sf_stats *st = sf_st();
			if (st)
				st->io_overflow++;
			return;
		}
	}
	__u32 n = t->n;
	for (int i = 0; i < SF_TFD_MAX; i++) {
		if (i >= n)
			break;
		if (t->fd[i] == fd)
			return;
	}
	if (n < SF_TFD_MAX) {
		t->fd[n] = fd;
		t->n = n + 1;
	} else {
		t->overflow = 1;
	}
}

/* ships what slot s (of an entry retired while tid counted on it) holds: out of line, as
 * rare, so that the counting paths inlined in every caller keep small stack frames */
__noinline int sf_g_take_late(struct sf_io_slot *s, __u32 tgid, __s32 fd, __u32 tid)
{
	if (!s)
		return 0;
	if (sf_take_slot(tgid, fd, s, tid, false, bpf_ktime_get_boot_ns(), SF_HF_LATE)) {
		struct sf_stats *st = sf_st();
		if (st)
			st->late_counts++;
	}
	return 0;
}

/* calls counted without a slot (more threads than SF_IO_SLOTS on the fd, or the map is
 * full), shipped as their own counter record; nothing is lost. wops: the number of calls,
 * bit 63 set for writes. Out of line, as sf_g_take_late. */
__noinline int sf_g_count_single(__u32 tgid, __u32 tid, __s32 fd, __u64 wops, __u64 bytes)
{
	bool write = wops >> 63;
	__u64 ops = wops & ~(1ULL << 63);
	struct sf_stats *st = sf_st();
	__u64 now = bpf_ktime_get_boot_ns();
	if (st)
		st->io_overflow++;
	sf_ship_counts(tgid, tid, fd, now, write ? 0 : ops, write ? 0 : bytes, write ? ops : 0,
		       write ? bytes : 0, now, 0);
	return 0;
}

/* adds one counted call to a slot this thread owns, then honours a concurrent retire */
static __always_inline void sf_slot_add(struct sf_io_val *v, struct sf_io_slot *s, __u32 tgid,
					__u32 tid, __s32 fd, bool write, __u64 ops, __u64 bytes)
{
	if (!s->first_ts)
		s->first_ts = bpf_ktime_get_boot_ns(); /* first call since the last shipping */
	if (write) {
		__sync_fetch_and_add(&s->write_ops, ops);
		__sync_fetch_and_add(&s->write_bytes, bytes);
	} else {
		__sync_fetch_and_add(&s->read_ops, ops);
		__sync_fetch_and_add(&s->read_bytes, bytes);
	}
	/* a plain load: the locked add before it is a full barrier on x86 (the only
	 * architecture this probe builds for), so it cannot be read before the add */
	if (*(volatile __u64 *)&v->dead) {
		/* retired meanwhile: whatever the shipper did not take is ours to ship */
		sf_g_take_late(s, tgid, fd, tid);
	}
}

/*
 * Processes the collector started, and their descendants (tgid -> 1). The collector is
 * not captured, so the fds such a process inherited from it were never seen made: its
 * clone exit lists them (sf_g_inherited_fds).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} sf_heirs SEC(".maps");

/* ships SF_NR_FD_SEEN for fd of the current task (see wire.h); 1 when it went */
__noinline int sf_g_fd_seen(__u32 tgid, __u32 tid, __s32 fd)
{
	struct file *f = sf_fd_file(bpf_get_current_task_btf(), fd);
	if (!f)
		return 0;
	umode_t mode = sf_file_mode(f);
	__u32 type = mode & SF_S_IFMT;
	struct sf_scratch *s = sf_scratch();
	if (!s)
		return 0;
	__u64 now = bpf_ktime_get_boot_ns();
	__u32 off;
	if (type == SF_S_IFSOCK) {
		sf_hdr_init((void *)s->buf, SF_K_NET, SF_NR_FD_SEEN, now, tid, tgid);
		struct sf_net *n = (void *)(s->buf + sizeof(struct sf_hdr));
		__builtin_memset(n, 0, sizeof(*n));
		n->fd = fd;
		off = sizeof(struct sf_hdr) + sizeof(struct sf_net);
		struct socket *sock = BPF_CORE_READ(f, private_data);
		struct sock *sk = BPF_CORE_READ(sock, sk);
		if (sk) {
			n->sock_type = BPF_CORE_READ(sk, sk_type);
			sf_sk_tuple(sk, &n->t, false);
			if (n->t.family == SF_AF_UNIX)
				off = sf_put_kernel_sun_path(s->buf, off, sk);
			/* res 1: a stream socket made by accept. The kernel makes it as a copy of
			 * its listener, backlog included; a connecting socket's backlog is 0. */
			if (n->sock_type == SF_SOCK_STREAM && BPF_CORE_READ(sk, sk_max_ack_backlog) > 0)
				n->res = 1;
		}
	} else {
		sf_hdr_init((void *)s->buf, SF_K_SYS, SF_NR_FD_SEEN, now, tid, tgid);
		struct sf_sys *b = (void *)(s->buf + sizeof(struct sf_hdr));
		__builtin_memset(b, 0, sizeof(*b));
		b->res = fd;
		b->aux[0] = BPF_CORE_READ(f, f_inode, i_ino);
		b->aux[1] = BPF_CORE_READ(f, f_flags);
		b->aux[2] = mode;
		off = sizeof(struct sf_hdr) + sizeof(struct sf_sys);
		if (type == SF_S_IFREG || type == SF_S_IFDIR || type == SF_S_IFCHR || type == SF_S_IFBLK)
			off = sf_g_dpath(s, off, 1, (__u64)BPF_CORE_READ(f, f_path.dentry),
					 (__u64)BPF_CORE_READ(f, f_path.mnt));
	}
	return sf_submit(s->buf, off);
}

/*
 * A call the consumer sees made fd (its record went into the ring): the fd's entry, kept
 * CLOSED since the number's last close, is revived, so that the fd's first count says
 * nothing more. A first count that finds no entry, or a CLOSED one, ships what the kernel
 * says the fd is (SF_NR_FD_SEEN): no record told the consumer about the file the number
 * now names (a call not modelled here such as io_uring's FIXED_FD_INSTALL or TIOCGPTPEER,
 * a fork's copy, a file from before the capture, a creation whose record was sampled out
 * or lost), or the entry was deleted since (then the consumer knows the file already and
 * the record only costs its size).
 *
 * No entry is made here: an insert just after a delete on the same CPU gets the deleted
 * entry's memory back at once (the hash map's allocator reuses freed elements without
 * waiting for a grace period), under the feet of a counting thread that still holds it,
 * whose add is then lost (measured: one write in ten thousand in the race workload of
 * the live coverage test when dup2 made the entry of the fd it had just retired).
 */
static __always_inline void sf_fd_made(__u32 tgid, __s64 fd)
{
	if (fd < 0 || fd > 0x7fffffff)
		return;
	struct sf_io_key k = { .tgid = tgid, .fd = (__s32)fd };
	struct sf_io_val *v = bpf_map_lookup_elem(&sf_io, &k);
	if (v && *(volatile __u64 *)&v->dead == SF_IO_CLOSED)
		__sync_val_compare_and_swap(&v->dead, SF_IO_CLOSED, SF_IO_LIVE);
}

/* ships what the kernel says fd is and, when it went, takes the fd as made */
static __always_inline void sf_fd_seen_made(__u32 tgid, __u32 tid, __s32 fd)
{
	if (sf_g_fd_seen(tgid, tid, fd))
		sf_fd_made(tgid, fd);
}

/* counts `ops` read/write calls of (tgid, tid) on fd moving `bytes` */
static __always_inline void sf_count(__u32 tgid, __u32 tid, __s32 fd, long ret, bool write, __u64 ops,
				     __u64 bytes)
{
	struct sf_io_key k = { .tgid = tgid, .fd = fd };
	/* EBADF on a number that names no file (not a read of a write-only fd): no file's
	 * call, and no word on what the number names (counting it would make an entry) */
	if (ret == -SF_EBADF && !sf_fd_file(bpf_get_current_task_btf(), fd))
		return;
	if (ret < 0)
		bytes = 0;
	struct sf_io_val *v = bpf_map_lookup_elem(&sf_io, &k);
	if (!v) {
		/* no call the consumer saw made this fd (see sf_fd_made): inherited at a fork,
		 * made before the capture or by a call not modelled here, or its entry was
		 * retired idle. The kernel says what it is; until it has (the number names no
		 * file by now, the ring is full) the entry is made CLOSED, for the next count
		 * to try again. */
		bool named = sf_g_fd_seen(tgid, tid, fd);
		bpf_map_update_elem(&sf_io, &k, named ? &sf_io_zero : &sf_io_closed, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&sf_io, &k);
		if (!v)
			goto single;
	} else if (*(volatile __u64 *)&v->dead == SF_IO_CLOSED && sf_g_fd_seen(tgid, tid, fd)) {
		/* closed, and no call the consumer saw made the fd number's next file: the
		 * kernel said what it is, and the entry is revived (one reviver wins; another
		 * thread's description on the way is one more of the same) */
		__sync_val_compare_and_swap(&v->dead, SF_IO_CLOSED, SF_IO_LIVE);
	}
	/* the common case: this thread already has a slot */
	for (int i = 0; i < SF_IO_SLOTS; i++) {
		if (v->slot[i].tid == tid) {
			sf_slot_add(v, &v->slot[i], tgid, tid, fd, write, ops, bytes);
			return;
		}
	}
	for (int i = 0; i < SF_IO_SLOTS; i++) {
		if (v->slot[i].tid == 0 && __sync_val_compare_and_swap(&v->slot[i].tid, 0, tid) == 0) {
			sf_slot_add(v, &v->slot[i], tgid, tid, fd, write, ops, bytes);
			sf_note_fd(tid, fd);
			return;
		}
	}
single:
	/* no slot (more threads than SF_IO_SLOTS on the fd, or the map is full) */
	sf_g_count_single(tgid, tid, fd, ops | ((__u64)write << 63), bytes);
}

/* ---- the periodic drain: user space runs sf_drain (BPF_PROG_TEST_RUN) ---- */

struct sf_drain_state {
	__u64 now;
	__u32 n; /* idle entries to retire */
	__u32 pad;
	struct sf_io_key retire[SF_DRAIN_RETIRE];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sf_drain_state);
} sf_drain_map SEC(".maps");

static long sf_drain_step(struct bpf_map *map, struct sf_io_key *key, struct sf_io_val *val,
			  void *ctx)
{
	struct sf_drain_state *d = *(struct sf_drain_state **)ctx;
	if (sf_ship_entry(key, val, false, d->now) == 0) {
		/* nothing counted since the last drain: retire it after the walk (deleting
		 * while the walk runs could make it skip entries) */
		__u32 n = d->n;
		if (n < SF_DRAIN_RETIRE) {
			d->retire[n & (SF_DRAIN_RETIRE - 1)] = *key;
			d->n = n + 1;
		}
	}
	return 0;
}

static long sf_retire_step(__u64 i, void *ctx)
{
	struct sf_drain_state *d = *(struct sf_drain_state **)ctx;
	if (i >= d->n || i >= SF_DRAIN_RETIRE)
		return 1;
	struct sf_io_key k = d->retire[i & (SF_DRAIN_RETIRE - 1)];
	struct sf_io_val *v = bpf_map_lookup_elem(&sf_io, &k);
	if (v)
		sf_ship_entry(&k, v, true, d->now);
	return 0;
}

/*
 * Ships every counter in the map through the ring buffer (as the kernel-side paths do,
 * so they arrive in order with the other records) and retires entries idle since the
 * previous drain (closed ones included), at most SF_DRAIN_RETIRE: returns how many it
 * retired. Run by user space about every second and at shutdown, again while it retires
 * SF_DRAIN_RETIRE.
 */
SEC("syscall")
int sf_drain(void *ctx)
{
	__u32 z = 0;
	struct sf_drain_state *d = bpf_map_lookup_elem(&sf_drain_map, &z);
	if (!d)
		return 0;
	d->now = bpf_ktime_get_boot_ns();
	d->n = 0;
	bpf_for_each_map_elem(&sf_io, sf_drain_step, &d, 0);
	bpf_loop(SF_DRAIN_RETIRE, sf_retire_step, &d, 0);
	/* SF_DRAIN_RETIRE: there may be more to retire (user space runs it again) */
	return d->n;
}

/* ------------------------------------------------------------------------ */
/* sys_exit handlers: global functions, each verified once on its own */

/* one syscall exit, as plain values (global functions take memory, not BTF pointers) */
struct sf_call {
	__u64 arg[6];
	__s64 ret;
	__u64 nr;
	__u64 now;
	__u64 task;
	__u32 tgid;
	__u32 tid;
	__u32 compat; /* a 32-bit syscall: nr and arg[] already translated, user structs 32-bit */
	__u32 hflags; /* sf_hdr_flags every record of the call carries (COMPAT, URING) */
};

/*
 * The call being handled, per CPU: slot SF_CALL_SYS for the syscall sf_sys_exit handles,
 * slot SF_CALL_DERIVED for a call made from it (TCP Fast Open's connect). (An io_uring
 * completion's call stays on sf_g_uring_done's stack: its chains are shallower.) Kept in a map, not on the stack: the verifier sums the stack frames of
 * a whole bpf-to-bpf call chain (at most 512 bytes; without private stacks every frame
 * counts) and the call passes through up to seven frames. Programs that use it are not
 * preempted and do not nest on a CPU, as the scratch record's.
 */
#define SF_CALL_SYS 0
#define SF_CALL_DERIVED 1
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct sf_call);
} sf_call_map SEC(".maps");

static __always_inline struct sf_call *sf_call_slot(__u32 slot)
{
	return bpf_map_lookup_elem(&sf_call_map, &slot);
}

#define SF_SYS_OFF (sizeof(struct sf_hdr) + sizeof(struct sf_sys))
#define SF_NET_OFF (sizeof(struct sf_hdr) + sizeof(struct sf_net))
#define SF_PROC_OFF (sizeof(struct sf_hdr) + sizeof(struct sf_proc))

static __always_inline struct sf_sys *sf_sys_body(__u8 *buf)
{
	return (void *)(buf + sizeof(struct sf_hdr));
}

static __always_inline struct sf_scratch *sf_sys_begin(struct sf_call *c)
{
	struct sf_scratch *s = sf_scratch();
	if (!s)
		return NULL;
	sf_hdr_init((void *)s->buf, SF_K_SYS, c->nr, c->now, c->tid, c->tgid);
	((struct sf_hdr *)s->buf)->flags |= c->hflags;
	struct sf_sys *b = sf_sys_body(s->buf);
	b->res = c->ret;
	for (int i = 0; i < 6; i++)
		b->arg[i] = c->arg[i];
	for (int i = 0; i < 4; i++)
		b->aux[i] = 0;
	return s;
}

/* a syscall record without strings */
__noinline int sf_g_plain(struct sf_call *c)
{
	if (!c)
		return 0;
	struct sf_scratch *s = sf_sys_begin(c);
	if (s && sf_submit(s->buf, SF_SYS_OFF) && c->nr == SF_NR_SOCKET)
		sf_fd_made(c->tgid, c->ret);
	return 0;
}

__noinline int sf_g_open(struct sf_call *c)
{
	if (!c)
		return 0;
	struct sf_scratch *s = sf_sys_begin(c);
	if (!s)
		return 0;
	struct sf_sys *b = sf_sys_body(s->buf);
	const void *path = (const void *)(c->nr == SF_NR_OPEN || c->nr == SF_NR_CREAT ? c->arg[0] : c->arg[1]);
	if (c->nr == SF_NR_OPEN_BY_HANDLE_AT)
		path = NULL; /* a file handle, not a path */
	if (c->nr == SF_NR_OPENAT2) {
		__u64 how = 0;
		bpf_probe_read_user(&how, sizeof(how), (const void *)c->arg[2]); /* open_how.flags */
		b->aux[1] = how;
	}
	struct file *f = NULL;
	if (c->ret >= 0) {
		f = sf_fd_file((void *)c->task, c->ret);
		if (f && (sf_file_fmode(f) & SF_FMODE_CREATED))
			b->aux[0] = 1;
	}
	__u64 dentry = f ? (__u64)BPF_CORE_READ(f, f_path.dentry) : 0;
	__u64 mnt = f ? (__u64)BPF_CORE_READ(f, f_path.mnt) : 0;
	struct sf_hdr *h = (void *)s->buf;
	if (f && !sf_open_user_path) {
		/* The kernel's path alone (string 1), unless the walk failed or ended at "/"
		 * (a pseudo file system's file: a pipe reopened through /proc), where the path
		 * as passed says more: then both, as below. */
		__u32 end = sf_g_dpath(s, SF_SYS_OFF, 1, dentry, mnt);
		__u16 klen = h->slen[1];
		if (klen > 2) {
			if (sf_submit(s->buf, end))
				sf_fd_made(c->tgid, c->ret);
			return 0;
		}
		h->slen[1] = 0;
		__u32 off = sf_put_ustr(s->buf, SF_SYS_OFF, 0, path);
		if (klen == 2 && off < SF_REC_OFF_MAX) {
			s->buf[off & SF_OFF_MASK] = '/';
			s->buf[(off + 1) & SF_OFF_MASK] = 0;
			h->slen[1] = 2;
			off += 2;
		}
		if (sf_submit(s->buf, off))
			sf_fd_made(c->tgid, c->ret);
		return 0;
	}
	__u32 off = sf_put_ustr(s->buf, SF_SYS_OFF, 0, path);
	if (f) /* what the kernel opened: from the file itself, never a second read of user memory */
		off = sf_g_dpath(s, off, 1, dentry, mnt);
	if (sf_submit(s->buf, off) && f)
		sf_fd_made(c->tgid, c->ret);
	return 0;
}

/* a syscall that creates an fd other than by opening a path (eventfd, memfd_create, ...) */
__noinline int sf_g_newfd(struct sf_call *c)
{
	if (!c)
		return 0;
	struct sf_scratch *s = sf_sys_begin(c);
	if (!s)
		return 0;
	struct sf_sys *b = sf_sys_body(s->buf);
	__u32 off = SF_SYS_OFF;
	struct file *f = c->ret >= 0 ? sf_fd_file((void *)c->task, c->ret) : NULL;
	if (f) {
		umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
		b->aux[2] = mode;
		off = sf_put_kstr(s->buf, off, 0, BPF_CORE_READ(f, f_path.dentry, d_name.name));
		__u32 type = mode & SF_S_IFMT;
		if (c->nr == SF_NR_PIDFD_GETFD && (type == SF_S_IFREG || type == SF_S_IFDIR))
			off = sf_g_dpath(s, off, 1, (__u64)BPF_CORE_READ(f, f_path.dentry),
					 (__u64)BPF_CORE_READ(f, f_path.mnt));
	}
	if (sf_submit(s->buf, off) && f)
		sf_fd_made(c->tgid, c->ret);
	return 0;
}

/*
 * Calls that move data between two fds without read/write: counted as one read of the
 * source and one write of the destination, `res` bytes each. vmsplice moves between
 * user memory and a pipe: a write to the pipe's write end, a read from its read end.
 */
__noinline int sf_g_move(struct sf_call *c)
{
	if (!c)
		return 0;
	__s64 ret = c->ret;
	__u64 bytes = ret > 0 ? ret : 0;
	__s32 in = -1, out = -1;
	switch (c->nr) {
	case SF_NR_SENDFILE:
		out = c->arg[0];
		in = c->arg[1];
		break;
	case SF_NR_COPY_FILE_RANGE:
	case SF_NR_SPLICE:
		in = c->arg[0];
		out = c->arg[2];
		break;
	case SF_NR_TEE:
		in = c->arg[0];
		out = c->arg[1];
		break;
	case SF_NR_VMSPLICE: {
		struct file *f = sf_fd_file((void *)c->task, (__s32)c->arg[0]);
		if (f && (BPF_CORE_READ(f, f_mode) & SF_FMODE_WRITE))
			out = c->arg[0];
		else
			in = c->arg[0];
		break;
	}
	default:
		return 0;
	}
	if (in >= 0)
		sf_count(c->tgid, c->tid, in, ret, false, 1, bytes);
	if (out >= 0)
		sf_count(c->tgid, c->tid, out, ret, true, 1, bytes);
	return 0;
}

__noinline int sf_g_fileop(struct sf_call *c)
{
	if (!c)
		return 0;
	struct sf_scratch *s = sf_sys_begin(c);
	if (!s)
		return 0;
	__u64 p1 = 0, p2 = 0;
	switch (c->nr) {
	case SF_NR_MKDIR:
	case SF_NR_RMDIR:
	case SF_NR_UNLINK:
		p1 = c->arg[0];
		break;
	case SF_NR_MKDIRAT:
	case SF_NR_UNLINKAT:
		p1 = c->arg[1];
		break;
	case SF_NR_LINK:
	case SF_NR_SYMLINK:
	case SF_NR_RENAME:
		p1 = c->arg[0];
		p2 = c->arg[1];
		break;
	case SF_NR_SYMLINKAT:
		p1 = c->arg[0];
		p2 = c->arg[2];
		break;
	default: /* linkat, renameat, renameat2 */
		p1 = c->arg[1];
		p2 = c->arg[3];
		break;
	}
	__u32 off = sf_put_ustr(s->buf, SF_SYS_OFF, 0, (const void *)p1);
	off = sf_put_ustr(s->buf, off, 1, (const void *)p2);
	sf_submit(s->buf, off);
	return 0;
}

__noinline int sf_g_chdir(struct sf_call *c)
{
	if (!c)
		return 0;
	struct sf_scratch *s = sf_sys_begin(c);
	if (!s)
		return 0;
	__u32 off = SF_SYS_OFF;
	if (c->ret == 0) {
		struct task_struct *task = (void *)c->task; /* a local: no CO-RE relocation on sf_call */
		struct fs_struct *fs = BPF_CORE_READ(task, fs);
		off = sf_g_dpath(s, off, 0, (__u64)BPF_CORE_READ(fs, pwd.dentry), (__u64)BPF_CORE_READ(fs, pwd.mnt));
	} else if (c->nr == SF_NR_CHDIR) {
		off = sf_put_ustr(s->buf, off, 0, (const void *)c->arg[0]);
	}
	sf_submit(s->buf, off);
	return 0;
}

/*
 * close: the consumer gets every thread's counters of the fd before the close. The
 * closing thread's own counters ride in the close record (SF_HF_COUNTS: str 0 is a
 * struct sf_iocount), the other threads' go as SF_K_IOCOUNT records before it; the entry
 * is kept, CLOSED, for the fd number's next file (see the counting protocol).
 */
__noinline int sf_g_close(struct sf_call *c)
{
	if (!c)
		return 0;
	__s32 fd = (__s32)c->arg[0];
	bool record = !(sf_drop_mode && c->ret < 0);
	struct sf_io_key k = { .tgid = c->tgid, .fd = fd };
	struct sf_io_val *v = NULL;
	if (c->ret != -SF_EBADF)
		v = bpf_map_lookup_elem(&sf_io, &k);
	if (!v) {
		if (record)
			sf_g_plain(c);
		return 0;
	}
	/* An entry whose slots are the closing thread's alone is kept, CLOSED, for the fd
	 * number's next file. One with another thread's slot is retired as before: a slot
	 * is freed only when its thread exits, so keeping it would leave the next files'
	 * other threads without slots. */
	bool others = false;
	for (int i = 0; i < SF_IO_SLOTS; i++) {
		__u32 t = v->slot[i].tid;
		if (t && t != c->tid)
			others = true;
	}
	bool owner = false;
	if (others) {
		owner = sf_io_retire(v);
	} else {
		__u64 was = __sync_val_compare_and_swap(&v->dead, SF_IO_LIVE, SF_IO_CLOSED);
		if (was == SF_IO_CLOSED) {
			/* closed before and not counted on since: nothing to take (a late add
			 * ships itself) */
			if (record)
				sf_g_plain(c);
			return 0;
		}
	}
	/* now CLOSED (kept), RETIRING by this close (deleted below), or RETIRING by
	 * another shipper (which deletes it) */
	/* the closing thread's slot, taken into locals: the scratch record is built only
	 * once every other slot is shipped (a program preempted meanwhile could see another
	 * one reuse this CPU's scratch buffer) */
	struct sf_iocount own = { .fd = fd };
	bool taken = false, merged = false;
	for (int i = 0; i < SF_IO_SLOTS; i++) {
		struct sf_io_slot *slot = &v->slot[i];
		__u32 t = slot->tid;
		if (!t)
			continue;
		if (record && !taken && t == c->tid) {
			merged = sf_take_counts(slot, &own);
			own.fd = fd;
			taken = true;
			continue;
		}
		sf_take_slot(c->tgid, fd, slot, t, false, c->now, 0);
	}
	if (owner)
		bpf_map_delete_elem(&sf_io, &k);
	if (!record)
		return 0;
	struct sf_scratch *s = sf_sys_begin(c);
	if (!s) {
		/* no scratch: the counters still go, as their own record */
		if (merged)
			sf_ship_counts(c->tgid, c->tid, fd, own.first_ts, own.read_ops, own.read_bytes,
				       own.write_ops, own.write_bytes, c->now, 0);
		return 0;
	}
	__u32 end = SF_SYS_OFF;
	if (merged) {
		struct sf_iocount *ic = (void *)(s->buf + SF_SYS_OFF);
		*ic = own;
		if (!ic->first_ts)
			ic->first_ts = c->now;
		struct sf_hdr *h = (void *)s->buf;
		h->flags |= SF_HF_COUNTS;
		h->slen[0] = sizeof(struct sf_iocount);
		end += sizeof(struct sf_iocount);
	}
	sf_submit(s->buf, end);
	return 0;
}

struct sf_range_ctx {
	__u64 now;
	__u32 tgid;
	__u32 first;
};

static long sf_close_range_step(__u64 i, void *ctx)
{
	struct sf_range_ctx *r = ctx;
	sf_g_ship_fd(r->tgid, (__s32)(r->first + (__u32)i), 0, 1, r->now);
	return 0;
}

__noinline int sf_g_close_range(struct sf_call *c)
{
	if (!c)
		return 0;
	__u32 first = c->arg[0], last = c->arg[1], flags = c->arg[2];
	if (c->ret == 0 && !(flags & SF_CLOSE_RANGE_CLOEXEC)) {
		struct task_struct *task = (void *)c->task;
		struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
		__u32 max = BPF_CORE_READ(fdt, max_fds);
		if (max && last >= max)
			last = max - 1;
		if (last >= first) {
			struct sf_range_ctx r = { .now = c->now, .tgid = c->tgid, .first = first };
			__u32 n = last - first + 1;
			if (n > SF_CLOSE_RANGE_MAX)
				n = SF_CLOSE_RANGE_MAX;
			bpf_loop(n, sf_close_range_step, &r, 0);
		}
	}
	return sf_g_plain(c);
}

__noinline int sf_g_dup(struct sf_call *c)
{
	if (!c)
		return 0;
	__u64 oldfd = c->arg[0], newfd = c->arg[1];
	if (c->nr == SF_NR_FCNTL && newfd != SF_F_DUPFD && newfd != SF_F_DUPFD_CLOEXEC)
		return 0; /* only fcntl's dup commands change state */
	/* dup2/dup3 onto an open fd closes it silently: ship its counters first */
	if ((c->nr == SF_NR_DUP2 || c->nr == SF_NR_DUP3) && c->ret >= 0 && oldfd != newfd)
		sf_g_ship_fd(c->tgid, (__s32)newfd, 0, 1, c->now);
	struct sf_scratch *s = sf_sys_begin(c);
	if (!s)
		return 0;
	__u32 off = SF_SYS_OFF;
	/* the file the new fd names, when it is one of a mounted file system: the consumer
	 * may not know the old fd (made by a process that is not captured) */
	struct file *f = c->ret >= 0 ? sf_fd_file((void *)c->task, c->ret) : NULL;
	bool named = false;
	if (f) {
		umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
		__u32 type = mode & SF_S_IFMT;
		sf_sys_body(s->buf)->aux[2] = mode;
		named = type == SF_S_IFREG || type == SF_S_IFCHR || type == SF_S_IFBLK;
		if (named)
			off = sf_g_dpath(s, off, 1, (__u64)BPF_CORE_READ(f, f_path.dentry),
					 (__u64)BPF_CORE_READ(f, f_path.mnt));
	}
	/* a socket or pipe: the consumer knows it only if it knew the old fd, so the first
	 * read or write on the new one still says what it is */
	if (sf_submit(s->buf, off) && named)
		sf_fd_made(c->tgid, c->ret);
	return 0;
}

__noinline int sf_g_pipe(struct sf_call *c)
{
	if (!c)
		return 0;
	struct sf_scratch *s = sf_sys_begin(c);
	if (!s)
		return 0;
	struct sf_sys *b = sf_sys_body(s->buf);
	struct task_struct *task = (void *)c->task;
	__s32 made[2] = { -1, -1 };
	if (c->ret == 0) {
		__s32 fds[2] = { -1, -1 };
		const void *u = (const void *)(c->nr == SF_NR_SOCKETPAIR ? c->arg[3] : c->arg[0]);
		bpf_probe_read_user(fds, sizeof(fds), u);
		b->aux[0] = (__u64)(__s64)fds[0];
		b->aux[1] = (__u64)(__s64)fds[1];
		made[0] = fds[0];
		made[1] = fds[1];
		if (c->nr == SF_NR_SOCKETPAIR) {
			struct sock *sk = sf_fd_sock(task, fds[0]);
			b->aux[2] = (__u64)sk;
			if (sk)
				b->aux[3] = (__u64)BPF_CORE_READ((struct unix_sock *)sk, peer);
		} else {
			struct file *f = sf_fd_file(task, fds[0]);
			if (f)
				b->aux[2] = BPF_CORE_READ(f, f_inode, i_ino);
		}
	}
	if (sf_submit(s->buf, SF_SYS_OFF)) {
		sf_fd_made(c->tgid, made[0]);
		sf_fd_made(c->tgid, made[1]);
	}
	return 0;
}

__noinline int sf_g_exec_fail(struct sf_call *c)
{
	if (!c || c->ret >= 0)
		return 0; /* success: shipped by sched_process_exec */
	struct sf_scratch *s = sf_sys_begin(c);
	if (!s)
		return 0;
	const void *fname = (const void *)(c->nr == SF_NR_EXECVE ? c->arg[0] : c->arg[1]);
	sf_submit(s->buf, sf_put_ustr(s->buf, SF_SYS_OFF, 0, fname));
	return 0;
}

/* ---- clone family ---- */

/* the open fds of a process the collector started, each as SF_NR_FD_SEEN: what the child
 * inherited from the collector (which is not captured), read at the child's clone exit,
 * before the child runs; fds past SF_FDS_MAX are named at their first read or write */
struct sf_fd_dump {
	__u32 tgid;
	__u32 tid;
	const unsigned long *bits;
};

static long sf_fd_dump_step(__u64 i, void *ctx)
{
	struct sf_fd_dump *d = ctx;
	unsigned long w = 0;
	if (bpf_probe_read_kernel(&w, sizeof(w), &d->bits[i]))
		return 1;
	for (int b = 0; b < 64 && w; b++) {
		if (w & 1)
			sf_fd_seen_made(d->tgid, d->tid, (__s32)(i * 64 + b));
		w >>= 1;
	}
	return 0;
}

__noinline int sf_g_inherited_fds(__u32 tgid, __u32 tid)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt)
		return 0;
	__u32 max = BPF_CORE_READ(fdt, max_fds);
	if (max > SF_FDS_MAX)
		max = SF_FDS_MAX;
	struct sf_fd_dump d = { .tgid = tgid, .tid = tid, .bits = BPF_CORE_READ(fdt, open_fds) };
	if (!d.bits)
		return 0;
	bpf_loop((max + 63) / 64, sf_fd_dump_step, &d, 0);
	return 0;
}

__noinline int sf_g_clone(struct sf_call *c)
{
	if (!c)
		return 0;
	struct sf_scratch *s = sf_scratch();
	if (!s)
		return 0;
	struct sf_hdr *h = (void *)s->buf;
	struct sf_proc *p = (void *)(s->buf + sizeof(struct sf_hdr));
	sf_hdr_init(h, SF_K_CLONE, c->nr, c->now, c->tid, c->tgid);
	sf_fill_proc((void *)c->task, p);
	p->res = c->ret;
	if (c->ret > 0) {
		/* the caller's side: does the child start another pid namespace (libs'
		 * pid_ns_for_children check, which makes PPM_CL_CHILD_IN_PIDNS)? */
		struct task_struct *t = (void *)c->task;
		struct pid *tp = BPF_CORE_READ(t, thread_pid);
		__u64 own = (__u64)sf_upid(tp, BPF_CORE_READ(tp, level)).ns;
		__u64 kids = (__u64)BPF_CORE_READ(t, nsproxy, pid_ns_for_children);
		p->children_ns_other = own && kids && own != kids;
	}
	switch (c->nr) {
	case SF_NR_CLONE:
		p->clone_flags = c->arg[0];
		break;
	case SF_NR_CLONE3: {
		__u64 fl = 0;
		bpf_probe_read_user(&fl, sizeof(fl), (const void *)c->arg[0]); /* clone_args.flags */
		p->clone_flags = fl;
		break;
	}
	case SF_NR_VFORK:
		p->clone_flags = SF_CLONE_VM | SF_CLONE_VFORK | SF_SIGCHLD;
		break;
	default:
		p->clone_flags = SF_SIGCHLD;
		break;
	}
	/* both sides carry the child's start time: the snapshot's clone_ts of the child */
	if (c->ret == 0) {
		h->ts = p->start_ts;
	} else if (c->ret > 0) {
		__u32 tid = c->tid;
		__u64 *st = bpf_map_lookup_elem(&sf_fork_start, &tid);
		if (st) {
			h->ts = *st;
			bpf_map_delete_elem(&sf_fork_start, &tid);
		}
	}
	__u32 off = SF_PROC_OFF;
	if (c->ret >= 0) {
		off = sf_g_args(s, off, c->task);
		off = sf_g_cgroups(s, off, c->task);
	}
	if (c->ret == 0 && (p->clone_flags & (SF_CLONE_PARENT | SF_CLONE_THREAD)) == SF_CLONE_PARENT) {
		/* a new process whose kernel parent is its caller's parent, whose image it did
		 * not copy: its own environment, executable and working directory (strings in
		 * slot order; tty and loginuid are in the body), or the state would take its
		 * parent's */
		struct task_struct *t = (void *)c->task;
		struct mm_struct *mm = BPF_CORE_READ(t, mm);
		__u64 es = BPF_CORE_READ(mm, env_start), ee = BPF_CORE_READ(mm, env_end);
		if (ee > es)
			off = sf_put_ubytes(s->buf, off, SF_S_ENV, (const void *)es, ee - es);
		struct file *exe = BPF_CORE_READ(mm, exe_file);
		if (exe)
			off = sf_g_dpath(s, off, SF_S_EXEPATH, (__u64)BPF_CORE_READ(exe, f_path.dentry),
					 (__u64)BPF_CORE_READ(exe, f_path.mnt));
		struct fs_struct *fs = BPF_CORE_READ(t, fs);
		if (fs)
			off = sf_g_dpath(s, off, SF_S_CWD, (__u64)BPF_CORE_READ(fs, pwd.dentry),
					 (__u64)BPF_CORE_READ(fs, pwd.mnt));
		__u32 ctid = c->tid;
		__u32 *caller = bpf_map_lookup_elem(&sf_fork_caller, &ctid);
		if (caller) {
			p->old_tid = *caller;
			bpf_map_delete_elem(&sf_fork_caller, &ctid);
		}
	}
	sf_submit(s->buf, off);
	/* a new process of the collector's: its inherited fds follow its clone record */
	if (c->ret == 0 && c->tid == c->tgid) {
		struct task_struct *child = (void *)c->task;
		if (BPF_CORE_READ(child, real_parent, tgid) == sf_self_tgid)
			sf_g_inherited_fds(c->tgid, c->tid);
	}
	return 0;
}

/* ---- sockets ---- */

static __always_inline struct sf_scratch *sf_net_begin(struct sf_call *c, __s64 fd)
{
	struct sf_scratch *s = sf_scratch();
	if (!s)
		return NULL;
	sf_hdr_init((void *)s->buf, SF_K_NET, c->nr, c->now, c->tid, c->tgid);
	((struct sf_hdr *)s->buf)->flags |= c->hflags;
	struct sf_net *n = (void *)(s->buf + sizeof(struct sf_hdr));
	__builtin_memset(n, 0, sizeof(*n));
	n->res = c->ret;
	n->fd = fd;
	return s;
}

__noinline int sf_g_conn(struct sf_call *c)
{
	if (!c)
		return 0;
	bool accept = c->nr != SF_NR_CONNECT;
	__s64 fd = accept ? c->ret : (__s64)(__s32)c->arg[0];
	/* what the socket counted goes first, to the peer it had (a connect can change it) */
	if (!accept && fd >= 0)
		sf_g_ship_fd(c->tgid, (__s32)fd, 0, 0, c->now);
	struct sf_scratch *s = sf_net_begin(c, fd);
	if (!s)
		return 0;
	struct sf_net *n = (void *)(s->buf + sizeof(struct sf_hdr));
	__u32 off = SF_NET_OFF;
	struct sock *sk = fd >= 0 ? sf_fd_sock((void *)c->task, fd) : NULL;
	if (sk) {
		n->sock_type = BPF_CORE_READ(sk, sk_type);
		sf_sk_tuple(sk, &n->t, accept);
		if (n->t.family == SF_AF_UNIX) {
			if (accept)
				off = sf_put_kernel_sun_path(s->buf, off, sk);
			else if (!(c->hflags & SF_HF_URING)) /* (io_uring's: not kept) */
				off = sf_put_user_sun_path(s->buf, off, (const void *)c->arg[1], c->arg[2]);
		}
	}
	if (!accept && sk && (n->t.family == SF_AF_INET || n->t.family == SF_AF_INET6)) {
		/* the address asked for (what the reference's connect enter carries), str 1: the
		 * destination of a failed connect, which the socket may no longer hold. An IPv6
		 * address is shipped without its scope id: 24 bytes, the shortest length the
		 * kernel takes (SIN6_LEN_RFC2133) */
		const void *ua = (const void *)c->arg[1];
		/* an io_uring connect's: the copy sf_uring_submit took (kernel memory; the
		 * caller may reuse its buffer once the request is submitted) */
		bool user = !(c->hflags & SF_HF_URING);
		__u16 fam = 0;
		if (ua && !(user ? bpf_probe_read_user(&fam, sizeof(fam), ua) :
				   bpf_probe_read_kernel(&fam, sizeof(fam), ua))) {
			__u64 len = fam == SF_AF_INET ? 16 : fam == SF_AF_INET6 ? 24 : 0;
			if (len && c->arg[2] >= len)
				off = sf_put_bytes(s->buf, off, 1, ua, len, user);
		}
	}
	if (sf_submit(s->buf, off) && accept)
		sf_fd_made(c->tgid, c->ret);
	return 0;
}

__noinline int sf_g_bind(struct sf_call *c)
{
	if (!c || (sf_drop_mode && c->ret < 0))
		return 0;
	struct sf_scratch *s = sf_net_begin(c, (__s32)c->arg[0]);
	if (!s)
		return 0;
	struct sf_net *n = (void *)(s->buf + sizeof(struct sf_hdr));
	const void *ua = (const void *)c->arg[1];
	__u32 off = SF_NET_OFF;
	n->t.family = sf_user_inet(ua, n->t.saddr, &n->t.sport);
	if (n->t.family == SF_AF_UNIX) {
		off = sf_put_user_sun_path(s->buf, off, ua, c->arg[2]);
		/* an autobind (sun_family alone): the abstract name the kernel chose */
		struct sock *sk = c->ret == 0 && c->arg[2] <= 2 ?
					  sf_fd_sock((void *)c->task, (__s32)c->arg[0]) :
					  NULL;
		if (sk)
			off = sf_put_kernel_sun_path(s->buf, off, sk);
	}
	if (c->ret == 0 && n->t.family == SF_AF_INET) {
		/* what the kernel bound (a port it chose for port 0), beside what was asked */
		struct sock *sk = sf_fd_sock((void *)c->task, (__s32)c->arg[0]);
		if (sk) {
			struct sf_tuple t = {};
			sf_sk_tuple(sk, &t, false);
			if (t.family == SF_AF_INET) {
				__builtin_memcpy(n->t.daddr, t.saddr, 4);
				n->t.dport = t.sport;
			}
		}
	}
	sf_submit(s->buf, off);
	return 0;
}

/*
 * One datagram with an explicit peer address (sendto / sendmsg to an address, recvfrom /
 * recvmsg reporting the sender, one message of sendmmsg / recvmmsg) on an IP datagram
 * socket, shipped as an SF_K_NET record (nr: as_nr) of `bytes`: the peer is only known
 * per call. Returns 1 when shipped, 0 when the call is to be counted instead.
 */
__noinline int sf_g_dgram(struct sf_call *c, __u32 write, __u64 ua, __s64 bytes, __u32 as_nr)
{
	if (!c || !ua)
		return 0;
	__s32 fd = (__s32)c->arg[0];
	struct sock *sk = sf_fd_sock((void *)c->task, fd);
	if (!sk || BPF_CORE_READ(sk, sk_type) != SF_SOCK_DGRAM)
		return 0;
	__u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (fam != SF_AF_INET && fam != SF_AF_INET6)
		return 0;
	/* what the socket counted goes first, to the peer it had (this datagram's peer
	 * becomes the socket's in the consumer's state) */
	sf_g_ship_fd(c->tgid, fd, 0, 0, c->now);
	struct sf_scratch *s = sf_net_begin(c, fd);
	if (!s)
		return 0;
	struct sf_hdr *h = (void *)s->buf;
	h->nr = as_nr;
	struct sf_net *n = (void *)(s->buf + sizeof(struct sf_hdr));
	n->res = bytes;
	n->sock_type = SF_SOCK_DGRAM;
	/* local side from the socket, the peer from the call */
	sf_sk_tuple(sk, &n->t, !write);
	__u16 port = 0;
	__u16 pf = sf_user_inet((const void *)ua, write ? n->t.daddr : n->t.saddr, &port);
	if (pf != SF_AF_INET && pf != SF_AF_INET6)
		return 0;
	if (write)
		n->t.dport = port;
	else
		n->t.sport = port;
	if (pf != n->t.family) {
		/* an IPv4 peer given to an IPv6 socket cannot be: ship what the call said */
		n->t.family = pf;
	}
	sf_submit(s->buf, SF_NET_OFF);
	return 1;
}

/* sendmmsg/recvmmsg: every message (struct mmsghdr: a msghdr then msg_len) */
struct sf_mmsg_ctx {
	struct sf_call *c;
	__u64 ops;
	__u64 bytes;
	__u32 write;
	__u32 pad;
};

static long sf_mmsg_step(__u64 i, void *ctx)
{
	struct sf_mmsg_ctx *m = ctx;
	struct sf_call *c = m->c;
	if ((__s64)i >= c->ret)
		return 1;
	/* native: msghdr is 56 bytes, msg_len at 56, 64 per message; ia32: 28, 28, 32 */
	__u64 base = c->arg[1] + i * (c->compat ? 32 : 64);
	__u32 len = 0;
	__u64 ua = 0;
	bpf_probe_read_user(&len, sizeof(len), (const void *)(base + (c->compat ? 28 : 56)));
	if (c->compat) {
		__u32 ua32 = 0;
		bpf_probe_read_user(&ua32, sizeof(ua32), (const void *)base);
		ua = ua32;
	} else {
		bpf_probe_read_user(&ua, sizeof(ua), (const void *)base);
	}
	if (ua && sf_g_dgram(c, m->write, ua, len, m->write ? SF_NR_SENDMSG : SF_NR_RECVMSG))
		return 0;
	m->ops += 1;
	m->bytes += len;
	return 0;
}

__noinline int sf_g_mmsg(struct sf_call *c, __u32 write)
{
	if (!c)
		return 0;
	struct sf_mmsg_ctx m = { .c = c, .write = write };
	if (c->ret > 0)
		bpf_loop(SF_MMSG_MAX, sf_mmsg_step, &m, 0);
	else
		m.ops = 1; /* a failed call is one op, as a failed read is */
	if (m.ops)
		sf_count(c->tgid, c->tid, (__s32)c->arg[0], c->ret, write, m.ops, m.bytes);
	return 0;
}

/*
 * recvmsg: fds received with SCM_RIGHTS were made in another process (the capture saw
 * no open, socket or accept for them here): what each is, from the kernel. Up to
 * SF_SCM_CMSGS control messages of up to SF_SCM_FDS fds each; more are counted in
 * sf_stats.scm_unnamed. (Fds received through recvmmsg are read from /proc at first use.)
 */
#define SF_SCM_CMSGS 4
#define SF_SCM_FDS 8
__noinline int sf_g_scm_rights(struct sf_call *c)
{
	if (!c || c->ret < 0)
		return 0;
	const __u8 *m = (const void *)c->arg[1];
	__u64 ctl = 0, len = 0;
	if (c->compat) {
		__u32 v[2] = {}; /* compat_msghdr.msg_control, msg_controllen */
		if (bpf_probe_read_user(v, sizeof(v), m + 16))
			return 0;
		ctl = v[0];
		len = v[1];
	} else {
		__u64 v[2] = {}; /* msghdr.msg_control, msg_controllen (as the kernel left it) */
		if (bpf_probe_read_user(v, sizeof(v), m + 32))
			return 0;
		ctl = v[0];
		len = v[1];
	}
	__u32 hsz = c->compat ? 12 : 16, align = c->compat ? 4 : 8;
	if (!ctl || len < hsz)
		return 0;
	__u64 off = 0;
	for (int i = 0; i < SF_SCM_CMSGS; i++) {
		if (off + hsz > len)
			return 0;
		const __u8 *cm = (const void *)(ctl + off);
		__u64 clen = 0;
		__s32 lt[2] = {}; /* cmsg_level, cmsg_type */
		if (c->compat) {
			__u32 l32 = 0;
			if (bpf_probe_read_user(&l32, 4, cm) || bpf_probe_read_user(lt, 8, cm + 4))
				return 0;
			clen = l32;
		} else if (bpf_probe_read_user(&clen, 8, cm) || bpf_probe_read_user(lt, 8, cm + 8)) {
			return 0;
		}
		if (clen < hsz || off + clen > len)
			return 0;
		if (lt[0] == 1 /* SOL_SOCKET */ && lt[1] == 1 /* SCM_RIGHTS */) {
			__u64 n = (clen - hsz) / 4;
			if (n > SF_SCM_FDS) {
				struct sf_stats *st = sf_st();
				if (st)
					st->scm_unnamed += n - SF_SCM_FDS;
			}
			for (int j = 0; j < SF_SCM_FDS; j++) {
				__s32 fd = -1;
				if (j >= n || bpf_probe_read_user(&fd, 4, cm + hsz + j * 4))
					break;
				sf_fd_seen_made(c->tgid, c->tid, fd);
			}
		}
		off += (clen + align - 1) & ~(__u64)(align - 1);
	}
	return 0;
}

/*
 * TCP Fast Open: a send with MSG_FASTOPEN and an address on an unconnected TCP socket
 * connects it and sends in one call, with no connect syscall. It is shipped as the connect
 * it made (the socket's endpoints after it, the address asked for), before the call's
 * bytes are counted on the connection.
 */
__noinline int sf_g_fastopen(struct sf_call *c, __u64 ua, __u64 ualen)
{
	if (!c || !ua)
		return 0;
	struct sock *sk = sf_fd_sock((void *)c->task, (__s32)c->arg[0]);
	if (!sk || BPF_CORE_READ(sk, sk_type) != SF_SOCK_STREAM)
		return 0;
	__u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (fam != SF_AF_INET && fam != SF_AF_INET6)
		return 0;
	struct sf_call *cc = sf_call_slot(SF_CALL_DERIVED);
	if (!cc)
		return 0;
	*cc = *c;
	cc->nr = SF_NR_CONNECT;
	cc->arg[1] = ua;
	cc->arg[2] = ualen;
	cc->ret = c->ret >= 0 ? 0 : c->ret;
	return sf_g_conn(cc);
}

/* send/recv family: a datagram with a peer address is shipped; every other call counted */
__noinline int sf_g_sendrecv(struct sf_call *c, __u32 write)
{
	if (!c)
		return 0;
	__s32 fd = (__s32)c->arg[0];
	__u64 nr = c->nr;
	/* (sendmmsg and recvmmsg: sf_g_mmsg, called from sf_g_dispatch: a frame less on the
	 * deepest call chain) */
	if (c->ret >= 0 || (write && c->ret == -SF_EINPROGRESS)) {
		__u64 ua = 0, ualen = 0;
		if (nr == SF_NR_SENDTO || nr == SF_NR_RECVFROM) {
			ua = c->arg[4];
			ualen = c->arg[5];
		} else if (c->compat) {
			__u32 v[2] = {}; /* compat_msghdr.msg_name, msg_namelen */
			bpf_probe_read_user(v, sizeof(v), (const void *)c->arg[1]);
			ua = v[0];
			ualen = v[1];
		} else {
			struct {
				__u64 name;
				__u32 namelen;
			} m = {}; /* msghdr.msg_name, msg_namelen */
			bpf_probe_read_user(&m, 12, (const void *)c->arg[1]);
			ua = m.name;
			ualen = m.namelen;
		}
		__u64 flags = nr == SF_NR_SENDTO ? c->arg[3] : c->arg[2];
		if (write && ua && (flags & SF_MSG_FASTOPEN))
			sf_g_fastopen(c, ua, ualen);
		if (c->ret < 0)
			goto count;
		/* (a recvmsg's SCM_RIGHTS fds: sf_g_scm_rights, called before this from
		 * sf_g_dispatch, a frame less on the deepest call chain) */
		if (ua && sf_g_dgram(c, write, ua, c->ret, nr))
			return 0;
	}
count:
	sf_count(c->tgid, c->tid, fd, c->ret, write, 1, c->ret > 0 ? c->ret : 0);
	return 0;
}

/* ---- 32-bit syscalls ---- */

/* socketcall(call, args): which x86-64 syscall each call is, and how many u32 args it has */
static __always_inline __u64 sf_socketcall(struct sf_call *c)
{
	__u32 call = c->arg[0];
	__u64 uargs = c->arg[1];
	__u64 nr = SF_NR_NONE;
	__u32 nargs = 0;
	switch (call) {
	case 1: nr = SF_NR_SOCKET; nargs = 3; break;
	case 2: nr = SF_NR_BIND; nargs = 3; break;
	case 3: nr = SF_NR_CONNECT; nargs = 3; break;
	case 5: nr = SF_NR_ACCEPT; nargs = 3; break;
	case 8: nr = SF_NR_SOCKETPAIR; nargs = 4; break;
	case 9: nr = SF_NR_SENDTO; nargs = 4; break;	/* send */
	case 10: nr = SF_NR_RECVFROM; nargs = 4; break; /* recv */
	case 11: nr = SF_NR_SENDTO; nargs = 6; break;
	case 12: nr = SF_NR_RECVFROM; nargs = 6; break;
	case 13: nr = SF_NR_SHUTDOWN; nargs = 2; break;
	case 16: nr = SF_NR_SENDMSG; nargs = 3; break;
	case 17: nr = SF_NR_RECVMSG; nargs = 3; break;
	case 18: nr = SF_NR_ACCEPT4; nargs = 4; break;
	case 19: nr = SF_NR_RECVMMSG; nargs = 5; break;
	case 20: nr = SF_NR_SENDMMSG; nargs = 4; break;
	default: return SF_NR_NONE;
	}
	__u32 a[6] = {};
	__u32 size = nargs * sizeof(__u32);
	if (size < 4 || size > sizeof(a))
		return SF_NR_NONE;
	if (bpf_probe_read_user(a, size, (const void *)uargs))
		return SF_NR_NONE;
	for (int i = 0; i < 6; i++)
		c->arg[i] = i < nargs ? a[i] : 0;
	return nr;
}

/* the 16-bit uid/gid calls: -1 is 0xffff there */
static __always_inline __u64 sf_id16(__u64 v)
{
	v &= 0xffff;
	return v == 0xffff ? 0xffffffff : v;
}

/* translates a 32-bit syscall in c (raw number, raw registers) to its x86-64 number and
 * argument layout; SF_NR_NONE when it has none */
static __always_inline __u64 sf_ia32(struct sf_call *c, __u64 raw)
{
	if (raw == SF_IA32_SOCKETCALL)
		return sf_socketcall(c);
	if (raw >= SF_NR_MAX)
		return SF_NR_NONE;
	__u64 nr = sf_ia32_nr[raw];
	switch (raw) {
	case 23:  /* setuid */
	case 46:  /* setgid */
	case 70:  /* setreuid */
	case 71:  /* setregid */
	case 164: /* setresuid */
	case 170: /* setresgid */
		for (int i = 0; i < 3; i++)
			c->arg[i] = sf_id16(c->arg[i]);
		break;
	default:
		break;
	}
	return nr;
}

/* every captured syscall but the counted native reads, writes, sends and receives of the
 * hot path */
__noinline int sf_g_dispatch(struct sf_call *c)
{
	if (!c)
		return 0;
	switch (c->nr) {
	case SF_NR_READ:
	case SF_NR_PREAD64:
	case SF_NR_READV:
	case SF_NR_PREADV:
	case SF_NR_PREADV2:
		sf_count(c->tgid, c->tid, (__s32)c->arg[0], c->ret, false, 1, c->ret > 0 ? c->ret : 0);
		break;
	case SF_NR_WRITE:
	case SF_NR_PWRITE64:
	case SF_NR_WRITEV:
	case SF_NR_PWRITEV:
	case SF_NR_PWRITEV2:
		sf_count(c->tgid, c->tid, (__s32)c->arg[0], c->ret, true, 1, c->ret > 0 ? c->ret : 0);
		break;
	case SF_NR_MMAP:
		if ((c->arg[3] & SF_MAP_ANONYMOUS) || (__s32)c->arg[4] < 0)
			break; /* anonymous maps change no flow */
		sf_g_plain(c);
		break;
	case SF_NR_SENDFILE:
	case SF_NR_COPY_FILE_RANGE:
	case SF_NR_SPLICE:
	case SF_NR_TEE:
	case SF_NR_VMSPLICE:
		sf_g_move(c);
		break;
	case SF_NR_RECVMSG:
		sf_g_scm_rights(c); /* (nothing when the call failed) */
		sf_g_sendrecv(c, 0);
		break;
	case SF_NR_RECVFROM:
		sf_g_sendrecv(c, 0);
		break;
	case SF_NR_SENDTO:
	case SF_NR_SENDMSG:
		sf_g_sendrecv(c, 1);
		break;
	case SF_NR_RECVMMSG:
		sf_g_mmsg(c, 0);
		break;
	case SF_NR_SENDMMSG:
		sf_g_mmsg(c, 1);
		break;
	case SF_NR_OPEN:
	case SF_NR_OPENAT:
	case SF_NR_OPENAT2:
	case SF_NR_CREAT:
	case SF_NR_OPEN_BY_HANDLE_AT:
		sf_g_open(c);
		break;
	case SF_NR_EVENTFD:
	case SF_NR_EVENTFD2:
	case SF_NR_EPOLL_CREATE:
	case SF_NR_EPOLL_CREATE1:
	case SF_NR_MEMFD_CREATE:
	case SF_NR_TIMERFD_CREATE:
	case SF_NR_SIGNALFD:
	case SF_NR_SIGNALFD4:
	case SF_NR_PIDFD_OPEN:
	case SF_NR_PIDFD_GETFD:
	case SF_NR_INOTIFY_INIT:
	case SF_NR_INOTIFY_INIT1:
	case SF_NR_FANOTIFY_INIT:
	case SF_NR_USERFAULTFD:
	case SF_NR_IO_URING_SETUP:
	case SF_NR_PERF_EVENT_OPEN:
	case SF_NR_MEMFD_SECRET:
		sf_g_newfd(c);
		break;
	case SF_NR_CLOSE:
		sf_g_close(c);
		break;
	case SF_NR_CLOSE_RANGE:
		sf_g_close_range(c);
		break;
	case SF_NR_CLONE:
	case SF_NR_CLONE3:
	case SF_NR_FORK:
	case SF_NR_VFORK:
		sf_g_clone(c);
		break;
	case SF_NR_EXECVE:
	case SF_NR_EXECVEAT:
		sf_g_exec_fail(c);
		break;
	case SF_NR_CONNECT:
	case SF_NR_ACCEPT:
	case SF_NR_ACCEPT4:
		sf_g_conn(c);
		break;
	case SF_NR_BIND:
		sf_g_bind(c);
		break;
	case SF_NR_DUP:
	case SF_NR_DUP2:
	case SF_NR_DUP3:
	case SF_NR_FCNTL:
		sf_g_dup(c);
		break;
	case SF_NR_PIPE:
	case SF_NR_PIPE2:
	case SF_NR_SOCKETPAIR:
		sf_g_pipe(c);
		break;
	case SF_NR_CHDIR:
	case SF_NR_FCHDIR:
		sf_g_chdir(c);
		break;
	case SF_NR_MKDIR:
	case SF_NR_MKDIRAT:
	case SF_NR_RMDIR:
	case SF_NR_UNLINK:
	case SF_NR_UNLINKAT:
	case SF_NR_LINK:
	case SF_NR_LINKAT:
	case SF_NR_SYMLINK:
	case SF_NR_SYMLINKAT:
	case SF_NR_RENAME:
	case SF_NR_RENAMEAT:
	case SF_NR_RENAMEAT2:
		sf_g_fileop(c);
		break;
	default:
		/* socket, shutdown, setns, set*id: arguments and result say it all */
		sf_g_plain(c);
		break;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */

/* whether samplingRatio skips this syscall (counted in sf_stats.sampled_out) */
static __always_inline bool sf_sampled_out(__u64 nr)
{
	if (sf_sampling <= 1 || !sf_bit(sf_sample_bitmap, nr))
		return false;
	struct sf_stats *st = sf_st();
	if (st && (st->sample_clock++ % sf_sampling) != 0) {
		st->sampled_out++;
		return true;
	}
	return false;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sf_sys_exit, struct pt_regs *regs, long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	if (tgid == sf_self_tgid)
		return 0;
	/* tp_btf: regs is a trusted BTF pointer, direct loads are fine */
	__u64 raw = regs->orig_ax; /* -1 when not a syscall */
	bool native = sf_bit(sf_sys_bitmap, raw);
	if (!native && !sf_bit(sf_sys_bitmap32, raw))
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	bool compat = task->thread_info.status & SF_TS_COMPAT;
	if (!compat && !native)
		return 0;
	__u32 tid = (__u32)pid_tgid;
	__u64 nr = raw;
	if (!compat) {
		if (sf_sampled_out(nr))
			return 0;
		/* hot path: native reads and writes (and sends and receives with no address) are
		 * only counted, before any other work */
		bool write = false;
		switch (nr) {
		case SF_NR_READ:
		case SF_NR_PREAD64:
		case SF_NR_READV:
		case SF_NR_PREADV:
		case SF_NR_PREADV2:
			goto count;
		case SF_NR_WRITE:
		case SF_NR_PWRITE64:
		case SF_NR_WRITEV:
		case SF_NR_PWRITEV:
		case SF_NR_PWRITEV2:
			write = true;
			goto count;
		case SF_NR_RECVFROM:
			/* no address asked for: a read (as sf_g_sendrecv counts it) */
			if (regs->r8 == 0)
				goto count;
			break;
		case SF_NR_SENDTO:
			/* no address given: a write (no datagram peer, no TCP Fast Open) */
			if (regs->r8 == 0) {
				write = true;
				goto count;
			}
			break;
		case SF_NR_MMAP:
			if ((regs->r10 & SF_MAP_ANONYMOUS) || (__s32)regs->r8 < 0)
				return 0; /* anonymous maps change no flow */
			break;
		default:
			break;
		}
		goto call;
	count:
		/* one counting site (sf_count is inlined: one copy keeps this frame small) */
		sf_count(tgid, tid, (__s32)regs->di, ret, write, 1, ret > 0 ? ret : 0);
		return 0;
	}
call:;
	struct sf_call *c = sf_call_slot(SF_CALL_SYS);
	if (!c)
		return 0;
	c->ret = ret;
	c->task = (__u64)task;
	c->tgid = tgid;
	c->tid = tid;
	if (compat) {
		/* int 0x80 / ia32: ebx, ecx, edx, esi, edi, ebp, 32 bits each */
		c->arg[0] = (__u32)regs->bx;
		c->arg[1] = (__u32)regs->cx;
		c->arg[2] = (__u32)regs->dx;
		c->arg[3] = (__u32)regs->si;
		c->arg[4] = (__u32)regs->di;
		c->arg[5] = (__u32)regs->bp;
		c->compat = 1;
		c->hflags = SF_HF_COMPAT;
		nr = sf_ia32(c, raw);
		if (!sf_bit(sf_sys_bitmap, nr) || sf_sampled_out(nr))
			return 0;
	} else {
		c->arg[0] = regs->di;
		c->arg[1] = regs->si;
		c->arg[2] = regs->dx;
		c->arg[3] = regs->r10; /* 4th syscall arg */
		c->arg[4] = regs->r8;
		c->arg[5] = regs->r9;
		c->compat = 0;
		c->hflags = 0;
	}
	c->nr = nr;
	c->now = bpf_ktime_get_boot_ns();
	sf_g_dispatch(c);
	return 0;
}

/* ---- io_uring ----
 *
 * Requests never pass through the syscall hooks: io_uring_enter submits them and the
 * kernel (inline, from task work, or on an io-wq worker thread of the process) completes
 * them. At submission the probe notes which fd a request works on and what it asked (the
 * fd is gone from the request by completion time); at completion it turns the result
 * into the records the equivalent syscall would give (SF_HF_URING set): reads, writes,
 * sends and receives are counted on the fd; opens, closes, connects, accepts, sockets and
 * shutdowns are shipped. Requests on registered (fixed) files, and results installed as
 * fixed files, have no fd number in the process and are counted in sf_stats.uring_other,
 * as are the operations not modelled here.
 */

#define SF_PF_IO_WORKER 0x10
#define SF_CQE_F_MORE 2

struct sf_uring_req {
	__u32 tgid;
	__u32 tid;
	__s32 fd;
	__u32 opcode;
	__u64 aux[3]; /* openat: flags, dirfd; socket: domain, type, protocol; connect: the
		       * address (sockaddr_in, or sockaddr_in6 without its scope id) */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* the request (struct io_kiocb *) */
	__type(value, struct sf_uring_req);
} sf_uring SEC(".maps");

static __always_inline void sf_uring_other(void)
{
	struct sf_stats *st = sf_st();
	if (st)
		st->uring_other++;
}

/* A connect's address (sockaddr_in, or sockaddr_in6 without its scope id) into r->aux,
 * read at submission from the caller's buffer as the connect syscall's is at its exit:
 * the kernel copies it during the submission (at prep since 6.10) and the caller may
 * reuse the buffer before the request completes. Left zero (no address) when it is
 * neither or shorter than its family's. */
static __always_inline void sf_uring_conn_addr(struct io_connect *conn, struct sf_uring_req *r)
{
	const void *ua = BPF_CORE_READ(conn, addr);
	__s32 len = BPF_CORE_READ(conn, addr_len);
	__u16 fam = 0;
	if (!ua || bpf_probe_read_user(&fam, sizeof(fam), ua))
		return;
	if (fam == SF_AF_INET && len >= 16)
		bpf_probe_read_user(r->aux, 16, ua);
	else if (fam == SF_AF_INET6 && len >= 24)
		bpf_probe_read_user(r->aux, 24, ua);
}

SEC("tp_btf/io_uring_submit_req")
int BPF_PROG(sf_uring_submit, struct io_kiocb *req)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	if (tgid == sf_self_tgid)
		return 0;
	/* requests are recycled: a request not kept below must not find the entry of an
	 * earlier one at the same address (one whose completion never came: a success with
	 * IOSQE_CQE_SKIP_SUCCESS, a full completion queue) */
	__u64 key = (__u64)req;
	struct sf_uring_req r = { .tgid = tgid, .tid = (__u32)pid_tgid, .fd = -1 };
	r.opcode = BPF_CORE_READ(req, opcode);
	/* submitted by an io_uring thread (SQPOLL): records go to the process */
	struct task_struct *task = bpf_get_current_task_btf();
	if (task->flags & SF_PF_IO_WORKER)
		r.tid = tgid;
	/* REQ_F_FIXED_FILE is IOSQE_FIXED_FILE's bit, part of the uapi */
	bool fixed = BPF_CORE_READ(req, flags) & REQ_F_FIXED_FILE;
	switch (r.opcode) {
	case IORING_OP_READV:
	case IORING_OP_WRITEV:
	case IORING_OP_READ_FIXED:
	case IORING_OP_WRITE_FIXED:
	case IORING_OP_READ:
	case IORING_OP_WRITE:
	case IORING_OP_READ_MULTISHOT:
	case IORING_OP_SEND:
	case IORING_OP_RECV:
	case IORING_OP_SENDMSG:
	case IORING_OP_RECVMSG:
	case IORING_OP_SEND_ZC:
	case IORING_OP_SENDMSG_ZC:
	case IORING_OP_CONNECT:
	case IORING_OP_ACCEPT:
	case IORING_OP_SHUTDOWN:
		if (fixed) {
			sf_uring_other();
			goto forget;
		}
		r.fd = BPF_CORE_READ(req, cqe.fd);
		if (r.opcode == IORING_OP_CONNECT)
			sf_uring_conn_addr((struct io_connect *)req, &r);
		if (r.opcode == IORING_OP_ACCEPT &&
		    BPF_CORE_READ((struct io_accept *)req, file_slot)) {
			sf_uring_other(); /* the new socket becomes a fixed file */
			goto forget;
		}
		break;
	case IORING_OP_OPENAT:
	case IORING_OP_OPENAT2:
		if (BPF_CORE_READ((struct io_open *)req, file_slot)) {
			sf_uring_other();
			goto forget;
		}
		r.aux[0] = BPF_CORE_READ((struct io_open *)req, how.flags);
		r.aux[1] = (__u64)(__s64)BPF_CORE_READ((struct io_open *)req, dfd);
		break;
	case IORING_OP_CLOSE:
		if (BPF_CORE_READ((struct io_close *)req, file_slot)) {
			sf_uring_other();
			goto forget;
		}
		r.fd = BPF_CORE_READ((struct io_close *)req, fd);
		break;
	case IORING_OP_SOCKET:
		if (BPF_CORE_READ((struct io_socket *)req, file_slot)) {
			sf_uring_other();
			goto forget;
		}
		r.aux[0] = BPF_CORE_READ((struct io_socket *)req, domain);
		r.aux[1] = BPF_CORE_READ((struct io_socket *)req, type);
		r.aux[2] = BPF_CORE_READ((struct io_socket *)req, protocol);
		break;
	case IORING_OP_NOP:
	case IORING_OP_FSYNC:
	case IORING_OP_POLL_ADD:
	case IORING_OP_POLL_REMOVE:
	case IORING_OP_TIMEOUT:
	case IORING_OP_TIMEOUT_REMOVE:
	case IORING_OP_ASYNC_CANCEL:
	case IORING_OP_LINK_TIMEOUT:
		goto forget; /* no data, no fd */
	default:
		sf_uring_other();
		goto forget;
	}
	bpf_map_update_elem(&sf_uring, &key, &r, BPF_ANY);
	return 0;
forget:
	bpf_map_delete_elem(&sf_uring, &key);
	return 0;
}

__noinline int sf_g_uring_done(struct sf_uring_req *q, __s64 res)
{
	if (!q)
		return 0;
	struct sf_call c = {
		.ret = res,
		.now = bpf_ktime_get_boot_ns(),
		.task = bpf_get_current_task(), /* the submitter or an io-wq thread: same fd table */
		.tgid = q->tgid,
		.tid = q->tid,
		.hflags = SF_HF_URING,
		.arg = { (__u64)(__s64)q->fd }, /* the fd the request works on, as the syscall's */
	};
	__u64 bytes = res > 0 ? res : 0;
	switch (q->opcode) {
	case IORING_OP_READV:
	case IORING_OP_READ_FIXED:
	case IORING_OP_READ:
	case IORING_OP_READ_MULTISHOT:
	case IORING_OP_RECV:
	case IORING_OP_RECVMSG:
		sf_count(q->tgid, q->tid, q->fd, res, false, 1, bytes);
		break;
	case IORING_OP_WRITEV:
	case IORING_OP_WRITE_FIXED:
	case IORING_OP_WRITE:
	case IORING_OP_SEND:
	case IORING_OP_SENDMSG:
	case IORING_OP_SEND_ZC:
	case IORING_OP_SENDMSG_ZC:
		sf_count(q->tgid, q->tid, q->fd, res, true, 1, bytes);
		break;
	case IORING_OP_OPENAT:
	case IORING_OP_OPENAT2:
		/* openat(dirfd, <no user path>, flags): the path comes from the file opened */
		c.nr = SF_NR_OPENAT;
		c.arg[0] = q->aux[1];
		c.arg[2] = q->aux[0];
		sf_g_open(&c);
		break;
	case IORING_OP_CLOSE:
		c.nr = SF_NR_CLOSE;
		sf_g_close(&c);
		break;
	case IORING_OP_CONNECT:
		c.nr = SF_NR_CONNECT;
		/* the address asked for, kept at submission (kernel memory: this copy) */
		c.arg[1] = (__u64)q->aux;
		c.arg[2] = sizeof(q->aux);
		sf_g_conn(&c);
		break;
	case IORING_OP_ACCEPT:
		c.nr = SF_NR_ACCEPT4;
		sf_g_conn(&c);
		break;
	case IORING_OP_SOCKET:
		c.nr = SF_NR_SOCKET;
		c.arg[0] = q->aux[0];
		c.arg[1] = q->aux[1];
		c.arg[2] = q->aux[2];
		sf_g_plain(&c);
		break;
	case IORING_OP_SHUTDOWN:
		c.nr = SF_NR_SHUTDOWN;
		sf_g_plain(&c);
		break;
	default:
		break;
	}
	return 0;
}

SEC("tp_btf/io_uring_complete")
int BPF_PROG(sf_uring_complete, struct io_ring_ctx *uctx, void *req, struct io_uring_cqe *cqe)
{
	__u64 key = (__u64)req;
	if (!key)
		return 0;
	struct sf_uring_req *r = bpf_map_lookup_elem(&sf_uring, &key);
	if (!r)
		return 0;
	struct sf_uring_req q = *r;
	/* an entry left by an earlier request at this address (see sf_uring_submit) */
	if (BPF_CORE_READ((struct io_kiocb *)req, opcode) != q.opcode) {
		bpf_map_delete_elem(&sf_uring, &key);
		return 0;
	}
	__s32 res = BPF_CORE_READ(cqe, res);
	/* multishot requests complete many times; the last one drops the F_MORE flag */
	if (!(BPF_CORE_READ(cqe, flags) & SF_CQE_F_MORE))
		bpf_map_delete_elem(&sf_uring, &key);
	sf_g_uring_done(&q, res);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(sf_fork, struct task_struct *parent, struct task_struct *child)
{
	/* runs in the parent: remember the child's start for the parent's clone exit */
	__u32 ptgid = BPF_CORE_READ(parent, tgid), ctgid = BPF_CORE_READ(child, tgid);
	if (ctgid != ptgid && (ptgid == sf_self_tgid || bpf_map_lookup_elem(&sf_heirs, &ptgid))) {
		__u8 one = 1;
		bpf_map_update_elem(&sf_heirs, &ctgid, &one, BPF_ANY);
	}
	if (ptgid == sf_self_tgid)
		return 0;
	__u32 tid = bpf_get_current_pid_tgid();
	if (ctgid != ptgid && BPF_CORE_READ(child, real_parent, tgid) != ptgid &&
	    !(BPF_CORE_READ(parent, flags) & SF_PF_KTHREAD)) {
		/* CLONE_PARENT: the child copied its caller's fds, not its kernel parent's (not
		 * from a kernel thread: its children, usermode helpers, make no clone exit) */
		__u32 ctid = BPF_CORE_READ(child, pid);
		bpf_map_update_elem(&sf_fork_caller, &ctid, &tid, BPF_ANY);
	}
	__u64 start = BPF_CORE_READ(child, start_boottime);
	bpf_map_update_elem(&sf_fork_start, &tid, &start, BPF_ANY);
	return 0;
}

static __always_inline void sf_emit_exit(__u32 tgid, __u32 tid, __s64 status, bool group_dead, __u64 now)
{
	struct sf_rec_exit {
		struct sf_hdr h;
		struct sf_exit e;
	} *r = sf_reserve(sizeof(struct sf_rec_exit), SF_K_EXIT, now, tid, tgid);
	if (!r)
		return;
	r->e.status = status;
	r->e.group_dead = group_dead;
	r->e.pad = 0;
	sf_commit(r);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sf_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	if (tgid == sf_self_tgid)
		return 0;
	__u64 now = bpf_ktime_get_boot_ns();
	/* O_CLOEXEC fds close now without a close syscall: ship what the (now
	 * only) thread counted, under the tid it had */
	sf_g_ship_thread(tgid, old_pid, 1, now);
	/* a non-leader exec: the thread took the leader's tid (old_tid tells the consumer;
	 * the thread goes on, so no exit) */
	__u32 tid = BPF_CORE_READ(p, pid);

	struct sf_scratch *s = sf_scratch();
	if (!s)
		return 0;
	struct sf_hdr *h = (void *)s->buf;
	struct sf_proc *pr = (void *)(s->buf + sizeof(struct sf_hdr));
	sf_hdr_init(h, SF_K_EXEC, 0, now, tid, tgid);
	sf_fill_proc(p, pr);
	pr->old_tid = old_pid;
	__u64 cur = bpf_get_current_task(); /* == p, as a plain value for global functions */
	__u32 off = sf_g_args(s, SF_PROC_OFF, cur);
	off = sf_g_cgroups(s, off, cur);
	struct mm_struct *mm = BPF_CORE_READ(p, mm);
	if (mm) {
		__u64 es = BPF_CORE_READ(mm, env_start), ee = BPF_CORE_READ(mm, env_end);
		if (ee > es)
			off = sf_put_ubytes(s->buf, off, SF_S_ENV, (const void *)es, ee - es);
		struct file *exe = BPF_CORE_READ(mm, exe_file);
		if (exe)
			off = sf_g_dpath(s, off, SF_S_EXEPATH, (__u64)BPF_CORE_READ(exe, f_path.dentry),
					 (__u64)BPF_CORE_READ(exe, f_path.mnt));
	}
	off = sf_put_kstr(s->buf, off, SF_S_FILENAME, BPF_CORE_READ(bprm, filename));
	off = sf_g_open_fds(s, off, cur);
	sf_submit(s->buf, off);
	return 0;
}

/* 6.18 passes a second argument (group_dead); read only the first to stay portable */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(sf_exit, struct task_struct *p)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	if (tgid == sf_self_tgid)
		return 0;
	__u32 tid = BPF_CORE_READ(p, pid);
	__u64 now = bpf_ktime_get_boot_ns();
	/* do_exit() decrements signal->live before this tracepoint */
	bool group_dead = BPF_CORE_READ(p, signal, live.counter) == 0;
	/* the thread's counters go before its exit; the last thread's exit also
	 * ships whatever the process still counts, as its fds close silently */
	sf_g_ship_thread(tgid, tid, group_dead, now);
	if (group_dead) { /* its tgid may be reused by a process the collector did not start */
		bpf_map_delete_elem(&sf_heirs, &tgid);
	}
	/* the main thread replaced by an exec in another thread (de_thread): the exec'ing
	 * thread takes its id and goes on as the process, so this is no exit */
	if (tid == tgid && !group_dead && bpf_core_field_exists(struct signal_struct, group_exec_task)) {
		struct task_struct *execing = BPF_CORE_READ(p, signal, group_exec_task);
		if (execing && execing != p)
			return 0;
	}
	sf_emit_exit(tgid, tid, BPF_CORE_READ(p, exit_code), group_dead, now);
	return 0;
}

/*
 * A task moved to another cgroup (a write to cgroup.procs or cgroup.threads, runc
 * placing a container's first process, systemd): the task's cgroups after the move, so
 * the container it belongs to follows the kernel and not only its last exec. Fires after
 * the migration; with threadgroup set the whole thread group moved.
 */
SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(sf_cgroup_attach, struct cgroup *dst_cgrp, const char *path, struct task_struct *task,
	     bool threadgroup)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	if (tgid == sf_self_tgid)
		return 0;
	struct sf_scratch *s = sf_scratch();
	if (!s)
		return 0;
	struct sf_hdr *h = (void *)s->buf;
	sf_hdr_init(h, SF_K_CGROUP, 0, bpf_ktime_get_boot_ns(), BPF_CORE_READ(task, pid), tgid);
	struct sf_cgmove *m = (void *)(s->buf + sizeof(struct sf_hdr));
	m->threadgroup = threadgroup;
	m->in_exec = 0;
	if (bpf_core_field_exists(task->in_execve))
		m->in_exec = BPF_CORE_READ_BITFIELD_PROBED(task, in_execve);
	/* global functions take scalars: read the task pointer again as a plain value */
	__u64 tp = 0;
	bpf_probe_read_kernel(&tp, sizeof(tp), &ctx[2]);
	__u32 off = sf_g_cgroups(s, sizeof(struct sf_hdr) + sizeof(struct sf_cgmove), tp);
	sf_submit(s->buf, off);
	return 0;
}

SEC("iter/task")
int sf_iter_task(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	if (ctx->meta->seq_num == 0) {
		/* first: who reads this iterator (the collector) */
		__u64 pt = bpf_get_current_pid_tgid();
		struct sf_hdr self = {};
		self.kind = SF_K_SELF;
		self.tid = (__u32)pt;
		self.tgid = pt >> 32;
		self.size = sizeof(self);
		bpf_seq_write(seq, &self, sizeof(self));
	}
	if (!task)
		return 0;
	struct sf_scratch *s = sf_scratch();
	if (!s)
		return 0;
	struct sf_hdr *h = (void *)s->buf;
	sf_hdr_init(h, SF_K_TASK, 0, BPF_CORE_READ(task, start_boottime), BPF_CORE_READ(task, pid),
		    BPF_CORE_READ(task, tgid));
	/* global functions take scalars: read the pointer again as a plain value */
	__u64 tp = 0;
	bpf_probe_read_kernel(&tp, sizeof(tp), &ctx->task);
	__u32 off = sf_g_cgroups(s, sizeof(struct sf_hdr), tp);
	if (off < sizeof(struct sf_hdr) || off > SF_REC_MAX)
		off = sizeof(struct sf_hdr);
	h->size = off;
	/* the barrier keeps the mask the verifier needs (the compiler knows off is small) */
	__u32 len = off;
	asm volatile("" : "+r"(len));
	len &= SF_OFF_MASK;
	bpf_seq_write(seq, s->buf, len);
	return 0;
}
