//! Our consumer of the probe's BPF ring buffer (`BPF_MAP_TYPE_RINGBUF`): each record is
//! handed to the caller as a slice of the shared mapping itself, and released to the
//! kernel only after the caller returns, so nothing is copied on the way (libbpf's
//! consumer calls back through C per record, and the data would then have to be copied
//! out to reach the pipeline).
//!
//! The data area is mapped once, not twice as libbpf does to make a record that wraps
//! around the end contiguous: the ring then costs its own size in resident memory, not
//! double. The rare record that wraps is copied into a scratch buffer.
//!
//! The layout is the kernel's (`kernel/bpf/ringbuf.c`, stable UAPI since 5.8): page 0 of
//! the map holds the consumer position (the only writable page), page 1 the producer
//! position, then the data area (`max_entries` bytes, a power of two and a multiple of the
//! page size). Each record starts on an 8-byte boundary with an 8-byte header whose first
//! 32-bit word is the length, with a busy bit (still being written) and a discard bit.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// The record is still being written.
const BUSY_BIT: u32 = 1 << 31;
/// The producer dropped the record.
const DISCARD_BIT: u32 = 1 << 30;
/// Bytes of a record's header.
const HDR: u64 = 8;

/// A mapped BPF ring buffer and an epoll instance waiting on it.
pub(super) struct RingReader {
    /// The consumer position page (read-write).
    consumer: NonNull<u8>,
    /// The producer position page followed by the data area (read-only).
    producer: NonNull<u8>,
    page: usize,
    /// Bytes of the data area (a power of two).
    size: u64,
    epoll: OwnedFd,
    /// A record that wraps around the end, made contiguous.
    scratch: Vec<u8>,
}

// SAFETY: the mappings are plain shared memory owned by this value (unmapped only in
// `drop`), not tied to a thread; the positions are accessed with atomics.
unsafe impl Send for RingReader {}

