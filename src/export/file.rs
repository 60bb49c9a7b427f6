//! The Avro file sink, with the reference's `filePath` naming and rotation rules.

use super::{RecordSink, RecordView};
use crate::avro::{AvroCodec, AvroFileWriter};
use crate::error::{Result, SysFlowError};
use crate::model::{Record, SfHeader};
use std::fs;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// How output file names are formed from the configured `filePath`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputPath {
    /// The path ended with `/`: a directory whose files are named by epoch seconds.
    Directory(PathBuf),
    /// A file path. When rotating, `.<epoch seconds>` is appended to it.
    Prefix(PathBuf),
}

impl OutputPath {
    /// Interprets a configured path: a trailing `/` means a directory.
    pub fn parse(path: &Path) -> Self {
        let s = path.as_os_str().as_encoded_bytes();
        if s.ends_with(b"/") {
            OutputPath::Directory(path.to_owned())
        } else {
            OutputPath::Prefix(path.to_owned())
        }
    }

    /// The file name for an output period starting at `epoch` (`None`: not rotating).
    pub fn file_for(&self, epoch: Option<i64>) -> PathBuf {
        match (self, epoch) {
            (OutputPath::Directory(d), e) => {
                let e = e.unwrap_or_else(crate::clock::wall_s);
                d.join(e.to_string())
            }
            (OutputPath::Prefix(p), Some(e)) => {
                let mut s = p.clone().into_os_string();
                s.push(format!(".{e}"));
                PathBuf::from(s)
            }
            (OutputPath::Prefix(p), None) => p.clone(),
        }
    }
}

type Writer = AvroFileWriter<BufWriter<fs::File>>;

/// Writes records into SysFlow Avro files; a new file at every rotation.
///
/// Each file starts with the header record whose `filename` is the file's own path, and
/// is closed (its last block flushed) before the next one is opened.
pub struct FileSink {
    path: OutputPath,
    codec: AvroCodec,
    rotating: bool,
    current: PathBuf,
    writer: Option<Writer>,
}

impl FileSink {
    /// Prepares the output. A single file (`start_epoch` `None`, not rotating) is created at
    /// once; with rotation, the first file is opened when the first period starts
    /// ([`FileSink::ensure_open`]), `start_epoch` naming it if already known.
    ///
    /// Fails at once if the output cannot be created (missing or unwritable directory).
    pub fn create(path: &Path, codec: AvroCodec, start_epoch: Option<i64>) -> Result<Self> {
        Self::with_rotation(path, codec, start_epoch.is_some(), start_epoch)
    }

    /// Like [`FileSink::create`], choosing rotation explicitly; a rotating sink without a
    /// start epoch opens its first file in [`FileSink::ensure_open`].
    pub fn with_rotation(
        path: &Path,
        codec: AvroCodec,
        rotating: bool,
        start_epoch: Option<i64>,
    ) -> Result<Self> {
        let out = OutputPath::parse(path);
        let dir = match &out {
            OutputPath::Directory(d) => {
                fs::create_dir_all(d).map_err(|e| {
                    SysFlowError::io(format!("cannot create output directory {}", d.display()), e)
                })?;
                d.clone()
            }
            OutputPath::Prefix(p) => match p.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
                _ => PathBuf::from("."),
            },
        };
        let mut sink = FileSink {
            rotating,
            current: PathBuf::new(),
            path: out,
            codec,
            writer: None,
        };
        if !rotating || start_epoch.is_some() {
            sink.open(start_epoch)?;
        } else {
            // Check now that files can be created there.
            let probe = dir.join(format!(".sysflow-probe-{}", std::process::id()));
            fs::File::create(&probe).map_err(|e| {
                SysFlowError::io(format!("cannot create files in {}", dir.display()), e)
            })?;
            let _ = fs::remove_file(&probe);
        }
        Ok(sink)
    }

    /// Opens the first file of a rotating output, named for `epoch`, if not open yet.
    pub fn ensure_open(&mut self, epoch: i64) -> Result<()> {
        if self.writer.is_none() && self.current.as_os_str().is_empty() {
            self.open(Some(epoch))?;
        }
        Ok(())
    }

    fn open(&mut self, epoch: Option<i64>) -> Result<()> {
        let mut name = self.path.file_for(epoch);
        // Two rotations within one second would reuse a name: never overwrite.
        if self.writer.is_some() && name == self.current {
            let base = name.clone().into_os_string();
            for n in 1.. {
                let mut s = base.clone();
                s.push(format!("-{n}"));
                if !Path::new(&s).exists() {
                    name = s.into();
                    break;
                }
            }
        }
        let f = fs::File::create(&name).map_err(|e| {
            SysFlowError::io(format!("cannot create output file {}", name.display()), e)
        })?;
        let w = AvroFileWriter::new(BufWriter::with_capacity(1 << 16, f), self.codec)
            .map_err(|e| SysFlowError::io(format!("writing {}", name.display()), e))?;
        self.writer = Some(w);
        self.current = name;
        Ok(())
    }

    /// The file being written.
    pub fn current_file(&self) -> &Path {
        &self.current
    }

    /// Whether file names carry epochs and rotate.
    pub fn is_rotating(&self) -> bool {
        self.rotating
    }

    /// Closes the current file and opens the one for the period starting at `epoch`.
    /// The caller then calls [`RecordSink::start`] to write its header.
    pub fn rotate(&mut self, epoch: i64) -> Result<()> {
        self.close()?;
        self.open(Some(epoch))
    }

    fn close(&mut self) -> Result<()> {
        if let Some(w) = self.writer.take() {
            let name = self.current.display().to_string();
            let mut out = w
                .finish()
                .map_err(|e| SysFlowError::io(format!("writing {name}"), e))?;
            std::io::Write::flush(&mut out)
                .map_err(|e| SysFlowError::io(format!("writing {name}"), e))?;
            out.get_ref()
                .sync_data()
                .map_err(|e| SysFlowError::io(format!("syncing {name}"), e))?;
        }
        Ok(())
    }

    fn append(&mut self, rec: &Record) -> Result<()> {
        let Some(w) = self.writer.as_mut() else {
            return Err(SysFlowError::io(
                "file sink is closed",
                std::io::Error::other("write after finish"),
            ));
        };
        w.append(rec)
            .map_err(|e| SysFlowError::io(format!("writing {}", self.current.display()), e))
    }
}

impl RecordSink for FileSink {
    fn start(&mut self, header: &SfHeader) -> Result<()> {
        self.append(&Record::Header(header.clone()))
    }

    fn write(&mut self, view: &RecordView<'_>) -> Result<()> {
        self.append(view.record)
    }

    fn flush(&mut self) -> Result<()> {
        if let Some(w) = self.writer.as_mut() {
            w.flush()
                .map_err(|e| SysFlowError::io(format!("writing {}", self.current.display()), e))?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.close()
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_path_rules() {
        let d = OutputPath::parse(Path::new("/var/sf/"));
        assert_eq!(d.file_for(Some(17)), PathBuf::from("/var/sf/17"));
        let p = OutputPath::parse(Path::new("/var/out.sf"));
        assert_eq!(p.file_for(None), PathBuf::from("/var/out.sf"));
        assert_eq!(p.file_for(Some(17)), PathBuf::from("/var/out.sf.17"));
    }

    #[test]
    fn unwritable_path_fails_at_creation() {
        let e = FileSink::create(Path::new("/nonexistent-dir/x.sf"), AvroCodec::Null, None)
            .err()
            .expect("must fail");
        assert!(e.to_string().contains("/nonexistent-dir/x.sf"), "{e}");
    }
}
