//! `pmatch`: path-component prefixes (libsinsp's `path_prefix_search`).
//!
//! A value matches when one of the list's paths is a prefix of it, component by
//! component; repeated and trailing `/` do not count, and a component containing `*`, `?`
//! or `[` is matched with `fnmatch` against one component only.

use std::collections::HashMap;

use super::fnmatch::fnmatch;

/// A trie of path components.
#[derive(Debug, Default)]
pub(crate) struct PathSet {
    /// A path of the list ends here: everything below matches.
    terminal: bool,
    direct: HashMap<Vec<u8>, PathSet>,
    globs: Vec<(Vec<u8>, PathSet)>,
}

fn components(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.split(|&c| c == b'/').filter(|c| !c.is_empty())
}

impl PathSet {
    /// Adds a path of the list.
    pub(crate) fn add(&mut self, path: &[u8]) {
        let mut node = self;
        for comp in components(path) {
            if node.terminal {
                return;
            }
            node = if comp.iter().any(|c| matches!(c, b'*' | b'?' | b'[')) {
                let pos = match node.globs.iter().position(|(g, _)| g == comp) {
                    Some(p) => p,
                    None => {
                        node.globs.push((comp.to_vec(), PathSet::default()));
                        node.globs.len() - 1
                    }
                };
                &mut node.globs[pos].1
            } else {
                node.direct.entry(comp.to_vec()).or_default()
            };
        }
        node.terminal = true;
    }

    /// Whether a path of the list is a component prefix of `path`.
    pub(crate) fn matches(&self, path: &[u8]) -> bool {
        self.matches_from(path)
    }

    fn matches_from(&self, rest: &[u8]) -> bool {
        if self.terminal {
            return true;
        }
        let rest = trim_slashes(rest);
        if rest.is_empty() {
            return false;
        }
        let end = rest.iter().position(|&c| c == b'/').unwrap_or(rest.len());
        let (comp, tail) = rest.split_at(end);
        if let Some(sub) = self.direct.get(comp) {
            if sub.matches_from(tail) {
                return true;
            }
        }
        self.globs
            .iter()
            .any(|(g, sub)| fnmatch(g, comp, false) && sub.matches_from(tail))
    }
}

fn trim_slashes(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&c| c == b'/').count();
    &s[n..]
}

#[cfg(test)]
mod tests {
    use super::PathSet;

    fn set(paths: &[&str]) -> PathSet {
        let mut s = PathSet::default();
        for p in paths {
            s.add(p.as_bytes());
        }
        s
    }

    #[test]
    fn component_prefixes() {
        let s = set(&["/opt/dir"]);
        assert!(s.matches(b"/opt/dir"));
        assert!(s.matches(b"/opt/dir/x"));
        assert!(s.matches(b"//opt///dir/"));
        assert!(!s.matches(b"/opt/dir2"));
        assert!(!s.matches(b"/opt"));
        let s = set(&["/opt/dir/"]);
        assert!(s.matches(b"/opt/dir/sub"));
        let s = set(&["/et"]);
        assert!(!s.matches(b"/etc/shadow"));
        let s = set(&["/usr", "/usr/lib", "/var/run"]);
        assert!(s.matches(b"/usr/bin/x"));
        assert!(s.matches(b"/var/run/docker.sock"));
        assert!(!s.matches(b"/var/lib"));
        assert!(set(&["/"]).matches(b"/anything"));
        assert!(!set(&[]).matches(b"/anything"));
    }

    #[test]
    fn wildcards_stay_in_components() {
        let s = set(&["/opt/*/subdir"]);
        assert!(s.matches(b"/opt/dir/subdir/file.txt"));
        let s = set(&["/opt/*/*/subsubdir"]);
        assert!(!s.matches(b"/opt/dir/subdir/file.txt"));
        let s = set(&["/opt/d?r", "/etc/[a-c]*"]);
        assert!(s.matches(b"/opt/dir/x"));
        assert!(s.matches(b"/etc/bash.bashrc"));
        assert!(!s.matches(b"/etc/shadow"));
    }
}
