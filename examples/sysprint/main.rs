//! `sysprint`: prints SysFlow trace files as a table, JSON or CSV — the Rust counterpart of
//! the official Python `sysprint` (PyPI `sysflow-tools` 0.6.1).
//!
//! ```text
//! sysprint [-o str|json|flatjson|csv] [-w FILE] [-c FIELDS] [-A] [-k|-K] [-l] PATH...
//! cargo run --release --example sysprint -- -o json trace.sf
//! ```
//!
//! * `PATH`: trace files, or directories (their regular files, not recursive, ordered by
//!   the digits of their paths as the official tool orders them). Each file is printed
//!   on its own: its own entity tables and its own record numbers.
//! * `-o str` (default): a table on stdout, at the width of the terminal on stdin, stdout
//!   or stderr (80 columns when none is a terminal). `-o json`: one nested JSON object
//!   per line; `-o flatjson`: the same with dotted keys; `-o csv` (needs `-w`).
//! * `-w FILE`: output file for json, flatjson (one JSON array) and csv; ignored by str,
//!   as by the official tool, with a note on stderr saying so.
//!   As in the official tool, the file is rewritten for each input file, so with several
//!   inputs it ends up holding the last one's records. Unlike the official tool, sysprint
//!   refuses (before printing anything) an output that is one of its input files, under
//!   any spelling, symlink or hard link, and never writes through a symlink at `FILE`
//!   (`O_NOFOLLOW`, as the library's file sink): both are errors (status 1). The names of
//!   its own descriptors (`/dev/stdout`, `/dev/stderr`, `/dev/fd/N`, `/proc/self/fd/N`)
//!   are accepted. A new file is created with mode `0600` (records carry command lines);
//!   an existing regular file keeps its mode and is rewritten.
//! * `-c a,b,…`: the keys to print (`-l` lists them); unknown names print as `""` in
//!   json/csv and are an error in str. `-A`: all keys (overrides `-c`). `-k` adds the pod
//!   name to the default table columns; `-K` shows Kubernetes event columns instead.
//! * `-l`: list the attributes. `-v`: version.
//!
//! Only events and flows are printed; each is joined with its process, parent process,
//! container, pod and files (by OID / FOID) as they stand when it is read; a header record
//! clears those tables.
//!
//! Compatibility: on the reference corpus and on the published traces of
//! `../shared/cases` `json`, `flatjson`, `csv`, `-l` and the default `str` table are
//! byte-identical to the official tool's. Differences, all deliberate or
//! at the edges:
//!
//! * Errors (a truncated or corrupt file, a record type the official tool cannot print
//!   such as `NetworkEvent`, an unwritable `-w` file) stop the run like the official tool
//!   does, but print `sysprint: error: …` naming the file (and, for damaged data, the
//!   byte offset) and exit with status 1 (the official tool exits 0). Every record before the damage is printed
//!   first, including a pending partial table in str mode, and a `-w` JSON array is
//!   closed (the official tool loses both). A path that is neither a file nor a
//!   directory is reported and skipped, and the exit status becomes 1.
//! * A file whose schema layout cannot be read with today's meanings (the 2019 pre-release
//!   layout, with process events under the name `ProcessFlow` and other opFlags bits, or
//!   any union member whose fields do not fit its SysFlow record) is refused before any
//!   output with `unsupported SysFlow schema layout: …` (status 1). The official tool
//!   prints no records for the pre-release layout either, but exits 0.
//! * A file flow whose schema has no `openFlags` prints `file.openflags` as `""` (absent,
//!   like a missing `fd`); the official tool stops with an error at such a record.
//! * Not supported: SFQL filters (`-f`) and S3 input (`-i s3`, `-e`, `-p`, `-a`, `-s`,
//!   `--secure`); they are rejected with an error (status 2) instead of being ignored.
//! * Invalid UTF-8 in a string is decoded with replacement characters (the official tool
//!   stops at that record).
//! * The str table counts characters, not display widths (as the reference does without
//!   `wcwidth`), and does not discount ANSI escape sequences inside values.
//! * The Python `repr` used for pod lists in csv escapes non-printable characters from an
//!   approximate table (unassigned code points are not tracked).
//! * `-v` prints this program's version.

mod fields;
mod flatten;
mod format_csv;
mod format_json;
mod format_str;
mod inputs;
mod output;
mod time;

