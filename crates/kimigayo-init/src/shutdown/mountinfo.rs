//! /proc/self/mountinfo parsing and the unmount order (pure, fuzzed by the parser proptest).

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub id: u32,
    pub parent: u32,
    pub mount_point: String,
    /// Per-mount options (rw/ro, nosuid, nodev, noexec, ...).
    pub options: Vec<String>,
    pub fstype: String,
    pub source: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("/proc/self/mountinfo line {line}: {what}; the kernel wrote something this parser does not understand")]
pub struct MountinfoError {
    pub line: usize,
    pub what: &'static str,
}

/// Undoes the kernel's octal escapes (`\040` for space, `\011`, `\012`, `\134`).
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v = (b[i + 1] - b'0') as u32 * 64 + (b[i + 2] - b'0') as u32 * 8 + (b[i + 3] - b'0') as u32;
            if v <= 255 {
                out.push(v as u8);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn parse(text: &str) -> Result<Vec<Mount>, MountinfoError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let err = |what| MountinfoError { line: n + 1, what };
        let fields: Vec<&str> = line.split(' ').collect();
        let sep = fields.iter().position(|f| *f == "-").ok_or(err("no ` - ' separator"))?;
        if sep < 6 || fields.len() < sep + 3 {
            return Err(err("too few fields"));
        }
        out.push(Mount {
            id: fields[0].parse().map_err(|_| err("mount id is not a number"))?,
            parent: fields[1].parse().map_err(|_| err("parent id is not a number"))?,
            mount_point: unescape(fields[4]),
            options: fields[5].split(',').map(str::to_string).collect(),
            fstype: fields[sep + 1].to_string(),
            source: unescape(fields[sep + 2]),
        });
    }
    Ok(out)
}

/// Mount points shutdown leaves alone: `/` always (remounted read-only instead), and the
/// kernel's API filesystems /proc, /sys and /dev with everything beneath them.
pub fn is_kept(mount_point: &str) -> bool {
    if mount_point == "/" {
        return true;
    }
    ["/proc", "/sys", "/dev"].iter().any(|k| mount_point == *k || mount_point.starts_with(&format!("{k}/")))
}

/// What to unmount, in order: the reverse of mountinfo (children were mounted after their
/// parents), minus the kept ones.
pub fn unmount_order(mounts: &[Mount]) -> Vec<Mount> {
    mounts.iter().rev().filter(|m| !is_kept(&m.mount_point)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:5 - proc proc rw\n\
        1 0 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
        40 1 0:40 / /tmp/with\\040space rw,nosuid - tmpfs none rw,size=1024k\n\
        41 40 0:41 / /tmp/with\\040space/inner rw - tmpfs none rw\n\
        42 22 0:42 / /proc/sys/fs/binfmt_misc rw - binfmt_misc x rw\n";

    #[test]
    fn parses_and_orders() {
        let m = parse(SAMPLE).unwrap();
        assert_eq!(m.len(), 5);
        assert_eq!(m[2].mount_point, "/tmp/with space");
        assert_eq!(m[2].fstype, "tmpfs");
        assert!(m[2].options.contains(&"nosuid".to_string()));
        let order: Vec<_> = unmount_order(&m).into_iter().map(|m| m.mount_point).collect();
        assert_eq!(order, vec!["/tmp/with space/inner", "/tmp/with space"]);
    }

    #[test]
    fn rejects_garbage_by_line() {
        assert_eq!(parse("1 2 3").unwrap_err().line, 1);
        assert!(parse("x 1 0:1 / / rw - ext4 a rw").is_err());
        assert_eq!(unescape("a\\134b\\0"), "a\\b\\0");
    }
}
