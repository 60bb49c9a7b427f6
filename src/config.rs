//! Driver configuration: [`SysFlowConfig`], its defaults and environment overrides.

use crate::avro::AvroCodec;
use crate::error::{Result, SysFlowError};
use crate::export::RecordCallback;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Which file reads are recorded as FileFlows (the reference's `fileReadMode`).
///
/// A read flow is a file flow opened read-only (access mode `O_RDONLY`), or one that read
/// but neither wrote nor mapped. Unlike the reference, a flow opened `O_RDWR` is not
/// read-only by its flags: its writes are kept (`reference-semantics.md` §4.7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FileReadMode {
    /// `0`: record every file read.
    All,
    /// `1`: drop every read-only flow.
    NoReads,
    /// `2` (default): drop read-only flows on `/proc/`, `/dev/`, `/sys/`, `//sys/`, `/lib/`,
    /// `/lib64/`, `/usr/lib/`, `/usr/lib64/`.
    #[default]
    NoNoisyReads,
}

impl FileReadMode {
    /// The reference's numeric mode.
    pub const fn as_int(self) -> i32 {
        match self {
            FileReadMode::All => 0,
            FileReadMode::NoReads => 1,
            FileReadMode::NoNoisyReads => 2,
        }
    }

    /// The mode for a numeric value (0, 1, 2).
    pub const fn from_int(v: i64) -> Option<Self> {
        match v {
            0 => Some(FileReadMode::All),
            1 => Some(FileReadMode::NoReads),
            2 => Some(FileReadMode::NoNoisyReads),
            _ => None,
        }
    }
}

/// Which syscalls are collected (the reference's `collectionMode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CollectionMode {
    /// Full file and network flows (`SFFlowMode`, default).
    #[default]
    Flow,
    /// Lighter: no read/write counting; an open gives one FileFlow at once
    /// (`SFConsumerMode`).
    Consumer,
    /// Process events and network flows only: no file flows or file events
    /// (`SFNoFilesMode`).
    NoFiles,
}

/// Default ring buffer size per online CPU: the reference's 8 MiB
/// (`DEFAULT_DRIVER_BUFFER_BYTES_DIM`).
pub const DEFAULT_BUFFER_BYTES: u64 = 8 * 1024 * 1024;

