//! Shared fixtures for the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use kimigayo_oci::{Image, ImageConfig, Kind, LayerEntry};

pub const EPOCH: u64 = 1_700_000_000;

pub fn file(path: &str, data: &[u8], mode: u32) -> LayerEntry {
    LayerEntry {
        path: path.into(),
        kind: Kind::File(data.to_vec()),
        mode,
        uid: 0,
        gid: 0,
    }
}
pub fn dir(path: &str, mode: u32) -> LayerEntry {
    LayerEntry {
        path: path.into(),
        kind: Kind::Dir,
        mode,
        uid: 0,
        gid: 0,
    }
}
pub fn symlink(path: &str, target: &str) -> LayerEntry {
    LayerEntry {
        path: path.into(),
        kind: Kind::Symlink(target.into()),
        mode: 0o777,
        uid: 0,
        gid: 0,
    }
}

/// A path longer than ustar's 100-byte name field with no usable split (PAX needed).
pub fn long_name() -> String {
    format!("deep/{}/file.txt", "x".repeat(180))
}

pub fn sample_entries() -> Vec<LayerEntry> {
    vec![
        dir("etc", 0o755),
        file("etc/motd", b"welcome to kimigayo\n", 0o644),
        file("etc/shadow", b"root:*:1::::::\n", 0o640),
        file("usr/bin/tool", b"#!/bin/sh\necho tool\n", 0o755),
        file("secret", b"s\n", 0o600),
        symlink("bin", "usr/bin"),
        symlink("etc/long-link", &format!("/{}", "t".repeat(150))),
        dir("tmp", 0o1777),
        file(&long_name(), b"long\n", 0o644),
    ]
}

pub fn config(arch: &str) -> ImageConfig {
    ImageConfig {
        architecture: arch.into(),
        os: "linux".into(),
        created: EPOCH,
        entrypoint: vec![],
        cmd: vec!["/hello".into()],
        env: vec!["PATH=/usr/bin:/bin".into()],
        working_dir: "/".into(),
        user: "".into(),
        labels: BTreeMap::from([("org.kimigayo.test".into(), "1".into())]),
        history_comment: "kimigayo-oci test".into(),
    }
}

pub fn image(layers: Vec<Vec<u8>>) -> Image {
    Image {
        layers,
        config: config("amd64"),
        annotations: BTreeMap::from([("org.opencontainers.image.title".into(), "test".into())]),
        compression: kimigayo_oci::Compression::Gzip,
    }
}

/// Run a command, panic with its output unless it succeeds; return stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?}: {e} (apt-get install -y podman skopeo umoci runc gcc)")
    });
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Build a static `hello` binary (prints "hello from kimigayo-oci") in `dir`.
pub fn static_hello(dir: &Path) -> Vec<u8> {
    let src = dir.join("hello.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\nint main(void){puts(\"hello from kimigayo-oci\");return 0;}\n",
    )
    .unwrap();
    let bin = dir.join("hello");
    run(Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(&bin)
        .arg(&src));
    std::fs::read(bin).unwrap()
}