impl RingReader {
    /// Maps the ring buffer map `fd` of `size` data bytes (its `max_entries`) and sets up
    /// waiting on it.
    ///
    /// Errors: the `mmap`, `epoll_create1` or `epoll_ctl` failure; `InvalidInput` when
    /// `size` is not a power of two multiple of the page size.
    pub(super) fn new(fd: BorrowedFd<'_>, size: u64) -> io::Result<Self> {
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
            .map_err(|_| io::Error::other("no page size"))?;
        if !size.is_power_of_two() || size < page as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("ring buffer size {size} is not a power of two of at least a page"),
            ));
        }
        let data_len = usize::try_from(size).map_err(|_| io::ErrorKind::InvalidInput)?;
        let consumer = map(fd, page, 0, libc::PROT_READ | libc::PROT_WRITE)?;
        let producer = match map(fd, page + data_len, page as libc::off_t, libc::PROT_READ) {
            Ok(p) => p,
            Err(e) => {
                // SAFETY: mapped just above with this length, not used since.
                unsafe { libc::munmap(consumer.as_ptr().cast(), page) };
                return Err(e);
            }
        };
        let unmap = || {
            // SAFETY: both mapped above with these lengths; nothing refers to them.
            unsafe {
                libc::munmap(consumer.as_ptr().cast(), page);
                libc::munmap(producer.as_ptr().cast(), page + data_len);
            }
        };
        // SAFETY: epoll_create1 has no memory preconditions; a valid result is an fd we own.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if ep < 0 {
            let e = io::Error::last_os_error();
            unmap();
            return Err(e);
        }
        // SAFETY: `ep` is a new fd nothing else owns.
        let epoll = unsafe { OwnedFd::from_raw_fd(ep) };
        // Edge-triggered: the ring buffer's poll reports "readable" whenever it holds a
        // byte, so a level-triggered wait would return at once under any trickle of
        // records and the consumer would spin on tiny batches; edge-triggered, a wait
        // ends only at the kernel's wake-up (the probe forces one past a fill level) or
        // the timeout, and a wake-up that came while nobody waited ends the next wait.
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLET) as u32,
            u64: 0,
        };
        // SAFETY: both fds are open; `ev` is a valid event for the call's duration.
        if unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd.as_raw_fd(), &mut ev) } < 0 {
            let e = io::Error::last_os_error();
            unmap();
            return Err(e);
        }
        Ok(Self {
            consumer,
            producer,
            page,
            size,
            epoll,
            scratch: Vec::new(),
        })
    }

    /// Hands every record committed to `f`, in ring order, each released to the kernel
    /// once `f` returns, up to one ring's worth of bytes per call; stops at a record still
    /// being written (or at positions or lengths the kernel never writes: the consumer
    /// page is writable by whoever holds the map). Returns how many records `f` received.
    pub(super) fn consume(&mut self, f: &mut dyn FnMut(&[u8])) -> usize {
        let ring = self.raw();
        // SAFETY: `ring` describes our live mappings (see `RawRing`).
        unsafe { drain(&ring, &mut self.scratch, f) }
    }

    /// Where our mappings hold the positions and the data.
    fn raw(&self) -> RawRing {
        // SAFETY: the data area follows the producer page inside the same mapping.
        let data = unsafe { self.producer.as_ptr().add(self.page) };
        // (all three: inside the mappings made in `new`, page-aligned, live until `drop`)
        RawRing {
            consumer: self.consumer.as_ptr().cast(),
            producer: self.producer.as_ptr().cast(),
            data,
            size: self.size,
        }
    }

    /// The producer position now: every record reserved so far starts before it.
    pub(super) fn producer_pos(&self) -> u64 {
        // SAFETY: the producer page is mapped until `drop`; the kernel stores the
        // position with release semantics.
        unsafe { &*self.producer.as_ptr().cast::<AtomicU64>() }.load(Ordering::Acquire)
    }

    /// The consumer position now: every record before it was handed out.
    pub(super) fn consumer_pos(&self) -> u64 {
        // SAFETY: the consumer page is mapped until `drop`.
        unsafe { &*self.consumer.as_ptr().cast::<AtomicU64>() }.load(Ordering::Acquire)
    }

    /// Records between the consumer position and `end` that were not dropped by their
    /// producer, committed or still being written; they are not consumed. For the count
    /// of what a stop leaves behind.
    pub(super) fn pending_records(&self, end: u64) -> u64 {
        let ring = self.raw();
        // SAFETY: `ring` describes our live mappings (see `RawRing`).
        unsafe { pending(&ring, end) }
    }

    /// Waits up to `timeout` for the kernel to signal records (the probe wakes the
    /// consumer only past a fill level: see `sf_wake_bytes`).
    ///
    /// Errors: `epoll_wait`'s (`Interrupted` on a signal).
    pub(super) fn wait(&self, timeout: Duration) -> io::Result<()> {
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        let ms = epoll_ms(timeout);
        // SAFETY: one event slot, valid for the call.
        let r = unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), &mut ev, 1, ms) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// `timeout` in whole milliseconds for `epoll_wait`, rounded up: a remaining 0.4 ms must
/// not become a 0 ms wait, which returns at once and makes the caller spin until its
/// deadline.
fn epoll_ms(timeout: Duration) -> i32 {
    i32::try_from(timeout.as_nanos().div_ceil(1_000_000)).unwrap_or(i32::MAX)
}

impl Drop for RingReader {
    fn drop(&mut self) {
        // SAFETY: mapped in `new` with these lengths; no slice of them outlives `consume`.
        unsafe {
            libc::munmap(self.consumer.as_ptr().cast(), self.page);
            libc::munmap(
                self.producer.as_ptr().cast(),
                self.page + self.size as usize,
            );
        }
    }
}

/// Where a ring buffer's positions and data are.
struct RawRing {
    /// The consumer position: 8-aligned, valid for reads and writes.
    consumer: *const AtomicU64,
    /// The producer position: 8-aligned, valid for reads.
    producer: *const AtomicU64,
    /// The data area: 8-aligned, `size` bytes valid for reads.
    data: *const u8,
    /// A power of two.
    size: u64,
}

