//! The metadata worker: one OS thread ("sysflow-meta") owning a current-thread tokio
//! runtime, so every socket, HTTP and gRPC call lives there and the event path never
//! waits for a runtime.
//!
//! What flows through it:
//! - **Requests in**: [`MetaWorker::lookup`] `try_send`s `(full id, hint)` into a bounded
//!   tokio queue; when the queue is full the request is dropped and counted, never waited
//!   for. The worker answers from its cache or starts a lookup task (at most
//!   `MAX_CONCURRENT_LOOKUPS` at once; beyond that it stops draining the queue, which is
//!   the back-pressure). An id already being looked up is not looked up twice.
//! - **Updates out**: [`MetaUpdate`]s on an unbounded crossbeam channel that the caller
//!   drains between event batches ([`MetaWorker::try_recv`]).
//! - **Per socket, a supervisor task**: it probes the socket (Docker `GET /_ping` and
//!   `/version`, CRI `Version`), lists the running containers, then follows the runtime (Docker `/events`;
//!   CRI `GetContainerEvents`, or a re-list every `relist_interval` where that is
//!   unimplemented, as in containerd 1.6). When the socket is absent, refuses, ends its
//!   stream or a lookup times out on it, the socket is marked unhealthy and lookups skip
//!   it; the supervisor probes it again with backoff (0.5 s doubling to 2 s), re-lists on
//!   recovery and retries the ids whose lookups skipped it.
//!
//! Lookups follow libs' retry policy (5 attempts, 125 ms doubling, capped at 2 s; a
//! just-created container may not be visible yet), each runtime call bounded by the
//! configured timeout. A socket that accepts and never answers costs one timeout, then is
//! skipped until its health check passes again.
//!
//! Runtime failures (absent socket, refusal, 404, 500, malformed JSON or protobuf, a
//! runtime vanishing mid-run) are counted in [`MetaStats`] and logged at most once per
//! kind every 10 s. Nothing a runtime sends can panic the worker.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;

use super::cgroup::RuntimeHint;
#[cfg(feature = "cri")]
use super::cri::CriApi;
use super::docker::{DockerApi, DockerEvent};
use super::meta::{ContainerMeta, RuntimeKind};
use crate::diag::Diag;

/// Lookups running at once; beyond that the worker stops draining the request queue.
const MAX_CONCURRENT_LOOKUPS: usize = 128;
/// Containers inspected at once while listing a runtime.
const LIST_CONCURRENCY: usize = 8;
/// Reconnect / health-check backoff of a supervisor. The maximum bounds how late a runtime
/// that comes back is noticed; a probe of an absent socket costs microseconds.
const RECONNECT_MIN: Duration = Duration::from_millis(500);
const RECONNECT_MAX: Duration = Duration::from_secs(2);
/// The shortest CRI re-list period honoured (a zero would spin).
#[cfg(feature = "cri")]
const MIN_RELIST: Duration = Duration::from_millis(10);
/// Lookup retry delays are capped here (libs: 2 s).
const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// Ids remembered per unreachable socket for a retry when it recovers.
const MAX_PENDING: usize = 4096;
/// How long `shutdown` waits for the thread.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// Where and how the worker asks the runtimes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaConfig {
    /// Docker-compatible API sockets (Docker, podman rootful, podman rootless); all are
    /// used. A socket that does not exist yet is probed with backoff until it appears.
    pub docker_sockets: Vec<PathBuf>,
    /// CRI sockets; every one that answers `Version` is used. Ignored when the crate is
    /// built without the `cri` feature.
    pub cri_sockets: Vec<PathBuf>,
    /// Bound on each runtime call (libs' `criTO`; default 1 s).
    pub timeout: Duration,
    /// Lookup attempts per container before [`MetaUpdate::Unknown`] (default 5).
    pub attempts: u32,
    /// Delay before the first retry (default 125 ms), doubling, capped at 2 s.
    pub backoff: Duration,
    /// Re-list period for CRI runtimes without an event stream (default 1 s).
    pub relist_interval: Duration,
    /// Capacity of the request queue (default 4096); [`MetaWorker::lookup`] fails when full.
    pub queue_capacity: usize,
    /// Most containers cached (default 65536). When full, removed containers are evicted
    /// first, then the oldest.
    pub cache_capacity: usize,
    /// `docker_sockets` were named by the user (`docker_path`), not defaults: one that
    /// does not exist is then warned about and counted like one that refuses (absent
    /// default sockets are normal and only logged at debug level).
    pub named_docker: bool,
    /// `cri_sockets` were named by the user (`criPath`), not defaults (as
    /// [`MetaConfig::named_docker`]).
    pub named_cri: bool,
    /// The Kubernetes API server to list and watch (`k8s_api_url`), if any: its changes
    /// arrive as [`MetaUpdate::K8s`]. Ignored when the crate is built without the `k8s`
    /// feature.
    pub k8s: Option<crate::k8s::K8sConfig>,
}

impl Default for MetaConfig {
    fn default() -> Self {
        Self::with_host_root(Path::new("/"))
    }
}

impl MetaConfig {
    /// The default sockets under a host root prefix (`""` or `"/"` for this machine,
    /// `"/host"` in a collector container that mounts the host's root there).
    ///
    /// Docker-compatible: `/run/docker.sock` (or `/var/run/docker.sock` when only that
    /// exists), podman rootful `/run/podman/podman.sock`, and podman rootless
    /// `/run/user/<uid>/podman/podman.sock` for every such socket present now.
    /// CRI: containerd, CRI-O, k3s, `host-containerd` (Bottlerocket), cri-dockerd,
    /// microk8s and k0s at their usual paths.
    pub fn with_host_root(host_root: &Path) -> Self {
        let at = |p: &str| crate::config::host_path(host_root, p);
        // Why both spellings: under a host-root mount `/host/var/run` is often a symlink to
        // the absolute `/run`, which resolves inside the collector, not the host.
        let either = |name: &str| {
            let run = at(&format!("/run/{name}"));
            let var_run = at(&format!("/var/run/{name}"));
            if !run.exists() && var_run.exists() {
                var_run
            } else {
                run
            }
        };
        let mut docker_sockets = vec![either("docker.sock"), at("/run/podman/podman.sock")];
        if let Ok(users) = std::fs::read_dir(at("/run/user")) {
            let mut rootless: Vec<PathBuf> = users
                .flatten()
                .map(|u| u.path().join("podman/podman.sock"))
                .filter(|p| p.exists())
                .collect();
            rootless.sort();
            docker_sockets.extend(rootless);
        }
        let cri_sockets = vec![
            at("/run/containerd/containerd.sock"),
            at("/run/crio/crio.sock"),
            at("/run/k3s/containerd/containerd.sock"),
            at("/run/host-containerd/containerd.sock"),
            either("cri-dockerd.sock"),
            at("/var/snap/microk8s/common/run/containerd.sock"),
            at("/run/k0s/containerd.sock"),
        ];
        MetaConfig {
            docker_sockets,
            cri_sockets,
            timeout: Duration::from_secs(1),
            attempts: 5,
            backoff: Duration::from_millis(125),
            relist_interval: Duration::from_secs(1),
            queue_capacity: 4096,
            cache_capacity: 65536,
            named_docker: false,
            named_cri: false,
            k8s: None,
        }
    }
}

