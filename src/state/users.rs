//! Users and groups known to the capture (keyed by container id; `""` is the host).

use rustc_hash::FxHashMap as HashMap;

/// A user entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    /// Uid.
    pub uid: u32,
    /// Primary gid.
    pub gid: u32,
    /// Name.
    pub name: Vec<u8>,
    /// Home directory.
    pub home: Vec<u8>,
    /// Shell.
    pub shell: Vec<u8>,
}

fn number(b: &[u8]) -> Option<u32> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// Users and groups by container.
///
/// Only what the capture itself says is recorded: the converting machine's passwd and
/// group databases are never consulted (the reference does, which makes its output depend
/// on where it runs).
#[derive(Clone, Debug, Default)]
pub struct UserTable {
    users: HashMap<(Vec<u8>, u32), UserInfo>,
    groups: HashMap<(Vec<u8>, u32), Vec<u8>>,
}

impl UserTable {
    /// Records a user.
    pub fn add_user(&mut self, container: &[u8], user: UserInfo) {
        self.users.insert((container.to_vec(), user.uid), user);
    }

    /// Records a group.
    pub fn add_group(&mut self, container: &[u8], gid: u32, name: &[u8]) {
        self.groups.insert((container.to_vec(), gid), name.to_vec());
    }

    /// Records every user of a passwd database (`name:x:uid:gid:gecos:home:shell` lines;
    /// malformed lines are skipped) for `container` (`b""`: the host).
    pub fn load_passwd(&mut self, container: &[u8], text: &[u8]) {
        for line in text.split(|&b| b == b'\n') {
            let f: Vec<&[u8]> = line.split(|&b| b == b':').collect();
            if f.len() < 7 {
                continue;
            }
            if let (Some(uid), Some(gid)) = (number(f[2]), number(f[3])) {
                self.add_user(
                    container,
                    UserInfo {
                        uid,
                        gid,
                        name: f[0].to_vec(),
                        home: f[5].to_vec(),
                        shell: f[6].to_vec(),
                    },
                );
            }
        }
    }

    /// Records every group of a group database (`name:x:gid:members` lines; malformed
    /// lines are skipped) for `container` (`b""`: the host).
    pub fn load_group(&mut self, container: &[u8], text: &[u8]) {
        for line in text.split(|&b| b == b'\n') {
            let f: Vec<&[u8]> = line.split(|&b| b == b':').collect();
            if f.len() < 3 {
                continue;
            }
            if let Some(gid) = number(f[2]) {
                self.add_group(container, gid, f[0]);
            }
        }
    }

    /// Forgets the users and groups of every container `keep` refuses (the host's, keyed
    /// `b""`, always stay): a container's users leave with the container.
    pub fn prune(&mut self, keep: impl Fn(&[u8]) -> bool) {
        self.users.retain(|(c, _), _| c.is_empty() || keep(c));
        self.groups.retain(|(c, _), _| c.is_empty() || keep(c));
    }

    /// Number of (container, uid) users and (container, gid) groups held.
    pub fn sizes(&self) -> (usize, usize) {
        (self.users.len(), self.groups.len())
    }

    /// Looks a user up.
    pub fn user(&self, container: &[u8], uid: u32) -> Option<&UserInfo> {
        self.users.get(&(container.to_vec(), uid))
    }

    /// Looks a group name up.
    pub fn group(&self, container: &[u8], gid: u32) -> Option<&[u8]> {
        self.groups
            .get(&(container.to_vec(), gid))
            .map(|v| v.as_slice())
    }
}
