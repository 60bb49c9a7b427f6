//! Kubernetes objects as the API server sends them (JSON), turned into what SysFlow
//! records carry: the K8sEvent `message`, and the pod and service facts a Pod record
//! joins. Pure functions over `serde_json::Value`: no client, no I/O.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{Map, Value, json};

use crate::model::{K8sAction, K8sComponent};

/// A kind of object the collector watches: where the API serves it and which
/// `K8sComponent` its events carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchedKind {
    /// The object's `kind` (`Pod`).
    pub kind: &'static str,
    /// API group, empty for the core group.
    pub group: &'static str,
    /// API version.
    pub version: &'static str,
    /// Resource name in URLs (`pods`).
    pub plural: &'static str,
    /// The K8sEvent `kind` of its events.
    pub component: K8sComponent,
}

/// The kinds the collector watches, as libsinsp's client did: nodes, namespaces, pods (of
/// this node only), replication controllers, services, events, replica sets, daemon sets
/// and deployments.
pub const WATCHED: [WatchedKind; 9] = [
    kind("Node", "", "v1", "nodes", K8sComponent::Nodes),
    kind(
        "Namespace",
        "",
        "v1",
        "namespaces",
        K8sComponent::Namespaces,
    ),
    kind("Pod", "", "v1", "pods", K8sComponent::Pods),
    kind(
        "ReplicationController",
        "",
        "v1",
        "replicationcontrollers",
        K8sComponent::ReplicationControllers,
    ),
    kind("Service", "", "v1", "services", K8sComponent::Services),
    kind("Event", "", "v1", "events", K8sComponent::Events),
    kind(
        "ReplicaSet",
        "apps",
        "v1",
        "replicasets",
        K8sComponent::ReplicaSets,
    ),
    kind(
        "DaemonSet",
        "apps",
        "v1",
        "daemonsets",
        K8sComponent::DaemonSets,
    ),
    kind(
        "Deployment",
        "apps",
        "v1",
        "deployments",
        K8sComponent::Deployments,
    ),
];

const fn kind(
    kind: &'static str,
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    component: K8sComponent,
) -> WatchedKind {
    WatchedKind {
        kind,
        group,
        version,
        plural,
        component,
    }
}

impl WatchedKind {
    /// `apiVersion` as objects of this kind carry it (`v1`, `apps/v1`).
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// The K8sEvent `kind` of an object kind, as sf-collector maps it (`EventList` is how
/// libsinsp named event objects); anything else is `K8S_UNKNOWN`.
pub fn component_of(kind: &str) -> K8sComponent {
    match kind {
        "Node" => K8sComponent::Nodes,
        "Namespace" => K8sComponent::Namespaces,
        "Pod" => K8sComponent::Pods,
        "ReplicationController" => K8sComponent::ReplicationControllers,
        "Service" => K8sComponent::Services,
        "Event" | "EventList" => K8sComponent::Events,
        "ReplicaSet" => K8sComponent::ReplicaSets,
        "DaemonSet" => K8sComponent::DaemonSets,
        "Deployment" => K8sComponent::Deployments,
        _ => K8sComponent::Unknown,
    }
}

/// The K8sEvent `action` of a watch event type, as sf-collector maps it: by its first
/// letter (`ADDED`, `MODIFIED`, `DELETED`, `ERROR`, `NONEXISTENT`), else unknown.
pub fn action_of(event_type: &str) -> K8sAction {
    match event_type.as_bytes().first() {
        Some(b'A') => K8sAction::Added,
        Some(b'M') => K8sAction::Modified,
        Some(b'D') => K8sAction::Deleted,
        Some(b'E') => K8sAction::Error,
        Some(b'N') => K8sAction::Nonexistent,
        _ => K8sAction::Unknown,
    }
}

/// The watch event type of an action (`ADDED`, …), as the message's `type` says it.
pub fn action_name(a: K8sAction) -> &'static str {
    match a {
        K8sAction::Added => "ADDED",
        K8sAction::Modified => "MODIFIED",
        K8sAction::Deleted => "DELETED",
        K8sAction::Error => "ERROR",
        K8sAction::Nonexistent => "NONEXISTENT",
        K8sAction::Unknown => "UNKNOWN",
    }
}

