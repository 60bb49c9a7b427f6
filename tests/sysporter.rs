//! The `sysporter` example: its conversions (`-r capture.scap -w out.sf`), what a failed
//! run leaves behind, its messages naming its own flags, its signals; and one live
//! capture (`-G` rotation, root and BTF).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// sysporter with `args`, stdin from /dev/null.
fn command(args: &[&Path]) -> Command {
    let mut cmd = Command::new(common::example("sysporter"));
    cmd.args(args)
        // the reference's environment overrides must not change these runs
        .env_remove("SF_K8S_API_URL")
        .env_remove("HOST_ROOT")
        .stdin(Stdio::null());
    cmd
}

fn sysporter(args: &[&Path]) -> Output {
    command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run sysporter")
}

/// `sysporter -r capture -w out --overwrite`.
fn overwrite(capture: &Path, out: &Path) -> Output {
    sysporter(&[
        Path::new("-r"),
        capture,
        Path::new("-w"),
        out,
        Path::new("--overwrite"),
    ])
}

/// A conversion that fails before writing a record (an input that is no capture, or
/// none at all) removes the `-w` file it created, and says the error first, then that
/// no output was written.
#[test]
fn a_failed_conversion_leaves_no_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.scap");
    std::fs::write(&bogus, b"not a capture, not even close").unwrap();
    let missing = dir.path().join("missing.scap");
    for input in [&bogus, &missing] {
        let out = dir.path().join("out.sf");
        let r = sysporter(&[Path::new("-r"), input, Path::new("-w"), &out]);
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert!(!r.status.success(), "{stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert!(
            lines
                .first()
                .is_some_and(|l| l.contains(input.to_str().unwrap()))
                && lines
                    .last()
                    .is_some_and(|l| l.starts_with("sysporter: no output file was written")),
            "{stderr}"
        );
        assert!(
            !out.exists(),
            "a header-only {} was left behind",
            out.display()
        );
    }
}

/// A `-w` directory without its trailing `/` is named a directory, with the way to write
/// into it, not sent to `--overwrite` (which cannot replace a directory).
#[test]
fn a_directory_output_without_its_slash_says_so() {
    let Some(scap) = common::reference("setuid/setuid.scap") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let r = sysporter(&[Path::new("-r"), &scap, Path::new("-w"), dir.path()]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success(), "{stderr}");
    assert!(
        stderr.contains("it is a directory") && !stderr.contains("--overwrite"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// `--overwrite` replaces a user's own read-only file (mode 0400) as it replaces any
/// other of the user's files: the file is renamed over, not written, so its mode plays
/// no part. Run as `nobody` (root ignores file modes); skipped when not run as root.
#[test]
fn an_own_read_only_file_is_replaced_by_a_user() {
    let Some(scap) = common::reference("setuid/setuid.scap") else {
        return;
    };
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP: needs root to run sysporter as another user");
        return;
    }
    let nobody = nix::unistd::User::from_name("nobody")
        .unwrap()
        .expect("a nobody user");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.sf");
    std::fs::write(&out, b"keep me").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o400)).unwrap();
    for p in [dir.path(), out.as_path()] {
        nix::unistd::chown(p, Some(nobody.uid), Some(nobody.gid)).unwrap();
    }
    let r = command(&[
        Path::new("-r"),
        &scap,
        Path::new("-w"),
        &out,
        Path::new("--overwrite"),
    ])
    .uid(nobody.uid.as_raw())
    .gid(nobody.gid.as_raw())
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(r.status.success(), "{:?}: {stderr}", r.status);
    let recs: Vec<_> = sysflow::avro::SfReader::open(&out)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        recs.len() > 1 && matches!(recs[0], sysflow::model::Record::Header(_)),
        "{stderr}"
    );
}

