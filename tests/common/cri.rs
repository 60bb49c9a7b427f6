//! The test's own CRI client (k8s-cri over the containerd socket).
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;
use std::collections::HashMap;
use std::path::Path;
use tonic::transport::{Channel, Endpoint, Uri};

pub struct Client {
    pub rt: tokio::runtime::Runtime,
    pub c: RuntimeServiceClient<Channel>,
}

pub fn connect(sock: &Path) -> Client {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sock = sock.to_path_buf();
    let channel = rt
        .block_on(async move {
            Endpoint::try_from("http://[::]")
                .unwrap()
                .connect_with_connector(tower::service_fn(move |_: Uri| {
                    let sock = sock.clone();
                    async move {
                        Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                            tokio::net::UnixStream::connect(sock).await?,
                        ))
                    }
                }))
                .await
        })
        .unwrap();
    Client {
        rt,
        c: RuntimeServiceClient::new(channel),
    }
}

/// The kubelet's namespaces for a host-network pod (no CNI here).
fn host_network() -> NamespaceOption {
    NamespaceOption {
        network: NamespaceMode::Node as i32,
        pid: NamespaceMode::Container as i32,
        ipc: NamespaceMode::Pod as i32,
        ..Default::default()
    }
}

pub struct Pod {
    pub uid: String,
    pub name: String,
    pub namespace: String,
    pub sandbox_id: String,
    pub config: PodSandboxConfig,
}

impl Client {
    pub fn run_pod(&mut self, name: &str, uid: &str, labels: &[(&str, &str)]) -> Pod {
        let namespace = "sysflow-test".to_string();
        let mut l: HashMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        l.insert("io.kubernetes.pod.name".into(), name.into());
        l.insert("io.kubernetes.pod.namespace".into(), namespace.clone());
        l.insert("io.kubernetes.pod.uid".into(), uid.into());
        let log_dir = format!("/var/tmp/sysflow-ct/pods/{uid}");
        std::fs::create_dir_all(&log_dir).unwrap();
        let config = PodSandboxConfig {
            metadata: Some(PodSandboxMetadata {
                name: name.into(),
                uid: uid.into(),
                namespace: namespace.clone(),
                attempt: 0,
            }),
            hostname: String::new(),
            log_directory: log_dir,
            labels: l,
            linux: Some(LinuxPodSandboxConfig {
                cgroup_parent: format!("/kubepods/besteffort/pod{uid}"),
                security_context: Some(LinuxSandboxSecurityContext {
                    namespace_options: Some(host_network()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let req = RunPodSandboxRequest {
            config: Some(config.clone()),
            runtime_handler: String::new(),
        };
        let sandbox_id = self
            .rt
            .block_on(self.c.run_pod_sandbox(req))
            .unwrap()
            .into_inner()
            .pod_sandbox_id;
        Pod {
            uid: uid.into(),
            name: name.into(),
            namespace,
            sandbox_id,
            config,
        }
    }

    pub fn run_container(&mut self, pod: &Pod, name: &str, image: &str, script: &str) -> String {
        let config = ContainerConfig {
            metadata: Some(ContainerMetadata {
                name: name.into(),
                attempt: 0,
            }),
            image: Some(ImageSpec {
                image: image.into(),
                ..Default::default()
            }),
            command: vec!["sh".into(), "-c".into(), script.into()],
            log_path: format!("{name}.log"),
            labels: [
                ("io.kubernetes.container.name", name),
                ("io.kubernetes.pod.name", pod.name.as_str()),
                ("io.kubernetes.pod.namespace", pod.namespace.as_str()),
                ("io.kubernetes.pod.uid", pod.uid.as_str()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            annotations: [("io.kubernetes.container.restartCount", "0")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            linux: Some(LinuxContainerConfig {
                security_context: Some(LinuxContainerSecurityContext {
                    namespace_options: Some(host_network()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let req = CreateContainerRequest {
            pod_sandbox_id: pod.sandbox_id.clone(),
            config: Some(config),
            sandbox_config: Some(pod.config.clone()),
        };
        let id = self
            .rt
            .block_on(self.c.create_container(req))
            .unwrap()
            .into_inner()
            .container_id;
        let req = StartContainerRequest {
            container_id: id.clone(),
        };
        self.rt.block_on(self.c.start_container(req)).unwrap();
        id
    }

    pub fn container_status(&mut self, id: &str) -> ContainerStatusResponse {
        let req = ContainerStatusRequest {
            container_id: id.into(),
            verbose: true,
        };
        self.rt
            .block_on(self.c.container_status(req))
            .unwrap()
            .into_inner()
    }

    pub fn pod_status(&mut self, id: &str) -> PodSandboxStatusResponse {
        let req = PodSandboxStatusRequest {
            pod_sandbox_id: id.into(),
            verbose: true,
        };
        self.rt
            .block_on(self.c.pod_sandbox_status(req))
            .unwrap()
            .into_inner()
    }

    pub fn remove_pod(&mut self, sandbox_id: &str) {
        let id = sandbox_id.to_string();
        let _ = self
            .rt
            .block_on(self.c.stop_pod_sandbox(StopPodSandboxRequest {
                pod_sandbox_id: id.clone(),
            }));
        let _ = self.rt.block_on(
            self.c
                .remove_pod_sandbox(RemovePodSandboxRequest { pod_sandbox_id: id }),
        );
    }
}
