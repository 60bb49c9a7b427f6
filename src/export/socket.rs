//! The unix socket sink: one Avro binary record per `SOCK_SEQPACKET` packet.

use super::{RecordSink, RecordView};
use crate::avro::encode_record;
use crate::error::{Result, SysFlowError};
use crate::model::{Record, SfHeader};
use nix::sys::socket::{
    AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr, connect, send, setsockopt, socket,
    sockopt,
};
use nix::sys::time::TimeVal;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Reconnection policy of a [`SocketSink`] whose peer went away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Wait before the first reconnection attempt (the reference: 10 s).
    pub initial: Duration,
    /// The wait doubles after each failed attempt; once it would exceed this, the sink
    /// gives up and reports an error (the reference: 80 s, then it stops itself).
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(10),
            max: Duration::from_secs(80),
        }
    }
}

enum State {
    Connected(OwnedFd),
    /// Lost the peer at `since`; next attempt once `interval` has passed since then.
    Failed {
        since: Instant,
        interval: Duration,
    },
}

/// Streams records to a unix `SOCK_SEQPACKET` socket, one Avro-binary `SysFlow` datum per
/// packet with no other framing (the reference's wire format); the header is the first
/// packet after every (re)connection.
///
/// When the peer goes away, records are dropped and counted; the sink reconnects with
/// exponential backoff, re-sends the header and asks the driver to re-export entities. If
/// the peer stays away past [`Backoff::max`], `write` returns an error.
pub struct SocketSink {
    path: PathBuf,
    state: State,
    backoff: Backoff,
    header: SfHeader,
    buf: Vec<u8>,
    dropped: u64,
    reset_requested: bool,
    send_timeout: Duration,
}

fn connect_seqpacket(path: &Path, timeout: Duration) -> nix::Result<OwnedFd> {
    let fd = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    let tv = TimeVal::new(timeout.as_secs() as _, timeout.subsec_micros() as _);
    setsockopt(&fd, sockopt::SendTimeout, &tv)?;
    let addr = UnixAddr::new(path)?;
    connect(std::os::fd::AsRawFd::as_raw_fd(&fd), &addr)?;
    Ok(fd)
}

impl SocketSink {
    /// Connects to the listening socket at `path`. Fails at once if nobody listens there.
    pub fn connect(path: &Path, backoff: Backoff) -> Result<Self> {
        let send_timeout = Duration::from_secs(5);
        let fd = connect_seqpacket(path, send_timeout).map_err(|e| {
            SysFlowError::io(
                format!(
                    "cannot connect to SysFlow socket {} (is a reader listening?)",
                    path.display()
                ),
                e.into(),
            )
        })?;
        Ok(Self {
            path: path.to_owned(),
            state: State::Connected(fd),
            backoff,
            header: SfHeader::default(),
            buf: Vec::with_capacity(4096),
            dropped: 0,
            reset_requested: false,
            send_timeout,
        })
    }

    /// Sends one encoded record; on failure switches to the failed state.
    fn send_packet(&mut self) -> bool {
        let State::Connected(fd) = &self.state else {
            return false;
        };
        match send(
            std::os::fd::AsRawFd::as_raw_fd(fd),
            &self.buf,
            MsgFlags::MSG_NOSIGNAL,
        ) {
            Ok(_) => true,
            Err(_) => {
                self.state = State::Failed {
                    since: Instant::now(),
                    interval: self.backoff.initial,
                };
                false
            }
        }
    }

    /// In the failed state, tries to reconnect when the backoff allows. Returns an error
    /// once the backoff is exhausted.
    fn maybe_reconnect(&mut self) -> Result<()> {
        let State::Failed { since, interval } = self.state else {
            return Ok(());
        };
        if since.elapsed() < interval {
            return Ok(());
        }
        match connect_seqpacket(&self.path, self.send_timeout) {
            Ok(fd) => {
                self.state = State::Connected(fd);
                self.reset_requested = true;
                let header = Record::Header(self.header.clone());
                self.buf.clear();
                encode_record(&header, &mut self.buf);
                self.send_packet();
                Ok(())
            }
            Err(e) => {
                let next = interval * 2;
                if next > self.backoff.max {
                    return Err(SysFlowError::io(
                        format!(
                            "SysFlow socket {} unreachable for {:?}; {} records dropped",
                            self.path.display(),
                            since.elapsed(),
                            self.dropped
                        ),
                        e.into(),
                    ));
                }
                self.state = State::Failed {
                    since,
                    interval: next,
                };
                Ok(())
            }
        }
    }

    fn deliver(&mut self, rec: &Record) -> Result<()> {
        self.maybe_reconnect()?;
        self.buf.clear();
        encode_record(rec, &mut self.buf);
        if !self.send_packet() {
            self.dropped += 1;
        }
        Ok(())
    }
}

impl RecordSink for SocketSink {
    fn start(&mut self, header: &SfHeader) -> Result<()> {
        self.header = header.clone();
        self.deliver(&Record::Header(header.clone()))
    }

    fn write(&mut self, view: &RecordView<'_>) -> Result<()> {
        self.deliver(view.record)
    }

    fn take_reset_request(&mut self) -> bool {
        std::mem::take(&mut self.reset_requested)
    }

    fn dropped(&self) -> u64 {
        self.dropped
    }
}
