#![no_main]
// conf.d / rc.conf shell variable assignments.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = kimigayo_rc::parse_shell_vars(text);
    }
});
