//! Byte-level determinism and input validation.

mod common;

use common::*;
use kimigayo_oci::{
    layer_tar, write_docker_archive, write_oci_archive, write_oci_layout, Kind, LayerEntry,
    OciError,
};
use std::collections::BTreeMap;
use std::path::Path;

fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

#[test]
fn same_input_same_bytes_and_order_independent() {
    let a = layer_tar(&sample_entries(), EPOCH).unwrap();
    let mut rev = sample_entries();
    rev.reverse();
    let b = layer_tar(&rev, EPOCH).unwrap();
    assert_eq!(a, b, "input order must not matter");
    assert_ne!(
        a,
        layer_tar(&sample_entries(), EPOCH + 1).unwrap(),
        "mtime must matter"
    );

    let t = tempfile::tempdir().unwrap();
    let img = image(vec![a.clone()]);
    let built1 = write_oci_archive(&img, &t.path().join("1.tar"), "kimigayo-os:latest").unwrap();
    let built2 = write_oci_archive(
        &image(vec![b]),
        &t.path().join("2.tar"),
        "kimigayo-os:latest",
    )
    .unwrap();
    assert_eq!(built1, built2);
    let f1 = std::fs::read(t.path().join("1.tar")).unwrap();
    assert_eq!(f1, std::fs::read(t.path().join("2.tar")).unwrap());

    let d1 = write_docker_archive(&img, &t.path().join("d1.tar"), "kimigayo-os:latest").unwrap();
    let d2 = write_docker_archive(&img, &t.path().join("d2.tar"), "kimigayo-os:latest").unwrap();
    assert_eq!(d1, built1, "all formats report the same OCI digests");
    assert_eq!(d1, d2);
    assert_eq!(
        std::fs::read(t.path().join("d1.tar")).unwrap(),
        std::fs::read(t.path().join("d2.tar")).unwrap()
    );

    let l1 = write_oci_layout(&img, &t.path().join("l1"), "kimigayo-os:latest").unwrap();
    let l2 = write_oci_layout(&img, &t.path().join("l2"), "kimigayo-os:latest").unwrap();
    assert_eq!(l1, built1);
    assert_eq!(l1, l2);
    assert_eq!(tree(&t.path().join("l1")), tree(&t.path().join("l2")));
    // Rewriting over an existing layout replaces it.
    write_oci_layout(&img, &t.path().join("l1"), "kimigayo-os:latest").unwrap();
    assert_eq!(tree(&t.path().join("l1")), tree(&t.path().join("l2")));
    // Blob names match their content digests.
    for (name, data) in tree(&t.path().join("l1")) {
        if let Some(hex) = name.strip_prefix("blobs/sha256/") {
            let got = std::process::Command::new("sha256sum")
                .arg(t.path().join("l1").join(&name))
                .output()
                .unwrap();
            assert!(
                String::from_utf8_lossy(&got.stdout).starts_with(hex),
                "{name} ({} bytes)",
                data.len()
            );
        }
    }
}

#[test]
fn different_mtime_or_config_changes_manifest_digest() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("x.tar");
    let base = write_oci_archive(
        &image(vec![layer_tar(&sample_entries(), EPOCH).unwrap()]),
        &p,
        "a:b",
    )
    .unwrap();
    let other = write_oci_archive(
        &image(vec![layer_tar(&sample_entries(), EPOCH + 1).unwrap()]),
        &p,
        "a:b",
    )
    .unwrap();
    assert_ne!(base.manifest_digest, other.manifest_digest);
    assert_ne!(base.layers[0].diff_id, other.layers[0].diff_id);
    let mut img = image(vec![layer_tar(&sample_entries(), EPOCH).unwrap()]);
    img.config.created += 1;
    let c = write_oci_archive(&img, &p, "a:b").unwrap();
    assert_ne!(base.config_digest, c.config_digest);
    assert_eq!(base.layers, c.layers);
}

