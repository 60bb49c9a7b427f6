//! A logger for tests that check the library's log lines: it keeps every line.

/// Lines logged so far by this test binary: (level, target, message).
pub static LINES: parking_lot::Mutex<Vec<(log::Level, String, String)>> =
    parking_lot::Mutex::new(Vec::new());

struct Catch;

impl log::Log for Catch {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        LINES
            .lock()
            .push((r.level(), r.target().to_owned(), r.args().to_string()));
    }
    fn flush(&self) {}
}

/// Installs the catching logger (once per test binary), at every level.
pub fn install_logger() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        log::set_logger(&Catch).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
    });
}

/// The lines logged under `target` so far: (level, message).
pub fn lines_of(target: &str) -> Vec<(log::Level, String)> {
    LINES
        .lock()
        .iter()
        .filter(|(_, t, _)| t == target)
        .map(|(l, _, m)| (*l, m.clone()))
        .collect()
}
