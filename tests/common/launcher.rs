//! A launcher: a process started before any driver that starts workloads on request.
//!
//! The probe names every fd of a process the collector started (or of its descendants) at
//! first use, since such a process may have inherited it from the collector, which is not
//! captured. A deployed collector starts none of the processes it watches, so workloads
//! started through a launcher take the path the watched processes of a deployment take.
//!
//! A test binary that uses it has a `#[test] fn launcher_entry()` calling [`serve`].

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// The environment variable that makes `launcher_entry` serve.
const SERVE: &str = "SF_TEST_LAUNCHER";

/// A running launcher (stops when dropped).
pub struct Launcher {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Launcher {
    /// Starts the launcher: this test binary running only its `launcher_entry` test.
    /// Start it before the driver.
    pub fn start() -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "launcher_entry",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(SERVE, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting the launcher");
        let input = child.stdin.take().unwrap();
        let mut output = BufReader::new(child.stdout.take().unwrap());
        // the test harness's own first line, then ours
        let mut line = String::new();
        while output.read_line(&mut line).unwrap() > 0 {
            if line.trim() == "READY" {
                break;
            }
            line.clear();
        }
        Launcher {
            child,
            input,
            output,
        }
    }

    /// The launcher's pid: the parent of the workloads it runs.
    pub fn pid(&self) -> i64 {
        i64::from(self.child.id())
    }

    /// Runs `argv` with `env` added as a child of the launcher and waits for it; returns
    /// whether it exited with status 0 and its stdout.
    pub fn run(&mut self, env: &[(&str, &str)], argv: &[&str]) -> (bool, String) {
        let words: Vec<String> = env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .chain(argv.iter().map(|a| (*a).to_owned()))
            .collect();
        assert!(words.iter().all(|w| !w.contains(['\t', '\n'])));
        writeln!(self.input, "{}", words.join("\t")).unwrap();
        self.input.flush().unwrap();
        let mut head = String::new();
        self.output.read_line(&mut head).unwrap();
        let (ok, len) = head
            .trim()
            .split_once(' ')
            .unwrap_or_else(|| panic!("launcher answered {head:?}"));
        let mut out = vec![0; len.parse().unwrap()];
        self.output.read_exact(&mut out).unwrap();
        (ok == "ok", String::from_utf8(out).unwrap())
    }

    /// Runs this test binary's `workload_entry` with `env` (as
    /// [`super::spawn_workload`] does, but as the launcher's child); returns its report
    /// (`KEY=value` lines up to `END`) and whether it succeeded.
    pub fn workload(&mut self, env: &[(&str, &str)]) -> (HashMap<String, String>, bool) {
        let exe = std::env::current_exe().unwrap();
        let (ok, out) = self.run(
            env,
            &[
                exe.to_str().unwrap(),
                "--exact",
                "workload_entry",
                "--nocapture",
                "--test-threads=1",
            ],
        );
        (report(&out), ok)
    }
}

impl Drop for Launcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `KEY=value` lines up to `END`.
pub fn report(out: &str) -> HashMap<String, String> {
    out.lines()
        .map(str::trim)
        .take_while(|l| *l != "END")
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The launcher's side (a no-op in a normal test run): runs each request line (tab
/// separated; leading `KEY=VALUE` words are its environment, the rest its argv) and
/// answers `ok|failed <length>\n` and the child's stdout.
pub fn serve() {
    if std::env::var_os(SERVE).is_none() {
        return;
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "\nREADY").unwrap();
    out.flush().unwrap();
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let words: Vec<&str> = line.split('\t').collect();
        let n_env = words
            .iter()
            .take_while(|w| w.split_once('=').is_some_and(|(k, _)| !k.contains('/')))
            .count();
        let (env, argv) = words.split_at(n_env);
        let result = Command::new(argv[0])
            .args(&argv[1..])
            .env_remove(SERVE)
            .envs(env.iter().filter_map(|w| w.split_once('=')))
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .expect("running a workload");
        let ok = if result.status.success() {
            "ok"
        } else {
            "failed"
        };
        writeln!(out, "{ok} {}", result.stdout.len()).unwrap();
        out.write_all(&result.stdout).unwrap();
        out.flush().unwrap();
    }
    std::process::exit(0);
}