#[test]
fn hostile_paths_refused() {
    for bad in [
        "/etc/passwd",
        "../x",
        "a/../../x",
        "a/..",
        "./a",
        "a//b",
        "",
        "/",
        "a/./b",
        "a\0b",
    ] {
        let e = layer_tar(&[file(bad, b"x", 0o644)], 0).unwrap_err();
        assert!(matches!(e, OciError::InvalidPath { .. }), "{bad:?}: {e}");
    }
    let e = layer_tar(&[file("a", b"1", 0o644), file("a", b"2", 0o644)], 0).unwrap_err();
    assert!(matches!(e, OciError::Duplicate(_)), "{e}");
    let e = layer_tar(&[dir("a", 0o755), dir("a/", 0o755)], 0).unwrap_err();
    assert!(matches!(e, OciError::Duplicate(_)), "{e}");
    let e = layer_tar(&[symlink("lib", "/tmp"), file("lib/evil", b"", 0o644)], 0).unwrap_err();
    assert!(matches!(e, OciError::NotADirectory { .. }), "{e}");
    let e = layer_tar(&[file("f", b"", 0o644), file("f/g", b"", 0o644)], 0).unwrap_err();
    assert!(matches!(e, OciError::NotADirectory { .. }), "{e}");
    assert!(e.to_string().contains("f/g"));
}

#[test]
fn bad_image_metadata_refused() {
    let t = tempfile::tempdir().unwrap();
    let layer = layer_tar(&sample_entries(), EPOCH).unwrap();
    let mut img = image(vec![layer.clone()]);
    img.config.architecture = "x86_64".into();
    assert!(matches!(
        write_oci_archive(&img, &t.path().join("a"), "a:b"),
        Err(OciError::Invalid(_))
    ));
    assert!(write_oci_archive(&image(vec![]), &t.path().join("a"), "a:b").is_err());
    assert!(
        write_oci_archive(&image(vec![layer.clone()]), &t.path().join("a"), "bad tag").is_err()
    );
    assert!(
        write_docker_archive(&image(vec![layer.clone()]), &t.path().join("a"), "noTag").is_err()
    );
    assert!(!t.path().join("a").exists(), "nothing written on error");
    // A non-layout, non-empty directory is never clobbered.
    let d = t.path().join("precious");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("keep"), b"x").unwrap();
    assert!(write_oci_layout(&image(vec![layer]), &d, "a:b").is_err());
    assert_eq!(std::fs::read(d.join("keep")).unwrap(), b"x");
    // No temp files left behind.
    let left: Vec<_> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("precious")]);
}

#[test]
fn gnu_tar_reads_layer_with_parents_and_long_names() {
    let t = tempfile::tempdir().unwrap();
    let tar = layer_tar(&sample_entries(), EPOCH).unwrap();
    std::fs::write(t.path().join("l.tar"), &tar).unwrap();
    let out = run(std::process::Command::new("tar")
        .arg("-tvf")
        .arg(t.path().join("l.tar"))
        .arg("--numeric-owner"));
    let names: Vec<&str> = out
        .lines()
        .map(|l| l.split_whitespace().nth(5).unwrap())
        .collect();
    let deep = format!("deep/{}/", "x".repeat(180));
    let long = long_name();
    let expected = vec![
        "bin",
        "deep/",
        &*deep,
        &*long,
        "etc/",
        "etc/long-link",
        "etc/motd",
        "etc/shadow",
        "secret",
        "tmp/",
        "usr/",
        "usr/bin/",
        "usr/bin/tool",
    ];
    assert_eq!(names, expected, "{out}");
    assert!(out.contains("drwxrwxrwt 0/0"), "{out}");
    assert!(out.contains("2023-11-14"), "{out}");
    assert!(
        out.contains(&format!("etc/long-link -> /{}", "t".repeat(150))),
        "{out}"
    );
    // Kinds survive.
    let e = vec![LayerEntry {
        path: "x".into(),
        kind: Kind::Dir,
        mode: 0o700,
        uid: 3_000_000,
        gid: 7,
    }];
    std::fs::write(t.path().join("u.tar"), layer_tar(&e, 0).unwrap()).unwrap();
    let out = run(std::process::Command::new("tar")
        .arg("-tvf")
        .arg(t.path().join("u.tar"))
        .arg("--numeric-owner"));
    assert!(out.starts_with("drwx------ 3000000/7 "), "{out}");
}
