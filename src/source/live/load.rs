//! Loading the probe: the checks, the knobs (`const volatile` globals) and map sizes
//! derived from a [`LiveConfig`], and the libbpf log that explains failures.

use super::skel::{Probe, Stage};
use super::{LiveConfig, checks, syscalls};
use crate::error::{Result, SysFlowError};
use libbpf_rs::PrintLevel;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// libbpf's messages since the current load began (the verifier's log among them).
static LIBBPF_LOG: Mutex<String> = Mutex::new(String::new());
/// Keep libbpf's debug-level messages of the current load (`debugMode`).
static LIBBPF_DEBUG: AtomicBool = AtomicBool::new(false);
/// One load at a time, so the log belongs to it.
static LOAD_LOCK: Mutex<()> = Mutex::new(());
const LOG_CAP: usize = 512 * 1024;

fn libbpf_print(level: PrintLevel, msg: String) {
    if matches!(level, PrintLevel::Debug)
        && !LIBBPF_DEBUG.load(Ordering::Relaxed)
        && std::env::var_os("SYSFLOW_BPF_DEBUG").is_none()
    {
        return;
    }
    let mut log = LIBBPF_LOG.lock();
    if log.len() + msg.len() > LOG_CAP {
        // keep the end: the verifier's verdict is at the end of its log
        let cut = log.len().min(LOG_CAP / 2);
        let cut = (cut..log.len())
            .find(|&i| log.is_char_boundary(i))
            .unwrap_or(log.len());
        log.drain(..cut);
    }
    log.push_str(&msg);
}

/// Smallest ring the default configuration gets (the measured no-drop size here).
pub(super) const MIN_DEFAULT_RING: u64 = 16 << 20;
const MAX_RING: u64 = 1 << 30;

/// Ring buffer bytes: `single_buffer_dimension` × online CPUs rounded up to a power of
/// two (at least a page); at least 16 MiB when the dimension is the default or larger.
pub(super) fn ring_bytes(single_buffer_dimension: u64, cpus: u64) -> u64 {
    let want = single_buffer_dimension
        .saturating_mul(cpus.max(1))
        .clamp(4096, MAX_RING);
    let mut ring = want.next_power_of_two();
    if single_buffer_dimension >= crate::config::DEFAULT_BUFFER_BYTES {
        ring = ring.max(MIN_DEFAULT_RING);
    }
    ring.min(MAX_RING)
}

fn online_cpus() -> u64 {
    std::thread::available_parallelism()
        .map(|n| n.get() as u64)
        .unwrap_or(1)
}

/// Runs the configured checks, then opens, configures, loads and attaches the probe and
/// maps its ring buffer.
pub(super) fn load(cfg: &LiveConfig) -> Result<Probe> {
    if cfg.module_checks {
        checks::run_all()?;
    }
    if cfg.sampling_ratio == 0 {
        return Err(SysFlowError::InvalidConfig(
            "sampling_ratio must be at least 1".into(),
        ));
    }
    let possible = libbpf_rs::num_possible_cpus()
        .map_err(|e| SysFlowError::ProbeCheck(format!("cannot count possible CPUs: {e}")))?
        as u32;
    let ring = ring_bytes(cfg.single_buffer_dimension, online_cpus());
    let captured = syscalls::captured(cfg.collection_mode);
    let sampleable = syscalls::sampleable();

    let direct_loads = checks::kernel_has_direct_loads();
    let _serial = LOAD_LOCK.lock();
    libbpf_rs::set_print(Some((PrintLevel::Debug, libbpf_print)));
    LIBBPF_DEBUG.store(cfg.debug, Ordering::Relaxed);
    LIBBPF_LOG.lock().clear();
    let probe = Probe::open(|open| {
        let ro =
            open.maps.rodata_data.as_deref_mut().ok_or_else(|| {
                libbpf_rs::Error::from(std::io::Error::other("probe has no .rodata"))
            })?;
        ro.sf_sampling = cfg.sampling_ratio;
        ro.sf_drop_mode = u8::from(cfg.drop_mode);
        ro.sf_open_user_path = u8::from(cfg.open_paths_as_passed);
        // Records are submitted without wake-up; past a quarter of the ring the probe
        // wakes the consumer so a burst does not wait for the next timer tick. Each CPU
        // checks the fill once per a share of a sixteenth of that mark, so the wake-up
        // comes at most a sixty-fourth of the ring late (records of at most 32 KiB).
        ro.sf_wake_bytes = ring / 4;
        let cpus = libbpf_rs::num_possible_cpus().map_or(1, |n| n.max(1)) as u64;
        ro.sf_wake_check_bytes = ring / 4 / 16 / cpus;
        ro.sf_direct = u8::from(direct_loads);
        ro.sf_sys_bitmap = captured;
        ro.sf_sample_bitmap = sampleable;
        ro.sf_sys_bitmap32 = syscalls::captured32(&captured);
        ro.sf_ia32_nr = syscalls::ia32_table();
        open.maps.sf_rb.set_max_entries(ring as u32)?;
        open.maps.sf_scratch_map.set_max_entries(possible.max(1))?;
        Ok(())
    });
    probe.map_err(|(stage, e)| {
        let log = std::mem::take(&mut *LIBBPF_LOG.lock());
        if stage == Stage::Configure {
            return SysFlowError::Libs(format!("{}: {e}", stage.name()));
        }
        checks::classify(stage.name(), &e, &log)
    })
}

/// What libbpf said during the last load (its debug messages too with
/// [`LiveConfig::debug`]); empties the buffer.
pub(crate) fn take_load_log() -> String {
    std::mem::take(&mut *LIBBPF_LOG.lock())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_size_is_a_power_of_two_per_cpu() {
        let d = crate::config::DEFAULT_BUFFER_BYTES;
        assert_eq!(ring_bytes(d, 2), 16 << 20);
        assert_eq!(ring_bytes(d, 1), 16 << 20); // default floor
        assert_eq!(ring_bytes(d, 3), 32 << 20);
        assert_eq!(ring_bytes(1 << 20, 2), 2 << 20); // explicit small rings are honoured
        assert_eq!(ring_bytes(12288, 1), 16384);
        assert_eq!(ring_bytes(u64::MAX, 64), 1 << 30);
    }
}
