//! The audit against real binaries built here with the host gcc (glibc), gcc against Rust's
//! bundled musl, and cargo for a Rust musl static-pie.

mod common;

use std::process::Command;

use common::*;
use kimigayo_audit::{required, ElfKind, Language, Level, Libc, Protection, Status};

const HARDENED: &[&str] = &[
    "-O2",
    "-D_FORTIFY_SOURCE=2",
    "-fPIE",
    "-pie",
    "-fstack-protector-strong",
    "-Wl,-z,relro,-z,now",
];

#[test]
fn hardened_pie_passes_every_check() {
    let dir = tempfile::tempdir().unwrap();
    let bin = gcc(dir.path(), "hardened", PROG_C, HARDENED);
    let r = audit(&bin);
    assert_eq!(r.kind, ElfKind::Pie);
    assert_eq!(r.libc, Libc::Glibc, "{}", r.libc_evidence);
    assert_eq!(r.language, Language::C);
    assert_eq!(r.machine, "x86_64");
    assert!(r.interpreter.as_deref().unwrap().contains("ld-linux"));
    assert!(r.needed.iter().any(|n| n == "libc.so.6"), "{:?}", r.needed);
    assert!(!r.stripped);
    assert_eq!(r.checks.len(), 7);
    for p in Protection::ALL {
        assert_eq!(status(&r, p), Status::Pass, "{p}: {}", detail(&r, p));
    }
    assert!(r.failures(required(Level::Full)).is_empty());
    assert!(
        detail(&r, Protection::Fortify).contains("__strcpy_chk"),
        "{}",
        detail(&r, Protection::Fortify)
    );
}

#[test]
fn unhardened_binary_fails_the_named_checks() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "-O0",
        "-no-pie",
        "-fno-stack-protector",
        "-Wl,-z,norelro",
        "-z",
        "execstack",
    ];
    let r = audit(&gcc(dir.path(), "soft", PROG_C, &args));
    assert_eq!(r.kind, ElfKind::DynamicExec);
    assert_eq!(
        r.failures(required(Level::Full)),
        vec![
            Protection::Pie,
            Protection::Relro,
            Protection::BindNow,
            Protection::NxStack,
            Protection::StackProtector,
            Protection::Fortify,
        ]
    );
    assert_eq!(status(&r, Protection::NoTextrel), Status::Pass);
    assert!(
        detail(&r, Protection::NxStack).contains("PF_X"),
        "{}",
        detail(&r, Protection::NxStack)
    );
    assert_eq!(r.failures(required(Level::None)), vec![]);
    assert_eq!(r.failures(required(Level::Basic)).len(), 4); // pie, relro, nx-stack, ssp
}

#[test]
fn glibc_static_pie_is_recognised() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "-O2",
        "-fPIE",
        "-static-pie",
        "-fstack-protector-strong",
        "-Wl,-z,relro,-z,now",
    ];
    let r = audit(&gcc(dir.path(), "spie", PROG_C, &args));
    assert_eq!(r.kind, ElfKind::StaticPie);
    assert_eq!(r.interpreter, None);
    assert!(r.needed.is_empty());
    assert_eq!(r.libc, Libc::Glibc, "{}", r.libc_evidence);
    for p in [
        Protection::Pie,
        Protection::Relro,
        Protection::BindNow,
        Protection::NxStack,
        Protection::NoTextrel,
    ] {
        assert_eq!(status(&r, p), Status::Pass, "{p}: {}", detail(&r, p));
    }
    assert!(detail(&r, Protection::Pie).contains("static-pie"));
    // Static glibc defines its own __memcpy_chk variants: no proof of fortification.
    assert_eq!(
        status(&r, Protection::Fortify),
        Status::Fail,
        "{}",
        detail(&r, Protection::Fortify)
    );
}

#[test]
fn stripped_binary_is_judged_from_recorded_flags() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = HARDENED.to_vec();
    args.extend(["-frecord-gcc-switches", "-s"]);
    let r = audit(&gcc(dir.path(), "rec", PROG_C, &args));
    assert!(r.stripped);
    assert_eq!(status(&r, Protection::StackProtector), Status::Pass);
    let d = detail(&r, Protection::StackProtector);
    assert!(
        d.contains(".GCC.command.line") && d.contains("-fstack-protector-strong"),
        "{d}"
    );

    // Same program without SSP: the records, not the symbols, decide.
    let soft = [
        "-O2",
        "-fPIE",
        "-pie",
        "-fno-stack-protector",
        "-frecord-gcc-switches",
        "-s",
    ];
    let r = audit(&gcc(dir.path(), "recsoft", PROG_C, &soft));
    assert_eq!(status(&r, Protection::StackProtector), Status::Fail);
    assert!(detail(&r, Protection::StackProtector).contains("-fno-stack-protector"));
}