/// What the worker reports.
#[derive(Clone, Debug, PartialEq, Eq)]
// Why not boxed: updates are few and moved once; callers get the plain struct.
#[allow(clippy::large_enum_variant)]
pub enum MetaUpdate {
    /// A container, looked up, listed at start or after a runtime event. Its `id` is the
    /// full id. The same container may be reported again (cache hits, renames).
    Container(ContainerMeta),
    /// Every runtime was asked (or was unreachable) for `attempts` tries: the caller keeps
    /// the container incomplete. A later [`MetaUpdate::Container`] may still come when an
    /// unreachable runtime recovers.
    Unknown {
        /// The id as requested.
        id: String,
    },
    /// The runtime says the container is gone (for pruning caches).
    Removed {
        /// The full id.
        id: String,
    },
    /// The Kubernetes API server reported a change ([`MetaConfig::k8s`]).
    K8s(crate::k8s::K8sUpdate),
}

/// Counters of the worker, for diagnostics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetaStats {
    /// Lookup requests taken off the queue (cache hits and de-duplicated ones included).
    pub lookups: u64,
    /// Lookups answered with a container (from the cache or a runtime; an id found after
    /// its runtime recovered counts here too).
    pub found: u64,
    /// Lookups answered [`MetaUpdate::Unknown`].
    pub unknown: u64,
    /// Runtime calls that hit the timeout.
    pub timeouts: u64,
    /// Other failed calls: refused, HTTP or gRPC errors other than not-found, malformed
    /// JSON or protobuf, a connection closed mid-response.
    pub errors: u64,
    /// Requests dropped because the queue was full.
    pub queue_full: u64,
    /// Containers reported from a listing (at start, after a reconnect, CRI re-lists).
    pub listed: u64,
    /// Container events received from runtime event streams.
    pub runtime_events: u64,
    /// Containers evicted from the full cache.
    pub cache_evictions: u64,
    /// CPU time of the worker thread so far in ns (`CLOCK_THREAD_CPUTIME_ID`, refreshed at
    /// least every 100 ms and at exit).
    pub cpu_time_ns: u64,
    /// Kubernetes watch events received (each one a K8sEvent record).
    pub k8s_events: u64,
    /// Failed Kubernetes lists and watches (unreachable server, 401/403, a bad
    /// certificate, malformed answers), each retried with backoff.
    pub k8s_errors: u64,
}

#[derive(Default)]
struct Counters {
    lookups: AtomicU64,
    found: AtomicU64,
    unknown: AtomicU64,
    timeouts: AtomicU64,
    errors: AtomicU64,
    queue_full: AtomicU64,
    listed: AtomicU64,
    runtime_events: AtomicU64,
    cache_evictions: AtomicU64,
    cpu_time_ns: AtomicU64,
    k8s: Arc<crate::k8s::K8sCounters>,
}

impl Counters {
    fn snapshot(&self) -> MetaStats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetaStats {
            lookups: g(&self.lookups),
            found: g(&self.found),
            unknown: g(&self.unknown),
            timeouts: g(&self.timeouts),
            errors: g(&self.errors),
            queue_full: g(&self.queue_full),
            listed: g(&self.listed),
            runtime_events: g(&self.runtime_events),
            cache_evictions: g(&self.cache_evictions),
            cpu_time_ns: g(&self.cpu_time_ns),
            k8s_events: g(&self.k8s.events),
            k8s_errors: g(&self.k8s.errors),
        }
    }
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Why a runtime call failed. Shared by the Docker and CRI clients.
#[derive(Debug, thiserror::Error)]
pub(super) enum CallError {
    /// Could not connect (absent socket, refused, transport down): the socket is unhealthy.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The call did not finish within the timeout: the socket is unhealthy.
    #[error("timed out")]
    Timeout,
    /// The runtime does not know the id (yet). Only CRI reports it as an error; a Docker
    /// 404 is an `Ok(None)`.
    #[cfg_attr(not(feature = "cri"), allow(dead_code))]
    #[error("not found")]
    NotFound,
    /// The runtime answered, but wrongly (HTTP/gRPC error, malformed data, cut response).
    #[error("{0}")]
    Failed(String),
}

/// The hex digest of an image id (`sha256:<64 hex>` or bare 64 hex), else `None`.
pub(super) fn hex_image_id(s: &str) -> Option<&str> {
    let h = s.strip_prefix("sha256:").unwrap_or(s);
    (h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())).then_some(h)
}

/// `repo` → `repo:latest`; a reference with a tag or digest is returned as is. A `:` in an
/// earlier path component is a registry port, not a tag.
pub(super) fn with_default_tag(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.is_empty() || image.contains('@') || last.contains(':') {
        image.to_owned()
    } else {
        format!("{image}:latest")
    }
}

