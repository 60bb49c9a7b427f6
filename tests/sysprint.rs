//! The `sysprint` example against the official Python `sysprint` (PyPI `sysflow-tools`
//! 0.6.1, in the project's `.venv`): for every `.sf` of the reference corpus, `-o json`,
//! `-o csv` and the default `-o str` table must be byte-identical, and so must `-l`.
//!
//! Only a plain `cargo test` builds example binaries, so the test runs
//! `cargo build --example sysprint` itself ([`common::example`]).
//! Without the official tool or the corpus the comparisons are skipped (a failure with
//! `SYSFLOW_REQUIRE_ALL=1`).
//!
//! Both tools run with stdin, stdout and stderr not a terminal, so the table is 80
//! columns wide for both. The official tool takes about a second per run, so files are
//! batched per format and the batches run in parallel threads.
//!
//! The published traces of `../shared/cases` are compared the same way, file by file, in
//! [`cases`], with one test per case for the values its README names.

mod cases;
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

/// The example binary (see [`common::example`]).
fn sysprint_example() -> PathBuf {
    common::example("sysprint")
}

/// Runs a tool with no terminal attached (80-column tables).
fn run(tool: &Path, args: &[&str], file: Option<&Path>) -> Output {
    let mut cmd = Command::new(tool);
    cmd.args(args)
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(f) = file {
        cmd.arg(f);
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", tool.display()))
}

/// stdout of a successful run.
fn stdout_of(tool: &Path, args: &[&str], file: Option<&Path>) -> Vec<u8> {
    let out = run(tool, args, file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("Error while executing"),
        "{} {args:?} {file:?} failed: {stderr}",
        tool.display()
    );
    out.stdout
}

/// Where two outputs first differ, for the failure message.
fn first_difference(ours: &[u8], theirs: &[u8]) -> String {
    let at = ours
        .iter()
        .zip(theirs)
        .position(|(a, b)| a != b)
        .unwrap_or(ours.len().min(theirs.len()));
    let line = theirs[..at.min(theirs.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1;
    let show = |b: &[u8]| {
        let end = (at + 120).min(b.len());
        String::from_utf8_lossy(&b[at.saturating_sub(60).min(end)..end]).into_owned()
    };
    format!(
        "lengths {} (ours) vs {} (official); first difference at byte {at}, line {line}:\n  ours:     {:?}\n  official: {:?}",
        ours.len(),
        theirs.len(),
        show(ours),
        show(theirs)
    )
}

/// The output formats compared, as command-line arguments. CSV goes to `-w /dev/stdout`:
/// both tools re-open the `-w` file for each input, which on a pipe concatenates.
const FORMATS: [(&str, &[&str]); 3] = [
    ("-o json", &["-o", "json"]),
    ("-o csv", &["-o", "csv", "-w", "/dev/stdout"]),
    ("-o str", &[]),
];

/// Splits the files into `n` groups of similar total size.
fn balance(files: &[PathBuf], n: usize) -> Vec<Vec<PathBuf>> {
    let mut by_size: Vec<(u64, &PathBuf)> = files
        .iter()
        .map(|f| (std::fs::metadata(f).map_or(0, |m| m.len()), f))
        .collect();
    by_size.sort_by_key(|f| std::cmp::Reverse(f.0));
    let mut groups: Vec<(u64, Vec<PathBuf>)> = vec![(0, Vec::new()); n.max(1)];
    for (size, f) in by_size {
        let g = groups.iter_mut().min_by_key(|g| g.0).unwrap();
        g.0 += size;
        g.1.push(f.clone());
    }
    groups
        .into_iter()
        .map(|g| g.1)
        .filter(|g| !g.is_empty())
        .collect()
}

/// Runs a tool on several files at once.
fn stdout_of_all(tool: &Path, args: &[&str], files: &[PathBuf]) -> Vec<u8> {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(files.iter().map(|f| f.to_str().expect("utf-8 corpus path")));
    stdout_of(tool, &all, None)
}

#[test]
fn lists_the_same_attributes() {
    let Some(official) = common::venv_bin("sysprint") else {
        return;
    };
    let ours = sysprint_example();
    assert_eq!(
        String::from_utf8_lossy(&stdout_of(&ours, &["-l"], None)),
        String::from_utf8_lossy(&stdout_of(&official, &["-l"], None)),
    );
}

#[test]
fn matches_the_official_sysprint_on_the_corpus() {
    let Some(official) = common::venv_bin("sysprint") else {
        return;
    };
    let Some(files) = common::corpus_files("sf") else {
        return;
    };
    assert!(!files.is_empty(), "no .sf files in the corpus");
    let ours = sysprint_example();

    // Each official run costs ~0.7 s of start-up, so files are batched: one run per
    // format and group of files, all runs in parallel.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let groups = balance(&files, cores.div_ceil(FORMATS.len()));
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for group in &groups {
            for (label, args) in FORMATS {
                let (ours, official, failures) = (&ours, &official, &failures);
                s.spawn(move || {
                    let theirs = stdout_of_all(official, args, group);
                    let mine = stdout_of_all(ours, args, group);
                    if theirs.is_empty() {
                        failures.lock().unwrap().push(format!("{label}: no output"));
                    }
                    if mine == theirs {
                        return;
                    }
                    // Name the file where the outputs part.
                    let at = mine
                        .iter()
                        .zip(&theirs)
                        .position(|(a, b)| a != b)
                        .unwrap_or(mine.len().min(theirs.len()));
                    let mut start = 0;
                    for f in group {
                        let one = stdout_of_all(ours, args, std::slice::from_ref(f));
                        if at < start + one.len() || Some(f) == group.last() {
                            let end = (start + one.len()).min(theirs.len());
                            let official_part = &theirs[start.min(end)..end];
                            failures.lock().unwrap().push(format!(
                                "{label} {}: {}",
                                f.display(),
                                first_difference(&one, official_part)
                            ));
                            break;
                        }
                        start += one.len();
                    }
                });
            }
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "outputs differ:\n{}",
        failures.join("\n")
    );
}

#[test]
fn a_truncated_file_prints_what_precedes_the_damage_then_fails() {
    // Four Avro blocks; cutting inside the last leaves three readable ones.
    let Some(original) = common::reference("mpm-event/full_capture.sf") else {
        return;
    };
    let ours = sysprint_example();
    let full = stdout_of(&ours, &["-o", "json"], Some(&original));
    let bytes = std::fs::read(&original).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let cut = tmp.path().join("cut_capture.sf");
    std::fs::write(&cut, &bytes[..bytes.len() * 9 / 10]).unwrap();

    let out = run(&ours, &["-o", "json"], Some(&cut));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "exit status {:?}", out.status);
    assert!(
        stderr.contains("cut_capture.sf") && stderr.contains("offset"),
        "error message should name the file and the offset: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let printed = out.stdout.iter().filter(|&&b| b == b'\n').count();
    assert!(
        printed > 1000,
        "only {printed} records printed before the damage"
    );
    assert!(
        full.starts_with(&out.stdout),
        "the records before the damage must print as in the full file"
    );

    // The table prints its pending rows too.
    let out = run(&ours, &[], Some(&cut));
    assert!(!out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains(&format!("| {}", printed - 1)),
        "last row missing"
    );
}

#[test]
fn unsupported_and_invalid_invocations_fail_clearly() {
    let Some(file) = common::reference("setuid/setuid.sf") else {
        return;
    };
    let ours = sysprint_example();
    let cases: [(&[&str], i32, &str); 5] = [
        (&["-f", "type = PE"], 2, "not supported"),
        (&["-i", "s3"], 2, "not supported"),
        (&["-o", "csv"], 1, "-w"),
        (&["-c", "proc.name"], 1, "proc.name"),
        (&["-o", "bogus"], 2, "bogus"),
    ];
    for (args, code, needle) in cases {
        let out = run(&ours, args, Some(&file));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} printed output");
    }
    // A missing path is reported and skipped; the others still print.
    let out = run(&ours, &["-o", "json", "/nonexistent/x.sf"], Some(&file));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "sysprint: /nonexistent/x.sf: skipped: it does not exist\n"
    );
    assert_eq!(out.stdout, stdout_of(&ours, &["-o", "json"], Some(&file)));
    // So is a FIFO (as the official tool skips it), saying what it is; nothing waits
    // for a writer.
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("trace.sf");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let out = run(&ours, &["-o", "json", fifo.to_str().unwrap()], Some(&file));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "sysprint: {}: skipped: it is a FIFO; only regular files and directories are \
             read\n",
            fifo.display()
        )
    );
    assert_eq!(out.stdout, stdout_of(&ours, &["-o", "json"], Some(&file)));
    // a dangling symlink is one, not a missing path
    let dangling = tmp.path().join("gone.sf");
    std::os::unix::fs::symlink(tmp.path().join("nowhere.sf"), &dangling).unwrap();
    let out = run(
        &ours,
        &["-o", "json", dangling.to_str().unwrap()],
        Some(&file),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "sysprint: {}: skipped: it is a symlink to what cannot be looked at (",
            dangling.display()
        )),
        "{stderr}"
    );
}

