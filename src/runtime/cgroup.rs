//! Container ids from cgroup paths.
//!
//! A process's cgroup path says which container it runs in, if any: every container runtime
//! puts its containers into cgroups named after the container id. This module reads those
//! names. It is pure (no I/O, no clock) and allocates nothing when a path holds no container.
//!
//! # Where paths come from
//!
//! - `/proc/<pid>/cgroup`, one `N:controllers:/path` line per cgroup v1 hierarchy and a single
//!   `0::/path` line for cgroup v2. The caller turns each line into a `subsys=path` entry (or
//!   passes the bare path).
//! - The kernel side rebuilds the path of each subsystem from kernfs nodes, leaf-most first,
//!   and ships `subsys=path` entries (`memory=/docker/<id>`, `cpu=/...`; the default v2
//!   hierarchy as `unified=/...`). A walk limited to a few nodes may cut the root end of a
//!   deep path; the leaf end, which holds the id, is kept.
//!
//! Paths are raw bytes: a path need not be UTF-8 and can still match as long as the id part
//! is. Empty components (`//`, a trailing `/`) are ignored.
//!
//! # How a path is read
//!
//! [`classify`] walks the components from the leaf toward the root and takes the first one
//! that some rule of the table accepts in its context (its parent, its ancestors, how deep it
//! sits). So a cgroup nested inside a container (`/docker/<id>/init.scope`, crun's
//! `…/libpod-<id>.scope/container`) resolves to that container, and a container inside
//! another (docker-in-docker `/docker/<outer>/docker/<inner>`, a kind node
//! `/docker/<node>/kubepods/…/<id>`) resolves to the innermost one.
//!
//! The rules, in the order they are tried on each component:
//!
//! | layout | example | hint |
//! |---|---|---|
//! | docker, systemd driver (also cri-dockerd under kubepods) | `/system.slice/docker-<id>.scope` | [`Docker`](RuntimeHint::Docker) |
//! | k8s + containerd, systemd driver (also kind's `kubelet.slice/kubelet-kubepods…`) | `…/kubepods-burstable-pod<uid>.slice/cri-containerd-<id>.scope` | [`CriContainerd`](RuntimeHint::CriContainerd) |
//! | containerd given a systemd-style path without `SystemdCgroup = true` | `/kubepods-burstable-pod<uid>.slice:cri-containerd:<id>` | [`CriContainerd`](RuntimeHint::CriContainerd) |
//! | CRI-O, systemd and cgroupfs (never `crio-conmon-<id>.scope`) | `…/crio-<id>.scope`, `…/pod<uid>/crio-<id>` | [`Crio`](RuntimeHint::Crio) |
//! | podman, cgroup split mode | `…/<unit>.service/libpod-payload-<id>[.scope]` | [`Podman`](RuntimeHint::Podman) |
//! | podman rootful and rootless (never `libpod-conmon-<id>.scope`) | `/machine.slice/libpod-<id>.scope`, `/libpod_parent/libpod-<id>`, `/docker/libpod-<id>` | [`Podman`](RuntimeHint::Podman) |
//! | nerdctl, systemd driver | `/system.slice/nerdctl-<id>.scope` | [`Containerd`](RuntimeHint::Containerd) |
//! | docker, cgroupfs driver (and GitHub's `actions_job` parent) | `/docker/<id>` | [`Docker`](RuntimeHint::Docker) |
//! | podman rootless under cgroup v1 (`name=systemd`) | `…/podman-<pid>.scope/<id>` | [`Podman`](RuntimeHint::Podman) |
//! | k8s, cgroupfs driver (containerd, k3s, cri-dockerd…) | `/kubepods/burstable/pod<uid>/<id>` | [`Cri`](RuntimeHint::Cri) |
//! | podman rootless as a user service | `…/user@1000.service/<unit>/<id>` | [`Podman`](RuntimeHint::Podman) |
//! | libvirt-lxc, systemd | `/machine.slice/machine-lxc\x2d<n>\x2d<name>.scope[/libvirt]` | [`LibvirtLxc`](RuntimeHint::LibvirtLxc) |
//! | libvirt-lxc, non-systemd and legacy | `/<name>.libvirt-lxc`, `/libvirt/lxc/<name>` | [`LibvirtLxc`](RuntimeHint::LibvirtLxc) |
//! | LXC | `/lxc/<name>`, `/lxc.payload/<name>`, `/lxc.payload.<name>` | [`Lxc`](RuntimeHint::Lxc) |
//! | plain containerd (`ctr`) in a well-known namespace | `/k8s.io/<cid>`, `/default/<cid>`, `/moby/<cid>`, `/buildkit/<cid>` | [`Containerd`](RuntimeHint::Containerd) |
//! | plain containerd in any namespace, 64-hex id | `/<namespace>/<id>` | [`Containerd`](RuntimeHint::Containerd) |
//!
//! `<id>` is exactly 64 **lowercase** hex digits: Docker, containerd's CRI plugin, CRI-O and
//! podman all generate ids as lowercase hex, so an uppercase "id" is not one of theirs.
//! `<cid>` is a containerd identifier (`[A-Za-z0-9]+([._-][A-Za-z0-9]+)*`, at most 76
//! characters, containerd `pkg/identifiers`), excluding names ending in `.service`, `.slice`
//! or `.scope` (systemd units, as the Falco container plugin does).
//!
//! # Why no generic "any hex leaf" rule
//!
//! A hex-looking leaf is not a container. This machine runs our own shell in
//! `memory=/process_api/<32 hex>`; tetragon's fallback (any hex leaf of 31 or more chars) and
//! the Falco plugin's containerd matcher (any short id under any `/<namespace>/`) would both
//! call it a container. So a rule needs a known layout: a runtime's prefix or suffix, a
//! known parent (`docker`, `kubepods`, `podman-<pid>.scope`, `user@<uid>.service`), a
//! well-known containerd namespace, or at least a full 64-hex id directly under a top-level
//! namespace.
//!
//! # The hint
//!
//! [`RuntimeHint`] is what the layout suggests; the runtime's API has the last word. A bare
//! 64-hex leaf under `kubepods` is [`RuntimeHint::Cri`]: containerd, k3s, CRI-O with
//! cgroupfs or cri-dockerd all produce it, and the CRI socket that answers decides.
//!
//! # Several hierarchies: [`classify_entries`]
//!
//! A process has one path per cgroup v1 hierarchy, one for v2, or both (hybrid). On a hybrid
//! host the v2 path may be `/` while the v1 controllers hold the container (this machine is
//! such a host), so no single entry can be trusted alone: every entry is classified, and a
//! `/` entry never means "host" while another entry matches. When entries disagree, the
//! match from the unified (v2) entry wins, then `memory`, then `pids`, then `cpu`, then any
//! other entry in the order given.
//!
//! # Ids
//!
//! [`CgroupMatch::full_id`] is the id as the path spells it (for runtime API lookups);
//! [`CgroupMatch::short_id`] is what SysFlow records carry in `Container.id`: the first 12
//! characters of a 64-hex id, as libsysflow (through libsinsp) reports them; any other id
//! whole, so that two containers never share one (`web-frontend-1` and `web-frontend-2`
//! would both be `web-fronten…` cut to 12, as the Falco plugin cuts them).
//!
//! # Sources
//!
//! The layouts and test vectors come from: libs `runc.cpp`, `cri.cpp`, `docker_linux.cpp`,
//! `podman.cpp`, `libvirt_lxc.cpp` (falcosecurity/libs 0.18.1); the Falco container plugin's
//! `matchers/*.cpp` and `test/matchers.cpp` (falcosecurity/plugins); tracee
//! `containers.go` (the `crio-conmon-`/`libpod-conmon-` skips); containerd
//! `pkg/identifiers`; kind's and containerd/nri#227's `kubelet.slice` paths; paths seen on
//! this machine (`/libpod_parent/libpod-<id>`). See `shared/docs/containers-k8s.md` §2.

