//! The unix socket sink: one Avro binary record per `SOCK_SEQPACKET` packet.

use super::{RecordSink, RecordView};
use crate::avro::encode_record;
use crate::error::{Result, SysFlowError};
use crate::model::{Record, SfHeader};
use nix::sys::socket::{
    AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr, connect, getsockopt, send, socket,
    sockopt,
};
use std::collections::VecDeque;
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

/// Records waiting for a slow reader, at most this many bytes; past it records are
/// dropped (and counted) rather than held or waited for.
pub const MAX_PENDING_BYTES: usize = 8 << 20;

/// Streams records to a unix `SOCK_SEQPACKET` socket, one Avro-binary `SysFlow` datum per
/// packet with no other framing (the reference's wire format); the header is the first
/// packet after every (re)connection.
///
/// The capture never waits for the reader: packets are sent without blocking, and those a
/// slow reader has no room for wait in a queue of at most [`MAX_PENDING_BYTES`]; when the
/// queue is full, records are dropped and counted, and once the reader has caught up the
/// sink asks the driver to write the entities again (so later records never name an
/// entity the reader lost). When the peer goes away, records are dropped and counted; the
/// sink reconnects with exponential backoff, re-sends the header and asks for the same
/// re-export. If the peer stays away past [`Backoff::max`], `write` returns an error.
pub struct SocketSink {
    path: PathBuf,
    state: State,
    backoff: Backoff,
    header: SfHeader,
    buf: Vec<u8>,
    pending: VecDeque<Vec<u8>>,
    pending_bytes: usize,
    /// Records were dropped since the reader last had everything: entities to re-export
    /// once the queue drains.
    lost: bool,
    last_reset: Option<Instant>,
    dropped: u64,
    reconnects: u64,
    reset_requested: bool,
    peer_uid: Option<u32>,
}

fn connect_seqpacket(path: &Path, peer_uid: Option<u32>) -> Result<OwnedFd> {
    let io = |what: String, e: nix::Error| SysFlowError::io(what, e.into());
    // non-blocking: a reader that stopped accepting (full backlog) fails the attempt
    // instead of stalling the capture; sends are non-blocking anyway
    let fd = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )
    .map_err(|e| io("cannot create a unix socket".into(), e))?;
    let addr = UnixAddr::new(path)
        .map_err(|e| io(format!("invalid SysFlow socket path {}", path.display()), e))?;
    connect(std::os::fd::AsRawFd::as_raw_fd(&fd), &addr).map_err(|e| {
        io(
            format!(
                "cannot connect to SysFlow socket {} (is a reader listening?)",
                path.display()
            ),
            e,
        )
    })?;
    if let Some(want) = peer_uid {
        let cred = getsockopt(&fd, sockopt::PeerCredentials)
            .map_err(|e| io(format!("cannot read the peer of {}", path.display()), e))?;
        if cred.uid() != want {
            return Err(SysFlowError::InvalidConfig(format!(
                "the reader of SysFlow socket {} runs as uid {} (pid {}), not the required \
                 uid {want}: records carry secrets, nothing was sent",
                path.display(),
                cred.uid(),
                cred.pid()
            )));
        }
    }
    Ok(fd)
}

/// What a non-blocking send did.
enum Sent {
    Yes,
    /// The reader has no room now.
    Full,
    /// This packet can never be sent (larger than the socket allows): drop it alone.
    TooBig,
    /// The peer is gone.
    Lost,
}

fn send_now(fd: &OwnedFd, packet: &[u8]) -> Sent {
    loop {
        return match send(
            std::os::fd::AsRawFd::as_raw_fd(fd),
            packet,
            MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT,
        ) {
            Ok(_) => Sent::Yes,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::ENOBUFS) => Sent::Full,
            Err(nix::errno::Errno::EMSGSIZE) => Sent::TooBig,
            Err(_) => Sent::Lost,
        };
    }
}

/// Least time between two re-exports asked for after a slow reader lost records (each
/// re-export is itself a burst a slow reader may not keep up with).
const RESET_EVERY: Duration = Duration::from_secs(10);

