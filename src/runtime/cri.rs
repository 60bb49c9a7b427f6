//! CRI (`runtime.v1`, gRPC over a unix socket: containerd, CRI-O, k3s, cri-dockerd): a
//! client on tonic, and the mapping from `ContainerStatus` / `PodSandboxStatus` (verbose)
//! to [`ContainerMeta`] and [`PodMeta`], following libs' `cri.hpp`.
//!
//! The channel is lazy (connected on first use) and replaced at every health check, so a
//! socket that hung or vanished never leaves a half-open HTTP/2 connection behind. Every
//! call is bounded by the timeout. gRPC `NotFound` (and "not yet created", libs PR #402)
//! means "not visible yet" and is retried by the worker; `Unavailable` means unreachable.
//!
//! A lookup costs `ContainerStatus`, `PodSandboxStatus`, `ListContainers` of the sandbox
//! (for the pod's restart count) and, when the status names no image id, `ImageStatus`.
//! An id that is no container may be a sandbox ("pause" container): then
//! `PodSandboxStatus(id)` describes it, as libs does.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::{
    Container, ContainerEventResponse, ContainerEventType, ContainerFilter, ContainerStatusRequest,
    ContainerStatusResponse, GetEventsRequest, ImageSpec, ImageStatusRequest,
    ListContainersRequest, ListPodSandboxRequest, PodSandboxStatus, PodSandboxStatusRequest,
    PodSandboxStatusResponse, VersionRequest,
};
use parking_lot::Mutex;
use serde_json::Value;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};
use tonic::{Code, Status, Streaming};

use super::meta::{ContainerMeta, PodMeta, RuntimeKind};
use super::worker::{CallError, hex_image_id, with_default_tag};

/// Largest gRPC message accepted (ListContainers on a busy node exceeds tonic's 4 MiB).
const MAX_MESSAGE: usize = 16 << 20;
/// Annotations naming the image, in order (containerd, then CRI-O).
const IMAGE_ANNOTATIONS: [&str; 3] = [
    "io.kubernetes.cri.image-name",
    "io.kubernetes.cri-o.ImageName",
    "io.kubernetes.cri-o.Image",
];
/// Annotations naming the sandbox (containerd, CRI-O).
const SANDBOX_ANNOTATIONS: [&str; 2] = [
    "io.kubernetes.cri.sandbox-id",
    "io.kubernetes.cri-o.SandboxID",
];
/// Kubelet's restart counter on each container.
const RESTART_COUNT: &str = "io.kubernetes.container.restartCount";

/// A client of one CRI socket.
pub(super) struct CriApi {
    sock: PathBuf,
    timeout: Duration,
    chan: Mutex<Channel>,
}

fn lazy_channel(sock: &Path, timeout: Duration) -> Result<Channel, CallError> {
    let path = Arc::new(sock.to_path_buf());
    let endpoint = Endpoint::try_from("http://[::]")
        .map_err(|e| CallError::Failed(format!("CRI endpoint: {e}")))?
        .connect_timeout(timeout);
    Ok(
        endpoint.connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(&*path).await?)) }
        })),
    )
}

/// Maps a gRPC status: not-found and "not yet created" are retryable misses.
fn status_error(what: &str, s: &Status) -> CallError {
    let msg = s.message().to_ascii_lowercase();
    match s.code() {
        Code::NotFound => CallError::NotFound,
        Code::Unavailable => CallError::Unreachable(format!("{what}: {}", s.message())),
        Code::DeadlineExceeded => CallError::Timeout,
        _ if msg.contains("not found") || msg.contains("not yet created") => CallError::NotFound,
        c => CallError::Failed(format!("{what}: {c:?}: {}", s.message())),
    }
}

impl CriApi {
    /// Must run inside the worker's tokio runtime (the channel spawns its task there).
    pub(super) fn new(sock: PathBuf, timeout: Duration) -> Result<Self, CallError> {
        let chan = Mutex::new(lazy_channel(&sock, timeout)?);
        Ok(CriApi {
            sock,
            timeout,
            chan,
        })
    }

    pub(super) fn socket(&self) -> &Path {
        &self.sock
    }

    /// A fresh channel, dropping whatever the old one was stuck on.
    pub(super) fn reset(&self) {
        if let Ok(c) = lazy_channel(&self.sock, self.timeout) {
            *self.chan.lock() = c;
        }
    }

