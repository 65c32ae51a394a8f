//! Bad input gets a clear error naming the component, file, field or step and the fix,
//! and nothing half-written reaches the cache or the repository.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use kimigayo_build::{Builder, Quiet};

fn scratch_recipe(name: &str, body: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().join("recipes").join(name);
    fs::create_dir_all(r.join("files")).unwrap();
    fs::write(r.join("files/hello.c"), "#include <stdio.h>\nint main(void){puts(\"hi\");return 0;}\n").unwrap();
    fs::write(r.join("recipe.toml"), body).unwrap();
    copy_dir(&root().join("recipes/musl"), &dir.path().join("recipes/musl"));
    dir
}

fn build(dir: &Path, name: &str) -> (Result<Vec<kimigayo_build::Outcome>, kimigayo_build::BuildError>, std::path::PathBuf) {
    let repo = dir.join("repo");
    let mut cfg = config(&repo);
    cfg.recipes_dir = dir.join("recipes");
    cfg.force_rebuild = vec![name.to_string()];
    let r = Builder::new(cfg, &Quiet).and_then(|mut b| b.build(&[name.to_string()]));
    (r, repo)
}

const HEAD: &str = "[package]\nname = \"bad\"\nversion = \"1.0\"\nlicense = \"MIT\"\ndescription = \"t\"\n\n[[source]]\nname = \"src\"\npath = \"files\"\n\n";

#[test]
fn failing_step_names_component_step_log_tail_and_publishes_nothing() {
    let d = scratch_recipe("bad", &format!("{HEAD}[build]\ntoolchain = \"none\"\nsteps = [\"echo marker-before-failure\", \"exit 3\"]\n"));
    let (r, repo) = build(d.path(), "bad");
    let e = r.unwrap_err().to_string();
    assert!(e.contains("bad: build step 2 failed: exit 3"), "{e}");
    assert!(e.contains("marker-before-failure"), "the log tail is shown: {e}");
    assert!(e.contains("full log:") && e.contains("logs/bad-"), "{e}");
    assert!(!repo.join("noarch").exists() && !repo.join("x86_64").exists(), "nothing published");
}

#[test]
fn audit_failure_at_full_names_file_and_protection() {
    let d = scratch_recipe(
        "bad",
        &format!("{HEAD}[build]\ntoolchain = \"musl\"\nsteps = [\"$CC $CFLAGS $LDFLAGS $LINK_FLAGS -Wl,-z,execstack -o hello hello.c\", \"install -Dm755 hello $DESTDIR/usr/bin/hello\"]\n"),
    );
    let (r, repo) = build(d.path(), "bad");
    let e = r.unwrap_err().to_string();
    assert!(e.contains("hardening audit failed at level full"), "{e}");
    assert!(e.contains("usr/bin/hello: missing nx-stack"), "{e}");
    assert!(e.contains("noexecstack"), "the remedy is named: {e}");
    assert!(!repo.join("x86_64").join("bad-1.0-r1.x86_64.tar.gz").exists());
}

#[test]
fn glibc_linked_binary_is_refused() {
    let d = scratch_recipe(
        "bad",
        &format!("{HEAD}[build]\ntoolchain = \"musl\"\nsteps = [\"/usr/bin/gcc -O2 -fPIE -pie -o hello hello.c\", \"install -Dm755 hello $DESTDIR/usr/bin/hello\"]\n"),
    );
    // /usr/bin/gcc inside the sandbox is the host compiler: its output links glibc.
    let (r, _) = build(d.path(), "bad");
    let e = r.unwrap_err().to_string();
    assert!(e.contains("usr/bin/hello: linked against glibc"), "{e}");
}

