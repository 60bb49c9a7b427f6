//! Avro binary encoding of SysFlow v5 records (the `SysFlow` union datum).

use crate::model::*;
use std::collections::BTreeMap;

/// Why a datum could not be decoded, and where (offset within the datum buffer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Offset in the decoded buffer.
    pub pos: usize,
    /// What is wrong.
    pub reason: String,
}

type DResult<T> = Result<T, DecodeError>;

// ---------------------------------------------------------------------------------------
// Encoding

#[inline]
fn put_long(buf: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        buf.push((z as u8) | 0x80);
        z >>= 7;
    }
    buf.push(z as u8);
}

#[inline]
fn put_int(buf: &mut Vec<u8>, v: i32) {
    put_long(buf, i64::from(v));
}

#[inline]
fn put_bool(buf: &mut Vec<u8>, v: bool) {
    buf.push(u8::from(v));
}

#[inline]
fn put_bytes(buf: &mut Vec<u8>, b: &[u8]) {
    put_long(buf, b.len() as i64);
    buf.extend_from_slice(b);
}

#[inline]
fn put_str(buf: &mut Vec<u8>, s: &str) {
    put_bytes(buf, s.as_bytes());
}

fn put_opt_str(buf: &mut Vec<u8>, s: &Option<String>) {
    match s {
        None => put_long(buf, 0),
        Some(s) => {
            put_long(buf, 1);
            put_str(buf, s);
        }
    }
}

#[inline]
fn put_oid(buf: &mut Vec<u8>, o: &Oid) {
    put_long(buf, o.create_ts);
    put_long(buf, o.hpid);
}

fn put_array<T>(buf: &mut Vec<u8>, items: &[T], mut each: impl FnMut(&mut Vec<u8>, &T)) {
    if !items.is_empty() {
        put_long(buf, items.len() as i64);
        for it in items {
            each(buf, it);
        }
    }
    put_long(buf, 0);
}

fn put_str_map(buf: &mut Vec<u8>, m: &BTreeMap<String, String>) {
    if !m.is_empty() {
        put_long(buf, m.len() as i64);
        for (k, v) in m {
            put_str(buf, k);
            put_str(buf, v);
        }
    }
    put_long(buf, 0);
}

fn put_counters(buf: &mut Vec<u8>, c: [i64; 4]) {
    for v in c {
        put_long(buf, v);
    }
}