/// Configuration of a [`crate::SysFlowDriver`]: the fields of the reference's
/// `SysFlowConfig` under Rust names, plus a few a Rust library needs.
///
/// [`SysFlowConfig::default`] gives the reference's documented defaults
/// (`InitializeSysFlowConfig`). [`SysFlowDriver::new`](crate::SysFlowDriver::new) then
/// applies the reference's environment overrides unless [`SysFlowConfig::env_overrides`] is
/// false; see [`SysFlowConfig::apply_env`].
pub struct SysFlowConfig {
    /// `filterContainers`: keep only the events and flows of processes that run in a
    /// container (host processes are dropped). This is what the reference's code does
    /// (`sysflowprocessor.cpp`); its documentation (`docs/LIBS.md`) says the opposite.
    pub filter_containers: bool,
    /// `rotateInterval`: seconds between output rotations (new file, header, entity
    /// re-export). Default 300.
    pub rotate_interval: u32,
    /// `exporterID`: the header's exporter id; empty means the host name (offline: the
    /// capture's host name).
    pub exporter_id: String,
    /// `nodeIP`: the header's `ip`; overridden by `NODE_IP`.
    pub node_ip: String,
    /// `filePath`: SysFlow output file. A trailing `/` means a directory of files named by
    /// epoch seconds; otherwise a path, suffixed with `.<epoch>` when rotating.
    pub file_path: Option<PathBuf>,
    /// `socketPath`: unix `SOCK_SEQPACKET` socket to stream records to.
    pub socket_path: Option<PathBuf>,
    /// `scapInputPath`: read this scap capture instead of capturing live. A file, or a
    /// pipe or FIFO read as it comes; standard input (`/dev/stdin`, `/dev/fd/0`,
    /// `/proc/self/fd/0`) may also be a socket, read from a duplicate of fd 0: a stream
    /// socket as a stream, a datagram or sequenced-packet socket as its messages one after
    /// the other, each taken whole (an empty message ends a sequenced-packet socket's
    /// capture; a datagram socket's has no end but a stop).
    pub scap_input_path: Option<PathBuf>,
    /// `falcoFilter`: a Falco filter on events, in the language of libsinsp 0.18.1
    /// ([`crate::filter`]): events it does not match update the capture state but write no
    /// record (counted in `filtered_events`). `None` (default): no filter. A filter that
    /// does not parse or compile fails [`crate::SysFlowDriver::new`] with
    /// [`crate::SysFlowError::Filter`].
    pub falco_filter: Option<String>,
    /// `samplingRatio`: keep one syscall in this many (live capture; a conversion refuses
    /// any other value than 1). Default 1.
    pub sampling_ratio: u32,
    /// `criPath`: the CRI runtime socket for container metadata (live capture). It
    /// replaces the default list (`/run/containerd/containerd.sock`,
    /// `/run/crio/crio.sock`, `/run/k3s/containerd/containerd.sock`, … under
    /// [`SysFlowConfig::host_root`]), as in the reference.
    pub cri_path: Option<PathBuf>,
    /// `criTO`: the timeout of one call to a container runtime (CRI or the
    /// Docker-compatible API). Default 1 s (libsinsp's default; the C API takes
    /// milliseconds, as the reference's `criTO`). A runtime that stops answering costs at
    /// most this per container before the container is written as incomplete, and is then
    /// skipped until it answers a health check again. At most [`MAX_CRI_TIMEOUT`].
    pub cri_timeout: Duration,
    /// `enableStats`: log the reference's table-size line and a line of losses by cause
    /// (info level, target `app_name`) at each rotation and at the end. Without a logger
    /// installed, the lines go to standard error.
    pub enable_stats: bool,
    /// `enableProcessFlow`: summarise thread clones/exits into ProcessFlows. Default true.
    pub enable_process_flow: bool,
    /// `fileOnly`: only regular files get FileFlows (no pipes, unix sockets,
    /// directories). Default true.
    pub file_only: bool,
    /// `fileReadMode`: which reads are recorded. Default [`FileReadMode::NoNoisyReads`].
    pub file_read_mode: FileReadMode,
    /// `dropMode`: leave out what SysFlow does not need: the probe drops failed `close`
    /// and `bind` calls in the kernel (the reference's drop mode removes only syscalls
    /// SysFlow never captures); a conversion leaves out the same events. Default true.
    pub drop_mode: bool,
    /// `callback`: receives every event and flow with its linked entities, and every
    /// K8sEvent record (`k8s_api_url`).
    pub callback: Option<RecordCallback>,
    /// `debugMode` (also `DRIVER_LOG=1`): the driver emits debug lines through the `log`
    /// facade (target `app_name`): the configuration in effect, the probe's load (libbpf's
    /// messages included), the startup snapshot, per-period losses, the run's summary.
    /// Without a logger installed, they go to standard error.
    pub debug_mode: bool,
    /// `k8sAPIURL` (env `SF_K8S_API_URL`): the Kubernetes API server (`https://…` or
    /// `http://…`), live capture only. The collector lists and watches this node's pods
    /// (node: `NODE_NAME`, else `exporter_id`, else the host name), services, nodes,
    /// namespaces, replication controllers, replica sets, daemon sets, deployments and
    /// events: Pod records gain the services that select them, the API's labels and node
    /// selector, and every change is a K8sEvent record. Needs the `k8s` feature (default).
    /// A URL without a host, or with a port that is not a number from 1 to 65535, is
    /// refused by `new()` (the client would otherwise retry it for ever).
    pub k8s_api_url: Option<String>,
    /// `k8sAPICert` (env `SF_K8S_API_CERT`): the file holding the API server's bearer
    /// token, as the reference deployments use it (the service account's `token`); the
    /// `ca.crt` beside it, if any, is the CA the server's certificate must chain to (else
    /// the system's roots). Only with `k8s_api_url`; alone it is refused, and a file that
    /// does not exist is refused by `new()`.
    pub k8s_api_cert: Option<PathBuf>,
    /// `moduleChecks`: check privileges, BTF and kernel support before loading the probe
    /// (live capture). Default true.
    pub module_checks: bool,
    /// `collectionMode`. Default [`CollectionMode::Flow`].
    pub collection_mode: CollectionMode,
    /// `appName`: the `log` target of the driver's lines (and their prefix on standard
    /// error when no logger is installed). Default `"sysflowlibs"`.
    pub app_name: String,
    /// `singleBufferDimension`: ring buffer bytes per online CPU (the probe's ring holds
    /// this times the CPU count, rounded up to a power of two). Default 8 MiB.
    pub single_buffer_dimension: u64,
    /// Codec of the Avro files written (not in the reference, which always deflates).
    pub file_codec: AvroCodec,
    /// Rotate the output of a capture conversion too, by capture time (the reference never
    /// rotates conversions; live capture always rotates, and refuses this). Default false.
    pub rotate_offline: bool,
    /// Apply the reference's environment overrides in `SysFlowDriver::new` (default true).
    pub env_overrides: bool,
    /// `HOST_ROOT`: where the host's root file system is mounted when the collector runs
    /// in a container (e.g. `/host`); empty (default) means `/`. Live capture reads
    /// `<host_root>/proc` (which must be the host's `/proc`), `<host_root>/etc/passwd` and
    /// `group`, and looks for the runtimes' default sockets under it.
    pub host_root: PathBuf,
    /// The Docker-compatible API socket for container metadata (live capture). It
    /// replaces the default list (`/run/docker.sock`, `/run/podman/podman.sock`,
    /// `/run/user/<uid>/podman/podman.sock` under [`SysFlowConfig::host_root`]).
    pub docker_path: Option<PathBuf>,
    /// Ask the container runtimes for container and pod metadata (live capture; default
    /// true). When false, containers are written as `incomplete`, with the runtime the
    /// cgroup layout suggests.
    pub container_metadata: bool,
    /// Permission bits of every output file written (default `0o600`: records carry
    /// process arguments and environments, which often hold secrets). Directories the
    /// library creates are `0o700`. Output files are never written through a symlink.
    pub file_mode: u32,
    /// Replace an existing file at a single-file `file_path` (default false: an existing
    /// file makes [`SysFlowDriver::new`](crate::SysFlowDriver::new) fail with
    /// [`SysFlowError::OutputExists`](crate::SysFlowError::OutputExists)). Epoch-named
    /// files never replace one; a taken name gets a `-1`, `-2`, ... suffix. A conversion
    /// that would replace a file reads its capture's header and first blocks in `new()`
    /// first (unless the capture comes from a pipe, a FIFO, a socket or a device), so that
    /// a capture that cannot be read fails `new()` and leaves the file as it was; a
    /// capture that is the output file itself is refused. The old file is replaced only
    /// at the end of the run, by a whole output: the output goes to a new file beside it
    /// (`.NAME.sysflow-PID-N`, same directory, which must be writable), renamed over it
    /// when closed; a run that fails, is stopped before its capture's end, or whose file
    /// output dropped records or ran out of space as it was closed (a full disk) removes
    /// it and leaves the old file as it was
    /// (see [`SysFlowDriver::run`](crate::SysFlowDriver::run)). Only a regular file of
    /// the process's effective user with no other name (hard link) is replaced, whatever
    /// its mode (it is renamed over, not written), and not one that cannot be renamed
    /// over (immutable or append-only, or in such a directory, or a mount point); anything
    /// else is an error in `new()` that says which rule it breaks.
    pub file_overwrite: bool,
    /// Require the reader of `socket_path` to run as this uid (checked with
    /// `SO_PEERCRED` at every connection; records carry secrets). `None` (default): any.
    pub socket_reader_uid: Option<u32>,
}