#[test]
fn one_unprotected_object_among_protected_ones_fails() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("main.c"), PROG_C).unwrap();
    std::fs::write(d.join("helper.c"), "int helper(int x) { return x * 2; }\n").unwrap();
    let compile = |src: &str, obj: &str, ssp: &str| {
        run(Command::new("gcc")
            .args(["-O2", "-fPIE", "-frecord-gcc-switches", ssp, "-c"])
            .arg(d.join(src))
            .arg("-o")
            .arg(d.join(obj)));
    };
    compile("main.c", "main.o", "-fstack-protector-strong");
    compile("helper.c", "helper.o", "-fno-stack-protector");
    run(Command::new("gcc")
        .args(["-pie"])
        .arg(d.join("main.o"))
        .arg(d.join("helper.o"))
        .arg("-o")
        .arg(d.join("mixed")));
    let r = audit(&d.join("mixed"));
    assert_eq!(status(&r, Protection::StackProtector), Status::Fail);
    assert!(
        detail(&r, Protection::StackProtector).contains("1 of 2"),
        "{}",
        detail(&r, Protection::StackProtector)
    );
}

#[test]
fn shared_object_is_pic_by_construction() {
    let dir = tempfile::tempdir().unwrap();
    let src = "#include <string.h>\nint lib_len(const char *s) { char b[32]; strcpy(b, s); return (int)strlen(b); }\n";
    let args = [
        "-O2",
        "-fPIC",
        "-shared",
        "-fstack-protector-strong",
        "-Wl,-soname,libx.so.1",
        "-Wl,-z,relro,-z,now",
    ];
    let r = audit(&gcc(dir.path(), "libx.so", src, &args));
    assert_eq!(r.kind, ElfKind::SharedObject);
    assert_eq!(status(&r, Protection::Pie), Status::Pass);
    assert!(detail(&r, Protection::Pie).contains("shared object"));
    assert_eq!(
        status(&r, Protection::StackProtector),
        Status::Pass,
        "{}",
        detail(&r, Protection::StackProtector)
    );
    assert_eq!(r.libc, Libc::Glibc);
}

#[test]
fn musl_static_pie_without_ssp_is_not_fooled_by_the_libc_definition() {
    let dir = tempfile::tempdir().unwrap();
    let r = audit(&musl_static_pie(
        dir.path(),
        "nossp",
        PROG_BARE_C,
        &["-fno-stack-protector"],
    ));
    assert_eq!(r.kind, ElfKind::StaticPie);
    assert_eq!(r.libc, Libc::Musl, "{}", r.libc_evidence);
    assert_eq!(status(&r, Protection::StackProtector), Status::Fail);
    assert!(detail(&r, Protection::StackProtector).contains("nothing calls it"));

    let r = audit(&musl_static_pie(
        dir.path(),
        "ssp",
        PROG_BARE_C,
        &["-fstack-protector-all"],
    ));
    assert_eq!(status(&r, Protection::StackProtector), Status::Pass);
    assert!(
        detail(&r, Protection::StackProtector).contains("main"),
        "{}",
        detail(&r, Protection::StackProtector)
    );
    for p in [
        Protection::Pie,
        Protection::Relro,
        Protection::BindNow,
        Protection::NxStack,
        Protection::NoTextrel,
    ] {
        assert_eq!(status(&r, p), Status::Pass, "{p}: {}", detail(&r, p));
    }
}

#[test]
fn musl_fortify_is_judged_from_marker_and_optimisation() {
    let dir = tempfile::tempdir().unwrap();
    let marked = format!("#ident \"kimigayo-fortify _FORTIFY_SOURCE=2\"\n{PROG_BARE_C}");
    let r = audit(&musl_static_pie(
        dir.path(),
        "marked",
        &marked,
        &["-fstack-protector-strong"],
    ));
    assert_eq!(
        status(&r, Protection::Fortify),
        Status::Pass,
        "{}",
        detail(&r, Protection::Fortify)
    );

    // One translation unit at level 1 among level-2 ones fails the file.
    let weak = format!("#ident \"kimigayo-fortify _FORTIFY_SOURCE=1\"\n{marked}");
    let r = audit(&musl_static_pie(dir.path(), "weak", &weak, &[]));
    assert_eq!(status(&r, Protection::Fortify), Status::Fail);
    assert!(
        detail(&r, Protection::Fortify).contains("=1"),
        "{}",
        detail(&r, Protection::Fortify)
    );

    let r = audit(&musl_static_pie(
        dir.path(),
        "plain",
        PROG_BARE_C,
        &["-frecord-gcc-switches"],
    ));
    assert_eq!(status(&r, Protection::Fortify), Status::Fail);
    assert!(
        detail(&r, Protection::Fortify).contains("GCC >= 11"),
        "{}",
        detail(&r, Protection::Fortify)
    );

    // -O0 after -O2 (last wins): fortify is inert, and the record says so even with the marker.
    let r = audit(&musl_static_pie(
        dir.path(),
        "o0",
        &marked,
        &["-O0", "-frecord-gcc-switches"],
    ));
    assert_eq!(status(&r, Protection::Fortify), Status::Fail);
    assert!(
        detail(&r, Protection::Fortify).contains("-O0"),
        "{}",
        detail(&r, Protection::Fortify)
    );
}