    fn rt(&self) -> RuntimeServiceClient<Channel> {
        RuntimeServiceClient::new(self.chan.lock().clone()).max_decoding_message_size(MAX_MESSAGE)
    }

    async fn call<T>(
        &self,
        what: &str,
        fut: impl Future<Output = Result<tonic::Response<T>, Status>>,
    ) -> Result<T, CallError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Err(_) => Err(CallError::Timeout),
            Ok(Ok(r)) => Ok(r.into_inner()),
            Ok(Err(s)) => Err(status_error(what, &s)),
        }
    }

    /// `Version`: the health check; the runtime name decides the kind.
    pub(super) async fn version(&self) -> Result<RuntimeKind, CallError> {
        let v = self
            .call(
                "Version",
                self.rt().version(VersionRequest {
                    version: "v1".into(),
                }),
            )
            .await?;
        Ok(match v.runtime_name.as_str() {
            "containerd" => RuntimeKind::Containerd,
            "cri-o" => RuntimeKind::CriO,
            _ => RuntimeKind::Cri,
        })
    }

    /// Ids of all containers, then of all sandboxes.
    pub(super) async fn list(&self) -> Result<Vec<String>, CallError> {
        let c = self
            .call(
                "ListContainers",
                self.rt().list_containers(ListContainersRequest::default()),
            )
            .await?;
        let s = self
            .call(
                "ListPodSandbox",
                self.rt().list_pod_sandbox(ListPodSandboxRequest::default()),
            )
            .await?;
        Ok(c.containers
            .into_iter()
            .map(|c| c.id)
            .chain(s.items.into_iter().map(|s| s.id))
            .collect())
    }

    /// A container (or sandbox) with its pod; `None` when the runtime knows neither.
    pub(super) async fn inspect(
        &self,
        id: &str,
        kind: RuntimeKind,
    ) -> Result<Option<ContainerMeta>, CallError> {
        let req = ContainerStatusRequest {
            container_id: id.to_owned(),
            verbose: true,
        };
        let resp = match self
            .call("ContainerStatus", self.rt().container_status(req))
            .await
        {
            Ok(r) => r,
            Err(CallError::NotFound) => return self.inspect_sandbox(id, kind).await,
            Err(e) => return Err(e),
        };
        let (mut meta, mut sandbox) = map_container(&resp, kind)?;
        if sandbox.is_empty() {
            let filter = ContainerFilter {
                id: meta.id.clone(),
                ..Default::default()
            };
            let list = ListContainersRequest {
                filter: Some(filter),
            };
            let found = self
                .call("ListContainers", self.rt().list_containers(list))
                .await?;
            sandbox = found
                .containers
                .into_iter()
                .next()
                .map(|c| c.pod_sandbox_id)
                .unwrap_or_default();
        }
        if meta.image_id.is_empty() {
            let image_ref = resp
                .status
                .as_ref()
                .map(|s| s.image_ref.as_str())
                .filter(|r| !r.is_empty());
            meta.image_id = self.image_id(image_ref.unwrap_or(&meta.image)).await?;
        }
        if !sandbox.is_empty() {
            meta.pod = self.pod(&sandbox).await?.map(|(pod, _)| pod);
        }
        Ok(Some(meta))
    }

    async fn inspect_sandbox(
        &self,
        id: &str,
        kind: RuntimeKind,
    ) -> Result<Option<ContainerMeta>, CallError> {
        let Some((pod, resp)) = self.pod(id).await? else {
            return Ok(None);
        };
        let mut meta = map_sandbox(&resp, pod, kind)?;
        if meta.image_id.is_empty() {
            meta.image_id = self.image_id(&meta.image).await?;
        }
        Ok(Some(meta))
    }

    /// The pod of a sandbox, with the raw status; `None` when the sandbox is unknown.
    async fn pod(
        &self,
        sandbox_id: &str,
    ) -> Result<Option<(PodMeta, PodSandboxStatusResponse)>, CallError> {
        let req = PodSandboxStatusRequest {
            pod_sandbox_id: sandbox_id.to_owned(),
            verbose: true,
        };
        let resp = match self
            .call("PodSandboxStatus", self.rt().pod_sandbox_status(req))
            .await
        {
            Ok(r) => r,
            Err(CallError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        let status = resp
            .status
            .as_ref()
            .ok_or_else(|| CallError::Failed("PodSandboxStatus without status".into()))?;
        let filter = ContainerFilter {
            pod_sandbox_id: status.id.clone(),
            ..Default::default()
        };
        let list = ListContainersRequest {
            filter: Some(filter),
        };
        let containers = self
            .call("ListContainers", self.rt().list_containers(list))
            .await?
            .containers;
        let pod = map_pod(status, &containers);
        Ok(Some((pod, resp)))
    }

    /// The hex id of an image (`ImageStatus`); empty when unknown or odd, an error only
    /// when the runtime is unreachable.
    async fn image_id(&self, image: &str) -> Result<String, CallError> {
        if image.is_empty() {
            return Ok(String::new());
        }
        let spec = ImageSpec {
            image: image.to_owned(),
            ..Default::default()
        };
        let mut images = ImageServiceClient::new(self.chan.lock().clone());
        match self
            .call(
                "ImageStatus",
                images.image_status(ImageStatusRequest {
                    image: Some(spec),
                    verbose: false,
                }),
            )
            .await
        {
            Ok(r) => Ok(r
                .image
                .and_then(|i| hex_image_id(&i.id).map(str::to_owned))
                .unwrap_or_default()),
            Err(e @ (CallError::Timeout | CallError::Unreachable(_))) => Err(e),
            Err(_) => Ok(String::new()),
        }
    }

    /// Subscribes to `GetContainerEvents`; `None` when the runtime does not implement it
    /// (containerd < 1.7, CRI-O < 1.26). Not bounded by the timeout: a gRPC server may send
    /// the response head only with the first event.
    pub(super) async fn subscribe(
        &self,
    ) -> Result<Option<Streaming<ContainerEventResponse>>, CallError> {
        match self.rt().get_container_events(GetEventsRequest {}).await {
            Ok(r) => Ok(Some(r.into_inner())),
            Err(s) if s.code() == Code::Unimplemented => Ok(None),
            Err(s) => Err(status_error("GetContainerEvents", &s)),
        }
    }
}

/// What an event means: `Some(true)` (re)inspect, `Some(false)` removed, `None` ignore.
pub(super) fn event_kind(ev: &ContainerEventResponse) -> Option<bool> {
    match ContainerEventType::try_from(ev.container_event_type) {
        Ok(
            ContainerEventType::ContainerCreatedEvent | ContainerEventType::ContainerStartedEvent,
        ) => Some(true),
        Ok(ContainerEventType::ContainerDeletedEvent) => Some(false),
        _ => None,
    }
}

/// The verbose `info["info"]` JSON; `Null` when absent.
fn verbose_info(info: &HashMap<String, String>) -> Result<Value, CallError> {
    match info.get("info") {
        None => Ok(Value::Null),
        Some(s) => serde_json::from_str(s)
            .map_err(|e| CallError::Failed(format!("malformed verbose info: {e}"))),
    }
}

/// Privileged, first hit wins (libs `cri.hpp`, Falco plugin `cri.go`): old containerd,
/// containerd, CRI-O.
fn privileged(info: &Value) -> bool {
    [
        "/runtimeSpec/linux/security_context/privileged",
        "/config/linux/security_context/privileged",
        "/privileged",
    ]
    .iter()
    .find_map(|p| info.pointer(p).and_then(Value::as_bool))
    .unwrap_or(false)
}

/// Maps a `ContainerStatus` response; also returns the sandbox id (empty if unnamed).
pub(super) fn map_container(
    resp: &ContainerStatusResponse,
    kind: RuntimeKind,
) -> Result<(ContainerMeta, String), CallError> {
    let st = resp
        .status
        .as_ref()
        .ok_or_else(|| CallError::Failed("ContainerStatus without status".into()))?;
    if st.id.is_empty() {
        return Err(CallError::Failed("ContainerStatus without id".into()));
    }
    let info = verbose_info(&resp.info)?;
    let spec_annotations = info.pointer("/runtimeSpec/annotations");
    let annotation = |k: &str| -> Option<&str> {
        let v = spec_annotations.and_then(|a| a.get(k)?.as_str());
        v.or_else(|| st.annotations.get(k).map(String::as_str))
            .filter(|v| !v.is_empty())
    };
    let requested = st.image.as_ref().map(|i| i.image.as_str()).unwrap_or("");
    let image = if requested.is_empty() || hex_image_id(requested).is_some() {
        IMAGE_ANNOTATIONS
            .iter()
            .filter_map(|k| annotation(k))
            .find(|v| hex_image_id(v).is_none())
            .or_else(|| Some(st.image_ref.as_str()).filter(|r| r.contains('@')))
            .unwrap_or(requested)
    } else {
        requested
    };
    let image_id = hex_image_id(&st.image_ref)
        .or_else(|| hex_image_id(&st.image_id))
        .or_else(|| {
            info.pointer("/config/image/image")
                .and_then(Value::as_str)
                .and_then(hex_image_id)
        })
        .unwrap_or("");
    let sandbox = info
        .get("sandboxID")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .or_else(|| SANDBOX_ANNOTATIONS.iter().find_map(|k| annotation(k)))
        .unwrap_or("");
    let meta = ContainerMeta {
        id: st.id.clone(),
        name: st
            .metadata
            .as_ref()
            .map(|m| m.name.clone())
            .unwrap_or_default(),
        image: with_default_tag(image),
        image_id: image_id.to_owned(),
        runtime: Some(kind),
        privileged: privileged(&info),
        labels: st
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        pod: None,
        ip: None,
    };
    Ok((meta, sandbox.to_owned()))
}

/// Maps a sandbox status and the sandbox's containers to a pod.
pub(super) fn map_pod(st: &PodSandboxStatus, containers: &[Container]) -> PodMeta {
    let md = st.metadata.clone().unwrap_or_default();
    let ips = st
        .network
        .iter()
        .flat_map(|n| {
            std::iter::once(n.ip.as_str()).chain(n.additional_ips.iter().map(|i| i.ip.as_str()))
        })
        .filter_map(|ip| ip.trim().parse::<IpAddr>().ok())
        .collect();
    let restart_count = containers
        .iter()
        .filter(|c| c.pod_sandbox_id == st.id)
        .filter_map(|c| c.annotations.get(RESTART_COUNT)?.trim().parse::<i64>().ok())
        .fold(0i64, i64::saturating_add);
    PodMeta {
        uid: md.uid,
        name: md.name,
        namespace: md.namespace,
        sandbox_id: st.id.clone(),
        ips,
        labels: st
            .labels
            .iter()
            .filter(|(k, _)| !k.starts_with("io.kubernetes."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        restart_count,
    }
}

/// The sandbox ("pause") container itself, named after the sandbox.
pub(super) fn map_sandbox(
    resp: &PodSandboxStatusResponse,
    pod: PodMeta,
    kind: RuntimeKind,
) -> Result<ContainerMeta, CallError> {
    let st = resp
        .status
        .as_ref()
        .ok_or_else(|| CallError::Failed("PodSandboxStatus without status".into()))?;
    let info = verbose_info(&resp.info)?;
    let image = info.get("image").and_then(Value::as_str).unwrap_or("");
    Ok(ContainerMeta {
        id: st.id.clone(),
        name: st
            .metadata
            .as_ref()
            .map(|m| m.name.clone())
            .unwrap_or_default(),
        image: if hex_image_id(image).is_some() {
            String::new()
        } else {
            with_default_tag(image)
        },
        image_id: hex_image_id(image).unwrap_or("").to_owned(),
        runtime: Some(kind),
        privileged: privileged(&info),
        labels: st
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        pod: Some(pod),
        ip: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_cri::v1::{
        ContainerMetadata, ContainerStatus, PodIp, PodSandboxMetadata, PodSandboxNetworkStatus,
    };
    use serde_json::json;

    const HEX: &str = "0958667594cb5033c85fda54405b346b36045bead5dc21ff1cf3611011b86d53";
    const SANDBOX: &str = "8fc59a8ca97aa6647abf5923b82ea925a67f85c34b1921c9824eae7c8d3d2379";

    fn strings(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Shaped like containerd 1.6's answer on this machine (trimmed).
    fn status(image: &str, image_ref: &str, info: Value) -> ContainerStatusResponse {
        ContainerStatusResponse {
            status: Some(ContainerStatus {
                id: "25c6a5c463894ce13e6242414447a9be0909368d5c666c61845934076bf9304d".into(),
                metadata: Some(ContainerMetadata {
                    name: "app".into(),
                    attempt: 0,
                }),
                image: Some(ImageSpec {
                    image: image.into(),
                    ..Default::default()
                }),
                image_ref: image_ref.into(),
                labels: strings(&[("io.kubernetes.container.name", "app")]),
                ..Default::default()
            }),
            info: strings(&[("info", &info.to_string())]),
        }
    }

    #[test]
    fn containerd_status() {
        let info = json!({"sandboxID": SANDBOX, "config": {"image": {"image": "localhost/bb:latest"}},
            "runtimeSpec": {"annotations": {"io.kubernetes.cri.image-name": "localhost/bb:latest"}}});
        let (m, sandbox) = map_container(
            &status("localhost/bb", &format!("sha256:{HEX}"), info),
            RuntimeKind::Containerd,
        )
        .unwrap();
        assert_eq!(m.name, "app");
        assert_eq!(m.image, "localhost/bb:latest");
        assert_eq!(m.image_id, HEX);
        assert!(!m.privileged);
        assert_eq!(m.runtime, Some(RuntimeKind::Containerd));
        assert_eq!(
            m.labels
                .get("io.kubernetes.container.name")
                .map(String::as_str),
            Some("app")
        );
        assert_eq!(sandbox, SANDBOX);
    }

    #[test]
    fn image_from_annotations_when_status_has_an_id() {
        // CRI-O: the image is an id, the name is in the annotations, no sandboxID in info.
        let info = json!({"privileged": true, "runtimeSpec": {"annotations": {
            "io.kubernetes.cri-o.Image": HEX, "io.kubernetes.cri-o.ImageName": "quay.io/x/y:1",
            "io.kubernetes.cri-o.SandboxID": SANDBOX}}});
        let (m, sandbox) = map_container(
            &status(&format!("sha256:{HEX}"), "quay.io/x/y@sha256:abc", info),
            RuntimeKind::CriO,
        )
        .unwrap();
        assert_eq!(m.image, "quay.io/x/y:1");
        assert_eq!(m.image_id, "");
        assert!(m.privileged);
        assert_eq!(sandbox, SANDBOX);
        // No annotation: the repo digest stands in; no verbose info at all is fine.
        let mut r = status("", "quay.io/x/y@sha256:abc", json!(null));
        r.info.clear();
        let (m, sandbox) = map_container(&r, RuntimeKind::Cri).unwrap();
        assert_eq!(
            (m.image.as_str(), sandbox.as_str()),
            ("quay.io/x/y@sha256:abc", "")
        );
        // The image id from the verbose config when image_ref is no id.
        let info = json!({"config": {"image": {"image": format!("sha256:{HEX}")}}});
        let (m, _) = map_container(&status("a:1", "a@sha256:abc", info), RuntimeKind::Cri).unwrap();
        assert_eq!(m.image_id, HEX);
    }

    #[test]
    fn privileged_variants_first_hit_wins() {
        let old = json!({"runtimeSpec": {"linux": {"security_context": {"privileged": true}}},
            "config": {"linux": {"security_context": {"privileged": false}}}});
        assert!(privileged(&old));
        assert!(privileged(
            &json!({"config": {"linux": {"security_context": {"privileged": true}}}, "privileged": false})
        ));
        assert!(!privileged(
            &json!({"config": {"linux": {"security_context": {}}}, "privileged": false})
        ));
        assert!(privileged(&json!({"privileged": true})));
        assert!(!privileged(&json!({"privileged": "yes"})));
        assert!(!privileged(&Value::Null));
    }

    #[test]
    fn malformed_or_missing_status_is_an_error() {
        let mut r = status("a", "", json!({}));
        r.info = strings(&[("info", "{not json")]);
        assert!(matches!(
            map_container(&r, RuntimeKind::Cri),
            Err(CallError::Failed(_))
        ));
        assert!(map_container(&ContainerStatusResponse::default(), RuntimeKind::Cri).is_err());
        assert!(
            map_sandbox(
                &PodSandboxStatusResponse::default(),
                PodMeta::default(),
                RuntimeKind::Cri
            )
            .is_err()
        );
        let gone = status_error(
            "ContainerStatus",
            &Status::unknown("container \"x\" is not yet created"),
        );
        assert!(matches!(gone, CallError::NotFound));
        assert!(matches!(
            status_error("x", &Status::unavailable("refused")),
            CallError::Unreachable(_)
        ));
        assert!(matches!(
            status_error("x", &Status::internal("decode")),
            CallError::Failed(_)
        ));
    }

    fn sandbox_status() -> PodSandboxStatus {
        PodSandboxStatus {
            id: SANDBOX.into(),
            metadata: Some(PodSandboxMetadata {
                name: "web".into(),
                uid: "u-1".into(),
                namespace: "ns".into(),
                attempt: 0,
            }),
            network: Some(PodSandboxNetworkStatus {
                ip: "10.1.2.3".into(),
                additional_ips: vec![
                    PodIp {
                        ip: "fd00::3".into(),
                    },
                    PodIp { ip: "".into() },
                    PodIp { ip: "bogus".into() },
                ],
            }),
            labels: strings(&[
                ("app", "web"),
                ("io.kubernetes.pod.uid", "u-1"),
                ("io.kubernetes.pod.name", "web"),
            ]),
            ..Default::default()
        }
    }

    fn container(sandbox: &str, restarts: &str) -> Container {
        Container {
            pod_sandbox_id: sandbox.into(),
            annotations: strings(&[(RESTART_COUNT, restarts)]),
            ..Default::default()
        }
    }

    #[test]
    fn pod_mapping() {
        let containers = [
            container(SANDBOX, "2"),
            container(SANDBOX, " 3 "),
            container(SANDBOX, "x"),
            container("other", "9"),
        ];
        let pod = map_pod(&sandbox_status(), &containers);
        assert_eq!(
            (pod.uid.as_str(), pod.name.as_str(), pod.namespace.as_str()),
            ("u-1", "web", "ns")
        );
        assert_eq!(pod.sandbox_id, SANDBOX);
        let ips: Vec<String> = pod.ips.iter().map(ToString::to_string).collect();
        assert_eq!(ips, ["10.1.2.3", "fd00::3"]);
        assert_eq!(
            pod.labels.len(),
            1,
            "io.kubernetes.* labels are kubelet bookkeeping"
        );
        assert_eq!(pod.labels.get("app").map(String::as_str), Some("web"));
        assert_eq!(pod.restart_count, 5);
        assert_eq!(
            map_pod(&PodSandboxStatus::default(), &[]),
            PodMeta::default()
        );
    }

    #[test]
    fn sandbox_container() {
        let resp = PodSandboxStatusResponse {
            status: Some(sandbox_status()),
            info: strings(&[(
                "info",
                &json!({"image": "localhost/pause", "pid": 1}).to_string(),
            )]),
            ..Default::default()
        };
        let pod = map_pod(&sandbox_status(), &[]);
        let m = map_sandbox(&resp, pod.clone(), RuntimeKind::Containerd).unwrap();
        assert_eq!(
            (m.id.as_str(), m.name.as_str(), m.image.as_str()),
            (SANDBOX, "web", "localhost/pause:latest")
        );
        assert_eq!(m.pod, Some(pod));
        assert_eq!(m.labels.len(), 3);
    }

    #[test]
    fn event_kinds() {
        let ev = |t: ContainerEventType| ContainerEventResponse {
            container_event_type: t as i32,
            ..Default::default()
        };
        assert_eq!(
            event_kind(&ev(ContainerEventType::ContainerCreatedEvent)),
            Some(true)
        );
        assert_eq!(
            event_kind(&ev(ContainerEventType::ContainerStartedEvent)),
            Some(true)
        );
        assert_eq!(
            event_kind(&ev(ContainerEventType::ContainerStoppedEvent)),
            None
        );
        assert_eq!(
            event_kind(&ev(ContainerEventType::ContainerDeletedEvent)),
            Some(false)
        );
        assert_eq!(
            event_kind(&ContainerEventResponse {
                container_event_type: 99,
                ..Default::default()
            }),
            None
        );
    }

    /// Creates and starts a container in the test's sandbox (privileged false).
    async fn create(
        rt: &mut RuntimeServiceClient<Channel>,
        sid: &str,
        pod_config: &k8s_cri::v1::PodSandboxConfig,
        image: &str,
        name: &str,
    ) -> Result<String, Status> {
        use k8s_cri::v1::*;
        let host = NamespaceOption {
            network: NamespaceMode::Node as i32,
            pid: NamespaceMode::Container as i32,
            ..Default::default()
        };
        let config = ContainerConfig {
            metadata: Some(ContainerMetadata {
                name: name.into(),
                attempt: 0,
            }),
            image: Some(ImageSpec {
                image: image.into(),
                ..Default::default()
            }),
            command: vec!["sleep".into(), "60".into()],
            log_path: format!("{name}.log"),
            labels: strings(&[("io.kubernetes.container.name", name)]),
            annotations: strings(&[(RESTART_COUNT, "1")]),
            linux: Some(LinuxContainerConfig {
                security_context: Some(LinuxContainerSecurityContext {
                    namespace_options: Some(host),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let req = CreateContainerRequest {
            pod_sandbox_id: sid.into(),
            config: Some(config),
            sandbox_config: Some(pod_config.clone()),
        };
        let id = rt.create_container(req).await?.into_inner().container_id;
        rt.start_container(StartContainerRequest {
            container_id: id.clone(),
        })
        .await?;
        Ok(id)
    }

    /// Against containerd's CRI on this machine (scripts/containers.sh): a pod sandbox and
    /// its containers, created with our own client, as the worker reports them.
    #[tokio::test]
    async fn real_containerd() {
        use super::super::worker::real_socket;
        use crate::runtime::{MetaConfig, MetaUpdate, MetaWorker, cgroup::RuntimeHint};
        use k8s_cri::v1::*;
        let Some(sock) = real_socket("SYSFLOW_CONTAINERD_SOCK") else {
            return;
        };
        let image = std::env::var("SYSFLOW_TEST_IMAGE").unwrap_or("localhost/bb:latest".into());
        let mut rt =
            RuntimeServiceClient::new(lazy_channel(&sock, Duration::from_secs(10)).unwrap());
        let nanos = std::time::UNIX_EPOCH.elapsed().unwrap().as_nanos();
        let uid = format!("sf-meta-{}-{nanos}", std::process::id());
        let logs = tempfile::tempdir().unwrap();
        let host = NamespaceOption {
            network: NamespaceMode::Node as i32,
            pid: NamespaceMode::Container as i32,
            ..Default::default()
        };
        let pod_config = PodSandboxConfig {
            metadata: Some(PodSandboxMetadata {
                name: "sf-meta-pod".into(),
                uid: uid.clone(),
                namespace: "sysflow-test".into(),
                attempt: 0,
            }),
            log_directory: logs.path().display().to_string(),
            labels: strings(&[("app", "sf-meta"), ("io.kubernetes.pod.uid", &uid)]),
            linux: Some(LinuxPodSandboxConfig {
                cgroup_parent: format!("/kubepods/besteffort/pod{uid}"),
                security_context: Some(LinuxSandboxSecurityContext {
                    namespace_options: Some(host),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let run = RunPodSandboxRequest {
            config: Some(pod_config.clone()),
            ..Default::default()
        };
        let sid = rt
            .run_pod_sandbox(run)
            .await
            .unwrap()
            .into_inner()
            .pod_sandbox_id;
        let mut created = Vec::new();
        // Everything that can fail runs before the clean-up, which must happen anyway.
        let outcome = async {
            created.push(create(&mut rt, &sid, &pod_config, &image, "app").await?);
            let cfg = MetaConfig {
                docker_sockets: vec![],
                cri_sockets: vec![sock.clone()],
                relist_interval: Duration::from_millis(200),
                // The protocol is under test, not the deadline (the hung-server tests do
                // that): a loaded machine's containerd can take over a second to answer.
                timeout: Duration::from_secs(10),
                ..MetaConfig::default()
            };
            let w = MetaWorker::spawn(cfg).unwrap();
            let mut seen = HashMap::new();
            let mut wait_for = |id: &str| loop {
                if let Some(m) = seen.remove(id) {
                    return Some(m);
                }
                // Generous: it bounds only a failure.
                match w.recv_timeout(Duration::from_secs(20))? {
                    MetaUpdate::Container(m) => drop(seen.insert(m.id.clone(), m)),
                    MetaUpdate::Removed { id: gone } if gone == id => return None,
                    _ => {}
                }
            };
            let app = wait_for(&created[0]);
            let sandbox = wait_for(&sid);
            // Created after the start: found by a lookup or the next re-list.
            created.push(create(&mut rt, &sid, &pod_config, &image, "late").await?);
            w.lookup(&created[1], RuntimeHint::Cri);
            let late = wait_for(&created[1]);
            rt.stop_container(StopContainerRequest {
                container_id: created[1].clone(),
                timeout: 0,
            })
            .await?;
            rt.remove_container(RemoveContainerRequest {
                container_id: created[1].clone(),
            })
            .await?;
            let removed = wait_for(&created[1]).is_none();
            let status = |id: &str| ContainerStatusRequest {
                container_id: id.into(),
                verbose: true,
            };
            let app_status = rt.container_status(status(&created[0])).await?.into_inner();
            let pod_req = PodSandboxStatusRequest {
                pod_sandbox_id: sid.clone(),
                verbose: true,
            };
            let pod_status = rt.pod_sandbox_status(pod_req).await?.into_inner();
            Ok::<_, Status>((
                app,
                sandbox,
                late,
                removed,
                app_status,
                pod_status,
                w.stats(),
            ))
        }
        .await;
        for id in &created {
            let _ = rt
                .stop_container(StopContainerRequest {
                    container_id: id.clone(),
                    timeout: 0,
                })
                .await;
            let _ = rt
                .remove_container(RemoveContainerRequest {
                    container_id: id.clone(),
                })
                .await;
        }
        let _ = rt
            .stop_pod_sandbox(StopPodSandboxRequest {
                pod_sandbox_id: sid.clone(),
            })
            .await;
        let _ = rt
            .remove_pod_sandbox(RemovePodSandboxRequest {
                pod_sandbox_id: sid.clone(),
            })
            .await;

        let (app, sandbox, late, removed, app_status, pod_status, stats) = outcome.unwrap();
        let (app, sandbox) = (app.expect("app listed"), sandbox.expect("sandbox listed"));
        let st = app_status.status.unwrap();
        let ps = pod_status.status.unwrap();
        let md = ps.metadata.clone().unwrap();
        eprintln!("containerd: {app:?}");
        eprintln!(
            "containerd: sandbox {} {} {}",
            sandbox.name,
            sandbox.image,
            &sandbox.image_id[..12.min(sandbox.image_id.len())]
        );
        eprintln!("containerd: {stats:?}");
        assert_eq!(
            (app.id.as_str(), app.name.as_str()),
            (st.id.as_str(), st.metadata.unwrap().name.as_str())
        );
        assert_eq!(app.image, with_default_tag(&st.image.unwrap().image));
        assert_eq!(Some(app.image_id.as_str()), hex_image_id(&st.image_ref));
        assert_eq!(app.labels, st.labels.into_iter().collect());
        assert_eq!(
            (app.runtime, app.privileged),
            (Some(RuntimeKind::Containerd), false)
        );
        let pod = app.pod.expect("pod");
        assert_eq!(
            (pod.uid.as_str(), pod.name.as_str(), pod.namespace.as_str()),
            (md.uid.as_str(), md.name.as_str(), md.namespace.as_str())
        );
        assert_eq!(
            (pod.uid.as_str(), pod.sandbox_id.as_str()),
            (uid.as_str(), sid.as_str())
        );
        let want: std::collections::BTreeMap<_, _> = ps
            .labels
            .into_iter()
            .filter(|(k, _)| !k.starts_with("io.kubernetes."))
            .collect();
        assert_eq!(pod.labels, want);
        assert_eq!(pod.labels.get("app").map(String::as_str), Some("sf-meta"));
        assert_eq!(pod.restart_count, 1);
        assert_eq!(
            (
                sandbox.name.as_str(),
                sandbox.pod.as_ref().map(|p| p.uid.as_str())
            ),
            ("sf-meta-pod", Some(uid.as_str()))
        );
        assert!(!sandbox.image.is_empty());
        let late = late.expect("late container reported");
        assert_eq!(
            (late.name.as_str(), late.pod.map(|p| p.restart_count)),
            ("late", Some(2))
        );
        assert!(removed, "re-list reports the removal");
        assert!(
            stats.listed >= 2 && stats.errors == 0 && stats.timeouts == 0,
            "{stats:?}"
        );
    }
}