/// The longest K8sEvent message written, in bytes: an item larger than this keeps its
/// identity (namespace, name, uid, creation time) and says `"truncated": true`; if even
/// that does not fit (names of hundreds of KiB), the item is only `{"truncated": true}`.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// The K8sEvent `message` of one watch event, in the shape libsinsp's client gave it (and
/// sf-collector wrote): `{"type", "apiVersion", "kind", "items": [item]}`, one item per
/// event. An item holds the object's identity and what the collector's consumers use of
/// it, never its whole spec (see [`item`]). At most [`MAX_MESSAGE`] bytes.
pub fn message(action: K8sAction, kind: &WatchedKind, obj: &Value) -> String {
    let mut msg = json!({
        "type": action_name(action),
        "apiVersion": kind.api_version(),
        "kind": kind.kind,
        "items": [item(kind.kind, obj)],
    });
    let text = msg.to_string();
    if text.len() <= MAX_MESSAGE {
        return text;
    }
    let mut small = identity(obj);
    small.insert("truncated".into(), Value::Bool(true));
    msg["items"] = Value::Array(vec![Value::Object(small)]);
    let text = msg.to_string();
    if text.len() <= MAX_MESSAGE {
        return text;
    }
    // Even the identity is too long (hostile names): only the kind and type remain.
    msg["items"] = json!([{"truncated": true}]);
    msg.to_string()
}

fn str_at<'a>(v: &'a Value, path: &str) -> &'a str {
    v.pointer(path).and_then(Value::as_str).unwrap_or("")
}

fn identity(obj: &Value) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, p) in [
        ("namespace", "/metadata/namespace"),
        ("name", "/metadata/name"),
        ("uid", "/metadata/uid"),
        ("timestamp", "/metadata/creationTimestamp"),
    ] {
        m.insert(k.into(), Value::String(str_at(obj, p).to_string()));
    }
    m
}

/// One item of a message: `namespace`, `name`, `uid`, `timestamp` (creation) and
/// `labels` for every kind, and by kind:
/// - Pod: `nodeName`, `hostIP`, `podIP`, `phase`, `restartCount` (all containers) and
///   `containerIDs` (`containerd://…` as the API says them);
/// - Service: `clusterIPs`, `ports` (`port`, `targetPort`, `nodePort`, `protocol`),
///   `selector`;
/// - Node: `addresses` (the status addresses' values);
/// - ReplicationController, ReplicaSet, DaemonSet, Deployment: `replicas` (desired) and
///   `selector` (match labels);
/// - Event: `reason`, `message`, `eventType` (Normal, Warning), `involvedObject` (kind,
///   namespace, name, uid).
pub fn item(kind: &str, obj: &Value) -> Value {
    let mut m = identity(obj);
    m.insert(
        "labels".into(),
        obj.pointer("/metadata/labels")
            .filter(|v| v.is_object())
            .cloned()
            .unwrap_or_else(|| json!({})),
    );
    let copy = |m: &mut Map<String, Value>, key: &str, path: &str| {
        if let Some(v) = obj.pointer(path) {
            m.insert(key.into(), v.clone());
        }
    };
    match kind {
        "Pod" => {
            copy(&mut m, "nodeName", "/spec/nodeName");
            copy(&mut m, "hostIP", "/status/hostIP");
            copy(&mut m, "podIP", "/status/podIP");
            copy(&mut m, "phase", "/status/phase");
            let statuses = container_statuses(obj);
            m.insert(
                "restartCount".into(),
                json!(statuses.iter().fold(0i64, |a, s| a.saturating_add(s.1))),
            );
            m.insert(
                "containerIDs".into(),
                json!(statuses.iter().map(|s| s.0).collect::<Vec<_>>()),
            );
        }
        "Service" => {
            let ips: Vec<String> = service_ips(obj).iter().map(|i| i.to_string()).collect();
            m.insert("clusterIPs".into(), json!(ips));
            copy(&mut m, "ports", "/spec/ports");
            copy(&mut m, "selector", "/spec/selector");
        }
        "Node" => {
            let addrs: Vec<&str> = obj
                .pointer("/status/addresses")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.get("address")?.as_str())
                        .collect()
                })
                .unwrap_or_default();
            m.insert("addresses".into(), json!(addrs));
        }
        "ReplicationController" | "ReplicaSet" | "DaemonSet" | "Deployment" => {
            copy(&mut m, "replicas", "/spec/replicas");
            match obj.pointer("/spec/selector/matchLabels") {
                Some(v) => m.insert("selector".into(), v.clone()),
                // a replication controller's selector is the label map itself
                None => obj
                    .pointer("/spec/selector")
                    .map(|v| m.insert("selector".into(), v.clone()))
                    .unwrap_or(None),
            };
        }
        "Event" => {
            copy(&mut m, "reason", "/reason");
            copy(&mut m, "message", "/message");
            copy(&mut m, "eventType", "/type");
            if let Some(o) = obj.get("involvedObject") {
                m.insert(
                    "involvedObject".into(),
                    json!({
                        "kind": str_at(o, "/kind"),
                        "namespace": str_at(o, "/namespace"),
                        "name": str_at(o, "/name"),
                        "uid": str_at(o, "/uid"),
                    }),
                );
            }
        }
        _ => {}
    }
    Value::Object(m)
}

