//! Containers and pods: ids from cgroups (read in the kernel, or from the capture), metadata
//! from the capture's container events (offline) or from the runtimes (live, through
//! [`crate::runtime::MetaWorker`]).

use crate::runtime::cgroup::{CgroupMatch, RuntimeHint, classify_entries};
use crate::runtime::{ContainerMeta, PodMeta, RuntimeKind};
use rustc_hash::FxHashMap as HashMap;

/// Container runtime as the capture numbers it (sinsp `sinsp_container_type`, which the
/// SysFlow `ContainerType` enum follows for 0..=9).
pub mod ctype {
    /// Docker (also podman: see [`super::ctype_of_runtime`]).
    pub const DOCKER: u32 = 0;
    /// LXC.
    pub const LXC: u32 = 1;
    /// libvirt-lxc.
    pub const LIBVIRT_LXC: u32 = 2;
    /// A CRI runtime other than containerd and CRI-O.
    pub const CRI: u32 = 6;
    /// containerd.
    pub const CONTAINERD: u32 = 7;
    /// CRI-O.
    pub const CRIO: u32 = 8;
    /// Podman in captures of libs ≥ 0.11 (outside the SysFlow schema's enum).
    pub const PODMAN: u32 = 11;
}

/// The SysFlow container type of a runtime.
///
/// Podman has no symbol in the v5 `ContainerType` enum (libs' `CT_PODMAN` = 11 is past
/// its end, and a reader using the schema rejects it), so podman containers are
/// `CT_DOCKER`: the runtime podman imitates, whose API it serves. Every official tool
/// reads it.
pub fn ctype_of_runtime(k: RuntimeKind) -> u32 {
    match k {
        RuntimeKind::Docker | RuntimeKind::Podman => ctype::DOCKER,
        RuntimeKind::Containerd => ctype::CONTAINERD,
        RuntimeKind::CriO => ctype::CRIO,
        RuntimeKind::Lxc => ctype::LXC,
        RuntimeKind::LibvirtLxc => ctype::LIBVIRT_LXC,
        _ => ctype::CRI,
    }
}

/// The container type a cgroup layout suggests, before a runtime answered.
pub fn ctype_of_hint(h: RuntimeHint) -> u32 {
    match h {
        RuntimeHint::Docker | RuntimeHint::Podman => ctype::DOCKER,
        RuntimeHint::Containerd | RuntimeHint::CriContainerd => ctype::CONTAINERD,
        RuntimeHint::Crio => ctype::CRIO,
        RuntimeHint::Lxc => ctype::LXC,
        RuntimeHint::LibvirtLxc => ctype::LIBVIRT_LXC,
        _ => ctype::CRI,
    }
}

/// What the state knows about a container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerInfo {
    /// Short id, as SysFlow records carry it (12 hex characters for docker-like
    /// runtimes; the name for LXC).
    pub id: String,
    /// The full id (64 hex), when known (live: from the cgroup path).
    pub full_id: String,
    /// Runtime type number (see [`ctype`]).
    pub ctype: u32,
    /// Name.
    pub name: String,
    /// Image name (often already with its tag).
    pub image: String,
    /// Image id.
    pub imageid: String,
    /// Image repository.
    pub imagerepo: String,
    /// Image tag.
    pub imagetag: String,
    /// The image as SysFlow records carry it, when the source gives it whole
    /// (`repository:tag`, live metadata). Unset for captures, whose records follow the
    /// reference's `image + ":" + imagetag`.
    pub image_full: Option<String>,
    /// Privileged container.
    pub privileged: bool,
    /// The pod's uid (`Pod.id`), when the container runs in a Kubernetes pod sandbox.
    pub pod_id: Option<String>,
    /// The container's IPv4 address, when known: a capture's container event (`ip`), the
    /// Docker-compatible API, or its pod's first IPv4 address (CRI). libsinsp counts it
    /// as an address of the machine for the container's processes (`fd.is_server`).
    pub ip: Option<std::net::Ipv4Addr>,
    /// Metadata came from a container event or a runtime (not only from a cgroup match).
    pub has_metadata: bool,
    /// Found in a cgroup during live capture, where metadata comes from the runtimes:
    /// until it arrives the container is written as the reference's `incomplete`
    /// placeholder. (In a capture, a cgroup match without a container event gives empty
    /// fields instead, as the reference's capture library does.)
    pub awaits_runtime: bool,
}

/// Containers by id, pods by uid, and the containers discovered in cgroups that still wait
/// for a metadata lookup.
#[derive(Clone, Debug, Default)]
pub struct ContainerTable {
    map: HashMap<String, ContainerInfo>,
    by_full: HashMap<String, String>,
    pods: HashMap<String, PodMeta>,
    discovered: Vec<(String, RuntimeHint)>,
    /// Full ids the runtime removed while a process still referred to them.
    removed: std::collections::HashSet<String>,
    live: bool,
}

impl ContainerTable {
    /// Live capture: containers found in cgroups are queued for runtime lookups
    /// ([`ContainerTable::take_discovered`]) and written as `incomplete` until their
    /// metadata arrives.
    pub fn set_live(&mut self, live: bool) {
        self.live = live;
    }