/// Sets (`+i`) or clears (`-i`) a file's immutable attribute with `chattr`; false when
/// this cannot be done here (no `chattr`, a filesystem without the attribute).
fn chattr(op: &str, p: &Path) -> bool {
    Command::new("chattr")
        .arg(op)
        .arg(p)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Clears the immutable and append-only attributes of a file when dropped (a failed test
/// must not leave a file its temporary directory cannot remove).
struct Mutable(PathBuf);

impl Drop for Mutable {
    fn drop(&mut self) {
        chattr("-i", &self.0);
        chattr("-a", &self.0);
    }
}

/// `--overwrite` of an immutable file (which cannot be renamed over) is refused before the
/// conversion, with that reason; a file made immutable while the conversion runs makes
/// its final rename fail: the new output is removed (nothing is left beside the old
/// file, which stays as it was) and the status is 1. Skipped where `chattr +i` cannot be
/// set (not root, a filesystem without the attribute).
#[test]
fn an_output_that_cannot_be_renamed_over_is_kept_and_nothing_left_beside_it() {
    let Some(scap) = common::reference("namespaces/setns.scap") else {
        return;
    };
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.sf");
    std::fs::write(&out, b"keep me").unwrap();
    let _mutable = Mutable(out.clone());
    if !chattr("+i", &out) {
        eprintln!("SKIP: chattr +i cannot be set on {}", out.display());
        return;
    }
    let names = || -> Vec<_> {
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect()
    };
    let r = overwrite(&scap, &out);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("it is immutable (chattr +i), and cannot be renamed over"),
        "{stderr}"
    );
    assert_eq!(names(), ["out.sf"], "{stderr}");
    assert!(chattr("-i", &out));
    // nor a file of an append-only directory (entries are never renamed over there)
    let other = tempfile::tempdir().unwrap();
    let sub = other.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let inner = sub.join("out.sf");
    std::fs::write(&inner, b"keep me").unwrap();
    let _sub_mutable = Mutable(sub.clone());
    assert!(chattr("+a", &sub));
    let r = overwrite(&scap, &inner);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("its directory is append-only (chattr +a)"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(&sub).unwrap().count(), 1, "{stderr}");
    assert!(chattr("-a", &sub));
    // made immutable once the conversion writes its new output beside it
    let bytes = std::fs::read(&scap).unwrap();
    let mut child = overwrite_from_stdin(&out);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&bytes[..bytes.len() / 2]).unwrap();
    let t = std::time::Instant::now();
    while names().len() < 2 {
        assert!(
            t.elapsed().as_secs() < 30,
            "no new output beside the old file"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(chattr("+i", &out));
    stdin.write_all(&bytes[bytes.len() / 2..]).unwrap();
    drop(stdin);
    let r = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot replace {} with the new output (removed; the file was left as it was)",
            out.display()
        )),
        "{stderr}"
    );
    assert_eq!(names(), ["out.sf"], "{stderr}");
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
}

