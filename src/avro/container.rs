//! Avro object container files: the `.sf` files SysFlow tools read and write.

use super::binary::{Cursor, decode_record, encode_record};
use super::generic::{GenericDecoder, SchemaError};
use super::schema::schema_v5;
use crate::error::{Result, SysFlowError};
use crate::model::Record;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 4] = b"Obj\x01";
/// Uncompressed bytes after which a block is closed, as the reference writer does.
const BLOCK_BYTES: usize = 80_000;
/// Largest block (compressed or not) a reader accepts. Writers close blocks far below it
/// (the reference at about 80 kB, Java Avro at 64 kB, fastavro at 16 kB).
const MAX_BLOCK_BYTES: u64 = 64 << 20;
/// Largest block a reader inflates: a small hostile file gives an error, not gigabytes.
const MAX_INFLATED_BYTES: u64 = 64 << 20;

/// Compression of the data blocks of a SysFlow file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AvroCodec {
    /// No compression (`avro.codec` = `null`).
    Null,
    /// Raw DEFLATE (`avro.codec` = `deflate`, the reference's choice): blocks at the given
    /// libdeflate level 0-12, except that with a level of 1 or more, a file's last block
    /// when under 64 KiB and the blocks of a file's first 256 KiB are compressed at level
    /// 12, which keeps small files (and the start of every file) as small as DEFLATE makes
    /// them for a few tens of milliseconds per file. The short blocks of periodic flushes
    /// ([`AvroFileWriter::flush`]) keep the given level: at level 12 they would cost as
    /// much as all the rest of a live capture's compression. Levels 10-12 compress harder
    /// and much slower; level 0 stores the data uncompressed.
    Deflate(u32),
}

impl Default for AvroCodec {
    /// `Deflate(1)`: on a live capture's records libdeflate's level 1 compresses 1.8
    /// times as fast as level 6 for output about 1% larger (7% on the reference's
    /// text-heavier `full_capture` traces), still smaller than the reference's zlib
    /// output.
    fn default() -> Self {
        AvroCodec::Deflate(1)
    }
}

impl AvroCodec {
    fn name(self) -> &'static str {
        match self {
            AvroCodec::Null => "null",
            AvroCodec::Deflate(_) => "deflate",
        }
    }
}

