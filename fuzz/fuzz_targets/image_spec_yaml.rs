#![no_main]
// Image spec YAML (the design's system.conf + image section).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = kimigayo_image::ImageSpec::parse("images/fuzz.yaml", text);
    }
});
