//! The default image end to end, for real: built rootless in memory, loaded into podman
//! from both archive formats, run, reproducible, and usable as a `FROM` base whose musl
//! loader runs a dynamically linked program built by our toolchain.

mod common;

use common::*;

#[test]
fn default_image_runs_reproducibly_and_serves_as_a_base() {
    let r = repo();
    let out = tempfile::tempdir().unwrap();
    let spec = spec(&["baselayout", "musl", "busybox"], "kimigayo-e2e");
    let a = kimigayo_image::build(&spec, &r.path, &r.keys, r.epoch, &out.path().join("a")).unwrap_or_else(|e| panic!("{e}"));
    let b = kimigayo_image::build(&spec, &r.path, &r.keys, r.epoch, &out.path().join("b")).unwrap();
    assert_eq!(a.manifest_digest, b.manifest_digest, "two builds, one digest");
    assert!(a.compressed_size < 5 * 1024 * 1024, "{} B", a.compressed_size);

    let _img = load(&a.oci_archive, "kimigayo-e2e");
    let echo = ok(podman(&["run", "--rm", "kimigayo-e2e:latest", "/bin/sh", "-c", "echo hello; cat /etc/kimigayo/build-info.json | grep -c '\"name\"'"]));
    assert!(echo.starts_with("hello\n"), "{echo}");
    // The default command is a shell.
    let cmd = ok(podman(&["image", "inspect", "--format", "{{.Config.Cmd}}", "kimigayo-e2e:latest"]));
    assert!(cmd.contains("/bin/sh"), "{cmd}");
    // A non-root application user exists.
    let id = ok(podman(&["run", "--rm", "--user", "65532", "kimigayo-e2e:latest", "id"]));
    assert!(id.contains("uid=65532(nonroot)"), "{id}");
    // ASLR is on in the container.
    assert_eq!(ok(podman(&["run", "--rm", "kimigayo-e2e:latest", "cat", "/proc/sys/kernel/randomize_va_space"])).trim(), "2");

    // docker-archive loads too.
    ok(podman(&["load", "-i", a.docker_archive.to_str().unwrap()]));

    // FROM kimigayo-e2e:latest + a dynamically linked musl program from a "builder stage".
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("hello.c"), "#include <stdio.h>\nint main(void){puts(\"dynamic musl works\");return 0;}\n").unwrap();
    let cfg = kimigayo_build::default_config(&root()).unwrap();
    let mut builder = kimigayo_build::Builder::new(cfg, &kimigayo_build::Quiet).unwrap();
    builder.build(&["musl".into()]).unwrap();
    let sysroot = builder.ensure_toolchain().unwrap();
    let cc = kimigayo_build::toolchain::driver(&sysroot, "x86_64");
    let f = kimigayo_hardening::flags(kimigayo_hardening::Level::Full);
    let st = std::process::Command::new(cc).arg("-O2").args(f.all(kimigayo_hardening::Linkage::Dynamic)).arg(ctx.path().join("hello.c")).arg("-o").arg(ctx.path().join("hello")).status().unwrap();
    assert!(st.success());
    std::fs::write(ctx.path().join("Containerfile"), "FROM kimigayo-e2e:latest\nCOPY hello /app/hello\nCMD [\"/app/hello\"]\n").unwrap();
    let _app = Loaded("localhost/kimigayo-e2e-app:latest".into());
    ok(podman(&["build", "--pull=never", "-t", "kimigayo-e2e-app", ctx.path().to_str().unwrap()]));
    let run = ok(podman(&["run", "--rm", "kimigayo-e2e-app"]));
    assert_eq!(run, "dynamic musl works\n");
}

