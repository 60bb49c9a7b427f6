//! Kubernetes context from the API server (`k8s_api_url`): what only the cluster knows
//! of a pod — the services that select it, its labels and node selector — and K8sEvent
//! records that log what the cluster does.
//!
//! - [`objects`]: API objects (JSON) turned into K8sEvent messages, [`ApiPod`] and
//!   [`ApiService`]; pure functions.
//! - [`K8sTable`]: the pods of this node and the cluster's services, as the state keeps
//!   them for the Pod records' service join.
//! - The client (feature `k8s`): kube-rs lists then watches each kind of [`WATCHED`] on the
//!   metadata worker's thread, so the event path never waits on the API server. It resumes
//!   from the last resource version, re-lists when the version has expired (410), takes
//!   bookmarks, reconnects with backoff, and reports each change as a [`K8sUpdate`].

pub mod objects;
#[cfg(feature = "k8s")]
pub(crate) mod watch;

use std::collections::HashMap;
use std::path::PathBuf;

pub use objects::{ApiPod, ApiPort, ApiService, WATCHED, WatchedKind};

use crate::model::K8sEvent;

/// How the collector reaches the API server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct K8sConfig {
    /// API server URL (`https://kubernetes.default.svc`, or `http://` for a local
    /// stand-in).
    pub url: String,
    /// File holding the bearer token (`k8sAPICert`: the reference deployments point it at
    /// the service account's token). Read again as it changes (projected tokens rotate).
    pub token_file: Option<PathBuf>,
    /// The cluster CA (PEM) that signs the server's certificate, for an `https` URL: the
    /// `ca.crt` next to the token file when there is one (the service-account layout),
    /// else the system's roots.
    pub ca_file: Option<PathBuf>,
    /// The node the collector runs on: only its pods are watched (`spec.nodeName`). Empty:
    /// every pod.
    pub node: String,
}

impl K8sConfig {
    /// The configuration for `url` with the token in `token_file` (and its sibling
    /// `ca.crt`, if present), watching the pods of `node`.
    pub fn new(url: &str, token_file: Option<PathBuf>, node: &str) -> Self {
        let ca_file = token_file
            .as_ref()
            .and_then(|t| t.parent())
            .map(|d| d.join("ca.crt"))
            .filter(|p| p.is_file());
        K8sConfig {
            url: url.to_string(),
            token_file,
            ca_file,
            node: node.to_string(),
        }
    }
}

/// A pod or service the API server added, changed or removed (`None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectChange {
    /// A pod of this node, by uid.
    Pod(String, Option<ApiPod>),
    /// A service, by uid.
    Service(String, Option<ApiService>),
}

/// One watch event, as the metadata worker hands it to the pipeline: the K8sEvent record
/// to write, and the change to the pods and services it makes, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct K8sUpdate {
    /// The record (its `ts` the time the collector received the event, ns since the
    /// epoch).
    pub event: K8sEvent,
    /// What it changes in the service join.
    pub change: Option<ObjectChange>,
}

/// Counters of the API client, for [`crate::runtime::MetaStats`].
#[derive(Debug, Default)]
pub struct K8sCounters {
    /// Watch events turned into K8sEvent records.
    pub events: std::sync::atomic::AtomicU64,
    /// Failed lists and watches (unreachable server, 401/403, bad certificate, malformed
    /// answers): each is retried with backoff.
    pub errors: std::sync::atomic::AtomicU64,
}

/// The most pods and the most services the table keeps (each); a change beyond the bound
/// is counted in [`K8sTable::dropped`] and left out of the join.
pub const MAX_OBJECTS: usize = 50_000;

/// This node's pods and the cluster's services as the API server describes them.
#[derive(Clone, Debug, Default)]
pub struct K8sTable {
    pods: HashMap<String, ApiPod>,
    services: HashMap<String, ApiService>,
    /// Changes left out because a table was full.
    pub dropped: u64,
}

/// Which Pod records a change can alter: one pod's, or those of a namespace (a service
/// selects pods of its own namespace only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Touched {
    /// The pod with this uid.
    Pod(String),
    /// The pods of this namespace.
    Namespace(String),
}

impl Touched {
    /// Whether the pod `uid` of `namespace` is among them.
    pub fn covers(&self, uid: &str, namespace: &str) -> bool {
        match self {
            Touched::Pod(u) => u == uid,
            Touched::Namespace(n) => n == namespace,
        }
    }
}

