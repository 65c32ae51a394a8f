//! Validated relative paths and chroot-style resolution inside a root.

use crate::TxError;
use std::collections::VecDeque;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// A path relative to the root: not absolute, no `..`, `.` or empty components, no NUL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelPath(String);

impl RelPath {
    pub fn new(s: &str) -> Result<RelPath, TxError> {
        let bad = |reason: &'static str| {
            Err(TxError::InvalidPath {
                path: s.to_string(),
                reason,
            })
        };
        if s.is_empty() {
            return bad("it is empty");
        }
        if s.starts_with('/') {
            return bad("it is absolute");
        }
        if s.contains('\0') {
            return bad("it contains a NUL byte");
        }
        for c in s.split('/') {
            match c {
                "" => return bad("it has an empty component (`//` or a trailing `/`)"),
                "." => return bad("it has a `.` component"),
                ".." => return bad("it has a `..` component"),
                _ => {}
            }
        }
        Ok(RelPath(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The parent (empty string for a top-level entry) and the last component.
    pub(crate) fn split_last(&self) -> (&str, &str) {
        match self.0.rfind('/') {
            Some(i) => (&self.0[..i], &self.0[i + 1..]),
            None => ("", &self.0),
        }
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What is at a path, without following a final symlink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Missing,
    Dir,
    Symlink(String),
    Other,
}

/// Something that can answer "what is at this root-relative path" — the real root, or
/// the root as a transaction's earlier ops will have left it.
pub(crate) trait View {
    fn kind(&self, rel: &str) -> Result<Kind, TxError>;
}

pub(crate) struct RealView<'a> {
    pub root: &'a Path,
}

impl View for RealView<'_> {
    fn kind(&self, rel: &str) -> Result<Kind, TxError> {
        lstat_kind(self.root, rel)
    }
}

/// `lstat` of `root/rel`; a missing entry or a non-directory parent is `Missing`.
pub(crate) fn lstat_kind(root: &Path, rel: &str) -> Result<Kind, TxError> {
    let p = root.join(rel);
    match fs::symlink_metadata(&p) {
        Ok(m) if m.file_type().is_symlink() => {
            let t = fs::read_link(&p).map_err(|e| TxError::io("reading symlink", rel, e))?;
            match t.into_os_string().into_string() {
                Ok(t) => Ok(Kind::Symlink(t)),
                Err(_) => Err(TxError::InvalidPath {
                    path: rel.to_string(),
                    reason: "it is a symlink whose target is not UTF-8",
                }),
            }
        }
        Ok(m) if m.is_dir() => Ok(Kind::Dir),
        Ok(_) => Ok(Kind::Other),
        Err(e) if is_missing(&e) => Ok(Kind::Missing),
        Err(e) => Err(TxError::io("looking at", rel, e)),
    }
}

/// ENOENT or ENOTDIR: nothing there.
pub(crate) fn is_missing(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR)
}

pub(crate) fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}/{name}")
    }
}

const MAX_LINKS: usize = 40;

/// Resolve `rel` against `view` like a chroot would: symlinks met on the way are
/// followed (absolute targets restart at the root, `..` stops at the root). The last
/// component is followed only if `follow_last`. Returns the resolved root-relative path
/// (empty for the root itself) and every path that was looked at on the way.
pub(crate) fn resolve_trace(
    view: &dyn View,
    rel: &str,
    follow_last: bool,
) -> Result<(String, Vec<String>), TxError> {
    let mut out: Vec<String> = Vec::new();
    let mut pending: VecDeque<String> = rel.split('/').map(str::to_string).collect();
    let mut seen = Vec::new();
    let mut links = 0;
    while let Some(c) = pending.pop_front() {
        match c.as_str() {
            "" | "." => continue,
            ".." => {
                out.pop();
                continue;
            }
            _ => {}
        }
        out.push(c);
        let last = pending.is_empty();
        if last && !follow_last {
            break;
        }
        let here = out.join("/");
        let kind = view.kind(&here)?;
        seen.push(here.clone());
        match kind {
            Kind::Symlink(target) => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(TxError::SymlinkLoop {
                        path: rel.to_string(),
                        at: here,
                    });
                }
                out.pop();
                if target.starts_with('/') {
                    out.clear();
                }
                for t in target.split('/').rev() {
                    pending.push_front(t.to_string());
                }
            }
            Kind::Other if !last => {
                return Err(TxError::NotADirectory {
                    path: rel.to_string(),
                    at: here,
                });
            }
            Kind::Dir | Kind::Missing | Kind::Other => {}
        }
    }
    Ok((out.join("/"), seen))
}

pub(crate) fn resolve(view: &dyn View, rel: &str, follow_last: bool) -> Result<String, TxError> {
    resolve_trace(view, rel, follow_last).map(|(r, _)| r)
}

/// Resolve `rel` inside `root` the way a chroot would: symlinks met while walking
/// (including a final one) are followed, absolute targets are taken relative to `root`
/// and `..` is clamped at `root`. The result never lies outside `root` (it is `root`
/// joined with a path that has no `..`, and none of its existing components is a
/// symlink). Missing components are kept as written.
pub fn resolve_in_root(root: &Path, rel: &RelPath) -> Result<PathBuf, TxError> {
    let r = resolve(&RealView { root }, rel.as_str(), true)?;
    Ok(if r.is_empty() {
        root.to_path_buf()
    } else {
        root.join(r)
    })
}

/// True if every proper ancestor of `rel` below the root is a real directory (not a
/// symlink, not missing). Steps are only ever carried out, and undone, at paths whose
/// parents are plain directories, so nothing can be redirected outside the root.
pub(crate) fn parents_plain(root: &Path, rel: &str) -> Result<bool, TxError> {
    let mut end = 0;
    while let Some(i) = rel[end..].find('/') {
        let anc = &rel[..end + i];
        if lstat_kind(root, anc)? != Kind::Dir {
            return Ok(false);
        }
        end += i + 1;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn parents_plain_rejects_symlinked_or_missing_parents() {
        let t = std::env::temp_dir().join(format!("kimigayo-txn-unit-{}", std::process::id()));
        fs::create_dir_all(t.join("a/b")).unwrap();
        symlink("a", t.join("l")).unwrap();
        assert!(parents_plain(&t, "a/b/c").unwrap());
        assert!(parents_plain(&t, "top").unwrap());
        assert!(!parents_plain(&t, "l/b/c").unwrap());
        assert!(!parents_plain(&t, "missing/c").unwrap());
        fs::remove_dir_all(&t).unwrap();
    }

    #[test]
    fn split_last_gives_parent_and_name() {
        assert_eq!(RelPath::new("a/b/c").unwrap().split_last(), ("a/b", "c"));
        assert_eq!(RelPath::new("c").unwrap().split_last(), ("", "c"));
    }
}
