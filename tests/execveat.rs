//! `execveat` in captures without `trusted_exepath` (CASE-01 and CASE-02 of
//! `../shared/cases/README.md`): the executable is rebuilt as the kernel resolved it —
//! relative to the directory fd, or the fd's own file with `AT_EMPTY_PATH` — and a
//! `trusted_exepath`, when the event has one, is taken as is.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use sysflow::avro::SfReader;
use sysflow::model::{Oid, Record};
use sysflow::{FileReadMode, SysFlowConfig, SysFlowDriver};

fn case(name: &str) -> Option<PathBuf> {
    let p = common::package_root().join("../shared/cases").join(name);
    if p.exists() {
        Some(p)
    } else {
        common::skip(&format!("{} not found", p.display()));
        None
    }
}

/// What the printers show for one non-entity record, as the case README numbers them:
/// (type, ts, tid, op flags, exe, args, file path) with the process as written before it.
type Row = (&'static str, i64, i64, String, String, String, String);

fn rows(scap: &Path) -> Vec<Row> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("case.sf");
    let config = SysFlowConfig {
        scap_input_path: Some(scap.to_owned()),
        file_path: Some(out.clone()),
        exporter_id: "tests".into(),
        drop_mode: false,
        enable_process_flow: false,
        file_only: false,
        file_read_mode: FileReadMode::All,
        env_overrides: false,
        ..Default::default()
    };
    SysFlowDriver::new(config).unwrap().run().unwrap();
    let mut procs: HashMap<Oid, (String, String)> = HashMap::new();
    let mut files = HashMap::new();
    let mut rows = Vec::new();
    for r in SfReader::open(&out).unwrap() {
        let r = r.unwrap();
        let proc_of = |o: &Oid, procs: &HashMap<Oid, (String, String)>| procs[o].clone();
        match &r {
            Record::Process(p) => {
                procs.insert(p.oid, (p.exe.clone(), p.exe_args.clone()));
            }
            Record::File(f) => {
                files.insert(f.oid, f.path.clone());
            }
            Record::ProcessEvent(e) => {
                let (exe, args) = proc_of(&e.proc_oid, &procs);
                let flags = format!("{:?}", e.op_flags);
                rows.push(("PE", e.ts, e.tid, flags, exe, args, String::new()));
            }
            Record::FileFlow(f) => {
                let (exe, args) = proc_of(&f.proc_oid, &procs);
                let flags = format!("{:?}", f.op_flags);
                let path = files[&f.file_oid].clone();
                rows.push(("FF", f.ts, f.tid, flags, exe, args, path));
            }
            Record::Header(_) => {}
            other => panic!("unexpected record {other:?}"),
        }
    }
    rows
}

fn row(t: &'static str, ts: i64, tid: i64, flags: &str, exe: &str, args: &str, path: &str) -> Row {
    (
        t,
        ts,
        tid,
        flags.into(),
        exe.into(),
        args.into(),
        path.into(),
    )
}

const BASE: i64 = 1_700_000_000_000_000_000;

/// The six records of one `execveat` run by a child of bash (pid 100): clone (both sides),
/// exec of `/opt/runner`, then the execveat whose result `exe`/`args` show, the FileFlow of
/// the fd it used and the exit. `t0` is the first record's offset in µs.
fn run(t0: i64, pid: i64, exe: &str, args: &str, fd_path: &str) -> Vec<Row> {
    let us = |n: i64| BASE + (t0 + n) * 1000;
    vec![
        row("PE", us(0), 100, "OpFlags(CLONE)", "/bin/bash", "-bash", ""),
        row("PE", us(1), pid, "OpFlags(CLONE)", "/bin/bash", "-bash", ""),
        row("PE", us(3), pid, "OpFlags(EXEC)", "/opt/runner", "", ""),
        row("PE", us(7), pid, "OpFlags(EXEC)", exe, args, ""),
        row(
            "FF",
            us(5),
            pid,
            "OpFlags(OPEN | TRUNCATE)",
            exe,
            args,
            fd_path,
        ),
        row("PE", us(8), pid, "OpFlags(EXIT)", exe, args, ""),
    ]
}

#[test]
fn case_01_execveat_relative_to_a_directory_fd() {
    let Some(scap) = case("syn_execveat_min.scap") else {
        return;
    };
    let got = rows(&scap);
    // Record 4: PE EXEC at 1700000000000009000, /usr/bin/ls -l; 5 (FF /usr/bin) and 6
    // (EXIT) show /usr/bin/ls too.
    assert_eq!(got[3].1, 1_700_000_000_000_009_000);
    assert_eq!(got, run(2, 400, "/usr/bin/ls", "-l", "/usr/bin"));
}

#[test]
fn case_02_execveat_variants() {
    let Some(scap) = case("syn_execveat.scap") else {
        return;
    };
    let got = rows(&scap);
    let mut want = run(2, 400, "/usr/bin/ls", "-l", "/usr/bin");
    // pid 401: execveat(8 = /usr/bin/id, "", ["id"], AT_EMPTY_PATH).
    want.extend(run(12, 401, "/usr/bin/id", "", "/usr/bin/id"));
    // pid 402: execveat(7, "sh", …) whose exit carries trusted_exepath=/usr/bin/dash.
    want.extend(run(22, 402, "/usr/bin/dash", "-c true", "/usr/bin"));
    assert_eq!(got.len(), 18);
    assert_eq!(got, want);
}
