//! File descriptor state: what each open fd of a process refers to.

use std::collections::BTreeMap;

/// What kind of object an fd refers to (scap's `SCAP_FD_*` types).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FdKind {
    /// Not known.
    #[default]
    Unknown,
    /// Regular file (legacy scap type, no open flags).
    File,
    /// Regular file, with open flags.
    FileV2,
    /// Directory.
    Directory,
    /// IPv4 socket with a peer.
    Ipv4Sock,
    /// IPv6 socket with a peer.
    Ipv6Sock,
    /// Bound (listening) IPv4 socket.
    Ipv4ServSock,
    /// Bound (listening) IPv6 socket.
    Ipv6ServSock,
    /// Pipe or FIFO.
    Fifo,
    /// Unix socket.
    UnixSock,
    /// eventfd.
    Event,
    /// Not supported by the capture.
    Unsupported,
    /// signalfd.
    Signalfd,
    /// epoll.
    Eventpoll,
    /// inotify.
    Inotify,
    /// timerfd.
    Timerfd,
    /// netlink socket.
    Netlink,
    /// BPF object.
    Bpf,
    /// userfaultfd.
    Userfaultfd,
    /// io_uring.
    Iouring,
    /// memfd.
    Memfd,
    /// pidfd.
    Pidfd,
}

impl FdKind {
    /// From the dentry name the kernel gives an fd that is not an opened path
    /// (`[eventfd]`, `[eventpoll]`, `memfd:x`, `anon_inode:inotify`, …), as the live probe
    /// reports it for eventfd, epoll_create, memfd_create and the like.
    pub fn from_anon_name(name: &[u8]) -> FdKind {
        let bare = name.strip_prefix(b"anon_inode:").unwrap_or(name);
        match bare {
            b"[eventfd]" => FdKind::Event,
            b"[eventpoll]" => FdKind::Eventpoll,
            b"[timerfd]" => FdKind::Timerfd,
            b"[signalfd]" => FdKind::Signalfd,
            b"inotify" | b"[inotify]" => FdKind::Inotify,
            b"[userfaultfd]" => FdKind::Userfaultfd,
            b"[io_uring]" => FdKind::Iouring,
            b"[pidfd]" | b"pidfd" => FdKind::Pidfd,
            _ if bare.starts_with(b"memfd:") || bare == b"secretmem" => FdKind::Memfd,
            _ => FdKind::Unsupported,
        }
    }

    /// From the scap fd type number.
    pub fn from_scap(t: u8) -> FdKind {
        match t {
            1 => FdKind::File,
            2 => FdKind::Directory,
            3 => FdKind::Ipv4Sock,
            4 => FdKind::Ipv6Sock,
            5 => FdKind::Ipv4ServSock,
            6 => FdKind::Ipv6ServSock,
            7 => FdKind::Fifo,
            8 => FdKind::UnixSock,
            9 => FdKind::Event,
            10 => FdKind::Unsupported,
            11 => FdKind::Signalfd,
            12 => FdKind::Eventpoll,
            13 => FdKind::Inotify,
            14 => FdKind::Timerfd,
            15 => FdKind::Netlink,
            16 => FdKind::FileV2,
            17 => FdKind::Bpf,
            18 => FdKind::Userfaultfd,
            19 => FdKind::Iouring,
            20 => FdKind::Memfd,
            21 => FdKind::Pidfd,
            _ => FdKind::Unknown,
        }
    }

    /// The type character SysFlow stores in `File.restype`.
    pub fn typechar(self) -> u8 {
        match self {
            FdKind::File | FdKind::FileV2 => b'f',
            FdKind::Directory => b'd',
            FdKind::Ipv4Sock | FdKind::Ipv4ServSock => b'4',
            FdKind::Ipv6Sock | FdKind::Ipv6ServSock => b'6',
            FdKind::Fifo => b'p',
            FdKind::UnixSock | FdKind::Userfaultfd => b'u',
            FdKind::Event => b'e',
            FdKind::Signalfd => b's',
            FdKind::Eventpoll => b'l',
            FdKind::Inotify => b'i',
            FdKind::Timerfd => b't',
            FdKind::Netlink => b'n',
            FdKind::Bpf => b'b',
            FdKind::Iouring => b'r',
            FdKind::Memfd => b'm',
            FdKind::Pidfd => b'P',
            FdKind::Unknown | FdKind::Unsupported => b'o',
        }
    }