/// When a kind of warning about a socket was last logged, and how many were suppressed
/// since.
type LastLogged = HashMap<(&'static str, PathBuf), (Instant, u64)>;

/// Logs at most one line per kind (and socket) every 10 s, saying how many were
/// suppressed.
#[derive(Default)]
struct LogLimiter {
    last: Mutex<LastLogged>,
    /// Where the lines go (the driver's `app_name`).
    diag: Diag,
    /// The lines logged (tests read them).
    #[cfg(test)]
    logged: Mutex<Vec<String>>,
}

impl LogLimiter {
    /// A warning about no particular socket (the Kubernetes watchers').
    #[cfg(feature = "k8s")]
    fn warn(&self, kind: &'static str, msg: impl FnOnce() -> String) {
        self.warn_about(kind, Path::new(""), msg);
    }

    /// A warning about one socket: one socket's failures never hide another's.
    fn warn_about(&self, kind: &'static str, socket: &Path, msg: impl FnOnce() -> String) {
        let now = Instant::now();
        let suppressed = {
            let mut m = self.last.lock();
            match m.get_mut(&(kind, socket.to_path_buf())) {
                Some((last, n)) if now.duration_since(*last) < Duration::from_secs(10) => {
                    *n += 1;
                    return;
                }
                Some((last, n)) => {
                    *last = now;
                    std::mem::take(n)
                }
                None => {
                    m.insert((kind, socket.to_path_buf()), (now, 0));
                    0
                }
            }
        };
        let msg = msg();
        self.diag.warn(format_args!(
            "container metadata: {msg} ({suppressed} similar suppressed)"
        ));
        #[cfg(test)]
        self.logged.lock().push(msg);
    }
}

/// Cached containers, evicting removed ones first, then the oldest.
struct Cache {
    cap: usize,
    map: HashMap<String, CacheEntry>,
    /// Insertion order with sequence numbers; stale pairs are skipped lazily.
    order: VecDeque<(String, u64)>,
    removed: VecDeque<String>,
    seq: u64,
}

struct CacheEntry {
    meta: ContainerMeta,
    seq: u64,
    removed: bool,
}

impl Cache {
    fn new(cap: usize) -> Self {
        Cache {
            cap: cap.max(1),
            map: HashMap::new(),
            order: VecDeque::new(),
            removed: VecDeque::new(),
            seq: 0,
        }
    }

    fn get(&self, id: &str) -> Option<&ContainerMeta> {
        self.map.get(id).map(|e| &e.meta)
    }

    /// Inserts or replaces; returns how many entries were evicted.
    fn insert(&mut self, meta: ContainerMeta) -> u64 {
        let mut evicted = 0;
        if !self.map.contains_key(&meta.id) {
            while self.map.len() >= self.cap && self.evict_one() {
                evicted += 1;
            }
        }
        self.seq += 1;
        self.order.push_back((meta.id.clone(), self.seq));
        let entry = CacheEntry {
            seq: self.seq,
            removed: false,
            meta,
        };
        self.map.insert(entry.meta.id.clone(), entry);
        if self.order.len() > 2 * self.cap + 16 {
            // Why: replaced entries leave stale pairs behind; rebuild instead of growing.
            let mut live: Vec<_> = self.map.iter().map(|(k, e)| (k.clone(), e.seq)).collect();
            live.sort_by_key(|(_, s)| *s);
            self.order = live.into();
        }
        evicted
    }

    fn evict_one(&mut self) -> bool {
        while let Some(id) = self.removed.pop_front() {
            if self.map.get(&id).is_some_and(|e| e.removed) {
                self.map.remove(&id);
                return true;
            }
        }
        while let Some((id, seq)) = self.order.pop_front() {
            if self.map.get(&id).is_some_and(|e| e.seq == seq) {
                self.map.remove(&id);
                return true;
            }
        }
        false
    }

    /// Keeps the entry (a late lookup for a container that just exited still gets its
    /// metadata: events reach us after the runtime's destroy) but evicts it first.
    fn mark_removed(&mut self, id: &str) {
        if let Some(e) = self.map.get_mut(id) {
            if !e.removed {
                e.removed = true;
                self.removed.push_back(id.to_owned());
            }
        }
    }
}

/// The API behind one socket.
enum Api {
    Docker(DockerApi),
    #[cfg(feature = "cri")]
    Cri(CriApi),
}

/// One runtime socket with its health.
struct Runtime {
    api: Api,
    healthy: AtomicBool,
    kind: Mutex<RuntimeKind>,
    /// Woken when a lookup finds the socket unhealthy, so the supervisor drops its stream
    /// and starts health checks.
    wake: Notify,
    /// Ids whose lookups skipped this socket, retried when it recovers.
    pending: Mutex<HashMap<String, RuntimeHint>>,
    /// Its first listing is done (or the runtime could not be reached at start).
    listed_once: AtomicBool,
}

impl Runtime {
    fn new(api: Api, kind: RuntimeKind) -> Self {
        Runtime {
            api,
            healthy: AtomicBool::new(false),
            kind: Mutex::new(kind),
            wake: Notify::new(),
            pending: Mutex::new(HashMap::new()),
            listed_once: AtomicBool::new(false),
        }
    }

    fn socket(&self) -> &Path {
        match &self.api {
            Api::Docker(d) => d.socket(),
            #[cfg(feature = "cri")]
            Api::Cri(c) => c.socket(),
        }
    }

    fn is_docker(&self) -> bool {
        matches!(self.api, Api::Docker(_))
    }

    fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    fn mark_unhealthy(&self) {
        if self.healthy.swap(false, Ordering::AcqRel) {
            self.wake.notify_one();
        }
    }

    fn kind(&self) -> RuntimeKind {
        *self.kind.lock()
    }

    /// The health check (Docker `/_ping`, CRI `Version`); learns which runtime answers.
    async fn connect(&self) -> Result<(), CallError> {
        let kind = match &self.api {
            Api::Docker(d) => {
                d.ping().await?;
                d.version().await?
            }
            #[cfg(feature = "cri")]
            Api::Cri(c) => {
                c.reset();
                c.version().await?
            }
        };
        *self.kind.lock() = kind;
        Ok(())
    }

    async fn inspect(&self, id: &str) -> Result<Option<ContainerMeta>, CallError> {
        let kind = self.kind();
        match &self.api {
            Api::Docker(d) => d.inspect(id, kind).await,
            #[cfg(feature = "cri")]
            Api::Cri(c) => c.inspect(id, kind).await,
        }
    }

    async fn list(&self) -> Result<Vec<String>, CallError> {
        match &self.api {
            Api::Docker(d) => d.list().await,
            #[cfg(feature = "cri")]
            Api::Cri(c) => c.list().await,
        }
    }
}

/// State shared by the worker's tasks (all on the one worker thread).
struct Ctx {
    cfg: MetaConfig,
    runtimes: Vec<Arc<Runtime>>,
    out: crossbeam_channel::Sender<MetaUpdate>,
    stats: Arc<Counters>,
    cache: Mutex<Cache>,
    /// Ids being looked up, and whether a caller waits for the answer.
    in_flight: Mutex<HashMap<String, bool>>,
    logs: LogLimiter,
    /// One message per runtime when its first listing ended (see
    /// [`MetaWorker::wait_listed`]).
    listed: crossbeam_channel::Sender<Listed>,
}

impl Ctx {
    /// Reports, once per runtime, that what it runs at start is known (or that it could
    /// not be asked).
    fn mark_listed(&self, rt: &Runtime) {
        if !rt.listed_once.swap(true, Ordering::AcqRel) {
            let _ = self.listed.send(Listed::One);
        }
    }

    fn send(&self, u: MetaUpdate) {
        // Why ignore: the receiver is gone only while the worker is being shut down.
        let _ = self.out.send(u);
    }

    /// Caches and sends a container; with `quiet_if_known`, not when the cache already
    /// holds the same (a recovery retry and a re-listing may race). Returns whether sent.
    fn report(&self, meta: ContainerMeta, quiet_if_known: bool) -> bool {
        let evicted = {
            let mut cache = self.cache.lock();
            if quiet_if_known && cache.get(&meta.id) == Some(&meta) {
                return false;
            }
            cache.insert(meta.clone())
        };
        self.stats
            .cache_evictions
            .fetch_add(evicted, Ordering::Relaxed);
        self.send(MetaUpdate::Container(meta));
        true
    }

    fn cached(&self, id: &str) -> bool {
        self.cache.lock().get(id).is_some()
    }

    /// Counts and logs (naming the socket) a failed call; returns whether the socket is
    /// now unhealthy.
    fn failed(&self, rt: &Runtime, what: &str, e: &CallError) -> bool {
        let path = rt.socket();
        let sock = path.display();
        match e {
            CallError::NotFound => false,
            CallError::Timeout => {
                bump(&self.stats.timeouts);
                self.logs
                    .warn_about("timeout", path, || format!("{what} on {sock} timed out"));
                rt.mark_unhealthy();
                true
            }
            CallError::Unreachable(m) => {
                bump(&self.stats.errors);
                self.logs.warn_about("unreachable", path, || {
                    format!("{what} on {sock}: unreachable: {m}")
                });
                rt.mark_unhealthy();
                true
            }
            CallError::Failed(m) => {
                bump(&self.stats.errors);
                self.logs
                    .warn_about("failed", path, || format!("{what} on {sock}: {m}"));
                false
            }
        }
    }

    /// Runtimes in the order a hint suggests; none for LXC and libvirt-lxc (no API).
    fn order_for(&self, hint: RuntimeHint) -> Vec<Arc<Runtime>> {
        use RuntimeHint as H;
        let docker_first = match hint {
            H::Lxc | H::LibvirtLxc => return Vec::new(),
            H::Docker | H::Podman => true,
            H::Containerd | H::Cri | H::CriContainerd | H::Crio => false,
        };
        let preferred = match hint {
            H::Docker => Some(RuntimeKind::Docker),
            H::Podman => Some(RuntimeKind::Podman),
            H::Containerd | H::CriContainerd => Some(RuntimeKind::Containerd),
            H::Crio => Some(RuntimeKind::CriO),
            _ => None,
        };
        let mut v = self.runtimes.clone();
        v.sort_by_key(|rt| {
            let group = if rt.is_docker() == docker_first { 0 } else { 2 };
            group + u8::from(Some(rt.kind()) != preferred)
        });
        v
    }
}

/// A lookup: ask the runtimes in hint order, with retries. A retry after a runtime
/// recovered that nobody is waiting for reports only a find, and nothing already cached.
async fn lookup(ctx: Arc<Ctx>, id: String, hint: RuntimeHint) {
    let waited_for = |ctx: &Ctx| ctx.in_flight.lock().get(&id).copied().unwrap_or(false);
    let order = ctx.order_for(hint);
    let mut skipped: Vec<Arc<Runtime>> = Vec::new();
    let mut delay = ctx.cfg.backoff;
    let mut found = None;
    // A retry after a recovery: the re-listing may have found it already.
    if waited_for(&ctx) || !ctx.cached(&id) {
        'attempts: for attempt in 0..ctx.cfg.attempts.max(1) {
            let mut reachable = false;
            for rt in &order {
                if !rt.is_healthy() {
                    if !skipped.iter().any(|s| Arc::ptr_eq(s, rt)) {
                        skipped.push(rt.clone());
                    }
                    continue;
                }
                match rt.inspect(&id).await {
                    Ok(Some(meta)) => {
                        found = Some(meta);
                        break 'attempts;
                    }
                    Ok(None) => reachable = true,
                    Err(e) => {
                        if ctx.failed(rt, "container lookup", &e) {
                            skipped.push(rt.clone());
                        } else {
                            reachable = true;
                        }
                    }
                }
            }
            // Why stop early: with every socket unreachable more tries cannot help; the
            // ids are retried when a socket recovers.
            if !reachable || attempt + 1 >= ctx.cfg.attempts {
                break;
            }
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2).min(BACKOFF_MAX);
        }
    }
    let answer = ctx.in_flight.lock().remove(&id).unwrap_or(false);
    match found {
        Some(meta) => {
            if ctx.report(meta, !answer) {
                bump(&ctx.stats.found);
            }
        }
        None => {
            if answer {
                bump(&ctx.stats.unknown);
                ctx.send(MetaUpdate::Unknown { id: id.clone() });
            }
            for rt in skipped {
                let mut p = rt.pending.lock();
                if p.len() < MAX_PENDING {
                    p.insert(id.clone(), hint);
                }
            }
        }
    }
}