/// Which runtime a cgroup layout points at: a hint; the runtime's API has the last word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RuntimeHint {
    /// Docker: `/docker/<id>`, `docker-<id>.scope` (including cri-dockerd's containers under
    /// `kubepods`, whose systemd scopes docker names).
    Docker,
    /// Podman: `libpod-<id>[.scope][/container]`, `libpod-payload-<id>[.scope]`, and the
    /// rootless forms under `user@<uid>.service` or `podman-<pid>.scope`.
    Podman,
    /// Plain containerd: a namespace cgroup (`/k8s.io/<id>`, `/default/<id>`, …) or nerdctl's
    /// `nerdctl-<id>.scope`.
    Containerd,
    /// A bare 64-hex leaf under `kubepods`: some CRI runtime (containerd, k3s, cri-dockerd,
    /// CRI-O with cgroupfs naming…); the CRI socket that answers decides.
    Cri,
    /// containerd's CRI plugin with the systemd driver: `cri-containerd-<id>.scope`, or
    /// `…:cri-containerd:<id>` when given a systemd-style parent without the systemd driver.
    CriContainerd,
    /// CRI-O: `crio-<id>[.scope][/container]`.
    Crio,
    /// LXC: `/lxc/<name>`, `/lxc.payload/<name>`, `/lxc.payload.<name>`.
    Lxc,
    /// libvirt-lxc: `machine-lxc\x2d<n>\x2d<name>.scope`, `<name>.libvirt-lxc`,
    /// `/libvirt/lxc/<name>`.
    LibvirtLxc,
}

/// A container found in a cgroup path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupMatch {
    /// The id as the path spells it: 64 lowercase hex for docker-like runtimes; the container
    /// name for LXC and legacy libvirt-lxc; the containerd id for the namespace rule. For a
    /// systemd libvirt-lxc scope it is the domain name with the unit escapes decoded
    /// (`machine-lxc\x2d42\x2dweb\x2d1.scope` gives `web-1`), which is what libvirt's API takes.
    pub full_id: String,
    /// The id SysFlow records use (`Container.id`): the first 12 characters of a 64-hex id
    /// (libsysflow parity); an LXC or libvirt-lxc name whole (for a systemd libvirt-lxc scope,
    /// the text between `machine-lxc\x2d` and `.scope` as spelled, `42\x2dweb\x2d1`, which is
    /// what libsinsp reports); a containerd-namespace id whole (the Falco plugin cuts it to
    /// 12, which gives two containers one id).
    pub short_id: String,
    /// Which runtime the layout points at.
    pub hint: RuntimeHint,
    /// The Kubernetes pod uid when the container's parent cgroup carries one (`pod<uid>` in
    /// cgroupfs layouts, `…-pod<uid_with_underscores>.slice` in systemd layouts), normalized
    /// to the dashed form. A static pod's 32-hex uid (a config hash, no dashes) is kept as is.
    pub pod_uid: Option<String>,
}

/// Classifies one cgroup path (absolute, as in `/proc/<pid>/cgroup` or rebuilt from kernfs in
/// the kernel).
///
/// Walks from the leaf toward the root and returns the innermost container, or `None` when
/// no component matches a known layout (see the [module docs](self)). Pure; never panics;
/// allocates only while building a match.
#[must_use]
pub fn classify(path: &[u8]) -> Option<CgroupMatch> {
    LeafFirst::new(path).find_map(|node| RULES.iter().find_map(|rule| rule.apply(node)))
}

/// Classifies a process from all its cgroup entries, each `subsys=path` (e.g.
/// `memory=/docker/<id>`, `cpu,cpuacct=/...`, `name=systemd=/...`) or a bare path.
///
/// Every entry is considered, so a `/` entry (the empty v2 hierarchy of a hybrid host) never
/// hides a container found in another. When entries disagree, the first match in this order
/// wins: the unified/v2 entry (`unified=` or an empty subsystem `=/path`), `memory`, `pids`,
/// `cpu`, then any other entry (bare paths included) in the order given. A
/// `/proc/<pid>/cgroup` line (`4:memory:/path`) is not an entry: convert it first.
#[must_use]
pub fn classify_entries<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Option<CgroupMatch> {
    let mut best: Option<(Rank, CgroupMatch)> = None;
    for entry in entries {
        let (subsys, path) = split_entry(entry);
        let rank = rank(subsys);
        if best.as_ref().is_some_and(|(held, _)| *held <= rank) {
            continue;
        }
        if let Some(found) = classify(path) {
            if rank == Rank::Unified {
                return Some(found);
            }
            best = Some((rank, found));
        }
    }
    best.map(|(_, found)| found)
}

// ---------------------------------------------------------------------------------------
// The rule table

/// One layout: a shape to look for in a path component, and the runtime it points at.
struct Rule {
    /// An example path, `<id>` standing for 64 hex, `<uid>` for a pod uid, `<name>` for a
    /// name; the tests check that each example matches with this rule's hint.
    #[cfg_attr(not(test), allow(dead_code))]
    layout: &'static str,
    hint: RuntimeHint,
    shape: Shape,
}

