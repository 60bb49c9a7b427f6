//! [`sysflow_config`]: the caller-owned configuration struct and its conversion.

use super::boundary::Failure;
use super::status::sysflow_status;
use super::view::sysflow_record_cb;
use crate::avro::AvroCodec;
use crate::config::{CollectionMode, FileReadMode, SysFlowConfig};
use std::ffi::{CStr, OsStr, c_char, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

/// `file_read_mode`: record every file read.
pub const SYSFLOW_FILE_READ_MODE_ALL: i32 = 0;
/// `file_read_mode`: drop every read-only file flow.
pub const SYSFLOW_FILE_READ_MODE_NO_READS: i32 = 1;
/// `file_read_mode` (default): drop read-only flows on `/proc/`, `/dev/`, `/sys/`,
/// `//sys/`, `/lib/`, `/lib64/`, `/usr/lib/`, `/usr/lib64/`.
pub const SYSFLOW_FILE_READ_MODE_NO_NOISY_READS: i32 = 2;

/// `collection_mode` (default): full file and network flows.
pub const SYSFLOW_COLLECTION_MODE_FLOW: i32 = 0;
/// `collection_mode`: no read/write counting; an open gives one file flow at once.
pub const SYSFLOW_COLLECTION_MODE_CONSUMER: i32 = 1;
/// `collection_mode`: process events and network flows only.
pub const SYSFLOW_COLLECTION_MODE_NO_FILES: i32 = 2;

/// `file_codec`: Avro files without compression.
pub const SYSFLOW_CODEC_NULL: i32 = 0;
/// `file_codec` (default): Avro files compressed with DEFLATE at `file_codec_level`.
pub const SYSFLOW_CODEC_DEFLATE: i32 = 1;

/// Configuration of a driver, owned by the caller.
///
/// Always fill it with `sysflow_config_init` first (which sets `struct_size` and every
/// default), then change the fields you need, then pass it to `sysflow_driver_new`, which
/// copies what it needs: the struct and its strings may be freed or reused once
/// `sysflow_driver_new` returns.
///
/// Strings are NUL-terminated and `NULL` means "unset / the default". Path fields
/// (`*_path`, `k8s_api_cert`) are byte strings handed to the OS as they are; the other
/// strings must be UTF-8 (`SYSFLOW_STATUS_INVALID_UTF8` otherwise).
///
/// The fields are those of the reference library's `SysFlowConfig`. At least one output is
/// required: `file_path`, `socket_path` or `callback`.
#[repr(C)]
#[derive(Debug)]
pub struct sysflow_config {
    /// `sizeof(sysflow_config)` of the header the caller was compiled with; set by
    /// `sysflow_config_init`. Lets the struct grow in later versions.
    pub struct_size: usize,
    /// `filterContainers`: keep only events of processes in a container (host processes
    /// are dropped, as the reference's code does). Default false.
    pub filter_containers: bool,
    /// `rotateInterval`: seconds between output file rotations. Default 300.
    pub rotate_interval: u32,
    /// `exporterID`: exporter id of the header; `NULL` (default) means the host name
    /// (offline: the capture's host name).
    pub exporter_id: *const c_char,
    /// `nodeIP`: the header's IP address; `NULL` (default) means empty. Overridden by the
    /// `NODE_IP` environment variable when `env_overrides` is set.
    pub node_ip: *const c_char,
    /// `filePath`: SysFlow Avro output file; a trailing `/` means a directory of files
    /// named by epoch seconds. `NULL` (default): no file output.
    pub file_path: *const c_char,
    /// `socketPath`: unix `SOCK_SEQPACKET` socket to stream records to. `NULL` (default):
    /// none.
    pub socket_path: *const c_char,
    /// `scapInputPath`: convert this scap capture instead of capturing live. `NULL`
    /// (default): live capture.
    pub scap_input_path: *const c_char,
    /// `falcoFilter`: a Falco filter (libsinsp 0.18.1 language) on events. `NULL` (default):
    /// none; a filter that does not parse or compile fails `sysflow_driver_new` (`LibsError`).
    pub falco_filter: *const c_char,
    /// `samplingRatio`: keep one syscall in this many (live capture). Default 1.
    pub sampling_ratio: u32,
    /// `criPath`: the CRI runtime socket for container metadata; replaces the default
    /// list. `NULL` (default): the usual containerd, CRI-O and k3s sockets under
    /// `host_root`.
    pub cri_path: *const c_char,
    /// `criTO`: timeout of one call to a container runtime (CRI or the Docker-compatible
    /// API), in milliseconds. Default 1000.
    pub cri_timeout_ms: u64,
    /// `enableStats`: log table sizes and counters. Default false.
    pub enable_stats: bool,
    /// `enableProcessFlow`: summarise thread clones/exits into process flows. Default true.
    pub enable_process_flow: bool,
    /// `fileOnly`: only regular files get file flows. Default true.
    pub file_only: bool,
    /// `fileReadMode`: one of `SYSFLOW_FILE_READ_MODE_*`. Default
    /// `SYSFLOW_FILE_READ_MODE_NO_NOISY_READS`.
    pub file_read_mode: i32,
    /// `dropMode`: drop syscalls SysFlow does not need in the kernel. Default true.
    pub drop_mode: bool,
    /// `callback`: receives every event and flow with its entities, on the thread that
    /// calls `sysflow_driver_run`. `NULL` (default): no callback.
    pub callback: sysflow_record_cb,
    /// Passed as the first argument of every `callback` call. Default `NULL`.
    pub userdata: *mut c_void,
    /// `debugMode`: verbose diagnostics on stderr. Default false.
    pub debug_mode: bool,
    /// `k8sAPIURL`: the Kubernetes API server (`https://…`, `http://…`), live capture only:
    /// Pod records gain their services and selectors, and every watch event is a
    /// `SYSFLOW_RECORD_K8S_EVENT` record. `NULL` (default): none.
    pub k8s_api_url: *const c_char,
    /// `k8sAPICert`: the file holding the API server's bearer token (the service account's
    /// `token`; a `ca.crt` beside it is the server's CA). Must exist. `NULL` (default):
    /// none.
    pub k8s_api_cert: *const c_char,
    /// `moduleChecks`: check privileges, BTF and kernel support before loading the probe.
    /// Default true.
    pub module_checks: bool,
    /// `collectionMode`: one of `SYSFLOW_COLLECTION_MODE_*`. Default
    /// `SYSFLOW_COLLECTION_MODE_FLOW`.
    pub collection_mode: i32,
    /// `appName`: name used in diagnostics; `NULL` (default) means `"sysflowlibs"`.
    pub app_name: *const c_char,
    /// `singleBufferDimension`: ring buffer bytes per online CPU, a non-zero multiple of
    /// 4096. Default 8 MiB.
    pub single_buffer_dimension: u64,
    /// Codec of the Avro files written: `SYSFLOW_CODEC_NULL` or `SYSFLOW_CODEC_DEFLATE`
    /// (default).
    pub file_codec: i32,
    /// DEFLATE level (0–12, libdeflate levels) when `file_codec` is `SYSFLOW_CODEC_DEFLATE`.
    /// Default 1 (small blocks and each file's first 256 KiB at 12, see `AvroCodec`).
    pub file_codec_level: u32,
    /// Rotate the output of a capture conversion too, by capture time (the reference never
    /// rotates conversions; live capture always rotates). Default false.
    pub rotate_offline: bool,
    /// Apply the reference's environment overrides (`ENABLE_STATS`, `NODE_IP`,
    /// `ENABLE_DROP_MODE`, `FILE_ONLY`, `ENABLE_PROC_FLOW`, `FILE_READ_MODE`,
    /// `SF_K8S_API_URL`, `SF_K8S_API_CERT`, `DRIVER_LOG`) in `sysflow_driver_new`.
    /// Default true.
    pub env_overrides: bool,
    // ---- added in 0.2 (a caller built against the 0.1 header gets the defaults) ----
    /// `HOST_ROOT`: where the host's root file system is mounted when the collector runs
    /// in a container (its `proc`, `etc/passwd`, `etc/group` and the runtimes' sockets are
    /// read there). `NULL` (default): `/`. Overridden by the `HOST_ROOT` environment
    /// variable when `env_overrides` is set.
    pub host_root: *const c_char,
    /// The Docker-compatible API socket (Docker, podman) for container metadata; replaces
    /// the default list. `NULL` (default): the usual sockets under `host_root`.
    pub docker_path: *const c_char,
    /// Ask the container runtimes for container and pod metadata. Default true.
    pub container_metadata: bool,
    // ---- added in 0.3 (a caller built against an older header gets the defaults) ----
    /// Permission bits of the output files (default `0600`: records carry process
    /// arguments and environments, which often hold secrets). Directories the library
    /// creates are `0700`.
    pub file_mode: u32,
    /// Replace an existing file at a single-file `file_path` (default false: an existing
    /// file is an error). Output files are never written through a symlink. A conversion
    /// that would replace a file reads its capture's header and first blocks in
    /// `sysflow_driver_new` first (unless the capture is a pipe, a FIFO, a socket or a
    /// device): a capture that cannot be read fails there and leaves the file as it was;
    /// a capture that is the output file itself is refused. The output goes to a new file
    /// beside the old one (`.NAME.sysflow-PID-N`, same directory), renamed over it at the
    /// end of the run if it is whole; a run that fails, is stopped before its capture's
    /// end, or drops records or runs out of space at its close (a full disk) removes it
    /// and leaves the old file as it was.
    /// Only a regular file of the process's effective user with no other name (hard
    /// link) is replaced, whatever its mode; anything else fails `sysflow_driver_new`.
    pub file_overwrite: bool,
    /// Require the reader of `socket_path` to run as this uid (checked with `SO_PEERCRED`
    /// at every connection). Default -1: any reader.
    pub socket_reader_uid: i64,
}

/// `sizeof(sysflow_config)` in the 0.1 header: the struct up to the fields added in 0.2.
const SIZE_0_1: usize = std::mem::offset_of!(sysflow_config, host_root);
/// `sizeof(sysflow_config)` in the 0.2 header: up to `container_metadata`, rounded up to
/// the struct's alignment (its padding is not the 0.3 fields that now lie there).
const SIZE_0_2: usize = (std::mem::offset_of!(sysflow_config, container_metadata) + 1)
    .next_multiple_of(std::mem::align_of::<sysflow_config>());
/// `sizeof(sysflow_config)` in this header.
const SIZE_NOW: usize = std::mem::size_of::<sysflow_config>();

// The 0.3 fields begin inside the 0.2 struct's tail padding: they are read only from a
// caller whose struct_size covers the whole 0.3 layout.
const _: () = assert!(SIZE_0_1 < SIZE_0_2 && SIZE_0_2 <= SIZE_NOW);

impl sysflow_config {
    /// The documented defaults: those of [`SysFlowConfig::default`].
    pub(crate) fn defaults() -> Self {
        let d = SysFlowConfig::default();
        let (file_codec, file_codec_level) = match d.file_codec {
            AvroCodec::Null => (SYSFLOW_CODEC_NULL, 0),
            AvroCodec::Deflate(level) => (SYSFLOW_CODEC_DEFLATE, level),
        };
        Self {
            struct_size: std::mem::size_of::<Self>(),
            filter_containers: d.filter_containers,
            rotate_interval: d.rotate_interval,
            exporter_id: std::ptr::null(),
            node_ip: std::ptr::null(),
            file_path: std::ptr::null(),
            socket_path: std::ptr::null(),
            scap_input_path: std::ptr::null(),
            falco_filter: std::ptr::null(),
            sampling_ratio: d.sampling_ratio,
            cri_path: std::ptr::null(),
            cri_timeout_ms: u64::try_from(d.cri_timeout.as_millis()).unwrap_or(u64::MAX),
            enable_stats: d.enable_stats,
            enable_process_flow: d.enable_process_flow,
            file_only: d.file_only,
            file_read_mode: d.file_read_mode.as_int(),
            drop_mode: d.drop_mode,
            callback: None,
            userdata: std::ptr::null_mut(),
            debug_mode: d.debug_mode,
            k8s_api_url: std::ptr::null(),
            k8s_api_cert: std::ptr::null(),
            module_checks: d.module_checks,
            collection_mode: match d.collection_mode {
                CollectionMode::Flow => SYSFLOW_COLLECTION_MODE_FLOW,
                CollectionMode::Consumer => SYSFLOW_COLLECTION_MODE_CONSUMER,
                CollectionMode::NoFiles => SYSFLOW_COLLECTION_MODE_NO_FILES,
            },
            app_name: std::ptr::null(),
            single_buffer_dimension: d.single_buffer_dimension,
            file_codec,
            file_codec_level,
            rotate_offline: d.rotate_offline,
            env_overrides: d.env_overrides,
            host_root: std::ptr::null(),
            docker_path: std::ptr::null(),
            container_metadata: d.container_metadata,
            file_mode: d.file_mode,
            file_overwrite: d.file_overwrite,
            socket_reader_uid: d.socket_reader_uid.map_or(-1, i64::from),
        }
    }
}

/// What [`read_config`] extracts: the Rust configuration (without its callback) and the C
/// callback with its userdata.
#[derive(Debug)]
pub(crate) struct ReadConfig {
    pub(crate) config: SysFlowConfig,
    pub(crate) callback: sysflow_record_cb,
    pub(crate) userdata: *mut c_void,
}

/// Reads a field of `*cfg` by value, without forming a reference to the whole struct.
macro_rules! field {
    ($cfg:ident . $f:ident) => {
        // SAFETY: `read_config`'s caller guarantees `$cfg` points to readable memory of
        // `struct_size` bytes, checked to be at least `SIZE_0_1`; fields of a later
        // layout are only read when `struct_size` covers that whole layout, so every field
        // read is in bounds; fields are read by value from their own (aligned) address.
        unsafe { std::ptr::addr_of!((*$cfg).$f).read() }
    };
}

/// Reads a `bool` field as a byte, so a byte other than 0 or 1 (a struct filled with
/// `memset`) is read as true instead of being undefined behaviour.
macro_rules! flag {
    ($cfg:ident . $f:ident) => {
        // SAFETY: as in `field!`; a `bool` is one byte, so reading it as a `u8` is in bounds
        // and every bit pattern is a valid `u8`.
        unsafe { std::ptr::addr_of!((*$cfg).$f).cast::<u8>().read() != 0 }
    };
}

/// A borrowed C string field, `None` when `NULL`.
///
/// # Safety
///
/// `p` is `NULL` or points to a NUL-terminated string that outlives the returned borrow.
unsafe fn c_str<'a>(p: *const c_char) -> Option<&'a CStr> {
    if p.is_null() {
        None
    } else {
        // SAFETY: non-NULL, and the caller guarantees it is NUL-terminated and live.
        Some(unsafe { CStr::from_ptr(p) })
    }
}

/// A UTF-8 string field.
///
/// # Safety
///
/// As [`c_str`].
unsafe fn utf8(p: *const c_char, field: &str) -> Result<Option<String>, Failure> {
    // SAFETY: forwarded from the caller.
    match unsafe { c_str(p) } {
        None => Ok(None),
        Some(s) => s.to_str().map(|s| Some(s.to_owned())).map_err(|e| {
            Failure::new(
                sysflow_status::INVALID_UTF8,
                format!(
                    "sysflow_driver_new: config field `{field}` is not valid UTF-8 ({e}); \
                     only path fields accept arbitrary bytes"
                ),
            )
        }),
    }
}

/// A path field: any bytes.
///
/// # Safety
///
/// As [`c_str`].
unsafe fn path(p: *const c_char) -> Option<PathBuf> {
    // SAFETY: forwarded from the caller.
    unsafe { c_str(p) }.map(|s| PathBuf::from(OsStr::from_bytes(s.to_bytes())))
}

/// Checks and copies a caller's configuration.
///
/// # Safety
///
/// `cfg` is non-NULL and points to readable memory of at least `size_of::<usize>()`
/// bytes, and of `struct_size` bytes if that value is between the 0.1 layout's size and
/// this one's; its string fields are `NULL` or NUL-terminated strings.
///
/// Any `struct_size` from the first released layout (0.1) up to this header's is
/// accepted: fields of a layout the caller's header predates take their defaults. A larger
/// size comes from a newer header whose fields this library could not honour.
pub(crate) unsafe fn read_config(cfg: *const sysflow_config) -> Result<ReadConfig, Failure> {
    // SAFETY: the caller guarantees the first field is readable; it is read by value.
    let size = unsafe { std::ptr::addr_of!((*cfg).struct_size).read() };
    if !(SIZE_0_1..=SIZE_NOW).contains(&size) {
        return Err(Failure::new(
            sysflow_status::UNKNOWN_STRUCT_SIZE,
            format!(
                "sysflow_driver_new: config struct_size is {size}, this library accepts \
                 {SIZE_0_1} (0.1 header) to {SIZE_NOW} (its own): fill the struct with \
                 sysflow_config_init() and build against a sysflow.h no newer than the \
                 library you link"
            ),
        ));
    }
    let bad = |m: String| Failure::new(sysflow_status::INVALID_CONFIG, m);
    let file_read_mode = field!(cfg.file_read_mode);
    let file_read_mode = FileReadMode::from_int(i64::from(file_read_mode)).ok_or_else(|| {
        bad(format!(
            "invalid configuration: file_read_mode {file_read_mode} is not one of \
             SYSFLOW_FILE_READ_MODE_* (0, 1, 2)"
        ))
    })?;
    let collection_mode = match field!(cfg.collection_mode) {
        SYSFLOW_COLLECTION_MODE_FLOW => CollectionMode::Flow,
        SYSFLOW_COLLECTION_MODE_CONSUMER => CollectionMode::Consumer,
        SYSFLOW_COLLECTION_MODE_NO_FILES => CollectionMode::NoFiles,
        m => {
            return Err(bad(format!(
                "invalid configuration: collection_mode {m} is not one of \
                 SYSFLOW_COLLECTION_MODE_* (0, 1, 2)"
            )));
        }
    };
    let file_codec = match field!(cfg.file_codec) {
        SYSFLOW_CODEC_NULL => AvroCodec::Null,
        SYSFLOW_CODEC_DEFLATE => AvroCodec::Deflate(field!(cfg.file_codec_level)),
        c => {
            return Err(bad(format!(
                "invalid configuration: file_codec {c} is not SYSFLOW_CODEC_NULL (0) or \
                 SYSFLOW_CODEC_DEFLATE (1)"
            )));
        }
    };
    let strings = [
        field!(cfg.exporter_id),
        field!(cfg.node_ip),
        field!(cfg.falco_filter),
        field!(cfg.k8s_api_url),
        field!(cfg.app_name),
    ];
    let paths = [
        field!(cfg.file_path),
        field!(cfg.socket_path),
        field!(cfg.scap_input_path),
        field!(cfg.cri_path),
        field!(cfg.k8s_api_cert),
    ];
    // SAFETY: the caller guarantees every string field is NULL or a live NUL-terminated
    // string; each is copied before this function returns.
    let (exporter_id, node_ip, falco_filter, k8s_api_url, app_name) = unsafe {
        (
            utf8(strings[0], "exporter_id")?,
            utf8(strings[1], "node_ip")?,
            utf8(strings[2], "falco_filter")?,
            utf8(strings[3], "k8s_api_url")?,
            utf8(strings[4], "app_name")?,
        )
    };
    // SAFETY: as above, for the path fields.
    let [
        file_path,
        socket_path,
        scap_input_path,
        cri_path,
        k8s_api_cert,
    ] = paths.map(|p| unsafe { path(p) });
    // Fields added in 0.2, read only from a caller that has them.
    let d = SysFlowConfig::default();
    let (file_mode, file_overwrite, socket_reader_uid) = if size >= SIZE_NOW {
        let uid = match field!(cfg.socket_reader_uid) {
            -1 => None,
            u => Some(u32::try_from(u).map_err(|_| {
                bad(format!(
                    "invalid configuration: socket_reader_uid {u} is not a uid (or -1: any)"
                ))
            })?),
        };
        (field!(cfg.file_mode), flag!(cfg.file_overwrite), uid)
    } else {
        (d.file_mode, d.file_overwrite, d.socket_reader_uid)
    };
    let (host_root, docker_path, container_metadata) = if size >= SIZE_0_2 {
        let (h, d) = (field!(cfg.host_root), field!(cfg.docker_path));
        // SAFETY: as for the other path fields.
        let (h, d) = unsafe { (path(h), path(d)) };
        (h, d, flag!(cfg.container_metadata))
    } else {
        (None, None, SysFlowConfig::default().container_metadata)
    };
    // A field added to `SysFlowConfig` but not yet to `sysflow_config` keeps its default;
    // the test `every_rust_field_is_mirrored` fails until it is added here.
    #[allow(clippy::needless_update)]
    let config = SysFlowConfig {
        filter_containers: flag!(cfg.filter_containers),
        rotate_interval: field!(cfg.rotate_interval),
        exporter_id: exporter_id.unwrap_or_default(),
        node_ip: node_ip.unwrap_or_default(),
        file_path,
        socket_path,
        scap_input_path,
        falco_filter,
        sampling_ratio: field!(cfg.sampling_ratio),
        cri_path,
        cri_timeout: Duration::from_millis(field!(cfg.cri_timeout_ms)),
        enable_stats: flag!(cfg.enable_stats),
        enable_process_flow: flag!(cfg.enable_process_flow),
        file_only: flag!(cfg.file_only),
        file_read_mode,
        drop_mode: flag!(cfg.drop_mode),
        callback: None,
        debug_mode: flag!(cfg.debug_mode),
        k8s_api_url,
        k8s_api_cert,
        module_checks: flag!(cfg.module_checks),
        collection_mode,
        app_name: app_name.unwrap_or_else(|| SysFlowConfig::default().app_name),
        single_buffer_dimension: field!(cfg.single_buffer_dimension),
        file_codec,
        rotate_offline: flag!(cfg.rotate_offline),
        env_overrides: flag!(cfg.env_overrides),
        host_root: host_root.unwrap_or_default(),
        docker_path,
        container_metadata,
        file_mode,
        file_overwrite,
        socket_reader_uid,
        ..SysFlowConfig::default()
    };
    Ok(ReadConfig {
        config,
        callback: field!(cfg.callback),
        userdata: field!(cfg.userdata),
    })
}

/// Fills the first `size` bytes of `*cfg` with the documented defaults and sets
/// `cfg->struct_size` to `size`: `size` is `sizeof(sysflow_config)` as declared by the
/// header the caller was compiled with, so a program built against an older header gets
/// exactly its own struct filled, nothing past it.
///
/// `sysflow.h` defines `sysflow_config_init(cfg)` as a macro calling this with
/// `sizeof(sysflow_config)`; call it through that macro. Every string is `NULL` (unset),
/// no callback, and the numbers and flags are the reference library's defaults (see each
/// field). Call it before setting any field.
///
/// Returns `SYSFLOW_STATUS_NULL_ARGUMENT` if `cfg` is `NULL` and
/// `SYSFLOW_STATUS_UNKNOWN_STRUCT_SIZE` if `size` is not between the first released
/// layout's size and this library's (nothing is written then).
///
/// # Safety
///
/// `cfg` must be `NULL` or point to `size` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sysflow_config_init_sized(
    cfg: *mut sysflow_config,
    size: usize,
) -> sysflow_status {
    ffi_boundary!(status "sysflow_config_init" => {
        if cfg.is_null() {
            return Err(Failure::null("sysflow_config_init", "cfg"));
        }
        // SAFETY: non-NULL, and the caller guarantees `size` writable bytes.
        unsafe { init_sized(cfg, size) }
    })
}