impl K8sTable {
    /// Applies a change; true when the table changed.
    pub fn apply(&mut self, change: ObjectChange) -> bool {
        self.apply_change(change).is_some()
    }

    /// Applies a change; the pods it can alter when the table changed.
    pub fn apply_change(&mut self, change: ObjectChange) -> Option<Touched> {
        /// The replaced or removed value, or `None` when nothing changed.
        fn put<T: PartialEq>(
            map: &mut HashMap<String, T>,
            uid: &str,
            v: Option<T>,
            dropped: &mut u64,
        ) -> Option<(Option<T>, bool)> {
            match v {
                None => map.remove(uid).map(|old| (Some(old), false)),
                Some(v) => {
                    if map.get(uid) == Some(&v) {
                        return None;
                    }
                    if map.len() >= MAX_OBJECTS && !map.contains_key(uid) {
                        *dropped += 1;
                        return None;
                    }
                    Some((map.insert(uid.to_string(), v), true))
                }
            }
        }
        match change {
            ObjectChange::Pod(uid, p) => {
                put(&mut self.pods, &uid, p, &mut self.dropped)?;
                Some(Touched::Pod(uid))
            }
            ObjectChange::Service(uid, s) => {
                let (old, added) = put(&mut self.services, &uid, s, &mut self.dropped)?;
                let ns = match (added, old) {
                    (true, _) => self.services.get(&uid).map(|s| s.namespace.clone()),
                    (false, old) => old.map(|s| s.namespace),
                };
                // (a service cannot change namespace: the old one is the new one)
                Some(Touched::Namespace(ns.unwrap_or_default()))
            }
        }
    }

    /// A pod by uid.
    pub fn pod(&self, uid: &str) -> Option<&ApiPod> {
        self.pods.get(uid)
    }

    /// The services that select a pod of `namespace` with `labels`, by name then uid.
    pub fn services_for(
        &self,
        namespace: &str,
        labels: &std::collections::BTreeMap<String, String>,
    ) -> Vec<&ApiService> {
        let mut v: Vec<&ApiService> = self
            .services
            .values()
            .filter(|s| s.selects(namespace, labels))
            .collect();
        v.sort_by(|a, b| (&a.name, &a.uid).cmp(&(&b.name, &b.uid)));
        v
    }

    /// (pods, services) held.
    pub fn sizes(&self) -> (usize, usize) {
        (self.pods.len(), self.services.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(uid: &str, name: &str, app: &str) -> ApiService {
        ApiService {
            uid: uid.into(),
            name: name.into(),
            namespace: "prod".into(),
            selector: [("app".to_string(), app.to_string())].into(),
            ..Default::default()
        }
    }

    #[test]
    fn table_joins_and_bounds() {
        let mut t = K8sTable::default();
        assert!(t.apply(ObjectChange::Service(
            "2".into(),
            Some(svc("2", "b", "web"))
        )));
        assert!(t.apply(ObjectChange::Service(
            "1".into(),
            Some(svc("1", "a", "web"))
        )));
        assert!(t.apply(ObjectChange::Service("3".into(), Some(svc("3", "c", "db")))));
        assert!(!t.apply(ObjectChange::Service("3".into(), Some(svc("3", "c", "db")))));
        let labels = [("app".to_string(), "web".to_string())].into();
        let names: Vec<_> = t
            .services_for("prod", &labels)
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(names, ["a", "b"]);
        assert!(t.apply(ObjectChange::Service("1".into(), None)));
        assert!(!t.apply(ObjectChange::Service("1".into(), None)));
        assert_eq!(t.services_for("prod", &labels).len(), 1);
        for i in 0..MAX_OBJECTS + 10 {
            t.apply(ObjectChange::Pod(
                i.to_string(),
                Some(ApiPod {
                    uid: i.to_string(),
                    ..Default::default()
                }),
            ));
        }
        assert_eq!(t.sizes().0, MAX_OBJECTS);
        assert_eq!(t.dropped, 10);
    }

    #[test]
    fn the_ca_is_taken_next_to_the_token() {
        let d = tempfile::tempdir().unwrap();
        let token = d.path().join("token");
        std::fs::write(&token, "t").unwrap();
        assert_eq!(
            K8sConfig::new("https://x", Some(token.clone()), "n").ca_file,
            None
        );
        std::fs::write(d.path().join("ca.crt"), "pem").unwrap();
        let c = K8sConfig::new("https://x", Some(token), "n");
        assert_eq!(c.ca_file, Some(d.path().join("ca.crt")));
        assert_eq!(c.node, "n");
    }
}