/// `-w` never names an input: the same path, another spelling, a symlink, a hard link, a
/// file of an input directory, or an input given after another one. Refused before
/// anything is printed; the input is left as it was.
#[test]
fn the_output_is_never_one_of_the_inputs() {
    let Some(original) = common::reference("setuid/setuid.sf") else {
        return;
    };
    let ours = sysprint_example();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("traces");
    std::fs::create_dir(&dir).unwrap();
    let input = dir.join("in1.sf");
    std::fs::copy(&original, &input).unwrap();
    let other = tmp.path().join("other2.sf");
    std::fs::copy(&original, &other).unwrap();
    let link = tmp.path().join("link.sf");
    std::os::unix::fs::symlink(&input, &link).unwrap();
    let hard = tmp.path().join("hard.sf");
    std::fs::hard_link(&input, &hard).unwrap();
    let bytes = std::fs::read(&original).unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let respelled = s(&tmp.path().join("traces/../traces/./in1.sf"));
    let cases: Vec<(String, Vec<String>)> = vec![
        (s(&input), vec![s(&input)]),
        (respelled, vec![s(&input)]),
        (s(&link), vec![s(&input)]),
        (s(&input), vec![s(&link)]),
        (s(&hard), vec![s(&input)]),
        (s(&input), vec![s(&dir)]),
        (s(&input), vec![s(&other), s(&input)]),
    ];
    for format in ["json", "flatjson", "csv"] {
        for (out, inputs) in &cases {
            let mut args = vec!["-o", format, "-w", out.as_str()];
            args.extend(inputs.iter().map(String::as_str));
            let r = run(&ours, &args, None);
            let stderr = String::from_utf8_lossy(&r.stderr);
            assert_eq!(r.status.code(), Some(1), "{args:?}: {stderr}");
            assert!(
                stderr.contains("same file as the input"),
                "{args:?}: {stderr}"
            );
            assert!(r.stdout.is_empty(), "{args:?} printed");
            assert_eq!(
                std::fs::read(&input).unwrap(),
                bytes,
                "{args:?} changed the input"
            );
            assert_eq!(std::fs::read(&other).unwrap(), bytes, "{args:?}");
        }
    }
    // The str table ignores -w: nothing is written, so nothing is refused.
    let r = run(&ours, &["-w", &s(&input)], Some(&input));
    assert!(r.status.success());
    assert_eq!(std::fs::read(&input).unwrap(), bytes);
}