/// Appends the Avro binary encoding of `rec` (as the `SysFlow` record) to `buf`.
pub fn encode_record(rec: &Record, buf: &mut Vec<u8>) {
    put_long(buf, rec.kind().index() as i64);
    match rec {
        Record::Header(h) => {
            put_long(buf, h.version);
            put_str(buf, &h.exporter);
            put_str(buf, &h.ip);
            put_str(buf, &h.filename);
        }
        Record::Container(c) => {
            put_str(buf, &c.id);
            put_str(buf, &c.name);
            put_str(buf, &c.image);
            put_str(buf, &c.imageid);
            put_int(buf, c.container_type.index());
            put_bool(buf, c.privileged);
            put_opt_str(buf, &c.pod_id);
        }
        Record::Process(p) => {
            put_int(buf, p.state.index());
            put_oid(buf, &p.oid);
            match &p.poid {
                None => put_long(buf, 0),
                Some(o) => {
                    put_long(buf, 1);
                    put_oid(buf, o);
                }
            }
            put_long(buf, p.ts);
            put_str(buf, &p.exe);
            put_str(buf, &p.exe_args);
            put_int(buf, p.uid);
            put_str(buf, &p.user_name);
            put_int(buf, p.gid);
            put_str(buf, &p.group_name);
            put_bool(buf, p.tty);
            put_opt_str(buf, &p.container_id);
            put_bool(buf, p.entry);
            put_str(buf, &p.cwd);
            put_array(buf, &p.env, |b, s| put_str(b, s));
        }
        Record::File(f) => {
            put_int(buf, f.state.index());
            buf.extend_from_slice(&f.oid.0);
            put_long(buf, f.ts);
            put_int(buf, f.restype);
            put_str(buf, &f.path);
            put_opt_str(buf, &f.container_id);
        }
        Record::ProcessEvent(e) => {
            put_oid(buf, &e.proc_oid);
            put_long(buf, e.ts);
            put_long(buf, e.tid);
            put_int(buf, e.op_flags.to_avro());
            put_array(buf, &e.args, |b, s| put_str(b, s));
            put_int(buf, e.ret);
        }
        Record::NetworkFlow(n) => {
            put_oid(buf, &n.proc_oid);
            put_long(buf, n.ts);
            put_long(buf, n.tid);
            put_int(buf, n.op_flags.to_avro());
            put_long(buf, n.end_ts);
            for v in [n.sip, n.sport, n.dip, n.dport, n.proto, n.fd] {
                put_int(buf, v);
            }
            put_counters(
                buf,
                [
                    n.num_r_recv_ops,
                    n.num_w_send_ops,
                    n.num_r_recv_bytes,
                    n.num_w_send_bytes,
                ],
            );
        }
        Record::FileFlow(ff) => {
            put_oid(buf, &ff.proc_oid);
            put_long(buf, ff.ts);
            put_long(buf, ff.tid);
            put_int(buf, ff.op_flags.to_avro());
            put_int(buf, ff.open_flags);
            put_long(buf, ff.end_ts);
            buf.extend_from_slice(&ff.file_oid.0);
            put_int(buf, ff.fd);
            put_counters(
                buf,
                [
                    ff.num_r_recv_ops,
                    ff.num_w_send_ops,
                    ff.num_r_recv_bytes,
                    ff.num_w_send_bytes,
                ],
            );
        }
        Record::FileEvent(e) => {
            put_oid(buf, &e.proc_oid);
            put_long(buf, e.ts);
            put_long(buf, e.tid);
            put_int(buf, e.op_flags.to_avro());
            buf.extend_from_slice(&e.file_oid.0);
            put_int(buf, e.ret);
            match &e.new_file_oid {
                None => put_long(buf, 0),
                Some(f) => {
                    put_long(buf, 1);
                    buf.extend_from_slice(&f.0);
                }
            }
        }
        Record::NetworkEvent(e) => {
            put_oid(buf, &e.proc_oid);
            put_long(buf, e.ts);
            put_long(buf, e.tid);
            put_int(buf, e.op_flags.to_avro());
            for v in [e.sip, e.sport, e.dip, e.dport, e.proto, e.ret] {
                put_int(buf, v);
            }
        }
        Record::ProcessFlow(p) => {
            put_oid(buf, &p.proc_oid);
            put_long(buf, p.ts);
            put_long(buf, p.num_threads_cloned);
            put_int(buf, p.op_flags.to_avro());
            put_long(buf, p.end_ts);
            put_long(buf, p.num_threads_exited);
            put_long(buf, p.num_clone_errors);
        }
        Record::Pod(p) => {
            put_long(buf, p.ts);
            put_str(buf, &p.id);
            put_str(buf, &p.name);
            put_str(buf, &p.node_name);
            put_array(buf, &p.host_ip, |b, v| put_long(b, *v));
            put_array(buf, &p.internal_ip, |b, v| put_long(b, *v));
            put_str(buf, &p.namespace);
            put_long(buf, p.restart_count);
            put_str_map(buf, &p.labels);
            put_str_map(buf, &p.selectors);
            put_array(buf, &p.services, |b, s| {
                put_str(b, &s.name);
                put_str(b, &s.id);
                put_str(b, &s.namespace);
                put_array(b, &s.port_list, |b, p| {
                    put_int(b, p.port);
                    put_int(b, p.target_port);
                    put_int(b, p.node_port);
                    put_str(b, &p.proto);
                });
                put_array(b, &s.cluster_ip, |b, v| put_long(b, *v));
            });
        }
        Record::K8sEvent(k) => {
            put_int(buf, k.kind.index());
            put_int(buf, k.action.index());
            put_long(buf, k.ts);
            put_str(buf, &k.message);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Decoding

/// A cursor over one Avro binary buffer.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn err<T>(&self, reason: impl Into<String>) -> DResult<T> {
        Err(DecodeError {
            pos: self.pos,
            reason: reason.into(),
        })
    }

    #[inline]
    pub(crate) fn long(&mut self) -> DResult<i64> {
        let mut z: u64 = 0;
        let mut shift = 0u32;
        loop {
            let Some(&b) = self.buf.get(self.pos) else {
                return self.err("truncated varint");
            };
            self.pos += 1;
            if shift == 63 && b > 1 {
                return self.err("varint overflows 64 bits");
            }
            z |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 63 {
                return self.err("varint too long");
            }
        }
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }

    #[inline]
    pub(crate) fn int(&mut self) -> DResult<i32> {
        let start = self.pos;
        let v = self.long()?;
        i32::try_from(v).map_err(|_| DecodeError {
            pos: start,
            reason: format!("int value {v} out of range"),
        })
    }

    #[inline]
    fn boolean(&mut self) -> DResult<bool> {
        match self.buf.get(self.pos) {
            Some(0) => {
                self.pos += 1;
                Ok(false)
            }
            Some(1) => {
                self.pos += 1;
                Ok(true)
            }
            Some(b) => self.err(format!("invalid boolean byte {b}")),
            None => self.err("truncated boolean"),
        }
    }

    #[inline]
    pub(crate) fn bytes(&mut self) -> DResult<&'a [u8]> {
        let start = self.pos;
        let len = self.long()?;
        let Ok(len) = usize::try_from(len) else {
            self.pos = start;
            return self.err(format!("negative length {len}"));
        };
        let end = match self.pos.checked_add(len) {
            Some(e) if e <= self.buf.len() => e,
            _ => {
                self.pos = start;
                return self.err(format!("length {len} runs past the end of the data"));
            }
        };
        let b = &self.buf[self.pos..end];
        self.pos = end;
        Ok(b)
    }

    #[inline]
    pub(crate) fn string(&mut self) -> DResult<String> {
        let b = self.bytes()?;
        Ok(match std::str::from_utf8(b) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(b).into_owned(),
        })
    }

    pub(crate) fn fixed<const N: usize>(&mut self) -> DResult<[u8; N]> {
        match self.buf.get(self.pos..self.pos + N) {
            Some(s) => {
                self.pos += N;
                let mut a = [0u8; N];
                a.copy_from_slice(s);
                Ok(a)
            }
            None => self.err("truncated fixed"),
        }
    }

    fn union_index(&mut self, branches: i64) -> DResult<i64> {
        let start = self.pos;
        let i = self.long()?;
        if !(0..branches).contains(&i) {
            self.pos = start;
            return self.err(format!("union branch {i} out of range"));
        }
        Ok(i)
    }

    fn opt_string(&mut self) -> DResult<Option<String>> {
        Ok(match self.union_index(2)? {
            0 => None,
            _ => Some(self.string()?),
        })
    }

    fn oid(&mut self) -> DResult<Oid> {
        Ok(Oid {
            create_ts: self.long()?,
            hpid: self.long()?,
        })
    }

    fn foid(&mut self) -> DResult<Foid> {
        Ok(Foid(self.fixed::<20>()?))
    }

    fn enum_of<T>(&mut self, what: &str, conv: impl Fn(i64) -> Option<T>) -> DResult<T> {
        let start = self.pos;
        let i = self.long()?;
        match conv(i) {
            Some(v) => Ok(v),
            None => {
                self.pos = start;
                self.err(format!("{what} symbol index {i} out of range"))
            }
        }
    }

    /// Reads an array or map block count; returns `None` at the end marker.
    fn block_count(&mut self) -> DResult<Option<usize>> {
        let start = self.pos;
        let n = self.long()?;
        if n == 0 {
            return Ok(None);
        }
        if n < 0 {
            // A negative count is followed by the block's byte size.
            self.long()?;
        }
        let n = n.unsigned_abs();
        // Every item takes at least one byte, so a larger count is corrupt.
        if n > (self.buf.len() - self.pos.min(self.buf.len())) as u64 + 1 {
            self.pos = start;
            return self.err(format!("block count {n} larger than the remaining data"));
        }
        Ok(Some(n as usize))
    }

    pub(crate) fn array<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> DResult<T>,
    ) -> DResult<Vec<T>> {
        let mut out = Vec::new();
        while let Some(n) = self.block_count()? {
            out.reserve(n.min(4096));
            for _ in 0..n {
                out.push(item(self)?);
            }
        }
        Ok(out)
    }

    fn str_map(&mut self) -> DResult<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        while let Some(n) = self.block_count()? {
            for _ in 0..n {
                let k = self.string()?;
                let v = self.string()?;
                out.insert(k, v);
            }
        }
        Ok(out)
    }

    fn counters(&mut self) -> DResult<[i64; 4]> {
        Ok([self.long()?, self.long()?, self.long()?, self.long()?])
    }
}