impl Default for SysFlowConfig {
    fn default() -> Self {
        Self {
            filter_containers: false,
            rotate_interval: 300,
            exporter_id: String::new(),
            node_ip: String::new(),
            file_path: None,
            socket_path: None,
            scap_input_path: None,
            falco_filter: None,
            sampling_ratio: 1,
            cri_path: None,
            cri_timeout: Duration::from_secs(1),
            enable_stats: false,
            enable_process_flow: true,
            file_only: true,
            file_read_mode: FileReadMode::NoNoisyReads,
            drop_mode: true,
            callback: None,
            debug_mode: false,
            k8s_api_url: None,
            k8s_api_cert: None,
            module_checks: true,
            collection_mode: CollectionMode::Flow,
            app_name: "sysflowlibs".to_string(),
            single_buffer_dimension: DEFAULT_BUFFER_BYTES,
            file_codec: AvroCodec::default(),
            rotate_offline: false,
            env_overrides: true,
            host_root: PathBuf::new(),
            docker_path: None,
            container_metadata: true,
            file_mode: 0o600,
            file_overwrite: false,
            socket_reader_uid: None,
        }
    }
}

impl fmt::Debug for SysFlowConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SysFlowConfig")
            .field("filter_containers", &self.filter_containers)
            .field("rotate_interval", &self.rotate_interval)
            .field("exporter_id", &self.exporter_id)
            .field("node_ip", &self.node_ip)
            .field("file_path", &self.file_path)
            .field("socket_path", &self.socket_path)
            .field("scap_input_path", &self.scap_input_path)
            .field("falco_filter", &self.falco_filter)
            .field("sampling_ratio", &self.sampling_ratio)
            .field("cri_path", &self.cri_path)
            .field("cri_timeout", &self.cri_timeout)
            .field("enable_stats", &self.enable_stats)
            .field("enable_process_flow", &self.enable_process_flow)
            .field("file_only", &self.file_only)
            .field("file_read_mode", &self.file_read_mode)
            .field("drop_mode", &self.drop_mode)
            .field("callback", &self.callback.as_ref().map(|_| "<fn>"))
            .field("debug_mode", &self.debug_mode)
            .field("k8s_api_url", &self.k8s_api_url)
            .field("k8s_api_cert", &self.k8s_api_cert)
            .field("module_checks", &self.module_checks)
            .field("collection_mode", &self.collection_mode)
            .field("app_name", &self.app_name)
            .field("single_buffer_dimension", &self.single_buffer_dimension)
            .field("file_codec", &self.file_codec)
            .field("rotate_offline", &self.rotate_offline)
            .field("env_overrides", &self.env_overrides)
            .field("host_root", &self.host_root)
            .field("docker_path", &self.docker_path)
            .field("container_metadata", &self.container_metadata)
            .field("file_mode", &format_args!("{:#o}", self.file_mode))
            .field("file_overwrite", &self.file_overwrite)
            .field("socket_reader_uid", &self.socket_reader_uid)
            .finish()
    }
}

