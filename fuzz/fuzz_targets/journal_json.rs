#![no_main]
// A planted or torn transaction journal (state/journal.json) read the way recovery reads it:
// parse, path validation and this root's layout check, never acted on; a clean error or a
// journal recovery may act on, never a panic.
use std::sync::OnceLock;

struct Root {
    _dir: tempfile::TempDir,
    paths: kimigayo_txn::Paths,
    journal: std::path::PathBuf,
}

fn root() -> &'static Root {
    static ROOT: OnceLock<Root> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let rel = |s: &str| kimigayo_txn::RelPath::new(s).expect("valid");
        // kpkg's own layout (kimigayo_pkg::db::STATE_DIR / DB_FILE).
        let paths = kimigayo_txn::Paths { root: dir.path().to_path_buf(), state: rel("var/lib/kpkg"), database: rel("var/lib/kpkg/installed.json") };
        let journal = dir.path().join("var/lib/kpkg/journal.json");
        std::fs::create_dir_all(journal.parent().unwrap()).expect("state dir");
        Root { _dir: dir, paths, journal }
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let r = root();
    std::fs::write(&r.journal, data).expect("writing the journal");
    let _ = kimigayo_txn::pending_journal(&r.paths);
});