use clap::{Parser, ValueEnum};
use fields::{DEFAULT_COLUMNS, K8S_EVENT_COLUMNS, Selected};
use flatten::{Flat, Linker, SchemaInfo};
use format_csv::CsvFormat;
use format_json::JsonFormat;
use format_str::{StrFormat, TableSpec};
use inputs::InputError;
use output::Inputs;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use sysflow::avro::SfReader;

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Output {
    /// Table.
    Str,
    /// JSON with dotted keys.
    Flatjson,
    /// Nested JSON.
    Json,
    /// CSV (needs -w).
    Csv,
}

/// Input kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum InputKind {
    /// Local files and directories.
    Local,
    /// S3 buckets (not supported).
    S3,
}

/// sysprint: a human-readable printer and format converter for SysFlow captures.
#[derive(Parser, Debug)]
#[command(name = "sysprint", infer_long_args = true, disable_version_flag = true)]
struct Cli {
    /// Trace files or directories.
    #[arg(value_name = "path", required_unless_present_any = ["list", "version"])]
    paths: Vec<PathBuf>,
    /// Input type.
    #[arg(short = 'i', long = "input", value_enum, default_value = "local")]
    input: InputKind,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "str")]
    output: Output,
    /// Output file path (json, flatjson, csv): created 0600, or rewritten if it exists;
    /// never one of the input files, never written through a symlink (/dev/stdout,
    /// /dev/fd/N are accepted).
    #[arg(short = 'w', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,
    /// Comma-separated list of SysFlow fields to print.
    #[arg(short = 'c', long = "fields", value_name = "FIELDS")]
    fields: Option<String>,
    /// Filter expression (SFQL; not supported).
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    filter: Option<String>,
    /// List available record attributes.
    #[arg(short = 'l', long = "list")]
    list: bool,
    /// Add pod related fields to the table.
    #[arg(short = 'k', long = "k8s", conflicts_with = "k8sevents")]
    k8s: bool,
    /// Use Kubernetes event fields in the table.
    #[arg(short = 'K', long = "k8sevents")]
    k8sevents: bool,
    /// Print all available fields.
    #[arg(short = 'A', long = "allfields")]
    allfields: bool,
    /// S3 server address (not supported).
    #[arg(short = 'e', long = "s3endpoint", value_name = "S3ENDPOINT")]
    s3endpoint: Option<String>,
    /// S3 server port (not supported).
    #[arg(short = 'p', long = "s3port", value_name = "S3PORT")]
    s3port: Option<String>,
    /// S3 access key (not supported).
    #[arg(short = 'a', long = "s3accesskey", value_name = "S3ACCESSKEY")]
    s3accesskey: Option<String>,
    /// S3 secret key (not supported).
    #[arg(short = 's', long = "s3secretkey", value_name = "S3SECRETKEY")]
    s3secretkey: Option<String>,
    /// Whether the S3 connection uses TLS (not supported).
    #[arg(long = "secure", value_name = "SECURE", num_args = 0..=1)]
    secure: Option<Option<String>>,
    /// Print version information.
    #[arg(short = 'v', long = "version")]
    version: bool,
}

/// Why the run stopped early.
enum Stop {
    /// The reader of our output went away (`sysprint … | head`): stop quietly.
    BrokenPipe,
    /// An error to report.
    Fail(String),
    /// A file that went away or became something else since it was found to be a regular
    /// file (removed, renamed over by a FIFO): said and skipped, as a path that is
    /// neither a file nor a directory is, and the run goes on.
    Gone(String),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Stop::BrokenPipe
        } else {
            Stop::Fail(format!("writing output: {e}"))
        }
    }
}

/// Where each file's output goes.
enum Dest {
    Stdout,
    /// Rewritten for every input file.
    File(PathBuf),
}

/// Where one input file's output goes.
enum Sink<'o, W: Write> {
    Stdout(&'o mut W),
    File { out: BufWriter<File>, path: PathBuf },
}

impl<W: Write> Sink<'_, W> {
    fn file_error(path: &Path, e: io::Error) -> Stop {
        Stop::Fail(format!("cannot write {}: {e}", path.display()))
    }

    /// Writes and empties `buf`.
    fn write(&mut self, buf: &mut Vec<u8>) -> Result<(), Stop> {
        match self {
            Sink::Stdout(w) => w.write_all(buf)?,
            Sink::File { out, path } => {
                out.write_all(buf).map_err(|e| Self::file_error(path, e))?
            }
        }
        buf.clear();
        Ok(())
    }

    /// Flushes an output file (stdout is flushed once, at the end).
    fn close(self) -> Result<(), Stop> {
        match self {
            Sink::Stdout(_) => Ok(()),
            Sink::File { mut out, path } => out.flush().map_err(|e| Self::file_error(&path, e)),
        }
    }
}