#[test]
fn rust_musl_static_pie() {
    let dir = tempfile::tempdir().unwrap();
    let krate = dir.path().join("tiny");
    std::fs::create_dir_all(krate.join("src")).unwrap();
    std::fs::write(
        krate.join("Cargo.toml"),
        "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(
        krate.join("src/main.rs"),
        "fn main() { println!(\"{:?}\", std::env::args().collect::<Vec<_>>()); }\n",
    )
    .unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--offline",
            "--release",
            "--target",
            "x86_64-unknown-linux-musl",
        ])
        .current_dir(&krate)
        .env("CARGO_TARGET_DIR", dir.path().join("target"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET"));
    let bin = dir
        .path()
        .join("target/x86_64-unknown-linux-musl/release/tiny");
    let r = audit(&bin);
    assert_eq!(
        r.kind,
        ElfKind::StaticPie,
        "{}",
        detail(&r, Protection::Pie)
    );
    assert_eq!(r.language, Language::Rust);
    assert_eq!(r.libc, Libc::Musl, "{}", r.libc_evidence);
    assert_eq!(r.interpreter, None);
    assert_eq!(
        status(&r, Protection::StackProtector),
        Status::NotApplicable
    );
    assert_eq!(
        detail(&r, Protection::StackProtector),
        "Rust code is memory-safe; no C stack protector"
    );
    assert_eq!(status(&r, Protection::Fortify), Status::NotApplicable);
    for p in [
        Protection::Pie,
        Protection::Relro,
        Protection::BindNow,
        Protection::NxStack,
        Protection::NoTextrel,
    ] {
        assert_eq!(status(&r, p), Status::Pass, "{p}: {}", detail(&r, p));
    }
    assert!(r.failures(required(Level::Full)).is_empty());

    // Stripped, it is still recognised as Rust (std's panic locations survive stripping).
    let stripped = dir.path().join("tiny-stripped");
    run(Command::new("strip").arg(&bin).arg("-o").arg(&stripped));
    let r = audit(&stripped);
    assert!(r.stripped);
    assert_eq!(r.language, Language::Rust);
    assert_eq!(r.libc, Libc::Musl, "{}", r.libc_evidence);
    assert_eq!(
        status(&r, Protection::StackProtector),
        Status::NotApplicable
    );
}

/// musl's libc.so is ET_DYN with an entry point (it is also the dynamic linker), no
/// interpreter, no DF_1_PIE and, upstream, no soname: only its exports mark it a library.
/// A file of the same shape that exports nothing is what an old linker makes of -static-pie.
#[test]
fn loader_like_library_and_old_static_pie_are_told_apart_by_exports() {
    let dir = tempfile::tempdir().unwrap();
    let src = "void _dlstart(void) { for (;;) ; }\nint exported(int x) { return x + 1; }\n";
    let lib = gcc(
        dir.path(),
        "libc-like.so",
        src,
        &[
            "-O2",
            "-fPIC",
            "-shared",
            "-nostdlib",
            "-Wl,-e,_dlstart",
            "-Wl,-z,now",
        ],
    );
    let r = audit(&lib);
    assert_eq!(
        r.kind,
        ElfKind::SharedObject,
        "{}",
        detail(&r, Protection::Pie)
    );
    assert!(
        detail(&r, Protection::Pie).contains("exports"),
        "{}",
        detail(&r, Protection::Pie)
    );
    assert_eq!(r.libc, Libc::None, "{}", r.libc_evidence);

    let hidden = [
        "-O2",
        "-fPIC",
        "-fvisibility=hidden",
        "-shared",
        "-nostdlib",
        "-Wl,-e,_dlstart",
        "-Wl,-z,now",
    ];
    let r = audit(&gcc(dir.path(), "old-static-pie", src, &hidden));
    assert_eq!(
        r.kind,
        ElfKind::StaticPie,
        "{}",
        detail(&r, Protection::Pie)
    );
    assert!(detail(&r, Protection::Pie).contains("predates DF_1_PIE"));
}
