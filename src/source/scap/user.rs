//! User list blocks: the capturing host's users and groups.

use super::cursor::Cursor;
use super::meta::{BodyError, OrBad, PAST_END};

/// A user account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct User {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Login name (raw bytes).
    pub name: Vec<u8>,
    /// Home directory (raw bytes).
    pub homedir: Vec<u8>,
    /// Login shell (raw bytes).
    pub shell: Vec<u8>,
}

/// A group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Group {
    /// Group id.
    pub gid: u32,
    /// Group name (raw bytes).
    pub name: Vec<u8>,
}

/// Parses a user list body; `v2` entries start with their length (counting itself).
/// Entry type 0 is a user; any other type is read as a group, as libscap does.
pub(crate) fn parse_userlist(body: &[u8], v2: bool) -> Result<(Vec<User>, Vec<Group>), BodyError> {
    let mut c = Cursor::new(body);
    let mut users = Vec::new();
    let mut groups = Vec::new();
    while c.remaining() >= 4 {
        let start = c.pos();
        let bad = |what| BodyError::new(start, what);
        let sub_len = if v2 {
            c.u32().or_bad(start, PAST_END)?
        } else {
            0
        };
        let is_user = c.u8().or_bad(start, PAST_END)? == 0;
        let mut fields = || -> Option<()> {
            if is_user {
                users.push(User {
                    uid: c.u32()?,
                    gid: c.u32()?,
                    name: c.str16()?.to_vec(),
                    homedir: c.str16()?.to_vec(),
                    shell: c.str16()?.to_vec(),
                });
            } else {
                groups.push(Group {
                    gid: c.u32()?,
                    name: c.str16()?.to_vec(),
                });
            }
            Some(())
        };
        fields().ok_or(bad(PAST_END))?;
        if sub_len != 0 {
            let end = start
                .checked_add(sub_len as usize)
                .ok_or(bad("entry length overflows"))?;
            if c.pos() > end {
                return Err(bad("entry is longer than its recorded length"));
            }
            c.seek(end).ok_or(bad(PAST_END))?;
        }
    }
    Ok((users, groups))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(b: &mut Vec<u8>, v: &[u8]) {
        b.extend((v.len() as u16).to_le_bytes());
        b.extend(v);
    }

    fn user(v2: bool, uid: u32, name: &[u8]) -> Vec<u8> {
        let mut b = vec![0];
        b.extend(uid.to_le_bytes());
        b.extend(uid.to_le_bytes());
        s(&mut b, name);
        s(&mut b, b"/home");
        s(&mut b, b"/bin/sh");
        frame(v2, b)
    }

    fn group(v2: bool, gid: u32, name: &[u8]) -> Vec<u8> {
        let mut b = vec![1];
        b.extend(gid.to_le_bytes());
        s(&mut b, name);
        frame(v2, b)
    }

    fn frame(v2: bool, b: Vec<u8>) -> Vec<u8> {
        if v2 {
            let mut framed = ((b.len() + 4) as u32).to_le_bytes().to_vec();
            framed.extend(b);
            framed
        } else {
            b
        }
    }

    #[test]
    fn users_and_groups_both_versions() {
        for v2 in [false, true] {
            let mut body = user(v2, 0, b"root");
            body.extend(group(v2, 0, b"root"));
            body.extend(user(v2, 1000, b"\xffuser"));
            body.push(0);
            let (users, groups) = parse_userlist(&body, v2).unwrap();
            assert_eq!(users.len(), 2);
            assert_eq!(users[1].name, b"\xffuser");
            assert_eq!(users[1].shell, b"/bin/sh");
            assert_eq!(
                groups,
                vec![Group {
                    gid: 0,
                    name: b"root".to_vec()
                }]
            );
        }
    }

    #[test]
    fn truncated_entries_fail() {
        let e = user(true, 5, b"nobody");
        for cut in 4..e.len() {
            assert!(parse_userlist(&e[..cut], true).is_err(), "cut {cut}");
        }
    }
}