/// The formatter of the chosen output.
enum Format {
    /// JSON objects; `array` when written to a file.
    Json {
        fmt: JsonFormat,
        array: bool,
    },
    Csv(CsvFormat),
    Str(StrFormat),
}

/// Formats the records of one input file after another.
struct Printer {
    format: Format,
    dest: Dest,
    /// Every input file of the run: the output file is never one of them.
    inputs: Inputs,
}

/// Output buffered before each write to the destination.
const FLUSH_BYTES: usize = 1 << 16;

/// Says on stderr what a file's `sysflow.losses` entry (written by this library's
/// collectors; the official tool does not look) tells a reader to beware of: a file its
/// collector never closed, a file cut since it was closed (shorter than its
/// `file_bytes`) or grown since (longer), and the counters of records missing from it
/// ([`sysflow::export::FileLosses::gaps`]). `len`: the length of the file being read (of
/// the opened file, not of whatever its path names by now).
fn warn_losses<R: std::io::Read>(path: &Path, reader: &SfReader<R>, len: Option<u64>) {
    let Some(v) = reader.user_metadata(sysflow::export::LOSSES_KEY) else {
        return;
    };
    let name = path.display().to_string();
    match sysflow::export::FileLosses::parse(v, &name) {
        Ok(l) => {
            if !l.complete {
                eprintln!(
                    "sysprint: {name}: its collector did not close it (\"complete\":false): \
                     it may end early and its losses are not known"
                );
            }
            // a cut at a block boundary, or a valid block appended, leaves a valid Avro
            // file: only its length tells
            if let (Some(want), Some(len)) = (l.file_bytes, len) {
                if len < want {
                    eprintln!(
                        "sysprint: {name}: {len} bytes, shorter than the {want} its collector \
                         closed it with (\"file_bytes\"): it was cut since, and its last \
                         records are missing"
                    );
                } else if len > want {
                    eprintln!(
                        "sysprint: {name}: {len} bytes, longer than the {want} its collector \
                         closed it with (\"file_bytes\"): it was written to since, and only \
                         the records of blocks that end by byte {want} can be its collector's"
                    );
                }
            }
            let nonzero: Vec<String> = l.gaps().map(|(k, n)| format!("{k}={n}")).collect();
            if !nonzero.is_empty() {
                eprintln!("sysprint: {name}: losses: {}", nonzero.join(" "));
            }
        }
        Err(e) => eprintln!("sysprint: {e}"),
    }
}

/// Opens `path`, found to be a regular file (listed in a directory, or named on the
/// command line), for reading and returns it with its length, if it still is one. It is
/// looked at before it is opened (`O_PATH`, then `fstat`), and opened through that very
/// look (`/proc/self/fd/N`): a device or a FIFO put in its place meanwhile is never
/// opened (an open can rewind a tape or let a FIFO's blocked writer go on). A path that no
/// longer exists, or no longer is a regular file, is [`Stop::Gone`].
fn open_regular(path: &Path) -> Result<(File, u64), Stop> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |e: io::Error| Stop::Fail(format!("cannot read {}: {e}", path.display()));
    // its metadata, if `f` is still a regular file
    let regular = |f: &File| -> Result<std::fs::Metadata, Stop> {
        let m = f.metadata().map_err(fail)?;
        if m.is_file() {
            Ok(m)
        } else {
            Err(replaced_by(&m))
        }
    };
    let look = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| changed(path, e))?;
    let meta = regular(&look)?;
    match File::open(format!("/proc/self/fd/{}", look.as_raw_fd())) {
        Ok(f) => Ok((f, meta.len())),
        // no /proc: by its path again, without waiting, and looked at once more
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let f = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
                .open(path)
                .map_err(|e| changed(path, e))?;
            let len = regular(&f)?.len();
            Ok((f, len))
        }
        Err(e) => Err(fail(e)),
    }
}

/// A path found to be a regular file that is now what `m` says, not one.
fn replaced_by(m: &std::fs::Metadata) -> Stop {
    Stop::Gone(format!(
        "it is now {}, not a regular file (it was replaced since it was found)",
        sysflow::export::file_type_name(m.file_type())
    ))
}

/// The error for a path found to be a regular file that could not be opened: [`Stop::Gone`]
/// when it no longer is one (removed, or replaced by what cannot be opened: a symlink
/// loop, a socket), an error to stop on when it still is (unreadable).
fn changed(path: &Path, e: io::Error) -> Stop {
    if e.kind() == io::ErrorKind::NotFound {
        return Stop::Gone("it does not exist (it was removed since it was found)".into());
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Stop::Fail(format!("cannot read {}: {e}", path.display())),
        Ok(m) => replaced_by(&m),
        Err(_) => Stop::Gone(format!(
            "it cannot be opened any more ({e}) (it was replaced since it was found)"
        )),
    }
}

