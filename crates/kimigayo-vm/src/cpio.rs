//! The newc ("070701") cpio format the kernel unpacks as its initramfs. Written by hand: it is
//! a 110-byte ASCII header per entry, and the crates for it either read only or add
//! timestamps/inode numbers from the host; here every field is fixed by the input.

use kimigayo_oci::{Kind, LayerEntry};

fn pad4(out: &mut Vec<u8>) {
    while out.len() & 3 != 0 {
        out.push(0);
    }
}

/// A device node (the kernel needs `/dev/console` before devtmpfs is mounted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub path: String,
    /// Permission bits; the node is a character device.
    pub mode: u32,
    pub major: u32,
    pub minor: u32,
}

#[allow(clippy::too_many_arguments)]
fn header(out: &mut Vec<u8>, ino: u32, mode: u32, uid: u32, gid: u32, nlink: u32, mtime: u32, size: u32, rdev: (u32, u32), name: &str) {
    let fields = [ino, mode, uid, gid, nlink, mtime, size, 0, 0, rdev.0, rdev.1, name.len() as u32 + 1, 0];
    out.extend_from_slice(b"070701");
    for f in fields {
        out.extend_from_slice(format!("{f:08X}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad4(out);
}

/// Serialise `entries` (paths relative, without a leading `/`) in the given order. Inode
/// numbers count up from 1, every mtime is `mtime`: the same entries give the same bytes.
pub fn write(entries: &[LayerEntry], devices: &[Device], mtime: u32) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let (kind, data, nlink): (u32, &[u8], u32) = match &e.kind {
            Kind::Dir => (0o040000, &[], 2),
            Kind::File(b) => (0o100000, b, 1),
            Kind::Symlink(t) => (0o120000, t.as_bytes(), 1),
        };
        header(&mut out, i as u32 + 1, kind | (e.mode & 0o7777), e.uid, e.gid, nlink, mtime, data.len() as u32, (0, 0), e.path.trim_start_matches('/'));
        out.extend_from_slice(data);
        pad4(&mut out);
    }
    for (i, d) in devices.iter().enumerate() {
        header(&mut out, (entries.len() + i) as u32 + 1, 0o020000 | (d.mode & 0o7777), 0, 0, 1, mtime, 0, (d.major, d.minor), d.path.trim_start_matches('/'));
    }
    header(&mut out, 0, 0, 0, 0, 1, 0, 0, (0, 0), "TRAILER!!!");
    out
}

/// Parse a newc archive back into entries (for tests and `kimigayo vm build --list`).
pub fn read(mut b: &[u8]) -> Result<Vec<LayerEntry>, String> {
    let mut out = Vec::new();
    let start = b.len();
    loop {
        if b.len() < 110 || &b[..6] != b"070701" {
            return Err(format!("bad header at offset {}", start - b.len()));
        }
        let field = |i: usize| u32::from_str_radix(std::str::from_utf8(&b[6 + 8 * i..14 + 8 * i]).unwrap_or("x"), 16).map_err(|e| e.to_string());
        let (mode, uid, gid, size, namesize) = (field(1)?, field(2)?, field(3)?, field(6)? as usize, field(11)? as usize);
        let name_end = 110 + namesize;
        let name = String::from_utf8_lossy(&b[110..name_end - 1]).into_owned();
        let data_start = (name_end + 3) & !3;
        if name == "TRAILER!!!" {
            return Ok(out);
        }
        let data = b.get(data_start..data_start + size).ok_or("truncated entry")?.to_vec();
        let kind = match mode & 0o170000 {
            0o040000 => Kind::Dir,
            0o120000 => Kind::Symlink(String::from_utf8_lossy(&data).into_owned()),
            0o020000 => {
                b = &b[(data_start + size + 3) & !3..];
                continue;
            }
            _ => Kind::File(data),
        };
        out.push(LayerEntry { path: name, kind, mode: mode & 0o7777, uid, gid });
        b = &b[(data_start + size + 3) & !3..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry() -> impl Strategy<Value = LayerEntry> {
        ("[a-z]{1,8}(/[a-z]{1,8}){0,2}", prop_oneof![Just(Kind::Dir), proptest::collection::vec(any::<u8>(), 0..300).prop_map(Kind::File), "[a-z/]{1,20}".prop_map(Kind::Symlink)], 0u32..0o7777, 0u32..70000, 0u32..70000)
            .prop_map(|(path, kind, mode, uid, gid)| LayerEntry { path, kind, mode, uid, gid })
    }

    proptest! {
        #[test]
        fn round_trips_and_is_deterministic(entries in proptest::collection::vec(entry(), 0..20)) {
            let a = write(&entries, &[], 1_700_000_000);
            prop_assert_eq!(a.len() % 4, 0);
            prop_assert_eq!(&a, &write(&entries, &[], 1_700_000_000));
            prop_assert_eq!(read(&a).unwrap(), entries);
        }
    }

    #[test]
    fn cpio_tool_reads_it() {
        let entries = vec![
            LayerEntry { path: "etc".into(), kind: Kind::Dir, mode: 0o755, uid: 0, gid: 0 },
            LayerEntry { path: "etc/hostname".into(), kind: Kind::File(b"kimigayo\n".to_vec()), mode: 0o644, uid: 0, gid: 0 },
            LayerEntry { path: "init".into(), kind: Kind::Symlink("/sbin/init".into()), mode: 0o777, uid: 0, gid: 0 },
        ];
        let bytes = write(&entries, &[Device { path: "dev/console".into(), mode: 0o600, major: 5, minor: 1 }], 0);
        let Ok(mut child) = std::process::Command::new("cpio").args(["-it", "--quiet"]).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn() else {
            eprintln!("cpio not installed; skipped");
            return;
        };
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&bytes).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "etc\netc/hostname\ninit\ndev/console\n");
    }
}