/// A directory's file removed, or replaced by a FIFO, a symlink loop or a socket, after
/// `sysprint DIR` listed it is said and skipped (status 1), as a command-line path that
/// is not a file is: the files after it are still printed. The FIFO is not opened: its
/// writer, blocked until a reader opens it, stays blocked. The listing is over once the
/// first file's output starts; its output (megabytes) fills the pipe this test does not
/// read meanwhile, so the files after it are not opened before they are changed.
#[test]
fn a_file_gone_after_the_listing_is_skipped() {
    let (Some(big), Some(small)) = (
        common::reference("mpm-event/full_capture.sf"),
        common::reference("setuid/setuid.sf"),
    ) else {
        return;
    };
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(&big, dir.join("in1.sf")).unwrap();
    for n in 2..=6 {
        std::fs::copy(&small, dir.join(format!("in{n}.sf"))).unwrap();
    }
    let mut child = Command::new(sysprint_example())
        .args(["-o", "json"])
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).unwrap();
    std::fs::remove_file(dir.join("in2.sf")).unwrap();
    // a FIFO whose writer waits in its open for a reader
    let fifo = tmp.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    std::fs::rename(&fifo, dir.join("in3.sf")).unwrap();
    let released = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let writer = {
        let (fifo, released) = (dir.join("in3.sf"), released.clone());
        std::thread::spawn(move || {
            tx.send(nix::unistd::gettid()).unwrap();
            let w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            released.store(true, std::sync::atomic::Ordering::SeqCst);
            drop(w);
        })
    };
    // the writer waits in its open(2) (openat, 257) before sysprint goes on
    let tid = rx.recv().unwrap();
    let syscall = format!("/proc/self/task/{tid}/syscall");
    while !std::fs::read_to_string(&syscall).is_ok_and(|s| s.starts_with("257 ")) {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let link = tmp.path().join("loop");
    std::os::unix::fs::symlink("in4.sf", &link).unwrap();
    std::fs::rename(&link, dir.join("in4.sf")).unwrap();
    std::fs::remove_file(dir.join("in5.sf")).unwrap();
    let _socket = std::os::unix::net::UnixListener::bind(dir.join("in5.sf")).unwrap();
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let fifo_opened = released.load(std::sync::atomic::Ordering::SeqCst);
    // let the writer go: this test opens the FIFO for reading
    let reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(dir.join("in3.sf"))
        .unwrap();
    writer.join().unwrap();
    drop(reader);
    assert!(!fifo_opened, "sysprint opened the FIFO: {stderr}");
    assert_eq!(status.code(), Some(1), "{stderr}");
    let said = |name: &str, why: &str| {
        let line = format!("sysprint: {}: skipped: {why}", dir.join(name).display());
        assert!(stderr.contains(&line), "{line} not in: {stderr}");
    };
    said(
        "in2.sf",
        "it does not exist (it was removed since it was found)",
    );
    let replaced = "(it was replaced since it was found)";
    said(
        "in3.sf",
        &format!("it is now a FIFO, not a regular file {replaced}"),
    );
    said(
        "in4.sf",
        "it cannot be opened any more (Too many levels of symbolic links (os error 40)) (it was replaced since it was found)",
    );
    said(
        "in5.sf",
        &format!("it is now a socket, not a regular file {replaced}"),
    );
    // the first and the last file were printed whole, nothing else
    let mut printed = first.to_vec();
    printed.extend(rest);
    let alone = |f: &Path| stdout_of(&sysprint_example(), &["-o", "json"], Some(f));
    let mut expected = alone(&dir.join("in1.sf"));
    expected.extend(alone(&dir.join("in6.sf")));
    assert!(
        printed == expected,
        "{}",
        first_difference(&printed, &expected)
    );
}

