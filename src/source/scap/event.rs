//! Event blocks: `u16 cpu`, optional `u32 flags`, then one event (header, parameter
//! lengths, parameter values). Decoding validates the layout once and records where each
//! parameter starts, so [`RawEvent::param`] is a bounds-checked slice of the block buffer.

use std::fmt;

use super::block::EventBlock;
use super::cursor::Cursor;

/// Event header size in V2 blocks (`ts, tid, len, type, nparams`).
const HEADER_LEN_V2: usize = 26;
/// Event header size in V1 blocks (no `nparams`).
const HEADER_LEN_V1: usize = 22;
/// Most parameters accepted in one event (the table's maximum is under 32).
const MAX_PARAMS: u32 = 1 << 16;
/// V1 captures recorded lengths 3 bytes too long for these two event types.
const V1_LEN_QUIRK_TYPES: [u16; 2] = [280, 286];

/// One event, borrowing the reader's block buffer until the next read.
#[derive(Debug, Clone, Copy)]
pub struct RawEvent<'a> {
    /// Timestamp, nanoseconds since the epoch.
    pub ts: u64,
    /// Thread id (0 or `u64::MAX` for meta events).
    pub tid: u64,
    /// Event type (`PPME_*` id). Ids outside the libs 0.18.1 table are passed through.
    pub event_type: u16,
    /// CPU that recorded the event.
    pub cpu: u16,
    /// Event flags, present only in "EVF" blocks.
    pub flags: Option<u32>,
    /// Offset of the event's block in the (decompressed) capture.
    pub file_offset: u64,
    /// The parameters.
    pub params: Params<'a>,
}

impl<'a> RawEvent<'a> {
    /// Raw bytes of parameter `i`, or `None` if the event carries fewer than `i + 1`
    /// parameters (older captures may carry fewer than the current table lists).
    pub fn param(&self, i: usize) -> Option<&'a [u8]> {
        self.params.get(i)
    }

    /// Number of parameters the event carries.
    pub fn nparams(&self) -> usize {
        self.params.len()
    }
}

/// The parameters of a [`RawEvent`].
#[derive(Clone, Copy)]
pub struct Params<'a> {
    data: &'a [u8],
    /// `bounds[i]..bounds[i + 1]` is parameter `i` in `data`.
    bounds: &'a [u32],
}

impl<'a> Params<'a> {
    pub(crate) fn new(data: &'a [u8], bounds: &'a [u32]) -> Self {
        Self { data, bounds }
    }

    /// Raw bytes of parameter `i`, or `None` if there are not that many.
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        let start = *self.bounds.get(i)? as usize;
        let end = *self.bounds.get(i.checked_add(1)?)? as usize;
        self.data.get(start..end)
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.bounds.len().saturating_sub(1)
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Iterates over the parameters' raw bytes.
    pub fn iter(&self) -> ParamsIter<'a> {
        ParamsIter {
            params: *self,
            next: 0,
        }
    }
}

impl fmt::Debug for Params<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(<[u8]>::len))
            .finish()
    }
}

impl<'a> IntoIterator for Params<'a> {
    type Item = &'a [u8];
    type IntoIter = ParamsIter<'a>;

    fn into_iter(self) -> ParamsIter<'a> {
        self.iter()
    }
}

/// Iterator over [`Params`].
#[derive(Debug, Clone)]
pub struct ParamsIter<'a> {
    params: Params<'a>,
    next: usize,
}

impl<'a> Iterator for ParamsIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let p = self.params.get(self.next)?;
        self.next = self.next.saturating_add(1);
        Some(p)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.params.len().saturating_sub(self.next);
        (n, Some(n))
    }
}

impl ExactSizeIterator for ParamsIter<'_> {}

/// The fixed fields of a decoded event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EventHeader {
    pub(crate) ts: u64,
    pub(crate) tid: u64,
    pub(crate) event_type: u16,
    pub(crate) cpu: u16,
    pub(crate) flags: Option<u32>,
}

/// A problem inside an event block body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EventError {
    /// Offset from the start of the block body.
    pub(crate) at: usize,
    /// Event type, if the header could be read (else 0).
    pub(crate) event_type: u16,
    pub(crate) what: &'static str,
}

