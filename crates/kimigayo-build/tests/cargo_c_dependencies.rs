//! A cargo recipe whose Rust dependency compiles C (through the `cc` crate, as `ring` does)
//! builds on a machine with no host musl compiler: the C is compiled by the project's own
//! musl toolchain (the probe refuses glibc headers and any compiler without the Kimigayo
//! fortify headers), the cargo recipe is ordered after musl, and the result audits as musl.

mod common;

use std::process::Command;

use common::{config, copy_dir, root};
use kimigayo_build::{Builder, Quiet};

#[test]
fn rust_dependency_c_code_compiles_with_the_project_musl_toolchain() {
    let dir = tempfile::tempdir().unwrap();
    let recipes = dir.path().join("recipes");
    copy_dir(&root().join("recipes/musl"), &recipes.join("musl"));
    let probe = recipes.join("cc-probe");
    copy_dir(
        &root().join("crates/kimigayo-build/tests/fixtures/cc-probe"),
        &probe.join("files/ws"),
    );
    std::fs::write(
        probe.join("recipe.toml"),
        "[package]\nname = \"cc-probe\"\nversion = \"0.1.0\"\nlicense = \"MIT\"\ndescription = \"Rust program with a C dependency\"\n\n\
         [[source]]\nname = \"workspace\"\npath = \"files/ws\"\n\n\
         [build]\ntoolchain = \"cargo\"\nlinkage = \"static\"\ncargo_packages = [\"cc-probe\"]\nbins = [\"cc-probe\"]\n",
    )
    .unwrap();
    let repo = dir.path().join("repo");
    let mut cfg = config(&repo);
    cfg.recipes_dir = recipes;
    cfg.force_rebuild = vec!["cc-probe".into()];
    // The planner puts musl (the toolchain) first without the recipe asking for it.
    let mut b = Builder::new(cfg, &Quiet).unwrap();
    let out = b
        .build(&["cc-probe".to_string()])
        .unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = out.iter().map(|o| o.recipe.as_str()).collect();
    assert_eq!(names, ["musl", "cc-probe"]);

    let o = &out[1];
    let meta = &o.packages[0];
    assert!(
        meta.build_info.compiler.contains("musl sysroot"),
        "compiler record: {}",
        meta.build_info.compiler
    );
    let bin_report = o
        .audit
        .iter()
        .find(|r| r.path.ends_with("usr/bin/cc-probe"))
        .expect("audited");
    assert_eq!(
        bin_report.libc,
        kimigayo_audit::Libc::Musl,
        "{:?}",
        bin_report.libc_evidence
    );

    let x = dir.path().join("x");
    std::fs::create_dir_all(&x).unwrap();
    let st = Command::new("tar")
        .arg("-xzf")
        .arg(repo.join("x86_64").join(&meta.filename))
        .arg("-C")
        .arg(&x)
        .status()
        .unwrap();
    assert!(st.success());
    let bin = x.join("usr/bin/cc-probe");
    let bytes = std::fs::read(&bin).unwrap();
    assert!(
        !bytes.windows(6).any(|w| w == b"GLIBC_"),
        "glibc symbol versions in {}",
        bin.display()
    );
    let run = Command::new(&bin).output().unwrap();
    assert!(run.status.success());
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        "fortify=2 len=12 text=hello from C\n",
        "C compiled at the configured hardening level (full: fortify 2)"
    );
}
