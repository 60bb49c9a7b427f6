//! Process list blocks (versions 1 to 9): one [`ProcEntry`] per thread alive when the
//! capture started.

use super::cursor::Cursor;
use super::meta::{BodyError, PAST_END};

/// One thread from a process list block. Fields a block version lacks are `None`
/// (scalars) or empty (lists); `version` says which block version it came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcEntry {
    /// Process list block version (1..=9).
    pub version: u8,
    /// Thread id.
    pub tid: u64,
    /// Process (thread group) id.
    pub pid: u64,
    /// Parent thread id.
    pub ptid: u64,
    /// Session id (V6+).
    pub sid: Option<u64>,
    /// Process group id in the process's pid namespace (V8+).
    pub vpgid: Option<u64>,
    /// Command name.
    pub comm: Vec<u8>,
    /// `argv[0]`-style executable name.
    pub exe: Vec<u8>,
    /// Full executable path (V7+).
    pub exepath: Option<Vec<u8>>,
    /// Arguments, split at NULs (as stored; the list may or may not start with `argv[0]`).
    pub args: Vec<Vec<u8>>,
    /// Current working directory.
    pub cwd: Vec<u8>,
    /// Maximum number of open fds.
    pub fdlimit: u64,
    /// Thread flags (`PPM_CL_*`).
    pub flags: u32,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Virtual memory size in KiB (V2+).
    pub vmsize_kb: Option<u32>,
    /// Resident set size in KiB (V2+).
    pub vmrss_kb: Option<u32>,
    /// Swapped memory in KiB (V2+).
    pub vmswap_kb: Option<u32>,
    /// Major page faults (V2+).
    pub pfmajor: Option<u64>,
    /// Minor page faults (V2+).
    pub pfminor: Option<u64>,
    /// Environment, split at NULs (V3+; empty before).
    pub env: Vec<Vec<u8>>,
    /// Thread id in its pid namespace (V4+).
    pub vtid: Option<i64>,
    /// Process id in its pid namespace (V4+).
    pub vpid: Option<i64>,
    /// Cgroup entries as stored, each `subsys=path` (V4+; empty before).
    /// See [`ProcEntry::cgroup_pairs`].
    pub cgroups: Vec<Vec<u8>>,
    /// Root directory (V5+).
    pub root: Option<Vec<u8>>,
    /// Start time of the pid namespace's init (tail field, libs >= 0.10 captures).
    pub pidns_init_start_ts: Option<u64>,
    /// Controlling terminal (tail field, libs >= 0.10 captures).
    pub tty: Option<u32>,
    /// Audit login uid (tail field).
    pub loginuid: Option<u32>,
    /// Whether the executable is writable by the user (tail field).
    pub exe_writable: Option<bool>,
    /// Inheritable capabilities (tail field).
    pub cap_inheritable: Option<u64>,
    /// Permitted capabilities (tail field).
    pub cap_permitted: Option<u64>,
    /// Effective capabilities (tail field).
    pub cap_effective: Option<u64>,
    /// Executable lives in an overlayfs upper layer (tail field).
    pub exe_upper_layer: Option<bool>,
    /// Executable inode number (tail field).
    pub exe_ino: Option<u64>,
    /// Executable inode change time (tail field).
    pub exe_ino_ctime: Option<u64>,
    /// Executable inode modification time (tail field).
    pub exe_ino_mtime: Option<u64>,
    /// Executable was run from a memfd (tail field).
    pub exe_from_memfd: Option<bool>,
    /// Executable lives in an overlayfs lower layer (tail field).
    pub exe_lower_layer: Option<bool>,
    /// Process group id (tail field, newest libs only).
    pub pgid: Option<i64>,
}

impl ProcEntry {
    /// The cgroup entries split at the first `=` into `(subsystem, path)`; an entry without
    /// `=` yields an empty path.
    pub fn cgroup_pairs(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.cgroups.iter().map(|entry| {
            let entry = entry.as_slice();
            match entry.iter().position(|&b| b == b'=') {
                Some(i) => (
                    entry.get(..i).unwrap_or_default(),
                    entry.get(i.saturating_add(1)..).unwrap_or_default(),
                ),
                None => (entry, &[][..]),
            }
        })
    }
}