#[test]
fn kpkg_profile_image_carries_a_working_package_manager() {
    let r = repo();
    let text = std::fs::read_to_string(root().join("images/kpkg.yaml")).unwrap();
    let mut spec = kimigayo_image::ImageSpec::parse("images/kpkg.yaml", &text).unwrap();
    spec.image.name = "kimigayo-e2e-kpkg".into();
    let out = tempfile::tempdir().unwrap();
    let rep = kimigayo_image::build(&spec, &r.path, &r.keys, r.epoch, out.path()).unwrap_or_else(|e| panic!("{e}"));
    assert!(rep.packages.iter().any(|p| p.name == "kpkg"));
    let _img = load(&rep.oci_archive, "kimigayo-e2e-kpkg");
    let v = ok(podman(&["run", "--rm", "kimigayo-e2e-kpkg:latest", "kpkg", "--version"]));
    assert!(v.starts_with("kpkg "), "{v}");
    // The CA bundle applications look for.
    let certs = ok(podman(&["run", "--rm", "kimigayo-e2e-kpkg:latest", "sh", "-c", "grep -c 'BEGIN CERTIFICATE' /etc/ssl/cert.pem"]));
    assert!(certs.trim().parse::<u32>().unwrap() > 100, "{certs}");
    // Without repositories or keys it refuses with the fix named, exit 1 — and never panics.
    let o = podman(&["run", "--rm", "kimigayo-e2e-kpkg:latest", "kpkg", "add", "busybox"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no repositories"), "{}", String::from_utf8_lossy(&o.stderr));
    // The default image has no package manager (distroless choice).
    let base = kimigayo_image::build(&spec_base(), &r.path, &r.keys, r.epoch, &out.path().join("base")).unwrap();
    assert!(!base.packages.iter().any(|p| p.name == "kpkg"));
}

fn spec_base() -> kimigayo_image::ImageSpec {
    kimigayo_image::ImageSpec::load(&root().join("images/base.yaml")).unwrap()
}

/// `image.compression: zstd`: the layer is a zstd frame declared `tar+zstd`, the same
/// uncompressed layer as the gzip image (same diff_id), smaller, reproducible, and the image
/// loads and runs in podman; skopeo reads the layout.
#[test]
fn zstd_image_is_reproducible_smaller_and_runs() {
    let r = repo();
    let out = tempfile::tempdir().unwrap();
    let gz_spec = spec(&["baselayout", "musl", "busybox"], "kimigayo-e2e-zstd");
    let mut spec = gz_spec.clone();
    spec.image.compression = kimigayo_image::spec::LayerCompression::Zstd;
    let a = kimigayo_image::build(&spec, &r.path, &r.keys, r.epoch, &out.path().join("a")).unwrap_or_else(|e| panic!("{e}"));
    let b = kimigayo_image::build(&spec, &r.path, &r.keys, r.epoch, &out.path().join("b")).unwrap();
    let g = kimigayo_image::build(&gz_spec, &r.path, &r.keys, r.epoch, &out.path().join("g")).unwrap();
    assert_eq!(a.manifest_digest, b.manifest_digest, "two zstd builds, one digest");
    assert_eq!(std::fs::read(&a.oci_archive).unwrap(), std::fs::read(&b.oci_archive).unwrap(), "oci-archive bytes differ between two zstd builds");
    assert_ne!(a.manifest_digest, g.manifest_digest);
    assert_eq!(a.compression, "zstd");
    assert_eq!(a.uncompressed_size, g.uncompressed_size);
    assert!(a.compressed_size < g.compressed_size, "zstd {} B is not smaller than gzip {} B", a.compressed_size, g.compressed_size);

    // The manifest declares tar+zstd, and the blob is a zstd frame whose content is the
    // gzip image's uncompressed layer (the config's diff_id is the same).
    let idx: serde_json::Value = serde_json::from_slice(&std::fs::read(a.oci_layout.join("index.json")).unwrap()).unwrap();
    let blob = |d: &str| std::fs::read(a.oci_layout.join("blobs/sha256").join(d.trim_start_matches("sha256:"))).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&blob(idx["manifests"][0]["digest"].as_str().unwrap())).unwrap();
    let layer = &manifest["layers"][0];
    assert_eq!(layer["mediaType"], "application/vnd.oci.image.layer.v1.tar+zstd");
    let z = blob(layer["digest"].as_str().unwrap());
    assert_eq!(&z[..4], &[0x28, 0xb5, 0x2f, 0xfd], "not a zstd frame");
    let gidx: serde_json::Value = serde_json::from_slice(&std::fs::read(g.oci_layout.join("index.json")).unwrap()).unwrap();
    let gblob = |d: &str| std::fs::read(g.oci_layout.join("blobs/sha256").join(d.trim_start_matches("sha256:"))).unwrap();
    let gm: serde_json::Value = serde_json::from_slice(&gblob(gidx["manifests"][0]["digest"].as_str().unwrap())).unwrap();
    let cfg: serde_json::Value = serde_json::from_slice(&blob(manifest["config"]["digest"].as_str().unwrap())).unwrap();
    let gcfg: serde_json::Value = serde_json::from_slice(&gblob(gm["config"]["digest"].as_str().unwrap())).unwrap();
    assert_eq!(cfg["rootfs"], gcfg["rootfs"], "zstd and gzip images must carry the same uncompressed layer");

    // skopeo reads it; podman loads and runs it.
    let insp = std::process::Command::new("skopeo").args(["inspect", "--raw", &format!("oci:{}", a.oci_layout.display())]).output().unwrap();
    assert!(insp.status.success(), "skopeo inspect: {}", String::from_utf8_lossy(&insp.stderr));
    assert!(String::from_utf8_lossy(&insp.stdout).contains("tar+zstd"));
    let _img = load(&a.oci_archive, "kimigayo-e2e-zstd");
    let run = ok(podman(&["run", "--rm", "kimigayo-e2e-zstd:latest", "/bin/sh", "-c", "echo zstd-runs; busybox --list | grep -c ."]));
    assert!(run.starts_with("zstd-runs\n"), "{run}");
}

#[test]
fn an_unknown_compression_is_refused_naming_the_field() {
    let text = std::fs::read_to_string(root().join("images/base.yaml")).unwrap().replace("  workdir: /\n", "  workdir: /\n  compression: xz\n");
    let e = kimigayo_image::ImageSpec::parse("images/base.yaml", &text).unwrap_err().to_string();
    assert!(e.contains("images/base.yaml") && e.contains("compression") && e.contains("gzip") && e.contains("zstd"), "{e}");
    let ok_text = text.replace("compression: xz", "compression: zstd");
    let s = kimigayo_image::ImageSpec::parse("images/base.yaml", &ok_text).unwrap();
    assert_eq!(s.image.compression, kimigayo_image::spec::LayerCompression::Zstd);
}