    /// Looks a container up by its short id.
    pub fn get(&self, id: &str) -> Option<&ContainerInfo> {
        self.map.get(id)
    }

    /// Whether a known container has this IPv4 address.
    pub fn has_ip(&self, ip: std::net::Ipv4Addr) -> bool {
        self.map.values().any(|c| c.ip == Some(ip))
    }

    /// Looks a pod up by its uid: what the CRI runtime reported (`PodSandboxStatus`).
    pub fn pod(&self, uid: &str) -> Option<&PodMeta> {
        self.pods.get(uid)
    }

    /// Records metadata from a container JSON event. Returns false if it is not usable.
    pub fn add_json(&mut self, json: &[u8]) -> bool {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(json) else {
            return false;
        };
        let c = &v["container"];
        let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
        let id = s("id");
        if id.is_empty() {
            return false;
        }
        let info = ContainerInfo {
            ctype: c["type"]
                .as_u64()
                .map(|t| t as u32)
                .unwrap_or(ctype::DOCKER),
            name: s("name"),
            image: s("image"),
            imageid: s("imageid"),
            imagerepo: s("imagerepo"),
            imagetag: s("imagetag"),
            privileged: c["privileged"].as_bool().unwrap_or(false),
            ip: c["ip"].as_str().and_then(|ip| ip.parse().ok()),
            has_metadata: true,
            id: id.clone(),
            ..Default::default()
        };
        self.map.insert(id, info);
        true
    }

    /// Records a container found in a cgroup path, unless known. A container seen for the
    /// first time is queued for a metadata lookup ([`ContainerTable::take_discovered`]).
    pub fn ensure(&mut self, m: &CgroupMatch) {
        if self.map.contains_key(&m.short_id) {
            return;
        }
        let has_metadata = matches!(m.hint, RuntimeHint::Lxc | RuntimeHint::LibvirtLxc);
        self.map.insert(
            m.short_id.clone(),
            ContainerInfo {
                id: m.short_id.clone(),
                full_id: m.full_id.clone(),
                ctype: ctype_of_hint(m.hint),
                // LXC and libvirt-lxc have no API to ask: the name is all there is.
                name: if has_metadata {
                    m.full_id.clone()
                } else {
                    String::new()
                },
                image_full: has_metadata.then(String::new),
                has_metadata,
                awaits_runtime: self.live && !has_metadata,
                ..Default::default()
            },
        );
        self.by_full.insert(m.full_id.clone(), m.short_id.clone());
        if self.live && !has_metadata {
            self.discovered.push((m.full_id.clone(), m.hint));
        }
    }

    /// The containers found in cgroups since the last call, as (full id, hint): what to
    /// ask the runtimes about.
    pub fn take_discovered(&mut self) -> Vec<(String, RuntimeHint)> {
        std::mem::take(&mut self.discovered)
    }

    /// Records what a runtime said about a container (and its pod). Returns the short id
    /// of the container and whether anything a record carries changed.
    pub fn apply_meta(&mut self, meta: &ContainerMeta) -> (String, bool) {
        let id = self
            .by_full
            .get(&meta.id)
            .cloned()
            .unwrap_or_else(|| crate::runtime::sysflow_id(&meta.id).to_string());
        self.by_full.insert(meta.id.clone(), id.clone());
        let mut changed = false;
        let pod_id = meta.pod.as_ref().map(|p| p.uid.clone());
        if let Some(p) = &meta.pod {
            if self.pods.get(&p.uid) != Some(p) {
                changed = true;
                self.pods.insert(p.uid.clone(), p.clone());
            }
        }
        let info = ContainerInfo {
            id: id.clone(),
            full_id: meta.id.clone(),
            ctype: meta
                .runtime
                .map(ctype_of_runtime)
                .or_else(|| self.map.get(&id).map(|c| c.ctype))
                .unwrap_or(ctype::DOCKER),
            name: meta.name.clone(),
            image: meta.image.clone(),
            imageid: meta.image_id.clone(),
            image_full: Some(meta.image.clone()),
            privileged: meta.privileged,
            pod_id,
            ip: meta.ip.or_else(|| {
                meta.pod.as_ref()?.ips.iter().find_map(|ip| match ip {
                    std::net::IpAddr::V4(a) => Some(*a),
                    std::net::IpAddr::V6(_) => None,
                })
            }),
            has_metadata: true,
            ..Default::default()
        };
        if self.map.get(&id) != Some(&info) {
            changed = true;
            self.map.insert(id.clone(), info);
        }
        (id, changed)
    }

    /// Forgets a container the runtime removed, unless a process of the capture still
    /// refers to it (`in_use`): then it is forgotten by a later
    /// [`ContainerTable::prune`].
    pub fn remove(&mut self, full_id: &str, in_use: impl Fn(&str) -> bool) {
        let Some(id) = self.by_full.get(full_id).cloned() else {
            return;
        };
        if in_use(&id) {
            self.removed.insert(full_id.to_string());
            return;
        }
        self.removed.remove(full_id);
        self.by_full.remove(full_id);
        if let Some(c) = self.map.remove(&id)
            && let Some(uid) = c.pod_id
            && !self.map.values().any(|o| o.pod_id.as_deref() == Some(&uid))
        {
            self.pods.remove(&uid);
        }
    }

