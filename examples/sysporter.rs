//! `sysporter`: the SysFlow collector command line, with the reference collector's flags.
//!
//! ```text
//! sysporter [-r capture.scap] {-w file|dir/ | -u socket} [-e exporterID] [-G secs]
//!           [-s ratio] [-c] [-m flow|consume|nofiles] [-p cri.sock] [--docker docker.sock]
//!           [-t ms] [-d] [-v] [-h]
//! ```
//!
//! Without `-r` it captures live until SIGINT, SIGTERM or SIGHUP (unless SIGHUP was
//! ignored when it started, as under `nohup`), even when they were blocked in the signal
//! mask it started with (it unblocks them). `-r -` reads the
//! capture from standard input; `-w -` is refused (the output is a file or, with `-u`, a
//! socket; `-w ./-` names a file `-`). The environment overrides of the
//! reference apply (ENABLE_DROP_MODE, ENABLE_PROC_FLOW, FILE_ONLY, FILE_READ_MODE, NODE_IP,
//! ENABLE_STATS, HOST_ROOT, SF_K8S_API_URL and SF_K8S_API_CERT for the Kubernetes API,
//! ...). Differences from the reference: `-G` with `-r` rotates the output by capture time
//! (the reference ignores it); `-k` accepts only `ebpf-core` (the library has its own CO-RE
//! probe); `-t` defaults to 1000 ms (the reference's default is 30 ms).
//!
//! Exit status: 0; 1 for a run that failed (with its error on stderr), and for a
//! command line that is not understood; 2 for a conversion (`-r`) that read its whole
//! capture but whose outputs could not take every record (a full disk, a socket reader
//! gone: `sink_drops`): the output is incomplete; 3 for a conversion stopped (a signal)
//! before its capture's end: the output is whole, of the events read until the stop
//! (`input_stopped` in its `sysflow.losses`). A conversion that ends with no output file
//! (a full disk from the start, an old file `--overwrite` left in place) says so. Every
//! run prints its nonzero loss counters on stderr. A conversion ended at once by a second
//! signal removes the new file `--overwrite` was writing beside the old one.

use clap::Parser;
use nix::sys::signal::Signal;
use std::path::PathBuf;
use std::process::ExitCode;
use sysflow::{CollectionMode, SysFlowConfig, SysFlowDriver, SysFlowError};

#[derive(Parser, Debug)]
#[command(
    name = "sysporter",
    about = "SysFlow collector: live capture or scap conversion into SysFlow",
    disable_version_flag = true
)]
struct Args {
    /// The scap file to read (offline; `-` for standard input); without it, capture live.
    #[arg(short = 'r')]
    scap: Option<PathBuf>,
    /// The SysFlow file, or directory (trailing '/': files named by epoch), to write. A live
    /// capture rotates its output (every 300 s, or -G): a file name gets the epoch of each
    /// period appended (`NAME.<epoch>`).
    #[arg(short = 'w')]
    file: Option<PathBuf>,
    /// The unix socket (SOCK_SEQPACKET) to stream records to.
    #[arg(short = 'u')]
    socket: Option<PathBuf>,
    /// Exporter id stored in the header (default: the host name; offline, the capture's).
    #[arg(short = 'e')]
    exporter: Option<String>,
    /// Rotate the output every this many seconds (live: default 300; with -r, rotate the
    /// conversion by the capture's time). Appends an epoch to the file name.
    #[arg(short = 'G')]
    rotate: Option<u32>,
    /// Sampling ratio for syscall drops (1 = no drops).
    #[arg(short = 's')]
    sampling: Option<u32>,
    /// Falco-style filter expression.
    #[arg(short = 'f')]
    filter: Option<String>,
    /// Only record events of processes in containers.
    #[arg(short = 'c')]
    containers_only: bool,
    /// Collection mode: flow (default), consume, nofiles.
    #[arg(short = 'm')]
    mode: Option<String>,
    /// CRI runtime socket for container metadata (replaces the default list).
    #[arg(short = 'p')]
    cri: Option<PathBuf>,
    /// The Docker-compatible API socket (Docker, podman) for container metadata; replaces
    /// the default list. An extension: the reference has no such flag.
    #[arg(long = "docker")]
    docker: Option<PathBuf>,
    /// Timeout of one call to a container runtime, in milliseconds (default 1000).
    #[arg(short = 't')]
    cri_timeout: Option<u32>,
    /// Driver type (only ebpf-core: the library's own probe).
    #[arg(short = 'k')]
    driver: Option<String>,
    /// Log configuration file (accepted and ignored, as by the reference).
    #[arg(short = 'l')]
    _log_conf: Option<PathBuf>,
    /// Print statistics (table sizes, records written) at rotation and at the end.
    #[arg(short = 'd')]
    stats: bool,
    /// Print the version and exit.
    #[arg(short = 'v')]
    version: bool,
    /// Replace an existing `-w` file (otherwise it is an error), at the end of the run
    /// and only with a whole output (it is written beside it, then renamed over it): a
    /// run that fails, is stopped, or drops records leaves it as it was. Only a regular
    /// file of this user with no other hard link is replaced. With -G, files are named
    /// by their time and never replace one (a taken name gets a -1, -2, ... suffix). An
    /// extension.
    #[arg(long = "overwrite")]
    overwrite: bool,
    /// Permission bits of the files written, in octal (default 600). An extension.
    #[arg(long = "file-mode", value_parser = octal)]
    file_mode: Option<u32>,
}

