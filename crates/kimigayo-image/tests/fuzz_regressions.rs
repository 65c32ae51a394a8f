//! Inputs the fuzz targets found (fuzz/, `make fuzz`), kept so they never come back: each
//! archive must be refused with a clean error, quickly and within bounded memory.

#[test]
fn fuzz_found_archives_are_refused_within_bounds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let t = std::time::Instant::now();
        let err = kimigayo_image::signature::manifest_digest(&p).unwrap_err().to_string();
        assert!(t.elapsed() < std::time::Duration::from_secs(5), "{}: took {:?}", p.display(), t.elapsed());
        assert!(err.contains("index.json"), "{}: {err}", p.display());
        n += 1;
    }
    assert!(n > 0);
}

/// The same bound for an OCI layout folder: an index.json that never ends (here a link to
/// /dev/zero) is refused after a few MiB instead of being read into memory.
#[test]
fn endless_index_json_in_a_layout_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("index.json")).unwrap();
    let err = kimigayo_image::signature::manifest_digest(dir.path()).unwrap_err().to_string();
    assert!(err.contains("larger than"), "{err}");
}