/// Decodes the event in `body` (the block body without its trailing length) and fills
/// `bounds` with parameter boundaries (offsets into `body`).
pub(crate) fn decode(
    body: &[u8],
    shape: EventBlock,
    bounds: &mut Vec<u32>,
) -> Result<EventHeader, EventError> {
    bounds.clear();
    let mut c = Cursor::new(body);
    let bad = |at, event_type, what| EventError {
        at,
        event_type,
        what,
    };
    let mut fixed = || -> Option<_> {
        let cpu = c.u16()?;
        let flags = if shape.with_flags {
            Some(c.u32()?)
        } else {
            None
        };
        let evt = c.pos();
        let ts = c.u64()?;
        let tid = c.u64()?;
        let len = c.u32()?;
        let event_type = c.u16()?;
        let nparams = if shape.v2 { Some(c.u32()?) } else { None };
        Some((
            evt,
            len,
            nparams,
            EventHeader {
                ts,
                tid,
                event_type,
                cpu,
                flags,
            },
        ))
    };
    let (evt, len, nparams, header) = fixed().ok_or(bad(0, 0, "event header exceeds the block"))?;
    let ty = header.event_type;
    let hdr_len = if shape.v2 {
        HEADER_LEN_V2
    } else {
        HEADER_LEN_V1
    };
    let mut len = len as usize;
    if len < hdr_len {
        return Err(bad(
            evt,
            ty,
            "event length is smaller than the event header",
        ));
    }
    if len > body.len().saturating_sub(evt) {
        return Err(bad(evt, ty, "event length exceeds the block"));
    }
    if !shape.v2 && V1_LEN_QUIRK_TYPES.contains(&ty) && len >= hdr_len.saturating_add(3) {
        len -= 3;
    }
    let end = evt.saturating_add(len);
    let lens_at = evt.saturating_add(hdr_len);
    let lens_err = |what| bad(lens_at, ty, what);
    let (nparams, len_size) = match nparams {
        Some(n) => {
            if n > MAX_PARAMS {
                return Err(lens_err("too many parameters"));
            }
            let size = if is_large_payload(ty) { 4 } else { 2 };
            (n as usize, size)
        }
        None => (
            infer_v1_nparams(body, ty, lens_at, end).ok_or(lens_err(
                "cannot infer the parameter count of a version 1 event (corrupt lengths)",
            ))?,
            2,
        ),
    };
    let values_at = nparams
        .checked_mul(len_size)
        .and_then(|n| n.checked_add(lens_at))
        .filter(|&v| v <= end)
        .ok_or(lens_err("parameter lengths do not fit in the event"))?;
    let lens = body.get(lens_at..values_at).unwrap_or_default();
    let mut pos = values_at;
    bounds.push(pos as u32);
    let mut push = |l: usize| -> Result<(), EventError> {
        pos = pos.saturating_add(l);
        if pos > end {
            return Err(lens_err("parameter values exceed the event length"));
        }
        bounds.push(pos as u32);
        Ok(())
    };
    if len_size == 2 {
        for l in lens.chunks_exact(2) {
            push(usize::from(u16::from_le_bytes([l[0], l[1]])))?;
        }
    } else {
        for l in lens.chunks_exact(4) {
            push(u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize)?;
        }
    }
    Ok(header)
}

/// Most parameters any event type has had.
const V1_MAX_PARAMS: usize = 32;

/// Event types whose parameter lengths are `u32` (`EF_LARGE_PAYLOAD`: plugin events,
/// container JSON events, async events); the width follows the type, not the block.
pub const LARGE_PAYLOAD_TYPES: [u16; 3] = [322, 324, 402];

/// Whether events of this type store `u32` parameter lengths.
pub fn is_large_payload(event_type: u16) -> bool {
    LARGE_PAYLOAD_TYPES.contains(&event_type)
}

