//! The Kubernetes API (`k8s_api_url`) on live capture, against a **stand-in** API server:
//! there is no real kube-apiserver on our machines, so `tests/k8s/apiserver.py` plays one.
//! It speaks the list/watch protocol a client uses (resource versions, chunked watch
//! streams, bookmarks, 410 Expired, server-closed watches), requires the bearer token,
//! and serves TLS with a CA this test generates (`openssl`). Debian's `kubectl` pointed at
//! it must list what it serves: a check that the stand-in is faithful.
//!
//! The pod it serves is a **real** one: started through containerd's CRI by this test, so
//! the container → pod → service join runs end to end on what the kernel captured.
//! Expectations come from what the test told the stand-in and the runtime, never from the
//! library under test.

mod common;
#[path = "common/cri.rs"]
#[allow(dead_code)] // the container tests use all of it
mod cri;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sysflow::avro::SfReader;
use sysflow::model::*;
use sysflow::{RunSummary, SysFlowConfig, SysFlowDriver};

/// The tests start live captures and containers: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const NODE: &str = "node-a";
const NS: &str = "sysflow-test";

fn live_ok() -> bool {
    if !nix::unistd::geteuid().is_root() || !Path::new("/sys/kernel/btf/vmlinux").exists() {
        common::skip("live capture needs root and /sys/kernel/btf/vmlinux");
        return false;
    }
    for tool in ["python3", "openssl", "curl"] {
        if Command::new(tool).arg("--version").output().is_err()
            && Command::new(tool).arg("version").output().is_err()
        {
            common::skip(&format!(
                "{tool} is not installed (scripts/setup.sh installs it)"
            ));
            return false;
        }
    }
    true
}

/// A CA and a server certificate for 127.0.0.1 signed by it, made with `openssl`.
fn make_certs(dir: &Path, ca_name: &str) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        &format!("/CN={ca_name}"),
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "srv.key",
        "-out",
        "srv.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "srv.crt",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
}

/// The stand-in API server, stopped on drop.
struct StandIn {
    child: Child,
    port: u16,
    tls: bool,
    dir: tempfile::TempDir,
}

impl StandIn {
    /// Starts it with `objects` (`[{plural, object}]`); with TLS, `dir` holds `ca.crt`.
    fn start(objects: &Value, token: &str, tls: bool) -> StandIn {
        let dir = tempfile::tempdir().unwrap();
        if tls {
            make_certs(dir.path(), "sysflow-test-ca");
        }
        std::fs::write(dir.path().join("objects.json"), objects.to_string()).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/k8s/apiserver.py");
        let mut cmd = Command::new("python3");
        cmd.arg(script)
            .args(["--token", token, "--objects", "objects.json"])
            .args(["--port-file", "port", "--log", "requests.jsonl"])
            .current_dir(dir.path())
            .stdin(Stdio::null());
        if tls {
            cmd.args(["--cert", "srv.crt", "--key", "srv.key"]);
        }
        let child = cmd.spawn().unwrap();
        let port_file = dir.path().join("port");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !port_file.exists() {
            assert!(
                Instant::now() < deadline,
                "the stand-in API server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let port = std::fs::read_to_string(&port_file)
            .unwrap()
            .parse()
            .unwrap();
        StandIn {
            child,
            port,
            tls,
            dir,
        }
    }

    fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// A test-only control call (`/_control/<what>`), through curl.
    fn control(&self, what: &str, body: &Value) -> Value {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "-X", "POST", "--data-binary", &body.to_string()]);
        if self.tls {
            cmd.arg("--cacert").arg(self.dir.path().join("ca.crt"));
        }
        let out = cmd
            .arg(format!("{}/_control/{what}", self.url()))
            .output()
            .unwrap();
        assert!(out.status.success(), "control {what}: {out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn apply(&self, plural: &str, object: Value) {
        self.control("apply", &json!({"plural": plural, "object": object}));
    }

    /// Every request it logged.
    fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("requests.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A service-account-like directory: `token`, and `ca.crt` when given one.
fn credentials(token: &str, ca: Option<&Path>) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("token"), token).unwrap();
    if let Some(ca) = ca {
        std::fs::copy(ca, d.path().join("ca.crt")).unwrap();
    }
    d
}

struct Capture {
    exit: sysflow::ExitHandle,
    runner: std::thread::JoinHandle<sysflow::Result<RunSummary>>,
    out: tempfile::TempDir,
    k8s_seen: Arc<Mutex<Vec<K8sEvent>>>,
}

fn start_capture(mut config: SysFlowConfig) -> Capture {
    let out = tempfile::tempdir().unwrap();
    config.file_path = Some(format!("{}/", out.path().display()).into());
    config.env_overrides = false;
    config.enable_process_flow = false;
    let k8s_seen = Arc::new(Mutex::new(Vec::new()));
    let seen = k8s_seen.clone();
    config.callback = Some(Box::new(move |v: &sysflow::RecordView<'_>| {
        if let Record::K8sEvent(e) = v.record {
            assert!(v.process.is_none() && v.container.is_none());
            seen.lock().unwrap().push(e.clone());
        }
    }));
    let mut driver = SysFlowDriver::new(config).unwrap();
    let exit = driver.exit_handle();
    let runner = std::thread::spawn(move || driver.run());
    let runner = common::wait_capturing(&exit, runner);
    Capture {
        exit,
        runner,
        out,
        k8s_seen,
    }
}

