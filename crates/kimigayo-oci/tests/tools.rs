//! Real-tool checks: skopeo, umoci and podman read what we write.
//! Needs: apt-get install -y podman skopeo umoci runc gcc (podman runs as root with a
//! private containers.conf written by the test).

mod common;

use common::*;
use kimigayo_oci::{layer_tar, write_docker_archive, write_oci_archive, write_oci_layout, Built};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("bad JSON ({e}): {s}"))
}

fn check_inspect(out: &str, built: &Built) {
    let v = json(out);
    assert_eq!(v["Architecture"], "amd64", "{out}");
    assert_eq!(v["Os"], "linux", "{out}");
    assert_eq!(v["Digest"], built.manifest_digest.as_str(), "{out}");
    assert_eq!(v["Created"], "2023-11-14T22:13:20Z", "{out}");
    assert_eq!(v["Layers"][0], built.layers[0].digest.as_str(), "{out}");
    assert_eq!(v["Labels"]["org.kimigayo.test"], "1", "{out}");
}

#[test]
fn skopeo_inspects_layout_and_archive() {
    let t = tempfile::tempdir().unwrap();
    let img = image(vec![
        layer_tar(&sample_entries(), EPOCH).unwrap(),
        layer_tar(&[file("two", b"2", 0o644)], EPOCH).unwrap(),
    ]);
    let dir = t.path().join("layout");
    let built = write_oci_layout(&img, &dir, "kimigayo-os:latest").unwrap();
    let out = run(Command::new("skopeo")
        .arg("inspect")
        .arg(format!("oci:{}:kimigayo-os:latest", dir.display())));
    check_inspect(&out, &built);
    assert_eq!(json(&out)["Layers"].as_array().unwrap().len(), 2);

    let arch = t.path().join("img.tar");
    let built2 = write_oci_archive(&img, &arch, "kimigayo-os:latest").unwrap();
    assert_eq!(built, built2);
    let out = run(Command::new("skopeo")
        .arg("inspect")
        .arg(format!("oci-archive:{}", arch.display())));
    check_inspect(&out, &built);
    // The config skopeo sees has our diff_ids and one history entry per layer.
    let cfg = json(&run(Command::new("skopeo")
        .arg("inspect")
        .arg("--config")
        .arg(format!("oci-archive:{}", arch.display()))));
    assert_eq!(
        cfg["rootfs"]["diff_ids"][1],
        built.layers[1].diff_id.as_str()
    );
    assert_eq!(cfg["history"].as_array().unwrap().len(), 2);
    assert_eq!(cfg["history"][0]["created_by"], "kimigayo-oci test");
    // skopeo can copy it into a fresh layout and the manifest digest is preserved.
    let copy = t.path().join("copy");
    run(Command::new("skopeo")
        .args(["copy", "--preserve-digests"])
        .arg(format!("oci-archive:{}", arch.display()))
        .arg(format!("oci:{}:x", copy.display())));
    let out = run(Command::new("skopeo")
        .arg("inspect")
        .arg(format!("oci:{}:x", copy.display())));
    assert_eq!(json(&out)["Digest"], built.manifest_digest.as_str());
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn umoci_unpack_reproduces_files() {
    let t = tempfile::tempdir().unwrap();
    let img = image(vec![layer_tar(&sample_entries(), EPOCH).unwrap()]);
    let dir = t.path().join("layout");
    write_oci_layout(&img, &dir, "kimigayo-os:latest").unwrap();
    let bundle = t.path().join("bundle");
    run(Command::new("umoci")
        .args(["unpack", "--rootless", "--image"])
        .arg(format!("{}:kimigayo-os:latest", dir.display()))
        .arg(&bundle));
    let root = bundle.join("rootfs");
    assert_eq!(
        std::fs::read(root.join("etc/motd")).unwrap(),
        b"welcome to kimigayo\n"
    );
    assert_eq!(mode(&root.join("etc/motd")), 0o644);
    assert_eq!(mode(&root.join("etc/shadow")), 0o640);
    assert_eq!(mode(&root.join("secret")), 0o600);
    assert_eq!(mode(&root.join("usr/bin/tool")), 0o755);
    assert_eq!(mode(&root.join("tmp")), 0o1777);
    assert_eq!(mode(&root.join("usr")), 0o755, "implicit parent");
    assert_eq!(
        std::fs::read_link(root.join("bin")).unwrap(),
        Path::new("usr/bin")
    );
    assert_eq!(
        std::fs::read_link(root.join("etc/long-link"))
            .unwrap()
            .to_str()
            .unwrap()
            .len(),
        151
    );
    assert_eq!(std::fs::read(root.join(long_name())).unwrap(), b"long\n");
    assert_eq!(
        std::fs::metadata(root.join("etc/motd")).unwrap().mtime(),
        EPOCH as i64
    );
    let cfg = json(&std::fs::read_to_string(bundle.join("config.json")).unwrap());
    assert_eq!(cfg["process"]["args"][0], "/hello");
    assert!(cfg["process"]["env"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e == "PATH=/usr/bin:/bin"));
}

struct Podman {
    conf: tempfile::TempDir,
    cleanup: Vec<String>,
}

impl Podman {
    fn new() -> Self {
        let conf = tempfile::tempdir().unwrap();
        std::fs::write(
            conf.path().join("containers.conf"),
            "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=20000:20000\"]\nnetns = \"none\"\n\n\
             [engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
        )
        .unwrap();
        Podman {
            conf,
            cleanup: Vec::new(),
        }
    }
    fn cmd(&self) -> Command {
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", self.conf.path().join("containers.conf"));
        c
    }
    /// `podman load -i`, returning the names podman reports.
    fn load(&mut self, archive: &Path) -> String {
        let out = run(self.cmd().args(["load", "-q", "-i"]).arg(archive));
        out.lines()
            .filter_map(|l| l.strip_prefix("Loaded image: "))
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        for name in &self.cleanup {
            let _ = self.cmd().args(["rmi", "-f", name]).output();
        }
    }
}

#[test]
fn podman_loads_and_runs_both_archive_formats() {
    let t = tempfile::tempdir().unwrap();
    let hello = static_hello(t.path());
    let entries = vec![
        file("hello", &hello, 0o755),
        dir("etc", 0o755),
        file("etc/motd", b"hi\n", 0o644),
    ];
    let img = image(vec![layer_tar(&entries, EPOCH).unwrap()]);
    let uniq = format!("kimigayo-oci-test-{}-{}", std::process::id(), EPOCH);
    let mut podman = Podman::new();

    // OCI archive: a registry-less name loads as localhost/NAME.
    let oci_name = format!("{uniq}-oci:latest");
    let arch = t.path().join("oci.tar");
    let built = write_oci_archive(&img, &arch, &oci_name).unwrap();
    podman.cleanup.push(format!("localhost/{oci_name}"));
    let loaded = podman.load(&arch);
    assert_eq!(loaded, format!("localhost/{oci_name}"));
    let id = run(podman
        .cmd()
        .args(["image", "inspect", "--format", "{{.Id}}"])
        .arg(&oci_name));
    assert_eq!(
        format!("sha256:{}", id.trim()),
        built.config_digest,
        "image id = config digest"
    );
    let out = run(podman.cmd().args(["run", "--rm", &oci_name, "/hello"]));
    assert_eq!(out, "hello from kimigayo-oci\n");
    // Default Cmd from the config works too.
    let out = run(podman.cmd().args(["run", "--rm", &oci_name]));
    assert_eq!(out, "hello from kimigayo-oci\n");

    // docker-archive: podman 4.3 `podman load` also names it localhost/NAME (the
    // docker.io/library/NAME form comes from loads through the Docker-compatible API).
    let dk_name = format!("{uniq}-docker:latest");
    let arch = t.path().join("docker.tar");
    write_docker_archive(&img, &arch, &dk_name).unwrap();
    podman.cleanup.push(format!("localhost/{dk_name}"));
    podman.cleanup.push(format!("docker.io/library/{dk_name}"));
    let loaded = podman.load(&arch);
    assert!(
        loaded == format!("localhost/{dk_name}")
            || loaded == format!("docker.io/library/{dk_name}"),
        "unexpected name {loaded:?}"
    );
    let id = run(podman
        .cmd()
        .args(["image", "inspect", "--format", "{{.Id}}"])
        .arg(&dk_name));
    assert_eq!(format!("sha256:{}", id.trim()), built.config_digest);
    let out = run(podman.cmd().args(["run", "--rm", &dk_name, "/hello"]));
    assert_eq!(out, "hello from kimigayo-oci\n");

    // `FROM short-name:tag` resolves to the loaded image without pulling.
    let ctx = t.path().join("ctx");
    std::fs::create_dir(&ctx).unwrap();
    std::fs::write(
        ctx.join("Containerfile"),
        format!("FROM {oci_name}\nRUN [\"/hello\"]\nLABEL child=1\n"),
    )
    .unwrap();
    let child = format!("{uniq}-child:latest");
    podman.cleanup.insert(0, format!("localhost/{child}"));
    let out = run(podman
        .cmd()
        .args(["build", "--pull=never", "-t", &child])
        .arg(&ctx));
    assert!(out.contains("hello from kimigayo-oci"), "{out}");
}
