//! Shared helpers for the build system's end-to-end and property tests. They use the real
//! recipes, the real musl toolchain (built once and then reused from the same cache `make`
//! uses) and the real sandbox; nothing is faked.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use kimigayo_build::{BuildConfig, Builder, Quiet};
use proptest::prelude::*;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// `make`'s configuration, publishing into a private repository folder.
pub fn config(repo: &Path) -> BuildConfig {
    let mut c = kimigayo_build::default_config(&root()).expect("build configuration");
    c.repo_dir = repo.to_path_buf();
    c
}

/// The assembled musl sysroot (builds musl on first use, then reuses the cache).
pub fn toolchain() -> &'static Path {
    static T: OnceLock<PathBuf> = OnceLock::new();
    T.get_or_init(|| {
        let repo = tempfile::tempdir().unwrap();
        let mut b = Builder::new(config(repo.path()), &Quiet).expect("builder");
        b.build(&["musl".to_string()]).unwrap_or_else(|e| panic!("building musl for the tests failed:\n{e}"));
        b.ensure_toolchain().expect("toolchain")
    })
}

pub fn driver() -> PathBuf {
    kimigayo_build::toolchain::driver(toolchain(), "x86_64")
}

/// A small C program assembled from snippets exercising libc (strings, stdio, memory,
/// qsort, function pointers, recursion). It prints `ok <tag>` and exits 0.
#[derive(Debug, Clone)]
pub struct CProgram {
    pub tag: u32,
    pub snippets: Vec<usize>,
}

const SNIPPETS: &[&str] = &[
    "{ char b[32]; strncpy(b, \"kimigayo\", sizeof b - 1); b[31] = 0; acc += strlen(b); }",
    "{ char b[64]; snprintf(b, sizeof b, \"%d-%s\", acc, \"x\"); acc += (int)strlen(b); }",
    "{ int a[16], c[16]; for (int i = 0; i < 16; i++) a[i] = i * acc; memcpy(c, a, sizeof a); acc += c[3]; }",
    "{ int v[8] = {5, 3, 9, 1, 7, 2, 8, 6}; qsort(v, 8, sizeof v[0], cmp); acc += v[0]; }",
    "{ char *p = malloc(128); if (!p) return 1; memset(p, 'a', 127); p[127] = 0; acc += (int)strlen(p); free(p); }",
    "{ acc += fib(10); }",
    "{ int (*f[2])(int) = {twice, fib}; acc += f[acc & 1](5); }",
    "{ const char *e = getenv(\"KIMIGAYO_TEST_UNSET\"); acc += e ? 1 : 2; }",
    "{ char b[16]; int fd = open(\"/dev/null\", O_RDONLY); if (fd >= 0) { acc += (int)read(fd, b, sizeof b); close(fd); } }",
    "{ char b[40]; strcpy(b, \"abc\"); strcat(b, \"def\"); acc += b[4]; }",
];

pub fn c_program() -> impl Strategy<Value = CProgram> {
    (any::<u32>(), prop::collection::vec(0..SNIPPETS.len(), 1..6)).prop_map(|(tag, snippets)| CProgram { tag, snippets })
}

impl CProgram {
    pub fn source(&self) -> String {
        let mut s = String::from(
            "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <fcntl.h>\n#include <unistd.h>\n\
             static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }\n\
             static int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }\n\
             static int twice(int n) { return 2 * n; }\n\
             int main(void) {\n  int acc = 1;\n",
        );
        for &i in &self.snippets {
            s.push_str("  ");
            s.push_str(SNIPPETS[i]);
            s.push('\n');
        }
        s.push_str(&format!("  printf(\"ok %u %d\\n\", {}u, acc > 0);\n  return 0;\n}}\n", self.tag));
        s
    }

    pub fn expected_output(&self) -> String {
        format!("ok {} 1\n", self.tag)
    }
}

/// Compile with the musl toolchain at `level` with `linkage`; returns the binary path.
pub fn compile(dir: &Path, prog: &CProgram, level: kimigayo_hardening::Level, linkage: kimigayo_hardening::Linkage) -> PathBuf {
    let src = dir.join("prog.c");
    std::fs::write(&src, prog.source()).unwrap();
    let out = dir.join("prog");
    let f = kimigayo_hardening::flags(level);
    let status = Command::new(driver())
        .arg("-O2")
        .args(f.all(linkage))
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("run the musl gcc driver");
    assert!(status.success(), "compiling {} failed:\n{}", src.display(), prog.source());
    out
}

/// Run a musl binary: static ones directly, dynamic ones through the toolchain's musl loader.
pub fn run(bin: &Path, linkage: kimigayo_hardening::Linkage) -> std::process::Output {
    let mut cmd = match linkage {
        kimigayo_hardening::Linkage::Static => Command::new(bin),
        kimigayo_hardening::Linkage::Dynamic => {
            let mut c = Command::new(toolchain().join("lib/ld-musl-x86_64.so.1"));
            c.arg(bin);
            c
        }
    };
    cmd.output().expect("run the test program")
}

pub fn linkage() -> impl Strategy<Value = kimigayo_hardening::Linkage> {
    prop_oneof![Just(kimigayo_hardening::Linkage::Static), Just(kimigayo_hardening::Linkage::Dynamic)]
}

/// A throwaway recipes folder: a copy of the real musl recipe (so the toolchain comes from
/// the same cache) plus `prog`, a recipe building one generated C program.
pub struct Scratch {
    pub dir: tempfile::TempDir,
    pub recipes: PathBuf,
}

pub fn copy_dir(from: &Path, to: &Path) {
    kimigayo_build::toolchain::copy_tree(from, to).unwrap();
}

pub fn scratch_with_program(prog: &CProgram, link: kimigayo_hardening::Linkage) -> Scratch {
    let dir = tempfile::tempdir().unwrap();
    let recipes = dir.path().join("recipes");
    copy_dir(&root().join("recipes/musl"), &recipes.join("musl"));
    let p = recipes.join("prog");
    std::fs::create_dir_all(p.join("files")).unwrap();
    std::fs::write(p.join("files/prog.c"), prog.source()).unwrap();
    std::fs::write(
        p.join("recipe.toml"),
        format!(
            "[package]\nname = \"prog\"\nversion = \"1.0\"\nlicense = \"MIT\"\ndescription = \"property test program\"\n\n\
             [[source]]\nname = \"src\"\npath = \"files\"\n\n\
             [build]\ntoolchain = \"musl\"\nlinkage = \"{link}\"\n\
             steps = [\"$CC $CFLAGS $LDFLAGS $LINK_FLAGS -o prog prog.c\", \"install -Dm755 prog $DESTDIR/usr/bin/prog\"]\n"
        ),
    )
    .unwrap();
    Scratch { dir, recipes }
}

/// Build `prog` from a scratch folder (always rebuilt) and return its archive bytes.
pub fn build_prog(s: &Scratch, cfg_edit: impl FnOnce(&mut BuildConfig)) -> Vec<u8> {
    let repo = s.dir.path().join(format!("repo-{}", rand_suffix()));
    let mut cfg = config(&repo);
    cfg.recipes_dir = s.recipes.clone();
    cfg.force_rebuild = vec!["prog".into()];
    cfg_edit(&mut cfg);
    let mut b = Builder::new(cfg, &Quiet).unwrap();
    let out = b.build(&["prog".to_string()]).unwrap_or_else(|e| panic!("{e}"));
    let o = out.iter().find(|o| o.recipe == "prog").unwrap();
    assert!(!o.reused);
    let p = &o.packages[0];
    std::fs::read(repo.join(&p.architecture).join(&p.filename)).unwrap()
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst))
}