/// The exit status of a conversion that ran to its end but whose outputs dropped
/// records (1 is a failed run).
const INCOMPLETE_OUTPUT: u8 = 2;
/// The exit status of a conversion stopped before its capture's end.
const STOPPED_CONVERSION: u8 = 3;

fn octal(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s, 8).map_err(|e| format!("{s:?} is not an octal mode: {e}"))
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("sysporter: {msg}");
    ExitCode::FAILURE
}

/// A library error as this command line says it: its options rather than the
/// configuration fields they set (`--overwrite`, not `file_overwrite`).
fn describe(e: &SysFlowError) -> String {
    match e {
        SysFlowError::OutputExists { path, .. } if path.is_dir() => format!(
            "cannot create output file {}: it is a directory (end the path with '/' for \
             files named by their start time in it) (error code {:?})",
            path.display(),
            e.code()
        ),
        SysFlowError::OutputExists { path, .. } => match std::fs::symlink_metadata(path) {
            // nothing --overwrite would replace either
            Ok(m) if !m.is_file() => format!(
                "cannot create output file {}: it exists and is {} (--overwrite replaces \
                 only a regular file) (error code {:?})",
                path.display(),
                sysflow::export::file_type_name(m.file_type()),
                e.code()
            ),
            _ => format!(
                "cannot create output file {}: it exists (add --overwrite to replace it) \
                 (error code {:?})",
                path.display(),
                e.code()
            ),
        },
        e => format!("{e} (error code {:?})", e.code()),
    }
}