/// Starts a lookup unless the id is already being looked up (then that one answers if
/// `answer`); the permit (if any) is held until it ends.
fn start_lookup(
    ctx: &Arc<Ctx>,
    id: String,
    hint: RuntimeHint,
    answer: bool,
    permit: Option<OwnedSemaphorePermit>,
) {
    {
        let mut in_flight = ctx.in_flight.lock();
        if let Some(a) = in_flight.get_mut(&id) {
            *a |= answer;
            return;
        }
        in_flight.insert(id.clone(), answer);
    }
    let ctx = ctx.clone();
    tokio::spawn(async move {
        lookup(ctx, id, hint).await;
        drop(permit);
    });
}

/// Inspects listed ids (those not cached yet) or, with `refresh`, ids a runtime event
/// announced, on one runtime, and reports them.
async fn report_ids(ctx: &Arc<Ctx>, rt: &Arc<Runtime>, ids: Vec<String>, refresh: bool) {
    let mut set = JoinSet::new();
    for id in ids {
        if !rt.is_healthy() {
            break;
        }
        if !refresh && ctx.cached(&id) {
            continue;
        }
        if set.len() >= LIST_CONCURRENCY {
            set.join_next().await;
        }
        let (ctx, rt) = (ctx.clone(), rt.clone());
        set.spawn(async move {
            match rt.inspect(&id).await {
                Ok(Some(meta)) => {
                    if ctx.report(meta, !refresh) && !refresh {
                        bump(&ctx.stats.listed);
                    }
                }
                // Gone between the listing and the inspect.
                Ok(None) => {}
                Err(e) => {
                    let what = if refresh {
                        "inspect after a runtime event"
                    } else {
                        "inspect of a listed container"
                    };
                    ctx.failed(&rt, what, &e);
                }
            }
        });
    }
    while set.join_next().await.is_some() {}
}

/// Keeps one socket connected: probe, list, follow; on failure back off and start again.
async fn supervise(ctx: Arc<Ctx>, rt: Arc<Runtime>, ready: Arc<Semaphore>) {
    let mut first = true;
    let mut delay = RECONNECT_MIN;
    // Why count only a socket's first failure: absent default sockets are probed forever,
    // and an outage was already counted by the call that ran into it.
    let named = if rt.is_docker() {
        ctx.cfg.named_docker
    } else {
        ctx.cfg.named_cri
    };
    let mut count_failure = rt.socket().exists() || named;
    loop {
        let probe = rt.connect().await;
        if std::mem::take(&mut first) {
            ready.add_permits(1);
        }
        if let Err(e) = probe {
            ctx.mark_listed(&rt);
            if std::mem::take(&mut count_failure) {
                ctx.failed(&rt, "health check", &e);
            }
            log::debug!("{}: {e}", rt.socket().display());
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2).min(RECONNECT_MAX);
            continue;
        }
        log::info!(
            "container metadata: {} answers ({:?})",
            rt.socket().display(),
            rt.kind()
        );
        count_failure = false;
        // Drop a wake-up left over from the last outage, then go live.
        tokio::select! { biased; _ = rt.wake.notified() => {}, _ = std::future::ready(()) => {} }
        rt.healthy.store(true, Ordering::Release);
        let pending: Vec<_> = rt.pending.lock().drain().collect();
        for (id, hint) in pending {
            start_lookup(&ctx, id, hint, false, None);
        }
        let started = Instant::now();
        let res = match &rt.api {
            Api::Docker(d) => follow_docker(&ctx, &rt, d).await,
            #[cfg(feature = "cri")]
            Api::Cri(c) => follow_cri(&ctx, &rt, c).await,
        };
        ctx.mark_listed(&rt);
        if let Err(e) = res {
            ctx.failed(&rt, "runtime stream", &e);
        }
        rt.healthy.store(false, Ordering::Release);
        // Why: a stream that fails at once must not turn into a busy loop.
        if started.elapsed() > Duration::from_secs(30) {
            delay = RECONNECT_MIN;
        }
        tokio::time::sleep(delay).await;
        delay = delay.saturating_mul(2).min(RECONNECT_MAX);
    }
}

/// Docker: subscribe to `/events` first (no gap), list, then follow the events.
async fn follow_docker(
    ctx: &Arc<Ctx>,
    rt: &Arc<Runtime>,
    api: &DockerApi,
) -> Result<(), CallError> {
    let mut events = api.events().await?;
    report_ids(ctx, rt, rt.list().await?, false).await;
    ctx.mark_listed(rt);
    loop {
        let ev = tokio::select! {
            _ = rt.wake.notified() => return Ok(()),
            ev = events.next() => ev?,
        };
        let Some(ev) = ev else {
            return Err(CallError::Unreachable("event stream ended".into()));
        };
        match ev {
            DockerEvent::Changed(id) => {
                bump(&ctx.stats.runtime_events);
                // Inline, so a create/destroy pair is reported in order.
                report_ids(ctx, rt, vec![id], true).await;
            }
            DockerEvent::Removed(id) => {
                bump(&ctx.stats.runtime_events);
                ctx.cache.lock().mark_removed(&id);
                ctx.send(MetaUpdate::Removed { id });
            }
            DockerEvent::Other => bump(&ctx.stats.runtime_events),
            DockerEvent::Malformed(m) => {
                ctx.failed(rt, "docker event", &CallError::Failed(m));
            }
        }
    }
}

