//! A capture file whose reads a stop request can end. A capture read from a pipe or a
//! FIFO waits for its writer, which may neither write nor close: a plain blocking read
//! would keep the run from ever seeing [`crate::ExitHandle::exit`].

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{
    AddressFamily, MsgFlags, SockType, SockaddrLike, SockaddrStorage, getsockname, getsockopt,
    recv, sockopt,
};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// How long a read waiting on a pipe sleeps between two looks at the stop flag, ms.
const STOP_CHECK_MS: u16 = 50;

/// The payload of the I/O error that ends a read when a stop was requested (see
/// [`StoppableFile`]).
#[derive(Debug)]
pub(crate) struct StopRequested;

impl fmt::Display for StopRequested {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the run was asked to stop while waiting for the capture's writer")
    }
}

impl std::error::Error for StopRequested {}

/// Whether `e` is the error a [`StoppableFile`] read ends with on a stop request.
pub(crate) fn is_stop_requested(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<StopRequested>())
}

/// A capture file opened for a run that can be asked to stop. A regular file is read as
/// it is. Anything else (a pipe, a FIFO, a character device, a socket) is read without
/// blocking: each read waits for data (or the writer's close) in steps of 50 ms, and
/// fails with an I/O error once the stop flag is set.
#[derive(Debug)]
pub struct StoppableFile {
    file: File,
    /// The stop flag, for a file that is not regular.
    stop: Option<Arc<AtomicBool>>,
    /// How the file is read once it has data.
    how: How,
}

/// How a [`StoppableFile`] reads.
#[derive(Debug)]
enum How {
    /// `read(2)`: a file, a pipe, a FIFO, a device.
    Read,
    /// A stream socket (standard input): `recv(2)` with `MSG_DONTWAIT`, the fd's flags
    /// (shared with its other holders) left as they are.
    Stream,
    /// A unix datagram or sequenced-packet socket, or a UDP one (standard input): the
    /// capture's bytes are its messages one after the other. Each message is taken whole
    /// into `held` (its length peeked first: a read never truncates one) and handed out
    /// from `at`. An empty message is skipped on a datagram socket, whose capture ends
    /// only at a stop; on a sequenced-packet socket it is the end, as the peer's close
    /// is. Another reader of the same socket takes messages from this one: what it takes
    /// is missing from the capture.
    Messages {
        seqpacket: bool,
        held: Vec<u8>,
        at: usize,
        /// The end was read: every later read is at the end too.
        ended: bool,
    },
}

impl StoppableFile {
    /// Opens `path` for reading. The open itself does not wait for a FIFO's writer
    /// (`O_NONBLOCK`, cleared again for a regular file).
    ///
    /// A socket cannot be opened by name: standard input (`/dev/stdin`, `/dev/fd/0`,
    /// `/proc/self/fd/0`) that is a socket (ENXIO) is read from a duplicate of fd 0
    /// without blocking per read (`recv(2)` with `MSG_DONTWAIT`: the fd's flags are shared
    /// with its other holders and stay as they are).
    pub(crate) fn open(path: &Path, stop: Arc<AtomicBool>) -> io::Result<Self> {
        let file = match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
        {
            Ok(f) => f,
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => match dup_stdin(path) {
                Some(fd) => {
                    let file = File::from(fd?);
                    if !file.metadata()?.file_type().is_socket() {
                        return Err(e);
                    }
                    return Self::socket(file, stop);
                }
                None => return Err(e),
            },
            Err(e) => return Err(e),
        };
        let regular = file.metadata()?.is_file();
        if regular {
            // blocking reads again, for the rare regular file that honours the flag
            fcntl(&file, FcntlArg::F_SETFL(OFlag::empty()))?;
        }
        Ok(Self {
            file,
            stop: (!regular).then_some(stop),
            how: How::Read,
        })
    }

    /// A socket's reader: by its type (`SO_TYPE`), as a stream or as messages (unix
    /// datagram and sequenced-packet sockets, UDP: those whose `MSG_TRUNC` gives a
    /// message's whole length).
    fn socket(file: File, stop: Arc<AtomicBool>) -> io::Result<Self> {
        use AddressFamily::{Inet, Inet6, Unix};
        let family = getsockname::<SockaddrStorage>(file.as_raw_fd())?.family();
        let ty = getsockopt(&file, sockopt::SockType)?;
        let how = match (ty, family) {
            (SockType::Stream, _) => How::Stream,
            (SockType::Datagram, Some(Unix | Inet | Inet6)) | (SockType::SeqPacket, Some(Unix)) => {
                How::Messages {
                    seqpacket: ty == SockType::SeqPacket,
                    held: Vec::new(),
                    at: 0,
                    ended: false,
                }
            }
            (t, f) => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!(
                        "standard input is a socket of type {t:?} (family {f:?}): not \
                         readable as a capture"
                    ),
                ));
            }
        };
        Ok(Self {
            file,
            stop: Some(stop),
            how,
        })
    }
}

