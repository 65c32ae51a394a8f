#![no_main]
// Repository index JSON as a signed index would carry it: parsing and metadata validation.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(idx) = serde_json::from_slice::<kimigayo_pkg::RepoIndex>(data) {
        for m in &idx.packages {
            let _ = m.validate();
        }
    }
    if let Ok(m) = serde_json::from_slice::<kimigayo_package::PackageMeta>(data) {
        let _ = m.validate();
    }
});