/// `-w` never writes through a symlink (the library's `O_NOFOLLOW` rule): a link planted at
/// the output's path is refused and what it points to is left alone. A new file is
/// created 0600; an existing regular file is rewritten, as by the official tool; the
/// names of sysprint's own descriptors still work.
#[test]
fn the_output_is_never_written_through_a_symlink() {
    use std::os::unix::fs::PermissionsExt;
    let Some(input) = common::reference("setuid/setuid.sf") else {
        return;
    };
    let ours = sysprint_example();
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let out = tmp.path().join("out.json");
    std::os::unix::fs::symlink(&victim, &out).unwrap();
    let dangling = tmp.path().join("dangling.json");
    std::os::unix::fs::symlink(tmp.path().join("nowhere"), &dangling).unwrap();
    for o in [&out, &dangling] {
        let r = run(
            &ours,
            &["-o", "json", "-w", o.to_str().unwrap()],
            Some(&input),
        );
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("symlink"), "{stderr}");
    }
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(!tmp.path().join("nowhere").exists());

    let json = stdout_of(&ours, &["-o", "json"], Some(&input));
    let fresh = tmp.path().join("fresh.json");
    stdout_of(
        &ours,
        &["-o", "json", "-w", fresh.to_str().unwrap()],
        Some(&input),
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&fresh), 0o600);
    let written = std::fs::read(&fresh).unwrap();
    assert!(written.starts_with(b"[") && written.len() > json.len() / 2);
    // an existing file is rewritten (shorter content leaves nothing of the old behind)
    let old = tmp.path().join("old.json");
    std::fs::write(&old, vec![b'x'; written.len() * 2]).unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
    stdout_of(
        &ours,
        &["-o", "json", "-w", old.to_str().unwrap()],
        Some(&input),
    );
    assert_eq!(std::fs::read(&old).unwrap(), written);
    assert_eq!(mode(&old), 0o644, "an existing file keeps its mode");
    // /dev/stdout is a symlink, but to sysprint's own output
    let csv = stdout_of(&ours, &["-o", "csv", "-w", "/dev/stdout"], Some(&input));
    assert!(csv.len() > 100, "csv to /dev/stdout");
}