fn put_long(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn random_sync() -> [u8; 16] {
    let mut sync = [0u8; 16];
    for chunk in sync.chunks_mut(8) {
        let mut h = RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    sync
}

/// Writes SysFlow records into an Avro object container file whose embedded schema is
/// exactly the reference v5 schema string.
///
/// Records are buffered into blocks of about 80 kB (uncompressed), like the reference
/// writer; [`AvroFileWriter::flush`] closes the current block early and flushes the output.
///
/// A block is handed to the output in three `write_all` calls (count and size, data, sync
/// marker) once it is complete. When one of them fails, the block is kept and the error
/// returned: the output then holds [`AvroFileWriter::committed`] valid bytes (the header
/// and every whole block) followed by part of the failed block. The caller either cuts the
/// output back to `committed` and retries ([`AvroFileWriter::flush`]), or drops the block
/// ([`AvroFileWriter::discard_block`]). Give it an unbuffered output (a `File`) when it
/// matters which block failed: a buffering writer reports errors a block late.
pub struct AvroFileWriter<W: Write> {
    out: W,
    sync: [u8; 16],
    block: Vec<u8>,
    block_count: u64,
    scratch: Vec<u8>,
    compressor: Option<libdeflater::Compressor>,
    /// Level-12 compressor for small blocks, where the hardest setting costs little.
    small_compressor: Option<libdeflater::Compressor>,
    raw_written: u64,
    records: u64,
    /// Bytes of the output known written: the header and every whole block.
    committed: u64,
    /// Extra metadata entries: key, offset of the value from the start, value length.
    meta_spans: Vec<(String, u64, usize)>,
}

/// A file's last block when below this size, and the blocks of the first [`HARD_PREFIX`]
/// bytes of a file, are compressed at libdeflate's highest level: it costs at most a few
/// tens of milliseconds per file and decides the size of small files.
const SMALL_BLOCK: usize = 64 * 1024;
/// See [`SMALL_BLOCK`].
const HARD_PREFIX: u64 = 256 * 1024;

impl<W: Write> AvroFileWriter<W> {
    /// Writes the file header (magic, metadata, sync marker) and returns the writer.
    pub fn new(out: W, codec: AvroCodec) -> io::Result<Self> {
        Self::with_metadata(out, codec, &[])
    }

    /// Like [`AvroFileWriter::new`], with extra entries in the header's metadata map after
    /// `avro.codec` and `avro.schema` (Avro readers ignore keys they do not know). Where
    /// each value lies in the output is [`AvroFileWriter::metadata_span`]: a value can be
    /// overwritten in place later with one of the same length.
    ///
    /// Keys starting with `avro.` are reserved by Avro and refused.
    pub fn with_metadata(
        mut out: W,
        codec: AvroCodec,
        extra: &[(&str, &[u8])],
    ) -> io::Result<Self> {
        if let Some((k, _)) = extra.iter().find(|(k, _)| k.starts_with("avro.")) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("metadata key {k:?}: the avro. prefix is reserved"),
            ));
        }
        let sync = random_sync();
        let mut head = Vec::with_capacity(
            6300 + extra
                .iter()
                .map(|(k, v)| k.len() + v.len() + 20)
                .sum::<usize>(),
        );
        head.extend_from_slice(MAGIC);
        put_long(&mut head, 2 + extra.len() as i64);
        let mut meta_spans = Vec::with_capacity(extra.len());
        let fixed: [(&str, &[u8]); 2] = [
            ("avro.codec", codec.name().as_bytes()),
            ("avro.schema", schema_v5().as_bytes()),
        ];
        for (i, (k, v)) in fixed.iter().chain(extra).enumerate() {
            put_long(&mut head, k.len() as i64);
            head.extend_from_slice(k.as_bytes());
            put_long(&mut head, v.len() as i64);
            if i >= fixed.len() {
                meta_spans.push((k.to_string(), head.len() as u64, v.len()));
            }
            head.extend_from_slice(v);
        }
        put_long(&mut head, 0);
        head.extend_from_slice(&sync);
        out.write_all(&head)?;
        Ok(Self {
            out,
            sync,
            block: Vec::with_capacity(BLOCK_BYTES + 4096),
            block_count: 0,
            scratch: Vec::new(),
            compressor: match codec {
                AvroCodec::Null => None,
                AvroCodec::Deflate(level) => Some(libdeflater::Compressor::new(
                    libdeflater::CompressionLvl::new(level.min(12) as i32).unwrap_or_default(),
                )),
            },
            small_compressor: match codec {
                AvroCodec::Deflate(level) if level >= 1 => Some(libdeflater::Compressor::new(
                    libdeflater::CompressionLvl::best(),
                )),
                _ => None,
            },
            raw_written: 0,
            records: 0,
            committed: head.len() as u64,
            meta_spans,
        })
    }

    /// Appends one record. The block is written once it holds about 80 kB: an error is
    /// that block's (the record is in it), see [`AvroFileWriter`].
    pub fn append(&mut self, rec: &Record) -> io::Result<()> {
        encode_record(rec, &mut self.block);
        self.block_count += 1;
        self.records += 1;
        if self.block.len() >= BLOCK_BYTES {
            self.write_block(false)?;
        }
        Ok(())
    }

    /// Number of records appended so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Records in the block not written yet.
    pub fn pending_records(&self) -> u64 {
        self.block_count
    }

    /// Drops the block not written yet (after a failed write); returns its record count.
    pub fn discard_block(&mut self) -> u64 {
        let n = self.block_count;
        self.block.clear();
        self.block_count = 0;
        n
    }

    /// Length of the valid prefix of the output: the header and every block written
    /// whole. After a failed write the output may hold more (part of a block).
    pub fn committed(&self) -> u64 {
        self.committed
    }

    /// Where the value of the extra metadata entry `key` lies in the output: its offset
    /// from the start of the file and its length.
    pub fn metadata_span(&self, key: &str) -> Option<(u64, usize)> {
        self.meta_spans
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|&(_, at, len)| (at, len))
    }

    /// The output.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// The output, e.g. to cut it back to [`AvroFileWriter::committed`] after a failed
    /// write. Writing through it corrupts the file.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Returns the output as is: a block not written yet is lost.
    pub fn into_inner(self) -> W {
        self.out
    }

    /// Writes the block being filled; `last`: as the file's last block.
    fn write_block(&mut self, last: bool) -> io::Result<()> {
        if self.block_count == 0 {
            return Ok(());
        }
        let small = (last && self.block.len() < SMALL_BLOCK) || self.raw_written < HARD_PREFIX;
        let compressor = match (small, self.small_compressor.as_mut()) {
            (true, Some(c)) => Some(c),
            _ => self.compressor.as_mut(),
        };
        let data: &[u8] = match compressor {
            None => &self.block,
            Some(c) => {
                self.scratch
                    .resize(c.deflate_compress_bound(self.block.len()), 0);
                let n = c
                    .deflate_compress(&self.block, &mut self.scratch)
                    .map_err(|e| io::Error::other(format!("deflate: {e:?}")))?;
                &self.scratch[..n]
            }
        };
        let mut head = Vec::with_capacity(20);
        put_long(&mut head, self.block_count as i64);
        put_long(&mut head, data.len() as i64);
        self.out.write_all(&head)?;
        self.out.write_all(data)?;
        self.out.write_all(&self.sync)?;
        self.committed += (head.len() + data.len() + self.sync.len()) as u64;
        self.raw_written += self.block.len() as u64;
        self.block.clear();
        self.block_count = 0;
        Ok(())
    }

    /// Closes the current block (if any) and flushes the underlying writer: a periodic
    /// flush, with more blocks to come.
    pub fn flush(&mut self) -> io::Result<()> {
        self.write_block(false)?;
        self.out.flush()
    }

    /// Closes the current block (if any) as the file's last one, and flushes the
    /// underlying writer; records appended after it start a new block as usual.
    pub fn flush_last(&mut self) -> io::Result<()> {
        self.write_block(true)?;
        self.out.flush()
    }

    /// Flushes everything and returns the underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.flush_last()?;
        Ok(self.out)
    }
}

