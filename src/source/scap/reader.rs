//! [`ScapReader`]: opens a capture, loads its metadata and hands out events one by one.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::block::{self, BlockHeader, BlockKind, EventBlock};
use super::error::{ScapError, ScapErrorKind};
use super::event::{self, EventHeader, Params, RawEvent};
use super::input::Input;
use super::meta::{self, BodyError, ScapMetadata};
use super::stoppable::StoppableFile;
use super::{fd, iface, proc, user};

/// What [`ScapReader::next_item`] found.
#[derive(Debug, Clone, Copy)]
pub enum ScapItem<'a> {
    /// An event.
    Event(RawEvent<'a>),
    /// A new section started (a concatenated capture): [`ScapReader::metadata`] now
    /// describes it, and consumers should drop the state built from the previous one.
    NewSection,
}

/// Streaming reader of a libscap savefile (`.scap`, optionally gzip-compressed).
///
/// Opening reads the section header and every metadata block up to the first event.
/// Events are then read one at a time into a reused buffer; each [`RawEvent`] borrows it
/// until the next call. After an error the reader is finished: later calls return
/// `Ok(None)`.
pub struct ScapReader<R: Read> {
    input: Input<R>,
    meta: ScapMetadata,
    /// Body of the current block (grows to the largest block seen, then is reused).
    buf: Vec<u8>,
    /// Parameter boundaries of the current event.
    bounds: Vec<u32>,
    /// A block header already read but not yet handled (the first event block).
    pending: Option<BlockHeader>,
    section: u32,
    done: bool,
}

impl<R: Read> std::fmt::Debug for ScapReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScapReader")
            .field("position", &self.input.pos())
            .field("gzip", &self.input.is_gzip())
            .field("section", &self.section)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// What one step of reading produced (no borrow, so callers can loop).
enum Step {
    Event(EventHeader, u64),
    NewSection,
    End,
}

impl ScapReader<File> {
    /// Opens the capture at `path` (plain or gzip-compressed).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ScapError> {
        let path = path.as_ref();
        Self::new(File::open(path).map_err(|e| ScapError::open(path, e))?)
    }
}

impl ScapReader<StoppableFile> {
    /// Opens the capture at `path` (plain or gzip-compressed) for a run that `stop` can
    /// end: reading a pipe or a FIFO, a read that waits for its writer fails with an I/O
    /// error ([`ScapError::is_stop_requested`]) once `stop` is set, and the open does not
    /// wait for a FIFO's writer to appear.
    pub(crate) fn open_until(path: &Path, stop: Arc<AtomicBool>) -> Result<Self, ScapError> {
        Self::new(StoppableFile::open(path, stop).map_err(|e| ScapError::open(path, e))?)
    }
}

impl<R: Read> ScapReader<R> {
    /// Reads a capture from `reader` (buffered internally; gzip is detected by its magic).
    /// Fails if the section header or a metadata block is missing, truncated or corrupt.
    pub fn new(reader: R) -> Result<Self, ScapError> {
        let mut this = Self {
            input: Input::new(reader)?,
            meta: ScapMetadata::default(),
            buf: Vec::new(),
            bounds: Vec::new(),
            pending: None,
            section: 0,
            done: false,
        };
        let first = match this.read_block_header()? {
            Some(h) => h,
            None => {
                return Err(ScapError::new(
                    0,
                    ScapErrorKind::Truncated {
                        what: "the section header (the input is empty)",
                    },
                ));
            }
        };
        if first.block_type != block::SHB {
            return Err(ScapError::new(
                0,
                ScapErrorKind::NotScap {
                    found: first.block_type,
                },
            ));
        }
        this.read_section(first)?;
        Ok(this)
    }

    /// Metadata of the current section.
    pub fn metadata(&self) -> &ScapMetadata {
        &self.meta
    }

    /// Index of the current section: 0 for the first, incremented at each new section
    /// header found after events.
    pub fn section_index(&self) -> u32 {
        self.section
    }

    /// Whether the input is gzip-compressed.
    pub fn is_gzip(&self) -> bool {
        self.input.is_gzip()
    }

    /// Bytes of the (decompressed) capture consumed so far.
    pub fn position(&self) -> u64 {
        self.input.pos()
    }

