//! The Docker-compatible API (Docker Engine, podman's compat service) over its unix socket:
//! a small HTTP/1.1 client on hyper's connection API, and the mapping from
//! `GET /containers/<id>/json` to [`ContainerMeta`].
//!
//! One connection per request (a unix-socket connect costs microseconds, and a broken
//! connection can then never poison later calls). Bodies are collected up to 4 MiB.
//! `/events` is read frame by frame and split into newline-delimited JSON objects, which
//! may span frames. Paths are unversioned: both Docker and podman serve them at their
//! current API version, which avoids libs' "HTTP 400 on a versioned path" fallback.

use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::UnixStream;

use super::meta::{ContainerMeta, RuntimeKind};
use super::worker::{CallError, hex_image_id, with_default_tag};

/// Largest response body accepted.
const MAX_BODY: usize = 4 << 20;
/// Largest single event line accepted.
const MAX_EVENT_LINE: usize = 1 << 20;
/// `/events?filters={"type":["container"]}`, url-encoded.
const EVENTS_PATH: &str = "/events?filters=%7B%22type%22%3A%5B%22container%22%5D%7D";

/// A client of one Docker-compatible socket.
pub(super) struct DockerApi {
    sock: PathBuf,
    timeout: Duration,
}

impl DockerApi {
    pub(super) fn new(sock: PathBuf, timeout: Duration) -> Self {
        DockerApi { sock, timeout }
    }

    pub(super) fn socket(&self) -> &Path {
        &self.sock
    }

    /// Sends `GET path`; returns once the response head is in.
    async fn send(&self, path: &str) -> Result<Response<Incoming>, CallError> {
        // (the socket is named where the error is reported)
        let unreachable = |e: &dyn std::fmt::Display| CallError::Unreachable(e.to_string());
        let stream = UnixStream::connect(&self.sock)
            .await
            .map_err(|e| unreachable(&e))?;
        let (mut tx, conn) =
            hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
                .await
                .map_err(|e| unreachable(&e))?;
        // The connection task drives the socket; it ends when the response is read or dropped.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let req = Request::get(path)
            .header(header::HOST, "localhost")
            .body(Empty::new())
            .map_err(|e| CallError::Failed(format!("GET {path}: {e}")))?;
        tx.send_request(req)
            .await
            .map_err(|e| CallError::Failed(format!("GET {path}: {e}")))
    }

