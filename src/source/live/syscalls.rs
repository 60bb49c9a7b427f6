//! Which syscalls the probe captures, per collection mode and drop mode, as the bitmaps
//! the probe checks before doing any work (`sf_sys_bitmap`, `sf_sample_bitmap`).
//!
//! The sets follow the reference (`sfmodes.h` merged with the capture library's
//! state-changing and never-dropped syscalls); see `reference-semantics.md` §8.3.

use super::skel::types::sf_nr;
use crate::config::CollectionMode;

/// Syscalls every mode needs because they change the state (processes, fds, users,
/// working directories).
const STATE: &[sf_nr] = &[
    sf_nr::SF_NR_CLONE,
    sf_nr::SF_NR_CLONE3,
    sf_nr::SF_NR_FORK,
    sf_nr::SF_NR_VFORK,
    sf_nr::SF_NR_EXECVE,
    sf_nr::SF_NR_EXECVEAT,
    sf_nr::SF_NR_OPEN,
    sf_nr::SF_NR_OPENAT,
    sf_nr::SF_NR_OPENAT2,
    sf_nr::SF_NR_CREAT,
    sf_nr::SF_NR_CLOSE,
    sf_nr::SF_NR_CLOSE_RANGE,
    sf_nr::SF_NR_SOCKET,
    sf_nr::SF_NR_SOCKETPAIR,
    sf_nr::SF_NR_BIND,
    sf_nr::SF_NR_CONNECT,
    sf_nr::SF_NR_ACCEPT,
    sf_nr::SF_NR_ACCEPT4,
    sf_nr::SF_NR_DUP,
    sf_nr::SF_NR_DUP2,
    sf_nr::SF_NR_DUP3,
    sf_nr::SF_NR_FCNTL,
    sf_nr::SF_NR_PIPE,
    sf_nr::SF_NR_PIPE2,
    sf_nr::SF_NR_CHDIR,
    sf_nr::SF_NR_FCHDIR,
    sf_nr::SF_NR_SETUID,
    sf_nr::SF_NR_SETGID,
    sf_nr::SF_NR_SETREUID,
    sf_nr::SF_NR_SETREGID,
    sf_nr::SF_NR_SETRESUID,
    sf_nr::SF_NR_SETRESGID,
    // every other call that makes an fd: its number then names something new
    sf_nr::SF_NR_OPEN_BY_HANDLE_AT,
    sf_nr::SF_NR_EVENTFD,
    sf_nr::SF_NR_EVENTFD2,
    sf_nr::SF_NR_EPOLL_CREATE,
    sf_nr::SF_NR_EPOLL_CREATE1,
    sf_nr::SF_NR_MEMFD_CREATE,
    sf_nr::SF_NR_TIMERFD_CREATE,
    sf_nr::SF_NR_SIGNALFD,
    sf_nr::SF_NR_SIGNALFD4,
    sf_nr::SF_NR_PIDFD_OPEN,
    sf_nr::SF_NR_PIDFD_GETFD,
    sf_nr::SF_NR_INOTIFY_INIT,
    sf_nr::SF_NR_INOTIFY_INIT1,
    sf_nr::SF_NR_FANOTIFY_INIT,
    sf_nr::SF_NR_USERFAULTFD,
    sf_nr::SF_NR_IO_URING_SETUP,
    sf_nr::SF_NR_PERF_EVENT_OPEN,
    sf_nr::SF_NR_MEMFD_SECRET,
];

/// Socket sends and receives: every mode captures them (network flows).
const NET_IO: &[sf_nr] = &[
    sf_nr::SF_NR_SENDTO,
    sf_nr::SF_NR_RECVFROM,
    sf_nr::SF_NR_SENDMSG,
    sf_nr::SF_NR_RECVMSG,
    sf_nr::SF_NR_SENDMMSG,
    sf_nr::SF_NR_RECVMMSG,
];

/// Reads and writes on any fd (counted in the kernel).
const IO: &[sf_nr] = &[
    sf_nr::SF_NR_READ,
    sf_nr::SF_NR_WRITE,
    sf_nr::SF_NR_PREAD64,
    sf_nr::SF_NR_PWRITE64,
    sf_nr::SF_NR_READV,
    sf_nr::SF_NR_WRITEV,
    sf_nr::SF_NR_PREADV,
    sf_nr::SF_NR_PWRITEV,
    sf_nr::SF_NR_PREADV2,
    sf_nr::SF_NR_PWRITEV2,
    // data moved between two fds without read/write: a read of one, a write of the other
    sf_nr::SF_NR_SENDFILE,
    sf_nr::SF_NR_COPY_FILE_RANGE,
    sf_nr::SF_NR_SPLICE,
    sf_nr::SF_NR_TEE,
    sf_nr::SF_NR_VMSPLICE,
];

