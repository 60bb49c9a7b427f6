//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub mod launcher;
pub mod logs;

/// Reports a missing prerequisite: a loud skip, or a failure when `SYSFLOW_REQUIRE_ALL=1`
/// (set by `scripts/test.sh`, so CI never silently skips).
pub fn skip(why: &str) {
    if std::env::var("SYSFLOW_REQUIRE_ALL").as_deref() == Ok("1") {
        panic!("prerequisite missing (SYSFLOW_REQUIRE_ALL=1): {why}");
    }
    eprintln!("SKIP: {why}");
}

/// The reference corpus directory, if present.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/sf-collector-tests");
    if dir.is_dir() {
        Some(dir)
    } else {
        skip(&format!("reference corpus not found at {}", dir.display()));
        None
    }
}

/// Every file of the corpus with the given extension, sorted.
pub fn corpus_files(ext: &str) -> Option<Vec<PathBuf>> {
    let dir = corpus_dir()?;
    let mut files = Vec::new();
    for sub in std::fs::read_dir(&dir).unwrap() {
        for f in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            let p = f.unwrap().path();
            if p.extension().is_some_and(|e| e == ext) {
                files.push(p);
            }
        }
    }
    files.sort();
    Some(files)
}

/// One file of the corpus, e.g. `"setuid/setuid.sf"`.
pub fn reference(name: &str) -> Option<PathBuf> {
    let p = corpus_dir()?.join(name);
    if p.exists() {
        Some(p)
    } else {
        skip(&format!("{} not found", p.display()));
        None
    }
}

/// The project's Python venv with the official SysFlow tools (made by scripts/setup.sh).
pub fn venv_bin(tool: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".venv/bin")
        .join(tool);
    if p.exists() {
        Some(p)
    } else {
        skip(&format!(
            "{} not found: run scripts/setup.sh (installs PyPI sysflow-tools)",
            p.display()
        ));
        None
    }
}

/// The package root (`CARGO_MANIFEST_DIR`).
pub fn package_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `$CARGO_TARGET_DIR` (relative to the package root if relative) or `target/`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => package_root().join(d),
        None => package_root().join("target"),
    }
}

/// The binary of example `name` (`sysprint`, `sysporter`), built with this test's profile
/// into this test's target directory (`target/<profile>/examples/<name>`): only a plain
/// `cargo test` builds example binaries (`--test X` does not, and `--all-targets` builds
/// examples only as unit-test harnesses). `cargo build` is a no-op when it is up to date;
/// cargo releases its build lock before it runs tests, so this works from within
/// `cargo test`. Built once per test binary and name.
pub fn example(name: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = built.iter().find(|(n, _)| n == name) {
        return p.clone();
    }
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test>-<hash>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let target_dir = profile_dir.parent().expect("target directory");
    let mut cmd = std::process::Command::new(env!("CARGO"));
    cmd.args(["build", "--quiet", "--example", name, "--target-dir"])
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    // Without the variables cargo sets for this test process: a dependency's build
    // script (ring's) reruns when they change, which rebuilt the crate at every run.
    for (key, _) in std::env::vars_os() {
        if let Some(k) = key.to_str()
            && ([
                "CARGO_PKG_",
                "CARGO_MANIFEST_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
            ]
            .iter()
            .any(|p| k.starts_with(p))
                || matches!(
                    k,
                    "OUT_DIR" | "CARGO_TARGET_TMPDIR" | "CARGO_PRIMARY_PACKAGE"
                ))
        {
            cmd.env_remove(&key);
        }
    }
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(other) => {
            cmd.args(["--profile", other]);
        }
        None => panic!("unexpected test binary location {}", exe.display()),
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("run cargo build --example {name}: {e}"));
    assert!(
        out.status.success(),
        "cargo build --example {name} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bin = profile_dir.join("examples").join(name);
    assert!(bin.is_file(), "{} missing after cargo build", bin.display());
    built.push((name.to_owned(), bin.clone()));
    bin
}

