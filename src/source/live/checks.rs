//! `moduleChecks`: what is checked before loading the probe, and how a libbpf failure
//! maps onto the crate's error codes.

use crate::error::SysFlowError;
use std::path::Path;

/// The kernel BTF CO-RE relocates against.
pub(super) const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// Oldest kernel the probe loads on: tp_btf and the ring buffer need 5.8, `bpf_loop`
/// (path walks) needs 5.17.
pub(super) const MIN_KERNEL: (u32, u32) = (5, 17);

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// The effective capability set from `/proc/self/status` text (`CapEff:` line).
pub(super) fn cap_eff(status: &str) -> Option<u64> {
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

/// What is missing to load and attach tracing programs, or `None` when the set
/// suffices (`CAP_BPF` + `CAP_PERFMON`, or `CAP_SYS_ADMIN`).
pub(super) fn missing_caps(eff: u64) -> Option<String> {
    let has = |bit: u32| eff & (1u64 << bit) != 0;
    if has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON)) {
        return None;
    }
    let mut missing = Vec::new();
    if !has(CAP_BPF) {
        missing.push("CAP_BPF");
    }
    if !has(CAP_PERFMON) {
        missing.push("CAP_PERFMON");
    }
    Some(missing.join(" and "))
}

/// `major.minor` of a kernel release string (`uname -r`).
pub(super) fn parse_release(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    Some((major, minor))
}

/// Whether the process may load the probe, from its capability set.
pub(super) fn check_privileges() -> Result<(), SysFlowError> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| {
        SysFlowError::ProbeCheck(format!(
            "cannot read /proc/self/status for capabilities: {e}"
        ))
    })?;
    let eff = cap_eff(&status).ok_or_else(|| {
        SysFlowError::ProbeCheck("no CapEff line in /proc/self/status".to_string())
    })?;
    match missing_caps(eff) {
        None => Ok(()),
        Some(m) => Err(SysFlowError::ProbeAccessDenied(format!(
            "the live probe needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN); missing {m} \
             (effective set {eff:#x}): run as root or grant them, e.g. \
             `setcap cap_bpf,cap_perfmon+ep <binary>`"
        ))),
    }
}

/// Whether the kernel has the BTF CO-RE needs.
pub(super) fn check_btf() -> Result<(), SysFlowError> {
    if Path::new(VMLINUX_BTF).exists() {
        Ok(())
    } else {
        Err(SysFlowError::ProbeNotExist(format!(
            "{VMLINUX_BTF} missing: kernel built without CONFIG_DEBUG_INFO_BTF, which the \
             CO-RE probe needs"
        )))
    }
}

/// First kernel with the `bpf_rdonly_cast` kfunc, which lets the probe read kernel
/// structures with plain loads instead of a `bpf_probe_read_kernel` call per field (the
/// probe falls back to the calls on older kernels).
pub(super) const DIRECT_LOADS_KERNEL: (u32, u32) = (6, 2);

/// Whether the running kernel has `bpf_rdonly_cast` (see [`DIRECT_LOADS_KERNEL`]) and
/// can call it: kfunc calls need the BPF JIT (`net.core.bpf_jit_enable` not 0). False
/// when either cannot be read.
pub(super) fn kernel_has_direct_loads() -> bool {
    let recent = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .and_then(|r| parse_release(r.trim()))
        .is_some_and(|v| v >= DIRECT_LOADS_KERNEL);
    let jit =
        std::fs::read_to_string("/proc/sys/net/core/bpf_jit_enable").is_ok_and(|v| v.trim() != "0");
    recent && jit
}

/// Whether the running kernel is recent enough.
pub(super) fn check_kernel() -> Result<(), SysFlowError> {
    // The release `uname -r` prints.
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").map_err(|e| {
        SysFlowError::ProbeCheck(format!("cannot read /proc/sys/kernel/osrelease: {e}"))
    })?;
    check_release(release.trim())
}

/// Whether a kernel release is recent enough.
pub(super) fn check_release(release: &str) -> Result<(), SysFlowError> {
    let Some(v) = parse_release(release) else {
        return Err(SysFlowError::ProbeCheck(format!(
            "cannot parse kernel release {release:?}"
        )));
    };
    if v < MIN_KERNEL {
        return Err(SysFlowError::OperationNotSupported(format!(
            "kernel {release} is too old for the live probe: it needs {}.{} or newer \
             (tp_btf and BPF ring buffer: 5.8; bpf_loop: 5.17)",
            MIN_KERNEL.0, MIN_KERNEL.1
        )));
    }
    Ok(())
}