/// (containerID, restartCount) of a pod's containers, init containers included.
fn container_statuses(obj: &Value) -> Vec<(&str, i64)> {
    ["/status/containerStatuses", "/status/initContainerStatuses"]
        .iter()
        .filter_map(|p| obj.pointer(p)?.as_array())
        .flatten()
        .map(|s| {
            (
                s.get("containerID").and_then(Value::as_str).unwrap_or(""),
                s.get("restartCount").and_then(Value::as_i64).unwrap_or(0),
            )
        })
        .collect()
}

fn service_ips(obj: &Value) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = obj
        .pointer("/spec/clusterIPs")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str()?.parse().ok()).collect())
        .unwrap_or_default();
    if ips.is_empty()
        && let Ok(ip) = str_at(obj, "/spec/clusterIP").parse()
    {
        ips.push(ip);
    }
    ips
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// What the API server says of a pod that CRI does not: its labels as the API has them,
/// its node selector, its node's IP, its IPs and restart count.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiPod {
    /// `metadata.uid`.
    pub uid: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// `spec.nodeSelector`: the Pod record's `selectors`.
    pub node_selector: BTreeMap<String, String>,
    /// `spec.nodeName`.
    pub node_name: String,
    /// `status.hostIP`.
    pub host_ip: Option<IpAddr>,
    /// `status.podIPs` (else `status.podIP`).
    pub pod_ips: Vec<IpAddr>,
    /// Restarts of all its containers (`status.containerStatuses[].restartCount`).
    pub restart_count: i64,
}

impl ApiPod {
    /// Reads a Pod object; `None` without a uid.
    pub fn from_json(obj: &Value) -> Option<Self> {
        let uid = str_at(obj, "/metadata/uid");
        if uid.is_empty() {
            return None;
        }
        let mut pod_ips: Vec<IpAddr> = obj
            .pointer("/status/podIPs")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.get("ip")?.as_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        if pod_ips.is_empty()
            && let Ok(ip) = str_at(obj, "/status/podIP").parse()
        {
            pod_ips.push(ip);
        }
        Some(ApiPod {
            uid: uid.to_string(),
            name: str_at(obj, "/metadata/name").to_string(),
            namespace: str_at(obj, "/metadata/namespace").to_string(),
            labels: string_map(obj.pointer("/metadata/labels")),
            node_selector: string_map(obj.pointer("/spec/nodeSelector")),
            node_name: str_at(obj, "/spec/nodeName").to_string(),
            host_ip: str_at(obj, "/status/hostIP").parse().ok(),
            pod_ips,
            restart_count: container_statuses(obj)
                .iter()
                .fold(0i64, |a, s| a.saturating_add(s.1)),
        })
    }
}

