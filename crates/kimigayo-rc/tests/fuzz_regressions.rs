//! Inputs the fuzz targets found (fuzz/, `make fuzz`), kept so they never come back. Each file
//! in tests/fuzz-regressions is named after its target: `confd_vars-*` must parse quickly and
//! within bounded memory, `init_script_meta-*` must load (or be reported) without a panic.

fn inputs(target: &str) -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let prefix = format!("{target}-");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix)))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no {target} inputs");
    v
}

#[test]
fn fuzz_found_inputs_parse_within_bounds() {
    for p in inputs("confd_vars") {
        let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
        let vars = kimigayo_rc::parse_shell_vars(&text);
        let total: usize = vars.values().map(String::len).sum();
        assert!(total <= vars.len() * kimigayo_rc::MAX_VALUE, "{}: {total} bytes of values", p.display());
    }
}

/// Init scripts that print their own records on fd 3 (a length of 2^64-1 once wrapped the
/// value's end to before its start: a panic in the loader PID 1 uses).
#[test]
fn fuzz_found_init_scripts_load_without_panicking() {
    for p in inputs("init_script_meta") {
        let t = tempfile::tempdir().unwrap();
        let root = kimigayo_rc::RcRoot::new(t.path());
        std::fs::create_dir_all(root.init_d()).unwrap();
        std::fs::copy(&p, root.script("fuzz")).unwrap();
        std::fs::write(root.script("next"), "depend() { need net; }\n").unwrap();
        let services = vec!["fuzz".to_string(), "next".to_string()];
        let out = kimigayo_rc::extract::extract(&root, &services, &kimigayo_rc::LoadOptions::new("/bin/sh")).unwrap();
        assert_eq!(out.results.len(), 2, "{}: {:?}", p.display(), out.results);
        let next = out.results["next"].as_ref().unwrap();
        assert_eq!(next.need, vec!["net".to_string()], "{}", p.display());
    }
}

/// A script that writes endlessly to the loader's record channel (fd 3) or to stderr: once
/// the loader kept all of it (disk, then PID 1's memory) until the 5 s timeout. Now the shell
/// stops at the output cap and the other scripts of the batch are still read.
#[test]
fn endless_output_from_a_script_is_bounded() {
    for target in ["3", "2"] {
        let t = tempfile::tempdir().unwrap();
        let root = kimigayo_rc::RcRoot::new(t.path());
        std::fs::create_dir_all(root.init_d()).unwrap();
        std::fs::write(root.script("flood"), format!("while :; do echo xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx >&{target}; done\n")).unwrap();
        std::fs::write(root.script("next"), "depend() { need net; }\n").unwrap();
        let services = vec!["flood".to_string(), "next".to_string()];
        let t0 = std::time::Instant::now();
        let out = kimigayo_rc::extract::extract(&root, &services, &kimigayo_rc::LoadOptions::new("/bin/sh")).unwrap();
        assert_eq!(out.results.len(), 2, "fd {target}: {:?}", out.results.keys().collect::<Vec<_>>());
        eprintln!("fd {target}: {:?}", t0.elapsed());
    }
}