/// File-system operations (SysFlow file events).
const FILE_OPS: &[sf_nr] = &[
    sf_nr::SF_NR_MKDIR,
    sf_nr::SF_NR_MKDIRAT,
    sf_nr::SF_NR_RMDIR,
    sf_nr::SF_NR_LINK,
    sf_nr::SF_NR_LINKAT,
    sf_nr::SF_NR_UNLINK,
    sf_nr::SF_NR_UNLINKAT,
    sf_nr::SF_NR_SYMLINK,
    sf_nr::SF_NR_SYMLINKAT,
    sf_nr::SF_NR_RENAME,
    sf_nr::SF_NR_RENAMEAT,
    sf_nr::SF_NR_RENAMEAT2,
];

/// Flow mode only: socket shutdown and namespace changes.
const FLOW_EXTRA: &[sf_nr] = &[sf_nr::SF_NR_SHUTDOWN, sf_nr::SF_NR_SETNS];

/// File mappings (flow mode without drop mode).
const MMAP: &[sf_nr] = &[sf_nr::SF_NR_MMAP];

/// Syscalls whose events may be skipped by `samplingRatio`: none of them changes the
/// state or ends a flow (process lifecycle, opens, closes, dups, sockets, ids, working
/// directories are never sampled).
const SAMPLEABLE: [&[sf_nr]; 5] = [IO, NET_IO, MMAP, FILE_OPS, FLOW_EXTRA];

/// Number of 64-bit words of a syscall bitmap.
pub(super) const WORDS: usize = 8;

/// A bitmap of syscall numbers, as the probe's `.rodata` holds it.
pub(super) type Bitmap = [u64; WORDS];

fn set(map: &mut Bitmap, nrs: &[sf_nr]) {
    for nr in nrs {
        let n = nr.0 as usize;
        map[n / 64] |= 1 << (n % 64);
    }
}

/// Whether `nr` is in `map`.
#[cfg(test)]
pub(super) fn has(map: &Bitmap, nr: u32) -> bool {
    let n = nr as usize;
    n < WORDS * 64 && map[n / 64] & (1 << (n % 64)) != 0
}

/// The syscalls captured in `mode`. `drop_mode` leaves out mmap (SysFlow's drop mode
/// removes the calls it does not need; file mmaps only add a flag to file flows).
pub(super) fn captured(mode: CollectionMode, drop_mode: bool) -> Bitmap {
    let mut m = [0; WORDS];
    set(&mut m, STATE);
    set(&mut m, NET_IO);
    match mode {
        CollectionMode::Flow => {
            set(&mut m, IO);
            set(&mut m, FILE_OPS);
            set(&mut m, FLOW_EXTRA);
            if !drop_mode {
                set(&mut m, MMAP);
            }
        }
        CollectionMode::Consumer => set(&mut m, FILE_OPS),
        CollectionMode::NoFiles => {}
    }
    m
}