    /// A regular file (what `fileOnly` keeps).
    pub fn is_file(self) -> bool {
        matches!(self, FdKind::File | FdKind::FileV2)
    }

    /// A socket of any family.
    pub fn is_socket(self) -> bool {
        matches!(
            self,
            FdKind::Ipv4Sock
                | FdKind::Ipv6Sock
                | FdKind::Ipv4ServSock
                | FdKind::Ipv6ServSock
                | FdKind::UnixSock
                | FdKind::Netlink
        )
    }
}

/// Layer-4 protocol of a socket (scap `SCAP_L4_*`).
pub mod l4 {
    /// Unknown.
    pub const UNKNOWN: u8 = 0;
    /// Not applicable.
    pub const NA: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 2;
    /// UDP.
    pub const UDP: u8 = 3;
    /// ICMP.
    pub const ICMP: u8 = 4;
    /// Raw.
    pub const RAW: u8 = 5;
}

/// Which end of a connection this socket is, as far as the state knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Role {
    /// Not determined.
    #[default]
    None,
    /// Client (connected out).
    Client,
    /// Server (accepted, bound).
    Server,
}

/// IPv4 endpoints: addresses in network byte order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Ipv4Tuple {
    /// Source address.
    pub sip: [u8; 4],
    /// Source port.
    pub sport: u16,
    /// Destination address.
    pub dip: [u8; 4],
    /// Destination port.
    pub dport: u16,
}

impl Ipv4Tuple {
    /// The capture library's text form of the endpoints: `sip:sport->dip:dport`.
    pub fn name(&self) -> Vec<u8> {
        let ip = std::net::Ipv4Addr::from;
        format!(
            "{}:{}->{}:{}",
            ip(self.sip),
            self.sport,
            ip(self.dip),
            self.dport
        )
        .into_bytes()
    }
}

/// IPv6 endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Ipv6Tuple {
    /// Source address.
    pub sip: [u8; 16],
    /// Source port.
    pub sport: u16,
    /// Destination address.
    pub dip: [u8; 16],
    /// Destination port.
    pub dport: u16,
}

/// One open file descriptor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FdInfo {
    /// What it refers to.
    pub kind: FdKind,
    /// Its name: a path, a unix socket description, `""` for anonymous objects.
    pub name: Vec<u8>,
    /// Open flags (`PPM_O_*`).
    pub openflags: u32,
    /// IPv4 endpoints (sockets).
    pub v4: Ipv4Tuple,
    /// IPv6 endpoints (sockets).
    pub v6: Ipv6Tuple,
    /// Bound address of a server socket (IPv4).
    pub serv_ip: [u8; 4],
    /// Bound port of a server socket.
    pub serv_port: u16,
    /// Layer-4 protocol.
    pub l4proto: u8,
    /// Unix socket: kernel address of this end.
    pub unix_source: u64,
    /// Unix socket: kernel address of the peer.
    pub unix_dest: u64,
    /// Inode.
    pub ino: u64,
    /// Connection role.
    pub role: Role,
}

impl FdInfo {
    /// A new fd of a kind, with a name.
    pub fn new(kind: FdKind, name: Vec<u8>) -> Self {
        Self {
            kind,
            name,
            ..Default::default()
        }
    }

    /// Whether `other` describes the same object: kind and name, and the inode where both
    /// know it. Two sockets are taken for the same: the kernel names a connection from
    /// its own end, the state from its role (an accepted connection names its peer
    /// first), so their descriptions differ for one socket.
    pub fn same_object(&self, other: &FdInfo) -> bool {
        if self.kind.is_socket() && other.kind.is_socket() {
            return true;
        }
        self.kind == other.kind
            && self.name == other.name
            && (self.ino == 0 || other.ino == 0 || self.ino == other.ino)
    }

    /// An IPv4 or IPv6 socket with endpoints (not a server socket).
    pub fn is_ip_socket(&self) -> bool {
        matches!(self.kind, FdKind::Ipv4Sock | FdKind::Ipv6Sock)
    }

    /// A TCP socket.
    pub fn is_tcp(&self) -> bool {
        self.is_ip_socket() && self.l4proto == l4::TCP
    }

    /// A UDP socket.
    pub fn is_udp(&self) -> bool {
        self.is_ip_socket() && self.l4proto == l4::UDP
    }
}

/// The fd table of a process (or of a thread that does not share its process's table).
pub type FdTable = BTreeMap<i64, FdInfo>;