impl SocketSink {
    /// Connects to the listening socket at `path`. Fails at once if nobody listens there.
    pub fn connect(path: &Path, backoff: Backoff) -> Result<Self> {
        Self::connect_as(path, backoff, None)
    }

    /// Like [`SocketSink::connect`], requiring the reader's process to run as `peer_uid`
    /// (checked with `SO_PEERCRED` at every connection): records carry process arguments
    /// and environments. A reader running as another uid is an error at once
    /// (`InvalidConfig`), and on a reconnection it counts as an unreachable reader.
    pub fn connect_as(path: &Path, backoff: Backoff, peer_uid: Option<u32>) -> Result<Self> {
        let fd = connect_seqpacket(path, peer_uid)?;
        Ok(Self {
            path: path.to_owned(),
            state: State::Connected(fd),
            backoff,
            header: SfHeader::default(),
            buf: Vec::with_capacity(4096),
            pending: VecDeque::new(),
            pending_bytes: 0,
            lost: false,
            last_reset: None,
            dropped: 0,
            reconnects: 0,
            reset_requested: false,
            peer_uid,
        })
    }

    fn fail(&mut self) {
        self.state = State::Failed {
            since: Instant::now(),
            interval: self.backoff.initial,
        };
        // what waited for the old reader is lost with it
        self.dropped += self.pending.len() as u64;
        self.pending.clear();
        self.pending_bytes = 0;
    }

    /// Sends what waits, in order, as far as the reader takes it now.
    fn drain(&mut self) {
        let State::Connected(fd) = &self.state else {
            return;
        };
        while let Some(p) = self.pending.front() {
            match send_now(fd, p) {
                Sent::Yes => {
                    self.pending_bytes -= p.len();
                    self.pending.pop_front();
                }
                Sent::Full => return,
                Sent::TooBig => {
                    self.pending_bytes -= p.len();
                    self.pending.pop_front();
                    self.dropped += 1;
                    self.lost = true;
                }
                Sent::Lost => {
                    self.fail();
                    return;
                }
            }
        }
        if self.lost && self.last_reset.is_none_or(|t| t.elapsed() >= RESET_EVERY) {
            self.lost = false;
            self.last_reset = Some(Instant::now());
            self.reset_requested = true;
        }
    }

    /// Sends `self.buf` (or queues it behind what waits); counts it when dropped.
    fn send_packet(&mut self) {
        self.drain();
        let State::Connected(fd) = &self.state else {
            self.dropped += 1;
            return;
        };
        if self.pending.is_empty() {
            match send_now(fd, &self.buf) {
                Sent::Yes => return,
                Sent::Full => {}
                Sent::TooBig => {
                    self.dropped += 1;
                    self.lost = true;
                    return;
                }
                Sent::Lost => {
                    self.fail();
                    self.dropped += 1;
                    return;
                }
            }
        }
        if self.pending_bytes + self.buf.len() <= MAX_PENDING_BYTES {
            self.pending_bytes += self.buf.len();
            self.pending.push_back(self.buf.clone());
        } else {
            self.dropped += 1;
            self.lost = true;
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
        match connect_seqpacket(&self.path, self.peer_uid) {
            Ok(fd) => {
                self.state = State::Connected(fd);
                self.reconnects += 1;
                self.reset_requested = true;
                self.lost = false;
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
                        std::io::Error::other(e.to_string()),
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
        self.send_packet();
        Ok(())
    }

    /// Records waiting for the reader (bytes).
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
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

    fn reconnects(&self) -> u64 {
        self.reconnects
    }

    fn flush(&mut self) -> Result<()> {
        self.drain();
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        // the end of the capture: give a slow reader a moment for what waits, then count
        // the rest as dropped
        let deadline = Instant::now() + Duration::from_secs(2);
        self.drain();
        while !self.pending.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
            self.drain();
        }
        self.dropped += self.pending.len() as u64;
        self.pending.clear();
        self.pending_bytes = 0;
        Ok(())
    }
}