fn main() -> ExitCode {
    // a command line not understood is a failed run (1), not an incomplete output (2,
    // clap's own status for usage errors)
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if args.version {
        eprintln!(
            " Version: {} Avro Schema Version: {}",
            SysFlowDriver::version(),
            sysflow::model::SCHEMA_VERSION
        );
        return ExitCode::SUCCESS;
    }
    let mut config = SysFlowConfig {
        app_name: "sysporter".into(),
        ..Default::default()
    };
    if args.file.is_none() && args.socket.is_none() {
        return fail("one of -w (file) or -u (socket) is required; see -h");
    }
    if let Some(d) = &args.driver {
        if args.scap.is_some() {
            return fail("cannot set both -r and -k at the same time");
        }
        if !d.eq_ignore_ascii_case("ebpf-core") {
            return fail(format!(
                "-k {d} is not supported: this collector uses its own CO-RE eBPF probe (ebpf-core)"
            ));
        }
    }
    // `-r -`: the capture on standard input (a pipe or a socket is read as it comes)
    config.scap_input_path = args.scap.map(|p| {
        if p.as_os_str() == "-" {
            PathBuf::from("/dev/stdin")
        } else {
            p
        }
    });
    if args.file.as_ref().is_some_and(|p| p.as_os_str() == "-") {
        return fail(
            "-w - (standard output) is not supported: the output is a file (-w ./- names a \
             file '-') or, with -u, a unix socket",
        );
    }
    config.file_path = args.file;
    config.file_overwrite = args.overwrite;
    if let Some(m) = args.file_mode {
        config.file_mode = m;
    }
    config.socket_path = args.socket;
    if let Some(e) = args.exporter {
        config.exporter_id = e;
    }
    if let Some(g) = args.rotate {
        if g < 1 {
            return fail("file duration (-G) must be higher than 0");
        }
        config.rotate_interval = g;
        // a live capture always rotates; a conversion only when asked
        config.rotate_offline = config.scap_input_path.is_some();
    }
    if let Some(s) = args.sampling {
        config.sampling_ratio = s;
    }
    config.falco_filter = args.filter;
    config.filter_containers = args.containers_only;
    if let Some(m) = args.mode {
        config.collection_mode = match m.to_ascii_lowercase().as_str() {
            "flow" => CollectionMode::Flow,
            "consume" => CollectionMode::Consumer,
            "nofiles" => CollectionMode::NoFiles,
            other => return fail(format!("collection mode not recognized: {other}")),
        };
    }
    config.cri_path = args.cri;
    config.docker_path = args.docker;
    if let Some(t) = args.cri_timeout {
        if t < 1 {
            return fail("CRI timeout (-t) must be higher than 0");
        }
        config.cri_timeout = std::time::Duration::from_millis(u64::from(t));
    }
    if args.stats {
        config.enable_stats = true;
    }
    let mut logger =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    // debugMode (DRIVER_LOG=1): the driver's debug lines, under its app_name target
    if config.debug_mode || std::env::var("DRIVER_LOG").as_deref() == Ok("1") {
        logger.filter_module(&config.app_name, log::LevelFilter::Debug);
    }
    logger.init();
    // an output file past `ulimit -f` is a counted loss, not a kill by SIGXFSZ
    // SAFETY: ignoring a signal installs no handler code.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    // The stop signals are held (blocked) until their handlers are installed: one that
    // came while `new()` created the output would meet the default action and leave a
    // conversion's new file beside the one it was to replace. `new()` waits for nothing
    // (a socket reader is connected to without blocking), so nothing waits on them.
    // Whatever blocked them before (a signal mask survives exec) is undone below, or
    // only SIGKILL, which loses the file's end, would stop the run.
    let mut stops = nix::sys::signal::SigSet::empty();
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        stops.add(sig);
    }
    if let Err(e) = stops.thread_block() {
        return fail(format!("cannot hold the stop signals: {e}"));
    }

    let mut driver = match SysFlowDriver::new(config) {
        Ok(d) => d,
        Err(e) => return fail(describe(&e)),
    };
    // SIGINT, SIGTERM and SIGHUP (a closed terminal) stop the capture cleanly (open flows
    // are flushed), a conversion reading a pipe or FIFO whose writer neither writes nor
    // closes too. In a conversion a second one ends the process at once (status 128 +
    // the signal), without the flush, unless the output is settled by then; in a live
    // capture a second signal (a shell's Ctrl-C and its trap's kill, `timeout`'s two
    // deliveries) must not cut its clean stop short.
    let flag = driver.exit_handle().flag();
    // set once run() returned: a second signal then ends nothing (the output is settled)
    let finished = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let converting = driver.config().scap_input_path.is_some();
    // the new file written to replace the -w file at the end: a process ended at once
    // removes it first (the old file stays whole)
    let unfinished: Option<std::ffi::CString> = driver.unfinished_output().and_then(|p| {
        use std::os::unix::ffi::OsStrExt;
        std::ffi::CString::new(p.as_os_str().as_bytes()).ok()
    });
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        // a hangup that was ignored when we started (`nohup`) stays ignored
        if sig == signal_hook::consts::SIGHUP && ignored(sig) {
            continue;
        }
        if converting {
            let (flag, unfinished, finished) = (flag.clone(), unfinished.clone(), finished.clone());
            // SAFETY: the action only loads atomics and calls unlink(2) and _exit(2),
            // both async-signal-safe, on a string made before.
            let r = unsafe {
                signal_hook::low_level::register(sig, move || {
                    use std::sync::atomic::Ordering::SeqCst;
                    if flag.load(SeqCst) && !finished.load(SeqCst) {
                        // The new output is removed first; if it is gone already, the run
                        // has settled it (renamed over the old file, or removed it): the
                        // run is ending and says how, so this signal ends nothing (an
                        // exit status of 128 + sig would say the old file was kept).
                        if let Some(p) = &unfinished
                            && libc::unlink(p.as_ptr()) != 0
                        {
                            return;
                        }
                        libc::_exit(128 + sig);
                    }
                })
            };
            if let Err(e) = r {
                return fail(format!("cannot install signal handler: {e}"));
            }
        }
        if let Err(e) = signal_hook::flag::register(sig, flag.clone()) {
            return fail(format!("cannot install signal handler: {e}"));
        }
    }
    // the handlers are in place: a stop signal held meanwhile is delivered to them now,
    // before any thread starts (threads inherit the mask)
    if let Err(e) = stops.thread_unblock() {
        return fail(format!("cannot unblock the stop signals: {e}"));
    }
    // A live capture says on stderr when it takes events in: a script that starts the
    // work it wants captured waits for that line.
    if driver.config().scap_input_path.is_none() {
        let exit = driver.exit_handle();
        std::thread::spawn(move || {
            if exit.wait_capturing(std::time::Duration::MAX) {
                eprintln!("sysporter: capturing");
            }
        });
    }
    let result = driver.run();
    finished.store(true, std::sync::atomic::Ordering::SeqCst);
    match result {
        Ok(s) => {
            if driver.config().enable_stats {
                log::info!(
                    "done: {} events, {} records delivered to the sinks, {} dropped by them, {} lost in the kernel, \
                     {} IPv6 flows omitted",
                    s.events,
                    s.sinks.records,
                    s.sinks.dropped,
                    s.source_drops,
                    s.omitted_ipv6_flows
                );
            }
            say_losses(&s);
            if converting {
                say_missing_output(driver.config(), &s);
            }
            // A one-shot conversion whose outputs could not take every record (a full
            // disk, a socket reader gone) made an incomplete output: a script must not
            // take it for a whole one. A live capture's losses are its counters' to tell.
            if converting && s.sinks.dropped > 0 {
                eprintln!(
                    "sysporter: the output is incomplete: its outputs dropped {} records \
                     (sink_drops)",
                    s.sinks.dropped
                );
                return ExitCode::from(INCOMPLETE_OUTPUT);
            }
            // stopped before the capture's end: a script must not take the output for
            // the whole capture's
            if converting && s.input_stopped > 0 {
                if kept_no_file(driver.config(), &s) {
                    eprintln!(
                        "sysporter: the conversion was stopped before the capture's end, \
                         after {} events (input_stopped)",
                        s.events
                    );
                } else {
                    eprintln!(
                        "sysporter: the conversion was stopped before the capture's end: the \
                         output holds the records of the {} events read until then \
                         (input_stopped)",
                        s.events
                    );
                }
                return ExitCode::from(STOPPED_CONVERSION);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            // the error first, then what it left behind
            let code = fail(describe(&e));
            let summary = driver.summary();
            if let Some(s) = &summary {
                say_losses(s);
                say_missing_output(driver.config(), s);
            }
            // a conversion cut short by damage wrote what preceded it: say so
            if let Some(s) = summary.filter(|s| s.input_errors > 0)
                && driver.config().file_path.is_some()
            {
                // the records of the events, not the headers (one per output period)
                let records = s.sinks.records.saturating_sub(s.sinks.periods);
                if records > 0 && !kept_no_file(driver.config(), &s) {
                    eprintln!(
                        "sysporter: the capture ended in damage: the {records} records of \
                         the events before it were written; the file's losses say \
                         \"input_errors\":1"
                    );
                }
            }
            code
        }
    }
}

