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