/// How a rule recognizes a component.
enum Shape {
    /// The component is `<prefix><64 hex><suffix>`.
    Wrapped {
        prefix: &'static [u8],
        suffix: &'static [u8],
    },
    /// The component is `<pod slice><marker><64 hex>`.
    Marked(&'static [u8]),
    /// The component is 64 hex and the test accepts where it sits.
    Hex(fn(Node<'_>) -> bool),
    /// The component is a name (or a 64-hex id accepted with a name's context); the function
    /// returns the id and how to report it.
    Named(fn(Node<'_>) -> Option<Name<'_>>),
}

/// An id found by a [`Shape::Named`] rule.
struct Name<'a> {
    id: &'a [u8],
    form: NameForm,
}

/// How a name becomes `full_id` and `short_id`.
#[derive(Clone, Copy)]
enum NameForm {
    /// Both ids are the name.
    Whole,
    /// A containerd id: `short_id` is its first 12 characters when it is 64 hex, else the
    /// whole id.
    Containerd,
    /// `<n>\x2d<name>` from a libvirt machine scope: `short_id` as spelled, `full_id` decoded.
    LibvirtMachine,
}

/// The rules, tried in order on each component, leaf first. Order matters where two rules
/// could both claim a component: runtime prefixes first, then bare 64-hex ids with a known
/// parent, then LXC and libvirt names, then the containerd namespace rules last.
const RULES: &[Rule] = &[
    // Runtime prefixes and suffixes (libs runc.cpp matching: 64 hex between them).
    Rule {
        layout: "/system.slice/docker-<id>.scope",
        hint: RuntimeHint::Docker,
        shape: Shape::Wrapped {
            prefix: b"docker-",
            suffix: b".scope",
        },
    },
    Rule {
        layout: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice/cri-containerd-<id>.scope",
        hint: RuntimeHint::CriContainerd,
        shape: Shape::Wrapped {
            prefix: b"cri-containerd-",
            suffix: b".scope",
        },
    },
    Rule {
        layout: "/kubepods-burstable-pod<uid>.slice:cri-containerd:<id>",
        hint: RuntimeHint::CriContainerd,
        shape: Shape::Marked(b":cri-containerd:"),
    },
    // `crio-conmon-<id>.scope` is conmon, not the container: `conmon-<id>` is not 64 hex.
    Rule {
        layout: "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid>.slice/crio-<id>.scope",
        hint: RuntimeHint::Crio,
        shape: Shape::Wrapped {
            prefix: b"crio-",
            suffix: b".scope",
        },
    },
    Rule {
        layout: "/kubepods/besteffort/pod<uid>/crio-<id>",
        hint: RuntimeHint::Crio,
        shape: Shape::Wrapped {
            prefix: b"crio-",
            suffix: b"",
        },
    },
    Rule {
        layout: "/system.slice/system-ceph.slice/ceph@mon.service/libpod-payload-<id>.scope",
        hint: RuntimeHint::Podman,
        shape: Shape::Wrapped {
            prefix: b"libpod-payload-",
            suffix: b".scope",
        },
    },
    Rule {
        layout: "/system.slice/system-ceph.slice/ceph@mon.service/libpod-payload-<id>",
        hint: RuntimeHint::Podman,
        shape: Shape::Wrapped {
            prefix: b"libpod-payload-",
            suffix: b"",
        },
    },
    // `libpod-conmon-<id>.scope` is conmon, not the container: `conmon-<id>` is not 64 hex.
    Rule {
        layout: "/machine.slice/libpod-<id>.scope/container",
        hint: RuntimeHint::Podman,
        shape: Shape::Wrapped {
            prefix: b"libpod-",
            suffix: b".scope",
        },
    },
    Rule {
        layout: "/libpod_parent/libpod-<id>",
        hint: RuntimeHint::Podman,
        shape: Shape::Wrapped {
            prefix: b"libpod-",
            suffix: b"",
        },
    },
    Rule {
        layout: "/system.slice/nerdctl-<id>.scope",
        hint: RuntimeHint::Containerd,
        shape: Shape::Wrapped {
            prefix: b"nerdctl-",
            suffix: b".scope",
        },
    },
    // Bare 64-hex ids with a known parent.
    Rule {
        layout: "/docker/<id>",
        hint: RuntimeHint::Docker,
        shape: Shape::Hex(under_docker),
    },
    Rule {
        layout: "/user.slice/user-1000.slice/user@1000.service/user.slice/podman-4711.scope/<id>",
        hint: RuntimeHint::Podman,
        shape: Shape::Hex(under_podman_scope),
    },
    Rule {
        layout: "/kubepods/burstable/pod<uid>/<id>",
        hint: RuntimeHint::Cri,
        shape: Shape::Hex(in_kubepods),
    },
    Rule {
        layout: "/user.slice/user-1000.slice/user@1000.service/container-web.service/<id>",
        hint: RuntimeHint::Podman,
        shape: Shape::Hex(in_user_service),
    },
    // LXC and libvirt-lxc names (plugin matchers/lxc.cpp, libvirt_lxc.cpp).
    Rule {
        layout: "/machine.slice/machine-lxc\\x2d4711\\x2d<name>.scope/libvirt",
        hint: RuntimeHint::LibvirtLxc,
        shape: Shape::Named(libvirt_machine),
    },
    Rule {
        layout: "/machine/<name>.libvirt-lxc",
        hint: RuntimeHint::LibvirtLxc,
        shape: Shape::Named(libvirt_plain),
    },
    Rule {
        layout: "/libvirt/lxc/<name>",
        hint: RuntimeHint::LibvirtLxc,
        shape: Shape::Named(libvirt_legacy),
    },
    Rule {
        layout: "/lxc.payload.<name>/system.slice/cron.service",
        hint: RuntimeHint::Lxc,
        shape: Shape::Named(lxc_payload_dot),
    },
    Rule {
        layout: "/lxc.payload/<name>",
        hint: RuntimeHint::Lxc,
        shape: Shape::Named(lxc_child),
    },
    // Plain containerd (`ctr run`): `/<namespace>/<id>`, last so that any layout above wins.
    Rule {
        layout: "/k8s.io/<name>",
        hint: RuntimeHint::Containerd,
        shape: Shape::Named(containerd_namespace),
    },
    Rule {
        layout: "/my-namespace/<id>",
        hint: RuntimeHint::Containerd,
        shape: Shape::Hex(top_level),
    },
];

/// containerd namespaces whose cgroups are `/<namespace>/<id>` with ids of any form.
const CONTAINERD_NAMESPACES: &[&[u8]] = &[b"k8s.io", b"default", b"moby", b"buildkit"];

impl Rule {
    /// The match this rule finds at `node`, if any.
    fn apply(&self, node: Node<'_>) -> Option<CgroupMatch> {
        match self.shape {
            Shape::Wrapped { prefix, suffix } => {
                let id = node.name.strip_prefix(prefix)?.strip_suffix(suffix)?;
                hex_match(id, self.hint, node.parent())
            }
            Shape::Marked(marker) => {
                let at = find(node.name, marker)?;
                let (slice, rest) = node.name.split_at_checked(at)?;
                hex_match(rest.get(marker.len()..)?, self.hint, Some(slice))
            }
            Shape::Hex(context) => {
                if is_hex64(node.name) && context(node) {
                    hex_match(node.name, self.hint, node.parent())
                } else {
                    None
                }
            }
            Shape::Named(find_name) => find_name(node)?.into_match(self.hint),
        }
    }
}

/// A 64-hex id: `short_id` is its first 12 characters; the pod uid comes from `pod_source`.
fn hex_match(id: &[u8], hint: RuntimeHint, pod_source: Option<&[u8]>) -> Option<CgroupMatch> {
    if !is_hex64(id) {
        return None;
    }
    let full_id = std::str::from_utf8(id).ok()?;
    Some(CgroupMatch {
        short_id: full_id.get(..SHORT_ID_LEN)?.to_owned(),
        full_id: full_id.to_owned(),
        hint,
        pod_uid: pod_source.and_then(pod_uid),
    })
}

impl Name<'_> {
    fn into_match(self, hint: RuntimeHint) -> Option<CgroupMatch> {
        let spelled = std::str::from_utf8(self.id).ok()?;
        let (full_id, short_id) = match self.form {
            NameForm::Whole => (spelled.to_owned(), spelled.to_owned()),
            NameForm::Containerd => {
                let short = if is_hex64(self.id) {
                    spelled.get(..SHORT_ID_LEN)?
                } else {
                    spelled
                };
                (spelled.to_owned(), short.to_owned())
            }
            NameForm::LibvirtMachine => (libvirt_domain_name(self.id)?, spelled.to_owned()),
        };
        Some(CgroupMatch {
            full_id,
            short_id,
            hint,
            pod_uid: None,
        })
    }
}

/// Length of the id SysFlow records carry for 64-hex ids.
const SHORT_ID_LEN: usize = 12;

// ---------------------------------------------------------------------------------------
// Context tests for bare 64-hex components

/// `/docker/<id>` (docker's cgroupfs driver; also podman's `--cgroup-parent=/docker` uses
/// `libpod-<id>`, matched above) and GitHub Actions' `/actions_job/<id>` (tracee).
fn under_docker(node: Node<'_>) -> bool {
    matches!(node.parent(), Some(b"docker" | b"actions_job"))
}

/// `…/podman-<pid>.scope/<id>`: rootless podman seen through cgroup v1's `name=systemd`.
fn under_podman_scope(node: Node<'_>) -> bool {
    node.parent()
        .and_then(|p| p.strip_prefix(b"podman-"))
        .and_then(|p| p.strip_suffix(b".scope"))
        .is_some_and(is_digits)
}

/// Anywhere below a kubelet QoS hierarchy: `kubepods`, `kubepods.slice`, `kubepods-*`, kind's
/// `kubelet-kubepods*`.
fn in_kubepods(node: Node<'_>) -> bool {
    node.ancestors().any(|c| {
        c == b"kubepods"
            || c.starts_with(b"kubepods.")
            || c.starts_with(b"kubepods-")
            || c.starts_with(b"kubelet-kubepods")
    })
}

/// Anywhere below a systemd user manager, `user@<uid>.service`: rootless podman.
fn in_user_service(node: Node<'_>) -> bool {
    node.ancestors().any(|c| {
        c.strip_prefix(b"user@")
            .and_then(|c| c.strip_suffix(b".service"))
            .is_some_and(is_digits)
    })
}

/// `/<namespace>/<id>` at the top level, the namespace a containerd identifier.
fn top_level(node: Node<'_>) -> bool {
    node.is_top_level() && node.parent().is_some_and(is_containerd_id)
}

// ---------------------------------------------------------------------------------------
// Name rules

/// `machine-lxc\x2d<n>\x2d<name>.scope` (systemd libvirt-lxc; older libvirt omits `<n>`).
fn libvirt_machine(node: Node<'_>) -> Option<Name<'_>> {
    let id = node
        .name
        .strip_prefix(b"machine-lxc\\x2d")?
        .strip_suffix(b".scope")?;
    named(id, NameForm::LibvirtMachine)
}

/// `<name>.libvirt-lxc` (non-systemd libvirt-lxc, libs `libvirt_lxc.cpp`).
fn libvirt_plain(node: Node<'_>) -> Option<Name<'_>> {
    named(node.name.strip_suffix(b".libvirt-lxc")?, NameForm::Whole)
}

/// `/libvirt/lxc/<name>` (legacy libvirt-lxc).
fn libvirt_legacy(node: Node<'_>) -> Option<Name<'_>> {
    let mut above = node.ancestors();
    if above.next() == Some(b"lxc") && above.next() == Some(b"libvirt") {
        named(node.name, NameForm::Whole)
    } else {
        None
    }
}

/// `lxc.payload.<name>` (LXC 4.0 layout).
fn lxc_payload_dot(node: Node<'_>) -> Option<Name<'_>> {
    named(node.name.strip_prefix(b"lxc.payload.")?, NameForm::Whole)
}

/// `/lxc/<name>` (non-systemd) and `/lxc.payload/<name>` (systemd).
fn lxc_child(node: Node<'_>) -> Option<Name<'_>> {
    if matches!(node.parent(), Some(b"lxc" | b"lxc.payload")) {
        named(node.name, NameForm::Whole)
    } else {
        None
    }
}

/// `/<namespace>/<cid>` for a well-known containerd namespace; `<cid>` any containerd id
/// that is not a systemd unit name.
fn containerd_namespace(node: Node<'_>) -> Option<Name<'_>> {
    let in_namespace = node.is_top_level()
        && node
            .parent()
            .is_some_and(|ns| CONTAINERD_NAMESPACES.contains(&ns));
    let unit = [&b".service"[..], b".slice", b".scope"]
        .iter()
        .any(|suffix| node.name.ends_with(suffix));
    if in_namespace && !unit && is_containerd_id(node.name) {
        named(node.name, NameForm::Containerd)
    } else {
        None
    }
}

/// A non-empty name.
fn named(id: &[u8], form: NameForm) -> Option<Name<'_>> {
    (!id.is_empty()).then_some(Name { id, form })
}

/// The libvirt domain name in `<n>\x2d<name>`: the leading domain number dropped, systemd's
/// `\xHH` escapes decoded. `None` if that leaves nothing or is not UTF-8.
fn libvirt_domain_name(spelled: &[u8]) -> Option<String> {
    let digits = spelled.iter().take_while(|b| b.is_ascii_digit()).count();
    let name = match spelled.get(digits..).and_then(|r| r.strip_prefix(b"\\x2d")) {
        Some(name) if digits > 0 => name,
        _ => spelled,
    };
    let decoded = decode_unit_escapes(name);
    if decoded.is_empty() {
        return None;
    }
    String::from_utf8(decoded).ok()
}

/// Decodes systemd unit-name escapes (`\x2d` → `-`); other bytes are copied.
fn decode_unit_escapes(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rest.len());
    while let Some((&byte, tail)) = rest.split_first() {
        let escaped = if byte == b'\\' {
            tail.strip_prefix(b"x")
                .and_then(|t| t.get(..2))
                .and_then(hex_byte)
        } else {
            None
        };
        match escaped {
            Some(value) => {
                out.push(value);
                rest = tail.get(3..).unwrap_or_default();
            }
            None => {
                out.push(byte);
                rest = tail;
            }
        }
    }
    out
}

/// Two hex digits as a byte.
fn hex_byte(pair: &[u8]) -> Option<u8> {
    let text = std::str::from_utf8(pair).ok()?;
    u8::from_str_radix(text, 16).ok()
}

// ---------------------------------------------------------------------------------------
// Pod uids

/// The pod uid a container's parent cgroup carries: `pod<uid>` (cgroupfs) or
/// `<qos prefix>-pod<uid_with_underscores>.slice` (systemd), dashed.
fn pod_uid(parent: &[u8]) -> Option<String> {
    parent
        .strip_prefix(b"pod")
        .and_then(normalize_uid)
        .or_else(|| {
            let stem = parent.strip_suffix(b".slice")?;
            let at = rfind(stem, b"-pod")?;
            normalize_uid(stem.get(at.checked_add(4)?..)?)
        })
}

/// A uid as 32 lowercase hex (a static pod's config hash) or 8-4-4-4-12 with `-` or `_`
/// separators, returned with `-` separators.
fn normalize_uid(raw: &[u8]) -> Option<String> {
    let valid = match raw.len() {
        32 => raw.iter().copied().all(is_lower_hex),
        36 => raw.iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-' || b == b'_',
            _ => is_lower_hex(b),
        }),
        _ => false,
    };
    valid.then(|| {
        raw.iter()
            .map(|&b| if b == b'_' { '-' } else { char::from(b) })
            .collect()
    })
}

// ---------------------------------------------------------------------------------------
// Entries

/// Preference among the entries of one process (lower is preferred).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Unified,
    Memory,
    Pids,
    Cpu,
    Other,
}

/// The rank of an entry from its subsystem list (`cpu,cpuacct` ranks as its best member).
fn rank(subsys: Option<&[u8]>) -> Rank {
    let Some(list) = subsys else {
        return Rank::Other;
    };
    list.split(|&b| b == b',')
        .map(|controller| match controller {
            b"unified" | b"" => Rank::Unified,
            b"memory" => Rank::Memory,
            b"pids" => Rank::Pids,
            b"cpu" => Rank::Cpu,
            _ => Rank::Other,
        })
        .min()
        .unwrap_or(Rank::Other)
}

/// Splits `subsys=path` at the `=` just before the path's first `/` (so `name=systemd=/x`
/// keeps its subsystem whole). An entry starting with `/`, or with no `=` before its first
/// `/`, is a bare path; an entry with no `/` at all splits at its last `=`, if any.
fn split_entry(entry: &[u8]) -> (Option<&[u8]>, &[u8]) {
    match entry.iter().position(|&b| b == b'/') {
        Some(slash) => {
            let split = entry
                .split_at_checked(slash)
                .and_then(|(head, path)| Some((head.strip_suffix(b"=")?, path)));
            match split {
                Some((subsys, path)) => (Some(subsys), path),
                None => (None, entry),
            }
        }
        None => match entry.iter().rposition(|&b| b == b'=') {
            Some(eq) => (
                entry.get(..eq),
                entry.get(eq.saturating_add(1)..).unwrap_or_default(),
            ),
            None => (None, entry),
        },
    }
}

// ---------------------------------------------------------------------------------------
// Walking a path

/// A non-empty path component and everything above it.
#[derive(Clone, Copy)]
struct Node<'a> {
    name: &'a [u8],
    /// The path before this component (its ancestors).
    above: &'a [u8],
}

impl<'a> Node<'a> {
    /// The ancestors, nearest first, empty components skipped.
    fn ancestors(self) -> impl Iterator<Item = &'a [u8]> {
        self.above
            .rsplit(|&b| b == b'/')
            .filter(|component| !component.is_empty())
    }

    fn parent(self) -> Option<&'a [u8]> {
        self.ancestors().next()
    }

