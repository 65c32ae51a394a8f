//! Inputs the fuzz targets found (fuzz/, `make fuzz`), kept so they never come back: each
//! must parse quickly and within bounded memory.

#[test]
fn fuzz_found_inputs_parse_within_bounds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
        let vars = kimigayo_rc::parse_shell_vars(&text);
        let total: usize = vars.values().map(String::len).sum();
        assert!(total <= vars.len() * kimigayo_rc::MAX_VALUE, "{}: {total} bytes of values", p.display());
        n += 1;
    }
    assert!(n > 0);
}