/// All checks, in the order a user fixes them.
pub(super) fn run_all() -> Result<(), SysFlowError> {
    check_kernel()?;
    check_btf()?;
    check_privileges()
}

/// The errno of a libbpf error (its Display ends in "(os error N)" for OS errors).
pub(super) fn errno_of(e: &libbpf_rs::Error) -> Option<i32> {
    let s = e.to_string();
    let i = s.rfind("(os error ")?;
    s[i + 10..].trim_end_matches(')').parse().ok()
}

/// The last `max` lines of a libbpf log, for error messages.
fn log_tail(log: &str, max: usize) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(max)..].join("\n")
}

/// Maps a failure to open, load or attach the probe onto an error code, with the libbpf
/// log (which holds the verifier's) in the message.
pub(super) fn classify(stage: &str, e: &libbpf_rs::Error, log: &str) -> SysFlowError {
    let errno = errno_of(e);
    let what = format!("{stage} failed: {e}");
    if log.contains("-- BEGIN PROG LOAD LOG --") {
        // Verifier rejection (EACCES, EINVAL, E2BIG): its log says why.
        let verifier = match (
            log.find("-- BEGIN PROG LOAD LOG --"),
            log.rfind("-- END PROG LOAD LOG --"),
        ) {
            (Some(a), Some(b)) if b > a => log_tail(&log[a..b + 23], 60),
            _ => log_tail(log, 60),
        };
        return SysFlowError::ProbeNotLoaded(format!("{what}; the verifier said:\n{verifier}"));
    }
    if log.contains("kernel BTF is missing") || log.contains("failed to find valid kernel BTF") {
        return SysFlowError::ProbeNotExist(format!(
            "{what}: {VMLINUX_BTF} missing (kernel built without CONFIG_DEBUG_INFO_BTF)"
        ));
    }
    if matches!(errno, Some(libc::EPERM) | Some(libc::EACCES)) {
        if let Err(denied) = check_privileges() {
            return denied;
        }
    }
    SysFlowError::ProbeNotLoaded(format!("{what}\nlibbpf log:\n{}", log_tail(log, 30)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_are_parsed_and_named() {
        let st = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\n";
        assert_eq!(cap_eff(st), Some(0x1ff_ffff_ffff));
        assert_eq!(missing_caps(0x1ff_ffff_ffff), None);
        assert_eq!(missing_caps(1 << CAP_SYS_ADMIN), None);
        assert_eq!(missing_caps((1 << CAP_BPF) | (1 << CAP_PERFMON)), None);
        assert_eq!(missing_caps(1 << CAP_BPF).as_deref(), Some("CAP_PERFMON"));
        assert_eq!(missing_caps(0).as_deref(), Some("CAP_BPF and CAP_PERFMON"));
    }

    #[test]
    fn kernel_releases_are_checked() {
        assert_eq!(parse_release("6.18.44-fc-v445"), Some((6, 18)));
        assert_eq!(parse_release("5.4.0-150-generic"), Some((5, 4)));
        assert!(check_release("6.18.44").is_ok());
        assert!(check_release("5.17.0").is_ok());
        let e = check_release("5.4.0-150-generic").unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::OperationNotSupported);
        assert!(e.to_string().contains("5.17"), "{e}");
        assert_eq!(
            check_release("weird").unwrap_err().code(),
            crate::ErrorCode::ProbeCheckError
        );
    }

    #[test]
    fn verifier_failures_carry_the_log() {
        let e = libbpf_rs::Error::from(std::io::Error::from_raw_os_error(libc::EACCES));
        let log = "libbpf: prog 'x': BPF program load failed: -EACCES\n\
                   libbpf: prog 'x': -- BEGIN PROG LOAD LOG --\n\
                   R0 invalid mem access 'map_value_or_null'\n-- END PROG LOAD LOG --\n";
        let err = classify("load", &e, log);
        assert_eq!(err.code(), crate::ErrorCode::ProbeNotLoaded);
        assert!(err.to_string().contains("map_value_or_null"), "{err}");
        let btf = classify(
            "load",
            &e,
            "libbpf: kernel BTF is missing at '/sys/kernel/btf/vmlinux'",
        );
        assert_eq!(btf.code(), crate::ErrorCode::ProbeNotExist);
    }
}
