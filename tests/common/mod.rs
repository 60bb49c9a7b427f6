//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

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