/// A duplicate (close-on-exec) of this process's standard input when `path` names it
/// (`/dev/stdin`, `/dev/fd/0`, `/proc/self/fd/0`); `None` for another path.
fn dup_stdin(path: &Path) -> Option<io::Result<OwnedFd>> {
    matches!(
        path.to_str()?,
        "/dev/stdin" | "/dev/fd/0" | "/proc/self/fd/0"
    )
    .then(|| io::stdin().as_fd().try_clone_to_owned())
}

impl Read for StoppableFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(stop) = &self.stop else {
            return self.file.read(buf);
        };
        loop {
            // what a message socket's last message still holds comes first
            if let How::Messages {
                held, at, ended, ..
            } = &mut self.how
            {
                if *at < held.len() {
                    let n = buf.len().min(held.len() - *at);
                    buf[..n].copy_from_slice(&held[*at..*at + n]);
                    *at += n;
                    return Ok(n);
                }
                if *ended {
                    return Ok(0);
                }
            }
            if stop.load(Ordering::SeqCst) {
                return Err(io::Error::other(StopRequested));
            }
            // A FIFO no writer has opened yet reads as at its end (0 bytes) but polls
            // as not ready: wait for data or a hang-up before reading.
            let mut fds = [PollFd::new(self.file.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(STOP_CHECK_MS)) {
                Ok(0) | Err(Errno::EINTR) => continue,
                Ok(_) => {}
                Err(e) => return Err(e.into()),
            }
            let fd = self.file.as_raw_fd();
            let got = match &mut self.how {
                How::Read => self.file.read(buf),
                How::Stream => recv(fd, buf, MsgFlags::MSG_DONTWAIT).map_err(io::Error::from),
                How::Messages {
                    seqpacket,
                    held,
                    at,
                    ended,
                } => {
                    // the last message is all handed out
                    held.clear();
                    *at = 0;
                    match next_message(fd, held) {
                        // an empty datagram: nothing to hand out, no end either
                        Ok(0) if !*seqpacket => continue,
                        // a sequenced-packet socket's end (or empty message)
                        Ok(0) => {
                            *ended = true;
                            return Ok(0);
                        }
                        // handed out at the top of the loop
                        Ok(_) => continue,
                        // readable, yet nothing to take: a datagram socket whose
                        // reading side was shut down polls so for ever (or another
                        // reader was first): wait as for no data, without spinning
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            std::thread::sleep(std::time::Duration::from_millis(
                                STOP_CHECK_MS.into(),
                            ));
                            continue;
                        }
                        Err(e) => Err(e),
                    }
                }
            };
            match got {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) => {}
                r => return r,
            }
        }
    }
}

