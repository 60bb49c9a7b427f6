//! Which syscalls the probe captures, per collection mode and drop mode, as the bitmaps
//! the probe checks before doing any work (`sf_sys_bitmap`, `sf_sample_bitmap`).
//!
//! The sets follow the reference (`sfmodes.h` merged with the capture library's
//! state-changing and never-dropped syscalls); see `reference-semantics.md` §8.3. Drop
//! mode (§8.4) removes only the library's always-dropped syscalls (`brk`, `futex`, the
//! `stat` family, …), none of which SysFlow captures, so it leaves every set unchanged;
//! in the probe it also drops failed `close` and `bind` calls (`sf_drop_mode`). The unit
//! tests compare these sets with the lists in the brief, parsed at test time.

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
    // Never dropped by the capture library: a network flow's shutdown is recorded in
    // every mode.
    sf_nr::SF_NR_SHUTDOWN,
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

/// Flow mode only: namespace changes.
const FLOW_EXTRA: &[sf_nr] = &[sf_nr::SF_NR_SETNS];

/// File mappings (flow mode, with or without drop mode: the reference keeps them).
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

/// The syscalls captured in `mode`, with or without drop mode: the reference's drop mode
/// removes only syscalls SysFlow never captures (`reference-semantics.md` §8.4; mmap is
/// kept).
pub(super) fn captured(mode: CollectionMode) -> Bitmap {
    let mut m = [0; WORDS];
    set(&mut m, STATE);
    set(&mut m, NET_IO);
    match mode {
        CollectionMode::Flow => {
            set(&mut m, IO);
            set(&mut m, FILE_OPS);
            set(&mut m, FLOW_EXTRA);
            set(&mut m, MMAP);
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
    use std::collections::{BTreeMap, BTreeSet};

    /// The x86-64 syscall table from the kernel's UAPI header (`__NR_<name> <nr>`): the
    /// independent truth for syscall numbers.
    fn kernel_table() -> Option<BTreeMap<String, u32>> {
        let path = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h";
        let Ok(text) = std::fs::read_to_string(path) else {
            skip(&format!("{path} not found"));
            return None;
        };
        let table: BTreeMap<String, u32> = text
            .lines()
            .filter_map(|l| {
                let mut w = l.strip_prefix("#define __NR_")?.split_whitespace();
                Some((w.next()?.to_owned(), w.next()?.parse().ok()?))
            })
            .collect();
        assert!(table.len() > 300, "{path}: {} syscalls", table.len());
        Some(table)
    }

    fn skip(why: &str) {
        if std::env::var("SYSFLOW_REQUIRE_ALL").as_deref() == Ok("1") {
            panic!("prerequisite missing (SYSFLOW_REQUIRE_ALL=1): {why}");
        }
        eprintln!("SKIP: {why}");
    }

    fn brief() -> Option<String> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/docs/reference-semantics.md"
        );
        let text = std::fs::read_to_string(path);
        if text.is_err() {
            skip(&format!("{path} not found"));
        }
        text.ok()
    }

    /// The text of the section whose heading starts with `heading`.
    fn section<'a>(doc: &'a str, heading: &str) -> &'a str {
        let start = doc
            .find(heading)
            .unwrap_or_else(|| panic!("{heading} missing"));
        let rest = &doc[start + heading.len()..];
        &rest[..rest.find("\n#").unwrap_or(rest.len())]
    }

    /// The text between `open` (which ends with `(`) and its matching `)`.
    fn parenthesised<'a>(text: &'a str, open: &str) -> &'a str {
        let start = text.find(open).unwrap_or_else(|| panic!("{open} missing")) + open.len();
        let mut depth = 1;
        for (i, c) in text[start..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' if depth == 1 => return &text[start..start + i],
                ')' => depth -= 1,
                _ => {}
            }
        }
        panic!("unbalanced list after {open}")
    }

    /// Expands one item of the brief's lists to the x86-64 syscall numbers it names:
    /// `name`, `prefix*`, `a/b` (b a name, or a's ending replaced: `setreuid/regid`),
    /// `execve(at)`, `stat family`. Names without an x86-64 number (mmap2, setuid32,
    /// procexit, …) name nothing here.
    fn expand(item: &str, table: &BTreeMap<String, u32>) -> BTreeSet<u32> {
        let item = item.split_whitespace().collect::<Vec<_>>().join(" ");
        let names: Vec<String> = if let Some(p) = item.strip_suffix('*') {
            table.keys().filter(|n| n.starts_with(p)).cloned().collect()
        } else if let Some(p) = item.strip_suffix(" family") {
            table.keys().filter(|n| n.contains(p)).cloned().collect()
        } else if let Some((a, b)) = item.split_once('/') {
            let b = if table.contains_key(b) {
                b.to_owned()
            } else {
                format!("{}{b}", &a[..a.len() - b.len()])
            };
            vec![a.to_owned(), b]
        } else if let Some((a, b)) = item.strip_suffix(')').and_then(|i| i.split_once('(')) {
            vec![a.to_owned(), format!("{a}{b}")]
        } else {
            vec![item]
        };
        names.iter().filter_map(|n| table.get(n).copied()).collect()
    }

    fn list(text: &str, table: &BTreeMap<String, u32>) -> BTreeSet<u32> {
        text.split(',')
            .map(str::trim)
            .filter(|i| !i.is_empty() && *i != "…")
            .flat_map(|i| expand(i, table))
            .collect()
    }

    /// §8.3's list for the mode named `**name**:`, up to the first `.` or `(`.
    fn mode_list(s83: &str, name: &str, table: &BTreeMap<String, u32>) -> BTreeSet<u32> {
        let tag = format!("**{name}**:");
        let start = s83.find(&tag).unwrap_or_else(|| panic!("{tag} missing")) + tag.len();
        let text = &s83[start..];
        let end = text.find(['.', '(']).unwrap();
        list(&text[..end], table)
    }

    fn numbers(map: &Bitmap) -> BTreeSet<u32> {
        (0..(WORDS * 64) as u32).filter(|&n| has(map, n)).collect()
    }

    fn names(nrs: &BTreeSet<u32>, table: &BTreeMap<String, u32>) -> Vec<String> {
        let by_nr: BTreeMap<u32, &str> = table.iter().map(|(k, v)| (*v, k.as_str())).collect();
        nrs.iter()
            .map(|n| by_nr.get(n).map_or(format!("#{n}"), |s| (*s).to_owned()))
            .collect()
    }

    #[test]
    fn modes_and_drop_mode_follow_the_briefs_lists() {
        let (Some(doc), Some(table)) = (brief(), kernel_table()) else {
            return;
        };
        let nr = |n: &str| table[n];
        let s83 = section(&doc, "### 8.3 Collection modes");
        let s84 = section(&doc, "### 8.4 Drop mode");
        let state = list(parenthesised(s83, "UF_NEVER_DROP syscalls ("), &table);
        let always_drop = list(parenthesised(s84, "UF_ALWAYS_DROP ("), &table);
        // The parse found the lists (spot checks against the kernel's numbering).
        assert!(state.contains(&nr("setregid")) && state.contains(&nr("execveat")));
        assert!(always_drop.contains(&nr("newfstatat")) && always_drop.contains(&nr("semop")));
        assert!(always_drop.contains(&nr("getdents64")) && always_drop.contains(&nr("ppoll")));

        // Listed syscalls SysFlow does nothing with (§1.2: chmod has no case in the
        // dispatch switch; listen is neither dispatched nor part of the state set).
        let unused: BTreeSet<u32> = [nr("chmod"), nr("listen")].into();
        // Captured beyond the lists: the v2 forms of preadv/pwritev (same flows; libs
        // 0.18.1 does not trace them) and close_range (closes fds, like close).
        // Also, deliberately (no blind spots): the calls that move data between fds
        // without read/write, and the fd-creating calls the state set does not list.
        let extra: BTreeSet<u32> = [
            "preadv2",
            "pwritev2",
            "close_range",
            "sendfile",
            "copy_file_range",
            "splice",
            "tee",
            "vmsplice",
            "perf_event_open",
            "fanotify_init",
            "memfd_secret",
        ]
        .into_iter()
        .map(nr)
        .collect();

        for (mode, name) in [
            (CollectionMode::Flow, "SFFlowMode"),
            (CollectionMode::Consumer, "SFConsumerMode"),
            (CollectionMode::NoFiles, "SFNoFilesMode"),
        ] {
            let want = mode_list(s83, name, &table);
            assert!(want.len() > 20, "{name}: {:?}", names(&want, &table));
            let got = numbers(&captured(mode));
            let missing: BTreeSet<u32> = want.difference(&got).copied().collect();
            let missing: BTreeSet<u32> = missing.difference(&unused).copied().collect();
            assert!(
                missing.is_empty(),
                "{name} misses {:?}",
                names(&missing, &table)
            );
            let allowed: BTreeSet<u32> = want.union(&state).chain(&extra).copied().collect();
            let surplus: BTreeSet<u32> = got.difference(&allowed).copied().collect();
            assert!(
                surplus.is_empty(),
                "{name} adds {:?}",
                names(&surplus, &table)
            );
            // Drop mode removes only the always-dropped syscalls: none is captured.
            let dropped: BTreeSet<u32> = got.intersection(&always_drop).copied().collect();
            assert!(
                dropped.is_empty(),
                "{name} captures {:?}",
                names(&dropped, &table)
            );
        }
        assert!(
            has(&captured(CollectionMode::Flow), nr("mmap")),
            "§8.4: mmap kept"
        );
        for mode in [CollectionMode::Consumer, CollectionMode::NoFiles] {
            assert!(!has(&captured(mode), nr("mmap")), "{mode:?}");
        }
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
