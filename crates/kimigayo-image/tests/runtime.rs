//! Runtime properties inside real containers (podman): memory use (property 2) and
//! ASLR + DEP enforcement (property 5), for random image configurations.

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use common::*;
use proptest::prelude::*;

fn config() -> impl Strategy<Value = Vec<&'static str>> {
    prop::sample::subsequence(vec!["baselayout", "musl", "kimigayo-tools"], 0..=3)
}

fn image(extra: &[&str], name: &str) -> (tempfile::TempDir, Loaded) {
    let r = repo();
    let mut pkgs = vec!["busybox"];
    pkgs.extend(extra.iter().copied());
    let out = tempfile::tempdir().unwrap();
    let rep = kimigayo_image::build(&spec(&pkgs, name), &r.path, &r.keys, r.epoch, out.path()).unwrap_or_else(|e| panic!("{e}"));
    let l = load(&rep.oci_archive, name);
    (out, l)
}

/// A static-pie probe built with the Kimigayo toolchain: prints the address of main, then
/// (with argument `exec`) executes a writable, non-executable page.
fn probe() -> &'static PathBuf {
    static P: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &P.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("probe.c");
        std::fs::write(
            &src,
            "#include <stdio.h>\n#include <string.h>\n#include <sys/mman.h>\n\
             int main(int argc, char **argv) {\n  printf(\"main=%p\\n\", (void *)main); fflush(stdout);\n\
               if (argc > 1 && strcmp(argv[1], \"exec\") == 0) {\n\
                 unsigned char *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);\n\
                 if (p == MAP_FAILED) return 2;\n    p[0] = 0xc3;\n    ((void (*)(void))p)();\n    puts(\"EXECUTED-WRITABLE-PAGE\");\n  }\n  return 0;\n}\n",
        )
        .unwrap();
        let cfg = kimigayo_build::default_config(&root()).unwrap();
        let mut b = kimigayo_build::Builder::new(cfg, &kimigayo_build::Quiet).unwrap();
        b.build(&["musl".into()]).unwrap();
        let cc = kimigayo_build::toolchain::driver(&b.ensure_toolchain().unwrap(), "x86_64");
        let out = dir.path().join("probe");
        let f = kimigayo_hardening::flags(kimigayo_hardening::Level::Full);
        assert!(std::process::Command::new(cc).arg("-O2").args(f.all(kimigayo_hardening::Linkage::Static)).arg(&src).arg("-o").arg(&out).status().unwrap().success());
        (dir, out)
    })
    .1
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, failure_persistence: None, ..ProptestConfig::default() })]

    // **Feature: kimigayo-os-core, Property 2: 任意のシステム設定に対して、通常動作時のRAM消費量は128MB未満でなければならない**
    #[test]
    fn any_configuration_runs_in_under_128_mb(extra in config(), work in 0usize..4) {
        let (_out, img) = image(&extra, "kimigayo-p2");
        // Normal operation: the shell runs a few utilities, then every process in the
        // container's PID namespace reports its resident memory.
        let workload = ["true", "ls -R /etc >/dev/null", "find / -xdev -type f 2>/dev/null | wc -l >/dev/null", "tar cf - /etc 2>/dev/null | gzip | wc -c >/dev/null"][work];
        let script = format!("{workload}; sleep 0.2 & total=0; for s in /proc/[0-9]*/status; do r=$(grep VmRSS $s | tr -dc 0-9); total=$((total + ${{r:-0}})); done; echo $total");
        let out = ok(podman(&["run", "--rm", &img.0, "/bin/sh", "-c", &script]));
        let kb: u64 = out.trim().parse().unwrap_or_else(|_| panic!("unexpected output {out:?}"));
        prop_assert!(kb > 0 && kb < 128 * 1024, "{} KiB resident", kb);
    }

    // **Feature: kimigayo-os-core, Property 5: 任意のシステム起動に対して、ASLRとDEPがランタイムで強制されなければならない**
    #[test]
    fn aslr_and_dep_are_enforced_at_runtime(extra in config()) {
        let (_out, img) = image(&extra, "kimigayo-p5");
        let mount = format!("{}:/probe:ro", probe().display());
        let va = ok(podman(&["run", "--rm", &img.0, "cat", "/proc/sys/kernel/randomize_va_space"]));
        prop_assert_eq!(va.trim(), "2");
        // ASLR: the PIE probe's main and busybox's own mapping move between runs.
        let a = ok(podman(&["run", "--rm", "-v", &mount, &img.0, "/bin/sh", "-c", "/probe; /probe; head -1 /proc/self/maps; head -1 /proc/self/maps"]));
        let lines: Vec<&str> = a.lines().collect();
        prop_assert_eq!(lines.len(), 4, "{}", a);
        prop_assert_ne!(lines[0], lines[1], "PIE load address did not change");
        prop_assert_ne!(lines[2], lines[3], "busybox mapping did not move");
        // DEP: executing a writable page faults (SIGSEGV → 139).
        let nx = podman(&["run", "--rm", "-v", &mount, &img.0, "/probe", "exec"]);
        prop_assert_eq!(nx.status.code(), Some(139), "{}{}", String::from_utf8_lossy(&nx.stdout), String::from_utf8_lossy(&nx.stderr));
        prop_assert!(!String::from_utf8_lossy(&nx.stdout).contains("EXECUTED-WRITABLE-PAGE"));
    }
}