/// The `sysflow_config_init` symbol of the 0.1 and 0.2 libraries, kept for programs built
/// against those headers (which call it directly, without a size): it fills the 0.2
/// layout (`SIZE_0_2` bytes) and sets `struct_size` to it. Programs built against this
/// header reach `sysflow_config_init_sized` through the `sysflow_config_init` macro.
///
/// # Safety
///
/// `cfg` must be `NULL` or point to writable memory of the 0.2 `sysflow_config`'s size.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sysflow_config_init(cfg: *mut sysflow_config) -> sysflow_status {
    ffi_boundary!(status "sysflow_config_init" => {
        if cfg.is_null() {
            return Err(Failure::null("sysflow_config_init", "cfg"));
        }
        // SAFETY: non-NULL, and the caller guarantees a 0.2-sized struct.
        unsafe { init_sized(cfg, SIZE_0_2) }
    })
}

/// Writes the defaults' first `size` bytes to `cfg`, with `struct_size = size`.
///
/// # Safety
///
/// `cfg` is non-NULL and points to `size` writable bytes.
unsafe fn init_sized(cfg: *mut sysflow_config, size: usize) -> Result<(), Failure> {
    if !(SIZE_0_1..=SIZE_NOW).contains(&size) {
        return Err(Failure::new(
            sysflow_status::UNKNOWN_STRUCT_SIZE,
            format!(
                "sysflow_config_init: size {size} is not a sysflow_config layout this library \
                 knows ({SIZE_0_1} to {SIZE_NOW}); build against a sysflow.h no newer than \
                 the library you link"
            ),
        ));
    }
    let mut d = sysflow_config::defaults();
    d.struct_size = size;
    // SAFETY: `cfg` has `size` writable bytes (caller contract) and `d` is a whole struct of
    // `SIZE_NOW` >= `size` bytes, including its padding bytes, which `defaults()` leaves
    // unspecified but never reads; the regions are distinct (`d` is on this stack). Only
    // bytes are copied, so the caller's previous (maybe uninitialised) contents are never
    // read or dropped.
    unsafe {
        std::ptr::copy_nonoverlapping(std::ptr::addr_of!(d).cast::<u8>(), cfg.cast::<u8>(), size);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_then_read_gives_the_rust_defaults() {
        let mut c = std::mem::MaybeUninit::<sysflow_config>::uninit();
        // SAFETY: `c` is writable memory for one config.
        let status = unsafe { sysflow_config_init_sized(c.as_mut_ptr(), SIZE_NOW) };
        assert_eq!(status, sysflow_status::OK);
        // SAFETY: initialised by `sysflow_config_init`.
        let c = unsafe { c.assume_init() };
        assert_eq!(c.struct_size, std::mem::size_of::<sysflow_config>());
        // SAFETY: `c` is a valid config with NULL strings.
        let read = unsafe { read_config(&c) }.unwrap();
        assert_eq!(
            format!("{:?}", read.config),
            format!("{:?}", SysFlowConfig::default())
        );
        assert!(read.callback.is_none() && read.userdata.is_null());
    }

    #[test]
    fn every_rust_field_is_mirrored() {
        // The C struct must offer every field of the Rust configuration (the callback as
        // `callback` + `userdata`, the codec as `file_codec` + `file_codec_level`, the CRI
        // timeout in milliseconds).
        let rust = format!("{:?}", SysFlowConfig::default());
        let c = format!("{:?}", sysflow_config::defaults());
        let names = |s: &str| -> Vec<String> {
            s.split(['{', ','])
                .skip(1)
                .filter_map(|f| f.split(':').next())
                .map(|f| f.trim().to_string())
                .filter(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
                .collect()
        };
        let c_names = names(&c);
        for field in names(&rust) {
            let mirrored = match field.as_str() {
                "cri_timeout" => "cri_timeout_ms",
                f => f,
            };
            assert!(
                c_names.iter().any(|n| n == mirrored),
                "SysFlowConfig::{field} has no counterpart in sysflow_config: add it \
                 (src/ffi/config.rs) and regenerate include/sysflow.h"
            );
        }
    }

    #[test]
    fn enum_constants_match_the_rust_enums() {
        assert_eq!(SYSFLOW_FILE_READ_MODE_ALL, FileReadMode::All.as_int());
        assert_eq!(
            SYSFLOW_FILE_READ_MODE_NO_READS,
            FileReadMode::NoReads.as_int()
        );
        assert_eq!(
            SYSFLOW_FILE_READ_MODE_NO_NOISY_READS,
            FileReadMode::NoNoisyReads.as_int()
        );
    }

    #[test]
    fn bad_values_are_reported_not_trusted() {
        let mut c = sysflow_config::defaults();
        c.struct_size = 0;
        // SAFETY: valid config memory.
        let e = unsafe { read_config(&c) }.unwrap_err();
        assert_eq!(e.status, sysflow_status::UNKNOWN_STRUCT_SIZE);
        // A caller built against the 0.1 header: the newer fields keep their defaults.
        let mut c = sysflow_config::defaults();
        c.struct_size = SIZE_0_1;
        c.docker_path = c"/never/read".as_ptr();
        // SAFETY: valid config memory (larger than the 0.1 size it declares).
        let r = unsafe { read_config(&c) }.unwrap();
        assert!(r.config.docker_path.is_none() && r.config.container_metadata);
        // The 0.2 header: its fields are read, the 0.3 ones (in its tail padding) are not.
        let mut c = sysflow_config::defaults();
        c.struct_size = SIZE_0_2;
        c.container_metadata = false;
        c.file_mode = 0o777;
        c.file_overwrite = true;
        // SAFETY: valid config memory (larger than the 0.2 size it declares).
        let r = unsafe { read_config(&c) }.unwrap();
        assert!(!r.config.container_metadata);
        assert_eq!(
            (r.config.file_mode, r.config.file_overwrite),
            (0o600, false)
        );
        // Any size between two layouts is accepted; past this header's is not.
        for size in [SIZE_0_1 + 8, SIZE_0_2 + 1, SIZE_NOW] {
            let mut c = sysflow_config::defaults();
            c.struct_size = size;
            // SAFETY: valid config memory of SIZE_NOW bytes.
            assert!(unsafe { read_config(&c) }.is_ok(), "{size}");
        }
        for size in [SIZE_0_1 - 8, SIZE_NOW + 8] {
            let mut c = sysflow_config::defaults();
            c.struct_size = size;
            // SAFETY: valid config memory; the size is refused before any other field.
            let e = unsafe { read_config(&c) }.unwrap_err();
            assert_eq!(e.status, sysflow_status::UNKNOWN_STRUCT_SIZE, "{size}");
        }
        let mut c = sysflow_config::defaults();
        c.collection_mode = 7;
        // SAFETY: valid config memory.
        let e = unsafe { read_config(&c) }.unwrap_err();
        assert_eq!(e.status, sysflow_status::INVALID_CONFIG);
        assert!(e.detail.contains("collection_mode 7"), "{}", e.detail);
        let mut c = sysflow_config::defaults();
        c.node_ip = c"\xff\xfe".as_ptr();
        // SAFETY: valid config memory, static string.
        let e = unsafe { read_config(&c) }.unwrap_err();
        assert_eq!(e.status, sysflow_status::INVALID_UTF8);
        assert!(e.detail.contains("node_ip"), "{}", e.detail);
        let mut c = sysflow_config::defaults();
        c.scap_input_path = c"/tmp/\xff.scap".as_ptr();
        // SAFETY: valid config memory, static string.
        let r = unsafe { read_config(&c) }.unwrap();
        assert_eq!(
            r.config.scap_input_path.unwrap().as_os_str().as_bytes(),
            b"/tmp/\xff.scap"
        );
    }
}

/// Fuzzing entry point: a config whose scalar fields come from `bytes` and whose string
/// fields are NUL-terminated pieces of them, read as `sysflow_driver_new` reads it, then
/// validated. Whether it was accepted.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_config(bytes: &[u8]) -> bool {
    use std::ffi::CString;
    let mut c = sysflow_config::defaults();
    let mut it = bytes.iter().copied();
    let mut byte = || it.next().unwrap_or(0);
    let u32_ = |b: &mut dyn FnMut() -> u8| u32::from_le_bytes([b(), b(), b(), b()]);
    c.struct_size = SIZE_0_1 + usize::from(byte()) * 8 % (SIZE_NOW + 16 - SIZE_0_1);
    c.filter_containers = byte() & 1 == 1;
    c.rotate_interval = u32_(&mut byte);
    c.sampling_ratio = u32_(&mut byte);
    c.cri_timeout_ms = u64::from(u32_(&mut byte)) << (byte() % 32);
    c.file_read_mode = u32_(&mut byte) as i32;
    c.collection_mode = u32_(&mut byte) as i32;
    c.single_buffer_dimension = u64::from(u32_(&mut byte)) << (byte() % 24);
    c.file_codec = (byte() % 4) as i32;
    c.file_codec_level = u32::from(byte());
    c.file_mode = u32_(&mut byte);
    c.socket_reader_uid = i64::from(u32_(&mut byte) as i32);
    let rest: Vec<u8> = bytes.iter().skip(40).copied().collect();
    let strings: Vec<CString> = rest
        .split(|&b| b == 0)
        .map(|s| CString::new(s).unwrap_or_default())
        .collect();
    let s = |i: usize| strings.get(i).map_or(std::ptr::null(), |s| s.as_ptr());
    c.exporter_id = s(0);
    c.node_ip = s(1);
    c.falco_filter = s(2);
    c.k8s_api_url = s(3);
    c.app_name = s(4);
    c.cri_path = s(5);
    c.k8s_api_cert = s(6);
    c.host_root = s(7);
    c.docker_path = s(8);
    // never an output that would touch the file system or the network
    c.file_path = std::ptr::null();
    c.socket_path = std::ptr::null();
    c.scap_input_path = s(9);
    // SAFETY: `c` is a whole sysflow_config (its struct_size never exceeds what the
    // reader accepts without reading past `SIZE_NOW`: larger sizes are refused first), and
    // every string field is NULL or a live NUL-terminated string of `strings`.
    match unsafe { read_config(&c) } {
        Ok(r) => {
            let mut cfg = r.config;
            cfg.callback = Some(Box::new(|_| {}));
            cfg.validate().is_ok()
        }
        Err(_) => false,
    }
}