    /// `GET path` with the timeout: status, `Server` header and the whole (bounded) body.
    async fn get(&self, path: &str) -> Result<(StatusCode, String, Bytes), CallError> {
        let call = async {
            let resp = self.send(path).await?;
            let status = resp.status();
            let server = resp
                .headers()
                .get(header::SERVER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let body = Limited::new(resp.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| CallError::Failed(format!("GET {path}: body: {e}")))?
                .to_bytes();
            Ok((status, server, body))
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| CallError::Timeout)?
    }

    /// `GET path` as JSON; `None` on 404.
    async fn get_json(&self, path: &str) -> Result<Option<Value>, CallError> {
        let (status, _, body) = self.get(path).await?;
        match status {
            StatusCode::OK => parse_json(&body).map(Some),
            StatusCode::NOT_FOUND => Ok(None),
            s => Err(CallError::Failed(format!("GET {path}: HTTP {s}"))),
        }
    }

    /// Which engine answers (`GET /version`).
    pub(super) async fn version(&self) -> Result<RuntimeKind, CallError> {
        let (status, server, body) = self.get("/version").await?;
        if status != StatusCode::OK {
            return Err(CallError::Failed(format!("GET /version: HTTP {status}")));
        }
        let v = parse_json(&body).ok();
        Ok(if is_podman(v.as_ref(), &server) {
            RuntimeKind::Podman
        } else {
            RuntimeKind::Docker
        })
    }

    /// `GET /_ping`: the health check.
    pub(super) async fn ping(&self) -> Result<(), CallError> {
        match self.get("/_ping").await?.0 {
            StatusCode::OK => Ok(()),
            s => Err(CallError::Failed(format!("GET /_ping: HTTP {s}"))),
        }
    }

    /// Ids of the running containers (`GET /containers/json`).
    pub(super) async fn list(&self) -> Result<Vec<String>, CallError> {
        let v = self
            .get_json("/containers/json")
            .await?
            .unwrap_or(Value::Null);
        let items = v
            .as_array()
            .ok_or_else(|| CallError::Failed("/containers/json: not an array".into()))?;
        Ok(items
            .iter()
            .filter_map(|c| c.get("Id")?.as_str())
            .map(str::to_owned)
            .collect())
    }

    /// Inspects a container; `None` when the runtime does not know it (404).
    pub(super) async fn inspect(
        &self,
        id: &str,
        kind: RuntimeKind,
    ) -> Result<Option<ContainerMeta>, CallError> {
        let Some(v) = self
            .get_json(&format!("/containers/{}/json", encode(id, false)))
            .await?
        else {
            return Ok(None);
        };
        let (mut meta, image_ref) = map_inspect(&v, kind)?;
        if let Some(name) = image_ref {
            // Podman may name the image in `Image`: ask for its id. Only a dead runtime
            // fails the lookup here; an unknown or odd image leaves the id empty.
            match self
                .get_json(&format!("/images/{}/json", encode(&name, true)))
                .await
            {
                Ok(img) => {
                    let id = img
                        .as_ref()
                        .and_then(|i| i.get("Id")?.as_str())
                        .and_then(hex_image_id);
                    meta.image_id = id.unwrap_or_default().to_owned();
                }
                Err(e @ (CallError::Timeout | CallError::Unreachable(_))) => return Err(e),
                Err(_) => {}
            }
        }
        Ok(Some(meta))
    }

    /// Subscribes to container events.
    pub(super) async fn events(&self) -> Result<Events, CallError> {
        let resp = tokio::time::timeout(self.timeout, self.send(EVENTS_PATH))
            .await
            .map_err(|_| CallError::Timeout)??;
        if resp.status() != StatusCode::OK {
            return Err(CallError::Failed(format!(
                "GET /events: HTTP {}",
                resp.status()
            )));
        }
        Ok(Events {
            body: resp.into_body(),
            buf: Vec::new(),
        })
    }
}

fn parse_json(body: &[u8]) -> Result<Value, CallError> {
    serde_json::from_slice(body).map_err(|e| CallError::Failed(format!("malformed JSON: {e}")))
}

/// Percent-encodes a path segment (keeping `/` for image names when asked).
fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:@".contains(&b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Podman when its compat API says so: a "Podman Engine" component, a `Libpod` server
/// header, or a platform name mentioning podman.
pub(super) fn is_podman(version: Option<&Value>, server: &str) -> bool {
    let mentions = |s: &str| {
        let s = s.to_ascii_lowercase();
        s.contains("podman") || s.contains("libpod")
    };
    let component = || {
        version?
            .get("Components")?
            .as_array()?
            .iter()
            .any(|c| c.get("Name").and_then(Value::as_str).is_some_and(mentions))
            .then_some(())
    };
    let platform = || {
        version?
            .pointer("/Platform/Name")?
            .as_str()
            .filter(|n| mentions(n))
    };
    mentions(server) || component().is_some() || platform().is_some()
}

/// Maps an inspect document. The second value is an image *name* found in `Image` (podman)
/// whose id must be looked up.
pub(super) fn map_inspect(
    v: &Value,
    kind: RuntimeKind,
) -> Result<(ContainerMeta, Option<String>), CallError> {
    let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("");
    let id = s("/Id");
    if id.is_empty() {
        return Err(CallError::Failed("inspect document without Id".into()));
    }
    let image = s("/Image");
    let (image_id, image_ref) = match hex_image_id(image) {
        Some(hex) => (hex.to_owned(), None),
        None if image.is_empty() => (String::new(), None),
        None => (String::new(), Some(image.to_owned())),
    };
    let labels = v
        .pointer("/Config/Labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let meta = ContainerMeta {
        id: id.to_owned(),
        name: s("/Name")
            .strip_prefix('/')
            .unwrap_or(s("/Name"))
            .to_owned(),
        image: with_default_tag(s("/Config/Image")),
        image_id,
        runtime: Some(kind),
        privileged: v
            .pointer("/HostConfig/Privileged")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        labels,
        pod: None,
        ip: s("/NetworkSettings/IPAddress").parse().ok(),
    };
    Ok((meta, image_ref))
}

/// One container event, as far as the worker cares.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum DockerEvent {
    /// create, start, rename, update: (re)inspect the container.
    Changed(String),
    /// destroy (Docker) or remove (podman).
    Removed(String),
    /// Any other container event (die, exec, …).
    Other,
    /// A line that is not an event.
    Malformed(String),
}