/// How the records of a file are decoded.
enum Decoder {
    /// The file embeds the v5 schema: the hand-written decoder.
    V5,
    /// Another SysFlow schema version: decoded generically and mapped by field name.
    Generic(Box<GenericDecoder>),
}

/// Reads the records of a SysFlow Avro file (schema v5, or an older SysFlow schema).
///
/// The reader is an iterator of `Result<Record>`: after an error (a truncated or corrupt
/// file) it yields nothing more. Every record before the damage is delivered first.
pub struct SfReader<R: Read> {
    input: R,
    name: String,
    offset: u64,
    sync: [u8; 16],
    deflate: bool,
    decoder: Decoder,
    raw: Vec<u8>,
    block: Vec<u8>,
    block_offset: u64,
    pos: usize,
    left_in_block: u64,
    done: bool,
    schema_json: String,
    /// Header metadata entries other than Avro's own (`avro.*`), in file order.
    user_meta: Vec<(String, Vec<u8>)>,
}

impl SfReader<BufReader<std::fs::File>> {
    /// Opens a SysFlow file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let f = std::fs::File::open(path).map_err(|e| SysFlowError::ReadingFileSystem {
            path: path.to_owned(),
            source: e,
        })?;
        SfReader::new(
            BufReader::with_capacity(1 << 16, f),
            path.display().to_string(),
        )
    }
}

impl<R: Read> SfReader<R> {
    /// Reads the file header from `input`; `name` is used in error messages.
    pub fn new(input: R, name: impl Into<String>) -> Result<Self> {
        let mut r = SfReader {
            input,
            name: name.into(),
            offset: 0,
            sync: [0; 16],
            deflate: false,
            decoder: Decoder::V5,
            raw: Vec::new(),
            block: Vec::new(),
            block_offset: 0,
            pos: 0,
            left_in_block: 0,
            done: false,
            schema_json: String::new(),
            user_meta: Vec::new(),
        };
        r.read_header()?;
        Ok(r)
    }

    /// The input it reads from (for [`SfReader::open`], the buffered file it opened: its
    /// `get_ref().metadata()` describes the file being read, whatever its path names now).
    pub fn get_ref(&self) -> &R {
        &self.input
    }

    /// The schema string embedded in the file.
    pub fn schema_json(&self) -> &str {
        &self.schema_json
    }

    /// The value of a header metadata entry that is not Avro's own (`avro.*` keys are
    /// not kept), such as `sysflow.losses` ([`crate::export::FileLosses`]).
    pub fn user_metadata(&self, key: &str) -> Option<&[u8]> {
        self.user_meta
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }

    /// Whether the file embeds the current (v5) schema.
    pub fn is_v5(&self) -> bool {
        matches!(self.decoder, Decoder::V5)
    }