/// CRI: list, then follow `GetContainerEvents`; re-list every `relist_interval` while the
/// subscription is unanswered or unimplemented (containerd 1.6).
#[cfg(feature = "cri")]
async fn follow_cri(ctx: &Arc<Ctx>, rt: &Arc<Runtime>, api: &CriApi) -> Result<(), CallError> {
    use std::collections::HashSet;
    let mut seen: HashSet<String> = rt.list().await?.into_iter().collect();
    report_ids(ctx, rt, seen.iter().cloned().collect(), false).await;
    ctx.mark_listed(rt);
    let mut subscription = std::pin::pin!(api.subscribe());
    let mut subscribing = true;
    let mut stream: Option<tonic::Streaming<k8s_cri::v1::ContainerEventResponse>> = None;
    loop {
        tokio::select! {
            _ = rt.wake.notified() => return Ok(()),
            sub = &mut subscription, if subscribing => {
                subscribing = false;
                match sub {
                    Ok(s) => stream = s,
                    Err(e) => { ctx.failed(rt, "CRI GetContainerEvents", &e); }
                }
            }
            ev = async { stream.as_mut()?.message().await.transpose() }, if stream.is_some() => match ev {
                Some(Ok(ev)) => {
                    bump(&ctx.stats.runtime_events);
                    match super::cri::event_kind(&ev) {
                        Some(true) => report_ids(ctx, rt, vec![ev.container_id], true).await,
                        Some(false) => {
                            ctx.cache.lock().mark_removed(&ev.container_id);
                            ctx.send(MetaUpdate::Removed { id: ev.container_id });
                        }
                        None => {}
                    }
                }
                None => return Err(CallError::Unreachable("CRI event stream ended".into())),
                Some(Err(s)) => return Err(CallError::Failed(format!("CRI event stream: {s}"))),
            },
            _ = tokio::time::sleep(ctx.cfg.relist_interval.max(MIN_RELIST)), if stream.is_none() => {
                let now: HashSet<String> = match rt.list().await {
                    Ok(ids) => ids.into_iter().collect(),
                    Err(e) => {
                        if ctx.failed(rt, "CRI re-list", &e) {
                            return Ok(());
                        }
                        continue;
                    }
                };
                for gone in seen.difference(&now) {
                    ctx.cache.lock().mark_removed(gone);
                    ctx.send(MetaUpdate::Removed { id: gone.clone() });
                }
                let new: Vec<String> = now.difference(&seen).cloned().collect();
                seen = now;
                report_ids(ctx, rt, new, false).await;
            }
        }
    }
}

/// Thread CPU time in ns.
#[allow(unsafe_code)]
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes one timespec into `ts`, a valid, exclusively
    // borrowed local; CLOCK_THREAD_CPUTIME_ID needs no other argument.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

type Request = (String, RuntimeHint);

/// The worker's main loop: start the supervisors, wait (bounded) for their first probe,
/// then serve requests until told to stop.
async fn run(
    ctx: Arc<Ctx>,
    mut requests: mpsc::Receiver<Request>,
    mut stop: oneshot::Receiver<()>,
) {
    let stats = ctx.stats.clone();
    tokio::spawn(async move {
        loop {
            stats.cpu_time_ns.store(thread_cpu_ns(), Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let ready = Arc::new(Semaphore::new(0));
    for rt in &ctx.runtimes {
        tokio::spawn(supervise(ctx.clone(), rt.clone(), ready.clone()));
    }
    #[cfg(feature = "k8s")]
    if let Some(k8s) = ctx.cfg.k8s.clone() {
        let out = ctx.out.clone();
        let logs = ctx.clone();
        tokio::spawn(crate::k8s::watch::run(
            k8s,
            move |u| {
                let _ = out.send(MetaUpdate::K8s(u));
            },
            ctx.stats.k8s.clone(),
            Arc::new(move |key, msg| logs.logs.warn(key, || msg)),
        ));
    }
    // Why wait: lookups queued at start would otherwise find no socket healthy yet.
    let n = u32::try_from(ctx.runtimes.len()).unwrap_or(u32::MAX);
    let first_probe =
        tokio::time::timeout(ctx.cfg.timeout.saturating_mul(2), ready.acquire_many(n));
    tokio::select! {
        _ = &mut stop => return,
        _ = first_probe => {}
    }
    let slots = Arc::new(Semaphore::new(MAX_CONCURRENT_LOOKUPS));
    let mut permit = None;
    loop {
        if permit.is_none() {
            permit = tokio::select! {
                _ = &mut stop => return,
                p = slots.clone().acquire_owned() => match p { Ok(p) => Some(p), Err(_) => return },
            };
        }
        let (id, hint) = tokio::select! {
            _ = &mut stop => return,
            r = requests.recv() => match r { Some(r) => r, None => return },
        };
        bump(&ctx.stats.lookups);
        let hit = ctx.cache.lock().get(&id).cloned();
        if let Some(meta) = hit {
            bump(&ctx.stats.found);
            ctx.send(MetaUpdate::Container(meta));
            continue;
        }
        start_lookup(&ctx, id, hint, true, permit.take());
    }
}

/// The container metadata worker: a thread of its own that asks the container runtimes
/// (see the module docs). Dropping it shuts it down like [`MetaWorker::shutdown`].
pub struct MetaWorker {
    requests: mpsc::Sender<Request>,
    updates: crossbeam_channel::Receiver<MetaUpdate>,
    stats: Arc<Counters>,
    stop: Option<oneshot::Sender<()>>,
    done: crossbeam_channel::Receiver<()>,
    thread: Option<JoinHandle<()>>,
    listed: crossbeam_channel::Receiver<Listed>,
    /// Runtimes whose first listing has not ended (`None` until the thread said how many).
    unlisted: Option<usize>,
    /// Where warnings go.
    diag: Diag,
}

/// Progress of the first listings, from the worker thread to [`MetaWorker::wait_listed`].
enum Listed {
    /// How many runtimes there are (sent first).
    Runtimes(usize),
    /// One more runtime's first listing ended.
    One,
}

impl MetaWorker {
    /// Starts the worker thread ("sysflow-meta") with its current-thread tokio runtime.
    /// Fails only when the thread or the runtime cannot be created.
    /// Warnings go through the [`log`] facade with the target `sysflowlibs` (to stderr
    /// while no logger is installed).
    pub fn spawn(cfg: MetaConfig) -> std::io::Result<Self> {
        Self::spawn_with(cfg, Diag::default())
    }

    /// [`MetaWorker::spawn`] with the driver's diagnostics (its `app_name` as target).
    pub(crate) fn spawn_with(cfg: MetaConfig, diag: Diag) -> std::io::Result<Self> {
        let thread_diag = diag.clone();
        let (req_tx, req_rx) = mpsc::channel(cfg.queue_capacity.max(1));
        let (out_tx, out_rx) = crossbeam_channel::unbounded();
        let (stop_tx, stop_rx) = oneshot::channel();
        let (done_tx, done_rx) = crossbeam_channel::bounded(1);
        let (started_tx, started_rx) = crossbeam_channel::bounded(1);
        let (listed_tx, listed_rx) = crossbeam_channel::unbounded();
        let stats = Arc::new(Counters::default());
        let thread_stats = stats.clone();
        let thread = std::thread::Builder::new()
            .name("sysflow-meta".into())
            .spawn(move || {
                // Built here so the runtime never lives (or drops) on a caller's thread.
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = started_tx.send(Err(e));
                        return;
                    }
                };
                let _ = started_tx.send(Ok(()));
                let stats = thread_stats.clone();
                runtime.block_on(async move {
                    // Inside the runtime: CRI channels spawn their tasks on it.
                    let runtimes = build_runtimes(&cfg, &thread_diag);
                    let _ = listed_tx.send(Listed::Runtimes(runtimes.len()));
                    let ctx = Arc::new(Ctx {
                        runtimes,
                        cache: Mutex::new(Cache::new(cfg.cache_capacity)),
                        cfg,
                        out: out_tx,
                        stats,
                        in_flight: Mutex::new(HashMap::new()),
                        logs: LogLimiter {
                            diag: thread_diag,
                            ..LogLimiter::default()
                        },
                        listed: listed_tx,
                    });
                    run(ctx, req_rx, stop_rx).await;
                });
                // Abandons in-flight calls on hung sockets: their tasks are just dropped.
                runtime.shutdown_timeout(Duration::from_millis(100));
                thread_stats
                    .cpu_time_ns
                    .store(thread_cpu_ns(), Ordering::Relaxed);
                let _ = done_tx.send(());
            })?;
        match started_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(std::io::Error::other("sysflow-meta thread died at start")),
        }
        Ok(MetaWorker {
            requests: req_tx,
            updates: out_rx,
            stats,
            stop: Some(stop_tx),
            done: done_rx,
            thread: Some(thread),
            listed: listed_rx,
            unlisted: None,
            diag,
        })
    }

    /// Waits until every runtime listed what it runs now (each listed container arrives
    /// as a [`MetaUpdate::Container`] before this returns true), or could not be reached,
    /// for at most `within`, and no longer than `stop` returns false (checked every 50
    /// ms). Returns false on timeout or stop. The live driver waits here before its first
    /// events, so containers running at start are described from their first record.
    pub fn wait_listed(&mut self, within: Duration, stop: &dyn Fn() -> bool) -> bool {
        let deadline = Instant::now().checked_add(within);
        while self.unlisted != Some(0) {
            if stop() {
                return false;
            }
            let left = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::MAX,
            };
            if left.is_zero() {
                return false;
            }
            match self
                .listed
                .recv_timeout(left.min(Duration::from_millis(50)))
            {
                Ok(Listed::Runtimes(n)) => {
                    self.unlisted = Some(self.unlisted.unwrap_or(0) + n);
                }
                Ok(Listed::One) => {
                    // `Runtimes` is always sent before any `One`.
                    self.unlisted = self.unlisted.map(|n| n.saturating_sub(1));
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return false,
            }
        }
        true
    }

    /// Asks for a container's metadata. Never blocks: returns false (and counts
    /// `queue_full`) when the queue is full. The answer comes as a [`MetaUpdate`].
    pub fn lookup(&self, full_id: &str, hint: RuntimeHint) -> bool {
        match self.requests.try_send((full_id.to_owned(), hint)) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                bump(&self.stats.queue_full);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// The next update, if one is ready. Never blocks.
    pub fn try_recv(&self) -> Option<MetaUpdate> {
        self.updates.try_recv().ok()
    }

    /// The next update, waiting at most `d` (for tests and tools).
    pub fn recv_timeout(&self, d: Duration) -> Option<MetaUpdate> {
        self.updates.recv_timeout(d).ok()
    }

    /// The counters so far.
    pub fn stats(&self) -> MetaStats {
        self.stats.snapshot()
    }

    /// Stops the worker within about a second, whatever the sockets do (calls in flight
    /// are abandoned). Dropping the worker does the same.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for MetaWorker {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let Some(thread) = self.thread.take() else {
            return;
        };
        match self.done.recv_timeout(SHUTDOWN_GRACE) {
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                self.diag.warn(format_args!(
                    "container metadata: worker thread did not stop within {SHUTDOWN_GRACE:?}; detached"
                ));
            }
            _ => {
                let _ = thread.join();
            }
        }
    }
}