pub(super) fn parse_event(line: &[u8]) -> DockerEvent {
    let v: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => return DockerEvent::Malformed(format!("event: {e}")),
    };
    // Newer Docker dropped `status`/`id`; podman 4 sends both forms.
    let str_at = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let action = str_at("/Action").or_else(|| str_at("/status"));
    let id = str_at("/Actor/ID").or_else(|| str_at("/id"));
    match (action, id) {
        (Some("create" | "start" | "rename" | "update"), Some(id)) => {
            DockerEvent::Changed(id.to_owned())
        }
        (Some("destroy" | "remove"), Some(id)) => DockerEvent::Removed(id.to_owned()),
        (Some(_), Some(_)) => DockerEvent::Other,
        _ => DockerEvent::Malformed("event without Action or id".into()),
    }
}

/// A `/events` stream.
pub(super) struct Events {
    body: Incoming,
    buf: Vec<u8>,
}

impl Events {
    /// The next event; `None` when the stream ends.
    pub(super) async fn next(&mut self) -> Result<Option<DockerEvent>, CallError> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Ok(Some(parse_event(&line)));
            }
            if self.buf.len() > MAX_EVENT_LINE {
                return Err(CallError::Failed("event line over 1 MiB".into()));
            }
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(CallError::Failed(format!("event stream: {e}"))),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HEX: &str = "0958667594cb5033c85fda54405b346b36045bead5dc21ff1cf3611011b86d53";

    /// Trimmed from podman 4.3.1's compat inspect on this machine.
    fn podman_inspect(image: &str, config_image: &str) -> Value {
        json!({
            "Id": "ea5ef8b9c528ee7b24dfbdcf57eb30c9b9e27c9bdd2ee57935cdb8a4bbb956b5",
            "Name": "/probe1",
            "Image": image,
            "Config": {"Image": config_image, "Labels": {"app": "web", "n": 3}},
            "HostConfig": {"Privileged": true},
        })
    }

    #[test]
    fn inspect_with_sha256_image() {
        let v = podman_inspect(&format!("sha256:{HEX}"), "localhost/bb:latest");
        let (m, lookup) = map_inspect(&v, RuntimeKind::Podman).unwrap();
        assert_eq!(lookup, None);
        assert_eq!(
            m.id,
            "ea5ef8b9c528ee7b24dfbdcf57eb30c9b9e27c9bdd2ee57935cdb8a4bbb956b5"
        );
        assert_eq!(m.name, "probe1");
        assert_eq!(m.image, "localhost/bb:latest");
        assert_eq!(m.image_id, HEX);
        assert!(m.privileged);
        assert_eq!(m.runtime, Some(RuntimeKind::Podman));
        // Non-string label values are skipped, not fatal.
        assert_eq!(m.labels.len(), 1);
        assert_eq!(m.pod, None);
    }

    #[test]
    fn inspect_with_image_name_needs_a_lookup() {
        let v = podman_inspect("docker.io/library/alpine", "alpine");
        let (m, lookup) = map_inspect(&v, RuntimeKind::Podman).unwrap();
        assert_eq!(lookup.as_deref(), Some("docker.io/library/alpine"));
        assert_eq!(m.image_id, "");
        assert_eq!(m.image, "alpine:latest");
        // A bare 64-hex id is an id, not a name.
        let (m, lookup) = map_inspect(&podman_inspect(HEX, "x"), RuntimeKind::Docker).unwrap();
        assert_eq!((m.image_id.as_str(), lookup), (HEX, None));
    }

    #[test]
    fn image_tags() {
        assert_eq!(with_default_tag("alpine"), "alpine:latest");
        assert_eq!(with_default_tag("alpine:3.20"), "alpine:3.20");
        assert_eq!(
            with_default_tag("localhost:5000/x"),
            "localhost:5000/x:latest"
        );
        assert_eq!(with_default_tag("localhost:5000/x:1"), "localhost:5000/x:1");
        assert_eq!(
            with_default_tag(&format!("x@sha256:{HEX}")),
            format!("x@sha256:{HEX}")
        );
        assert_eq!(with_default_tag(""), "");
    }

    #[test]
    fn malformed_inspect_is_an_error() {
        assert!(parse_json(b"{\"Id\": ").is_err());
        assert!(map_inspect(&json!([1, 2]), RuntimeKind::Docker).is_err());
        assert!(map_inspect(&json!({"Id": 7}), RuntimeKind::Docker).is_err());
        // Wrong types elsewhere degrade to defaults.
        let (m, _) = map_inspect(
            &json!({"Id": "a", "Name": 1, "HostConfig": []}),
            RuntimeKind::Docker,
        )
        .unwrap();
        assert_eq!((m.name.as_str(), m.privileged), ("", false));
    }

    #[test]
    fn podman_is_recognised() {
        let podman = json!({"Platform": {"Name": "linux/amd64/debian-12"}, "Components": [{"Name": "Podman Engine"}]});
        assert!(is_podman(Some(&podman), ""));
        assert!(is_podman(None, "Libpod/4.3.1 (linux)"));
        let docker = json!({"Platform": {"Name": "Docker Engine - Community"}, "Components": [{"Name": "Engine"}]});
        assert!(!is_podman(Some(&docker), "Docker/24.0.7 (linux)"));
        assert!(!is_podman(None, ""));
    }

    #[test]
    fn events() {
        let podman = br#"{"status":"create","id":"abc","Type":"container","Action":"create","Actor":{"ID":"abc"}}"#;
        assert_eq!(parse_event(podman), DockerEvent::Changed("abc".into()));
        let docker =
            br#"{"Type":"container","Action":"destroy","Actor":{"ID":"abc","Attributes":{}}}"#;
        assert_eq!(parse_event(docker), DockerEvent::Removed("abc".into()));
        assert_eq!(
            parse_event(br#"{"Action":"remove","Actor":{"ID":"x"}}"#),
            DockerEvent::Removed("x".into())
        );
        assert_eq!(
            parse_event(br#"{"Action":"exec_start: sh","Actor":{"ID":"x"}}"#),
            DockerEvent::Other
        );
        assert!(matches!(parse_event(b"{nope"), DockerEvent::Malformed(_)));
        assert!(matches!(parse_event(b"{}"), DockerEvent::Malformed(_)));
    }

    #[test]
    fn path_encoding() {
        assert_eq!(encode("localhost/bb:latest", true), "localhost/bb:latest");
        assert_eq!(encode("../x y", false), "..%2Fx%20y");
    }

    /// Against the podman API service of this machine (scripts/containers.sh): containers
    /// listed at start and announced by events match `podman inspect`.
    #[test]
    fn real_podman() {
        use super::super::worker::real_socket;
        use crate::runtime::{MetaConfig, MetaUpdate, MetaWorker, cgroup::RuntimeHint};
        use std::process::Command;
        let Some(sock) = real_socket("SYSFLOW_PODMAN_SOCK") else {
            return;
        };
        const WAIT: Duration = Duration::from_secs(20);
        let image = std::env::var("SYSFLOW_TEST_IMAGE").unwrap_or("localhost/bb:latest".into());
        let podman = |args: &[&str]| {
            let out = Command::new("podman")
                .args(args)
                .output()
                .expect("podman runs");
            assert!(
                out.status.success(),
                "podman {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        };
        struct Cleanup(Vec<String>);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                let _ = std::process::Command::new("podman")
                    .args(["rm", "-f", "-i", "-t0"])
                    .args(&self.0)
                    .output();
            }
        }
        let tag = format!(
            "{}-{}",
            std::process::id(),
            std::time::UNIX_EPOCH.elapsed().unwrap().as_nanos() % 1_000_000
        );
        let run = |name: &str, extra: &[&str]| {
            let name = format!("sf-meta-{name}-{tag}");
            podman(
                &[
                    &["run", "-d", "--network", "host", "--name", &name],
                    extra,
                    &[&image, "sleep", "60"],
                ]
                .concat(),
            )
        };
        let mut ids = Cleanup(vec![run("plain", &[]), run("priv", &["--privileged"])]);
        let cfg = MetaConfig {
            docker_sockets: vec![sock],
            cri_sockets: vec![],
            attempts: 3,
            backoff: Duration::from_millis(50),
            // What is tested is the protocol, not the deadline (the hung-server tests do
            // that): a loaded machine's podman can take over a second to answer.
            timeout: Duration::from_secs(10),
            ..MetaConfig::default()
        };
        let w = MetaWorker::spawn(cfg).unwrap();
        let expect = |m: &ContainerMeta| {
            let v: Value = serde_json::from_str(&podman(&["inspect", &m.id])).unwrap();
            let v = &v[0];
            assert_eq!(m.name, v["Name"].as_str().unwrap());
            assert_eq!(
                m.image,
                with_default_tag(v["Config"]["Image"].as_str().unwrap())
            );
            assert_eq!(m.image_id, v["Image"].as_str().unwrap());
            assert_eq!(
                m.privileged,
                v["HostConfig"]["Privileged"].as_bool().unwrap()
            );
            assert_eq!(m.runtime, Some(RuntimeKind::Podman));
            eprintln!(
                "podman: {} {} {} {} privileged={}",
                &m.id[..12],
                m.name,
                m.image,
                &m.image_id[..12],
                m.privileged
            );
        };
        let mut seen = std::collections::HashMap::new();
        let mut wait_for = |id: &str| loop {
            if let Some(m) = seen.remove(id) {
                return m;
            }
            // Generous: a fresh machine's first podman calls can take seconds; the wait
            // only bounds a failure.
            match w.recv_timeout(WAIT) {
                Some(MetaUpdate::Container(m)) => drop(seen.insert(m.id.clone(), m)),
                Some(_) => {}
                None => panic!("{id} not reported within {WAIT:?}: {:?}", w.stats()),
            }
        };
        // Listed at start.
        let plain = wait_for(&ids.0[0]);
        expect(&plain);
        expect(&wait_for(&ids.0[1]));
        assert!(plain.name.starts_with("sf-meta-plain-") && !plain.privileged);
        // Created later: announced by /events.
        ids.0.push(run("late", &[]));
        expect(&wait_for(&ids.0[2]));
        // Cached: a lookup is answered at once.
        assert!(w.lookup(&ids.0[0], RuntimeHint::Podman));
        assert_eq!(wait_for(&ids.0[0]), plain);
        // Unknown to podman: 404, retried, then Unknown.
        let missing = "0".repeat(64);
        w.lookup(&missing, RuntimeHint::Podman);
        assert!(
            std::iter::from_fn(|| w.recv_timeout(WAIT)).any(|u| u
                == MetaUpdate::Unknown {
                    id: missing.clone()
                }),
            "no Unknown for {missing}: {:?}",
            w.stats()
        );
        podman(&["rm", "-f", "-t0", &ids.0[2]]);
        assert!(
            std::iter::from_fn(|| w.recv_timeout(WAIT)).any(|u| u
                == MetaUpdate::Removed {
                    id: ids.0[2].clone()
                }),
            "no Removed for {}: {:?}",
            ids.0[2],
            w.stats()
        );
        let s = w.stats();
        eprintln!("podman: {s:?}");
        assert!(
            s.listed >= 2
                && s.runtime_events >= 2
                && s.found >= 1
                && s.unknown == 1
                && s.errors == 0,
            "{s:?}"
        );
    }
}