/// A `-w` directory (trailing `/`) that is a file, and a `-w` FIFO to replace, are named
/// for what they are, not by the bare errno (the FIFO is only looked at, not opened: no
/// wait for a reader).
#[test]
fn an_output_that_is_no_directory_or_no_file_says_what_it_is() {
    let Some(scap) = common::reference("setuid/setuid.scap") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("afile");
    std::fs::write(&file, b"keep me").unwrap();
    let mut as_dir = file.clone().into_os_string();
    as_dir.push("/");
    let r = sysporter(&[Path::new("-r"), &scap, Path::new("-w"), Path::new(&as_dir)]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("it exists and is not a directory"),
        "{stderr}"
    );
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let r = overwrite(&scap, &fifo);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("it is a FIFO, and only a regular file is replaced"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
}

/// An existing `-w` file is an error that names sysporter's flag (`--overwrite`), not the
/// library's configuration field; the file is left as it was.
#[test]
fn an_existing_output_names_the_overwrite_flag() {
    let Some(scap) = common::reference("setuid/setuid.scap") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.sf");
    std::fs::write(&out, b"keep me").unwrap();
    let r = sysporter(&[Path::new("-r"), &scap, Path::new("-w"), &out]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success(), "{stderr}");
    assert!(
        stderr.contains("it exists") && stderr.contains("--overwrite"),
        "{stderr}"
    );
    assert!(!stderr.contains("file_overwrite"), "{stderr}");
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    let r = overwrite(&scap, &out);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_ne!(std::fs::read(&out).unwrap(), b"keep me");
}

/// A conversion that replaces its `-w` file (its capture read ahead when the driver is
/// created, the run going on from there) writes the records a conversion into no file
/// writes: nothing of the capture's start is lost or read twice.
#[test]
fn a_replaced_output_holds_the_records_of_a_fresh_one() {
    let Some(scap) = common::reference("mpm-preforked/full_capture.scap") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh.sf");
    let replaced = dir.path().join("replaced.sf");
    std::fs::write(&replaced, b"an older output").unwrap();
    for (out, extra) in [(&fresh, None), (&replaced, Some("--overwrite"))] {
        let mut args = vec![Path::new("-r"), &scap, Path::new("-w"), out];
        args.extend(extra.map(Path::new));
        let r = sysporter(&args);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    }
    let read = |p: &Path| -> Vec<sysflow::model::Record> {
        sysflow::avro::SfReader::open(p)
            .unwrap()
            .skip(1) // the header, which names its file
            .map(Result::unwrap)
            .collect()
    };
    let want = read(&fresh);
    assert!(want.len() > 100, "{}", want.len());
    assert!(
        read(&replaced) == want,
        "the replaced file's records differ"
    );
}

/// `--overwrite` with a `-r` capture that cannot be read at all (absent, a directory, no
/// capture, cut inside its first blocks) fails before the `-w` file is replaced: the file
/// keeps its bytes. A capture from a pipe cannot be read ahead: when it gives no record
/// the file keeps its bytes too.
#[test]
fn an_unreadable_capture_does_not_replace_the_output() {
    let Some(scap) = common::reference("alpine/alpine.scap") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("keep.sf");
    let bogus = dir.path().join("bogus.scap");
    std::fs::write(&bogus, b"not a capture, not even close").unwrap();
    let cut = dir.path().join("cut.scap");
    std::fs::write(&cut, &std::fs::read(&scap).unwrap()[..100]).unwrap();
    let absent = dir.path().join("absent.scap");
    for input in [&absent, &dir.path().to_path_buf(), &bogus, &cut] {
        std::fs::write(&out, b"keep me").unwrap();
        let r = overwrite(input, &out);
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "{}: {stderr}", input.display());
        let name = input.file_name().unwrap().to_string_lossy();
        assert!(stderr.contains(&*name), "{stderr}");
        assert_eq!(
            std::fs::read(&out).unwrap(),
            b"keep me",
            "{} replaced the file",
            input.display()
        );
    }
    let r = command(&[
        Path::new("-r"),
        Path::new("-"),
        Path::new("-w"),
        &out,
        Path::new("--overwrite"),
    ])
    .stdin(Stdio::piped())
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{stderr}");
    // nothing to read ahead, but the output goes beside the old file until the end, and
    // a run that wrote no record leaves it as it was, and says so
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    assert!(stderr.contains("was left as it was"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("sysflow-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// `sysporter -r - -w out --overwrite`, its standard input and error piped.
fn overwrite_from_stdin(out: &Path) -> std::process::Child {
    command(&[
        Path::new("-r"),
        Path::new("-"),
        Path::new("-w"),
        out,
        Path::new("--overwrite"),
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap()
}

/// `--overwrite` with a piped capture damaged partway (no read-ahead can tell) leaves the
/// old file as it was (only a whole output replaces it), and says so; one with no damage
/// replaces it with the whole conversion.
#[test]
fn only_a_whole_piped_conversion_replaces_the_output() {
    let Some(scap) = common::reference("alpine/alpine.scap") else {
        return;
    };
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(&scap).unwrap();
    let out = dir.path().join("out.sf");
    for (len, status) in [(bytes.len() * 3 / 4 + 3, 1), (bytes.len(), 0)] {
        let replaced = status == 0;
        std::fs::write(&out, b"keep me").unwrap();
        let mut child = overwrite_from_stdin(&out);
        child
            .stdin
            .take()
            .unwrap()
            .write_all(&bytes[..len])
            .unwrap();
        let r = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(status), "{stderr}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        if !replaced {
            assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
            assert!(stderr.contains("was left as it was"), "{stderr}");
            continue;
        }
        let records = sysflow::avro::SfReader::open(&out)
            .unwrap()
            .filter(|r| !matches!(r, Ok(sysflow::model::Record::Header(_))))
            .count();
        assert!(records > 5, "{records}: {stderr}");
    }
}

/// A capture cut short: the records before the damage are written and counted, the file
/// says the period lost its input's end, and the exit status is a failure.
#[test]
fn a_truncated_capture_keeps_what_preceded_the_damage_and_says_so() {
    let Some(scap) = common::reference("alpine/alpine.scap") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(&scap).unwrap();
    let cut = dir.path().join("cut.scap");
    std::fs::write(&cut, &bytes[..bytes.len() * 3 / 4 + 3]).unwrap();
    let out = dir.path().join("out.sf");
    let r = sysporter(&[Path::new("-r"), &cut, Path::new("-w"), &out]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success(), "{stderr}");
    // the records of the events: the file's header aside
    let records = sysflow::avro::SfReader::open(&out)
        .unwrap()
        .filter(|r| !matches!(r, Ok(sysflow::model::Record::Header(_))))
        .count();
    assert!(
        stderr.contains(&format!("the {records} records of the events before it")),
        "{records} records in the file; {stderr}"
    );
    let losses = sysflow::export::FileLosses::of_file(&out).unwrap().unwrap();
    assert_eq!(losses.get("input_errors"), 1, "{losses:?}");
}

/// A live capture with `-G 1` writes one file per second, `NAME.<epoch>` (it was refused:
/// `-G` asked for a conversion's rotation), each a complete SysFlow file, and SIGINT ends
/// it with success. Needs root and BTF.
#[test]
fn a_live_capture_rotates_every_g_seconds() {
    if !nix::unistd::geteuid().is_root() || !Path::new("/sys/kernel/btf/vmlinux").exists() {
        common::skip("sysporter -G live: needs root and /sys/kernel/btf/vmlinux");
        return;
    }
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g.sf");
    let mut child = command(&[Path::new("-w"), &out, Path::new("-G"), Path::new("1")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while line.trim() != "sysporter: capturing" {
        line.clear();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "sysporter ended before capturing: {:?}",
            child.wait()
        );
    }
    std::thread::sleep(std::time::Duration::from_millis(3500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
    let mut epochs: Vec<i64> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            let epoch = name
                .strip_prefix("g.sf.")
                .unwrap_or_else(|| panic!("{name}"));
            epoch.parse().unwrap()
        })
        .collect();
    epochs.sort();
    assert!(epochs.len() >= 3, "a file per second for 3.5 s: {epochs:?}");
    assert!(epochs.windows(2).all(|w| w[1] > w[0]), "{epochs:?}");
    for e in &epochs {
        let recs: Vec<_> = sysflow::avro::SfReader::open(dir.path().join(format!("g.sf.{e}")))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(matches!(
            recs.first(),
            Some(sysflow::model::Record::Header(_))
        ));
    }
}

/// A conversion with `--overwrite` stopped by a signal (status 3) leaves the old file as
/// it was and removes its new output; one ended at once by a second signal (status 128 +
/// its number) too: nothing is left beside the old file.
#[test]
fn a_stopped_conversion_does_not_replace_the_output() {
    let Some(scap) = common::reference("namespaces/setns.scap") else {
        return;
    };
    use std::io::Write;
    let bytes = std::fs::read(&scap).unwrap();
    for (signals, status) in [(1, &[Some(3)][..]), (2, &[Some(130), Some(143)])] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.sf");
        std::fs::write(&out, b"keep me").unwrap();
        let mut child = overwrite_from_stdin(&out);
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&bytes[..bytes.len() / 2]).unwrap();
        wait_until_caught(child.id(), nix::sys::signal::Signal::SIGINT);
        std::thread::sleep(std::time::Duration::from_millis(300));
        // the new output is being written beside the old file
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        use nix::sys::signal::{Signal, kill};
        // Two signals, both delivered before the first one's stop can end the run: sent
        // while the process is stopped, then let go (two of the same kind would be
        // delivered as one).
        kill(pid, Signal::SIGSTOP).unwrap();
        for sig in [Signal::SIGINT, Signal::SIGTERM].into_iter().take(signals) {
            kill(pid, sig).unwrap();
        }
        let status_now = signal_and_wait(&mut child, Signal::SIGCONT);
        drop(stdin);
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        // the one handled second ends the process: 128 + its number (the kernel picks
        // the order of two pending signals)
        assert!(status.contains(&status_now.code()), "{signals}: {stderr}");
        assert_eq!(
            std::fs::read(&out).unwrap(),
            b"keep me",
            "{signals}: {stderr}"
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out.sf"], "{signals}: {stderr}");
        if signals == 1 {
            // what it says names no output it did not keep
            assert!(stderr.contains("was left as it was"), "{stderr}");
            assert!(
                stderr.contains("stopped before the capture's end, after "),
                "{stderr}"
            );
            assert!(!stderr.contains("output holds"), "{stderr}");
        }
    }
}

/// A conversion blocked reading a pipe whose writer neither writes nor closes does not
/// see SIGINT (its read does not return); a second SIGINT ends the process with 130 (it
/// needed SIGKILL).
#[test]
fn a_second_signal_ends_a_conversion_blocked_on_a_pipe() {
    let Some(scap) = common::reference("alpine/alpine.scap") else {
        return;
    };
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.sf");
    let mut child = command(&[
        Path::new("-r"),
        Path::new("/dev/stdin"),
        Path::new("-w"),
        &out,
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(&std::fs::read(&scap).unwrap()[..2000])
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let int = || nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    wait_until_caught(child.id(), nix::sys::signal::Signal::SIGINT);
    std::thread::sleep(std::time::Duration::from_millis(500));
    int();
    std::thread::sleep(std::time::Duration::from_millis(500));
    if let Some(s) = child.try_wait().unwrap() {
        // (a reader that one day sees the first signal ends the conversion itself)
        assert!(s.code().is_some(), "{s:?}");
        return;
    }
    int();
    let t = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t.elapsed().as_secs() < 10,
            "still running after the second SIGINT"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130));
    drop(stdin);
}

/// `-r -` reads the capture from standard input, a file, a pipe, a stream socket or a
/// sequenced-packet socket: the records are those of the file.
#[test]
fn a_capture_on_standard_input_converts_as_its_file() {
    let Some(scap) = common::reference("alpine/alpine.scap") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (from_file, from_stdin) = (dir.path().join("file.sf"), dir.path().join("stdin.sf"));
    let r = sysporter(&[Path::new("-r"), &scap, Path::new("-w"), &from_file]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let r = command(&[
        Path::new("-r"),
        Path::new("-"),
        Path::new("-w"),
        &from_stdin,
    ])
    .stdin(std::fs::File::open(&scap).unwrap())
    .output()
    .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let read = |p: &Path| -> Vec<sysflow::model::Record> {
        sysflow::avro::SfReader::open(p)
            .unwrap()
            .skip(1) // the header, which names its file
            .map(Result::unwrap)
            .collect()
    };
    let want = read(&from_file);
    assert!(want.len() > 30, "{}", want.len());
    assert_eq!(read(&from_stdin), want);
    // standard input a socket (socket activation, socat), which cannot be opened by name
    let from_socket = dir.path().join("socket.sf");
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let child = command(&[
        Path::new("-r"),
        Path::new("-"),
        Path::new("-w"),
        &from_socket,
    ])
    .stdin(std::os::fd::OwnedFd::from(theirs))
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut ours = ours;
    std::io::copy(&mut std::fs::File::open(&scap).unwrap(), &mut ours).unwrap();
    drop(ours);
    let r = child.wait_with_output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(read(&from_socket), want);
    // a sequenced-packet socket: the capture in messages of uneven sizes, each larger
    // than the reader's buffer at times; the sender's close is the end
    use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType, send, socketpair};
    let from_packets = dir.path().join("packets.sf");
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .unwrap();
    let child = command(&[
        Path::new("-r"),
        Path::new("-"),
        Path::new("-w"),
        &from_packets,
    ])
    .stdin(theirs)
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let bytes = std::fs::read(&scap).unwrap();
    let mut sizes = [1, 150_000, 7, 65_536, 100_003, 12_345].iter().cycle();
    let mut rest = bytes.as_slice();
    while !rest.is_empty() {
        let n = (*sizes.next().unwrap()).min(rest.len());
        use std::os::fd::AsRawFd;
        assert_eq!(
            send(ours.as_raw_fd(), &rest[..n], MsgFlags::empty()).unwrap(),
            n
        );
        rest = &rest[n..];
    }
    drop(ours);
    let r = child.wait_with_output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(read(&from_packets), want);
}

/// A command line not understood is a failed run (status 1), not the status 2 of an
/// incomplete output; `--help` is status 0.
#[test]
fn a_command_line_not_understood_exits_1() {
    for args in [
        &["--bogus"][..],
        &["-r", "x.scap", "-w"],
        &["-G", "-1", "-w", "o.sf"],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let r = command(&args.iter().map(Path::new).collect::<Vec<_>>())
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
    let r = command(&[Path::new("--help")]).output().unwrap();
    assert_eq!(r.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&r.stdout).contains("--overwrite"));
}

/// `-w -` is refused with what to write instead, not taken as a file named `-`.
#[test]
fn standard_output_as_the_output_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("none.scap");
    let r = command(&[Path::new("-r"), &bogus, Path::new("-w"), Path::new("-")])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("-w - (standard output) is not supported"),
        "{stderr}"
    );
    assert!(!dir.path().join("-").exists());
}

/// Waits (at most 30 s) until process `pid` catches `sig` (`SigCgt` in its
/// `/proc/PID/status`): a signal sent before sysporter installed its handlers would meet
/// the inherited disposition instead, which on a loaded machine can take a while.
fn wait_until_caught(pid: u32, sig: nix::sys::signal::Signal) {
    let bit = 1u64 << (sig as i32 - 1);
    let t = std::time::Instant::now();
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let caught = status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
            .unwrap();
        if caught & bit != 0 {
            return;
        }
        assert!(t.elapsed().as_secs() < 30, "{sig} never caught");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Sends `sig` to `child` and waits (at most 10 s) for it to end.
fn signal_and_wait(
    child: &mut std::process::Child,
    sig: nix::sys::signal::Signal,
) -> std::process::ExitStatus {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, sig).unwrap();
    let t = std::time::Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(t.elapsed().as_secs() < 10, "still running after {sig}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Runs `cmd` (a conversion of standard input into `out`), writes the first `tenths`
/// tenths of `scap` to it and then nothing, sends `sig` once sysporter catches it, and
/// requires a clean stop before the capture's end: status 3, said, and a SysFlow file of
/// more than 5 records, which it returns.
fn stopped_mid_conversion(
    mut cmd: Command,
    scap: &Path,
    tenths: usize,
    sig: nix::sys::signal::Signal,
    out: &Path,
) -> Vec<sysflow::model::Record> {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let bytes = std::fs::read(scap).unwrap();
    stdin
        .write_all(&bytes[..bytes.len() * tenths / 10])
        .unwrap();
    wait_until_caught(child.id(), sig);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let status = signal_and_wait(&mut child, sig);
    drop(stdin);
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    // stopped before the capture's end: said, with its own status
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("stopped before the capture's end"),
        "{stderr}"
    );
    let recs: Vec<_> = sysflow::avro::SfReader::open(out)
        .unwrap()
        .collect::<sysflow::Result<_>>()
        .unwrap();
    assert!(recs.len() > 5, "{recs:?}");
    recs
}

/// Sets SIGHUP's disposition in `cmd`'s child (`SIG_DFL` or `SIG_IGN`) before its exec.
fn hangup_in_child(cmd: &mut Command, disposition: libc::sighandler_t) {
    use std::os::unix::process::CommandExt;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGHUP, disposition);
            Ok(())
        });
    }
}