/// The longest `cri_timeout` accepted: one call to a runtime that takes longer is a hung
/// runtime.
pub const MAX_CRI_TIMEOUT: Duration = Duration::from_secs(3600);

/// The port of a URL authority (`user@host:port`, `[v6]:port`) as written, if it has one.
fn url_port(authority: &str) -> Option<&str> {
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let after_host = match host_port.rfind(']') {
        Some(end) => &host_port[end + 1..],
        None => host_port,
    };
    after_host.rsplit_once(':').map(|(_, port)| port)
}

/// `path` (absolute, such as `/proc`) on the host whose root file system is mounted at
/// `host_root` (`HOST_ROOT`); an empty `host_root` is `/`.
pub(crate) fn host_path(host_root: &std::path::Path, path: &str) -> PathBuf {
    let rel = path.trim_start_matches('/');
    if host_root.as_os_str().is_empty() {
        std::path::Path::new("/").join(rel)
    } else {
        host_root.join(rel)
    }
}

/// "1" turns a flag on, any other set value turns it off, unset keeps the config.
fn env_flag(v: Option<String>, current: bool) -> bool {
    match v {
        Some(v) => v == "1",
        None => current,
    }
}

/// `FILE_READ_MODE`'s value as the reference reads it: `0`, `1` or `2`, else none.
fn env_read_mode(v: &str) -> Option<FileReadMode> {
    v.parse::<i64>().ok().and_then(FileReadMode::from_int)
}