/// Whether a run with a file output kept no file of it (none could be created, or the
/// file `--overwrite` was to replace was left as it was, its new one removed): what the
/// run wrote is not anywhere to be read.
fn kept_no_file(config: &SysFlowConfig, s: &sysflow::RunSummary) -> bool {
    config.file_path.is_some() && s.sinks.files_written == 0
}

/// Says so when a conversion with a file output ends without one: it could never be
/// created (a full disk), or the file `--overwrite` was to replace was left as it was.
fn say_missing_output(config: &SysFlowConfig, s: &sysflow::RunSummary) {
    let Some(path) = &config.file_path else {
        return;
    };
    if s.sinks.files_written > 0 || path.as_os_str().as_encoded_bytes().ends_with(b"/") {
        return;
    }
    if config.file_overwrite && path.exists() {
        eprintln!("sysporter: {} was left as it was", path.display());
    } else if !path.exists() {
        eprintln!("sysporter: no output file was written ({})", path.display());
    }
}

/// Whether signal `sig` is ignored (`SIG_IGN`), as `nohup` leaves SIGHUP.
fn ignored(sig: i32) -> bool {
    // SAFETY: a query of the disposition (no new action) into a zeroed struct.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut old) == 0 && old.sa_sigaction == libc::SIG_IGN
    }
}

/// Every nonzero loss counter of the run, whatever the logging (each output period's
/// also in its file's `sysflow.losses`).
fn say_losses(s: &sysflow::RunSummary) {
    let losses: Vec<String> = s
        .losses()
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{k}={n}"))
        .collect();
    if !losses.is_empty() {
        eprintln!("sysporter: losses: {}", losses.join(" "));
    }
}