    /// Exactly one ancestor: `/<top>/<this>`.
    fn is_top_level(self) -> bool {
        let mut above = self.ancestors();
        above.next().is_some() && above.next().is_none()
    }
}

/// The non-empty components of a path, leaf first.
struct LeafFirst<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> LeafFirst<'a> {
    fn new(path: &'a [u8]) -> Self {
        Self { rest: Some(path) }
    }
}

impl<'a> Iterator for LeafFirst<'a> {
    type Item = Node<'a>;

    fn next(&mut self) -> Option<Node<'a>> {
        loop {
            let rest = self.rest?;
            let (above, name) = match rest.iter().rposition(|&b| b == b'/') {
                Some(slash) => {
                    let (above, tail) = rest.split_at_checked(slash)?;
                    self.rest = Some(above);
                    (above, tail.get(1..).unwrap_or_default())
                }
                None => {
                    self.rest = None;
                    (&[][..], rest)
                }
            };
            if !name.is_empty() {
                return Some(Node { name, above });
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Byte helpers

fn is_lower_hex(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'a'..=b'f')
}

/// Exactly 64 lowercase hex digits.
fn is_hex64(s: &[u8]) -> bool {
    s.len() == 64 && s.iter().copied().all(is_lower_hex)
}

fn is_digits(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

/// A containerd identifier: `[A-Za-z0-9]+([._-][A-Za-z0-9]+)*`, 1 to 76 bytes.
fn is_containerd_id(s: &[u8]) -> bool {
    const MAX_LEN: usize = 76;
    let separator = |b: &u8| matches!(b, b'.' | b'_' | b'-');
    !s.is_empty()
        && s.len() <= MAX_LEN
        && s.split(separator)
            .all(|run| !run.is_empty() && run.iter().all(u8::is_ascii_alphanumeric))
}

/// Offset of the first `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Offset of the last `needle` in `hay`.
fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(hay.len());
    }
    hay.windows(needle.len()).rposition(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Ids and uids from the public test vectors (Falco plugin test/matchers.cpp, issue
    // threads quoted in shared/docs/containers-k8s.md §2).
    const DOCKER_ID: &str = "7951fb549ab99e0722a949b6c121634e1f3a36b5bacbe5392991e3b12251e6b8";
    const OTHER_ID: &str = "605439acbd4fb18c145069289094b17f17e0cfa938f78012d4960bc797305f22";
    const THIRD_ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const POD_UID: &str = "63b3ebfc-2890-11e9-8154-16bf8ef8d9dc";

    #[track_caller]
    fn found(path: &str) -> CgroupMatch {
        match classify(path.as_bytes()) {
            Some(m) => m,
            None => panic!("no match for {path}"),
        }
    }

    #[track_caller]
    fn check(path: &str, hint: RuntimeHint, full: &str, short: &str, pod: Option<&str>) {
        let m = found(path);
        assert_eq!(m.hint, hint, "{path}");
        assert_eq!(m.full_id, full, "{path}");
        assert_eq!(m.short_id, short, "{path}");
        assert_eq!(m.pod_uid.as_deref(), pod, "{path}");
    }

    #[track_caller]
    fn hex(path: &str, hint: RuntimeHint, id: &str, pod: Option<&str>) {
        check(path, hint, id, &id[..12], pod);
    }

    #[track_caller]
    fn none(path: &[u8]) {
        assert_eq!(classify(path), None, "{}", String::from_utf8_lossy(path));
    }

    fn entries(list: &[&str]) -> Option<CgroupMatch> {
        classify_entries(list.iter().map(|e| e.as_bytes()))
    }

    // --- one test per layout -----------------------------------------------------------

    #[test]
    fn docker_cgroupfs() {
        let path = format!("/docker/{DOCKER_ID}");
        hex(&path, RuntimeHint::Docker, DOCKER_ID, None);
        assert_eq!(found(&path).short_id, "7951fb549ab9");
        hex(
            &format!("/actions_job/{DOCKER_ID}"),
            RuntimeHint::Docker,
            DOCKER_ID,
            None,
        );
    }

    #[test]
    fn docker_systemd() {
        hex(
            &format!("/system.slice/docker-{DOCKER_ID}.scope"),
            RuntimeHint::Docker,
            DOCKER_ID,
            None,
        );
        // Falco plugin vector `docker_systemd`.
        hex(
            &format!("/docker.slice/docker-{DOCKER_ID}.scope"),
            RuntimeHint::Docker,
            DOCKER_ID,
            None,
        );
    }

    #[test]
    fn podman_with_docker_cgroup_parent() {
        hex(
            &format!("/docker/libpod-{DOCKER_ID}"),
            RuntimeHint::Podman,
            DOCKER_ID,
            None,
        );
    }

    #[test]
    fn k8s_cgroupfs_qos_classes() {
        // Falco plugin vector `containerd_cgroupfs`.
        hex(
            &format!("/kubepods/besteffort/podac04f3f2-1f2c-11e9-b015-1ebee232acfa/{OTHER_ID}"),
            RuntimeHint::Cri,
            OTHER_ID,
            Some("ac04f3f2-1f2c-11e9-b015-1ebee232acfa"),
        );
        hex(
            &format!("/kubepods/burstable/pod{POD_UID}/{OTHER_ID}"),
            RuntimeHint::Cri,
            OTHER_ID,
            Some(POD_UID),
        );
        // Guaranteed pods sit directly under /kubepods.
        hex(
            &format!("/kubepods/pod{POD_UID}/{OTHER_ID}"),
            RuntimeHint::Cri,
            OTHER_ID,
            Some(POD_UID),
        );
    }

    #[test]
    fn k3s_is_cgroupfs() {
        // k3s default, seen as the `0::` line of a v2 host (rancher/k3k#792).
        let line = format!("unified=/kubepods/burstable/pod{POD_UID}/{OTHER_ID}");
        let m = entries(&[&line]).unwrap();
        assert_eq!(m.hint, RuntimeHint::Cri);
        assert_eq!(m.short_id, "605439acbd4f");
        assert_eq!(m.pod_uid.as_deref(), Some(POD_UID));
    }

    #[test]
    fn k8s_containerd_systemd() {
        hex(
            &format!(
                "/kubepods.slice/kubepods-burstable.slice/\
                 kubepods-burstable-pod63b3ebfc_2890_11e9_8154_16bf8ef8d9dc.slice/\
                 cri-containerd-{OTHER_ID}.scope"
            ),
            RuntimeHint::CriContainerd,
            OTHER_ID,
            Some(POD_UID),
        );
        // Guaranteed.
        hex(
            &format!(
                "/kubepods.slice/kubepods-pod63b3ebfc_2890_11e9_8154_16bf8ef8d9dc.slice/\
                 cri-containerd-{OTHER_ID}.scope"
            ),
            RuntimeHint::CriContainerd,
            OTHER_ID,
            Some(POD_UID),
        );
    }

    #[test]
    fn kind_kubelet_slice_prefix() {
        // containerd/nri#227, a kind worker.
        let id = "a09bc17f5aa29b0dbdec9ede5f46cf1396d2405917ab02e6f1eb1019f388396e";
        hex(
            &format!(
                "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/\
                 kubelet-kubepods-besteffort-pod1e597579_417e_482f_bf65_5fe170c3aebd.slice/\
                 cri-containerd-{id}.scope"
            ),
            RuntimeHint::CriContainerd,
            id,
            Some("1e597579-417e-482f-bf65-5fe170c3aebd"),
        );
    }

    #[test]
    fn containerd_without_systemd_cgroup() {
        // Falco plugin vector `containerd_unknown`: a static pod's 32-hex uid.
        let id = "d52db56a9c80d536a91354c0951c061187ca46249e64865a12703003d8f42366";
        hex(
            &format!(
                "/kubepods-burstable-podbd12dd3393227d950605a2444b13c27a.slice:cri-containerd:{id}"
            ),
            RuntimeHint::CriContainerd,
            id,
            Some("bd12dd3393227d950605a2444b13c27a"),
        );
        // The relative form containerd logs (nri#227) has no leading slash.
        let id = "d7dfb4a21fe1703a8537e60d5af248af729315d187b24a538102d14874c8117d";
        hex(
            &format!(
                "kubelet-kubepods-besteffort-pod1e597579_417e_482f_bf65_5fe170c3aebd.slice\
                 :cri-containerd:{id}"
            ),
            RuntimeHint::CriContainerd,
            id,
            Some("1e597579-417e-482f-bf65-5fe170c3aebd"),
        );
    }

    #[test]
    fn plain_containerd_namespaces() {
        // Falco plugin vectors `containerd_default`, `containerd_id_with_special_chars`,
        // `containerd_single_char_id`, `containerd_short_id_no_systemd_suffix`.
        let c = RuntimeHint::Containerd;
        for (path, full, short) in [
            (
                "/default/test_container",
                "test_container",
                "test_container",
            ),
            (
                "/k8s.io/my-test_container",
                "my-test_container",
                "my-test_container",
            ),
            ("/default/a", "a", "a"),
            ("/default/abcdef123456", "abcdef123456", "abcdef123456"),
            (
                "/default/service.container",
                "service.container",
                "service.container",
            ),
            // Two ids that share their first 12 characters stay two containers.
            ("/k8s.io/web-frontend-1", "web-frontend-1", "web-frontend-1"),
            ("/k8s.io/web-frontend-2", "web-frontend-2", "web-frontend-2"),
            ("/moby/x", "x", "x"),
            ("/buildkit/Build-1", "Build-1", "Build-1"),
        ] {
            check(path, c, full, short, None);
        }
        hex(&format!("/k8s.io/{OTHER_ID}"), c, OTHER_ID, None);
        // The v2 form seen through a process's `0::` line.
        hex(&format!("/default/{OTHER_ID}"), c, OTHER_ID, None);
        // Any namespace, with a full 64-hex id.
        hex(
            &format!("/my_very_long_namespace-1.5/{OTHER_ID}"),
            c,
            OTHER_ID,
            None,
        );
        // The longest id containerd accepts.
        let longest = "a".repeat(76);
        check(&format!("/default/{longest}"), c, &longest, &longest, None);
    }

    #[test]
    fn nerdctl_systemd() {
        // Falco plugin vector `nerdctl_systemd_scope`.
        hex(
            &format!("/system.slice/nerdctl-{THIRD_ID}.scope"),
            RuntimeHint::Containerd,
            THIRD_ID,
            None,
        );
    }

    #[test]
    fn crio_cgroupfs() {
        // Falco plugin vector `crio_cgroupfs`.
        let id = "73bfe475650de66df8e2affdc98d440dcbe84f8df83b6f75a68a82eb7026136a";
        hex(
            &format!("/kubepods/besteffort/pod{POD_UID}/crio-{id}"),
            RuntimeHint::Crio,
            id,
            Some(POD_UID),
        );
    }

    #[test]
    fn crio_systemd() {
        // Falco plugin vector `crio_systemd`.
        let id = "17d8c9eacc629f9945f304d89e9708c0c619649a484a215b240628319548a09f";
        hex(
            &format!(
                "/kubepods.slice/kubepods-besteffort.slice/\
                 kubepods-besteffort-pod63b3ebfc_2890_11e9_8154_16bf8ef8d9dc.slice/\
                 crio-{id}.scope"
            ),
            RuntimeHint::Crio,
            id,
            Some(POD_UID),
        );
    }

    #[test]
    fn crun_container_subgroup() {
        hex(
            &format!(
                "/kubepods.slice/kubepods-besteffort.slice/\
                 kubepods-besteffort-pod63b3ebfc_2890_11e9_8154_16bf8ef8d9dc.slice/\
                 crio-{OTHER_ID}.scope/container"
            ),
            RuntimeHint::Crio,
            OTHER_ID,
            Some(POD_UID),
        );
        hex(
            &format!("/machine.slice/libpod-{OTHER_ID}.scope/container"),
            RuntimeHint::Podman,
            OTHER_ID,
            None,
        );
    }

    #[test]
    fn podman_rootful_systemd() {
        hex(
            &format!("/machine.slice/libpod-{DOCKER_ID}.scope"),
            RuntimeHint::Podman,
            DOCKER_ID,
            None,
        );
        // Falco plugin vectors `root_libpod_scope`, `root_libpod_no_scope`.
        hex(
            &format!("/system.slice/libpod-{THIRD_ID}.scope"),
            RuntimeHint::Podman,
            THIRD_ID,
            None,
        );
        hex(
            &format!("/system.slice/libpod-{THIRD_ID}"),
            RuntimeHint::Podman,
            THIRD_ID,
            None,
        );
    }

    #[test]
    fn podman_rootful_cgroupfs() {
        // As seen on this machine (shared/docs/containers.md).
        hex(
            &format!("/libpod_parent/libpod-{DOCKER_ID}"),
            RuntimeHint::Podman,
            DOCKER_ID,
            None,
        );
    }

    #[test]
    fn podman_split_mode() {
        // Falco plugin vectors `root_libpod_cgroup_mode_split_{no_,}scope`.
        let id = "9cc35a907a1e4e7ac8c021758b2bb28db60b3a787115f9114a641bf44f8ba99b";
        let base = "/system.slice/system-ceph-f952f5be-565c-11f0-ab72-0affea283157.slice/\
                    ceph-f952f5be-565c-11f0-ab72-0affea283157@mon.ip-10-0-25-96.service";
        hex(
            &format!("{base}/libpod-payload-{id}"),
            RuntimeHint::Podman,
            id,
            None,
        );
        hex(
            &format!("{base}/libpod-payload-{id}.scope"),
            RuntimeHint::Podman,
            id,
            None,
        );
    }

    #[test]
    fn podman_rootless() {
        let user = "/user.slice/user-1000.slice/user@1000.service";
        hex(
            &format!("{user}/user.slice/libpod-{DOCKER_ID}.scope/container"),
            RuntimeHint::Podman,
            DOCKER_ID,
            None,
        );
        // Falco plugin vector `rootless_user_slice_libpod_no_scope`.
        hex(
            &format!("{user}/libpod-{THIRD_ID}"),
            RuntimeHint::Podman,
            THIRD_ID,
            None,
        );
        // As a user service (quadlet).
        hex(
            &format!("{user}/app.slice/container-web.service/{DOCKER_ID}"),
            RuntimeHint::Podman,
            DOCKER_ID,
            None,
        );
        // cgroup v1, `name=systemd` hierarchy (libs podman.cpp).
        hex(
            &format!("{user}/user.slice/podman-4711.scope/{DOCKER_ID}"),
            RuntimeHint::Podman,
            DOCKER_ID,
            None,
        );
        let entry = format!("name=systemd={user}/user.slice/podman-4711.scope/{DOCKER_ID}");
        let m = entries(&["memory=/user.slice", &entry]).unwrap();
        assert_eq!(m.hint, RuntimeHint::Podman);
    }

    #[test]
    fn cri_dockerd() {
        // systemd: kubepods slices around docker scopes (kontena/pharos-cluster#440).
        let id = "abddff03dfd7710c79a750ce3e730365cbb2c8247a974170c1062683bc3e9152";
        hex(
            &format!(
                "/kubepods.slice/kubepods-besteffort.slice/\
                 kubepods-besteffort-pod9692aa0e_748e_11e8_8dfa_76d458035df6.slice/\
                 docker-{id}.scope"
            ),
            RuntimeHint::Docker,
            id,
            Some("9692aa0e-748e-11e8-8dfa-76d458035df6"),
        );
        // cgroupfs: indistinguishable from containerd, so a CRI hint.
        hex(
            &format!("/kubepods/besteffort/pod{POD_UID}/{id}"),
            RuntimeHint::Cri,
            id,
            Some(POD_UID),
        );
    }

    #[test]
    fn lxc() {
        for path in [
            "/lxc/web",
            "/lxc.payload/web",
            "/lxc.payload.web",
            // Deeper components are still that container.
            "/lxc.payload.web/system.slice/cron.service",
            "/lxc/web/init.scope",
            "/lxc.payload/web/a/b/c",
        ] {
            check(path, RuntimeHint::Lxc, "web", "web", None);
        }
        // A name is reported whole, not cut to 12.
        let long = "a-very-long-container-name";
        let m = found(&format!("/lxc/{long}"));
        assert_eq!((m.full_id.as_str(), m.short_id.as_str()), (long, long));
        // The monitor process is not the container.
        none(b"/lxc.monitor.web");
    }

    #[test]
    fn libvirt_lxc() {
        let v = RuntimeHint::LibvirtLxc;
        // Falco plugin libvirt_lxc.cpp comment; the escape is a literal backslash.
        check(
            r"/machine.slice/machine-lxc\x2d2293906\x2dlibvirt\x2dcontainer.scope/libvirt",
            v,
            "libvirt-container",
            r"2293906\x2dlibvirt\x2dcontainer",
            None,
        );
        check(
            r"/machine.slice/machine-lxc\x2d42\x2dweb.scope",
            v,
            "web",
            r"42\x2dweb",
            None,
        );
        check(
            r"/machine.slice/machine-lxc\x2d42\x2dweb\x2d1.scope",
            v,
            "web-1",
            r"42\x2dweb\x2d1",
            None,
        );
        // Older libvirt: no domain number.
        check(
            r"/machine.slice/machine-lxc\x2dweb.scope",
            v,
            "web",
            r"web",
            None,
        );
        check("/libvirt/lxc/web", v, "web", "web", None);
        check("/libvirt/lxc/web/sub", v, "web", "web", None);
        check("/machine/web.libvirt-lxc", v, "web", "web", None);
    }

    #[test]
    fn every_rule_matches_its_own_layout() {
        for rule in RULES {
            let path = rule
                .layout
                .replace("<id>", DOCKER_ID)
                .replace("<uid>", "63b3ebfc_2890_11e9_8154_16bf8ef8d9dc")
                .replace("<name>", "web");
            let m = found(&path);
            assert_eq!(m.hint, rule.hint, "{path}");
            assert!(!m.full_id.is_empty() && !m.short_id.is_empty(), "{path}");
        }
    }

    // --- nesting ---------------------------------------------------------------------

    #[test]
    fn nested_cgroups_resolve_to_the_innermost_container() {
        hex(
            &format!("/docker/{DOCKER_ID}/init.scope"),
            RuntimeHint::Docker,
            DOCKER_ID,
            None,
        );
        hex(
            &format!("/docker/{DOCKER_ID}/docker/{OTHER_ID}"),
            RuntimeHint::Docker,
            OTHER_ID,
            None,
        );
        hex(
            &format!("/docker/{DOCKER_ID}/docker/{OTHER_ID}/init.scope"),
            RuntimeHint::Docker,
            OTHER_ID,
            None,
        );
        // A kind node (cgroupfs) inside docker.
        hex(
            &format!("/docker/{DOCKER_ID}/kubepods/besteffort/pod{POD_UID}/{OTHER_ID}"),
            RuntimeHint::Cri,
            OTHER_ID,
            Some(POD_UID),
        );
        // minikube with CRI-O inside docker (kubernetes/minikube#11280).
        let id = "0ba8ac17e4e7a31fb82279503552fe94e64bab4745bf6fd2ff231e7c8ca8bed0";
        hex(
            &format!(
                "/docker/d6701ec289c56e4391acb11d07474b3139466857a305490575508a8b7a9fcf22/\
                 kubepods.slice/kubepods-besteffort.slice/\
                 kubepods-besteffort-pod2ca4a155_3599_498d_bb9d_4446693fa3ea.slice/\
                 crio-{id}.scope"
            ),
            RuntimeHint::Crio,
            id,
            Some("2ca4a155-3599-498d-bb9d-4446693fa3ea"),
        );
        // Docker inside LXC.
        hex(
            &format!("/lxc.payload.web/docker/{DOCKER_ID}"),
            RuntimeHint::Docker,
            DOCKER_ID,
            None,
        );
        // The pod slice of the outer container is not the inner container's pod.
        hex(
            &format!("/kubepods/besteffort/pod{POD_UID}/{DOCKER_ID}/docker/{OTHER_ID}"),
            RuntimeHint::Docker,
            OTHER_ID,
            None,
        );
    }

    // --- negatives -------------------------------------------------------------------

    #[test]
    fn this_machines_shell_is_not_a_container() {
        none(b"/process_api/1cd2fcb448642f99c1baf9c05711e078");
        assert_eq!(
            entries(&[
                "cpuset=/",
                "cpu=/process_api/1cd2fcb448642f99c1baf9c05711e078",
                "cpuacct=/process_api/1cd2fcb448642f99c1baf9c05711e078",
                "memory=/process_api/1cd2fcb448642f99c1baf9c05711e078",
                "unified=/",
            ]),
            None
        );
    }

    #[test]
    fn roots_and_host_units_are_not_containers() {
        for path in [
            "",
            "/",
            "0::/",
            "//",
            "/user.slice",
            "/system.slice",
            "/system.slice/containerd.service",
            "/system.slice/docker.service",
            "/system.slice/sshd.service",
            "/system.slice/crio.service",
            "/user.slice/user-1000.slice/session-2.scope",
            "/user.slice/user-1000.slice/user@1000.service/init.scope",
            "/user.slice/user-1000.slice/user@1000.service/app.slice/podman.service",
            "/init.scope",
            "/machine.slice",
            "/kubepods",
            "/kubepods/besteffort",
            "/kubepods/besteffort/pod63b3ebfc-2890-11e9-8154-16bf8ef8d9dc",
            "/kubepods.slice/kubepods-besteffort.slice",
            "/docker",
            "/docker/",
            "/lxc",
            "/lxc/",
            "/libvirt/lxc",
            r"/machine.slice/machine-lxc\x2d.scope",
            "/machine.slice/machine-qemu.scope",
        ] {
            none(path.as_bytes());
        }
    }

    #[test]
    fn conmon_scopes_are_not_containers() {
        none(
            format!(
                "/kubepods.slice/kubepods-besteffort.slice/\
                 kubepods-besteffort-pod63b3ebfc_2890_11e9_8154_16bf8ef8d9dc.slice/\
                 crio-conmon-{OTHER_ID}.scope"
            )
            .as_bytes(),
        );
        none(format!("/machine.slice/libpod-conmon-{OTHER_ID}.scope").as_bytes());
        none(format!("/system.slice/crio-conmon-{OTHER_ID}.scope").as_bytes());
    }

    #[test]
    fn wrong_length_hex_is_not_an_id() {
        let too_short = &DOCKER_ID[..63];
        let too_long = format!("{DOCKER_ID}0");
        let md5 = &DOCKER_ID[..32];
        for id in [too_short, too_long.as_str(), md5] {
            none(format!("/docker/{id}").as_bytes());
            none(format!("/system.slice/docker-{id}.scope").as_bytes());
            none(format!("/kubepods/besteffort/pod{POD_UID}/{id}").as_bytes());
            none(format!("/libpod_parent/libpod-{id}").as_bytes());
            none(format!("/system.slice/{id}").as_bytes());
        }
        // Falco plugin vector `container_id_too_long`.
        none(
            format!("/user.slice/user-1000.slice/user@1000.service/libpod-{DOCKER_ID}{DOCKER_ID}")
                .as_bytes(),
        );
    }

    #[test]
    fn non_hex_and_uppercase_ids_are_rejected() {
        // Falco plugin vector `invalid_container_id_characters`: 64 chars ending in `g`.
        let non_hex = format!("{}g", &THIRD_ID[..63]);
        none(format!("/docker/{non_hex}").as_bytes());
        none(format!("/user.slice/user-1000.slice/user@1000.service/libpod-{non_hex}").as_bytes());
        // Docker and the CRI runtimes write lowercase ids: uppercase is not theirs.
        let upper = DOCKER_ID.to_ascii_uppercase();
        none(format!("/docker/{upper}").as_bytes());
        none(format!("/system.slice/docker-{upper}.scope").as_bytes());
        none(format!("/kubepods/besteffort/pod{POD_UID}/{upper}").as_bytes());
        none(format!("/my-namespace/{upper}").as_bytes());
    }

    #[test]
    fn containerd_rule_needs_a_known_namespace_or_a_full_id() {
        // The Falco plugin accepts these; we do not (the /process_api trap).
        none(b"/my_very_long_namespace-1.5/test_container");
        none(b"/my.namespace/container.name");
        // Systemd unit names and invalid identifiers in a known namespace.
        for leaf in [
            "some_short_id.service",
            "some_short_id.slice",
            "some_short_id.scope",
            ".service",
            ".scope",
            "-lead",
            "trail-",
            "a..b",
            "has space",
        ] {
            none(format!("/default/{leaf}").as_bytes());
        }
        none(format!("/default/{}", "a".repeat(77)).as_bytes());
        // Not top level.
        none(b"/system.slice/default/test_container");
        none(format!("/a/b/{OTHER_ID}").as_bytes());
    }

    #[test]
    fn non_utf8_never_panics_and_can_still_match() {
        none(b"/docker/\xff\xfe");
        none(b"/\xff\xfe/\xff");
        none(b"/lxc/\xff");
        none(b"/default/\xc3\x28");
        none(b"/machine.slice/machine-lxc\\x2d1\\x2d\xff.scope");
        none(b"/machine.slice/machine-lxc\\x2d1\\x2dweb\\xff.scope");
        let mut tail = format!("/docker/{DOCKER_ID}").into_bytes();
        tail.push(0xff);
        none(&tail);
        let mut path = b"/\xff\xfe/docker/".to_vec();
        path.extend_from_slice(DOCKER_ID.as_bytes());
        assert_eq!(classify(&path).unwrap().short_id, "7951fb549ab9");
        let mut path = b"/\x80/lxc/".to_vec();
        path.extend_from_slice("wéb".as_bytes());
        assert_eq!(classify(&path).unwrap().full_id, "wéb");
    }

    #[test]
    fn very_long_paths() {
        let junk = "a/".repeat(5_000);
        none(junk.as_bytes());
        none("/".repeat(10_240).as_bytes());
        none(format!("/{}", "x".repeat(10_240)).as_bytes());
        none(format!("/{}", "0".repeat(10_240)).as_bytes());
        let deep = format!("/{junk}docker/{DOCKER_ID}");
        assert!(deep.len() > 10_000);
        hex(&deep, RuntimeHint::Docker, DOCKER_ID, None);
        let deeper = format!("/docker/{DOCKER_ID}/{junk}");
        hex(&deeper, RuntimeHint::Docker, DOCKER_ID, None);
        // Ids all the way down: the second component is `/<namespace>/<id>`.
        let hexes = format!("/{DOCKER_ID}").repeat(160);
        assert_eq!(
            classify(hexes.as_bytes()).unwrap().hint,
            RuntimeHint::Containerd
        );
    }

    #[test]
    fn empty_components_are_ignored() {
        hex(
            &format!("//docker//{DOCKER_ID}//"),
            RuntimeHint::Docker,
            DOCKER_ID,
            None,
        );
        hex(
            &format!("/docker/{DOCKER_ID}/"),
            RuntimeHint::Docker,
            DOCKER_ID,
            None,
        );
        check(
            "//default//abc/",
            RuntimeHint::Containerd,
            "abc",
            "abc",
            None,
        );
    }

    // --- classify_entries --------------------------------------------------------------

    #[test]
    fn hybrid_host_empty_unified_does_not_mean_host() {
        let memory = format!("memory=/docker/{DOCKER_ID}");
        let m = entries(&["unified=/", &memory]).unwrap();
        assert_eq!(m.hint, RuntimeHint::Docker);
        assert_eq!(m.short_id, "7951fb549ab9");
        // The same with bare paths.
        let bare = format!("/docker/{DOCKER_ID}");
        assert_eq!(entries(&["/", &bare]).unwrap().full_id, DOCKER_ID);
    }

    #[test]
    fn unified_wins_when_entries_disagree() {
        let memory = format!("memory=/docker/{DOCKER_ID}");
        let unified = format!("unified=/system.slice/docker-{OTHER_ID}.scope");
        assert_eq!(entries(&[&memory, &unified]).unwrap().full_id, OTHER_ID);
        assert_eq!(entries(&[&unified, &memory]).unwrap().full_id, OTHER_ID);
        // An empty subsystem list (`0::`) is the unified hierarchy too.
        let empty = format!("=/docker/{THIRD_ID}");
        assert_eq!(entries(&[&memory, &empty]).unwrap().full_id, THIRD_ID);
        // A unified entry that matches nothing does not hide the others.
        assert_eq!(
            entries(&["unified=/init.scope", &memory]).unwrap().full_id,
            DOCKER_ID
        );
    }

    #[test]
    fn memory_then_pids_then_cpu_then_the_rest_in_order() {
        let a = format!("cpuset=/docker/{DOCKER_ID}");
        let b = format!("cpu,cpuacct=/docker/{OTHER_ID}");
        let c = format!("pids=/docker/{THIRD_ID}");
        let d_id = "1111111111111111111111111111111111111111111111111111111111111111";
        let d = format!("memory=/docker/{d_id}");
        assert_eq!(entries(&[&a, &b, &c, &d]).unwrap().full_id, d_id);
        assert_eq!(entries(&[&a, &b, &c]).unwrap().full_id, THIRD_ID);
        assert_eq!(entries(&[&a, &b]).unwrap().full_id, OTHER_ID);
        let e = format!("io=/docker/{THIRD_ID}");
        assert_eq!(entries(&[&a, &e]).unwrap().full_id, DOCKER_ID);
        assert_eq!(entries(&[&e, &a]).unwrap().full_id, THIRD_ID);
        // `cpuacct` alone is not `cpu`.
        let f = format!("cpuacct=/docker/{OTHER_ID}");
        assert_eq!(entries(&[&a, &f]).unwrap().full_id, DOCKER_ID);
    }

    #[test]
    fn entry_forms() {
        assert_eq!(entries(&[]), None);
        assert_eq!(entries(&["", "=", "memory=", "memory", "unified=/"]), None);
        // A /proc line is not an entry: `0::/` is an opaque bare path and matches nothing.
        assert_eq!(entries(&["0::/"]), None);
        // A path containing `=` stays whole.
        let m = entries(&[&format!("memory=/a=b/docker/{DOCKER_ID}")]).unwrap();
        assert_eq!(m.full_id, DOCKER_ID);
        assert_eq!(
            split_entry(b"name=systemd=/x"),
            (Some(&b"name=systemd"[..]), &b"/x"[..])
        );
        assert_eq!(split_entry(b"/a=b"), (None, &b"/a=b"[..]));
        assert_eq!(split_entry(b"memory="), (Some(&b"memory"[..]), &b""[..]));
        // Owned entries work through `as_slice`.
        let owned: Vec<Vec<u8>> = vec![
            b"unified=/".to_vec(),
            format!("pids=/docker/{DOCKER_ID}").into_bytes(),
        ];
        let m = classify_entries(owned.iter().map(Vec::as_slice)).unwrap();
        assert_eq!(m.hint, RuntimeHint::Docker);
    }

    // --- robustness ------------------------------------------------------------------

    /// A tiny LCG (Knuth's MMIX constants): deterministic, no crates.
    struct Lcg(u64);

    impl Lcg {
        fn step(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 33
        }

        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.step()).unwrap_or(0) % n.max(1)
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        const ALPHABET: &[u8] = b"//////abcdef0123456789-_.:=@\\xlpodkubescrntyimvABCDEFgh ";
        let seeds: Vec<Vec<u8>> = RULES
            .iter()
            .map(|r| {
                r.layout
                    .replace("<id>", DOCKER_ID)
                    .replace("<uid>", POD_UID)
                    .replace("<name>", "w")
                    .into_bytes()
            })
            .collect();
        let mut rng = Lcg(0x5eed_cafe);
        let mut matched = 0_usize;
        for round in 0..20_000 {
            let mut input = if round % 2 == 0 {
                Vec::new()
            } else {
                seeds[rng.below(seeds.len())].clone()
            };
            for _ in 0..rng.below(160) {
                let byte = if rng.below(8) == 0 {
                    u8::try_from(rng.below(256)).unwrap_or(0)
                } else {
                    ALPHABET[rng.below(ALPHABET.len())]
                };
                if input.is_empty() || rng.below(2) == 0 {
                    input.push(byte);
                } else {
                    let at = rng.below(input.len());
                    input[at] = byte;
                }
            }
            if let Some(m) = classify(&input) {
                matched += 1;
                assert!(!m.full_id.is_empty() && !m.short_id.is_empty());
                if m.hint != RuntimeHint::LibvirtLxc {
                    assert!(m.full_id.starts_with(&m.short_id), "{m:?}");
                }
            }
            let split = rng.below(input.len() + 1);
            let (left, right) = input.split_at(split);
            let _ = classify_entries([left, right, &input[..]]);
        }
        assert!(matched > 0, "the seeds should keep some inputs matching");
    }
}