/// 32-bit (ia32, `int 0x80`) syscall numbers and the x86-64 syscall each one is, from the
/// kernel's `arch/x86/entry/syscalls/syscall_32.tbl`. The probe translates number and
/// argument registers (ebx, ecx, edx, esi, edi, ebp) and decodes 32-bit user structures
/// (`msghdr`, `mmsghdr`) itself; the 16-bit uid/gid calls have their `-1` widened.
/// `socketcall` (102) is decoded in the probe from its call number.
const IA32: &[(u32, sf_nr)] = &[
    (2, sf_nr::SF_NR_FORK),
    (3, sf_nr::SF_NR_READ),
    (4, sf_nr::SF_NR_WRITE),
    (5, sf_nr::SF_NR_OPEN),
    (6, sf_nr::SF_NR_CLOSE),
    (8, sf_nr::SF_NR_CREAT),
    (9, sf_nr::SF_NR_LINK),
    (10, sf_nr::SF_NR_UNLINK),
    (11, sf_nr::SF_NR_EXECVE),
    (12, sf_nr::SF_NR_CHDIR),
    (23, sf_nr::SF_NR_SETUID), // 16-bit ids
    (38, sf_nr::SF_NR_RENAME),
    (39, sf_nr::SF_NR_MKDIR),
    (40, sf_nr::SF_NR_RMDIR),
    (41, sf_nr::SF_NR_DUP),
    (42, sf_nr::SF_NR_PIPE),
    (46, sf_nr::SF_NR_SETGID), // 16-bit
    (55, sf_nr::SF_NR_FCNTL),
    (63, sf_nr::SF_NR_DUP2),
    (70, sf_nr::SF_NR_SETREUID), // 16-bit
    (71, sf_nr::SF_NR_SETREGID), // 16-bit
    (83, sf_nr::SF_NR_SYMLINK),
    (120, sf_nr::SF_NR_CLONE),
    (133, sf_nr::SF_NR_FCHDIR),
    (145, sf_nr::SF_NR_READV),
    (146, sf_nr::SF_NR_WRITEV),
    (164, sf_nr::SF_NR_SETRESUID), // 16-bit
    (170, sf_nr::SF_NR_SETRESGID), // 16-bit
    (180, sf_nr::SF_NR_PREAD64),
    (181, sf_nr::SF_NR_PWRITE64),
    (187, sf_nr::SF_NR_SENDFILE),
    (190, sf_nr::SF_NR_VFORK),
    (192, sf_nr::SF_NR_MMAP), // mmap2: same registers, offset in pages
    (203, sf_nr::SF_NR_SETREUID),
    (204, sf_nr::SF_NR_SETREGID),
    (208, sf_nr::SF_NR_SETRESUID),
    (210, sf_nr::SF_NR_SETRESGID),
    (213, sf_nr::SF_NR_SETUID),
    (214, sf_nr::SF_NR_SETGID),
    (221, sf_nr::SF_NR_FCNTL),    // fcntl64
    (239, sf_nr::SF_NR_SENDFILE), // sendfile64
    (254, sf_nr::SF_NR_EPOLL_CREATE),
    (291, sf_nr::SF_NR_INOTIFY_INIT),
    (295, sf_nr::SF_NR_OPENAT),
    (296, sf_nr::SF_NR_MKDIRAT),
    (301, sf_nr::SF_NR_UNLINKAT),
    (302, sf_nr::SF_NR_RENAMEAT),
    (303, sf_nr::SF_NR_LINKAT),
    (304, sf_nr::SF_NR_SYMLINKAT),
    (313, sf_nr::SF_NR_SPLICE),
    (315, sf_nr::SF_NR_TEE),
    (316, sf_nr::SF_NR_VMSPLICE),
    (321, sf_nr::SF_NR_SIGNALFD),
    (322, sf_nr::SF_NR_TIMERFD_CREATE),
    (323, sf_nr::SF_NR_EVENTFD),
    (327, sf_nr::SF_NR_SIGNALFD4),
    (328, sf_nr::SF_NR_EVENTFD2),
    (329, sf_nr::SF_NR_EPOLL_CREATE1),
    (330, sf_nr::SF_NR_DUP3),
    (331, sf_nr::SF_NR_PIPE2),
    (332, sf_nr::SF_NR_INOTIFY_INIT1),
    (333, sf_nr::SF_NR_PREADV),
    (334, sf_nr::SF_NR_PWRITEV),
    (336, sf_nr::SF_NR_PERF_EVENT_OPEN),
    (337, sf_nr::SF_NR_RECVMMSG),
    (338, sf_nr::SF_NR_FANOTIFY_INIT),
    (342, sf_nr::SF_NR_OPEN_BY_HANDLE_AT),
    (345, sf_nr::SF_NR_SENDMMSG),
    (346, sf_nr::SF_NR_SETNS),
    (353, sf_nr::SF_NR_RENAMEAT2),
    (356, sf_nr::SF_NR_MEMFD_CREATE),
    (358, sf_nr::SF_NR_EXECVEAT),
    (359, sf_nr::SF_NR_SOCKET),
    (360, sf_nr::SF_NR_SOCKETPAIR),
    (361, sf_nr::SF_NR_BIND),
    (362, sf_nr::SF_NR_CONNECT),
    (364, sf_nr::SF_NR_ACCEPT4),
    (369, sf_nr::SF_NR_SENDTO),
    (370, sf_nr::SF_NR_SENDMSG),
    (371, sf_nr::SF_NR_RECVFROM),
    (372, sf_nr::SF_NR_RECVMSG),
    (373, sf_nr::SF_NR_SHUTDOWN),
    (374, sf_nr::SF_NR_USERFAULTFD),
    (377, sf_nr::SF_NR_COPY_FILE_RANGE),
    (378, sf_nr::SF_NR_PREADV2),
    (379, sf_nr::SF_NR_PWRITEV2),
    (417, sf_nr::SF_NR_RECVMMSG), // recvmmsg_time64
    (425, sf_nr::SF_NR_IO_URING_SETUP),
    (434, sf_nr::SF_NR_PIDFD_OPEN),
    (435, sf_nr::SF_NR_CLONE3),
    (436, sf_nr::SF_NR_CLOSE_RANGE),
    (437, sf_nr::SF_NR_OPENAT2),
    (438, sf_nr::SF_NR_PIDFD_GETFD),
];

