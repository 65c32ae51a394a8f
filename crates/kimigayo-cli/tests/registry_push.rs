//! `kimigayo image push` against a real registry: Debian's `docker-registry` (distribution 2.8)
//! on loopback. The signed default image is pushed (skopeo, digests preserved), pulled back by
//! podman and by the Docker Engine, run, and both report the signed manifest digest.

use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

fn project() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn kimigayo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kimigayo")).arg("--project").arg(project()).args(args).output().unwrap()
}

fn ok(what: &str, o: Output) -> String {
    assert!(o.status.success(), "{what} failed:\n{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

struct Registry(Child);
impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A registry on a free loopback port, storing under `dir`.
fn registry(dir: &Path) -> (Registry, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let conf = dir.join("config.yml");
    std::fs::write(&conf, format!("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n", dir.join("data").display())).unwrap();
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&conf)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join("registry.log")).unwrap())
        .spawn()
        .expect("docker-registry is installed (scripts/setup.sh)");
    let r = Registry(child);
    let end = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < end, "the registry did not listen on {addr}: {}", std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(50));
    }
    (r, addr)
}

fn podman(conf: &Path, args: &[&str]) -> Output {
    Command::new("podman").env("CONTAINERS_CONF", conf).args(args).output().expect("podman is installed (scripts/setup.sh)")
}

#[test]
fn push_to_a_real_registry_and_pull_back_with_podman_and_docker() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    ok("kimigayo image build", kimigayo(&["image", "build", "--config", "images/base.yaml", "--out", out.to_str().unwrap()]));
    let signed = std::fs::read_to_string(out.join("kimigayo-os-x86_64.digest")).unwrap();
    let digest = signed.split_whitespace().next().unwrap().to_string();
    let (_reg, addr) = registry(dir.path());
    let reference = format!("{addr}/kimigayo-os:e2e");
    let pushed = ok("kimigayo image push", kimigayo(&["image", "push", "--out", out.to_str().unwrap(), "--tls-verify=false", &reference]));
    assert!(pushed.contains(&digest), "{pushed}");
    // A refusal: an unsigned archive (its signature removed) is not pushed.
    std::fs::copy(out.join("kimigayo-os-x86_64.oci.tar"), dir.path().join("copy.oci.tar")).unwrap();
    let o = kimigayo(&["image", "push", "--out", out.to_str().unwrap(), "--image", dir.path().join("copy.oci.tar").to_str().unwrap(), "--tls-verify=false", &reference]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("only a signed image is pushed"), "{}", String::from_utf8_lossy(&o.stderr));

    // podman pulls it back: same digest, and it runs.
    let conf = dir.path().join("containers.conf");
    std::fs::write(&conf, "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=20000:20000\"]\nnetns = \"none\"\n\n[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n").unwrap();
    ok("podman pull", podman(&conf, &["pull", "--tls-verify=false", &reference]));
    let got = ok("podman inspect", podman(&conf, &["inspect", "--format", "{{.Digest}}", &reference]));
    assert_eq!(got.trim(), digest, "podman's pulled digest is the signed one");
    let hi = ok("podman run", podman(&conf, &["run", "--rm", &reference, "sh", "-c", "echo pulled-and-ran"]));
    assert!(hi.contains("pulled-and-ran"));
    let _ = podman(&conf, &["rmi", "-f", &reference]);

    // The Docker Engine (insecure registries on 127.0.0.0/8 are allowed by default).
    let docker = |args: &[&str]| Command::new("docker").args(args).output().expect("the docker CLI");
    ok("docker pull", docker(&["pull", "-q", &reference]));
    let got = ok("docker image inspect", docker(&["image", "inspect", "--format", "{{index .RepoDigests 0}}", &reference]));
    let _ = docker(&["rmi", "-f", &reference]);
    assert!(got.trim().ends_with(&digest), "docker's pulled digest is the signed one: {got}");
}