    /// Reads the next event, passing silently over section boundaries (check
    /// [`section_index`](Self::section_index) or use [`next_item`](Self::next_item) to
    /// see them). `Ok(None)` at the end of the capture.
    pub fn next_event(&mut self) -> Result<Option<RawEvent<'_>>, ScapError> {
        loop {
            match self.step()? {
                Step::Event(h, offset) => return Ok(Some(self.event(h, offset))),
                Step::NewSection => continue,
                Step::End => return Ok(None),
            }
        }
    }

    /// Reads the next event or section boundary. `Ok(None)` at the end of the capture.
    pub fn next_item(&mut self) -> Result<Option<ScapItem<'_>>, ScapError> {
        Ok(match self.step()? {
            Step::Event(h, offset) => Some(ScapItem::Event(self.event(h, offset))),
            Step::NewSection => Some(ScapItem::NewSection),
            Step::End => None,
        })
    }

    fn event(&self, h: EventHeader, file_offset: u64) -> RawEvent<'_> {
        RawEvent {
            ts: h.ts,
            tid: h.tid,
            event_type: h.event_type,
            cpu: h.cpu,
            flags: h.flags,
            file_offset,
            params: Params::new(&self.buf, &self.bounds),
        }
    }

    /// One step, marking the reader finished on error or end.
    fn step(&mut self) -> Result<Step, ScapError> {
        if self.done {
            return Ok(Step::End);
        }
        let res = self.step_inner();
        if matches!(res, Err(_) | Ok(Step::End)) {
            self.done = true;
        }
        res
    }

    fn step_inner(&mut self) -> Result<Step, ScapError> {
        let header = match self.pending.take() {
            Some(h) => h,
            None => match self.read_block_header()? {
                Some(h) => h,
                None => return Ok(Step::End),
            },
        };
        match BlockKind::of(header.block_type) {
            BlockKind::Event(shape) => {
                let h = self.read_event(header, shape)?;
                Ok(Step::Event(h, header.offset))
            }
            BlockKind::SectionHeader => {
                self.read_section(header)?;
                self.section = self.section.saturating_add(1);
                Ok(Step::NewSection)
            }
            _ => Err(ScapError::new(
                header.offset,
                ScapErrorKind::UnexpectedBlock {
                    block_type: header.block_type,
                },
            )),
        }
    }

    /// Reads a block header; `None` at a clean end of input (no byte left).
    fn read_block_header(&mut self) -> Result<Option<BlockHeader>, ScapError> {
        let offset = self.input.pos();
        let mut raw = [0u8; 8];
        match self.input.read_up_to(&mut raw)? {
            0 => Ok(None),
            8 => Ok(Some(BlockHeader::parse(raw, offset))),
            _ => Err(ScapError::new(
                self.input.pos(),
                ScapErrorKind::Truncated {
                    what: "a block header",
                },
            )),
        }
    }

    /// Checks the block length and reads the rest of the block (body, padding and
    /// trailer) into `self.buf`; returns the body+padding length (trailer excluded).
    fn read_block_rest(&mut self, h: BlockHeader, min_len: u32) -> Result<usize, ScapError> {
        let kind = BlockKind::of(h.block_type);
        if h.total_len < min_len {
            return Err(ScapError::new(
                h.offset,
                ScapErrorKind::BlockTooShort {
                    block_type: h.block_type,
                    length: h.total_len,
                    min: min_len,
                },
            ));
        }
        if h.total_len > block::MAX_BLOCK_LEN {
            return Err(ScapError::new(
                h.offset,
                ScapErrorKind::BlockTooLarge {
                    block_type: h.block_type,
                    length: h.total_len,
                    limit: block::MAX_BLOCK_LEN,
                },
            ));
        }
        let rest = (h.total_len - block::HEADER_LEN) as usize;
        let what = match kind {
            BlockKind::Event(_) => "an event block",
            BlockKind::SectionHeader => "the section header block",
            _ => "a metadata block",
        };
        self.input.fill_vec(&mut self.buf, rest, what)?;
        Ok(rest - block::TRAILER_LEN as usize)
    }

    fn read_event(&mut self, h: BlockHeader, shape: EventBlock) -> Result<EventHeader, ScapError> {
        // Shortest event block: header, cpu, flags, event header, trailer.
        let flags_len = if shape.with_flags { 4 } else { 0 };
        let event_header_len = if shape.v2 { 26 } else { 22 };
        let min_len = block::HEADER_LEN + 2 + flags_len + event_header_len + block::TRAILER_LEN;
        let body_len = self.read_block_rest(h, min_len)?;
        // The event block trailer is not checked, as libscap does not check it either.
        let body = self.buf.get(..body_len).unwrap_or_default();
        event::decode(body, shape, &mut self.bounds).map_err(|e| {
            ScapError::new(
                h.body_offset().saturating_add(e.at as u64),
                ScapErrorKind::MalformedEvent {
                    event_type: e.event_type,
                    what: e.what,
                },
            )
        })
    }

    /// Reads a section: its header block `shb` (already read), then metadata blocks up to
    /// the first event block, which is left in `self.pending`.
    fn read_section(&mut self, shb: BlockHeader) -> Result<(), ScapError> {
        let min_len = block::HEADER_LEN + meta::SECTION_HEADER_BODY_LEN + block::TRAILER_LEN;
        let body_len = self.read_metadata_block(shb, min_len)?;
        let body = self.buf.get(..body_len).unwrap_or_default();
        let (magic, section) =
            meta::parse_section_header(body).map_err(|e| self.body_error(shb, e))?;
        if magic != meta::BYTE_ORDER_MAGIC {
            return Err(ScapError::new(
                shb.body_offset(),
                ScapErrorKind::BadMagic { found: magic },
            ));
        }
        if section.major > meta::SUPPORTED_MAJOR {
            return Err(ScapError::new(
                shb.body_offset(),
                ScapErrorKind::UnsupportedVersion {
                    major: section.major,
                    minor: section.minor,
                },
            ));
        }
        let mut meta = ScapMetadata {
            section,
            ..ScapMetadata::default()
        };
        // Without an event block this is a capture with metadata only.
        while let Some(h) = self.read_block_header()? {
            let kind = BlockKind::of(h.block_type);
            if let BlockKind::Event(_) = kind {
                self.pending = Some(h);
                break;
            }
            let body_len = self.read_metadata_block(h, block::HEADER_LEN + block::TRAILER_LEN)?;
            let body = self.buf.get(..body_len).unwrap_or_default();
            let parsed = match kind {
                BlockKind::MachineInfo => {
                    meta::parse_machine_info(body).map(|mi| meta.machine = Some(mi))
                }
                BlockKind::ProcList(version) => {
                    proc::parse_proclist(body, version, &mut meta.processes)
                }
                BlockKind::FdList { v2 } => fd::parse_fdlist(body, v2).map(|l| meta.fds.push(l)),
                BlockKind::InterfaceList { v2 } => {
                    iface::parse_iflist(body, v2).map(|l| meta.interfaces = l)
                }
                BlockKind::UserList { v2 } => user::parse_userlist(body, v2).map(|(u, g)| {
                    meta.users = u;
                    meta.groups = g;
                }),
                // Unknown blocks (and, as in libscap, a section header before any event)
                // are skipped.
                _ => Ok(()),
            };
            parsed.map_err(|e| self.body_error(h, e))?;
        }
        self.meta = meta;
        Ok(())
    }

    /// Reads a metadata block and checks its trailer; returns the body length.
    fn read_metadata_block(&mut self, h: BlockHeader, min_len: u32) -> Result<usize, ScapError> {
        let body_len = self.read_block_rest(h, min_len)?;
        let trailer = self
            .buf
            .get(body_len..)
            .and_then(|t| t.get(..4))
            .and_then(|t| <[u8; 4]>::try_from(t).ok())
            .map(u32::from_le_bytes)
            .unwrap_or_default();
        if trailer != h.total_len {
            return Err(ScapError::new(
                h.offset
                    .saturating_add(u64::from(h.total_len))
                    .saturating_sub(u64::from(block::TRAILER_LEN)),
                ScapErrorKind::TrailerMismatch {
                    block_type: h.block_type,
                    header: h.total_len,
                    trailer,
                },
            ));
        }
        Ok(body_len)
    }

    fn body_error(&self, h: BlockHeader, e: BodyError) -> ScapError {
        ScapError::new(
            h.body_offset().saturating_add(e.at as u64),
            ScapErrorKind::MalformedBlock {
                block: BlockKind::of(h.block_type).name(),
                block_type: h.block_type,
                what: e.what,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::scap::event::tests::encode as encode_event;
    use crate::source::scap::proc::tests::{encode_entry, sample};
    use crate::source::scap::{FdInfo, InterfaceAddr};

    /// Frames `body` as a block of type `ty` (padding to 4 bytes, matching trailer).
    fn block(ty: u32, body: &[u8]) -> Vec<u8> {
        let padded = body.len().div_ceil(4) * 4;
        let total = (8 + padded + 4) as u32;
        let mut b = ty.to_le_bytes().to_vec();
        b.extend(total.to_le_bytes());
        b.extend(body);
        b.resize(8 + padded, 0);
        b.extend(total.to_le_bytes());
        b
    }

    fn shb(major: u16) -> Vec<u8> {
        let mut body = meta::BYTE_ORDER_MAGIC.to_le_bytes().to_vec();
        body.extend(major.to_le_bytes());
        body.extend(2u16.to_le_bytes());
        body.extend(u64::MAX.to_le_bytes());
        block(block::SHB, &body)
    }

    fn machine_info() -> Vec<u8> {
        let mut body = 2u32.to_le_bytes().to_vec();
        body.extend(1u64.to_le_bytes());
        body.extend(2u64.to_le_bytes());
        let mut host = [0u8; 128];
        host[..4].copy_from_slice(b"host");
        body.extend(host);
        body.extend([0u8; 32]);
        body
    }

    fn event_block(ty: u32, event_type: u16, params: &[&[u8]]) -> Vec<u8> {
        let EventBlock { v2, with_flags } = match BlockKind::of(ty) {
            BlockKind::Event(shape) => shape,
            other => panic!("{other:?}"),
        };
        let shape = EventBlock { v2, with_flags };
        let large = v2 && crate::source::scap::is_large_payload(event_type);
        block(
            ty,
            &encode_event(shape, event_type, 1000, 42, 7, params, large),
        )
    }

    fn legacy_capture() -> Vec<u8> {
        let mut f = shb(1);
        f.extend(block(0x8002_ABCD, &machine_info()));
        f.extend(block(0x8000_ABCD, &encode_entry(&sample(1), 1, &[])));
        f.extend(block(0x211, &encode_entry(&sample(5), 5, &[])));
        let mut fdl = 101u64.to_le_bytes().to_vec();
        fdl.extend(3i64.to_le_bytes());
        fdl.extend(9u64.to_le_bytes());
        fdl.push(1);
        fdl.extend(2u16.to_le_bytes());
        fdl.extend(b"/x");
        f.extend(block(0x203, &fdl));
        let mut il = 1u16.to_le_bytes().to_vec();
        il.extend(2u16.to_le_bytes());
        il.extend([10, 0, 0, 1, 255, 0, 0, 0, 10, 255, 255, 255]);
        il.extend(0u64.to_le_bytes());
        il.extend(b"e0");
        f.extend(block(0x205, &il));
        let mut ul = vec![0];
        ul.extend(0u32.to_le_bytes());
        ul.extend(0u32.to_le_bytes());
        for s in [&b"root"[..], b"/root", b"/bin/sh"] {
            ul.extend((s.len() as u16).to_le_bytes());
            ul.extend(s);
        }
        f.extend(block(0x206, &ul));
        f.extend(block(0x999, b"something new"));
        f
    }

    #[test]
    fn legacy_blocks_and_every_event_block_type() {
        let mut f = legacy_capture();
        let fd = 5i64.to_le_bytes();
        let json = vec![b'j'; 70_000];
        let events: [(u32, u16, Vec<&[u8]>); 8] = [
            (0x204, 5, vec![&fd[..]]),
            (0x8010_ABCD, 4, vec![&fd[..]]),
            (0x208, 5, vec![&fd[..]]),
            (0x216, 3, vec![&fd[..], b"/etc\0"]),
            (0x217, 2, vec![]),
            (0x221, 324, vec![&json[..]]),
            (0x222, 402, vec![b"a", b"b"]),
            (0x216, 999, vec![b"future"]),
        ];
        let mut offsets = Vec::new();
        for (ty, event_type, params) in &events {
            offsets.push(f.len() as u64);
            f.extend(event_block(*ty, *event_type, params));
        }
        let mut reader = ScapReader::new(&f[..]).unwrap();
        let meta = reader.metadata();
        assert_eq!(meta.machine.as_ref().unwrap().hostname, b"host");
        assert_eq!(meta.processes, vec![sample(1), sample(5)]);
        assert_eq!(meta.fds_of(101).count(), 1);
        assert_eq!(
            meta.fds[0].fds[0].info,
            FdInfo::Named {
                name: b"/x".to_vec()
            }
        );
        assert!(matches!(meta.interfaces[0].addr, InterfaceAddr::V4 { .. }));
        assert_eq!(meta.users[0].name, b"root");
        for ((ty, event_type, params), offset) in events.iter().zip(offsets) {
            let ev = reader.next_event().unwrap().unwrap();
            assert_eq!(ev.event_type, *event_type, "block {ty:#x}");
            assert_eq!(
                (ev.ts, ev.tid, ev.cpu, ev.file_offset),
                (1000, 42, 3, offset)
            );
            let with_flags = matches!(ty, 0x208 | 0x217 | 0x222);
            assert_eq!(ev.flags, with_flags.then_some(7));
            let got: Vec<&[u8]> = ev.params.iter().collect();
            assert_eq!(&got, params, "block {ty:#x}");
        }
        assert!(reader.next_event().unwrap().is_none());
        assert!(reader.next_event().unwrap().is_none());
    }

    fn error_of(f: &[u8]) -> ScapError {
        let mut reader = match ScapReader::new(f) {
            Ok(r) => r,
            Err(e) => return e,
        };
        loop {
            match reader.next_event() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("no error"),
                Err(e) => return e,
            }
        }
    }

    #[test]
    fn header_errors() {
        assert!(matches!(
            error_of(b"").kind,
            ScapErrorKind::Truncated { .. }
        ));
        assert!(matches!(
            error_of(b"\x0a\x0d\x0d").kind,
            ScapErrorKind::Truncated { .. }
        ));
        let e = error_of(&block(0x201, &machine_info()));
        assert!(matches!(e.kind, ScapErrorKind::NotScap { found: 0x201 }));
        let mut bad_magic = shb(1);
        bad_magic[8..12].copy_from_slice(&0x4D3C_2B1Au32.to_le_bytes());
        let e = error_of(&bad_magic);
        assert!(matches!(
            e.kind,
            ScapErrorKind::BadMagic { found: 0x4D3C_2B1A }
        ));
        assert_eq!(e.offset, 8);
        let e = error_of(&shb(2));
        assert!(matches!(
            e.kind,
            ScapErrorKind::UnsupportedVersion { major: 2, minor: 2 }
        ));
        assert!(e.to_string().contains("2.2"), "{e}");
    }

    #[test]
    fn block_errors_carry_offsets() {
        let base = legacy_capture();
        let at = base.len() as u64;

        let mut trailer = base.clone();
        let mut mi = block(0x201, &machine_info());
        let n = mi.len();
        mi[n - 1] ^= 1;
        trailer.extend(mi);
        let e = error_of(&trailer);
        assert!(matches!(
            e.kind,
            ScapErrorKind::TrailerMismatch {
                block_type: 0x201,
                ..
            }
        ));
        assert_eq!(e.offset, at + n as u64 - 4);

        let mut huge = base.clone();
        huge.extend(0x216u32.to_le_bytes());
        huge.extend(0x7fff_fff0u32.to_le_bytes());
        huge.extend([0u8; 64]);
        let e = error_of(&huge);
        assert!(matches!(e.kind, ScapErrorKind::BlockTooLarge { .. }));
        assert_eq!(e.offset, at);

        let mut tiny = base.clone();
        tiny.extend(0x216u32.to_le_bytes());
        tiny.extend(4u32.to_le_bytes());
        let e = error_of(&tiny);
        assert!(matches!(e.kind, ScapErrorKind::BlockTooShort { .. }));

        let mut bad_proc = base.clone();
        bad_proc.extend(block(0x215, &[1, 0, 0, 0, 9, 9, 9, 9]));
        let e = error_of(&bad_proc);
        assert!(
            matches!(
                e.kind,
                ScapErrorKind::MalformedBlock {
                    block: "process list",
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(e.offset, at + 8);

        // After events: a metadata block is unexpected; a bad event is reported at its block.
        let mut after = base.clone();
        after.extend(event_block(0x216, 5, &[&[0; 8]]));
        let ev_at = after.len() as u64;
        let mut bad_event = after.clone();
        after.extend(block(0x201, &machine_info()));
        let mut reader = ScapReader::new(&after[..]).unwrap();
        assert!(reader.next_event().unwrap().is_some());
        let e = reader.next_event().unwrap_err();
        assert!(matches!(
            e.kind,
            ScapErrorKind::UnexpectedBlock { block_type: 0x201 }
        ));
        assert_eq!(e.offset, ev_at);
        assert!(reader.next_event().unwrap().is_none());

        let mut ev = event_block(0x216, 5, &[&[0; 8]]);
        ev[8 + 2 + 16..8 + 2 + 20].copy_from_slice(&1000u32.to_le_bytes());
        bad_event.extend(ev);
        let e = error_of(&bad_event);
        assert!(
            matches!(e.kind, ScapErrorKind::MalformedEvent { event_type: 5, .. }),
            "{e}"
        );
        assert_eq!(e.offset, ev_at + 8 + 2);

        // Truncated in the middle of an event block: the earlier event, then the error.
        let mut cut = base.clone();
        cut.extend(event_block(0x216, 5, &[&[0; 8]]));
        let whole = cut.len();
        cut.extend(event_block(0x216, 5, &[&[0; 8]]));
        cut.truncate(cut.len() - 3);
        let mut reader = ScapReader::new(&cut[..]).unwrap();
        assert!(reader.next_event().unwrap().is_some());
        let e = reader.next_event().unwrap_err();
        assert!(matches!(e.kind, ScapErrorKind::Truncated { .. }));
        assert_eq!(e.offset, cut.len() as u64);
        assert!(e.offset > whole as u64);
    }

    #[test]
    fn metadata_only_capture_has_no_events() {
        let f = legacy_capture();
        let mut reader = ScapReader::new(&f[..]).unwrap();
        assert_eq!(reader.metadata().processes.len(), 2);
        assert!(reader.next_item().unwrap().is_none());
    }

    #[test]
    fn new_section_replaces_metadata() {
        let mut f = legacy_capture();
        f.extend(event_block(0x216, 5, &[&[0; 8]]));
        f.extend(shb(1));
        f.extend(block(0x215, &encode_entry(&sample(9), 9, &[])));
        f.extend(event_block(0x216, 5, &[&[0; 8]]));
        let mut reader = ScapReader::new(&f[..]).unwrap();
        assert!(matches!(
            reader.next_item().unwrap(),
            Some(ScapItem::Event(_))
        ));
        assert_eq!(reader.section_index(), 0);
        assert!(matches!(
            reader.next_item().unwrap(),
            Some(ScapItem::NewSection)
        ));
        assert_eq!(reader.section_index(), 1);
        assert_eq!(reader.metadata().processes, vec![sample(9)]);
        assert!(reader.metadata().machine.is_none());
        assert!(matches!(
            reader.next_item().unwrap(),
            Some(ScapItem::Event(_))
        ));
        assert!(reader.next_item().unwrap().is_none());
        // next_event passes over the boundary.
        let mut reader = ScapReader::new(&f[..]).unwrap();
        let mut n = 0;
        while reader.next_event().unwrap().is_some() {
            n += 1;
        }
        assert_eq!((n, reader.section_index()), (2, 1));
    }

    #[test]
    fn open_reports_the_path() {
        let e = ScapReader::open("/nonexistent/capture.scap").unwrap_err();
        assert!(e.to_string().contains("/nonexistent/capture.scap"), "{e}");
        assert!(std::error::Error::source(&e).is_some());
    }
}
