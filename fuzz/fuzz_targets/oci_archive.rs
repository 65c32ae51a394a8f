#![no_main]
// An image archive handed to `kimigayo image verify`: reading the oci-archive tar, index.json
// and the manifest blob and recomputing its digest gives a digest or a clean error, never a
// panic, never unbounded memory. The bytes are the archive file as is, and again with every
// tar header checksum recomputed so mutations reach past the header check.
use std::path::PathBuf;
use std::sync::OnceLock;

fn archive_path() -> &'static PathBuf {
    static PATH: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &PATH
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("temp dir");
            let p = dir.path().join("fuzz.oci.tar");
            (dir, p)
        })
        .1
}

/// Walks the 512-byte blocks as tar does (header, then its data blocks) and rewrites each
/// header's checksum field.
fn fix_checksums(data: &mut [u8]) {
    let mut off = 0;
    while off + 512 <= data.len() {
        let h = &mut data[off..off + 512];
        if h.iter().all(|&b| b == 0) {
            off += 512;
            continue;
        }
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        let size = std::str::from_utf8(&h[124..136])
            .ok()
            .and_then(|s| u64::from_str_radix(s.trim_matches(|c: char| c == ' ' || c == '\0'), 8).ok())
            .unwrap_or(0);
        off = match (off as u64).checked_add(512 + size.div_ceil(512) * 512) {
            Some(n) if n <= data.len() as u64 => n as usize,
            _ => break,
        };
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let path = archive_path();
    std::fs::write(path, data).expect("writing the archive");
    let _ = kimigayo_image::signature::manifest_digest(path);
    let mut fixed = data.to_vec();
    fix_checksums(&mut fixed);
    if fixed != data {
        std::fs::write(path, &fixed).expect("writing the archive");
        let _ = kimigayo_image::signature::manifest_digest(path);
    }
});