/// SIGHUP (a closed terminal) stops a conversion cleanly like SIGINT and SIGTERM: a
/// whole SysFlow file of what was read, not a kill, and status 3 (stopped before the
/// capture's end).
#[test]
fn a_hangup_ends_a_conversion_cleanly() {
    let Some(scap) = common::reference("namespaces/setns.scap") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.sf");
    let mut cmd = command(&[Path::new("-r"), Path::new("-"), Path::new("-w"), &out]);
    // a hangup not ignored, whatever this test's own disposition (`nohup cargo test`)
    hangup_in_child(&mut cmd, libc::SIG_DFL);
    // the capture's header and 60% of its events; the writer then stays silent
    let recs = stopped_mid_conversion(cmd, &scap, 6, nix::sys::signal::Signal::SIGHUP, &out);
    assert!(
        matches!(recs.first(), Some(sysflow::model::Record::Header(_))),
        "{recs:?}"
    );
}

/// A hangup ignored when sysporter starts (`nohup`) stays ignored: the conversion goes on
/// until SIGINT.
#[test]
fn an_ignored_hangup_stays_ignored() {
    let Some(scap) = common::reference("namespaces/setns.scap") else {
        return;
    };
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.sf");
    let mut cmd = command(&[Path::new("-r"), Path::new("-"), Path::new("-w"), &out]);
    hangup_in_child(&mut cmd, libc::SIG_IGN);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let bytes = std::fs::read(&scap).unwrap();
    stdin.write_all(&bytes[..bytes.len() / 2]).unwrap();
    wait_until_caught(child.id(), nix::sys::signal::Signal::SIGINT);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert!(
        child.try_wait().unwrap().is_none(),
        "ended by an ignored SIGHUP"
    );
    let status = signal_and_wait(&mut child, nix::sys::signal::Signal::SIGINT);
    drop(stdin);
    assert_eq!(status.code(), Some(3));
}