impl Printer {
    /// Prints one trace file.
    fn print_file<W: Write>(&mut self, path: &Path, stdout: &mut W) -> Result<(), Stop> {
        let (file, len) = open_regular(path)?;
        // only the bytes the file had when opened are read: records added while it is
        // read are not taken for its collector's (its length was checked against
        // `file_bytes` once, here)
        let input = std::io::BufReader::with_capacity(1 << 16, std::io::Read::take(file, len));
        let reader = SfReader::new(input, path.display().to_string())
            .map_err(|e| Stop::Fail(e.to_string()))?;
        warn_losses(path, &reader, Some(len));
        let mut sink = match &self.dest {
            Dest::Stdout => Sink::Stdout(stdout),
            Dest::File(p) => Sink::File {
                out: BufWriter::with_capacity(
                    FLUSH_BYTES,
                    output::open(p, &self.inputs).map_err(Stop::Fail)?,
                ),
                path: p.clone(),
            },
        };
        let mut buf = Vec::with_capacity(FLUSH_BYTES * 2);
        let mut linker = Linker::new(SchemaInfo::from_schema_json(reader.schema_json()));
        self.start(&mut buf);
        let mut idx = 0u64;
        let body = || -> Result<(), Stop> {
            for rec in reader {
                let rec = rec.map_err(|e| Stop::Fail(e.to_string()))?;
                let Some(event) = linker.absorb(rec) else {
                    continue;
                };
                let at = |e: String| {
                    Stop::Fail(format!(
                        "{}: after {idx} printed records: {e}",
                        path.display()
                    ))
                };
                let flat = linker.flatten(&event).map_err(|e| at(e.0))?;
                self.record(&mut buf, idx, &flat).map_err(at)?;
                idx += 1;
                if buf.len() >= FLUSH_BYTES {
                    sink.write(&mut buf)?;
                }
            }
            Ok(())
        };
        let result = body();
        if matches!(result, Err(Stop::BrokenPipe)) {
            return result;
        }
        // Also after an error: what was read before it is printed.
        self.finish(&mut buf);
        sink.write(&mut buf)?;
        sink.close()?;
        result
    }

    fn start(&mut self, buf: &mut Vec<u8>) {
        match &mut self.format {
            Format::Json { array: true, .. } => buf.push(b'['),
            Format::Str(t) => t.start_file(),
            _ => {}
        }
    }

    fn record(&mut self, buf: &mut Vec<u8>, idx: u64, flat: &Flat) -> Result<(), String> {
        match &mut self.format {
            Format::Json { fmt, array } => {
                if *array && idx > 0 {
                    buf.extend_from_slice(b", ");
                }
                fmt.write(buf, flat).map_err(|e| e.0)?;
                if !*array {
                    buf.push(b'\n');
                }
            }
            Format::Csv(fmt) => {
                if idx == 0 {
                    fmt.write_header(buf);
                }
                fmt.write(buf, flat);
            }
            Format::Str(t) => t.write(buf, idx, flat),
        }
        Ok(())
    }

