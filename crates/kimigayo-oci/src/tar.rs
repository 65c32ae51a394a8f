//! Deterministic ustar/PAX tar writer and layer construction.

use std::collections::BTreeMap;

use crate::{Kind, LayerEntry, OciError};

const BLOCK: usize = 512;
/// Largest value an 11-digit octal field can hold.
const MAX_OCTAL_11: u64 = 0o777_7777_7777;
/// Largest value a 7-digit octal field (uid/gid) can hold.
const MAX_OCTAL_7: u64 = 0o777_7777;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum TarType {
    File,
    Dir,
    Symlink,
}

/// One tar member header (path without trailing slash).
pub(crate) struct Member<'a> {
    pub path: &'a str,
    pub typ: TarType,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: u64,
    pub link: &'a str,
}

/// Minimal tar writer: ustar headers, PAX extended headers only when a value does not fit.
#[derive(Default)]
pub(crate) struct TarWriter {
    out: Vec<u8>,
}

impl TarWriter {
    pub fn append(&mut self, m: &Member<'_>, data: &[u8]) {
        let name = if m.typ == TarType::Dir {
            format!("{}/", m.path)
        } else {
            m.path.to_string()
        };
        let size = data.len() as u64;
        let mut pax: Vec<(&str, String)> = Vec::new();
        let split = split_name(name.as_bytes());
        if split.is_none() {
            pax.push(("path", name.clone()));
        }
        if m.link.len() > 100 {
            pax.push(("linkpath", m.link.to_string()));
        }
        if u64::from(m.uid) > MAX_OCTAL_7 {
            pax.push(("uid", m.uid.to_string()));
        }
        if u64::from(m.gid) > MAX_OCTAL_7 {
            pax.push(("gid", m.gid.to_string()));
        }
        if size > MAX_OCTAL_11 {
            pax.push(("size", size.to_string()));
        }
        if m.mtime > MAX_OCTAL_11 {
            pax.push(("mtime", m.mtime.to_string()));
        }
        if !pax.is_empty() {
            let mut records = Vec::new();
            for (k, v) in &pax {
                records.extend_from_slice(&pax_record(k, v));
            }
            let h = Header {
                prefix: b"",
                name: b"././@PaxHeader",
                mode: 0o644,
                uid: 0,
                gid: 0,
                size: records.len() as u64,
                mtime: m.mtime.min(MAX_OCTAL_11),
                typeflag: b'x',
                link: b"",
            };
            self.out.extend_from_slice(&h.encode());
            self.push_data(&records);
        }
        let (prefix, short) = split.unwrap_or((b"", &[]));
        let link = if m.link.len() > 100 {
            &[][..]
        } else {
            m.link.as_bytes()
        };
        let h = Header {
            prefix,
            name: short,
            mode: m.mode & 0o7777,
            uid: fit(u64::from(m.uid), MAX_OCTAL_7),
            gid: fit(u64::from(m.gid), MAX_OCTAL_7),
            size: fit(size, MAX_OCTAL_11),
            mtime: m.mtime.min(MAX_OCTAL_11),
            typeflag: match m.typ {
                TarType::File => b'0',
                TarType::Dir => b'5',
                TarType::Symlink => b'2',
            },
            link,
        };
        let mut block = h.encode();
        // uname/gname: "root" for id 0, empty otherwise.
        if m.uid == 0 {
            block[265..269].copy_from_slice(b"root");
        }
        if m.gid == 0 {
            block[297..301].copy_from_slice(b"root");
        }
        set_checksum(&mut block);
        self.out.extend_from_slice(&block);
        self.push_data(data);
    }

    fn push_data(&mut self, data: &[u8]) {
        self.out.extend_from_slice(data);
        let pad = (BLOCK - data.len() % BLOCK) % BLOCK;
        self.out.resize(self.out.len() + pad, 0);
    }

    /// Append the two zero end-of-archive blocks and return the bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.out.resize(self.out.len() + 2 * BLOCK, 0);
        self.out
    }
}

struct Header<'a> {
    prefix: &'a [u8],
    name: &'a [u8],
    mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    mtime: u64,
    typeflag: u8,
    link: &'a [u8],
}

impl Header<'_> {
    fn encode(&self) -> [u8; BLOCK] {
        let mut b = [0u8; BLOCK];
        b[..self.name.len()].copy_from_slice(self.name);
        octal(&mut b[100..108], u64::from(self.mode));
        octal(&mut b[108..116], self.uid);
        octal(&mut b[116..124], self.gid);
        octal(&mut b[124..136], self.size);
        octal(&mut b[136..148], self.mtime);
        b[156] = self.typeflag;
        b[157..157 + self.link.len()].copy_from_slice(self.link);
        b[257..263].copy_from_slice(b"ustar\0");
        b[263..265].copy_from_slice(b"00");
        octal(&mut b[329..337], 0);
        octal(&mut b[337..345], 0);
        b[345..345 + self.prefix.len()].copy_from_slice(self.prefix);
        set_checksum(&mut b);
        b
    }
}

/// Values that do not fit are carried by a PAX record; the ustar field gets 0.
fn fit(v: u64, max: u64) -> u64 {
    if v > max {
        0
    } else {
        v
    }
}