/// A stop signal that comes while the driver is made (here: one already pending at exec)
/// reaches the handlers installed after it: the conversion stops cleanly (status 3), the
/// file `--overwrite` was to replace is left as it was and nothing is left beside it.
/// With the signal's default action it would end the process at once, without the
/// message, and beside the old file once the new one was created.
#[test]
fn a_stop_signal_while_the_driver_is_made_stops_the_conversion_cleanly() {
    let Some(scap) = common::reference("namespaces/setns.scap") else {
        return;
    };
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.sf");
    std::fs::write(&out, b"keep me").unwrap();
    let mut cmd = command(&[
        Path::new("-r"),
        &scap,
        Path::new("-w"),
        &out,
        Path::new("--overwrite"),
    ]);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            // pending across exec, delivered once sysporter unblocks it
            libc::raise(libc::SIGTERM);
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{:?}: {stderr}", o.status);
    assert!(
        stderr.contains("stopped before the capture's end"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me", "{stderr}");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["out.sf"], "{stderr}");
}

/// Stop signals blocked in the mask sysporter starts with (a mask survives exec: some
/// supervisors and shells leave signals blocked) still stop a conversion cleanly: it
/// unblocks them, or only SIGKILL would end it, without the file's end.
#[test]
fn stop_signals_blocked_at_start_still_stop_a_conversion() {
    let Some(scap) = common::reference("namespaces/setns.scap") else {
        return;
    };
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.sf");
    let mut cmd = command(&[Path::new("-r"), Path::new("-"), Path::new("-w"), &out]);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
                libc::sigaddset(&mut set, sig);
            }
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            Ok(())
        });
    }
    stopped_mid_conversion(cmd, &scap, 5, nix::sys::signal::Signal::SIGTERM, &out);
}