    fn finish(&mut self, buf: &mut Vec<u8>) {
        match &mut self.format {
            Format::Json { array: true, .. } => buf.push(b']'),
            Format::Str(t) => t.finish_file(buf),
            _ => {}
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut stdout = BufWriter::with_capacity(FLUSH_BYTES, io::stdout().lock());
    if cli.list {
        return finish(
            fields::write_list(&mut stdout).and_then(|()| stdout.flush()),
            0,
        );
    }
    if cli.version {
        let r = writeln!(
            stdout,
            "sysprint {} (Rust, sysflow crate; output of sysflow-tools 0.6.1)",
            env!("CARGO_PKG_VERSION")
        );
        return finish(r.and_then(|()| stdout.flush()), 0);
    }
    if let Some(why) = unsupported(&cli) {
        eprintln!("sysprint: error: {why} is not supported by this sysprint");
        return ExitCode::from(2);
    }
    let mut printer = match make_printer(&cli) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("sysprint: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Every input is known before anything is written, so that the output is never
    // one of them (not even one a later path names).
    let mut plan = Vec::new();
    for path in &cli.paths {
        match inputs::files_for(path) {
            Ok(f) => plan.extend(f.into_iter().map(Step::Print)),
            Err(InputError::NotFileOrDir(p, why)) => plan.push(Step::Skip(p, why)),
            Err(InputError::Fatal(e)) => {
                plan.push(Step::Stop(e));
                break;
            }
        }
    }
    printer.inputs = Inputs::of(plan.iter().filter_map(|s| match s {
        Step::Print(f) => Some(f.as_path()),
        _ => None,
    }));
    if let Dest::File(out) = &printer.dest
        && let Err(e) = printer.inputs.check(out)
    {
        eprintln!("sysprint: error: {e}");
        return ExitCode::FAILURE;
    }
    let mut status = 0;
    let mut stop = None;
    for step in plan {
        match step {
            Step::Print(f) => match printer.print_file(&f, &mut stdout) {
                Ok(()) => {}
                Err(Stop::Gone(why)) => {
                    eprintln!("sysprint: {}: skipped: {why}", f.display());
                    status = 1;
                }
                Err(e) => {
                    stop = Some(e);
                    break;
                }
            },
            Step::Skip(p, why) => {
                eprintln!("sysprint: {}: skipped: {why}", p.display());
                status = 1;
            }
            Step::Stop(e) => {
                stop = Some(Stop::Fail(e));
                break;
            }
        }
    }
    let flushed = stdout.flush();
    match stop {
        Some(Stop::BrokenPipe) => ExitCode::SUCCESS,
        // (a file gone since its listing was skipped above, never kept here)
        Some(Stop::Fail(e) | Stop::Gone(e)) => {
            let _ = flushed;
            eprintln!("sysprint: error: {e}");
            ExitCode::FAILURE
        }
        None => finish(flushed, status),
    }
}

/// What the run does for each command-line path, in order.
enum Step {
    /// Print a trace file.
    Print(PathBuf),
    /// Report a path that is neither a file nor a directory (and what it is), and go on.
    Skip(PathBuf, String),
    /// Stop with an error (a directory that cannot be listed or ordered).
    Stop(String),
}

/// The exit code after a final write.
fn finish(r: io::Result<()>, status: u8) -> ExitCode {
    match r {
        Ok(()) => ExitCode::from(status),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::from(status),
        Err(e) => {
            eprintln!("sysprint: error: writing output: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The first option given that this sysprint does not implement.
fn unsupported(cli: &Cli) -> Option<&'static str> {
    if cli.filter.is_some() {
        Some("filtering (-f/--filter, SFQL)")
    } else if cli.input == InputKind::S3 {
        Some("S3 input (-i s3)")
    } else if cli.s3endpoint.is_some()
        || cli.s3port.is_some()
        || cli.s3accesskey.is_some()
        || cli.s3secretkey.is_some()
        || cli.secure.is_some()
    {
        Some("S3 input (-e/-p/-a/-s/--secure)")
    } else {
        None
    }
}

fn make_printer(cli: &Cli) -> Result<Printer, String> {
    // An empty -c counts as not given; -A overrides it.
    let selection: Option<Vec<Selected>> = cli
        .fields
        .as_deref()
        .filter(|f| !f.is_empty() && !cli.allfields)
        .map(fields::parse_fields);
    if let (Some(p), Output::Str) = (&cli.file, cli.output) {
        // the official tool's behaviour, kept; but not silently
        eprintln!(
            "sysprint: -w {} is ignored with -o str (as by the official tool): the table goes \
             to standard output",
            p.display()
        );
    }
    let dest = match (&cli.file, cli.output) {
        (_, Output::Str) | (None, Output::Json | Output::Flatjson) => Dest::Stdout,
        (Some(p), _) => Dest::File(p.clone()),
        (None, Output::Csv) => return Err("-o csv needs an output file (-w FILE)".into()),
    };
    let format = match cli.output {
        Output::Json | Output::Flatjson => Format::Json {
            fmt: JsonFormat::new(
                selection.unwrap_or_else(fields::all_fields),
                cli.output == Output::Json,
            ),
            array: matches!(dest, Dest::File(_)),
        },
        Output::Csv => Format::Csv(CsvFormat::new(selection.unwrap_or_else(fields::all_fields))),
        Output::Str => {
            let mut defaults: Vec<&str> = DEFAULT_COLUMNS.to_vec();
            if cli.k8s {
                defaults.push("pod.name");
            }
            if cli.k8sevents {
                defaults = K8S_EVENT_COLUMNS.to_vec();
            }
            Format::Str(StrFormat::new(&TableSpec {
                fields: selection.as_deref(),
                all: cli.allfields,
                defaults: &defaults,
                terminal_width: format_str::terminal_width(),
            })?)
        }
    };
    Ok(Printer {
        format,
        dest,
        inputs: Inputs::default(),
    })
}