/// Decodes one `SysFlow` datum (v5 schema) from the start of `cur`.
pub(crate) fn decode_record(c: &mut Cursor<'_>) -> DResult<Record> {
    let branch = c.union_index(12)?;
    Ok(match branch {
        0 => Record::Header(SfHeader {
            version: c.long()?,
            exporter: c.string()?,
            ip: c.string()?,
            filename: c.string()?,
        }),
        1 => Record::Container(Container {
            id: c.string()?,
            name: c.string()?,
            image: c.string()?,
            imageid: c.string()?,
            container_type: c.enum_of("ContainerType", ContainerType::from_index)?,
            privileged: c.boolean()?,
            pod_id: c.opt_string()?,
        }),
        2 => Record::Process(Process {
            state: c.enum_of("SFObjectState", ObjectState::from_index)?,
            oid: c.oid()?,
            poid: match c.union_index(2)? {
                0 => None,
                _ => Some(c.oid()?),
            },
            ts: c.long()?,
            exe: c.string()?,
            exe_args: c.string()?,
            uid: c.int()?,
            user_name: c.string()?,
            gid: c.int()?,
            group_name: c.string()?,
            tty: c.boolean()?,
            container_id: c.opt_string()?,
            entry: c.boolean()?,
            cwd: c.string()?,
            env: c.array(|c| c.string())?,
        }),
        3 => Record::File(File {
            state: c.enum_of("SFObjectState", ObjectState::from_index)?,
            oid: c.foid()?,
            ts: c.long()?,
            restype: c.int()?,
            path: c.string()?,
            container_id: c.opt_string()?,
        }),
        4 => Record::ProcessEvent(ProcessEvent {
            proc_oid: c.oid()?,
            ts: c.long()?,
            tid: c.long()?,
            op_flags: OpFlags::from_avro(c.int()?),
            args: c.array(|c| c.string())?,
            ret: c.int()?,
        }),
        5 => {
            let proc_oid = c.oid()?;
            let ts = c.long()?;
            let tid = c.long()?;
            let op_flags = OpFlags::from_avro(c.int()?);
            let end_ts = c.long()?;
            let (sip, sport, dip, dport, proto, fd) =
                (c.int()?, c.int()?, c.int()?, c.int()?, c.int()?, c.int()?);
            let [r_ops, w_ops, r_bytes, w_bytes] = c.counters()?;
            Record::NetworkFlow(NetworkFlow {
                proc_oid,
                ts,
                tid,
                op_flags,
                end_ts,
                sip,
                sport,
                dip,
                dport,
                proto,
                fd,
                num_r_recv_ops: r_ops,
                num_w_send_ops: w_ops,
                num_r_recv_bytes: r_bytes,
                num_w_send_bytes: w_bytes,
            })
        }
        6 => {
            let proc_oid = c.oid()?;
            let ts = c.long()?;
            let tid = c.long()?;
            let op_flags = OpFlags::from_avro(c.int()?);
            let open_flags = c.int()?;
            let end_ts = c.long()?;
            let file_oid = c.foid()?;
            let fd = c.int()?;
            let [r_ops, w_ops, r_bytes, w_bytes] = c.counters()?;
            Record::FileFlow(FileFlow {
                proc_oid,
                ts,
                tid,
                op_flags,
                open_flags,
                end_ts,
                file_oid,
                fd,
                num_r_recv_ops: r_ops,
                num_w_send_ops: w_ops,
                num_r_recv_bytes: r_bytes,
                num_w_send_bytes: w_bytes,
            })
        }
        7 => Record::FileEvent(FileEvent {
            proc_oid: c.oid()?,
            ts: c.long()?,
            tid: c.long()?,
            op_flags: OpFlags::from_avro(c.int()?),
            file_oid: c.foid()?,
            ret: c.int()?,
            new_file_oid: match c.union_index(2)? {
                0 => None,
                _ => Some(c.foid()?),
            },
        }),
        8 => Record::NetworkEvent(NetworkEvent {
            proc_oid: c.oid()?,
            ts: c.long()?,
            tid: c.long()?,
            op_flags: OpFlags::from_avro(c.int()?),
            sip: c.int()?,
            sport: c.int()?,
            dip: c.int()?,
            dport: c.int()?,
            proto: c.int()?,
            ret: c.int()?,
        }),
        9 => Record::ProcessFlow(ProcessFlow {
            proc_oid: c.oid()?,
            ts: c.long()?,
            num_threads_cloned: c.long()?,
            op_flags: OpFlags::from_avro(c.int()?),
            end_ts: c.long()?,
            num_threads_exited: c.long()?,
            num_clone_errors: c.long()?,
        }),
        10 => Record::Pod(Pod {
            ts: c.long()?,
            id: c.string()?,
            name: c.string()?,
            node_name: c.string()?,
            host_ip: c.array(|c| c.long())?,
            internal_ip: c.array(|c| c.long())?,
            namespace: c.string()?,
            restart_count: c.long()?,
            labels: c.str_map()?,
            selectors: c.str_map()?,
            services: c.array(|c| {
                Ok(Service {
                    name: c.string()?,
                    id: c.string()?,
                    namespace: c.string()?,
                    port_list: c.array(|c| {
                        Ok(Port {
                            port: c.int()?,
                            target_port: c.int()?,
                            node_port: c.int()?,
                            proto: c.string()?,
                        })
                    })?,
                    cluster_ip: c.array(|c| c.long())?,
                })
            })?,
        }),
        _ => Record::K8sEvent(K8sEvent {
            kind: c.enum_of("K8sComponent", K8sComponent::from_index)?,
            action: c.enum_of("K8sAction", K8sAction::from_index)?,
            ts: c.long()?,
            message: c.string()?,
        }),
    })
}

