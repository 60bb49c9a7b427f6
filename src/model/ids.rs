//! Object identifiers: the process OID and the file FOID.

use sha1::{Digest, Sha1};
use std::fmt;

/// Identifies a process: its creation timestamp and host pid (Avro `sysflow.type.OID`).
///
/// `create_ts` is the nanosecond timestamp of the clone that created the process
/// (0 when the process existed before the capture started, as in the reference).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Oid {
    /// Schema field `createTS`: process creation time in ns since the epoch.
    pub create_ts: i64,
    /// Schema field `hpid`: host pid of the process (thread-group leader).
    pub hpid: i64,
}

impl Oid {
    /// Builds an OID.
    pub const fn new(create_ts: i64, hpid: i64) -> Self {
        Self { create_ts, hpid }
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.hpid, self.create_ts)
    }
}

/// Identifies a file object (Avro `fixed FOID(20)`).
///
/// It is the SHA-1 digest of the container id bytes followed by the path bytes, with no
/// separator (host files use the empty container id), exactly as the reference computes it.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Foid(pub [u8; 20]);

impl Foid {
    /// Computes the FOID of `path` seen from the container `container_id` (`""` for the host).
    pub fn new(container_id: &[u8], path: &[u8]) -> Self {
        let mut h = Sha1::new();
        h.update(container_id);
        h.update(path);
        Foid(h.finalize().into())
    }

    /// The 20 digest bytes.
    pub const fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    /// Lowercase hexadecimal rendering (40 characters).
    pub fn to_hex(&self) -> String {
        use fmt::Write;
        let mut s = String::with_capacity(40);
        for b in self.0 {
            let _ = write!(s, "{b:02x}");
        }
        s
    }
}

impl fmt::Debug for Foid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Foid({})", self.to_hex())
    }
}

impl fmt::Display for Foid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foid_matches_reference_digests() {
        // Values confirmed in the reference corpus (setuid.sf, alpine.sf).
        assert!(
            Foid::new(b"", b"/etc/ld.so.cache")
                .to_hex()
                .starts_with("8d57b8c6")
        );
        assert!(
            Foid::new(b"", b"/etc/ld.so.cache")
                .to_hex()
                .ends_with("6cc86da")
        );
        let f = Foid::new(b"c010f5a08549", b"/root/.ash_history").to_hex();
        assert!(
            f.starts_with("e70fe801") && f.ends_with("86d158e918"),
            "{f}"
        );
        assert_eq!(
            Foid::new(b"", b"").to_hex(),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
    }

    #[test]
    fn foid_is_container_then_path() {
        assert_ne!(Foid::new(b"abc", b"/x"), Foid::new(b"", b"/xabc"));
        assert_eq!(Foid::new(b"abc", b"/x"), Foid::new(b"", b"abc/x"));
    }
}
