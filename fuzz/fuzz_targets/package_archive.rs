#![no_main]
// A package archive after its hash and signature were accepted (a compromised signer): the
// reader refuses what no package may contain, never panics, never reads past the size cap.
use kimigayo_package::{BuildInfo, Checksum, PackageMeta};

fn meta() -> PackageMeta {
    PackageMeta {
        name: "fuzz".into(),
        version: "1.0-r1".into(),
        architecture: "x86_64".into(),
        dependencies: vec![],
        conflicts: vec![],
        provides: vec![],
        size: 0,
        installed_size: 1 << 20,
        license: "MIT".into(),
        description: "fuzz".into(),
        origin: "fuzz".into(),
        filename: "fuzz-1.0-r1.x86_64.tar.gz".into(),
        checksum: Checksum { sha256: String::new(), gpg_signature: None },
        build_info: BuildInfo {
            timestamp: String::new(),
            build_hash: String::new(),
            compiler: String::new(),
            flags: vec![],
            hardening: String::new(),
            linkage: String::new(),
            target: String::new(),
            libc: String::new(),
            recipe_sha256: String::new(),
            sources: vec![],
            patches: vec![],
            build_dependencies: Default::default(),
            host_tools: Default::default(),
        },
        users: vec![],
        groups: vec![],
        paths: vec![],
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Raw bytes as the gzip stream, and the same bytes gzip'd (to reach the tar reader).
    let m = meta();
    let _ = kimigayo_pkg::stage::read_entries(&m, data, &mut |_| Ok(()));
    let mut gz = Vec::new();
    {
        use std::io::Write;
        let mut e = flate2_shim::encoder(&mut gz);
        let _ = e.write_all(data);
    }
    let _ = kimigayo_pkg::stage::read_entries(&m, &gz, &mut |_| Ok(()));
});

mod flate2_shim {
    pub fn encoder<W: std::io::Write>(w: W) -> flate2::write::GzEncoder<W> {
        flate2::write::GzEncoder::new(w, flate2::Compression::fast())
    }
}