/// Takes the next message of datagram or sequenced-packet socket `fd` whole into `held`
/// (empty on entry, resized to the message) without blocking. Returns its length (0: an
/// empty message, or a sequenced-packet socket's end). Errors: `recv`'s (`WouldBlock`
/// when none is waiting), and `InvalidData` when the message taken is longer than the one
/// peeked (another holder of the socket took that one in between).
fn next_message(fd: std::os::fd::RawFd, held: &mut Vec<u8>) -> io::Result<usize> {
    let peek = MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC | MsgFlags::MSG_DONTWAIT;
    // with MSG_TRUNC, the message's whole length
    let len = recv(fd, &mut [], peek)?;
    held.resize(len, 0);
    let got = recv(fd, held, MsgFlags::MSG_TRUNC | MsgFlags::MSG_DONTWAIT);
    let got = match got {
        Ok(n) if n <= len => n,
        Ok(n) => {
            held.clear();
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a message of {n} bytes on standard input was cut to {len}"),
            ));
        }
        Err(e) => {
            held.clear();
            return Err(e.into());
        }
    };
    held.truncate(got);
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::time::{Duration, Instant};

    /// Sets `stop` after `ms` milliseconds, on another thread.
    fn stop_after(stop: &Arc<AtomicBool>, ms: u64) -> std::thread::JoinHandle<()> {
        let stop = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(ms));
            stop.store(true, Ordering::SeqCst);
        })
    }

    fn fifo(dir: &tempfile::TempDir) -> std::path::PathBuf {
        let p = dir.path().join("capture.fifo");
        nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        p
    }

    #[test]
    fn a_fifo_without_a_writer_waits_until_the_stop() {
        let dir = tempfile::tempdir().unwrap();
        let p = fifo(&dir);
        let stop = Arc::new(AtomicBool::new(false));
        let t0 = Instant::now();
        // the open does not wait for a writer
        let mut f = StoppableFile::open(&p, stop.clone()).unwrap();
        assert!(t0.elapsed() < Duration::from_secs(1));
        let setter = stop_after(&stop, 300);
        let mut buf = [0u8; 16];
        // no writer ever came: not an end of file, a wait that only the stop ends
        let e = f.read(&mut buf).unwrap_err();
        assert!(is_stop_requested(&e), "{e}");
        let waited = t0.elapsed();
        assert!(waited >= Duration::from_millis(300), "{waited:?}");
        assert!(waited < Duration::from_secs(2), "{waited:?}");
        setter.join().unwrap();
    }

    #[test]
    fn a_fifo_gives_its_data_then_its_end_or_the_stop() {
        let dir = tempfile::tempdir().unwrap();
        let p = fifo(&dir);
        let stop = Arc::new(AtomicBool::new(false));
        let mut f = StoppableFile::open(&p, stop.clone()).unwrap();
        let mut w = OpenOptions::new().write(true).open(&p).unwrap();
        w.write_all(b"abc").unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(f.read(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"abc");
        // the writer holds the FIFO open and says nothing: the stop ends the wait
        let setter = stop_after(&stop, 200);
        assert!(is_stop_requested(&f.read(&mut buf).unwrap_err()));
        setter.join().unwrap();
        // without a stop, the writer's close is the end
        stop.store(false, Ordering::SeqCst);
        w.write_all(b"de").unwrap();
        drop(w);
        assert_eq!(f.read(&mut buf).unwrap(), 2);
        assert_eq!(f.read(&mut buf).unwrap(), 0);
    }

    /// (Standard input as a socket is tested through sysporter's `-r -`, in
    /// tests/sysporter.rs: a test cannot swap its own process's fd 0.)
    #[test]
    fn only_standard_input_is_read_from_a_duplicate() {
        use std::os::fd::AsRawFd;
        for p in ["/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"] {
            assert!(dup_stdin(Path::new(p)).is_some(), "{p}");
        }
        // another fd that is a socket keeps the kernel's refusal
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let p = std::path::PathBuf::from(format!("/proc/self/fd/{}", a.as_raw_fd()));
        assert!(dup_stdin(&p).is_none());
        let e = StoppableFile::open(&p, Arc::new(AtomicBool::new(false))).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENXIO), "{e}");
    }

    /// A message socket's reader, and the other end.
    fn message_socket(
        ty: SockType,
        stop: &Arc<AtomicBool>,
    ) -> (StoppableFile, std::os::fd::OwnedFd) {
        use nix::sys::socket::{SockFlag, setsockopt, socketpair};
        let (a, b) = socketpair(AddressFamily::Unix, ty, None, SockFlag::SOCK_CLOEXEC).unwrap();
        // room for the largest message whatever the system's default (wmem_default)
        setsockopt(&b, sockopt::SndBuf, &(1 << 20)).unwrap();
        (
            StoppableFile::socket(File::from(a), stop.clone()).unwrap(),
            b,
        )
    }

    /// Sends each of `msgs` as one message on `fd`.
    fn send_all(fd: &std::os::fd::OwnedFd, msgs: &[Vec<u8>]) {
        for m in msgs {
            let n = nix::sys::socket::send(fd.as_raw_fd(), m, MsgFlags::empty()).unwrap();
            assert_eq!(n, m.len());
        }
    }

    /// Messages of 100,000, 0, 3 and 70,001 bytes, each filled with its own bytes.
    fn messages() -> Vec<Vec<u8>> {
        [100_000usize, 0, 3, 70_001]
            .iter()
            .enumerate()
            .map(|(i, &n)| (0..n).map(|j| (j * 7 + i * 13) as u8).collect())
            .collect()
    }

    #[test]
    fn datagrams_are_read_whole_in_turn_and_an_empty_one_is_no_end() {
        let stop = Arc::new(AtomicBool::new(false));
        let (mut f, peer) = message_socket(SockType::Datagram, &stop);
        let msgs = messages();
        send_all(&peer, &msgs);
        let want = msgs.concat();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while got.len() < want.len() {
            let n = f.read(&mut buf).unwrap();
            assert!(n > 0, "an end after {} bytes", got.len());
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got.len(), want.len());
        assert!(got == want, "the bytes differ");
        // a datagram socket has no end, even once its peer is gone: the stop ends the wait
        drop(peer);
        let setter = stop_after(&stop, 200);
        assert!(is_stop_requested(&f.read(&mut buf).unwrap_err()));
        setter.join().unwrap();
    }

    #[test]
    fn sequenced_packets_are_read_whole_until_the_peer_closes() {
        let stop = Arc::new(AtomicBool::new(false));
        let (mut f, peer) = message_socket(SockType::SeqPacket, &stop);
        // no empty message: on a sequenced-packet socket it reads as the end
        let msgs: Vec<_> = messages().into_iter().filter(|m| !m.is_empty()).collect();
        send_all(&peer, &msgs);
        drop(peer);
        let mut got = Vec::new();
        f.read_to_end(&mut got).unwrap();
        assert_eq!(got.len(), msgs.iter().map(Vec::len).sum::<usize>());
        assert!(got == msgs.concat(), "the bytes differ");
        // an empty message ends it too
        let (mut f, peer) = message_socket(SockType::SeqPacket, &stop);
        send_all(&peer, &[b"ab".to_vec(), Vec::new(), b"cd".to_vec()]);
        let mut got = Vec::new();
        f.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"ab");
        // and stays the end
        assert_eq!(f.read(&mut [0u8; 16]).unwrap(), 0);
    }

    /// A datagram socket whose reading side is shut down polls readable for ever: its
    /// reader waits for the stop after what was queued, without spinning.
    #[test]
    fn a_datagram_socket_shut_down_for_reading_waits_without_spinning() {
        let stop = Arc::new(AtomicBool::new(false));
        let (mut f, peer) = message_socket(SockType::Datagram, &stop);
        send_all(&peer, &[b"abc".to_vec()]);
        nix::sys::socket::shutdown(f.file.as_raw_fd(), nix::sys::socket::Shutdown::Read).unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(f.read(&mut buf).unwrap(), 3);
        let cpu = || nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID).unwrap();
        let (t0, c0) = (Instant::now(), cpu());
        let setter = stop_after(&stop, 500);
        assert!(is_stop_requested(&f.read(&mut buf).unwrap_err()));
        setter.join().unwrap();
        let waited = t0.elapsed();
        let busy = Duration::from(cpu() - c0);
        assert!(waited >= Duration::from_millis(500), "{waited:?}");
        // a spin would burn the whole wait
        assert!(busy < waited / 4, "{busy:?} of CPU in {waited:?}");
    }

    /// UDP datagrams are read as messages too (MSG_TRUNC gives their whole length).
    #[test]
    fn udp_datagrams_are_read_whole() {
        let stop = Arc::new(AtomicBool::new(false));
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(rx.local_addr().unwrap()).unwrap();
        let mut f =
            StoppableFile::socket(File::from(std::os::fd::OwnedFd::from(rx)), stop).unwrap();
        assert!(matches!(f.how, How::Messages { .. }));
        let msgs: Vec<Vec<u8>> = [5000usize, 0, 3]
            .iter()
            .map(|&n| (0..n).map(|j| j as u8).collect())
            .collect();
        for m in &msgs {
            assert_eq!(tx.send(m).unwrap(), m.len());
        }
        let want = msgs.concat();
        let mut got = Vec::new();
        let mut buf = [0u8; 1000];
        while got.len() < want.len() {
            let n = f.read(&mut buf).unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got == want, "the bytes differ");
    }

    #[test]
    fn a_stream_socket_is_read_as_a_stream() {
        let stop = Arc::new(AtomicBool::new(false));
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut f = StoppableFile::socket(File::from(std::os::fd::OwnedFd::from(a)), stop).unwrap();
        assert!(matches!(f.how, How::Stream));
        b.write_all(b"abc").unwrap();
        drop(b);
        let mut got = Vec::new();
        f.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"abc");
    }

    #[test]
    fn a_regular_file_is_read_as_is() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.scap");
        std::fs::write(&p, b"xyz").unwrap();
        // a stop already requested does not concern a regular file's reads
        let mut f = StoppableFile::open(&p, Arc::new(AtomicBool::new(true))).unwrap();
        let flags = fcntl(&f.file, FcntlArg::F_GETFL).unwrap();
        assert_eq!(
            OFlag::from_bits_truncate(flags) & OFlag::O_NONBLOCK,
            OFlag::empty()
        );
        let mut s = Vec::new();
        f.read_to_end(&mut s).unwrap();
        assert_eq!(s, b"xyz");
    }
}