#[test]
fn tampered_source_is_a_hard_error_with_both_hashes() {
    let d = scratch_recipe("bad", "");
    let mirror = d.path().join("mirror");
    fs::create_dir_all(&mirror).unwrap();
    fs::write(mirror.join("payload.tar.gz"), b"tampered payload").unwrap();
    let want = kimigayo_package::sha256_hex(b"the genuine payload");
    fs::write(
        d.path().join("recipes/bad/recipe.toml"),
        format!("[package]\nname = \"bad\"\nversion = \"1.0\"\nlicense = \"MIT\"\ndescription = \"t\"\n\n[[source]]\nname = \"payload\"\nfile = \"payload.tar.gz\"\nsha256 = \"{want}\"\nurls = [\"http://127.0.0.1:9/payload.tar.gz\"]\n\n[build]\ntoolchain = \"none\"\nsteps = [\"true\"]\n"),
    )
    .unwrap();
    let repo = d.path().join("repo");
    let mut cfg = config(&repo);
    cfg.recipes_dir = d.path().join("recipes");
    cfg.source_cache_dir = d.path().join("sources");
    cfg.offline = true;
    let f = kimigayo_fetch::Fetcher { cache_dir: cfg.source_cache_dir.clone(), mirror: Some(mirror), offline: true };
    let src = kimigayo_recipe::Recipe::load(&d.path().join("recipes/bad")).unwrap().sources[0].clone();
    let e = f.fetch(&src).unwrap_err().to_string();
    assert!(e.contains(&want) && e.contains(&kimigayo_package::sha256_hex(b"tampered payload")), "{e}");
    assert!(!cfg.source_cache_dir.join("sources").join(&want).join("payload.tar.gz").exists());
}

#[test]
fn malformed_recipe_names_file_and_line() {
    let d = scratch_recipe("bad", &format!("{HEAD}[build]\ntoolchain = \"none\"\nsteps = [\"true\"\n"));
    let (r, _) = build(d.path(), "bad");
    let e = r.unwrap_err().to_string();
    assert!(e.contains("recipes/bad/recipe.toml") && e.contains("line 14"), "{e}");
}

#[test]
fn missing_host_tool_names_the_apt_package() {
    let e = kimigayo_build::host::check_tools(&[("kimigayo-no-such-tool", "kimigayo-no-such-package")]).unwrap_err().to_string();
    assert_eq!(e.lines().count(), 1, "one line per missing tool: {e}");
    assert!(e.contains("`kimigayo-no-such-tool`") && e.contains("apt-get install kimigayo-no-such-package"), "{e}");
}

#[test]
fn arm64_is_refused_clearly_not_built_as_x86_64() {
    let repo = tempfile::tempdir().unwrap();
    let mut cfg = config(repo.path());
    cfg.arch = "aarch64".into();
    let e = Builder::new(cfg, &Quiet).err().expect("arm64 must be refused").to_string();
    assert!(e.contains("aarch64") && e.contains("not supported yet"), "{e}");
}

#[test]
fn verify_names_the_file_and_offset_when_one_input_byte_changes() {
    let d = tempfile::tempdir().unwrap();
    let recipes = d.path().join("recipes");
    copy_dir(&root().join("recipes/baselayout"), &recipes.join("baselayout"));
    let mut cfg = config(&d.path().join("repo"));
    cfg.recipes_dir = recipes.clone();
    cfg.cache_dir = d.path().join("cache");
    Builder::new(cfg.clone(), &Quiet).unwrap().build(&[]).unwrap();
    let ok = kimigayo_build::verify(&cfg, d.path().join("v1"), &Quiet).unwrap();
    assert!(ok.ok(), "{:?}", ok.rows);
    // One byte of one input changes: "localhost" → "localhosT" in etc/hosts.
    let hosts = recipes.join("baselayout/files/etc/hosts");
    let text = fs::read_to_string(&hosts).unwrap();
    let at = text.find("localhost").unwrap() + 8;
    fs::write(&hosts, format!("{}T{}", &text[..at], &text[at + 1..])).unwrap();
    let bad = kimigayo_build::verify(&cfg, d.path().join("v2"), &Quiet).unwrap();
    assert!(!bad.ok());
    let diff = bad.rows[0].difference.clone().unwrap();
    assert!(diff.contains("etc/hosts") && diff.contains(&format!("offset {at}")), "{diff}");
}
