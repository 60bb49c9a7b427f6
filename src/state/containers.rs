//! Containers: ids derived from cgroups, metadata from the capture's container events.

use std::collections::HashMap;

/// Container runtime as the capture numbers it (sinsp `sinsp_container_type`).
pub mod ctype {
    /// Docker.
    pub const DOCKER: u32 = 0;
    /// containerd.
    pub const CONTAINERD: u32 = 7;
    /// CRI-O.
    pub const CRIO: u32 = 8;
    /// Podman (outside the SysFlow schema's enum).
    pub const PODMAN: u32 = 11;
}

/// What the state knows about a container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerInfo {
    /// Short id (12 hex characters for docker-like runtimes).
    pub id: String,
    /// Runtime type number.
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
    /// Privileged container.
    pub privileged: bool,
    /// Metadata came from a container event (not only from a cgroup match).
    pub has_metadata: bool,
}

/// Containers by id.
#[derive(Clone, Debug, Default)]
pub struct ContainerTable {
    map: HashMap<String, ContainerInfo>,
}

impl ContainerTable {
    /// Looks a container up.
    pub fn get(&self, id: &str) -> Option<&ContainerInfo> {
        self.map.get(id)
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
            has_metadata: true,
            id: id.clone(),
        };
        self.map.insert(id, info);
        true
    }

    /// Records a container seen only through a cgroup (no metadata), unless known.
    pub fn ensure(&mut self, id: &str, ctype: u32) {
        self.map
            .entry(id.to_string())
            .or_insert_with(|| ContainerInfo {
                id: id.to_string(),
                ctype,
                ..Default::default()
            });
    }

    /// Records full metadata (live lookups).
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

fn is_hex64(s: &[u8]) -> bool {
    s.len() == 64 && s.iter().all(|b| b.is_ascii_hexdigit())
}

/// Finds a container id in one cgroup path; returns the short id and the runtime type.
pub fn container_from_cgroup(path: &[u8]) -> Option<(String, u32)> {
    let last = path.rsplit(|&b| b == b'/').next()?;
    let short = |id: &[u8]| String::from_utf8_lossy(&id[..12]).into_owned();
    // Docker: ".../<64 hex>" or ".../docker-<64 hex>.scope".
    if is_hex64(last) {
        // containerd and CRI place the id directly too; docker is the capture's default.
        return Some((short(last), ctype::DOCKER));
    }
    for (prefix, suffix, t) in [
        (&b"docker-"[..], &b".scope"[..], ctype::DOCKER),
        (b"libpod-", b"", ctype::PODMAN),
        (b"libpod-", b".scope", ctype::PODMAN),
        (b"crio-", b".scope", ctype::CRIO),
        (b"cri-containerd-", b".scope", ctype::CONTAINERD),
    ] {
        if last.len() == prefix.len() + 64 + suffix.len()
            && last.starts_with(prefix)
            && last.ends_with(suffix)
            && is_hex64(&last[prefix.len()..prefix.len() + 64])
        {
            return Some((short(&last[prefix.len()..]), t));
        }
    }
    None
}

/// Finds the container id in a list of `subsys=path` cgroup entries.
pub fn container_from_cgroups<'a>(
    cgroups: impl IntoIterator<Item = &'a [u8]>,
) -> Option<(String, u32)> {
    for entry in cgroups {
        let path = match entry.iter().position(|&b| b == b'=') {
            Some(i) => &entry[i + 1..],
            None => entry,
        };
        if let Some(found) = container_from_cgroup(path) {
            return Some(found);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_layouts() {
        let id = "c010f5a0854912345678901234567890123456789012345678901234567890ab";
        let p = format!("cpuset=/docker/{id}");
        assert_eq!(
            container_from_cgroups([p.as_bytes()]),
            Some(("c010f5a08549".into(), ctype::DOCKER))
        );
        let p = format!("/system.slice/docker-{id}.scope");
        assert_eq!(
            container_from_cgroup(p.as_bytes()).unwrap().0,
            "c010f5a08549"
        );
        let p = format!("/machine.slice/libpod-{id}");
        assert_eq!(
            container_from_cgroup(p.as_bytes()).unwrap().1,
            ctype::PODMAN
        );
        assert_eq!(container_from_cgroup(b"/user.slice"), None);
    }
}