/// A file of ours says on stderr what its `sysflow.losses` entry warns of (the official
/// tool does not look): a file its collector never closed, and the counters of records
/// missing from it (not the other outputs' drops); stdout is unchanged.
#[test]
fn a_files_losses_are_said_on_stderr() {
    let Some(scap) = common::reference("alpine/alpine.scap") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sf = dir.path().join("a.sf");
    let config = sysflow::SysFlowConfig {
        scap_input_path: Some(scap),
        file_path: Some(sf.clone()),
        env_overrides: false,
        ..Default::default()
    };
    sysflow::SysFlowDriver::new(config).unwrap().run().unwrap();
    let printed = run(&sysprint_example(), &[], Some(&sf));
    assert!(printed.status.success());
    let quiet = String::from_utf8(printed.stderr.clone()).unwrap();
    assert!(!quiet.contains("did not close"), "{quiet}");

    // the same file as a collector killed while writing it leaves it: the placeholder
    let mut bytes = std::fs::read(&sf).unwrap();
    let at = bytes
        .windows(12)
        .position(|w| w == br#"{"complete":"#)
        .expect("a losses entry");
    let width = sysflow::export::LOSSES_WIDTH;
    // (sink_drops: the other outputs' drops, no gap in this file)
    let mut placeholder = br#"{"complete":false,"file_drops":3,"sink_drops":7}"#.to_vec();
    placeholder.resize(width, b' ');
    bytes[at..at + width].copy_from_slice(&placeholder);
    let killed = dir.path().join("killed.sf");
    std::fs::write(&killed, &bytes).unwrap();
    let k = run(&sysprint_example(), &[], Some(&killed));
    assert!(k.status.success());
    assert_eq!(k.stdout, printed.stdout, "the records print as before");
    let err = String::from_utf8(k.stderr).unwrap();
    let name = killed.display();
    assert!(
        err.contains(&format!(
            "sysprint: {name}: its collector did not close it (\"complete\":false)"
        )),
        "{err}"
    );
    assert!(
        err.lines()
            .any(|l| l == format!("sysprint: {name}: losses: file_drops=3")),
        "{err}"
    );
}

/// A file of ours cut after it was closed, at a block boundary (a valid Avro file, read
/// without error), is said on stderr to be shorter than its collector closed it with; one
/// with a valid block appended, longer.
#[test]
fn a_file_cut_or_grown_at_a_block_boundary_is_said_to_be_so() {
    let Some(scap) = common::reference("mpm-event/full_capture.scap") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // ten copies of the capture one after the other: several blocks of records
    let data = std::fs::read(&scap).unwrap();
    let tenfold = dir.path().join("tenfold.scap");
    std::fs::write(&tenfold, data.repeat(10)).unwrap();
    let sf = dir.path().join("a.sf");
    let config = sysflow::SysFlowConfig {
        scap_input_path: Some(tenfold),
        file_path: Some(sf.clone()),
        env_overrides: false,
        ..Default::default()
    };
    sysflow::SysFlowDriver::new(config).unwrap().run().unwrap();
    let whole = run(&sysprint_example(), &["-o", "json"], Some(&sf));
    assert!(whole.status.success());
    let quiet = String::from_utf8(whole.stderr).unwrap();
    assert!(!quiet.contains("shorter"), "{quiet}");
    let bytes = std::fs::read(&sf).unwrap();
    let l = sysflow::export::FileLosses::of_file(&sf).unwrap().unwrap();
    assert_eq!(l.file_bytes, Some(bytes.len() as u64));
    // the sync marker ends the header and every block: cut after the second block's
    let sync = &bytes[bytes.len() - 16..];
    let ends: Vec<usize> = bytes
        .windows(16)
        .enumerate()
        .filter(|(_, w)| *w == sync)
        .map(|(i, _)| i + 16)
        .collect();
    assert!(ends.len() > 3, "{} blocks", ends.len() - 1);
    let cut = dir.path().join("cut.sf");
    std::fs::write(&cut, &bytes[..ends[2]]).unwrap();
    let r = run(&sysprint_example(), &["-o", "json"], Some(&cut));
    let err = String::from_utf8(r.stderr).unwrap();
    assert!(r.status.success(), "{err}");
    assert!(r.stdout.len() < whole.stdout.len());
    assert!(
        err.contains(&format!(
            "sysprint: {}: {} bytes, shorter than the {} its collector closed it with",
            cut.display(),
            ends[2],
            bytes.len()
        )),
        "{err}"
    );
    // a valid block appended (the second one again) is said too, and the file whole is not
    let mut grown_bytes = bytes.clone();
    grown_bytes.extend_from_slice(&bytes[ends[1]..ends[2]]);
    let grown = dir.path().join("grown.sf");
    std::fs::write(&grown, &grown_bytes).unwrap();
    let r = run(&sysprint_example(), &["-o", "json"], Some(&grown));
    let err = String::from_utf8(r.stderr).unwrap();
    assert!(r.status.success(), "{err}");
    assert!(r.stdout.len() > whole.stdout.len());
    assert!(
        err.contains(&format!(
            "sysprint: {}: {} bytes, longer than the {} its collector closed it with",
            grown.display(),
            grown_bytes.len(),
            bytes.len()
        )),
        "{err}"
    );
    // the last block replaced by a longer one (two valid blocks): no block ends at the
    // byte the collector's last one ended at, and the message does not name that byte as
    // where the foreign records start
    let last = ends[ends.len() - 2];
    let mut replaced_bytes = bytes[..last].to_vec();
    for _ in 0..2 {
        replaced_bytes.extend_from_slice(&bytes[ends[1]..ends[2]]);
    }
    assert!(replaced_bytes.len() > bytes.len());
    let replaced = dir.path().join("replaced.sf");
    std::fs::write(&replaced, &replaced_bytes).unwrap();
    let r = run(&sysprint_example(), &["-o", "json"], Some(&replaced));
    let err = String::from_utf8(r.stderr).unwrap();
    assert!(r.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "it was written to since, and only the records of blocks that end by byte {} can \
             be its collector's",
            bytes.len()
        )),
        "{err}"
    );
    assert!(!quiet.contains("longer"), "{quiet}");
    // in a directory, the unfinished output of a collector killed while replacing a file
    // is skipped, and said
    let d = dir.path().join("d");
    std::fs::create_dir(&d).unwrap();
    std::fs::copy(&sf, d.join("a.1.sf")).unwrap();
    std::fs::copy(&cut, d.join(".a.1.sf.sysflow-4242-0")).unwrap();
    let r = run(&sysprint_example(), &["-o", "json"], Some(&d));
    let err = String::from_utf8(r.stderr).unwrap();
    assert!(r.status.success(), "{err}");
    assert_eq!(r.stdout.len(), whole.stdout.len(), "{err}");
    assert!(
        err.contains("sysflow-4242-0: skipped: the unfinished output"),
        "{err}"
    );
}

/// `-w` with `-o str` is ignored as by the official tool (the table goes to stdout, no
/// file is made) but said on stderr, not silently.
#[test]
fn a_table_output_says_it_ignores_w() {
    let Some(sf) = common::reference("alpine/alpine.sf") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("table.txt");
    let target_s = target.to_str().unwrap();
    let plain = run(&sysprint_example(), &[], Some(&sf));
    let with_w = run(
        &sysprint_example(),
        &["-o", "str", "-w", target_s],
        Some(&sf),
    );
    assert!(with_w.status.success());
    assert_eq!(with_w.stdout, plain.stdout);
    assert!(!target.exists());
    let err = String::from_utf8(with_w.stderr).unwrap();
    assert_eq!(
        err,
        format!(
            "sysprint: -w {target_s} is ignored with -o str (as by the official tool): the \
             table goes to standard output\n{}",
            String::from_utf8(plain.stderr).unwrap()
        )
    );
}