/// A service port (`spec.ports[]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiPort {
    /// `port`.
    pub port: i32,
    /// `targetPort` when numeric (a named target port is 0).
    pub target_port: i32,
    /// `nodePort` (0 when none).
    pub node_port: i32,
    /// `protocol` (`TCP` when unset, the API's default).
    pub proto: String,
}

/// A service, for the pods its selector matches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiService {
    /// `metadata.uid`.
    pub uid: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `spec.selector` (a service without one selects no pod).
    pub selector: BTreeMap<String, String>,
    /// `spec.ports`.
    pub ports: Vec<ApiPort>,
    /// `spec.clusterIPs` (else `spec.clusterIP`; `None` headless services have none).
    pub cluster_ips: Vec<IpAddr>,
}

impl ApiService {
    /// Reads a Service object; `None` without a uid.
    pub fn from_json(obj: &Value) -> Option<Self> {
        let uid = str_at(obj, "/metadata/uid");
        if uid.is_empty() {
            return None;
        }
        let int = |v: &Value, k: &str| {
            v.get(k)
                .and_then(Value::as_i64)
                .and_then(|n| i32::try_from(n).ok())
                .unwrap_or(0)
        };
        let ports = obj
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|p| ApiPort {
                        port: int(p, "port"),
                        target_port: int(p, "targetPort"),
                        node_port: int(p, "nodePort"),
                        proto: p
                            .get("protocol")
                            .and_then(Value::as_str)
                            .unwrap_or("TCP")
                            .to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(ApiService {
            uid: uid.to_string(),
            name: str_at(obj, "/metadata/name").to_string(),
            namespace: str_at(obj, "/metadata/namespace").to_string(),
            selector: string_map(obj.pointer("/spec/selector")),
            ports,
            cluster_ips: service_ips(obj),
        })
    }

    /// Whether the service selects a pod of `namespace` with `labels`: same namespace, a
    /// non-empty selector, every selector label on the pod with the same value.
    pub fn selects(&self, namespace: &str, labels: &BTreeMap<String, String>) -> bool {
        self.namespace == namespace
            && !self.selector.is_empty()
            && self.selector.iter().all(|(k, v)| labels.get(k) == Some(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-1", "namespace": "prod", "uid": "u-1",
                         "creationTimestamp": "2026-12-01T10:00:00Z",
                         "labels": {"app": "web", "tier": "front"},
                         "annotations": {"big": "x".repeat(100)}},
            "spec": {"nodeName": "node-a", "nodeSelector": {"disk": "ssd"},
                     "containers": [{"name": "c", "image": "nginx", "env": [{"name": "SECRET", "value": "hunter2"}]}]},
            "status": {"phase": "Running", "hostIP": "10.0.0.1", "podIP": "10.1.0.5",
                       "podIPs": [{"ip": "10.1.0.5"}, {"ip": "fd00::5"}],
                       "containerStatuses": [
                           {"containerID": "containerd://abc", "restartCount": 2},
                           {"containerID": "containerd://def", "restartCount": 1}]}
        })
    }

