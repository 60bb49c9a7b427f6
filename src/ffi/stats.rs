//! [`sysflow_stats`]: what a run delivered and what it lost, by cause.

use super::boundary::Failure;
use super::driver::sysflow_driver;
use super::status::sysflow_status;
use crate::driver::RunSummary;

/// What a driver's run delivered and lost, by cause (all counts since the run started).
///
/// Filled by `sysflow_driver_stats`. Set `struct_size` to `sizeof(sysflow_stats)` first:
/// the library writes only the fields that size covers, so the struct can grow (a newer
/// library leaves the fields of an older header alone; fields an older library does not
/// know are left as the caller set them).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct sysflow_stats {
    /// `sizeof(sysflow_stats)` of the header the caller was compiled with.
    pub struct_size: usize,
    /// Syscall events read from the source: the live probe's (a close that carries its
    /// thread's read/write counters is two), or a capture's.
    pub events: u64,
    /// Records delivered to the outputs (headers included).
    pub records: u64,
    /// Records an output had to drop (a socket reader gone, or too slow; a full disk).
    pub sink_drops: u64,
    /// Kernel records lost because the ring buffer was full (live).
    pub ring_drops: u64,
    /// Syscalls skipped by `sampling_ratio` (live).
    pub sampled_out: u64,
    /// Kernel records or counter entries that could not be decoded (live).
    pub decode_errors: u64,
    /// Read/write calls shipped one by one because no counter slot was free: delivered,
    /// not lost (live).
    pub counter_overflows: u64,
    /// Counters delivered after their fd was closed by another thread: delivered, charged
    /// to the file the fd named (live).
    pub late_counters: u64,
    /// io_uring completions of operations not turned into records (live).
    pub uring_unmodeled: u64,
    /// Fds received with `SCM_RIGHTS` past those the probe names per message (live).
    pub scm_rights_unnamed: u64,
    /// Native IPv6 flows left out (the v5 schema holds IPv4 addresses only).
    pub omitted_ipv6_flows: u64,
    /// Container runtime calls that timed out (live).
    pub metadata_timeouts: u64,
    /// Container runtime calls that failed otherwise (live).
    pub metadata_errors: u64,
    /// Container lookups dropped because the metadata queue was full (live).
    pub metadata_queue_full: u64,
    /// Events skipped as damaged input (a relation that cannot be, such as a clone whose
    /// child is its own caller), and capture events of a type the scap event table does
    /// not name.
    pub invalid_events: u64,
    /// Events left out by `falco_filter` (events it does not match), `filter_containers`
    /// (host processes) or, in a conversion, by `drop_mode` (failed close and bind calls).
    pub filtered_events: u64,
    /// File flows the `file_read_mode` filter kept out.
    pub filtered_flows: u64,
    /// Reads and writes that moved bytes on an fd nothing could name (in no flow).
    pub unknown_fd_ops: u64,
    /// Times the socket output lost its reader and connected again.
    pub socket_reconnects: u64,
    /// Thread exits the live capture lost and made up once `/proc` showed the threads
    /// gone.
    pub reconciled_exits: u64,
    /// Kubernetes watch events received, each a K8sEvent record (`k8s_api_url`). Added in
    /// 0.4.
    pub k8s_events: u64,
    /// Failed Kubernetes lists and watches (unreachable server, 401/403, a bad
    /// certificate, malformed answers), each retried with backoff. Added in 0.4.
    pub k8s_errors: u64,
    /// 1 when a conversion stopped early at a damaged capture (truncated, or corrupt past
    /// recovery): the events after the damage are lost, and `sysflow_driver_run` returned
    /// `SYSFLOW_STATUS_EVENT_PARSING_ERROR`. Always 0 live. Added in 0.4.
    pub input_errors: u64,
    /// 1 when a conversion was stopped (`sysflow_driver_exit`) before its capture's end:
    /// the events after the stop are not in the outputs. Always 0 live. Added in 0.4.
    pub input_stopped: u64,
}

