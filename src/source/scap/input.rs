//! The byte stream under the reader: buffered, transparently gunzipped, with a running
//! offset so errors can say where they happened.

use std::io::{self, BufReader, Read};

use flate2::read::MultiGzDecoder;

use super::error::{ScapError, ScapErrorKind};

/// Size of the read buffer in front of the (possibly decompressed) stream.
const BUF_CAPACITY: usize = 256 * 1024;

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

type Prefixed<R> = io::Chain<io::Cursor<Vec<u8>>, R>;

enum Source<R: Read> {
    Plain(BufReader<Prefixed<R>>),
    Gzip(BufReader<MultiGzDecoder<Prefixed<R>>>),
}

/// A buffered stream that counts the bytes consumed.
pub(crate) struct Input<R: Read> {
    source: Source<R>,
    pos: u64,
    gzip: bool,
}

impl<R: Read> Input<R> {
    /// Wraps `inner`, looking at its first two bytes to decide whether it is gzip.
    pub(crate) fn new(mut inner: R) -> Result<Self, ScapError> {
        let mut head = [0u8; 2];
        let got = read_full(&mut inner, &mut head).map_err(|e| ScapError::io(0, e))?;
        let head = head.get(..got).unwrap_or_default().to_vec();
        let gzip = head == GZIP_MAGIC;
        let chained = io::Cursor::new(head).chain(inner);
        let source = if gzip {
            Source::Gzip(BufReader::with_capacity(
                BUF_CAPACITY,
                MultiGzDecoder::new(chained),
            ))
        } else {
            Source::Plain(BufReader::with_capacity(BUF_CAPACITY, chained))
        };
        Ok(Self {
            source,
            pos: 0,
            gzip,
        })
    }

    /// Whether the stream is gzip-compressed.
    pub(crate) fn is_gzip(&self) -> bool {
        self.gzip
    }

    /// Bytes consumed so far (in the decompressed stream).
    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    /// Reads as much of `buf` as the stream has; returns the count (short only at EOF).
    pub(crate) fn read_up_to(&mut self, buf: &mut [u8]) -> Result<usize, ScapError> {
        let got = match &mut self.source {
            Source::Plain(r) => read_full(r, buf),
            Source::Gzip(r) => read_full(r, buf),
        };
        match got {
            Ok(n) => {
                self.pos = self.pos.saturating_add(n as u64);
                Ok(n)
            }
            Err(e) => Err(ScapError::io(self.pos, e)),
        }
    }

    /// Fills `buf` completely, or fails with a truncation error naming `what`.
    pub(crate) fn fill(&mut self, buf: &mut [u8], what: &'static str) -> Result<(), ScapError> {
        let n = self.read_up_to(buf)?;
        if n < buf.len() {
            return Err(ScapError::new(self.pos, ScapErrorKind::Truncated { what }));
        }
        Ok(())
    }

    /// Reads exactly `len` bytes into the front of `buf`. A buffer already long enough
    /// is filled in place (so a reused buffer stops allocating once warm); otherwise it
    /// is replaced by reading with `read_to_end`, which grows it only as data arrives, so
    /// a bogus length in a short file cannot make us allocate the claimed size.
    pub(crate) fn fill_vec(
        &mut self,
        buf: &mut Vec<u8>,
        len: usize,
        what: &'static str,
    ) -> Result<(), ScapError> {
        if let Some(dst) = buf.get_mut(..len) {
            return self.fill(dst, what);
        }
        buf.clear();
        let limit = len as u64;
        let got = match &mut self.source {
            Source::Plain(r) => r.by_ref().take(limit).read_to_end(buf),
            Source::Gzip(r) => r.by_ref().take(limit).read_to_end(buf),
        }
        .map_err(|e| ScapError::io(self.pos, e))?;
        self.pos = self.pos.saturating_add(got as u64);
        if got < len {
            return Err(ScapError::new(self.pos, ScapErrorKind::Truncated { what }));
        }
        Ok(())
    }
}

/// Reads until `buf` is full or the stream ends; retries on `Interrupted`.
fn read_full<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..) {
        if rest.is_empty() {
            break;
        }
        match r.read(rest) {
            Ok(0) => break,
            Ok(n) => filled = filled.saturating_add(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A reader that hands out one byte per call, to exercise short reads.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((b, rest)), Some(dst)) => {
                    *dst = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn plain_stream_with_short_reads() {
        let data: Vec<u8> = (0..=255u8).collect();
        let mut input = Input::new(Trickle(&data)).unwrap();
        assert!(!input.is_gzip());
        let mut buf = Vec::new();
        input.fill_vec(&mut buf, 200, "test").unwrap();
        assert_eq!(&buf[..200], &data[..200]);
        assert_eq!(input.pos(), 200);
        let err = input.fill_vec(&mut buf, 100, "the tail").unwrap_err();
        assert_eq!(err.offset, 256);
        assert!(matches!(
            err.kind,
            ScapErrorKind::Truncated { what: "the tail" }
        ));
    }

    #[test]
    fn gzip_stream_is_detected_and_members_concatenate() {
        let mut gz = Vec::new();
        for part in [&b"hello "[..], &b"world"[..]] {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(part).unwrap();
            gz.extend(enc.finish().unwrap());
        }
        let mut input = Input::new(&gz[..]).unwrap();
        assert!(input.is_gzip());
        let mut buf = [0u8; 16];
        let n = input.read_up_to(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"hello world");
    }

    #[test]
    fn tiny_inputs() {
        for data in [&b""[..], &b"\x1f"[..]] {
            let mut input = Input::new(data).unwrap();
            let mut buf = [0u8; 4];
            assert_eq!(input.read_up_to(&mut buf).unwrap(), data.len());
        }
    }

    #[test]
    fn huge_claimed_length_does_not_allocate_it() {
        let data = [0u8; 10];
        let mut input = Input::new(&data[..]).unwrap();
        let mut buf = Vec::new();
        assert!(input.fill_vec(&mut buf, 60 << 20, "block").is_err());
        assert!(buf.capacity() <= 1 << 16, "{}", buf.capacity());
    }
}
