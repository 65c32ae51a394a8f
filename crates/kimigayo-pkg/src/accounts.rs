//! Declarative accounts: packages declare the users and groups they need; kpkg adds the
//! missing entries to etc/group, etc/passwd and etc/shadow inside the same transaction.
//! No script runs and no chroot is needed. Existing entries are never changed; an entry
//! whose name exists with another id is an error naming both. Accounts stay when the
//! package that declared them is removed (files they own may outlive it).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use kimigayo_package::PackageMeta;
use kimigayo_txn::{Entry, Op, RelPath};

use crate::db::Database;
use crate::PkgError;

const FILES: [(&str, u32); 3] = [("etc/group", 0o644), ("etc/passwd", 0o644), ("etc/shadow", 0o640)];

fn field<'a>(line: &'a str, i: usize) -> Option<&'a str> {
    line.split(':').nth(i)
}

/// Append the missing entries; `Ok(None)` when nothing changes.
pub fn edit(file: &str, text: &str, metas: &[&PackageMeta]) -> Result<Option<String>, PkgError> {
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    let mut changed = false;
    let exists = |out: &str, name: &str| out.lines().find(|l| field(l, 0) == Some(name)).map(str::to_string);
    for m in metas {
        for (i, u) in m.users.iter().enumerate() {
            u.validate(&format!("users[{i}]")).map_err(|e| PkgError::Config(format!("package {}: {e}; nothing was changed", m.name)))?;
        }
        for (i, g) in m.groups.iter().enumerate() {
            g.validate(&format!("groups[{i}]")).map_err(|e| PkgError::Config(format!("package {}: {e}; nothing was changed", m.name)))?;
        }
        match file {
            "etc/group" => {
                for g in &m.groups {
                    match exists(&out, &g.name) {
                        Some(l) if field(&l, 2) != Some(&g.gid.to_string()) => {
                            return Err(PkgError::Config(format!(
                                "package {} declares group {} with gid {}, but etc/group has `{l}`: change one of them",
                                m.name, g.name, g.gid
                            )))
                        }
                        Some(_) => {}
                        None => {
                            out.push_str(&format!("{}:x:{}:{}\n", g.name, g.gid, g.members.join(",")));
                            changed = true;
                        }
                    }
                }
            }
            "etc/passwd" => {
                for u in &m.users {
                    match exists(&out, &u.name) {
                        Some(l) if field(&l, 2) != Some(&u.uid.to_string()) => {
                            return Err(PkgError::Config(format!(
                                "package {} declares user {} with uid {}, but etc/passwd has `{l}`: change one of them",
                                m.name, u.name, u.uid
                            )))
                        }
                        Some(_) => {}
                        None => {
                            out.push_str(&format!("{}:x:{}:{}:{}:{}:{}\n", u.name, u.uid, u.gid, u.gecos, u.home, u.shell));
                            changed = true;
                        }
                    }
                }
            }
            _ => {
                for u in &m.users {
                    if exists(&out, &u.name).is_none() {
                        out.push_str(&format!("{}:!::0:::::\n", u.name));
                        changed = true;
                    }
                }
            }
        }
    }
    Ok(changed.then_some(out))
}

/// Apply the accounts declared by `metas` (packages entering the root). Edits staged
/// account files in place, or stages edited copies of the root's files as new `Put` ops.
/// Updates the owning packages' recorded hashes so `kpkg verify` stays clean.
pub fn apply(
    root: &Path,
    metas: &[&PackageMeta],
    staged: &BTreeMap<String, PathBuf>,
    staging: &Path,
    db: &mut Database,
    ops: &mut Vec<Op>,
) -> Result<(), PkgError> {
    if metas.iter().all(|m| m.users.is_empty() && m.groups.is_empty()) {
        return Ok(());
    }
    let io = |e: std::io::Error| PkgError::Io(format!("editing the account files: {e}"));
    for (file, default_mode) in FILES {
        let rel = RelPath::new(file).expect("valid");
        let (text, target) = match staged.get(file) {
            Some(p) => (fs::read_to_string(p).map_err(io)?, Some(p.clone())),
            None => {
                let p = kimigayo_txn::resolve_in_root(root, &rel)?;
                (fs::read_to_string(&p).unwrap_or_default(), None)
            }
        };
        let Some(new) = edit(file, &text, metas)? else { continue };
        let path = match target {
            Some(p) => {
                fs::write(&p, &new).map_err(io)?;
                p
            }
            None => {
                fs::create_dir_all(staging).map_err(io)?;
                let p = staging.join(file.replace('/', "_"));
                fs::write(&p, &new).map_err(io)?;
                let existing = kimigayo_txn::resolve_in_root(root, &rel).ok().and_then(|r| fs::metadata(r).ok());
                let (mode, uid, gid) = existing.map_or((default_mode, 0, 0), |m| (m.permissions().mode() & 0o7777, m.uid(), m.gid()));
                fs::set_permissions(&p, fs::Permissions::from_mode(mode)).map_err(io)?;
                ops.push(Op::Put { path: rel.clone(), entry: Entry::File { staged: p.clone(), mode, uid, gid } });
                p
            }
        };
        let sha = kimigayo_package::sha256_file(&path).map_err(io)?;
        for pkg in db.packages.values_mut() {
            for f in pkg.files.iter_mut().filter(|f| f.path == file) {
                f.sha256 = Some(sha.clone());
            }
        }
    }
    Ok(())
}