/// Re-executes this test binary running only its `workload_entry` test, with `env` set
/// (which workload, its argument): a child with piped stdin and stdout.
pub fn spawn_workload(env: &[(&str, &str)]) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "workload_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Reads a workload's `KEY=value` report lines until `END` (or its stdout closes).
pub fn read_report(child: &mut std::process::Child) -> std::collections::HashMap<String, String> {
    use std::io::BufRead;
    let mut r = std::io::BufReader::new(child.stdout.as_mut().unwrap());
    let mut m = std::collections::HashMap::new();
    let mut line = String::new();
    while r.read_line(&mut line).unwrap() > 0 {
        let l = line.trim().to_string();
        line.clear();
        if l == "END" {
            break;
        }
        if let Some((k, v)) = l.split_once('=') {
            m.insert(k.to_string(), v.to_string());
        }
    }
    m
}

/// Every record of the one `.sf` file a capture wrote into `dir` (panics unless there is
/// exactly one: the live tests' captures are a single output period).
pub fn single_output(dir: &Path) -> Vec<sysflow::model::Record> {
    let files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "one output period: {files:?}");
    sysflow::avro::SfReader::open(&files[0])
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The records of a `.sf` file read back, with lookups by process (host pid) — what the
/// live tests compare with their workloads' ground truth.
pub struct Output {
    /// Every record, in file order.
    pub recs: Vec<sysflow::model::Record>,
}

impl Output {
    pub fn procs_of(&self, pid: i64) -> Vec<&sysflow::model::Process> {
        self.recs
            .iter()
            .filter_map(|r| match r {
                sysflow::model::Record::Process(p) if p.oid.hpid == pid => Some(p),
                _ => None,
            })
            .collect()
    }
    pub fn oid(&self, pid: i64) -> sysflow::model::Oid {
        self.procs_of(pid)
            .first()
            .unwrap_or_else(|| panic!("no process {pid}"))
            .oid
    }
    pub fn file(&self, foid: &sysflow::model::Foid) -> &sysflow::model::File {
        self.recs
            .iter()
            .find_map(|r| match r {
                sysflow::model::Record::File(f) if f.oid == *foid => Some(f),
                _ => None,
            })
            .expect("file entity")
    }
    pub fn file_flows(&self, pid: i64) -> Vec<&sysflow::model::FileFlow> {
        self.recs
            .iter()
            .filter_map(|r| match r {
                sysflow::model::Record::FileFlow(f) if f.proc_oid.hpid == pid => Some(f),
                _ => None,
            })
            .collect()
    }
    pub fn net_flows(&self, pid: i64) -> Vec<&sysflow::model::NetworkFlow> {
        self.recs
            .iter()
            .filter_map(|r| match r {
                sysflow::model::Record::NetworkFlow(f) if f.proc_oid.hpid == pid => Some(f),
                _ => None,
            })
            .collect()
    }
    pub fn events(&self, pid: i64) -> Vec<&sysflow::model::ProcessEvent> {
        self.recs
            .iter()
            .filter_map(|r| match r {
                sysflow::model::Record::ProcessEvent(e) if e.proc_oid.hpid == pid => Some(e),
                _ => None,
            })
            .collect()
    }
    pub fn file_events(&self, pid: i64) -> Vec<&sysflow::model::FileEvent> {
        self.recs
            .iter()
            .filter_map(|r| match r {
                sysflow::model::Record::FileEvent(e) if e.proc_oid.hpid == pid => Some(e),
                _ => None,
            })
            .collect()
    }
}

/// A live capture's runner thread.
pub type Runner = std::thread::JoinHandle<sysflow::Result<sysflow::RunSummary>>;

/// Waits (60 s at most) until the live capture `run()` started on `runner` is capturing,
/// so that what the test does next is in it; gives the runner back. Panics with `run()`'s
/// result when it returned before, and on the timeout.
pub fn wait_capturing(exit: &sysflow::ExitHandle, runner: Runner) -> Runner {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !exit.wait_capturing(std::time::Duration::from_millis(100)) {
        if runner.is_finished() {
            panic!("run() returned before capturing: {:?}", runner.join());
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the capture did not start within 60 s"
        );
    }
    runner
}
