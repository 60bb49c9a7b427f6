//! Container context from the runtimes: which container a process runs in (from its
//! cgroup, read in the kernel) and what the runtime says about that container and its pod.
//!
//! - [`cgroup`]: a pure classifier from cgroup paths to container ids and a runtime hint.
//! - [`MetaWorker`]: the metadata worker, a thread of its own that asks the runtimes — the
//!   Docker-compatible API over its unix socket (Docker, podman rootful and rootless) and
//!   CRI over gRPC (containerd, CRI-O, k3s) — and keeps a cache. It lists running
//!   containers at start and follows each runtime's event stream (or re-lists, for CRI
//!   runtimes without one), so most containers are known before their first exec. The
//!   event path never waits for it: lookups are queued without blocking
//!   ([`MetaWorker::lookup`]) and results are picked up between event batches
//!   ([`MetaWorker::try_recv`]).
//! - [`ContainerMeta`] / [`PodMeta`]: what the runtimes said, as plain data.

pub mod cgroup;
#[cfg(feature = "cri")]
mod cri;
mod docker;
mod meta;
mod worker;

pub use meta::{ContainerMeta, PodMeta, RuntimeKind};
pub use worker::{MetaConfig, MetaStats, MetaUpdate, MetaWorker};

/// The id SysFlow records use for a container (`Container.id`, as libsysflow): the first
/// 12 characters of a 64-hex id, any other id (an LXC name) unchanged.
pub fn sysflow_id(full_id: &str) -> &str {
    if full_id.len() == 64 && full_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        &full_id[..12]
    } else {
        full_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysflow_ids_are_short_docker_ids() {
        let full = "0123456789abcdef".repeat(4);
        assert_eq!(sysflow_id(&full), "0123456789ab");
        assert_eq!(sysflow_id("web"), "web");
        assert_eq!(sysflow_id(""), "");
    }
}
