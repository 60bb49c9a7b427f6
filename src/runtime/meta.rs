//! What container runtimes say about a container and its pod: plain data, no I/O.

use std::collections::BTreeMap;
use std::net::IpAddr;

/// The runtime that reported a container (from the API that answered, not from the
/// cgroup layout).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RuntimeKind {
    /// Docker Engine (Docker-compatible API, `Server: Docker`).
    Docker,
    /// Podman (its Docker-compatible API).
    Podman,
    /// containerd's CRI plugin (`Version.runtime_name == "containerd"`).
    Containerd,
    /// CRI-O (`Version.runtime_name == "cri-o"`).
    CriO,
    /// Another CRI runtime (cri-dockerd, …).
    Cri,
    /// LXC (name from the cgroup path; no API).
    Lxc,
    /// libvirt-lxc (name from the cgroup path; no API).
    LibvirtLxc,
}

/// A container as a runtime describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerMeta {
    /// The full id (64 hex for Docker-like runtimes and CRI; the name for LXC).
    pub id: String,
    /// Name: the Docker name without its leading `/`, or the Kubernetes container name
    /// (CRI `metadata.name`).
    pub name: String,
    /// Image as `repository:tag` (`repository@sha256:…` when only a digest is known).
    pub image: String,
    /// Image id: the hex digest without `sha256:`.
    pub image_id: String,
    /// Which runtime answered.
    pub runtime: Option<RuntimeKind>,
    /// Privileged container (Docker `HostConfig.Privileged`, CRI security context).
    pub privileged: bool,
    /// The container's labels.
    pub labels: BTreeMap<String, String>,
    /// The pod sandbox the container belongs to, when the runtime knows one (CRI).
    pub pod: Option<PodMeta>,
    /// The container's own IPv4 address (Docker-compatible `NetworkSettings.IPAddress`);
    /// a pod's containers have their pod's IP instead ([`PodMeta::ips`]).
    pub ip: Option<std::net::Ipv4Addr>,
}

/// A Kubernetes pod as the CRI runtime describes its sandbox (`PodSandboxStatus`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodMeta {
    /// Pod uid (`metadata.uid`): the SysFlow `Pod.id`.
    pub uid: String,
    /// Pod name.
    pub name: String,
    /// Pod namespace.
    pub namespace: String,
    /// The sandbox id (64 hex).
    pub sandbox_id: String,
    /// Pod IPs (`network.ip`, then `additional_ips`); empty for host-network sandboxes
    /// where the runtime reports none.
    pub ips: Vec<IpAddr>,
    /// Pod labels (the sandbox's labels, without kubelet's `io.kubernetes.*` bookkeeping).
    pub labels: BTreeMap<String, String>,
    /// Total restarts of the pod's containers (kubelet's
    /// `io.kubernetes.container.restartCount` annotations, summed).
    pub restart_count: i64,
}