impl Capture {
    /// Waits (at most `within`) until the callback has seen a K8sEvent of `kind`,
    /// `action`, about the object `uid`.
    fn wait_k8s(&self, kind: K8sComponent, action: K8sAction, uid: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            {
                let seen = self.k8s_seen.lock().unwrap();
                let refs: Vec<&K8sEvent> = seen.iter().collect();
                if summarize(&refs)
                    .iter()
                    .any(|(k, a, u, _)| *k == kind && *a == action && u == uid)
                {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no {kind:?} {action:?} {uid} within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn stop(self) -> (Vec<Record>, RunSummary, Vec<K8sEvent>, PathBuf) {
        self.exit.exit();
        let summary = self.runner.join().unwrap().expect("live run");
        let files: Vec<_> = std::fs::read_dir(self.out.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "one output period: {files:?}");
        let recs = SfReader::open(&files[0])
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let seen = self.k8s_seen.lock().unwrap().clone();
        let kept = self.out.keep();
        (
            recs,
            summary,
            seen,
            kept.join(files[0].file_name().unwrap()),
        )
    }
}

fn k8s_events(recs: &[Record]) -> Vec<&K8sEvent> {
    recs.iter()
        .filter_map(|r| match r {
            Record::K8sEvent(e) => Some(e),
            _ => None,
        })
        .collect()
}

/// (kind, action, uid of the item) of each K8sEvent, messages parsed.
fn summarize(evs: &[&K8sEvent]) -> Vec<(K8sComponent, K8sAction, String, Value)> {
    evs.iter()
        .map(|e| {
            let m: Value = serde_json::from_str(&e.message).unwrap();
            (
                e.kind,
                e.action,
                m["items"][0]["uid"].as_str().unwrap_or("").to_string(),
                m,
            )
        })
        .collect()
}

fn s_addr(ip: &str) -> i64 {
    let ip: std::net::Ipv4Addr = ip.parse().unwrap();
    i64::from(u32::from_ne_bytes(ip.octets()))
}

fn obj(kind: &str, name: &str, ns: Option<&str>, uid: &str, extra: Value) -> Value {
    let mut o = json!({"kind": kind, "metadata": {"name": name, "uid": uid}});
    if let Some(ns) = ns {
        o["metadata"]["namespace"] = json!(ns);
    }
    if let Value::Object(m) = extra {
        for (k, v) in m {
            o[k] = v;
        }
    }
    o
}

fn service(name: &str, uid: &str, ns: &str, selector: Value, ip: &str, port: i64) -> Value {
    obj(
        "Service",
        name,
        Some(ns),
        uid,
        json!({"spec": {"selector": selector, "clusterIP": ip, "clusterIPs": [ip],
                        "ports": [{"port": port, "targetPort": port + 8000, "protocol": "TCP"}]}}),
    )
}

fn pod_object(name: &str, uid: &str, node: &str, labels: Value, container_ids: &[String]) -> Value {
    obj(
        "Pod",
        name,
        Some(NS),
        uid,
        json!({
            "metadata": {"name": name, "uid": uid, "namespace": NS, "labels": labels},
            "spec": {"nodeName": node, "nodeSelector": {"disk": "ssd"},
                     "containers": [{"name": "app", "image": "localhost/bb:latest"}]},
            "status": {"phase": "Running", "hostIP": "10.1.2.3", "podIP": "10.244.0.7",
                       "containerStatuses": container_ids.iter()
                           .map(|c| json!({"name": "app", "containerID": format!("containerd://{c}"),
                                           "restartCount": 0}))
                           .collect::<Vec<_>>()}
        }),
    )
}

#[test]
fn pods_gain_their_services_and_every_api_change_is_a_k8s_event() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !live_ok() {
        return;
    }
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let (Some(containerd), Some(image)) =
        (var("SYSFLOW_CONTAINERD_SOCK"), var("SYSFLOW_TEST_IMAGE"))
    else {
        common::skip(
            "containerd not set up: run `scripts/containers.sh up` and \
             `eval \"$(scripts/containers.sh env)\"` (scripts/test.sh does)",
        );
        return;
    };
    let tag = format!("{:x}", std::process::id());
    let uid = format!(
        "6a1d{:04x}-2b3c-4d5e-8f90-{:012x}",
        std::process::id() & 0xffff,
        std::process::id()
    );
    let pod_name = format!("web-{tag}");

    // The real pod, through containerd's CRI.
    let mut client = cri::connect(Path::new(&containerd));
    let pod = client.run_pod(&pod_name, &uid, &[("app", "web"), ("tier", "front")]);
    struct Cleanup<'a>(&'a mut cri::Client, String);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            self.0.remove_pod(&self.1);
        }
    }
    let cleanup = Cleanup(&mut client, pod.sandbox_id.clone());

    // What the API server knows of it, and of the rest of the cluster.
    let api_labels = json!({"app": "web", "tier": "front", "release": "v1"});
    let objects = json!([
        {"plural": "pods", "object": pod_object(&pod_name, &uid, NODE, api_labels.clone(), &[])},
        {"plural": "pods", "object": pod_object("elsewhere", "uid-other-node", "node-b", json!({"app": "web"}), &[])},
        {"plural": "services", "object": service("web-svc", "uid-svc-web", NS, json!({"app": "web"}), "10.96.0.10", 80)},
        {"plural": "services", "object": service("db-svc", "uid-svc-db", NS, json!({"app": "db"}), "10.96.0.11", 5432)},
        {"plural": "services", "object": service("web-elsewhere", "uid-svc-other-ns", "other", json!({"app": "web"}), "10.96.0.12", 81)},
        {"plural": "nodes", "object": obj("Node", NODE, None, "uid-node", json!({"status": {"addresses": [{"type": "InternalIP", "address": "10.1.2.3"}]}}))},
        {"plural": "namespaces", "object": obj("Namespace", NS, None, "uid-ns", json!({}))},
        {"plural": "replicationcontrollers", "object": obj("ReplicationController", "rc", Some(NS), "uid-rc", json!({"spec": {"replicas": 1, "selector": {"app": "old"}}}))},
        {"plural": "events", "object": obj("Event", "web.1", Some(NS), "uid-event", json!({"reason": "Started", "message": "Started container app", "type": "Normal", "involvedObject": {"kind": "Pod", "name": pod_name, "namespace": NS, "uid": uid}}))},
        {"plural": "replicasets", "object": obj("ReplicaSet", "web-rs", Some(NS), "uid-rs", json!({"spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}}}))},
        {"plural": "daemonsets", "object": obj("DaemonSet", "agent", Some(NS), "uid-ds", json!({"spec": {"selector": {"matchLabels": {"app": "agent"}}}}))},
        {"plural": "deployments", "object": obj("Deployment", "web", Some(NS), "uid-deploy", json!({"spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}}}))},
    ]);
    let api = StandIn::start(&objects, "s3cret-token", true);
    let creds = credentials("s3cret-token", Some(&api.dir.path().join("ca.crt")));

    // kubectl lists what the stand-in serves (the stand-in is faithful enough for it).
    match Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
    {
        Ok(_) => {
            let out = Command::new("kubectl")
                .args(["--server", &api.url(), "--token", "s3cret-token"])
                .arg("--certificate-authority")
                .arg(api.dir.path().join("ca.crt"))
                .args(["get", "pods", "-A", "-o", "name"])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "kubectl: {out:?}");
            assert!(
                text.contains(&format!("pod/{pod_name}")),
                "kubectl lists: {text}"
            );
        }
        Err(_) => common::skip("kubectl is not installed (scripts/setup.sh installs it)"),
    }

    let cap = start_capture(SysFlowConfig {
        cri_path: Some(PathBuf::from(&containerd)),
        exporter_id: NODE.into(),
        node_ip: "10.9.9.9".into(),
        k8s_api_url: Some(api.url()),
        k8s_api_cert: Some(creds.path().join("token")),
        ..Default::default()
    });
    // The initial listings arrive, then the pod's container runs.
    let long = Duration::from_secs(30);
    cap.wait_k8s(K8sComponent::Pods, K8sAction::Added, &uid, long);
    cap.wait_k8s(
        K8sComponent::Services,
        K8sAction::Added,
        "uid-svc-web",
        long,
    );
    let cid = cleanup.0.run_container(
        &pod,
        "app",
        &image,
        "sleep 2; echo z > /tmp/z; cat /tmp/z > /dev/null; sleep 4; cat /tmp/z > /dev/null",
    );
    // The API server reports the container, then a second service that selects the pod.
    api.apply(
        "pods",
        pod_object(
            &pod_name,
            &uid,
            NODE,
            api_labels.clone(),
            std::slice::from_ref(&cid),
        ),
    );
    cap.wait_k8s(K8sComponent::Pods, K8sAction::Modified, &uid, long);
    // the container's first processes ran with one service; a second one now selects it
    std::thread::sleep(Duration::from_millis(2500));
    api.apply(
        "services",
        service(
            "front-svc",
            "uid-svc-front",
            NS,
            json!({"tier": "front"}),
            "10.96.0.13",
            443,
        ),
    );
    cap.wait_k8s(
        K8sComponent::Services,
        K8sAction::Added,
        "uid-svc-front",
        long,
    );
    // Every resource version expires; meanwhile db-svc goes away: the watchers must
    // re-list, and report the deletion without repeating what did not change.
    api.control("expire", &json!({}));
    api.control(
        "delete",
        &json!({"plural": "services", "uid": "uid-svc-db"}),
    );
    cap.wait_k8s(
        K8sComponent::Services,
        K8sAction::Deleted,
        "uid-svc-db",
        long,
    );
    // The server ends every watch: the watchers resume from their resource version.
    api.control("close-watches", &json!({}));
    std::thread::sleep(Duration::from_millis(1500));
    api.apply(
        "deployments",
        obj(
            "Deployment",
            "web",
            Some(NS),
            "uid-deploy",
            json!({"spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}}}),
        ),
    );
    cap.wait_k8s(
        K8sComponent::Deployments,
        K8sAction::Modified,
        "uid-deploy",
        long,
    );
    // the container's last read after the changes
    std::thread::sleep(Duration::from_secs(2));
    let (recs, summary, seen, file) = cap.stop();
    drop(cleanup);

    // ---- K8sEvent records: one per change the stand-in made, each kind and action mapped.
    let evs = k8s_events(&recs);
    let got = summarize(&evs);
    let count = |kind: K8sComponent, action: K8sAction, uid: &str| {
        got.iter()
            .filter(|(k, a, u, _)| *k == kind && *a == action && u == uid)
            .count()
    };
    for (kind, uid) in [
        (K8sComponent::Pods, uid.as_str()),
        (K8sComponent::Services, "uid-svc-web"),
        (K8sComponent::Services, "uid-svc-db"),
        (K8sComponent::Services, "uid-svc-other-ns"),
        (K8sComponent::Nodes, "uid-node"),
        (K8sComponent::Namespaces, "uid-ns"),
        (K8sComponent::ReplicationControllers, "uid-rc"),
        (K8sComponent::Events, "uid-event"),
        (K8sComponent::ReplicaSets, "uid-rs"),
        (K8sComponent::DaemonSets, "uid-ds"),
        (K8sComponent::Deployments, "uid-deploy"),
    ] {
        assert_eq!(
            count(kind, K8sAction::Added, uid),
            1,
            "one ADDED for {kind:?} {uid}, none repeated by the re-list: {:?}",
            got.iter().map(|g| (g.0, g.1, &g.2)).collect::<Vec<_>>()
        );
    }
    assert_eq!(
        count(K8sComponent::Pods, K8sAction::Added, "uid-other-node"),
        0,
        "another node's pod"
    );
    assert_eq!(count(K8sComponent::Pods, K8sAction::Modified, &uid), 1);
    assert_eq!(
        count(K8sComponent::Services, K8sAction::Added, "uid-svc-front"),
        1
    );
    assert_eq!(
        count(K8sComponent::Services, K8sAction::Deleted, "uid-svc-db"),
        1
    );
    assert_eq!(
        count(K8sComponent::Deployments, K8sAction::Modified, "uid-deploy"),
        1
    );
    assert_eq!(
        got.len(),
        15,
        "every change once: {:?}",
        got.iter().map(|g| (g.0, g.1, &g.2)).collect::<Vec<_>>()
    );
    // The message: the reference consumers' shape, the pod's container ids.
    let (_, _, _, m) = got
        .iter()
        .find(|(k, a, u, _)| *k == K8sComponent::Pods && *a == K8sAction::Modified && *u == uid)
        .unwrap();
    assert_eq!(m["type"], "MODIFIED");
    assert_eq!(m["kind"], "Pod");
    assert_eq!(m["apiVersion"], "v1");
    assert_eq!(m["items"][0]["name"], pod_name.as_str());
    assert_eq!(m["items"][0]["namespace"], NS);
    assert_eq!(m["items"][0]["nodeName"], NODE);
    assert_eq!(
        m["items"][0]["containerIDs"],
        json!([format!("containerd://{cid}")])
    );
    // The callback got the same records, and the counters agree.
    assert_eq!(seen.len(), evs.len(), "callback and file");
    assert!(seen.iter().zip(&evs).all(|(a, b)| a == *b));
    assert_eq!(summary.metadata.k8s_events, evs.len() as u64);
    assert_eq!(summary.source_drops, 0);

    // ---- Pod records: CRI's pod, completed by the API server.
    let pods: Vec<(usize, &Pod)> = recs
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match r {
            Record::Pod(p) if p.id == uid => Some((i, p)),
            _ => None,
        })
        .collect();
    assert!(!pods.is_empty(), "no Pod record for {uid}");
    let want_labels: BTreeMap<String, String> = serde_json::from_value(api_labels).unwrap();
    let want_service = |name: &str, id: &str, ip: &str, port: i32| Service {
        name: name.into(),
        id: id.into(),
        namespace: NS.into(),
        port_list: vec![Port {
            port,
            target_port: port + 8000,
            node_port: 0,
            proto: "TCP".into(),
        }],
        cluster_ip: vec![s_addr(ip)],
    };
    for (_, p) in &pods {
        assert_eq!(p.name, pod_name);
        assert_eq!(p.namespace, NS);
        assert_eq!(
            p.labels, want_labels,
            "the API's labels (CRI has no `release`)"
        );
        assert_eq!(
            p.selectors,
            [("disk".to_string(), "ssd".to_string())].into()
        );
        assert_eq!(p.node_name, NODE);
        assert_eq!(
            p.host_ip,
            vec![s_addr("10.1.2.3")],
            "the API's hostIP, not node_ip"
        );
    }
    let first = pods.first().unwrap().1;
    assert_eq!(
        first.services,
        vec![want_service("web-svc", "uid-svc-web", "10.96.0.10", 80)]
    );
    let last = pods.last().unwrap().1;
    assert_eq!(
        last.services,
        vec![
            want_service("front-svc", "uid-svc-front", "10.96.0.13", 443),
            want_service("web-svc", "uid-svc-web", "10.96.0.10", 80),
        ],
        "both services that select it, by name"
    );
    // Written again when its services changed, before the records after the change.
    let front_added = recs
        .iter()
        .position(|r| matches!(r, Record::K8sEvent(e) if e.message.contains("uid-svc-front")))
        .unwrap();
    let rewritten = pods.iter().find(|(_, p)| p.services.len() == 2).unwrap().0;
    assert!(
        rewritten < front_added,
        "the Pod is written again as the change is applied"
    );
    // The container links to it; its processes were captured.
    let container = recs
        .iter()
        .rev()
        .find_map(|r| match r {
            Record::Container(c) if c.id == cid[..12] => Some(c),
            _ => None,
        })
        .expect("the CRI container's record");
    assert_eq!(container.pod_id.as_deref(), Some(uid.as_str()));
    assert!(
        recs.iter().any(
            |r| matches!(r, Record::Process(p) if p.container_id.as_deref() == Some(&cid[..12]))
        )
    );

    // ---- What the stand-in saw: the token every time, this node's pods only, a 410
    // followed by a re-list, watches resumed from a resource version.
    let reqs: Vec<Value> = api
        .requests()
        .into_iter()
        .filter(|r| !r["agent"].as_str().unwrap_or("").starts_with("kubectl"))
        .collect();
    assert!(reqs.iter().all(|r| r["kind"] != "unauthorized"), "{reqs:?}");
    for r in reqs.iter().filter(|r| r["plural"] == "pods") {
        let path = r["path"].as_str().unwrap();
        assert!(
            path.contains("fieldSelector=spec.nodeName%3Dnode-a"),
            "{path}"
        );
    }
    let expired_at = reqs
        .iter()
        .position(|r| r["kind"] == "watch" && r["expired"] == true && r["plural"] == "services")
        .expect("a services watch got 410 Expired");
    assert!(
        reqs[expired_at..]
            .iter()
            .any(|r| r["kind"] == "list" && r["plural"] == "services"),
        "re-listed after 410"
    );
    let resumed = reqs
        .iter()
        .filter(|r| r["kind"] == "watch" && r["expired"] == false && r["rv"].as_i64() > Some(0))
        .count();
    assert!(
        resumed >= 2 * WATCHED_KINDS,
        "watches resumed from a version: {resumed}"
    );

    // ---- The official sysprint reads the file, K8sEvents included.
    match common::venv_bin("sysprint") {
        Some(sysprint) => {
            let out = Command::new(sysprint)
                .args(["-K", "-o", "json"])
                .arg(&file)
                .output()
                .unwrap();
            assert!(out.status.success(), "official sysprint: {out:?}");
            let text = String::from_utf8_lossy(&out.stdout);
            let theirs: Vec<(String, String, String)> = text
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter(|v| v["type"] == "KE")
                .map(|v| {
                    let k = &v["k8s"];
                    let s = |f: &str| k[f].as_str().unwrap_or("").to_string();
                    (s("kind"), s("action"), s("msg"))
                })
                .collect();
            let ours: Vec<(String, String, String)> = evs
                .iter()
                .map(|e| {
                    (
                        e.kind.symbol().to_string(),
                        e.action.symbol().to_string(),
                        e.message.clone(),
                    )
                })
                .collect();
            assert_eq!(
                theirs, ours,
                "the official sysprint reads every K8sEvent as written"
            );
        }
        None => common::skip("official sysprint not installed (scripts/setup.sh installs it)"),
    }
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
}

const WATCHED_KINDS: usize = 9;

/// What goes wrong with an API server is counted, logged, retried, and never stalls the
/// capture: a wrong token (401), a server that is not there, a certificate from another
/// CA, and watch answers that are not JSON.
#[test]
fn api_failures_are_counted_and_the_capture_goes_on() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !live_ok() {
        return;
    }
    let objects = json!([
        {"plural": "namespaces", "object": obj("Namespace", "default", None, "uid-ns-default", json!({}))},
    ]);
    let api = StandIn::start(&objects, "right", true);
    let other_ca = tempfile::tempdir().unwrap();
    make_certs(other_ca.path(), "some-other-ca");
    let cases: Vec<(&str, String, tempfile::TempDir)> = vec![
        (
            "wrong token",
            api.url(),
            credentials("wrong", Some(&api.dir.path().join("ca.crt"))),
        ),
        (
            "nothing listening",
            "https://127.0.0.1:1".into(),
            credentials("right", None),
        ),
        (
            "another CA",
            api.url(),
            credentials("right", Some(&other_ca.path().join("ca.crt"))),
        ),
    ];
    for (what, url, creds) in cases {
        let start = Instant::now();
        let cap = start_capture(SysFlowConfig {
            container_metadata: false,
            k8s_api_url: Some(url),
            k8s_api_cert: Some(creds.path().join("token")),
            ..Default::default()
        });
        let st = Command::new("sh")
            .args([
                "-c",
                "for i in 1 2 3; do cat /etc/hostname >/dev/null; done",
            ])
            .status()
            .unwrap();
        assert!(st.success());
        std::thread::sleep(Duration::from_secs(2));
        let (recs, summary, seen, file) = cap.stop();
        let _ = std::fs::remove_dir_all(file.parent().unwrap());
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{what}: the run ended promptly"
        );
        assert!(
            summary.metadata.k8s_errors > 0,
            "{what}: counted: {:?}",
            summary.metadata
        );
        assert!(
            k8s_events(&recs).is_empty() && seen.is_empty(),
            "{what}: no K8sEvent"
        );
        assert!(
            recs.iter().any(|r| matches!(r, Record::ProcessEvent(_))),
            "{what}: the capture went on"
        );
    }
    assert!(api.requests().iter().any(|r| r["kind"] == "unauthorized"));

    // Malformed watch answers: counted, then the watch recovers and reports what follows.
    // (The token file ends in a newline, as `kubectl create token > file` writes it.)
    let creds = credentials("right\n", Some(&api.dir.path().join("ca.crt")));
    let cap = start_capture(SysFlowConfig {
        container_metadata: false,
        k8s_api_url: Some(api.url()),
        k8s_api_cert: Some(creds.path().join("token")),
        ..Default::default()
    });
    cap.wait_k8s(
        K8sComponent::Namespaces,
        K8sAction::Added,
        "uid-ns-default",
        Duration::from_secs(30),
    );
    api.control("malformed", &json!({"count": 3}));
    std::thread::sleep(Duration::from_secs(1));
    api.apply(
        "namespaces",
        obj("Namespace", "late", None, "uid-ns-late", json!({})),
    );
    cap.wait_k8s(
        K8sComponent::Namespaces,
        K8sAction::Added,
        "uid-ns-late",
        Duration::from_secs(60),
    );
    let (recs, summary, _, file) = cap.stop();
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
    let got = summarize(&k8s_events(&recs));
    assert!(
        got.iter().any(|(k, a, u, _)| *k == K8sComponent::Namespaces
            && *a == K8sAction::Added
            && u == "uid-ns-late"),
        "recovered after malformed answers: {:?}",
        got.iter().map(|g| (g.0, g.1, &g.2)).collect::<Vec<_>>()
    );
    assert!(summary.metadata.k8s_errors > 0, "{:?}", summary.metadata);
    assert!(
        api.requests().iter().any(|r| r["corrupt"] == true),
        "the stand-in sent malformed answers"
    );
}

/// Bad configurations are refused by `new()` with clear errors.
#[test]
fn bad_api_settings_are_refused() {
    let base = || SysFlowConfig {
        file_path: Some("/tmp/unused.sf".into()),
        ..Default::default()
    };
    for (url, cert, want) in [
        (
            "kubernetes.default.svc",
            None,
            "not an http:// or https:// URL",
        ),
        ("ftp://x", None, "not an http:// or https:// URL"),
        (
            "https://x",
            Some("/nonexistent/token"),
            "k8s_api_cert /nonexistent/token",
        ),
        ("https://x", Some("/tmp"), "not a regular file"),
    ] {
        let e = SysFlowDriver::new(SysFlowConfig {
            k8s_api_url: Some(url.into()),
            k8s_api_cert: cert.map(Into::into),
            ..base()
        })
        .err()
        .unwrap_or_else(|| panic!("{url} accepted"));
        assert!(e.to_string().contains(want), "{url}: {e}");
    }
    let e = SysFlowDriver::new(SysFlowConfig {
        k8s_api_url: Some("https://x".into()),
        scap_input_path: Some("/tmp/x.scap".into()),
        ..base()
    })
    .err()
    .unwrap();
    assert!(e.to_string().contains("live capture"), "{e}");
}