/// The consumer's loop over `ring` (see [`RingReader::consume`]); `scratch` holds a
/// record that wraps around the end.
///
/// # Safety
///
/// `ring`'s pointers must be valid as documented on [`RawRing`] for the whole call, and
/// the producer must follow the kernel's protocol: it never writes a record the consumer
/// position has not passed, and commits a record's header (clearing its busy bit) with a
/// release store after its body.
unsafe fn drain(ring: &RawRing, scratch: &mut Vec<u8>, f: &mut dyn FnMut(&[u8])) -> usize {
    // SAFETY: valid for the call (this function's contract).
    let (consumer, producer) = unsafe { (&*ring.consumer, &*ring.producer) };
    let size = ring.size as usize;
    let mask = ring.size - 1;
    let mut cons = consumer.load(Ordering::Acquire);
    // at most one ring's worth of bytes per call: the callback runs the whole pipeline,
    // and a producer as fast as it must not keep this call from returning
    let end = cons.saturating_add(ring.size);
    let mut prod = producer.load(Ordering::Acquire);
    let mut n = 0;
    while cons < end {
        if cons >= prod {
            // caught up: what arrived meanwhile too, as libbpf's consumer does
            prod = producer.load(Ordering::Acquire);
            if cons >= prod {
                break;
            }
        }
        // SAFETY: this function's contract.
        let Some((len, body)) = (unsafe { header(ring, cons) }) else {
            break;
        };
        if len & BUSY_BIT != 0 {
            break;
        }
        let body = body as usize;
        if len & DISCARD_BIT == 0 {
            let start = ((cons + HDR) & mask) as usize;
            let first = body.min(size - start);
            // SAFETY: `start < size` and `first` stops at the end of the data area; the
            // producer does not reuse the bytes before the consumer position passes
            // them, which happens only after `f` returns.
            let head = unsafe { std::slice::from_raw_parts(ring.data.add(start), first) };
            if first == body {
                f(head);
            } else {
                // SAFETY: as above, the rest wrapped to the start of the data area (a
                // record is never longer than the ring).
                let tail = unsafe { std::slice::from_raw_parts(ring.data, body - first) };
                scratch.clear();
                scratch.extend_from_slice(head);
                scratch.extend_from_slice(tail);
                f(scratch);
            }
            n += 1;
        }
        cons = after(cons, body as u64);
        consumer.store(cons, Ordering::Release);
    }
    n
}

/// The records of `ring` from its consumer position to `end` (at most a ring's worth),
/// committed or still being written, without consuming them (see
/// [`RingReader::pending_records`]). A record still being written has its length already:
/// the kernel writes it, busy bit set, when it reserves the record.
///
/// # Safety
///
/// As for [`drain`].
unsafe fn pending(ring: &RawRing, end: u64) -> u64 {
    // SAFETY: valid for the call (this function's contract).
    let mut cons = unsafe { &*ring.consumer }.load(Ordering::Acquire);
    let end = end.min(cons.saturating_add(ring.size));
    let mut n = 0;
    while cons < end {
        // SAFETY: this function's contract.
        let Some((len, body)) = (unsafe { header(ring, cons) }) else {
            break;
        };
        if len & DISCARD_BIT == 0 {
            n += 1;
        }
        cons = after(cons, body);
    }
    n
}

