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
/// packet after every (re)connection, and starts every output period (as the reference's
/// socket writer, so that readers clear their entity tables).
///
/// The capture never waits for the reader: packets are sent without blocking, and those a
/// slow reader has no room for wait in a queue of at most [`MAX_PENDING_BYTES`]; when the
/// queue is full, records are dropped and counted. When the peer goes away, records are
/// dropped and counted; the sink reconnects with exponential backoff, re-sends the header
/// and asks the driver to write the entities again. It reconnects only where the driver
/// does that at once, in [`RecordSink::take_reset_request`] (and in `start`), never in
/// the middle of an event's records: a record written then could name an entity the new
/// reader has not received. If the peer stays away past [`Backoff::max`], `write`
/// returns an error.
///
/// # Losses in the stream: a repeated header
///
/// A v5 stream has no record for losses, and the official readers must read ours
/// unchanged. So a gap is marked with the one record every reader already takes in the
/// middle of a stream (the reference sends one at each reconnection and output period):
/// an `SFHeader` **repeated in the middle of a connection**, with the same values as the
/// header before it on the connection, says *records were lost between the record before
/// it and it*. No new schema, and nothing a reader must skip. Readers clear their entity
/// tables at a header (sf-processor does), so every marker is followed by the entities
/// again: the sink sends it when the driver takes its re-export request, and every
/// record after the marker resolves. The counts by cause are not in the stream:
/// `RunSummary::losses()`, `sysflow_driver_stats` and the `enable_stats` lines have them.
///
/// - **A slow reader** (the queue full): from the first drop on, every record is dropped
///   (and counted) until the reader has caught up with the queue, so the gap is one
///   stretch and the marker comes before any record written after the drop; then the
///   marker is sent, in order, with the re-export. The reader's draining a full queue
///   first bounds how often this happens.
/// - **Losses before the sink** that the driver counts ([`RecordSink::note_losses`]:
///   ring drops, decode errors, invalid events, I/O on fds the state did not know,
///   exits made up from `/proc`, a capture cut short by damage), and **a record too big
///   for the socket** (larger than its send buffer: dropped alone): the marker is queued
///   behind what waits at the driver's next re-export, at most once every 10 s. The
///   driver reads the kernel's
///   counters about every second and tells the sinks once the stream has reached the
///   time of the reading, so such a marker comes after the loss, not at it: it marks the
///   stretch since the header before it, and a loss may also lie up to about a second
///   before that header. (Rate limited, and no gap opened, so that a stream of such
///   losses neither blinds the stream nor keeps the entities being written again.)
/// - **A reconnection** starts with the header, as always, followed by the entities
///   (see above); what the old connection owed is not marked on the new one.
/// - At the end ([`RecordSink::finish`]), a marker still owed is sent last.
///
/// A header that starts an output period (every `rotate_interval`) is not a marker: with
/// a file output it names the new file; without one, it repeats the header too, so a
/// reader tells it apart only by its time.
pub struct SocketSink {
    path: PathBuf,
    state: State,
    backoff: Backoff,
    header: SfHeader,
    buf: Vec<u8>,
    pending: VecDeque<Vec<u8>>,
    pending_bytes: usize,
    /// The sink dropped records since the last header of the connection: every record is
    /// dropped until the marker is sent (so the gap is one stretch).
    gap: bool,
    /// A marker is owed, rate limited: the driver noted losses before the sink, or a
    /// record too big for the socket was dropped, since the last header of the connection.
    marker_owed: bool,
    /// When the last marker was sent (markers for losses before the sink are rate limited).
    last_marker: Option<Instant>,
    /// The largest packet the socket takes (`SO_SNDBUF` less the kernel's 32 bytes).
    max_packet: usize,
    dropped: u64,
    reconnects: u64,
    reset_requested: bool,
    /// Why the sink gave up reconnecting (the backoff exhausted): `write` returns it.
    gave_up: Option<String>,
    peer_uid: Option<u32>,
}