/// ia32 `socketcall`.
const IA32_SOCKETCALL: usize = 102;

/// The socket calls `socketcall` multiplexes.
const SOCKETCALL_TARGETS: &[sf_nr] = &[
    sf_nr::SF_NR_SOCKET,
    sf_nr::SF_NR_BIND,
    sf_nr::SF_NR_CONNECT,
    sf_nr::SF_NR_ACCEPT,
    sf_nr::SF_NR_SOCKETPAIR,
    sf_nr::SF_NR_SENDTO,
    sf_nr::SF_NR_RECVFROM,
    sf_nr::SF_NR_SHUTDOWN,
    sf_nr::SF_NR_SENDMSG,
    sf_nr::SF_NR_RECVMSG,
    sf_nr::SF_NR_ACCEPT4,
    sf_nr::SF_NR_RECVMMSG,
    sf_nr::SF_NR_SENDMMSG,
];

/// The probe's ia32 translation table: index = ia32 number, value = x86-64 number
/// (`SF_NR_NONE`: not captured in any mode).
pub(super) fn ia32_table() -> [u16; WORDS * 64] {
    let mut t = [sf_nr::SF_NR_NONE.0 as u16; WORDS * 64];
    for (raw, nr) in IA32 {
        t[*raw as usize] = nr.0 as u16;
    }
    t
}

/// The ia32 syscall numbers worth a look given the x86-64 syscalls `captured`.
pub(super) fn captured32(captured: &Bitmap) -> Bitmap {
    let on = |nr: sf_nr| {
        let n = nr.0 as usize;
        captured[n / 64] & (1 << (n % 64)) != 0
    };
    let mut m = [0; WORDS];
    for (raw, nr) in IA32 {
        if on(*nr) {
            m[*raw as usize / 64] |= 1 << (raw % 64);
        }
    }
    if SOCKETCALL_TARGETS.iter().any(|nr| on(*nr)) {
        m[IA32_SOCKETCALL / 64] |= 1 << (IA32_SOCKETCALL % 64);
    }
    m
}

/// The syscalls `samplingRatio` may skip.
pub(super) fn sampleable() -> Bitmap {
    let mut m = [0; WORDS];
    for nrs in SAMPLEABLE {
        set(&mut m, nrs);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_follow_the_reference_sets() {
        let flow = captured(CollectionMode::Flow, true);
        let consumer = captured(CollectionMode::Consumer, true);
        let nofiles = captured(CollectionMode::NoFiles, true);
        for m in [&flow, &consumer, &nofiles] {
            for nr in STATE.iter().chain(NET_IO) {
                assert!(has(m, nr.0), "{nr:?} missing");
            }
        }
        assert!(has(&flow, sf_nr::SF_NR_READ.0) && has(&flow, sf_nr::SF_NR_SETNS.0));
        assert!(!has(&consumer, sf_nr::SF_NR_WRITE.0) && has(&consumer, sf_nr::SF_NR_RENAME.0));
        assert!(!has(&nofiles, sf_nr::SF_NR_MKDIR.0) && !has(&nofiles, sf_nr::SF_NR_READ.0));
        assert!(!has(&flow, sf_nr::SF_NR_MMAP.0));
        assert!(has(
            &captured(CollectionMode::Flow, false),
            sf_nr::SF_NR_MMAP.0
        ));
    }

    #[test]
    fn state_changing_calls_are_never_sampled() {
        let s = sampleable();
        for nr in STATE.iter().chain(NET_IO) {
            let io = NET_IO.contains(nr);
            assert_eq!(has(&s, nr.0), io, "{nr:?}");
        }
    }
}