/// What [`SysFlowConfig::apply_env_from`] takes differently from what a variable seems to
/// ask: one line per variable set to a value it does not know (the reference's rules
/// apply, see there), for the driver to log as warnings.
pub(crate) fn env_warnings(var: impl Fn(&str) -> Option<String>) -> Vec<String> {
    let mut w = Vec::new();
    for k in ["ENABLE_STATS", "DRIVER_LOG"] {
        if let Some(v) = var(k).filter(|v| !matches!(v.as_str(), "" | "0" | "1")) {
            w.push(format!("{k}={v:?} is ignored: only \"1\" turns it on"));
        }
    }
    for k in ["ENABLE_DROP_MODE", "FILE_ONLY", "ENABLE_PROC_FLOW"] {
        if let Some(v) = var(k).filter(|v| !matches!(v.as_str(), "0" | "1")) {
            w.push(format!("{k}={v:?} is taken as off: only \"1\" turns it on"));
        }
    }
    if let Some(v) = var("FILE_READ_MODE").filter(|v| env_read_mode(v).is_none()) {
        w.push(format!(
            "FILE_READ_MODE={v:?} is ignored: it takes 0, 1 or 2"
        ));
    }
    if let Some(v) =
        var("NODE_IP").filter(|v| !v.is_empty() && v.parse::<std::net::IpAddr>().is_err())
    {
        w.push(format!(
            "NODE_IP={v:?} is not an IP address (kept as given)"
        ));
    }
    w
}

impl SysFlowConfig {
    /// Applies the reference's environment overrides, reading variables through `var`:
    ///
    /// - `ENABLE_STATS=1` turns stats on (other values are ignored);
    /// - `NODE_IP`, if set and non-empty, replaces `node_ip`; if set but empty, `node_ip`
    ///   is cleared;
    /// - `ENABLE_DROP_MODE`, `FILE_ONLY`, `ENABLE_PROC_FLOW`: `1` on, any other value off;
    /// - `FILE_READ_MODE`: `0`, `1` or `2` sets the mode, anything else is ignored;
    /// - `SF_K8S_API_URL` and `SF_K8S_API_CERT` set the Kubernetes API;
    /// - `DRIVER_LOG=1` turns debug output on.
    ///
    /// [`SysFlowConfig::apply_env`] also applies `HOST_ROOT` (a path: any bytes).
    pub fn apply_env_from(&mut self, var: impl Fn(&str) -> Option<String>) {
        if var("ENABLE_STATS").as_deref() == Some("1") {
            self.enable_stats = true;
        }
        if let Some(ip) = var("NODE_IP") {
            self.node_ip = ip;
        }
        self.drop_mode = env_flag(var("ENABLE_DROP_MODE"), self.drop_mode);
        self.file_only = env_flag(var("FILE_ONLY"), self.file_only);
        self.enable_process_flow = env_flag(var("ENABLE_PROC_FLOW"), self.enable_process_flow);
        if let Some(m) = var("FILE_READ_MODE").and_then(|v| env_read_mode(&v)) {
            self.file_read_mode = m;
        }
        if let Some(url) = var("SF_K8S_API_URL").filter(|s| !s.is_empty()) {
            self.k8s_api_url = Some(url);
            if let Some(cert) = var("SF_K8S_API_CERT").filter(|s| !s.is_empty()) {
                self.k8s_api_cert = Some(cert.into());
            }
        }
        if var("DRIVER_LOG").as_deref() == Some("1") {
            self.debug_mode = true;
        }
    }

    /// Applies the environment overrides from the process environment, and, for a live
    /// capture, `HOST_ROOT`, if set, replaces `host_root` (read as bytes: it is a path;
    /// a conversion reads users and containers from its capture, so `HOST_ROOT` has no
    /// effect there and is not applied).
    pub fn apply_env(&mut self) {
        self.apply_env_from(|k| std::env::var(k).ok());
        if self.scap_input_path.is_none()
            && let Some(root) = std::env::var_os("HOST_ROOT")
        {
            self.host_root = root.into();
        }
    }