    /// Forgets what no process refers to any more (`in_use`): containers the runtime
    /// removed, and containers only a cgroup ever named (no runtime described them; a
    /// process seen there again brings them back, and a new lookup). Containers a runtime
    /// listed stay until it removes them: they describe processes yet to come.
    pub fn prune(&mut self, in_use: impl Fn(&str) -> bool) {
        let removed: Vec<String> = self.removed.iter().cloned().collect();
        for full in removed {
            self.remove(&full, &in_use);
        }
        let unnamed: Vec<String> = self
            .map
            .values()
            .filter(|c| !c.has_metadata && !in_use(&c.id))
            .map(|c| c.id.clone())
            .collect();
        for id in unnamed {
            if let Some(c) = self.map.remove(&id) {
                self.by_full.remove(&c.full_id);
            }
        }
    }

    /// Records full metadata (tests and tools).
    pub fn insert(&mut self, info: ContainerInfo) {
        self.map.insert(info.id.clone(), info);
    }

    /// Number of containers known.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no container is known.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Finds the container in a list of `subsys=path` cgroup entries (see
/// [`crate::runtime::cgroup::classify_entries`]).
pub fn container_from_cgroups<'a>(
    cgroups: impl IntoIterator<Item = &'a [u8]>,
) -> Option<CgroupMatch> {
    classify_entries(cgroups)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "c010f5a0854912345678901234567890123456789012345678901234567890ab";

    #[test]
    fn cgroup_layouts() {
        let p = format!("cpuset=/docker/{ID}");
        let m = container_from_cgroups([p.as_bytes()]).unwrap();
        assert_eq!(
            (m.short_id.as_str(), m.hint),
            ("c010f5a08549", RuntimeHint::Docker)
        );
        let p = format!("memory=/libpod_parent/libpod-{ID}");
        let m = container_from_cgroups([p.as_bytes()]).unwrap();
        assert_eq!(m.hint, RuntimeHint::Podman);
        assert!(container_from_cgroups([&b"memory=/user.slice"[..]]).is_none());
    }

    #[test]
    fn discovered_containers_are_queued_once_and_completed_by_metadata() {
        let mut t = ContainerTable::default();
        t.set_live(true);
        let p = format!("memory=/libpod_parent/libpod-{ID}");
        let m = container_from_cgroups([p.as_bytes()]).unwrap();
        t.ensure(&m);
        t.ensure(&m);
        assert_eq!(
            t.take_discovered(),
            vec![(ID.to_string(), RuntimeHint::Podman)]
        );
        assert!(t.take_discovered().is_empty());
        let c = t.get("c010f5a08549").unwrap();
        assert!(!c.has_metadata && c.awaits_runtime && c.ctype == ctype::DOCKER);
        // Only a cgroup named it: forgotten when unused, back (and asked for) when seen.
        t.prune(|_| false);
        assert!(t.get("c010f5a08549").is_none());
        t.ensure(&m);
        assert_eq!(t.take_discovered().len(), 1);

        let meta = ContainerMeta {
            id: ID.into(),
            name: "web".into(),
            image: "localhost/bb:latest".into(),
            image_id: "ab".repeat(32),
            runtime: Some(RuntimeKind::Podman),
            privileged: true,
            pod: Some(PodMeta {
                uid: "u-1".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(t.apply_meta(&meta), ("c010f5a08549".into(), true));
        assert_eq!(t.apply_meta(&meta), ("c010f5a08549".into(), false));
        let c = t.get("c010f5a08549").unwrap();
        assert!(c.has_metadata && c.privileged && c.pod_id.as_deref() == Some("u-1"));
        assert_eq!(c.image_full.as_deref(), Some("localhost/bb:latest"));
        assert!(t.pod("u-1").is_some());

        t.remove(ID, |_| true);
        assert!(t.get("c010f5a08549").is_some());
        t.prune(|_| true);
        assert!(t.get("c010f5a08549").is_some(), "still in use");
        t.prune(|_| false);
        assert!(t.get("c010f5a08549").is_none() && t.pod("u-1").is_none());
        assert!(t.removed.is_empty());
    }

    #[test]
    fn captures_do_not_queue_lookups() {
        let mut t = ContainerTable::default();
        let p = format!("memory=/docker/{ID}");
        t.ensure(&container_from_cgroups([p.as_bytes()]).unwrap());
        assert!(t.take_discovered().is_empty());
        assert!(!t.get("c010f5a08549").unwrap().awaits_runtime);
    }

    #[test]
    fn lxc_needs_no_lookup() {
        let mut t = ContainerTable::default();
        t.set_live(true);
        let m = container_from_cgroups([&b"memory=/lxc.payload.web"[..]]).unwrap();
        t.ensure(&m);
        assert!(t.take_discovered().is_empty());
        let c = t.get("web").unwrap();
        assert!(c.has_metadata && c.name == "web" && c.ctype == ctype::LXC);
    }
}