    fn err(&self, offset: u64, reason: impl Into<String>) -> SysFlowError {
        SysFlowError::parsing(&self.name, offset, reason)
    }

    fn read_exact_tracked(&mut self, buf: &mut [u8]) -> Result<()> {
        match self.input.read_exact(buf) {
            Ok(()) => {
                self.offset += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                Err(self.err(self.offset, "file truncated"))
            }
            Err(e) => Err(SysFlowError::io(format!("reading {}", self.name), e)),
        }
    }

    /// Reads a varint; `Ok(None)` on a clean end of file before its first byte.
    fn read_long(&mut self, eof_ok: bool) -> Result<Option<i64>> {
        let start = self.offset;
        let mut z: u64 = 0;
        let mut shift = 0;
        loop {
            let mut b = [0u8];
            match self.input.read(&mut b) {
                Ok(0) => {
                    if eof_ok && self.offset == start {
                        return Ok(None);
                    }
                    return Err(self.err(self.offset, "file truncated inside a number"));
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(SysFlowError::io(format!("reading {}", self.name), e)),
            }
            self.offset += 1;
            z |= u64::from(b[0] & 0x7f) << shift;
            if b[0] & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 63 {
                return Err(self.err(start, "malformed number"));
            }
        }
        Ok(Some(((z >> 1) as i64) ^ -((z & 1) as i64)))
    }

    fn read_len(&mut self, what: &str, max: u64) -> Result<usize> {
        let at = self.offset;
        let n = self.read_long(false)?.unwrap_or(0);
        if n < 0 || n as u64 > max {
            return Err(self.err(at, format!("invalid {what} length {n}")));
        }
        Ok(n as usize)
    }

    fn read_vec(&mut self, len: usize) -> Result<Vec<u8>> {
        let mut v = Vec::new();
        let got = (&mut self.input)
            .take(len as u64)
            .read_to_end(&mut v)
            .map_err(|e| SysFlowError::io(format!("reading {}", self.name), e))?;
        self.offset += got as u64;
        if got < len {
            return Err(self.err(self.offset, "file truncated"));
        }
        Ok(v)
    }

    fn read_header(&mut self) -> Result<()> {
        let mut magic = [0u8; 4];
        self.read_exact_tracked(&mut magic)?;
        if &magic != MAGIC {
            return Err(self.err(0, "not an Avro object container file (bad magic)"));
        }
        let mut codec = String::from("null");
        let mut schema = None;
        loop {
            let at = self.offset;
            let mut n = self.read_long(false)?.unwrap_or(0);
            if n == 0 {
                break;
            }
            if n < 0 {
                n = -n;
                self.read_long(false)?;
            }
            if n > 1024 {
                return Err(self.err(at, format!("implausible metadata entry count {n}")));
            }
            for _ in 0..n {
                let klen = self.read_len("metadata key", 1 << 16)?;
                let key = self.read_vec(klen)?;
                let vlen = self.read_len("metadata value", 16 << 20)?;
                let val = self.read_vec(vlen)?;
                match key.as_slice() {
                    b"avro.codec" => codec = String::from_utf8_lossy(&val).into_owned(),
                    b"avro.schema" => schema = Some(String::from_utf8_lossy(&val).into_owned()),
                    k if k.starts_with(b"avro.") => {}
                    _ => self
                        .user_meta
                        .push((String::from_utf8_lossy(&key).into_owned(), val)),
                }
            }
        }
        let mut sync = [0u8; 16];
        self.read_exact_tracked(&mut sync)?;
        self.sync = sync;
        self.deflate = match codec.as_str() {
            "null" => false,
            "deflate" => true,
            other => {
                return Err(SysFlowError::OperationNotSupported(format!(
                    "{}: Avro codec {other:?} (supported: null, deflate)",
                    self.name
                )));
            }
        };
        let Some(schema) = schema else {
            return Err(self.err(self.offset, "file has no avro.schema metadata"));
        };
        self.decoder = if schema == schema_v5() {
            Decoder::V5
        } else {
            let g = GenericDecoder::new(&schema).map_err(|e| match e {
                SchemaError::Invalid(why) => self.err(0, why),
                SchemaError::Unsupported(why) => {
                    SysFlowError::OperationNotSupported(format!("{}: {why}", self.name))
                }
            })?;
            if g.is_v5_equivalent() {
                Decoder::V5
            } else {
                Decoder::Generic(Box::new(g))
            }
        };
        self.schema_json = schema;
        Ok(())
    }

    /// Loads the next block; `Ok(false)` at a clean end of file.
    fn next_block(&mut self) -> Result<bool> {
        loop {
            let at = self.offset;
            let Some(count) = self.read_long(true)? else {
                return Ok(false);
            };
            if count < 0 {
                return Err(self.err(at, format!("negative block record count {count}")));
            }
            let size = self.read_len("block", MAX_BLOCK_BYTES)?;
            self.block_offset = at;
            let raw = self.read_vec(size)?;
            let mut sync = [0u8; 16];
            self.read_exact_tracked(&mut sync)?;
            if sync != self.sync {
                return Err(self.err(self.offset - 16, "sync marker mismatch (corrupt block)"));
            }
            self.raw = raw;
            if self.deflate {
                self.block.clear();
                let mut dec =
                    flate2::read::DeflateDecoder::new(&self.raw[..]).take(MAX_INFLATED_BYTES + 1);
                if let Err(e) = dec.read_to_end(&mut self.block) {
                    return Err(self.err(at, format!("cannot inflate block: {e}")));
                }
                if self.block.len() as u64 > MAX_INFLATED_BYTES {
                    return Err(self.err(
                        at,
                        format!("block inflates past {} MiB", MAX_INFLATED_BYTES >> 20),
                    ));
                }
            } else {
                std::mem::swap(&mut self.block, &mut self.raw);
            }
            self.pos = 0;
            self.left_in_block = count as u64;
            if count > 0 {
                return Ok(true);
            }
            // an empty block is skipped; a block of no record that holds data is damage
            if !self.block.is_empty() {
                return Err(self.block_error(0, "block of 0 records has bytes"));
            }
        }
    }

    fn next_record(&mut self) -> Result<Option<Record>> {
        while self.left_in_block == 0 {
            if !self.next_block()? {
                return Ok(None);
            }
        }
        let data = &self.block[self.pos..];
        let (rec, used) = match &self.decoder {
            Decoder::V5 => {
                let mut c = Cursor::new(data);
                match decode_record(&mut c) {
                    Ok(r) => (r, c.pos()),
                    Err(e) => {
                        // (the cursor's position is in the record)
                        return Err(self.block_error(self.pos + e.pos, &e.reason));
                    }
                }
            }
            Decoder::Generic(g) => match g.decode(data) {
                Ok(x) => x,
                Err(e) => {
                    let reason = format!("in the record starting there: {e}");
                    return Err(self.block_error(self.pos, &reason));
                }
            },
        };
        self.pos += used;
        self.left_in_block -= 1;
        if self.left_in_block == 0 && self.pos != self.block.len() {
            let pos = self.pos;
            return Err(self.block_error(pos, "block has bytes after its last record"));
        }
        Ok(Some(rec))
    }

    fn block_error(&self, pos: usize, reason: &str) -> SysFlowError {
        if self.deflate {
            self.err(
                self.block_offset,
                format!("in the block starting here, decompressed byte {pos}: {reason}"),
            )
        } else {
            // Uncompressed: the datum offset maps onto the file.
            let data_start = self.offset - 16 - self.block.len() as u64;
            self.err(data_start + pos as u64, reason.to_string())
        }
    }
}

impl<R: Read> Iterator for SfReader<R> {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_record() {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Lists the SysFlow files named by `path`: the file itself, or the regular files of a
/// directory (not recursive) sorted by name.
pub fn sf_files_in(path: &Path) -> Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path).map_err(|e| SysFlowError::ReadingFileSystem {
        path: path.to_owned(),
        source: e,
    })?;
    if !meta.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut out = Vec::new();
    let rd = std::fs::read_dir(path).map_err(|e| SysFlowError::ReadingFileSystem {
        path: path.to_owned(),
        source: e,
    })?;
    for ent in rd {
        let ent = ent.map_err(|e| SysFlowError::ReadingFileSystem {
            path: path.to_owned(),
            source: e,
        })?;
        if ent.file_type().map(|t| t.is_file()).unwrap_or(false) {
            out.push(ent.path());
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::binary::tests::samples;
    use super::*;

    fn write_all(codec: AvroCodec, recs: &[Record]) -> Vec<u8> {
        let mut w = AvroFileWriter::new(Vec::new(), codec).unwrap();
        for r in recs {
            w.append(r).unwrap();
        }
        w.finish().unwrap()
    }

    fn many() -> Vec<Record> {
        let s = samples();
        (0..5000).map(|i| s[i % s.len()].clone()).collect()
    }

    #[test]
    fn round_trip_both_codecs() {
        let recs = many();
        for codec in [AvroCodec::Null, AvroCodec::Deflate(6)] {
            let bytes = write_all(codec, &recs);
            let back: Vec<Record> = SfReader::new(&bytes[..], "mem")
                .unwrap()
                .collect::<Result<_>>()
                .unwrap();
            assert_eq!(back, recs);
        }
    }

    /// The compressed length libdeflate gives `raw` at `level` (an independent oracle).
    fn deflated_len(raw: &[u8], level: i32) -> usize {
        let mut c = libdeflater::Compressor::new(libdeflater::CompressionLvl::new(level).unwrap());
        let mut out = vec![0; c.deflate_compress_bound(raw.len())];
        c.deflate_compress(raw, &mut out).unwrap()
    }

    #[test]
    fn periodic_flushes_keep_the_level_and_a_short_last_block_gets_level_12() {
        let s = samples();
        let raw_of = |recs: &[Record]| {
            let mut b = Vec::new();
            for r in recs {
                encode_record(r, &mut b);
            }
            b
        };
        let mut w = AvroFileWriter::new(Vec::new(), AvroCodec::Deflate(1)).unwrap();
        // past the file's first HARD_PREFIX bytes (all at level 12)
        let mut i = 0;
        while w.raw_written < HARD_PREFIX {
            w.append(&s[i % s.len()]).unwrap();
            i += 1;
        }
        w.flush().unwrap();
        // a short block by a periodic flush: the configured level
        let short: Vec<Record> = (0..40).map(|k| s[k % s.len()].clone()).collect();
        let raw = raw_of(&short);
        assert!(raw.len() < SMALL_BLOCK);
        assert_ne!(
            deflated_len(&raw, 1),
            deflated_len(&raw, 12),
            "a sample that tells"
        );
        for (flush_last, level) in [(false, 1), (true, 12)] {
            let before = w.committed();
            for r in &short {
                w.append(r).unwrap();
            }
            if flush_last {
                w.flush_last().unwrap();
            } else {
                w.flush().unwrap();
            }
            let mut head = Vec::new();
            put_long(&mut head, short.len() as i64);
            let len = deflated_len(&raw, level);
            put_long(&mut head, len as i64);
            assert_eq!(
                w.committed() - before,
                (head.len() + len + 16) as u64,
                "last {flush_last}: not compressed at level {level}"
            );
        }
    }

    #[test]
    fn apache_avro_reads_our_files() {
        let recs = many();
        let bytes = write_all(AvroCodec::Deflate(6), &recs);
        let reader = apache_avro::Reader::new(&bytes[..]).unwrap();
        assert_eq!(reader.count(), recs.len());
    }

    #[test]
    fn truncation_is_reported_with_offset_after_good_records() {
        let recs = many();
        for codec in [AvroCodec::Null, AvroCodec::Deflate(6)] {
            let bytes = write_all(codec, &recs);
            let step = (bytes.len() / 97).max(1);
            for cut in (0..bytes.len()).step_by(step) {
                let data = &bytes[..cut];
                let Ok(r) = SfReader::new(data, "cut.sf") else {
                    continue;
                };
                let mut good = 0;
                let mut err = None;
                for item in r {
                    match item {
                        Ok(rec) => {
                            assert_eq!(rec, recs[good]);
                            good += 1;
                        }
                        Err(e) => err = Some(e),
                    }
                }
                // A cut exactly between two blocks is indistinguishable from a shorter
                // file (Avro container files carry no record count); any other cut errs.
                if let Some(e) = err {
                    let msg = e.to_string();
                    assert!(msg.contains("cut.sf") && msg.contains("offset"), "{msg}");
                } else {
                    assert!(good < recs.len(), "cut {cut} lost the error");
                }
            }
        }
    }

    /// A file of one block of `count` records whose data is `data`, compressed by
    /// `codec`; and where the block's data starts in the file.
    fn one_block(codec: AvroCodec, count: i64, data: &[u8]) -> (Vec<u8>, u64) {
        let mut file = write_all(codec, &[]);
        let sync: [u8; 16] = file[file.len() - 16..].try_into().unwrap();
        let stored = match codec {
            AvroCodec::Null => data.to_vec(),
            _ => {
                let mut z = flate2::write::DeflateEncoder::new(Vec::new(), Default::default());
                std::io::Write::write_all(&mut z, data).unwrap();
                z.finish().unwrap()
            }
        };
        put_long(&mut file, count);
        put_long(&mut file, stored.len() as i64);
        let at = file.len() as u64;
        file.extend_from_slice(&stored);
        file.extend_from_slice(&sync);
        (file, at)
    }

    /// The error a damaged record gives names where the damage is: the file offset of an
    /// uncompressed block's byte, or the block and its decompressed byte.
    #[test]
    fn a_damaged_record_is_reported_where_it_is_damaged() {
        let recs = &samples()[..3];
        let mut data = Vec::new();
        for r in recs {
            super::super::binary::encode_record(r, &mut data);
        }
        // a fourth record: its union branch is a varint that never ends, found at the
        // byte it lacks
        data.push(0x80);
        let missing = data.len() as u64;
        for codec in [AvroCodec::Null, AvroCodec::Deflate(6)] {
            let (file, at) = one_block(codec, 4, &data);
            let mut r = SfReader::new(&file[..], "damaged.sf").unwrap();
            for want in recs {
                assert_eq!(&r.next().unwrap().unwrap(), want);
            }
            let e = r.next().unwrap().unwrap_err();
            let SysFlowError::EventParsing { offset, reason, .. } = &e else {
                panic!("{e}");
            };
            match codec {
                AvroCodec::Null => assert_eq!(*offset, at + missing, "{e}"),
                _ => {
                    // (the block starts with its count and size, before `at`)
                    assert!(*offset < at, "{e}");
                    assert!(
                        reason.contains(&format!("decompressed byte {missing}:")),
                        "{e}"
                    );
                }
            }
        }
    }

    /// A block that says it holds no record but holds bytes is damage, not an empty block
    /// to skip; a truly empty block is skipped.
    #[test]
    fn a_block_of_no_record_with_bytes_is_an_error() {
        let mut data = Vec::new();
        super::super::binary::encode_record(&samples()[0], &mut data);
        for codec in [AvroCodec::Null, AvroCodec::Deflate(6)] {
            let (file, _) = one_block(codec, 0, &data);
            let e = SfReader::new(&file[..], "zero.sf")
                .unwrap()
                .next()
                .expect("an error, not a silent end")
                .unwrap_err();
            assert!(
                e.to_string().contains("block of 0 records has bytes"),
                "{e}"
            );
            let (file, _) = one_block(codec, 0, &[]);
            assert!(
                SfReader::new(&file[..], "empty.sf")
                    .unwrap()
                    .next()
                    .is_none()
            );
        }
    }

    #[test]
    fn a_deflate_bomb_is_an_error_not_an_allocation() {
        // a valid header, then one block of 1 record whose 100 kB inflate to 100 MiB
        let mut file = write_all(AvroCodec::Deflate(6), &[]);
        let sync: [u8; 16] = file[file.len() - 16..].try_into().unwrap();
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..100 {
            std::io::Write::write_all(&mut z, &zeros).unwrap();
        }
        let bomb = z.finish().unwrap();
        assert!(bomb.len() < 200_000);
        put_long(&mut file, 1);
        put_long(&mut file, bomb.len() as i64);
        file.extend_from_slice(&bomb);
        file.extend_from_slice(&sync);
        let mut r = SfReader::new(&file[..], "bomb.sf").unwrap();
        let e = r.next().expect("an item").unwrap_err().to_string();
        assert!(
            e.contains("inflates past 64 MiB") && e.contains("bomb.sf"),
            "{e}"
        );
        // and a block claiming more than the largest accepted size
        let mut file = write_all(AvroCodec::Null, &[]);
        put_long(&mut file, 1);
        put_long(&mut file, 1 << 40);
        let e = SfReader::new(&file[..], "big.sf")
            .unwrap()
            .next()
            .expect("an item")
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid block length"), "{e}");
    }

    #[test]
    fn corruption_never_panics() {
        let recs = many();
        let bytes = write_all(AvroCodec::Null, &recs[..300]);
        for i in (0..bytes.len()).step_by(7) {
            let mut b = bytes.clone();
            b[i] ^= 0x5a;
            if let Ok(r) = SfReader::new(&b[..], "x") {
                for item in r {
                    if item.is_err() {
                        break;
                    }
                }
            }
        }
    }
}