#[cfg_attr(not(feature = "cri"), allow(unused_variables))]
fn build_runtimes(cfg: &MetaConfig, diag: &Diag) -> Vec<Arc<Runtime>> {
    #[cfg_attr(not(feature = "cri"), allow(unused_mut))]
    let mut v: Vec<Arc<Runtime>> = cfg
        .docker_sockets
        .iter()
        .map(|s| {
            Arc::new(Runtime::new(
                Api::Docker(DockerApi::new(s.clone(), cfg.timeout)),
                RuntimeKind::Docker,
            ))
        })
        .collect();
    #[cfg(feature = "cri")]
    for s in &cfg.cri_sockets {
        match CriApi::new(s.clone(), cfg.timeout) {
            Ok(api) => v.push(Arc::new(Runtime::new(Api::Cri(api), RuntimeKind::Cri))),
            Err(e) => diag.warn(format_args!(
                "container metadata: CRI socket {}: {e}",
                s.display()
            )),
        }
    }
    #[cfg(not(feature = "cri"))]
    if !cfg.cri_sockets.is_empty() {
        log::info!("container metadata: built without the `cri` feature; CRI sockets ignored");
    }
    v
}

/// A runtime socket for tests against the real runtimes of this machine, from `var`; `None`
/// (with a message) when it is not set up, a panic instead when `SYSFLOW_REQUIRE_ALL=1`.
#[cfg(test)]
pub(super) fn real_socket(var: &str) -> Option<PathBuf> {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.exists());
    if path.is_none() {
        let msg =
            format!("{var} unset or its socket absent (eval \"$(scripts/containers.sh env)\")");
        assert!(
            std::env::var("SYSFLOW_REQUIRE_ALL").as_deref() != Ok("1"),
            "{msg}"
        );
        eprintln!("SKIPPED: {msg}");
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::{UnixListener, UnixStream};
    use std::sync::atomic::AtomicUsize;

    const HEX: &str = "0958667594cb5033c85fda54405b346b36045bead5dc21ff1cf3611011b86d53";
    const ID: &str = "ea5ef8b9c528ee7b24dfbdcf57eb30c9b9e27c9bdd2ee57935cdb8a4bbb956b5";

    /// What the fake Docker-compatible server does.
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Mode {
        /// Inspect answers 404.
        NotFound,
        /// Inspect answers 500.
        Error500,
        /// Inspect answers `{"Id": `.
        Malformed,
        /// Inspect closes after half its announced body.
        CutOff,
        /// Inspect never answers; the rest works.
        HangInspect,
        /// Nothing ever answers.
        HangAll,
        /// A podman-like runtime naming its image in `Image`; `/events` announces `ID`
        /// (split across two frames), then destroys it.
        Podman,
        /// The same without events.
        Known,
    }

    struct Fake {
        _dir: tempfile::TempDir,
        path: PathBuf,
        inspects: Arc<AtomicUsize>,
    }

    fn fake(mode: Mode) -> Fake {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.sock");
        let inspects = Arc::new(AtomicUsize::new(0));
        serve(&path, mode, inspects.clone());
        Fake {
            _dir: dir,
            path,
            inspects,
        }
    }

    fn serve(path: &Path, mode: Mode, inspects: Arc<AtomicUsize>) {
        let listener = UnixListener::bind(path).unwrap();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let inspects = inspects.clone();
                std::thread::spawn(move || answer(conn, mode, &inspects));
            }
        });
    }

    fn hang(mut c: UnixStream) {
        let mut b = [0u8; 64];
        while c.read(&mut b).is_ok_and(|n| n > 0) {}
    }

    fn answer(mut c: UnixStream, mode: Mode, inspects: &AtomicUsize) {
        let mut head = Vec::new();
        let mut b = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match c.read(&mut b) {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&b[..n]),
            }
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let path = head.split(' ').nth(1).unwrap_or("").to_owned();
        let reply = |mut c: &UnixStream, code: &str, body: &str| {
            let msg = format!(
                "HTTP/1.1 {code}\r\nContent-Length: {}\r\nConnection: close\r\nServer: Libpod/4.3.1\r\n\r\n{body}",
                body.len()
            );
            let _ = c.write_all(msg.as_bytes());
        };
        if mode == Mode::HangAll {
            return hang(c);
        }
        if path.starts_with("/events") {
            let _ = c.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            if mode == Mode::Podman {
                let create = format!(
                    "{{\"status\":\"create\",\"id\":\"{ID}\",\"Type\":\"container\",\"Action\":\"create\",\"Actor\":{{\"ID\":\"{ID}\"}}}}\n"
                );
                let destroy = format!(
                    "{{\"Type\":\"container\",\"Action\":\"remove\",\"Actor\":{{\"ID\":\"{ID}\"}}}}\n"
                );
                let (a, rest) = create.split_at(40);
                for part in [a, rest, &destroy] {
                    std::thread::sleep(Duration::from_millis(50));
                    let _ = c.write_all(format!("{:x}\r\n{part}\r\n", part.len()).as_bytes());
                }
            }
            return hang(c);
        }
        match path.as_str() {
            "/_ping" => reply(&c, "200 OK", "OK"),
            "/version" => reply(&c, "200 OK", r#"{"Components":[{"Name":"Podman Engine"}]}"#),
            "/containers/json" => reply(&c, "200 OK", "[]"),
            p if p.starts_with("/images/") => {
                reply(&c, "200 OK", &format!(r#"{{"Id":"sha256:{HEX}"}}"#))
            }
            p if p.starts_with("/containers/") => {
                inspects.fetch_add(1, Ordering::SeqCst);
                match mode {
                    Mode::NotFound => {
                        reply(&c, "404 Not Found", r#"{"message":"no such container"}"#)
                    }
                    Mode::Error500 => reply(&c, "500 Internal Server Error", "{}"),
                    Mode::Malformed => reply(&c, "200 OK", r#"{"Id": "#),
                    Mode::CutOff => {
                        let _ = c.write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{\"Id\": \"abc\", ",
                        );
                    }
                    Mode::HangInspect => hang(c),
                    _ => reply(
                        &c,
                        "200 OK",
                        &format!(
                            r#"{{"Id":"{ID}","Name":"/web","Image":"localhost/bb:latest","Config":{{"Image":"localhost/bb"}},"HostConfig":{{"Privileged":true}}}}"#
                        ),
                    ),
                }
            }
            _ => reply(&c, "404 Not Found", "{}"),
        }
    }

    fn config(docker: &Path, timeout_ms: u64, attempts: u32) -> MetaConfig {
        MetaConfig {
            docker_sockets: vec![docker.to_path_buf()],
            cri_sockets: Vec::new(),
            timeout: Duration::from_millis(timeout_ms),
            attempts,
            backoff: Duration::from_millis(10),
            ..MetaConfig::default()
        }
    }

    /// The next update that is not a listing of someone else's container.
    fn answer_for(w: &MetaWorker, id: &str, within: Duration) -> Option<MetaUpdate> {
        let end = Instant::now() + within;
        while let Some(u) = w.recv_timeout(end.saturating_duration_since(Instant::now())) {
            let uid = match &u {
                MetaUpdate::Container(m) => &m.id,
                MetaUpdate::Unknown { id } | MetaUpdate::Removed { id } => id,
                MetaUpdate::K8s(_) => continue,
            };
            if uid == id {
                return Some(u);
            }
        }
        None
    }

    #[test]
    fn not_found_is_retried_then_unknown() {
        let f = fake(Mode::NotFound);
        let w = MetaWorker::spawn(config(&f.path, 500, 3)).unwrap();
        assert!(w.lookup("deadbeef", RuntimeHint::Podman));
        let u = answer_for(&w, "deadbeef", Duration::from_secs(3));
        assert_eq!(
            u,
            Some(MetaUpdate::Unknown {
                id: "deadbeef".into()
            })
        );
        assert_eq!(f.inspects.load(Ordering::SeqCst), 3);
        let s = w.stats();
        assert_eq!(
            (s.lookups, s.unknown, s.found, s.errors, s.timeouts),
            (1, 1, 0, 0, 0)
        );
    }

    #[test]
    fn server_errors_are_counted_and_end_unknown() {
        for mode in [Mode::Error500, Mode::Malformed, Mode::CutOff] {
            let f = fake(mode);
            let w = MetaWorker::spawn(config(&f.path, 500, 2)).unwrap();
            let t = Instant::now();
            w.lookup("x1", RuntimeHint::Docker);
            assert_eq!(
                answer_for(&w, "x1", Duration::from_secs(3)),
                Some(MetaUpdate::Unknown { id: "x1".into() })
            );
            eprintln!("{mode:?}: Unknown after {:?}", t.elapsed());
            assert_eq!(f.inspects.load(Ordering::SeqCst), 2, "retried");
            assert!(w.stats().errors >= 2);
            assert_eq!(w.stats().timeouts, 0);
        }
    }

    #[test]
    fn a_hung_socket_costs_one_timeout() {
        let f = fake(Mode::HangInspect);
        let w = MetaWorker::spawn(config(&f.path, 300, 5)).unwrap();
        let t = Instant::now();
        w.lookup("aaa", RuntimeHint::Podman);
        assert_eq!(
            answer_for(&w, "aaa", Duration::from_secs(3)),
            Some(MetaUpdate::Unknown { id: "aaa".into() })
        );
        let first = t.elapsed();
        let t = Instant::now();
        w.lookup("bbb", RuntimeHint::Podman);
        assert_eq!(
            answer_for(&w, "bbb", Duration::from_secs(3)),
            Some(MetaUpdate::Unknown { id: "bbb".into() })
        );
        let second = t.elapsed();
        eprintln!("hung inspect: first lookup {first:?}, second {second:?}");
        assert!(
            first >= Duration::from_millis(290) && first < Duration::from_millis(1500),
            "{first:?}"
        );
        // (shorter than the 300 ms timeout: no inspect was waited for)
        assert!(
            second < Duration::from_millis(290),
            "skipped while unhealthy: {second:?}"
        );
        assert_eq!(w.stats().timeouts, 1);
        let t = Instant::now();
        w.shutdown();
        assert!(t.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn a_hung_server_never_blocks_the_caller() {
        let f = fake(Mode::HangAll);
        let mut cfg = config(&f.path, 300, 5);
        cfg.queue_capacity = 1;
        let t = Instant::now();
        let w = MetaWorker::spawn(cfg).unwrap();
        // The worker holds requests until its first probe ends (one timeout): the queue of
        // one is full after one request, and `lookup` says so at once.
        assert!(w.lookup("c1", RuntimeHint::Docker));
        assert!(!w.lookup("c2", RuntimeHint::Docker));
        // (shorter than the 300 ms timeout: nothing waited for the hung server)
        assert!(t.elapsed() < Duration::from_millis(290));
        assert_eq!(
            answer_for(&w, "c1", Duration::from_secs(3)),
            Some(MetaUpdate::Unknown { id: "c1".into() })
        );
        eprintln!("hung server: Unknown after {:?}", t.elapsed());
        assert!(t.elapsed() < Duration::from_millis(1500));
        let s = w.stats();
        assert_eq!((s.queue_full, s.unknown), (1, 1));
        let t = Instant::now();
        w.shutdown();
        eprintln!("hung server: shutdown in {:?}", t.elapsed());
        assert!(t.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn events_split_across_frames_and_podman_image_names() {
        let f = fake(Mode::Podman);
        let w = MetaWorker::spawn(config(&f.path, 1000, 2)).unwrap();
        let Some(MetaUpdate::Container(m)) = answer_for(&w, ID, Duration::from_secs(3)) else {
            panic!("no container from the event stream")
        };
        assert_eq!(
            (m.name.as_str(), m.image.as_str(), m.image_id.as_str()),
            ("web", "localhost/bb:latest", HEX)
        );
        assert_eq!((m.runtime, m.privileged), (Some(RuntimeKind::Podman), true));
        assert_eq!(
            answer_for(&w, ID, Duration::from_secs(3)),
            Some(MetaUpdate::Removed { id: ID.into() })
        );
        // Removed but still cached: a late lookup is answered at once.
        w.lookup(ID, RuntimeHint::Podman);
        assert!(matches!(
            answer_for(&w, ID, Duration::from_secs(1)),
            Some(MetaUpdate::Container(_))
        ));
        assert_eq!(w.stats().runtime_events, 2);
        std::thread::sleep(Duration::from_millis(150));
        assert!(w.stats().cpu_time_ns > 0);
    }

    #[test]
    fn ids_are_retried_when_an_absent_socket_appears() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("late.sock");
        let w = MetaWorker::spawn(config(&path, 300, 3)).unwrap();
        w.lookup(ID, RuntimeHint::Podman);
        let u = answer_for(&w, ID, Duration::from_secs(2));
        assert_eq!(u, Some(MetaUpdate::Unknown { id: ID.into() }));
        let t = Instant::now();
        // It knows the id but lists nothing and announces nothing: only the retry finds it.
        serve(&path, Mode::Known, Arc::new(AtomicUsize::new(0)));
        let Some(MetaUpdate::Container(m)) = answer_for(&w, ID, Duration::from_secs(3)) else {
            panic!("pending id not retried")
        };
        eprintln!(
            "absent socket: {} found {:?} after it appeared",
            m.name,
            t.elapsed()
        );
        // the worker counts the answer after sending it: give the count a moment
        let deadline = Instant::now() + Duration::from_secs(2);
        while w.stats().found == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let s = w.stats();
        assert_eq!((s.unknown, s.found), (1, 1));
    }

    /// A worker context over `runtimes` whose outputs go nowhere.
    #[cfg(feature = "cri")]
    fn test_ctx(cfg: MetaConfig, runtimes: Vec<Arc<Runtime>>) -> Ctx {
        Ctx {
            cfg,
            runtimes,
            out: crossbeam_channel::unbounded().0,
            stats: Arc::default(),
            cache: Mutex::new(Cache::new(1)),
            in_flight: Mutex::default(),
            logs: LogLimiter::default(),
            listed: crossbeam_channel::unbounded().0,
        }
    }

    #[cfg(feature = "cri")]
    #[tokio::test]
    async fn hints_order_the_runtimes() {
        let cfg = MetaConfig {
            docker_sockets: vec!["/d".into()],
            cri_sockets: vec!["/c1".into(), "/c2".into()],
            ..MetaConfig::default()
        };
        let runtimes = build_runtimes(&cfg, &Diag::default());
        *runtimes[2].kind.lock() = RuntimeKind::CriO;
        let ctx = test_ctx(cfg, runtimes);
        let order = |h| -> Vec<String> {
            ctx.order_for(h)
                .iter()
                .map(|r| r.socket().display().to_string())
                .collect()
        };
        assert_eq!(order(RuntimeHint::Podman), ["/d", "/c1", "/c2"]);
        assert_eq!(order(RuntimeHint::Cri), ["/c1", "/c2", "/d"]);
        assert_eq!(order(RuntimeHint::Crio), ["/c2", "/c1", "/d"]);
        assert!(order(RuntimeHint::Lxc).is_empty());
    }

    /// `-p` names the CRI socket only: when it fails, the warning names it, and the
    /// default Docker socket, absent, stays quiet (it used to be warned about instead,
    /// and the named socket's warning, which did not say which socket, suppressed).
    #[cfg(feature = "cri")]
    #[tokio::test]
    async fn a_failing_named_socket_is_the_one_warned_about() {
        let dir = tempfile::tempdir().unwrap();
        let default_docker = dir.path().join("docker.sock");
        let named_cri = dir.path().join("my-cri.sock");
        let cfg = MetaConfig {
            docker_sockets: vec![default_docker.clone()],
            cri_sockets: vec![named_cri.clone()],
            named_cri: true,
            ..MetaConfig::default()
        };
        let runtimes = build_runtimes(&cfg, &Diag::default());
        let ctx = Arc::new(test_ctx(cfg, runtimes));
        let ready = Arc::new(Semaphore::new(0));
        let supervisors: Vec<_> = ctx
            .runtimes
            .iter()
            .map(|rt| tokio::spawn(supervise(ctx.clone(), rt.clone(), ready.clone())))
            .collect();
        // both first probes fail at once (absent sockets); the retries wait RECONNECT_MIN
        let _ = tokio::time::timeout(Duration::from_secs(5), ready.acquire_many(2)).await;
        let deadline = Instant::now() + Duration::from_secs(5);
        while ctx.stats.snapshot().errors == 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for s in supervisors {
            s.abort();
        }
        let logged = ctx.logs.logged.lock().clone();
        let cri = named_cri.display().to_string();
        let docker = default_docker.display().to_string();
        assert_eq!(logged.len(), 1, "{logged:?}");
        assert!(logged[0].contains(&cri), "{logged:?}");
        assert!(!logged.iter().any(|l| l.contains(&docker)), "{logged:?}");
        assert_eq!(ctx.stats.snapshot().errors, 1);
    }

    /// The worker's warnings go where the driver's do: under its `app_name`, through its
    /// diagnostics (which also reach stderr without a logger). A named Docker socket that
    /// does not exist is warned about.
    #[test]
    fn worker_warnings_go_under_the_drivers_target() {
        let dir = tempfile::tempdir().unwrap();
        let named = dir.path().join("named-docker.sock");
        let cfg = MetaConfig {
            docker_sockets: vec![named.clone()],
            cri_sockets: vec![],
            named_docker: true,
            ..MetaConfig::default()
        };
        let (diag, kept) = Diag::keeping("my-collector");
        let mut w = MetaWorker::spawn_with(cfg, diag).unwrap();
        let _ = w.wait_listed(Duration::from_secs(5), &|| false);
        let deadline = Instant::now() + Duration::from_secs(5);
        while kept.lock().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        drop(w);
        let kept = kept.lock().clone();
        let sock = named.display().to_string();
        assert!(
            kept.iter()
                .any(|(target, msg)| target == "my-collector" && msg.contains(&sock)),
            "{kept:?}"
        );
    }

    #[test]
    fn cache_evicts_removed_then_oldest() {
        let meta = |id: &str| ContainerMeta {
            id: id.into(),
            ..Default::default()
        };
        let mut c = Cache::new(2);
        assert_eq!(c.insert(meta("a")) + c.insert(meta("b")), 0);
        c.mark_removed("b");
        assert_eq!(c.insert(meta("c")), 1);
        assert!(c.get("a").is_some() && c.get("b").is_none());
        assert_eq!(c.insert(meta("a")), 0, "a replacement evicts nothing");
        assert_eq!(c.insert(meta("d")), 1);
        assert!(c.get("c").is_none() && c.get("a").is_some() && c.get("d").is_some());
        for i in 0..100 {
            c.insert(meta("a"));
            c.insert(meta(&i.to_string()));
        }
        assert!(c.order.len() <= 2 * c.cap + 16 && c.map.len() == 2);
    }

    #[test]
    fn default_sockets_under_a_host_root() {
        let root = tempfile::tempdir().unwrap();
        let sock = root.path().join("run/user/1000/podman");
        std::fs::create_dir_all(&sock).unwrap();
        std::fs::write(sock.join("podman.sock"), "").unwrap();
        std::fs::create_dir_all(root.path().join("run/user/1001")).unwrap();
        let cfg = MetaConfig::with_host_root(root.path());
        let rel: Vec<_> = cfg
            .docker_sockets
            .iter()
            .map(|p| p.strip_prefix(root.path()).unwrap().to_owned())
            .collect();
        let want: Vec<PathBuf> = [
            "run/docker.sock",
            "run/podman/podman.sock",
            "run/user/1000/podman/podman.sock",
        ]
        .map(PathBuf::from)
        .into();
        assert_eq!(rel, want);
        assert_eq!(cfg.cri_sockets.len(), 7);
        assert_eq!(
            cfg.cri_sockets[0],
            root.path().join("run/containerd/containerd.sock")
        );
        let here = MetaConfig::with_host_root(Path::new(""));
        assert_eq!(here.cri_sockets[1], Path::new("/run/crio/crio.sock"));
        assert_eq!(
            (here.timeout, here.attempts, here.queue_capacity),
            (Duration::from_secs(1), 5, 4096)
        );
    }
}