impl sysflow_stats {
    pub(crate) fn from_summary(s: &RunSummary) -> Self {
        Self {
            struct_size: std::mem::size_of::<Self>(),
            events: s.events,
            records: s.sinks.records,
            sink_drops: s.sinks.dropped,
            ring_drops: s.source_drops,
            sampled_out: s.live.sampled_out,
            decode_errors: s.live.decode_errors,
            counter_overflows: s.live.counter_overflows,
            late_counters: s.live.late_counters,
            uring_unmodeled: s.live.uring_unmodeled,
            scm_rights_unnamed: s.live.scm_rights_unnamed,
            omitted_ipv6_flows: s.omitted_ipv6_flows,
            metadata_timeouts: s.metadata.timeouts,
            metadata_errors: s.metadata.errors,
            metadata_queue_full: s.metadata.queue_full,
            invalid_events: s.invalid_events,
            filtered_events: s.filtered_events,
            filtered_flows: s.filtered_flows,
            unknown_fd_ops: s.unknown_fd_ops,
            socket_reconnects: s.sinks.reconnects,
            reconciled_exits: s.state_tables.reconciled_exits,
            k8s_events: s.metadata.k8s_events,
            k8s_errors: s.metadata.k8s_errors,
            input_errors: s.input_errors,
            input_stopped: s.input_stopped,
        }
    }
}

/// The smallest `struct_size` accepted: the first layout, which ended with
/// `invalid_events` (later fields are appended; an older program's struct gets only the
/// fields it has).
const SIZE_0_3: usize = std::mem::offset_of!(sysflow_stats, invalid_events) + 8;

/// Fills `*out` with what the driver's run delivered and lost, by cause.
///
/// Available once `sysflow_driver_run` has returned: every count of the whole run, or, for
/// a run that failed, of what it did before the failure (a conversion cut short by a
/// damaged capture has `input_errors` 1). Before the run, or after a run stopped by a
/// panic, every count is 0. While the driver runs on another thread it returns
/// `SYSFLOW_STATUS_ALREADY_RUNNING`.
///
/// `out->struct_size` must be set by the caller (`sizeof(sysflow_stats)`); only the fields
/// within it are written. Returns `SYSFLOW_STATUS_NULL_ARGUMENT` for a `NULL` argument and
/// `SYSFLOW_STATUS_UNKNOWN_STRUCT_SIZE` for a size smaller than the first layout.
///
/// # Safety
///
/// `driver` must be `NULL` or a live driver from `sysflow_driver_new`; `out` must be `NULL`
/// or point to writable memory of `out->struct_size` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sysflow_driver_stats(
    driver: *const sysflow_driver,
    out: *mut sysflow_stats,
) -> sysflow_status {
    ffi_boundary!(status "sysflow_driver_stats" => {
        if driver.is_null() {
            return Err(Failure::null("sysflow_driver_stats", "driver"));
        }
        if out.is_null() {
            return Err(Failure::null("sysflow_driver_stats", "out"));
        }
        // SAFETY: non-NULL; the caller guarantees `struct_size` (the first field) is
        // readable; it is read by value.
        let size = unsafe { std::ptr::addr_of!((*out).struct_size).read() };
        if size < SIZE_0_3 {
            return Err(Failure::new(
                sysflow_status::UNKNOWN_STRUCT_SIZE,
                format!(
                    "sysflow_driver_stats: struct_size is {size}: set it to \
                     sizeof(sysflow_stats) (at least {SIZE_0_3}, the first layout's size; \
                     {} with this library's header)",
                    std::mem::size_of::<sysflow_stats>()
                ),
            ));
        }
        // SAFETY: non-NULL, and the caller guarantees a live handle.
        let h = unsafe { &*driver };
        let mut stats = h.stats().ok_or_else(|| {
            Failure::new(
                sysflow_status::ALREADY_RUNNING,
                "sysflow_driver_stats: the driver is running; its counts are available \
                 once sysflow_driver_run returned",
            )
        })?;
        stats.struct_size = size;
        let n = size.min(std::mem::size_of::<sysflow_stats>());
        // SAFETY: `out` points to at least `size` >= `n` writable bytes (caller contract);
        // `stats` is a plain-old-data struct of at least `n` bytes; the regions are
        // distinct (one is on this stack).
        unsafe {
            std::ptr::copy_nonoverlapping(
                std::ptr::addr_of!(stats).cast::<u8>(),
                out.cast::<u8>(),
                n,
            );
        }
        Ok(())
    })
}