/// The header of the record at position `cons`: its length word (busy and discard bits
/// included) and its body's length; `None` at what the kernel never writes (a position
/// off the 8-byte grid, a record longer than the ring).
///
/// # Safety
///
/// As for [`drain`].
unsafe fn header(ring: &RawRing, cons: u64) -> Option<(u32, u64)> {
    if cons % 8 != 0 {
        return None; // positions move by whole 8-byte units
    }
    let at = (cons & (ring.size - 1)) as usize;
    // SAFETY: `at` is 8-aligned and below `size`: the header's first word is inside the
    // data area; the producer writes it at reservation and commits it with a release store.
    let len = unsafe { &*ring.data.add(at).cast::<AtomicU32>() }.load(Ordering::Acquire);
    let body = u64::from(len & !(BUSY_BIT | DISCARD_BIT));
    // no record is larger than the ring
    (body + HDR <= ring.size).then_some((len, body))
}

/// The position after the record at `cons` with a body of `body` bytes.
fn after(cons: u64, body: u64) -> u64 {
    cons + ((body + HDR + 7) & !7)
}

/// `mmap(NULL, len, prot, MAP_SHARED, fd, offset)`.
fn map(fd: BorrowedFd<'_>, len: usize, offset: libc::off_t, prot: i32) -> io::Result<NonNull<u8>> {
    // SAFETY: a new shared mapping of the map fd chosen by the kernel; no existing
    // memory is affected.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            prot,
            libc::MAP_SHARED,
            fd.as_raw_fd(),
            offset,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    NonNull::new(p.cast()).ok_or_else(|| io::Error::other("mmap returned null"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_never_rounded_down_to_zero() {
        assert_eq!(epoll_ms(Duration::ZERO), 0);
        assert_eq!(epoll_ms(Duration::from_nanos(1)), 1);
        assert_eq!(epoll_ms(Duration::from_micros(1)), 1);
        assert_eq!(epoll_ms(Duration::from_micros(400)), 1);
        assert_eq!(epoll_ms(Duration::from_millis(10)), 10);
        assert_eq!(epoll_ms(Duration::from_micros(10_001)), 11);
        assert_eq!(epoll_ms(Duration::MAX), i32::MAX);
    }

    /// A ring in plain memory, filled as the kernel's producer fills it.
    struct FakeRing {
        data: Vec<u64>,
        consumer: AtomicU64,
        producer: AtomicU64,
    }

    impl FakeRing {
        fn new(size: usize) -> Self {
            Self {
                data: vec![0; size / 8],
                consumer: AtomicU64::new(0),
                producer: AtomicU64::new(0),
            }
        }

        fn bytes(&mut self) -> &mut [u8] {
            // SAFETY: the u64 buffer viewed as bytes (same length in bytes, u8 has no
            // alignment or validity requirements).
            unsafe {
                std::slice::from_raw_parts_mut(self.data.as_mut_ptr().cast(), self.data.len() * 8)
            }
        }

        /// Appends a record of `body` with the header bits `flags`, wrapping as the
        /// kernel's double mapping lets the producer write across the end.
        fn push(&mut self, body: &[u8], flags: u32) {
            let size = self.data.len() * 8;
            let pos = self.producer.load(Ordering::Relaxed) as usize;
            let len = body.len() as u32 | flags;
            let b = self.bytes();
            for (i, x) in len
                .to_ne_bytes()
                .iter()
                .chain(&[0; 4])
                .chain(body)
                .enumerate()
            {
                b[(pos + i) % size] = *x;
            }
            let total = (body.len() + 8 + 7) & !7;
            self.producer.store((pos + total) as u64, Ordering::Release);
        }

        fn drain(&mut self) -> Vec<Vec<u8>> {
            let ring = RawRing {
                consumer: &self.consumer,
                producer: &self.producer,
                data: self.data.as_ptr().cast(),
                size: (self.data.len() * 8) as u64,
            };
            let mut got = Vec::new();
            let mut scratch = Vec::new();
            // SAFETY: the fake ring's memory lives for the call; the "producer" (this
            // test) writes nothing meanwhile.
            let n = unsafe { drain(&ring, &mut scratch, &mut |r| got.push(r.to_vec())) };
            assert_eq!(n, got.len());
            got
        }
    }

    #[test]
    fn records_come_whole_in_order_across_the_end_of_the_ring() {
        let mut r = FakeRing::new(64);
        r.push(b"first", 0); // 16 bytes
        r.push(&[7; 20], 0); // 32 bytes: ends at 48
        assert_eq!(r.drain(), [b"first".to_vec(), vec![7; 20]]);
        // a record from 48 to 72 wraps: its body straddles the end
        let wrapped: Vec<u8> = (0..13).collect();
        r.push(&wrapped, 0);
        r.push(b"x", DISCARD_BIT); // dropped by the producer: skipped
        r.push(b"after", 0);
        assert_eq!(r.drain(), [wrapped, b"after".to_vec()]);
        assert_eq!(r.consumer.load(Ordering::Relaxed), 104);
        assert!(r.drain().is_empty());
    }

    #[test]
    fn one_call_takes_at_most_a_rings_worth() {
        let mut r = FakeRing::new(64);
        // records of 8 bytes at 16, 32 and 48 (and again from 0 after the wrap), which
        // the callback commits one by one, as a producer that never stops would
        for at in [16, 32, 48] {
            r.bytes()[at..at + 4].copy_from_slice(&8u32.to_ne_bytes());
        }
        r.push(b"one", 0);
        let ring = RawRing {
            consumer: &r.consumer,
            producer: &r.producer,
            data: r.data.as_ptr().cast(),
            size: 64,
        };
        let producer: *const AtomicU64 = &r.producer;
        let mut seen = 0;
        // SAFETY: the fake ring lives for the call; the callback only moves the producer
        // position over records already written.
        let n = unsafe {
            drain(&ring, &mut Vec::new(), &mut |_| {
                seen += 1;
                (*producer).fetch_add(16, Ordering::Release);
            })
        };
        // a producer that never stops: the call returns after 64 bytes (4 records)
        assert_eq!((n, seen), (4, 4));
        assert_eq!(r.consumer.load(Ordering::Relaxed), 64);
    }

    #[test]
    fn positions_and_lengths_the_kernel_never_writes_stop_the_consumer() {
        let mut r = FakeRing::new(64);
        r.push(&[1; 100], 0); // longer than the ring
        assert!(r.drain().is_empty());
        assert_eq!(r.consumer.load(Ordering::Relaxed), 0);
        let mut r = FakeRing::new(64);
        r.push(b"ok", 0);
        r.consumer.store(3, Ordering::Relaxed);
        assert!(r.drain().is_empty());
    }

    #[test]
    fn a_record_still_being_written_stops_the_consumer() {
        let mut r = FakeRing::new(64);
        r.push(b"done", 0);
        r.push(b"busy", BUSY_BIT);
        r.push(b"later", 0);
        assert_eq!(r.drain(), [b"done".to_vec()]);
        assert_eq!(r.consumer.load(Ordering::Relaxed), 16);
        // committed: the consumer goes on from there
        let b = r.bytes();
        b[16..20].copy_from_slice(&4u32.to_ne_bytes());
        assert_eq!(r.drain(), [b"busy".to_vec(), b"later".to_vec()]);
    }

    #[test]
    fn what_a_record_still_being_written_holds_back_is_counted_not_consumed() {
        let mut r = FakeRing::new(64);
        r.push(b"busy", BUSY_BIT); // 0..16
        r.push(b"gone", DISCARD_BIT); // 16..32: dropped by its producer
        r.push(b"later", 0); // 32..48
        let ring = RawRing {
            consumer: &r.consumer,
            producer: &r.producer,
            data: r.data.as_ptr().cast(),
            size: 64,
        };
        // SAFETY: the fake ring lives for the calls; nothing writes to it meanwhile.
        let counts = unsafe { [pending(&ring, 48), pending(&ring, 32), pending(&ring, 0)] };
        assert_eq!(counts, [2, 1, 0]);
        assert_eq!(r.consumer.load(Ordering::Relaxed), 0, "nothing consumed");
        assert!(
            r.drain().is_empty(),
            "the busy record still stops the consumer"
        );
    }
}
