//! A bounds-checked little-endian cursor over a block body. Every read returns `None`
//! instead of running past the end.

#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Current position from the start of the buffer.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left after the current position.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Takes the next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let bytes = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(bytes)
    }

    /// Moves to an absolute position (forward or backward) inside the buffer.
    pub(crate) fn seek(&mut self, pos: usize) -> Option<()> {
        (pos <= self.buf.len()).then(|| self.pos = pos)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|[b]| b)
    }

    pub(crate) fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_le_bytes)
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }

    pub(crate) fn i64(&mut self) -> Option<i64> {
        self.array().map(i64::from_le_bytes)
    }

    /// A string stored as `u16 length` + bytes (no NUL).
    pub(crate) fn str16(&mut self) -> Option<&'a [u8]> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_bounds() {
        let data = [1, 2, 0, 3, 0, 0, 0, 2, 0, b'h', b'i', 9];
        let mut c = Cursor::new(&data);
        assert_eq!(c.u8(), Some(1));
        assert_eq!(c.u16(), Some(2));
        assert_eq!(c.u32(), Some(3));
        assert_eq!(c.str16(), Some(&b"hi"[..]));
        assert_eq!(c.remaining(), 1);
        assert_eq!(c.u16(), None);
        assert_eq!(c.pos(), 11, "a failed read does not move");
        assert_eq!(c.u64(), None);
        assert_eq!(c.take(usize::MAX), None);
        assert_eq!(c.seek(12), Some(()));
        assert_eq!(c.seek(13), None);
        assert_eq!(c.u8(), None);
    }
}