/// The largest packet a unix datagram socket takes: `sk_sndbuf - 32` (the kernel's
/// `unix_dgram_sendmsg`, which `SOCK_SEQPACKET` uses). Larger ones fail with `EMSGSIZE`.
fn max_packet(fd: &OwnedFd) -> usize {
    getsockopt(fd, sockopt::SndBuf).map_or(usize::MAX, |b| b.saturating_sub(32))
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

/// Least time between two markers for losses before the sink
/// ([`RecordSink::note_losses`]): each marker makes the driver write the entities again.
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
        let max_packet = max_packet(&fd);
        Ok(Self {
            path: path.to_owned(),
            state: State::Connected(fd),
            backoff,
            header: SfHeader::default(),
            buf: Vec::with_capacity(4096),
            pending: VecDeque::new(),
            pending_bytes: 0,
            gap: false,
            marker_owed: false,
            last_marker: None,
            max_packet,
            dropped: 0,
            reconnects: 0,
            reset_requested: false,
            gave_up: None,
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
                    // not expected (`max_packet` keeps such packets out of the queue): the
                    // records behind it were written after it, so they go too, and the
                    // marker comes before any of them
                    self.dropped += self.pending.len() as u64;
                    self.pending.clear();
                    self.pending_bytes = 0;
                    self.gap = true;
                }
                Sent::Lost => {
                    self.fail();
                    return;
                }
            }
        }
    }

    /// Sends `self.buf` (or queues it behind what waits); counts it and opens a gap when
    /// it is dropped. Within a gap only a header goes (`header`: a period's, or the
    /// marker); any other record is dropped until the marker. Returns whether it was sent
    /// or queued.
    fn send_packet(&mut self, header: bool) -> bool {
        self.drain();
        let State::Connected(fd) = &self.state else {
            self.dropped += 1;
            return false;
        };
        if self.gap && !header {
            // (a gap the drain just opened)
            self.dropped += 1;
            return false;
        }
        if self.buf.len() > self.max_packet {
            self.drop_too_big();
            return false;
        }
        if self.pending.is_empty() {
            match send_now(fd, &self.buf) {
                Sent::Yes => return true,
                Sent::Full => {}
                Sent::TooBig => {
                    self.drop_too_big();
                    return false;
                }
                Sent::Lost => {
                    self.fail();
                    self.dropped += 1;
                    return false;
                }
            }
        }
        if self.pending_bytes + self.buf.len() <= MAX_PENDING_BYTES {
            self.pending_bytes += self.buf.len();
            self.pending.push_back(self.buf.clone());
            true
        } else {
            self.dropped += 1;
            self.gap = true;
            false
        }
    }

    /// Drops a record the socket can never take. It is dropped alone, the records after
    /// it go on, and the marker it owes is rate limited like one for losses before the
    /// sink: a gap opened for it would let each such record (a capture's process with
    /// huge arguments, a pod with huge labels) blind the stream for a while, or force the
    /// entities out again.
    fn drop_too_big(&mut self) {
        self.dropped += 1;
        self.marker_owed = true;
    }

    /// Whether a marker is owed and may be sent now: after the sink's own drops, once the
    /// reader has caught up; after losses before the sink, at most every [`RESET_EVERY`]
    /// (`at_end`: no more records follow, so at once).
    fn marker_due(&self, at_end: bool) -> bool {
        if !matches!(self.state, State::Connected(_)) {
            return false;
        }
        if self.gap {
            return at_end || self.pending.is_empty();
        }
        self.marker_owed && (at_end || self.last_marker.is_none_or(|t| t.elapsed() >= RESET_EVERY))
    }

    /// Sends the marker (the header again), in order behind what waits. If it does not
    /// fit in the queue it is not sent and stays owed; if it is dropped all the same (a
    /// lost peer), it counts as a dropped record. Returns whether it went out.
    fn send_marker(&mut self) -> bool {
        self.buf.clear();
        encode_record(&Record::Header(self.header.clone()), &mut self.buf);
        if self.buf.len() > self.max_packet {
            // a header the socket never takes (an exporter id of hundreds of KiB): no
            // marker can ever be sent, so none is owed
            self.gap = false;
            self.marker_owed = false;
            return false;
        }
        if !self.pending.is_empty() && self.pending_bytes + self.buf.len() > MAX_PENDING_BYTES {
            return false;
        }
        let sent = self.send_packet(true);
        if sent {
            self.gap = false;
            self.marker_owed = false;
            self.last_marker = Some(Instant::now());
        }
        sent
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
                self.max_packet = max_packet(&fd);
                self.state = State::Connected(fd);
                self.reconnects += 1;
                self.reset_requested = true;
                // a new reader: what the old connection lost is not its gap
                self.gap = false;
                self.marker_owed = false;
                let header = Record::Header(self.header.clone());
                self.buf.clear();
                encode_record(&header, &mut self.buf);
                self.send_packet(true);
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
        if let State::Failed { .. } = self.state {
            // reconnected only at the driver's re-export (`take_reset_request`)
            if let Some(why) = &self.gave_up {
                return Err(SysFlowError::io(
                    why.clone(),
                    std::io::ErrorKind::NotConnected.into(),
                ));
            }
            self.dropped += 1;
            return Ok(());
        }
        if self.gap {
            // until the marker: the gap stays one stretch
            self.drain();
            self.dropped += 1;
            return Ok(());
        }
        self.buf.clear();
        encode_record(rec, &mut self.buf);
        self.send_packet(false);
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
        let reconnects = self.reconnects;
        self.maybe_reconnect()?;
        if self.reconnects != reconnects {
            // the new connection started with this header: once is enough (twice would
            // read as a marker)
            return Ok(());
        }
        // sent even within a gap (a marker repeating it follows)
        self.buf.clear();
        encode_record(&Record::Header(header.clone()), &mut self.buf);
        self.send_packet(true);
        Ok(())
    }

    /// The stream carries entities as records of their own.
    fn needs_links(&self) -> bool {
        false
    }

    fn write(&mut self, view: &RecordView<'_>) -> Result<()> {
        self.deliver(view.record)
    }

    /// True after a reconnection (the header went first on the new connection), and when
    /// this call sent a loss marker (see [`SocketSink`]): the driver then writes the
    /// entities again, after the marker. The marker goes only from here: a program that
    /// drives a `SocketSink` itself must call it (the driver does, at every event), or
    /// after a slow reader's gap every record stays dropped, and a reader that went away
    /// is never reconnected. Reconnects when the backoff allows (the header goes first on
    /// the new connection).
    fn take_reset_request(&mut self) -> bool {
        if self.gave_up.is_none()
            && let Err(e) = self.maybe_reconnect()
        {
            // told by the next `write`
            self.gave_up = Some(e.to_string());
        }
        if std::mem::take(&mut self.reset_requested) {
            return true;
        }
        if self.gap {
            // its marker waits for the queue to drain
            self.drain();
        } else if !self.marker_owed {
            return false;
        }
        self.marker_due(false) && self.send_marker()
    }

    /// Losses before the sink (`grown`: the causes that grew since the last call): a
    /// marker is owed, sent at a later [`RecordSink::take_reset_request`].
    fn note_losses(&mut self, grown: &[(&'static str, u64)]) {
        if matches!(self.state, State::Connected(_)) && grown.iter().any(|&(_, n)| n > 0) {
            self.marker_owed = true;
        }
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
        // a marker still owed goes last, once it fits behind what waits
        if self.marker_due(true) {
            self.send_marker();
        }
        while (!self.pending.is_empty() || self.marker_due(true)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
            self.drain();
            if self.marker_due(true) {
                self.send_marker();
            }
        }
        self.dropped += self.pending.len() as u64;
        self.pending.clear();
        self.pending_bytes = 0;
        Ok(())
    }
}