/// Pre-0.10 producers wrote at most these many tail bytes (loginuid, exe_writable and
/// three capability sets); a longer tail has the 0.10 layout with `pidns_init_start_ts`
/// and `tty` first.
const PRE_0_10_TAIL_MAX: usize = 29;

/// Parses a process list body of `version` (1..=9), appending to `out`.
pub(crate) fn parse_proclist(
    body: &[u8],
    version: u8,
    out: &mut Vec<ProcEntry>,
) -> Result<(), BodyError> {
    let mut c = Cursor::new(body);
    while c.remaining() >= 4 {
        out.push(parse_entry(&mut c, version)?);
    }
    Ok(())
}

/// Splits a NUL-separated list with the capture state's rule (see
/// [`crate::state::split_nul`]).
fn split_list(bytes: &[u8]) -> Vec<Vec<u8>> {
    crate::state::split_nul(bytes)
}

fn parse_entry(c: &mut Cursor<'_>, version: u8) -> Result<ProcEntry, BodyError> {
    let start = c.pos();
    let bad = |what| BodyError::new(start, what);
    let sub_len = if version >= 9 {
        c.u32().ok_or(bad(PAST_END))?
    } else {
        0
    };
    let mut e = ProcEntry {
        version,
        ..ProcEntry::default()
    };
    let mut fixed = || -> Option<()> {
        e.tid = c.u64()?;
        e.pid = c.u64()?;
        e.ptid = c.u64()?;
        if version >= 6 {
            e.sid = Some(c.u64()?);
        }
        if version >= 8 {
            e.vpgid = Some(c.u64()?);
        }
        e.comm = c.str16()?.to_vec();
        e.exe = c.str16()?.to_vec();
        if version >= 7 {
            e.exepath = Some(c.str16()?.to_vec());
        }
        e.args = split_list(c.str16()?);
        e.cwd = c.str16()?.to_vec();
        e.fdlimit = c.u64()?;
        e.flags = c.u32()?;
        e.uid = c.u32()?;
        e.gid = c.u32()?;
        if version >= 2 {
            e.vmsize_kb = Some(c.u32()?);
            e.vmrss_kb = Some(c.u32()?);
            e.vmswap_kb = Some(c.u32()?);
            e.pfmajor = Some(c.u64()?);
            e.pfminor = Some(c.u64()?);
        }
        if version >= 3 {
            e.env = split_list(c.str16()?);
        }
        if version >= 4 {
            e.vtid = Some(c.i64()?);
            e.vpid = Some(c.i64()?);
            e.cgroups = split_list(c.str16()?);
        }
        if version >= 5 {
            e.root = Some(c.str16()?.to_vec());
        }
        Some(())
    };
    fixed().ok_or(bad(PAST_END))?;

    if sub_len == 0 {
        return Ok(e);
    }
    let end = start
        .checked_add(sub_len as usize)
        .ok_or(bad("entry length overflows"))?;
    let tail_len = end
        .checked_sub(c.pos())
        .ok_or(bad("entry is longer than its recorded length"))?;
    let mut tail = Tail { c: &mut *c, end };
    let mut optional = || -> Option<()> {
        if tail_len > PRE_0_10_TAIL_MAX {
            e.pidns_init_start_ts = tail.u64()?;
            e.tty = tail.u32()?;
        }
        e.loginuid = tail.u32()?;
        e.exe_writable = tail.flag()?;
        e.cap_inheritable = tail.u64()?;
        e.cap_permitted = tail.u64()?;
        e.cap_effective = tail.u64()?;
        e.exe_upper_layer = tail.flag()?;
        e.exe_ino = tail.u64()?;
        e.exe_ino_ctime = tail.u64()?;
        e.exe_ino_mtime = tail.u64()?;
        e.exe_from_memfd = tail.flag()?;
        e.exe_lower_layer = tail.flag()?;
        e.pgid = tail.u64()?.map(|v| v as i64);
        Some(())
    };
    optional().ok_or(bad(PAST_END))?;
    c.seek(end).ok_or(bad(PAST_END))?;
    Ok(e)
}

/// Reads optional trailing fields: a field is present only if it fits before `end`.
/// The outer `Option` is `None` when the block itself ends early.
pub(crate) struct Tail<'c, 'a> {
    pub(crate) c: &'c mut Cursor<'a>,
    pub(crate) end: usize,
}

impl Tail<'_, '_> {
    fn fits(&self, n: usize) -> bool {
        self.c.pos().checked_add(n).is_some_and(|e| e <= self.end)
    }