    /// Checks the configuration for values the driver cannot honour.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(SysFlowError::InvalidConfig(m));
        if self.sampling_ratio == 0 {
            return bad("sampling_ratio must be at least 1".into());
        }
        if self.rotate_interval == 0 {
            return bad("rotate_interval must be at least 1 second".into());
        }
        if self.file_path.is_none() && self.socket_path.is_none() && self.callback.is_none() {
            return bad("no output configured: set file_path, socket_path or callback".into());
        }
        for (name, p) in [
            ("file_path", &self.file_path),
            ("socket_path", &self.socket_path),
            ("scap_input_path", &self.scap_input_path),
            ("cri_path", &self.cri_path),
            ("docker_path", &self.docker_path),
        ] {
            if p.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
                return bad(format!("{name} is empty; leave it unset instead"));
            }
        }
        if self.file_mode & !0o777 != 0 || self.file_mode & 0o200 == 0 {
            return bad(format!(
                "file_mode {:#o} must be permission bits (at most 0o777) that let the owner \
                 write",
                self.file_mode
            ));
        }
        let page = 4096;
        if self.single_buffer_dimension < page || self.single_buffer_dimension % page != 0 {
            return bad(format!(
                "single_buffer_dimension {} must be a non-zero multiple of the page size ({page})",
                self.single_buffer_dimension
            ));
        }
        let unsupported = |what: &str| {
            Err(SysFlowError::OperationNotSupported(format!(
                "{what} is not supported yet; leave it unset"
            )))
        };
        if let Some(url) = &self.k8s_api_url {
            if !cfg!(feature = "k8s") {
                return unsupported("k8s_api_url in a build without the `k8s` feature");
            }
            let uri: std::result::Result<hyper::Uri, _> = url.parse();
            match uri {
                Ok(u) if matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some() => {
                    // The URI parser keeps a port it cannot use (`:99999`) without a word,
                    // and the client would then retry for ever.
                    if let Some(port) = u.authority().and_then(|a| url_port(a.as_str()))
                        && !port.parse::<u16>().is_ok_and(|p| p != 0)
                    {
                        return bad(format!(
                            "k8s_api_url (SF_K8S_API_URL) {url:?}: port {port:?} is not a TCP \
                             port number (1 to 65535)"
                        ));
                    }
                }
                _ => {
                    return bad(format!(
                        "k8s_api_url {url:?} is not an http:// or https:// URL with a host"
                    ));
                }
            }
            if self.scap_input_path.is_some() {
                return bad(
                    "k8s_api_url applies to live capture; a capture file conversion has no \
                     cluster to ask"
                        .into(),
                );
            }
            if let Some(cert) = &self.k8s_api_cert {
                let why = match std::fs::metadata(cert) {
                    Ok(m) if m.is_file() => None,
                    Ok(_) => Some("not a regular file".to_string()),
                    Err(e) => Some(e.to_string()),
                };
                if let Some(why) = why {
                    return bad(format!(
                        "k8s_api_cert {}: {why} (it names the file holding the API server's \
                         bearer token)",
                        cert.display()
                    ));
                }
            }
        } else if self.k8s_api_cert.is_some() {
            return bad("k8s_api_cert is set without k8s_api_url; it has no effect alone".into());
        }
        if self.cri_path.is_some() && !cfg!(feature = "cri") {
            return unsupported("cri_path in a build without the `cri` feature");
        }
        if self.cri_timeout.is_zero() || self.cri_timeout > MAX_CRI_TIMEOUT {
            return bad(format!(
                "cri_timeout {:?} must be between 1 ms and {MAX_CRI_TIMEOUT:?}",
                self.cri_timeout
            ));
        }
        if let AvroCodec::Deflate(level) = self.file_codec
            && level > 12
        {
            return bad(format!("deflate level {level} is above 12"));
        }
        if self.scap_input_path.is_some() {
            self.validate_conversion()
        } else if self.rotate_offline {
            bad(
                "rotate_offline applies to capture file conversions; a live capture always \
                 rotates every rotate_interval"
                    .into(),
            )
        } else {
            Ok(())
        }
    }

    /// A conversion (`scap_input_path` set) refuses every option that only a live capture
    /// can honour, when it is not at its default: a capture file already holds what its
    /// capturer kept, and its container metadata comes from the capture.
    fn validate_conversion(&self) -> Result<()> {
        let d = SysFlowConfig::default();
        let live_only = [
            ("sampling_ratio", self.sampling_ratio != d.sampling_ratio),
            (
                "single_buffer_dimension",
                self.single_buffer_dimension != d.single_buffer_dimension,
            ),
            ("cri_path", self.cri_path.is_some()),
            ("docker_path", self.docker_path.is_some()),
            ("cri_timeout", self.cri_timeout != d.cri_timeout),
            ("container_metadata", !self.container_metadata),
            ("host_root", !self.host_root.as_os_str().is_empty()),
            ("module_checks", !self.module_checks),
        ];
        match live_only.iter().find(|(_, set)| *set) {
            Some((name, _)) => Err(SysFlowError::InvalidConfig(format!(
                "{name} applies to live capture only; a conversion of {} cannot honour it: \
                 leave it at its default",
                self.scap_input_path
                    .as_deref()
                    .unwrap_or(std::path::Path::new(""))
                    .display()
            ))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::path::Path;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn host_paths_are_under_the_host_root() {
        assert_eq!(host_path(Path::new(""), "/proc"), Path::new("/proc"));
        assert_eq!(
            host_path(Path::new("/host"), "/etc/passwd"),
            Path::new("/host/etc/passwd")
        );
        assert_eq!(
            host_path(Path::new("/host/"), "/proc"),
            Path::new("/host/proc")
        );
    }

    #[test]
    fn defaults_are_the_reference_defaults() {
        let c = SysFlowConfig::default();
        assert!(!c.filter_containers);
        assert_eq!(c.rotate_interval, 300);
        assert_eq!(c.sampling_ratio, 1);
        assert_eq!(c.cri_timeout, Duration::from_secs(1));
        assert!(c.container_metadata && c.host_root.as_os_str().is_empty());
        assert!(!c.enable_stats);
        assert!(c.enable_process_flow);
        assert!(c.file_only);
        assert_eq!(c.file_read_mode, FileReadMode::NoNoisyReads);
        assert!(c.drop_mode);
        assert!(c.callback.is_none());
        assert!(!c.debug_mode);
        assert!(c.module_checks);
        assert_eq!(c.single_buffer_dimension, 8 * 1024 * 1024);
        assert_eq!(c.app_name, "sysflowlibs");
        assert_eq!(c.collection_mode, CollectionMode::Flow);
        assert!(c.exporter_id.is_empty() && c.node_ip.is_empty());
        assert!(c.file_path.is_none() && c.scap_input_path.is_none());
    }

    #[test]
    fn environment_overrides_follow_the_reference() {
        let mut c = SysFlowConfig::default();
        c.apply_env_from(env(&[
            ("ENABLE_DROP_MODE", "0"),
            ("ENABLE_PROC_FLOW", "0"),
            ("FILE_ONLY", "0"),
            ("FILE_READ_MODE", "0"),
            ("NODE_IP", "10.1.2.3"),
            ("ENABLE_STATS", "1"),
        ]));
        assert!(!c.drop_mode && !c.enable_process_flow && !c.file_only);
        assert_eq!(c.file_read_mode, FileReadMode::All);
        assert_eq!(c.node_ip, "10.1.2.3");
        assert!(c.enable_stats);

        let mut c = SysFlowConfig {
            drop_mode: false,
            ..Default::default()
        };
        c.apply_env_from(env(&[
            ("ENABLE_DROP_MODE", "1"),
            ("FILE_READ_MODE", "7"),
            ("ENABLE_STATS", "yes"),
        ]));
        assert!(c.drop_mode);
        assert_eq!(c.file_read_mode, FileReadMode::NoNoisyReads);
        assert!(!c.enable_stats);
    }

    #[test]
    fn environment_values_the_reference_would_misread_are_warned_about() {
        // values the reference takes as they are: no warning
        assert!(
            env_warnings(env(&[
                ("ENABLE_DROP_MODE", "0"),
                ("FILE_ONLY", "1"),
                ("ENABLE_PROC_FLOW", "0"),
                ("FILE_READ_MODE", "2"),
                ("NODE_IP", "10.1.2.3"),
                ("ENABLE_STATS", "1"),
                ("DRIVER_LOG", "0"),
            ]))
            .is_empty()
        );
        assert!(env_warnings(env(&[("NODE_IP", ""), ("ENABLE_STATS", "")])).is_empty());
        let w = env_warnings(env(&[
            ("ENABLE_DROP_MODE", "true"),
            ("FILE_ONLY", "yes"),
            ("ENABLE_PROC_FLOW", ""),
            ("FILE_READ_MODE", "9"),
            ("NODE_IP", "notanip"),
            ("ENABLE_STATS", "on"),
            ("DRIVER_LOG", "debug"),
        ]));
        assert_eq!(
            w,
            [
                r#"ENABLE_STATS="on" is ignored: only "1" turns it on"#,
                r#"DRIVER_LOG="debug" is ignored: only "1" turns it on"#,
                r#"ENABLE_DROP_MODE="true" is taken as off: only "1" turns it on"#,
                r#"FILE_ONLY="yes" is taken as off: only "1" turns it on"#,
                r#"ENABLE_PROC_FLOW="" is taken as off: only "1" turns it on"#,
                r#"FILE_READ_MODE="9" is ignored: it takes 0, 1 or 2"#,
                r#"NODE_IP="notanip" is not an IP address (kept as given)"#,
            ]
        );
    }

    #[test]
    fn k8s_api_urls_with_unusable_ports_are_refused() {
        let live = |url: &str| SysFlowConfig {
            file_path: Some("/tmp/x".into()),
            k8s_api_url: Some(url.into()),
            ..Default::default()
        };
        for url in [
            "https://127.0.0.1:99999",
            "https://127.0.0.1:65536",
            "https://127.0.0.1:0",
            "https://kubernetes.default.svc:https",
            "https://k8s:6443x/api",
            "http://[::1]:70000",
            "https://user@k8s:99999",
        ] {
            let e = live(url).validate().unwrap_err();
            assert!(matches!(e, SysFlowError::InvalidConfig(_)), "{url}: {e:?}");
            let e = e.to_string();
            assert!(
                e.contains("k8s_api_url") && e.contains("port"),
                "{url}: {e}"
            );
        }
        for url in [
            "https://127.0.0.1:6443",
            "https://kubernetes.default.svc",
            "http://[::1]:8080",
            "http://[::1]",
            "https://user@k8s:443/",
        ] {
            live(url)
                .validate()
                .unwrap_or_else(|e| panic!("{url}: {e}"));
        }
        // the environment override is checked the same way
        let mut c = live("https://127.0.0.1:6443");
        c.apply_env_from(env(&[("SF_K8S_API_URL", "https://127.0.0.1:99999")]));
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("SF_K8S_API_URL") && e.contains("99999"), "{e}");
    }

    #[test]
    fn validation_names_the_problem() {
        let c = SysFlowConfig::default();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("no output"), "{e}");
        let c = SysFlowConfig {
            file_path: Some("/tmp/x".into()),
            sampling_ratio: 0,
            ..Default::default()
        };
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("sampling_ratio")
        );
        for t in [
            Duration::ZERO,
            Duration::MAX,
            MAX_CRI_TIMEOUT + Duration::from_millis(1),
        ] {
            let c = SysFlowConfig {
                file_path: Some("/tmp/x".into()),
                cri_timeout: t,
                ..Default::default()
            };
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains("cri_timeout"), "{e}");
        }
    }
}
