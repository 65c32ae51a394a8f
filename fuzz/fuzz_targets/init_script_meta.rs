#![no_main]
// An /etc/init.d script's metadata, read as OpenRC's gendepends does it: the script is sourced
// in a shell and its depend() records come back on fd 3. Whatever the script is, prints, forges
// or breaks, extract() reports a result or a failure for every requested service and never
// panics. The fuzzed text really runs, so the shell runs inside bubblewrap (read-only /, no
// network, its own PID namespace, no capabilities) with CPU, memory and file-size limits.
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use kimigayo_rc::extract::{extract, LoadOptions};
use kimigayo_rc::RcRoot;

struct Env {
    _dir: tempfile::TempDir,
    root: RcRoot,
    script: PathBuf,
    opts: LoadOptions,
    services: Vec<String>,
}

fn find_bwrap() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("bwrap")).find(|p| p.is_file())
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let Some(bwrap) = find_bwrap() else {
            eprintln!("init_script_meta: bubblewrap (bwrap) is needed to run the fuzzed shell scripts in a sandbox; install it (apt-get install bubblewrap)");
            std::process::exit(2);
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let root = RcRoot::new(dir.path().join("root"));
        std::fs::create_dir_all(root.init_d()).expect("init.d");
        // A well-behaved script after the fuzzed one, in the same batch.
        std::fs::write(root.script("zz-next"), "depend() { need net; }\ndescription=next\n").expect("script");
        let shell = dir.path().join("sandboxed-sh");
        std::fs::write(
            &shell,
            format!(
                "#!/bin/sh\nulimit -t 10; ulimit -v 1048576; ulimit -f 65536\n\
                 exec {} --ro-bind / / --dev /dev --proc /proc --unshare-all --die-with-parent /bin/sh \"$@\"\n",
                bwrap.display()
            ),
        )
        .expect("wrapper");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&shell, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let mut opts = LoadOptions::new(&shell);
        opts.timeout = Duration::from_secs(2);
        Env { script: root.script("fuzz"), root, _dir: dir, opts, services: vec!["fuzz".into(), "zz-next".into()] }
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let e = env();
    std::fs::write(&e.script, data).expect("writing the script");
    if let Ok(out) = extract(&e.root, &e.services, &e.opts) {
        assert_eq!(out.results.len(), e.services.len(), "a requested service got no result: {:?}", out.results);
    }
});
