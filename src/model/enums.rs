//! Enumerations of the SysFlow schema.

macro_rules! avro_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $idx:literal => $sym:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant = $idx ),+
        }

        impl $name {
            /// Every value, in schema symbol order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The Avro symbol index.
            pub const fn index(self) -> i32 {
                self as i32
            }

            /// The value at an Avro symbol index.
            pub const fn from_index(i: i64) -> Option<Self> {
                match i {
                    $($idx => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// The Avro symbol name.
            pub const fn symbol(self) -> &'static str {
                match self {
                    $($name::$variant => $sym),+
                }
            }

            /// The value with the given Avro symbol name.
            pub fn from_symbol(s: &str) -> Option<Self> {
                match s {
                    $($sym => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

avro_enum! {
    /// State of an entity record (`sysflow.type.SFObjectState`).
    ObjectState {
        /// The entity was created during the capture.
        Created = 0 => "CREATED",
        /// The entity changed (exec, setuid).
        Modified = 1 => "MODIFIED",
        /// The entity existed already and is (re-)exported so the records that follow
        /// can refer to it.
        Reup = 2 => "REUP",
    }
}

avro_enum! {
    /// Container runtime (`sysflow.type.ContainerType`).
    ContainerType {
        /// Docker (and runtimes using its cgroup layout, such as podman).
        Docker = 0 => "CT_DOCKER",
        /// LXC.
        Lxc = 1 => "CT_LXC",
        /// libvirt LXC.
        LibvirtLxc = 2 => "CT_LIBVIRT_LXC",
        /// Mesos.
        Mesos = 3 => "CT_MESOS",
        /// rkt.
        Rkt = 4 => "CT_RKT",
        /// Custom engine.
        Custom = 5 => "CT_CUSTOM",
        /// Kubernetes CRI.
        Cri = 6 => "CT_CRI",
        /// containerd.
        Containerd = 7 => "CT_CONTAINERD",
        /// CRI-O.
        Crio = 8 => "CT_CRIO",
        /// Cloud Foundry BOSH process manager.
        Bpm = 9 => "CT_BPM",
    }
}

avro_enum! {
    /// Kubernetes object kind of a K8s event (`sysflow.type.K8sComponent`).
    K8sComponent {
        /// Nodes.
        Nodes = 0 => "K8S_NODES",
        /// Namespaces.
        Namespaces = 1 => "K8S_NAMESPACES",
        /// Pods.
        Pods = 2 => "K8S_PODS",
        /// Replication controllers.
        ReplicationControllers = 3 => "K8S_REPLICATIONCONTROLLERS",
        /// Services.
        Services = 4 => "K8S_SERVICES",
        /// Event lists.
        Events = 5 => "K8S_EVENTS",
        /// Replica sets.
        ReplicaSets = 6 => "K8S_REPLICASETS",
        /// Daemon sets.
        DaemonSets = 7 => "K8S_DAEMONSETS",
        /// Deployments.
        Deployments = 8 => "K8S_DEPLOYMENTS",
        /// Anything else.
        Unknown = 9 => "K8S_UNKNOWN",
    }
}

avro_enum! {
    /// What happened to a Kubernetes object (`sysflow.type.K8sAction`).
    K8sAction {
        /// Added.
        Added = 0 => "K8S_COMPONENT_ADDED",
        /// Modified.
        Modified = 1 => "K8S_COMPONENT_MODIFIED",
        /// Deleted.
        Deleted = 2 => "K8S_COMPONENT_DELETED",
        /// Error.
        Error = 3 => "K8S_COMPONENT_ERROR",
        /// Does not exist.
        Nonexistent = 4 => "K8S_COMPONENT_NONEXISTENT",
        /// Anything else.
        Unknown = 5 => "K8S_COMPONENT_UNKNOWN",
    }
}

/// Kind of resource a File record names (its `restype`, an ASCII character code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResourceType {
    /// Regular file (`'f'`).
    File,
    /// Directory (`'d'`).
    Directory,
    /// IPv4 socket (`'4'`).
    Ipv4,
    /// IPv6 socket (`'6'`).
    Ipv6,
    /// Unix socket (`'u'`).
    Unix,
    /// Pipe or FIFO (`'p'`).
    Pipe,
    /// Unknown, used for paths named by link/rename/unlink events (`'?'`).
    Unknown,
}

impl ResourceType {
    /// The character code stored in `restype`.
    pub const fn code(self) -> i32 {
        (match self {
            ResourceType::File => b'f',
            ResourceType::Directory => b'd',
            ResourceType::Ipv4 => b'4',
            ResourceType::Ipv6 => b'6',
            ResourceType::Unix => b'u',
            ResourceType::Pipe => b'p',
            ResourceType::Unknown => b'?',
        }) as i32
    }

    /// The resource type for a `restype` code, if it is one SysFlow defines.
    pub const fn from_code(code: i32) -> Option<Self> {
        Some(match code {
            0x66 => ResourceType::File,
            0x64 => ResourceType::Directory,
            0x34 => ResourceType::Ipv4,
            0x36 => ResourceType::Ipv6,
            0x75 => ResourceType::Unix,
            0x70 => ResourceType::Pipe,
            0x3f => ResourceType::Unknown,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_indices_follow_schema_order() {
        assert_eq!(ContainerType::from_index(9), Some(ContainerType::Bpm));
        assert_eq!(ContainerType::from_index(10), None);
        assert_eq!(ObjectState::Reup.index(), 2);
        assert_eq!(
            K8sAction::from_symbol("K8S_COMPONENT_ERROR"),
            Some(K8sAction::Error)
        );
        assert_eq!(K8sComponent::ALL.len(), 10);
        assert_eq!(ResourceType::from_code(100), Some(ResourceType::Directory));
        assert_eq!(ResourceType::Unknown.code(), 63);
    }
}