/// Finds how many `u16` parameter lengths a V1 event (whose header has no count) has: the
/// largest count whose lengths and values end exactly at `end`.
fn infer_v1_nparams(body: &[u8], _ty: u16, lens_at: usize, end: usize) -> Option<usize> {
    let room = end.checked_sub(lens_at)? / 2;
    for n in (0..=room.min(V1_MAX_PARAMS)).rev() {
        let values_at = lens_at.checked_add(n.checked_mul(2)?)?;
        let lens = body.get(lens_at..values_at)?;
        let total: usize = lens
            .chunks_exact(2)
            .map(|l| usize::from(u16::from_le_bytes([l[0], l[1]])))
            .sum();
        if values_at.saturating_add(total) == end {
            return Some(n);
        }
    }
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds an event block body (without trailer): cpu, optional flags, header, lens,
    /// values. `large` selects u32 lengths.
    pub(crate) fn encode(
        shape: EventBlock,
        ty: u16,
        ts: u64,
        tid: u64,
        flags: u32,
        params: &[&[u8]],
        large: bool,
    ) -> Vec<u8> {
        let mut b = 3u16.to_le_bytes().to_vec();
        if shape.with_flags {
            b.extend(flags.to_le_bytes());
        }
        let hdr = if shape.v2 {
            HEADER_LEN_V2
        } else {
            HEADER_LEN_V1
        };
        let lsize = if large { 4 } else { 2 };
        let len = hdr + params.len() * lsize + params.iter().map(|p| p.len()).sum::<usize>();
        b.extend(ts.to_le_bytes());
        b.extend(tid.to_le_bytes());
        b.extend((len as u32).to_le_bytes());
        b.extend(ty.to_le_bytes());
        if shape.v2 {
            b.extend((params.len() as u32).to_le_bytes());
        }
        for p in params {
            if large {
                b.extend((p.len() as u32).to_le_bytes());
            } else {
                b.extend((p.len() as u16).to_le_bytes());
            }
        }
        for p in params {
            b.extend(*p);
        }
        b
    }

    const V2: EventBlock = EventBlock {
        v2: true,
        with_flags: false,
    };
    const V1: EventBlock = EventBlock {
        v2: false,
        with_flags: false,
    };

    fn params_of(body: &[u8], bounds: &[u32]) -> Vec<Vec<u8>> {
        Params::new(body, bounds)
            .iter()
            .map(<[u8]>::to_vec)
            .collect()
    }

    #[test]
    fn v2_event() {
        let body = encode(
            V2,
            3,
            10,
            20,
            0,
            &[&5i64.to_le_bytes(), b"/etc/x\0", &[]],
            false,
        );
        let mut bounds = Vec::new();
        let h = decode(&body, V2, &mut bounds).unwrap();
        assert_eq!(
            (h.ts, h.tid, h.event_type, h.cpu, h.flags),
            (10, 20, 3, 3, None)
        );
        assert_eq!(
            params_of(&body, &bounds),
            [5i64.to_le_bytes().to_vec(), b"/etc/x\0".to_vec(), vec![]]
        );
        let p = Params::new(&body, &bounds);
        assert_eq!(p.len(), 3);
        assert_eq!(p.get(3), None);
        assert_eq!(format!("{p:?}"), "[8, 7, 0]");
    }

    #[test]
    fn evf_flags_and_large_payload() {
        let shape = EventBlock {
            v2: true,
            with_flags: true,
        };
        let big = vec![b'x'; 70_000];
        let body = encode(shape, 324, 1, 2, 0xABCD, &[&big], true);
        let mut bounds = Vec::new();
        let h = decode(&body, shape, &mut bounds).unwrap();
        assert_eq!(h.flags, Some(0xABCD));
        assert_eq!(
            Params::new(&body, &bounds).get(0).map(<[u8]>::len),
            Some(70_000)
        );
    }

    #[test]
    fn v1_infers_nparams() {
        // CLOSE_X (5): one parameter.
        let body = encode(V1, 5, 1, 2, 0, &[&0i64.to_le_bytes()], false);
        let mut bounds = Vec::new();
        decode(&body, V1, &mut bounds).unwrap();
        assert_eq!(params_of(&body, &bounds), [0i64.to_le_bytes().to_vec()]);
        // OPEN_X (3): 4 parameters in this (older) capture.
        let four: [&[u8]; 4] = [&[1; 8], b"/a\0", &[2; 4], &[3; 4]];
        let body = encode(V1, 3, 1, 2, 0, &four, false);
        decode(&body, V1, &mut bounds).unwrap();
        assert_eq!(Params::new(&body, &bounds).len(), 4);
        // Lengths that cannot add up are an error.
        let mut broken = body.clone();
        broken.truncate(broken.len() - 1);
        let len_at = 2 + 16;
        let len = u32::from_le_bytes(broken[len_at..len_at + 4].try_into().unwrap()) - 1;
        broken[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
        assert!(decode(&broken, V1, &mut bounds).is_err());
        // Any type's count is inferred from the lengths alone.
        let body = encode(V1, 999, 1, 2, 0, &[b"zz"], false);
        decode(&body, V1, &mut bounds).unwrap();
        assert_eq!(Params::new(&body, &bounds).len(), 1);
    }

    #[test]
    fn v1_length_quirk() {
        let mut body = encode(V1, 280, 1, 2, 0, &[b"id\0", b"desc\0"], false);
        let len_at = 2 + 16;
        let len = u32::from_le_bytes(body[len_at..len_at + 4].try_into().unwrap()) + 3;
        body[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
        body.extend([0, 0, 0]);
        let mut bounds = Vec::new();
        decode(&body, V1, &mut bounds).unwrap();
        assert_eq!(
            params_of(&body, &bounds),
            [b"id\0".to_vec(), b"desc\0".to_vec()]
        );
    }

    #[test]
    fn corrupt_events_fail_without_panicking() {
        let body = encode(V2, 3, 1, 2, 0, &[&[1; 8], b"/a\0", &[2; 4]], false);
        let mut bounds = Vec::new();
        for cut in 0..body.len() {
            assert!(decode(&body[..cut], V2, &mut bounds).is_err(), "cut {cut}");
        }
        for i in 0..body.len() {
            for x in [0x00, 0xff, 0x80] {
                let mut b = body.clone();
                b[i] = x;
                for shape in [V1, V2] {
                    if let Ok(_h) = decode(&b, shape, &mut bounds) {
                        let p = Params::new(&b, &bounds);
                        assert!(p.iter().count() == p.len());
                    }
                }
            }
        }
        // nparams far too large.
        let mut b = body.clone();
        b[2 + 22..2 + 26].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&b, V2, &mut bounds).is_err());
    }
}