fn octal(field: &mut [u8], v: u64) {
    let s = format!("{:0width$o}", v, width = field.len() - 1);
    field[..s.len()].copy_from_slice(s.as_bytes());
    field[s.len()] = 0;
}

fn set_checksum(b: &mut [u8; BLOCK]) {
    b[148..156].fill(b' ');
    let sum: u32 = b.iter().map(|&x| u32::from(x)).sum();
    let s = format!("{sum:06o}\0 ");
    b[148..156].copy_from_slice(s.as_bytes());
}

/// Split a member name into ustar (prefix, name); `None` if it needs a PAX path.
fn split_name(name: &[u8]) -> Option<(&[u8], &[u8])> {
    if name.len() <= 100 {
        return Some((b"", name));
    }
    // Directory names end with '/', which must stay in the name part.
    let search = &name[..name.len() - 1];
    (0..search.len())
        .filter(|&i| search[i] == b'/' && i <= 155 && name.len() - i - 1 <= 100)
        .map(|i| (&name[..i], &name[i + 1..]))
        .next()
}

fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let base = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = base + 1;
    while len != base + len.to_string().len() {
        len = base + len.to_string().len();
    }
    format!("{len} {key}={value}\n").into_bytes()
}

/// Validate and normalise a layer path (a single trailing '/' is tolerated).
fn clean_path(p: &str) -> Result<String, OciError> {
    let bad = |reason| OciError::InvalidPath {
        path: p.to_string(),
        reason,
    };
    if p.starts_with('/') {
        return Err(bad("absolute paths are not allowed"));
    }
    if p.contains('\0') {
        return Err(bad("NUL byte in path"));
    }
    let trimmed = p.strip_suffix('/').unwrap_or(p);
    if trimmed.is_empty() {
        return Err(bad("empty path"));
    }
    for c in trimmed.split('/') {
        match c {
            "" => return Err(bad("empty path component")),
            "." => return Err(bad("'.' component")),
            ".." => return Err(bad("'..' component")),
            _ => {}
        }
    }
    Ok(trimmed.to_string())
}

/// See [`crate::layer_tar`].
pub(crate) fn layer_tar(entries: &[LayerEntry], mtime: u64) -> Result<Vec<u8>, OciError> {
    let mut map: BTreeMap<Vec<u8>, (String, &LayerEntry)> = BTreeMap::new();
    for e in entries {
        let p = clean_path(&e.path)?;
        if let Kind::Symlink(t) = &e.kind {
            if t.is_empty() || t.contains('\0') {
                return Err(OciError::InvalidPath {
                    path: e.path.clone(),
                    reason: "symlink target empty or contains NUL",
                });
            }
        }
        if map.insert(p.clone().into_bytes(), (p.clone(), e)).is_some() {
            return Err(OciError::Duplicate(p));
        }
    }
    // Implicit parents, and make sure explicit parents are directories.
    let implicit = LayerEntry {
        path: String::new(),
        kind: Kind::Dir,
        mode: 0o755,
        uid: 0,
        gid: 0,
    };
    let mut parents: Vec<String> = Vec::new();
    for (p, _) in map.values() {
        let mut i = 0;
        while let Some(off) = p[i..].find('/') {
            let parent = &p[..i + off];
            match map.get(parent.as_bytes()) {
                Some((_, e)) if !matches!(e.kind, Kind::Dir) => {
                    return Err(OciError::NotADirectory {
                        path: p.clone(),
                        parent: parent.to_string(),
                    })
                }
                Some(_) => {}
                None => parents.push(parent.to_string()),
            }
            i += off + 1;
        }
    }
    for p in parents {
        map.entry(p.clone().into_bytes()).or_insert((p, &implicit));
    }
    let mut w = TarWriter::default();
    for (p, e) in map.values() {
        let (typ, data, link): (TarType, &[u8], &str) = match &e.kind {
            Kind::File(d) => (TarType::File, d, ""),
            Kind::Dir => (TarType::Dir, &[], ""),
            Kind::Symlink(t) => (TarType::Symlink, &[], t),
        };
        let m = Member {
            path: p,
            typ,
            mode: e.mode,
            uid: e.uid,
            gid: e.gid,
            mtime,
            link,
        };
        w.append(&m, data);
    }
    Ok(w.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_is_self_consistent() {
        for n in [0usize, 1, 5, 90, 95, 96, 97, 98, 990, 995, 996, 1000] {
            let r = pax_record("path", &"a".repeat(n));
            let s = String::from_utf8(r.clone()).unwrap();
            let len: usize = s.split(' ').next().unwrap().parse().unwrap();
            assert_eq!(len, r.len(), "value length {n}");
        }
    }

    #[test]
    fn split_name_limits() {
        assert!(split_name(&[b'a'; 100]).is_some());
        assert!(split_name(&[b'a'; 101]).is_none());
        let long = format!("{}/{}", "d".repeat(150), "f".repeat(99));
        let (pre, name) = split_name(long.as_bytes()).unwrap();
        assert_eq!(pre.len(), 150);
        assert_eq!(name.len(), 99);
    }
}
