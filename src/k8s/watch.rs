//! The API server client: one kube-rs watcher per kind of [`WATCHED`], run as tasks on the
//! metadata worker's runtime. kube-rs lists, then watches from the list's resource
//! version, re-lists when the server says the version expired (410), asks for bookmarks,
//! restarts watches the server closes and backs off (exponentially, with jitter) after
//! errors. Here each object change becomes a [`K8sUpdate`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::{Value, json};

use super::objects::{self, ApiPod, ApiService, WatchedKind};
use super::{K8sConfig, K8sCounters, K8sUpdate, MAX_OBJECTS, ObjectChange, WATCHED};
use crate::model::{K8sAction, K8sEvent};

/// How long the server may hold a watch open before it ends it (seconds; kube-rs then
/// resumes from the last resource version).
const WATCH_TIMEOUT_S: u32 = 55;

/// The longest wait for any byte of an answer: longer than a watch may stay silent
/// ([`WATCH_TIMEOUT_S`]), so only a server that stopped answering hits it (counted as an
/// error and retried).
const READ_TIMEOUT: Duration = Duration::from_secs(65);

/// Logs a warning under a condition key, at most once per interval (the worker's limiter).
pub(crate) type Warn = Arc<dyn Fn(&'static str, String) + Send + Sync>;

/// Builds the client for `cfg`: bearer token from its file (re-read by kube-rs as it
/// rotates), the cluster CA for `https`.
pub(crate) fn client(cfg: &K8sConfig) -> Result<kube::Client, String> {
    let uri: hyper::Uri = cfg
        .url
        .parse()
        .map_err(|e| format!("k8s_api_url {:?}: {e}", cfg.url))?;
    let mut kc = kube::Config::new(uri);
    kc.connect_timeout = Some(Duration::from_secs(5));
    kc.read_timeout = Some(READ_TIMEOUT);
    if let Some(t) = &cfg.token_file {
        let text = std::fs::read_to_string(t).map_err(|e| format!("{}: {e}", t.display()))?;
        if text.trim_end() != text {
            // kube-rs sends a token file's bytes as they are; a trailing newline (as
            // `kubectl create token > file` leaves) makes every request fail. Such a file
            // is read once, trimmed: rotations of it are not followed.
            kc.auth_info.token = Some(text.trim_end().to_string().into());
        } else {
            kc.auth_info.token_file = Some(t.to_string_lossy().into_owned());
        }
    }
    if let Some(ca) = &cfg.ca_file {
        let pem = std::fs::read(ca).map_err(|e| format!("{}: {e}", ca.display()))?;
        let certs = pem_certificates(&pem);
        if certs.is_empty() {
            return Err(format!("{}: no PEM certificate in it", ca.display()));
        }
        kc.root_cert = Some(certs);
    }
    kube::Client::try_from(kc).map_err(|e| format!("Kubernetes client for {}: {e}", cfg.url))
}

/// The DER bytes of each `CERTIFICATE` block of a PEM file.
fn pem_certificates(pem: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8_lossy(pem);
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    for line in text.lines().map(str::trim) {
        match (&mut body, line) {
            (None, "-----BEGIN CERTIFICATE-----") => body = Some(String::new()),
            (Some(b), "-----END CERTIFICATE-----") => {
                let mut der = Vec::new();
                if crate::filter::eval::b64_decode(b.as_bytes(), &mut der).is_some() {
                    out.push(der);
                }
                body = None;
            }
            (Some(b), l) => b.push_str(l),
            (None, _) => {}
        }
    }
    out
}

/// Runs every watcher until the runtime stops. `send` hands each update to the pipeline.
pub(crate) async fn run(
    cfg: K8sConfig,
    send: impl Fn(K8sUpdate) + Clone + Send + Sync + 'static,
    counters: Arc<K8sCounters>,
    warn: Warn,
) {
    let client = match client(&cfg) {
        Ok(c) => c,
        Err(e) => {
            counters.errors.fetch_add(1, Ordering::Relaxed);
            warn(
                "k8s-client",
                format!("Kubernetes API: {e}; no pod services or K8s events"),
            );
            return;
        }
    };
    let mut tasks = Vec::new();
    for kind in &WATCHED {
        tasks.push(tokio::spawn(watch_kind(
            client.clone(),
            kind,
            cfg.node.clone(),
            send.clone(),
            counters.clone(),
            warn.clone(),
        )));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// What is remembered of an object the watch reported: enough to tell a modification
/// from an addition, skip a re-listed unchanged object, and report a deletion the watch
/// missed.
struct Seen {
    resource_version: String,
    name: String,
    namespace: String,
}

async fn watch_kind(
    client: kube::Client,
    kind: &'static WatchedKind,
    node: String,
    send: impl Fn(K8sUpdate),
    counters: Arc<K8sCounters>,
    warn: Warn,
) {
    let gvk = GroupVersionKind::gvk(kind.group, kind.version, kind.kind);
    let ar = ApiResource::from_gvk_with_plural(&gvk, kind.plural);
    let api: Api<DynamicObject> = Api::all_with(client, &ar);
    let mut wc = watcher::Config::default().timeout(WATCH_TIMEOUT_S);
    if kind.kind == "Pod" && !node.is_empty() {
        wc = wc.fields(&format!("spec.nodeName={node}"));
    }
    let mut stream = watcher::watcher(api, wc).default_backoff().boxed();
    let mut seen: HashMap<String, Seen> = HashMap::new();
    let mut listing: Option<HashSet<String>> = None;
    let emit = |action: K8sAction, obj: &Value, uid: &str| {
        counters.events.fetch_add(1, Ordering::Relaxed);
        let deleted = action == K8sAction::Deleted;
        let change = match kind.kind {
            "Pod" => Some(ObjectChange::Pod(
                uid.to_string(),
                if deleted {
                    None
                } else {
                    ApiPod::from_json(obj)
                },
            )),
            "Service" => Some(ObjectChange::Service(
                uid.to_string(),
                if deleted {
                    None
                } else {
                    ApiService::from_json(obj)
                },
            )),
            _ => None,
        };
        send(K8sUpdate {
            event: K8sEvent {
                kind: kind.component,
                action,
                ts: crate::clock::wall_ns() as i64,
                message: objects::message(action, kind, obj),
            },
            change,
        });
    };
    while let Some(item) = stream.next().await {
        let (obj, init) = match item {
            Ok(Event::Init) => {
                listing = Some(HashSet::new());
                continue;
            }
            Ok(Event::InitDone) => {
                // Objects the new listing lacks were deleted while the watch was down.
                if let Some(listed) = listing.take() {
                    let gone: Vec<String> = seen
                        .keys()
                        .filter(|u| !listed.contains(*u))
                        .cloned()
                        .collect();
                    for uid in gone {
                        if let Some(s) = seen.remove(&uid) {
                            let obj = json!({"metadata": {
                                "uid": uid, "name": s.name, "namespace": s.namespace}});
                            emit(K8sAction::Deleted, &obj, &uid);
                        }
                    }
                }
                continue;
            }
            Ok(Event::Delete(o)) => {
                let Ok(v) = serde_json::to_value(&o) else {
                    continue;
                };
                let uid = o.metadata.uid.clone().unwrap_or_default();
                seen.remove(&uid);
                emit(K8sAction::Deleted, &v, &uid);
                continue;
            }
            Ok(Event::Apply(o)) => (o, false),
            Ok(Event::InitApply(o)) => (o, true),
            Err(e) => {
                counters.errors.fetch_add(1, Ordering::Relaxed);
                warn(
                    kind.plural,
                    format!(
                        "Kubernetes API: watching {}: {e}; retrying with backoff",
                        kind.plural
                    ),
                );
                continue;
            }
        };
        let uid = obj.metadata.uid.clone().unwrap_or_default();
        if uid.is_empty() {
            continue;
        }
        if init && let Some(l) = &mut listing {
            l.insert(uid.clone());
        }
        let rv = obj.metadata.resource_version.clone().unwrap_or_default();
        let action = match seen.get(&uid) {
            Some(s) if s.resource_version == rv && !rv.is_empty() => continue,
            Some(_) => K8sAction::Modified,
            None => K8sAction::Added,
        };
        if seen.len() < MAX_OBJECTS || seen.contains_key(&uid) {
            seen.insert(
                uid.clone(),
                Seen {
                    resource_version: rv,
                    name: obj.metadata.name.clone().unwrap_or_default(),
                    namespace: obj.metadata.namespace.clone().unwrap_or_default(),
                },
            );
        }
        let Ok(v) = serde_json::to_value(&obj) else {
            continue;
        };
        emit(action, &v, &uid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_are_decoded() {
        let pem = b"junk\n-----BEGIN CERTIFICATE-----\nAAEC\nAw==\n-----END CERTIFICATE-----\n\
                    -----BEGIN CERTIFICATE-----\n/w==\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_certificates(pem), vec![vec![0, 1, 2, 3], vec![255]]);
        assert!(pem_certificates(b"nothing").is_empty());
    }

    #[test]
    fn bad_urls_and_cas_are_errors() {
        let cfg = |url: &str| K8sConfig {
            url: url.into(),
            ..Default::default()
        };
        assert!(client(&cfg("not a url at all")).is_err());
        let d = tempfile::tempdir().unwrap();
        let ca = d.path().join("ca.crt");
        std::fs::write(&ca, "no pem here").unwrap();
        let mut c = cfg("https://127.0.0.1:1");
        c.ca_file = Some(ca);
        let err = client(&c).err().unwrap();
        assert!(err.contains("no PEM certificate"), "{err}");
    }
}
