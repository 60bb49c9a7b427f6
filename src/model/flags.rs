//! Operation flags carried by events and flows (`opFlags`), and open flags (`openFlags`).

use bitflags::bitflags;

bitflags! {
    /// SysFlow operation flags (schema field `opFlags`), with the specification's names
    /// and bit values.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct OpFlags: u32 {
        /// A process or thread was cloned.
        const CLONE = 1 << 0;
        /// A process executed a new image.
        const EXEC = 1 << 1;
        /// A process or thread exited.
        const EXIT = 1 << 2;
        /// A process changed its user id.
        const SETUID = 1 << 3;
        /// A thread joined a namespace.
        const SETNS = 1 << 4;
        /// A connection was accepted.
        const ACCEPT = 1 << 5;
        /// A connection was initiated.
        const CONNECT = 1 << 6;
        /// A file was opened.
        const OPEN = 1 << 7;
        /// Data was read or received.
        const READ_RECV = 1 << 8;
        /// Data was written or sent.
        const WRITE_SEND = 1 << 9;
        /// A descriptor was closed.
        const CLOSE = 1 << 10;
        /// The flow was cut short (process end, capture end, sibling close).
        const TRUNCATE = 1 << 11;
        /// A socket was shut down.
        const SHUTDOWN = 1 << 12;
        /// A file was memory-mapped.
        const MMAP = 1 << 13;
        /// A digest was computed (defined by the specification, never produced).
        const DIGEST = 1 << 14;
        /// A directory was created.
        const MKDIR = 1 << 15;
        /// A directory was removed.
        const RMDIR = 1 << 16;
        /// A hard link was created.
        const LINK = 1 << 17;
        /// A name was unlinked.
        const UNLINK = 1 << 18;
        /// A symbolic link was created.
        const SYMLINK = 1 << 19;
        /// A file was renamed.
        const RENAME = 1 << 20;
    }
}

impl OpFlags {
    /// The flags as the schema's signed `int`.
    pub const fn to_avro(self) -> i32 {
        self.bits() as i32
    }

    /// Flags from the schema's `int`, keeping unknown bits.
    pub const fn from_avro(v: i32) -> Self {
        Self::from_bits_retain(v as u32)
    }

    /// The file-event operations (MKDIR, RMDIR, LINK, UNLINK, SYMLINK, RENAME).
    pub const FILE_EVENTS: OpFlags = OpFlags::MKDIR
        .union(OpFlags::RMDIR)
        .union(OpFlags::LINK)
        .union(OpFlags::UNLINK)
        .union(OpFlags::SYMLINK)
        .union(OpFlags::RENAME);
}

bitflags! {
    /// File open flags as SysFlow records them (`openFlags`): the scap/Falco `PPM_O_*`
    /// encoding, not the kernel's `O_*` values.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct OpenFlags: u32 {
        /// Opened for reading (`O_RDONLY`; also set for `O_RDWR`).
        const RDONLY = 1 << 0;
        /// Opened for writing (`O_WRONLY`; also set for `O_RDWR`).
        const WRONLY = 1 << 1;
        /// Read and write.
        const RDWR = Self::RDONLY.bits() | Self::WRONLY.bits();
        /// `O_CREAT`.
        const CREAT = 1 << 2;
        /// `O_APPEND`.
        const APPEND = 1 << 3;
        /// `O_DSYNC`.
        const DSYNC = 1 << 4;
        /// `O_EXCL`.
        const EXCL = 1 << 5;
        /// `O_NONBLOCK`.
        const NONBLOCK = 1 << 6;
        /// `O_SYNC`.
        const SYNC = 1 << 7;
        /// `O_TRUNC`.
        const TRUNC = 1 << 8;
        /// `O_DIRECT`.
        const DIRECT = 1 << 9;
        /// `O_DIRECTORY`.
        const DIRECTORY = 1 << 10;
        /// `O_LARGEFILE`.
        const LARGEFILE = 1 << 11;
        /// `O_CLOEXEC`.
        const CLOEXEC = 1 << 12;
        /// `O_TMPFILE`.
        const TMPFILE = 1 << 13;
        /// The open created the file.
        const F_CREATED = 1 << 14;
        /// The file lives on the upper layer of an overlay filesystem.
        const FD_UPPER_LAYER = 1 << 15;
        /// The file lives on a lower layer of an overlay filesystem.
        const FD_LOWER_LAYER = 1 << 16;
    }
}

impl OpenFlags {
    /// Converts kernel `O_*` open flags (x86-64/generic values) to the `PPM_O_*` encoding.
    pub fn from_kernel(flags: u32) -> Self {
        const O_ACCMODE: u32 = 0o3;
        let mut out = match flags & O_ACCMODE {
            0 => OpenFlags::RDONLY,
            1 => OpenFlags::WRONLY,
            _ => OpenFlags::RDWR,
        };
        let map: [(u32, OpenFlags); 11] = [
            (0o100, OpenFlags::CREAT),
            (0o2000, OpenFlags::APPEND),
            (0o10000, OpenFlags::DSYNC),
            (0o200, OpenFlags::EXCL),
            (0o4000, OpenFlags::NONBLOCK),
            (0o4010000, OpenFlags::SYNC),
            (0o1000, OpenFlags::TRUNC),
            (0o40000, OpenFlags::DIRECT),
            (0o200000, OpenFlags::DIRECTORY),
            (0o100000, OpenFlags::LARGEFILE),
            (0o2000000, OpenFlags::CLOEXEC),
        ];
        for (k, v) in map {
            if flags & k == k {
                out |= v;
            }
        }
        // O_TMPFILE is __O_TMPFILE | O_DIRECTORY.
        if flags & 0o20000000 != 0 {
            out |= OpenFlags::TMPFILE;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_flag_bits_match_the_specification() {
        assert_eq!(OpFlags::RENAME.bits(), 1_048_576);
        assert_eq!(OpFlags::MKDIR.bits(), 32_768);
        assert_eq!(
            (OpFlags::OPEN | OpFlags::CLOSE | OpFlags::MMAP).bits(),
            9344
        );
        assert_eq!((OpFlags::CONNECT | OpFlags::CLOSE).bits(), 1088);
        assert_eq!(OpFlags::from_avro(2048), OpFlags::TRUNCATE);
    }

    #[test]
    fn kernel_open_flags_convert() {
        // O_RDONLY|O_CLOEXEC -> 4097 as in the corpus.
        assert_eq!(OpenFlags::from_kernel(0o2000000).bits(), 4097);
        let f = OpenFlags::from_kernel(0o1 | 0o100 | 0o1000);
        assert_eq!(f, OpenFlags::WRONLY | OpenFlags::CREAT | OpenFlags::TRUNC);
        assert_eq!(OpenFlags::from_kernel(0o2), OpenFlags::RDWR);
    }
}