/// Decodes a buffer holding exactly one `SysFlow` datum (a socket packet, for example).
pub fn decode_datum(buf: &[u8]) -> Result<Record, DecodeError> {
    let mut c = Cursor::new(buf);
    let r = decode_record(&mut c)?;
    if !c.is_empty() {
        return Err(DecodeError {
            pos: c.pos(),
            reason: format!("{} trailing bytes after the record", buf.len() - c.pos()),
        });
    }
    Ok(r)
}

/// Encodes one record into a fresh buffer (one socket packet).
pub fn encode_datum(rec: &Record) -> Vec<u8> {
    let mut v = Vec::with_capacity(128);
    encode_record(rec, &mut v);
    v
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One record of every kind, with awkward values.
    pub(crate) fn samples() -> Vec<Record> {
        let oid = Oid::new(1_554_906_981_524_564_618, 4699);
        let foid = Foid::new(b"", b"/etc/passwd");
        vec![
            Record::Header(SfHeader {
                version: 5,
                exporter: "host".into(),
                ip: "10.0.0.1".into(),
                filename: "/tmp/x.sf".into(),
            }),
            Record::Container(Container {
                id: "c010f5a08549".into(),
                name: "n".into(),
                image: "alpine:latest".into(),
                imageid: "sha".into(),
                container_type: ContainerType::Bpm,
                privileged: true,
                pod_id: Some("pod".into()),
            }),
            Record::Process(Process {
                state: ObjectState::Reup,
                oid,
                poid: Some(Oid::new(0, 1)),
                ts: -1,
                exe: "/bin/sh".into(),
                exe_args: "-c 'x'".into(),
                uid: -1,
                user_name: "<NA>".into(),
                gid: i32::MAX,
                group_name: "ü".into(),
                tty: true,
                container_id: None,
                entry: true,
                cwd: "/".into(),
                env: vec!["A=1".into(), String::new()],
            }),
            Record::File(File {
                state: ObjectState::Created,
                oid: foid,
                ts: i64::MAX,
                restype: 102,
                path: "/etc/passwd".into(),
                container_id: Some(String::new()),
            }),
            Record::ProcessEvent(ProcessEvent {
                proc_oid: oid,
                ts: 3,
                tid: 4700,
                op_flags: OpFlags::SETUID,
                args: vec!["root".into()],
                ret: i32::MIN,
            }),
            Record::NetworkFlow(NetworkFlow {
                proc_oid: oid,
                ts: 1,
                tid: 2,
                op_flags: OpFlags::CONNECT | OpFlags::TRUNCATE,
                end_ts: 9,
                sip: 16_777_343,
                sport: 40556,
                dip: -939_524_086,
                dport: 8080,
                proto: 6,
                fd: 3,
                num_r_recv_ops: 1,
                num_w_send_ops: 2,
                num_r_recv_bytes: 3,
                num_w_send_bytes: i64::MIN,
            }),
            Record::FileFlow(FileFlow {
                proc_oid: oid,
                ts: 1,
                tid: 2,
                op_flags: OpFlags::OPEN,
                open_flags: 4097,
                end_ts: 2,
                file_oid: foid,
                fd: -100,
                ..Default::default()
            }),
            Record::FileEvent(FileEvent {
                proc_oid: oid,
                ts: 1,
                tid: 2,
                op_flags: OpFlags::RENAME,
                file_oid: foid,
                ret: 0,
                new_file_oid: Some(Foid::new(b"", b"/etc/x")),
            }),
            Record::NetworkEvent(NetworkEvent {
                proc_oid: oid,
                ts: 1,
                tid: 2,
                op_flags: OpFlags::ACCEPT,
                sip: 1,
                sport: 2,
                dip: 3,
                dport: 4,
                proto: 17,
                ret: -1,
            }),
            Record::ProcessFlow(ProcessFlow {
                proc_oid: oid,
                ts: 1,
                num_threads_cloned: 5,
                op_flags: OpFlags::CLONE | OpFlags::EXIT,
                end_ts: 7,
                num_threads_exited: 4,
                num_clone_errors: 1,
            }),
            Record::Pod(Pod {
                ts: 1,
                id: "p".into(),
                name: "n".into(),
                node_name: "node".into(),
                host_ip: vec![1, 2],
                internal_ip: vec![],
                namespace: "default".into(),
                restart_count: 3,
                labels: [("a".to_string(), "b".to_string())].into_iter().collect(),
                selectors: BTreeMap::new(),
                services: vec![Service {
                    name: "s".into(),
                    id: "i".into(),
                    namespace: "ns".into(),
                    port_list: vec![Port {
                        port: 80,
                        target_port: 8080,
                        node_port: 30000,
                        proto: "TCP".into(),
                    }],
                    cluster_ip: vec![7],
                }],
            }),
            Record::K8sEvent(K8sEvent {
                kind: K8sComponent::Pods,
                action: K8sAction::Deleted,
                ts: 5,
                message: "{}".into(),
            }),
        ]
    }

    #[test]
    fn every_kind_round_trips() {
        for r in samples() {
            let buf = encode_datum(&r);
            assert_eq!(decode_datum(&buf).unwrap(), r);
        }
    }

    #[test]
    fn encoding_agrees_with_apache_avro() {
        let schema = apache_avro::Schema::parse_str(super::super::schema::schema_v5()).unwrap();
        for r in samples() {
            let buf = encode_datum(&r);
            let mut slice = &buf[..];
            let v = apache_avro::reader::datum::GenericDatumReader::builder(&schema)
                .build()
                .unwrap()
                .read_value(&mut slice)
                .unwrap_or_else(|e| panic!("{:?}: {e}", r.kind()));
            assert!(slice.is_empty(), "{:?} left bytes", r.kind());
            let back = apache_avro::writer::datum::GenericDatumWriter::builder(&schema)
                .build()
                .unwrap()
                .write_value_to_vec(v)
                .unwrap();
            assert_eq!(back, buf, "{:?}", r.kind());
        }
    }

    #[test]
    fn truncated_data_is_an_error_not_a_panic() {
        for r in samples() {
            let buf = encode_datum(&r);
            for cut in 0..buf.len() {
                assert!(decode_datum(&buf[..cut]).is_err());
            }
            for i in 0..buf.len() {
                let mut b = buf.clone();
                b[i] ^= 0xff;
                let _ = decode_datum(&b);
            }
        }
    }

    #[test]
    fn varint_edges() {
        for v in [0i64, -1, 1, 63, -64, 64, i64::MAX, i64::MIN] {
            let mut b = Vec::new();
            put_long(&mut b, v);
            assert_eq!(Cursor::new(&b).long().unwrap(), v);
        }
        assert!(Cursor::new(&[0xff; 11]).long().is_err());
    }
}