    #[test]
    fn kinds_and_actions_map_as_sf_collector() {
        for k in WATCHED {
            assert_eq!(component_of(k.kind), k.component);
        }
        assert_eq!(component_of("EventList"), K8sComponent::Events);
        assert_eq!(component_of("CronJob"), K8sComponent::Unknown);
        assert_eq!(action_of("ADDED"), K8sAction::Added);
        assert_eq!(action_of("MODIFIED"), K8sAction::Modified);
        assert_eq!(action_of("DELETED"), K8sAction::Deleted);
        assert_eq!(action_of("ERROR"), K8sAction::Error);
        assert_eq!(action_of("NONEXISTENT"), K8sAction::Nonexistent);
        assert_eq!(action_of("BOOKMARK"), K8sAction::Unknown);
        assert_eq!(action_of(""), K8sAction::Unknown);
        assert_eq!(WATCHED[8].api_version(), "apps/v1");
        assert_eq!(WATCHED[2].api_version(), "v1");
    }

    /// The message has the reference consumers' top-level shape, carries the pod's
    /// identity and container ids, and never its spec (no environment values).
    #[test]
    fn pod_message_has_the_reference_shape_without_the_spec() {
        let m: Value =
            serde_json::from_str(&message(K8sAction::Modified, &WATCHED[2], &pod())).unwrap();
        assert_eq!(m["type"], "MODIFIED");
        assert_eq!(m["kind"], "Pod");
        assert_eq!(m["apiVersion"], "v1");
        let it = &m["items"][0];
        assert_eq!(it["uid"], "u-1");
        assert_eq!(it["namespace"], "prod");
        assert_eq!(it["nodeName"], "node-a");
        assert_eq!(it["restartCount"], 3);
        assert_eq!(
            it["containerIDs"],
            json!(["containerd://abc", "containerd://def"])
        );
        assert_eq!(it["labels"]["app"], "web");
        assert!(!m.to_string().contains("hunter2"));
        assert!(!m.to_string().contains("annotations"));
    }

    #[test]
    fn huge_objects_give_a_bounded_message() {
        let mut p = pod();
        let labels: Map<String, Value> = (0..20_000)
            .map(|i| (format!("label-{i}"), Value::String("v".repeat(10))))
            .collect();
        p["metadata"]["labels"] = Value::Object(labels);
        let text = message(K8sAction::Added, &WATCHED[2], &p);
        assert!(text.len() <= MAX_MESSAGE);
        let m: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(m["items"][0]["uid"], "u-1");
        assert_eq!(m["items"][0]["truncated"], true);
        p["metadata"]["name"] = Value::String("n".repeat(MAX_MESSAGE * 2));
        let text = message(K8sAction::Added, &WATCHED[2], &p);
        assert!(text.len() <= MAX_MESSAGE);
    }

    #[test]
    fn pods_and_services_read_and_join() {
        let p = ApiPod::from_json(&pod()).unwrap();
        assert_eq!(p.pod_ips.len(), 2);
        assert_eq!(p.restart_count, 3);
        assert_eq!(p.node_selector["disk"], "ssd");
        assert_eq!(p.host_ip, Some("10.0.0.1".parse().unwrap()));
        let svc = |ns: &str, sel: Value| {
            ApiService::from_json(&json!({
                "metadata": {"name": "s", "namespace": ns, "uid": "s-1"},
                "spec": {"selector": sel, "clusterIP": "10.96.0.10",
                         "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"},
                                   {"port": 53, "targetPort": "dns", "protocol": "UDP", "nodePort": 30053}]}
            }))
            .unwrap()
        };
        let s = svc("prod", json!({"app": "web"}));
        assert!(s.selects("prod", &p.labels));
        assert_eq!(s.cluster_ips, vec!["10.96.0.10".parse::<IpAddr>().unwrap()]);
        assert_eq!(s.ports[1].target_port, 0);
        assert_eq!(s.ports[1].node_port, 30053);
        assert!(!svc("dev", json!({"app": "web"})).selects("prod", &p.labels));
        assert!(!svc("prod", json!({"app": "db"})).selects("prod", &p.labels));
        assert!(!svc("prod", json!({})).selects("prod", &p.labels));
        assert!(!svc("prod", json!({"app": "web", "x": "y"})).selects("prod", &p.labels));
        assert!(ApiPod::from_json(&json!({"metadata": {}})).is_none());
    }
}