    pub(crate) fn u64(&mut self) -> Option<Option<u64>> {
        if self.fits(8) {
            self.c.u64().map(Some)
        } else {
            Some(None)
        }
    }

    pub(crate) fn u32(&mut self) -> Option<Option<u32>> {
        if self.fits(4) {
            self.c.u32().map(Some)
        } else {
            Some(None)
        }
    }

    pub(crate) fn flag(&mut self) -> Option<Option<bool>> {
        if self.fits(1) {
            self.c.u8().map(|b| Some(b != 0))
        } else {
            Some(None)
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Writes a process list entry of `version` for `e` (the test-side mirror of the
    /// format), with `tail` appended raw for V9.
    pub(crate) fn encode_entry(e: &ProcEntry, version: u8, tail: &[u8]) -> Vec<u8> {
        fn s(out: &mut Vec<u8>, b: &[u8]) {
            out.extend((b.len() as u16).to_le_bytes());
            out.extend(b);
        }
        fn list(out: &mut Vec<u8>, items: &[Vec<u8>]) {
            let mut joined = Vec::new();
            for i in items {
                joined.extend(i);
                joined.push(0);
            }
            s(out, &joined);
        }
        let mut b = Vec::new();
        b.extend(e.tid.to_le_bytes());
        b.extend(e.pid.to_le_bytes());
        b.extend(e.ptid.to_le_bytes());
        if version >= 6 {
            b.extend(e.sid.unwrap().to_le_bytes());
        }
        if version >= 8 {
            b.extend(e.vpgid.unwrap().to_le_bytes());
        }
        s(&mut b, &e.comm);
        s(&mut b, &e.exe);
        if version >= 7 {
            s(&mut b, e.exepath.as_ref().unwrap());
        }
        list(&mut b, &e.args);
        s(&mut b, &e.cwd);
        b.extend(e.fdlimit.to_le_bytes());
        b.extend(e.flags.to_le_bytes());
        b.extend(e.uid.to_le_bytes());
        b.extend(e.gid.to_le_bytes());
        if version >= 2 {
            b.extend(e.vmsize_kb.unwrap().to_le_bytes());
            b.extend(e.vmrss_kb.unwrap().to_le_bytes());
            b.extend(e.vmswap_kb.unwrap().to_le_bytes());
            b.extend(e.pfmajor.unwrap().to_le_bytes());
            b.extend(e.pfminor.unwrap().to_le_bytes());
        }
        if version >= 3 {
            list(&mut b, &e.env);
        }
        if version >= 4 {
            b.extend(e.vtid.unwrap().to_le_bytes());
            b.extend(e.vpid.unwrap().to_le_bytes());
            list(&mut b, &e.cgroups);
        }
        if version >= 5 {
            s(&mut b, e.root.as_ref().unwrap());
        }
        if version >= 9 {
            b.extend(tail);
            let mut framed = ((b.len() + 4) as u32).to_le_bytes().to_vec();
            framed.extend(b);
            framed
        } else {
            b
        }
    }

    /// A full entry with every fixed field of `version` set.
    pub(crate) fn sample(version: u8) -> ProcEntry {
        let v = |x| (version >= x).then_some(());
        ProcEntry {
            version,
            tid: 101,
            pid: 100,
            ptid: 1,
            sid: v(6).map(|_| 100),
            vpgid: v(8).map(|_| 99),
            comm: b"sh".to_vec(),
            exe: b"/bin/sh".to_vec(),
            exepath: v(7).map(|_| b"/usr/bin/dash".to_vec()),
            args: vec![b"-c".to_vec(), b"echo \xff".to_vec()],
            cwd: b"/root/".to_vec(),
            fdlimit: 1024,
            flags: 0x10,
            uid: 1000,
            gid: 1001,
            vmsize_kb: v(2).map(|_| 10),
            vmrss_kb: v(2).map(|_| 11),
            vmswap_kb: v(2).map(|_| 12),
            pfmajor: v(2).map(|_| 13),
            pfminor: v(2).map(|_| 14),
            env: if version >= 3 {
                vec![b"A=1".to_vec(), b"B=".to_vec()]
            } else {
                vec![]
            },
            vtid: v(4).map(|_| 5),
            vpid: v(4).map(|_| 4),
            cgroups: if version >= 4 {
                vec![b"cpu=/docker/abc".to_vec(), b"memory=/".to_vec()]
            } else {
                vec![]
            },
            root: v(5).map(|_| b"/".to_vec()),
            ..ProcEntry::default()
        }
    }

    #[test]
    fn every_version_round_trips() {
        for version in 1..=9 {
            let e = sample(version);
            let mut body = encode_entry(&e, version, &[]);
            body.extend(encode_entry(&e, version, &[]));
            body.extend([0, 0, 0]); // padding
            let mut out = Vec::new();
            parse_proclist(&body, version, &mut out).unwrap();
            assert_eq!(out, vec![e.clone(), e], "version {version}");
        }
    }

    #[test]
    fn cgroup_pairs_split_at_first_equals() {
        let e = sample(4);
        let pairs: Vec<_> = e.cgroup_pairs().collect();
        assert_eq!(
            pairs,
            [
                (&b"cpu"[..], &b"/docker/abc"[..]),
                (&b"memory"[..], &b"/"[..])
            ]
        );
    }

    #[test]
    fn v9_tails() {
        let base = sample(9);
        // pre-0.10 tail: loginuid only.
        let mut out = Vec::new();
        parse_proclist(&encode_entry(&base, 9, &7u32.to_le_bytes()), 9, &mut out).unwrap();
        assert_eq!(out[0].loginuid, Some(7));
        assert_eq!(out[0].tty, None);
        assert_eq!(out[0].cap_inheritable, None);

        // pre-0.10 tail of 29 bytes: loginuid, exe_writable, three capability sets.
        let mut tail = 7u32.to_le_bytes().to_vec();
        tail.push(1);
        for cap in [1u64, 2, 3] {
            tail.extend(cap.to_le_bytes());
        }
        out.clear();
        parse_proclist(&encode_entry(&base, 9, &tail), 9, &mut out).unwrap();
        let e = &out[0];
        assert_eq!(
            (e.loginuid, e.exe_writable, e.tty),
            (Some(7), Some(true), None)
        );
        assert_eq!(
            (e.cap_inheritable, e.cap_permitted, e.cap_effective),
            (Some(1), Some(2), Some(3))
        );

        // 0.10+ tail: pidns_init_start_ts and tty first, then the rest, then unknown bytes.
        let mut tail = 55u64.to_le_bytes().to_vec();
        tail.extend(34816u32.to_le_bytes());
        tail.extend(7u32.to_le_bytes());
        tail.push(0);
        for cap in [1u64, 2, 3] {
            tail.extend(cap.to_le_bytes());
        }
        tail.push(1);
        for x in [9u64, 10, 11] {
            tail.extend(x.to_le_bytes());
        }
        tail.extend([1, 0]);
        tail.extend((-5i64).to_le_bytes());
        tail.extend([0xAA; 5]); // a future field
        out.clear();
        parse_proclist(&encode_entry(&base, 9, &tail), 9, &mut out).unwrap();
        let e = &out[0];
        assert_eq!(
            (e.pidns_init_start_ts, e.tty, e.loginuid),
            (Some(55), Some(34816), Some(7))
        );
        assert_eq!(e.exe_writable, Some(false));
        assert_eq!(e.cap_effective, Some(3));
        assert_eq!(
            (
                e.exe_upper_layer,
                e.exe_ino,
                e.exe_ino_ctime,
                e.exe_ino_mtime
            ),
            (Some(true), Some(9), Some(10), Some(11))
        );
        assert_eq!(
            (e.exe_from_memfd, e.exe_lower_layer, e.pgid),
            (Some(true), Some(false), Some(-5))
        );
    }

    #[test]
    fn bad_entries_are_errors() {
        let good = encode_entry(&sample(9), 9, &[]);
        // Length shorter than the fixed fields.
        let mut short = good.clone();
        short[..4].copy_from_slice(&10u32.to_le_bytes());
        assert!(parse_proclist(&short, 9, &mut Vec::new()).is_err());
        // Length past the end of the block.
        let mut long = good.clone();
        long[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse_proclist(&long, 9, &mut Vec::new()).is_err());
        // Every truncation of an entry fails cleanly (or is taken as padding).
        for cut in 0..good.len() {
            let mut out = Vec::new();
            let res = parse_proclist(&good[..cut], 9, &mut out);
            assert!(res.is_err() || cut < 4, "cut {cut}");
        }
    }
}
