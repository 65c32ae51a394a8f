//! Byte-level comparison of two package archives, for `kimigayo verify` (property 22):
//! on a mismatch it names the first differing file inside the package and the byte offset.

use std::collections::BTreeMap;
use std::io::Read;

use flate2::read::GzDecoder;

/// The first difference between two archives, or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// A path exists in only one archive.
    OnlyIn { path: String, side: &'static str },
    /// Same path, different type, mode or link target.
    Header { path: String, field: &'static str, expected: String, actual: String },
    /// Same path, contents differ from `offset` on (sizes given). For ELF files, `elf` says
    /// where: the part holding the first difference and each section that differs.
    Content { path: String, offset: u64, expected_size: u64, actual_size: u64, elf: Option<String> },
    /// Identical contents but different compressed bytes (a compressor change).
    Compressed { offset: u64 },
    /// One side is not a readable archive.
    Unreadable { side: &'static str, error: String },
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Difference::OnlyIn { path, side } => write!(f, "{path}: present only in the {side} build"),
            Difference::Header { path, field, expected, actual } => {
                write!(f, "{path}: {field} differs (expected {expected}, got {actual})")
            }
            Difference::Content { path, offset, expected_size, actual_size, elf } => {
                write!(f, "{path}: contents differ at byte offset {offset} (sizes {expected_size} and {actual_size})")?;
                match elf {
                    Some(e) => write!(f, " [ELF: {e}]"),
                    None => Ok(()),
                }
            }
            Difference::Compressed { offset } => {
                write!(f, "same files, but the compressed archives differ at byte {offset}: the compressor changed")
            }
            Difference::Unreadable { side, error } => write!(f, "the {side} archive cannot be read: {error}"),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Entry {
    kind: u8,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    link: Option<String>,
    data: Vec<u8>,
}

fn entries(gz: &[u8]) -> Result<BTreeMap<String, Entry>, String> {
    let mut out = BTreeMap::new();
    let mut ar = tar::Archive::new(GzDecoder::new(gz));
    for e in ar.entries().map_err(|e| e.to_string())? {
        let mut e = e.map_err(|e| e.to_string())?;
        let h = e.header().clone();
        let path = e.path().map_err(|e| e.to_string())?.to_string_lossy().trim_end_matches('/').to_string();
        let link = e.link_name().map_err(|e| e.to_string())?.map(|l| l.to_string_lossy().into_owned());
        let mut data = Vec::new();
        e.read_to_end(&mut data).map_err(|e| e.to_string())?;
        out.insert(
            path,
            Entry {
                kind: h.entry_type().as_byte(),
                mode: h.mode().unwrap_or(0),
                uid: h.uid().unwrap_or(0),
                gid: h.gid().unwrap_or(0),
                mtime: h.mtime().unwrap_or(0),
                link,
                data,
            },
        );
    }
    Ok(out)
}

/// Compare `expected` (the recorded build) with `actual` (the rebuild). `None` = bit-identical.
pub fn compare_archives(expected: &[u8], actual: &[u8]) -> Option<Difference> {
    if expected == actual {
        return None;
    }
    let a = match entries(expected) {
        Ok(a) => a,
        Err(error) => return Some(Difference::Unreadable { side: "recorded", error }),
    };
    let b = match entries(actual) {
        Ok(b) => b,
        Err(error) => return Some(Difference::Unreadable { side: "rebuilt", error }),
    };
    let mut paths: Vec<&String> = a.keys().chain(b.keys()).collect();
    paths.sort();
    paths.dedup();
    for p in paths {
        match (a.get(p), b.get(p)) {
            (Some(_), None) => return Some(Difference::OnlyIn { path: p.clone(), side: "recorded" }),
            (None, Some(_)) => return Some(Difference::OnlyIn { path: p.clone(), side: "rebuilt" }),
            (Some(x), Some(y)) if x != y => {
                let hdr = |field, e: String, a: String| Some(Difference::Header { path: p.clone(), field, expected: e, actual: a });
                if x.kind != y.kind {
                    return hdr("type", (x.kind as char).to_string(), (y.kind as char).to_string());
                }
                if x.mode != y.mode {
                    return hdr("mode", format!("{:o}", x.mode), format!("{:o}", y.mode));
                }
                if (x.uid, x.gid) != (y.uid, y.gid) {
                    return hdr("owner", format!("{}:{}", x.uid, x.gid), format!("{}:{}", y.uid, y.gid));
                }
                if x.mtime != y.mtime {
                    return hdr("mtime", x.mtime.to_string(), y.mtime.to_string());
                }
                if x.link != y.link {
                    return hdr("link target", format!("{:?}", x.link), format!("{:?}", y.link));
                }
                let offset = x.data.iter().zip(&y.data).position(|(m, n)| m != n).unwrap_or(x.data.len().min(y.data.len()));
                return Some(Difference::Content {
                    path: p.clone(),
                    offset: offset as u64,
                    expected_size: x.data.len() as u64,
                    actual_size: y.data.len() as u64,
                    elf: elf_detail(&x.data, &y.data, offset as u64),
                });
            }
            _ => {}
        }
    }
    let offset = expected.iter().zip(actual).position(|(m, n)| m != n).unwrap_or(expected.len().min(actual.len()));
    Some(Difference::Compressed { offset: offset as u64 })
}

/// Where two ELF files differ: the part of the file holding `offset` (in the recorded one)
/// and every section whose size or bytes differ — what to look at before reaching for
/// diffoscope. `None` when either side is not ELF.
fn elf_detail(a: &[u8], b: &[u8], offset: u64) -> Option<String> {
    let (ea, eb) = (goblin::elf::Elf::parse(a).ok()?, goblin::elf::Elf::parse(b).ok()?);
    let sections = |e: &goblin::elf::Elf, data: &[u8]| -> BTreeMap<String, (u64, u64, Vec<u8>)> {
        e.section_headers
            .iter()
            .filter_map(|h| {
                let name = e.shdr_strtab.get_at(h.sh_name)?.to_string();
                let bytes = if h.sh_type == goblin::elf::section_header::SHT_NOBITS { &[][..] } else { data.get(h.file_range()?)? };
                Some((name, (h.sh_offset, h.sh_size, bytes.to_vec())))
            })
            .collect()
    };
    let (sa, sb) = (sections(&ea, a), sections(&eb, b));
    let phdrs = ea.header.e_phoff..ea.header.e_phoff + u64::from(ea.header.e_phnum) * u64::from(ea.header.e_phentsize);
    let at = if offset < u64::from(ea.header.e_ehsize) {
        "the ELF header".to_string()
    } else if phdrs.contains(&offset) {
        format!("the program headers ({} and {} entries)", ea.header.e_phnum, eb.header.e_phnum)
    } else {
        sa.iter().find(|(_, (o, n, d))| !d.is_empty() && (*o..o + n).contains(&offset)).map(|(s, _)| format!("section {s}")).unwrap_or_else(|| "no section (padding or headers)".into())
    };
    let mut differ = Vec::new();
    for (name, (_, na, da)) in &sa {
        match sb.get(name) {
            None => differ.push(format!("{name} only in the recorded build")),
            Some((_, nb, _)) if nb != na => differ.push(format!("{name} {na:#x}→{nb:#x} bytes")),
            Some((_, _, db)) if db != da => differ.push(format!("{name} same size, other bytes")),
            _ => {}
        }
    }
    differ.extend(sb.keys().filter(|n| !sa.contains_key(*n)).map(|n| format!("{n} only in the rebuild")));
    Some(format!("first difference in {at}; sections that differ: {}", if differ.is_empty() { "none".to_string() } else { differ.join(", ") }))
}

#[cfg(test)]
mod elf_tests {
    use super::*;

    #[test]
    fn elf_differences_name_the_section() {
        // A real ELF from the host: /bin/true (any ELF will do; skip where absent).
        let Ok(a) = std::fs::read("/bin/true") else { return };
        let e = goblin::elf::Elf::parse(&a).unwrap();
        let text = e.section_headers.iter().find(|h| e.shdr_strtab.get_at(h.sh_name) == Some(".text")).unwrap();
        let mut b = a.clone();
        let at = text.sh_offset as usize + 16;
        b[at] ^= 0xff;
        let d = elf_detail(&a, &b, at as u64).unwrap();
        assert_eq!(d, "first difference in section .text; sections that differ: .text same size, other bytes");
        assert!(elf_detail(b"not elf", b"not elf either", 0).is_none());
    }
}
