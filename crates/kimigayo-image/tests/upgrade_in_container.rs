//! Upgrading a running container for real: a container of the kpkg image (plus the init
//! package, whose scripts need `sh`), its repository served over HTTP on loopback with a newer
//! busybox and an advisory for the one in the image. In the running container:
//! `kpkg audit` reports the advisory, `kpkg upgrade --security-only` replaces busybox in one
//! transaction while a shell loop keeps running, the other packages stay as they were,
//! `kpkg verify` is clean, `kpkg audit` reports nothing open, and `kpkg del busybox` is refused
//! because kimigayo-init needs `sh`. Everything kpkg trusts comes from the image itself (its
//! database, trust root and serial floor): the test only writes the repository URL.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

/// A static file server for `dir` on loopback (GET only), for the test's lifetime.
fn serve(dir: PathBuf) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut first = String::new();
            let _ = r.read_line(&mut first);
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 2 {
                line.clear();
            }
            let path = first.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_string();
            match std::fs::read(dir.join(&path)) {
                Ok(body) if !path.contains("..") => {
                    let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                    let _ = s.write_all(&body);
                }
                _ => {
                    let _ = write!(s, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                }
            }
        }
    });
    format!("http://{addr}")
}

/// A copy of the test repository with busybox also as 1.37.0-r99 (same files, a new
/// release) and an advisory fixed in it, signed at the next serial by the same key.
fn newer_repo(dir: &Path) -> PathBuf {
    let dst = dir.join("served").join("repo");
    kimigayo_build::toolchain::copy_tree(&repo().path, &dst).unwrap();
    let current = kimigayo_pkg::read_signed_index(&repo().path, &repo().keys, std::time::SystemTime::now()).unwrap();
    let repository = kimigayo_package::Repository::new(&dst);
    let mut metas = repository.packages().unwrap();
    for (archive, m) in &metas {
        let json = archive.with_extension("").with_extension("json");
        let mut m = m.clone();
        m.checksum.gpg_signature = None;
        std::fs::write(json, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    }
    let (archive, old) = metas.drain(..).find(|(_, m)| m.name == "busybox").expect("busybox in the test repository");
    let mut new = old.clone();
    new.version = "1.37.0-r99".into();
    new.filename = old.filename.replace("1.37.0-r1", "1.37.0-r99");
    new.checksum.gpg_signature = None;
    kimigayo_package::repo::publish(&repository, &archive, &new).unwrap();
    let adv = kimigayo_pkg::Advisory {
        id: "KSA-2026-0042".into(),
        package: "busybox".into(),
        severity: "high".into(),
        fixed_in: "1.37.0-r99".into(),
        summary: "test advisory".into(),
    };
    kimigayo_pkg::build_named_index(&dst, &current.origin, &repo().secret, current.serial + 1, Duration::from_secs(86_400), vec![adv], std::time::SystemTime::now())
        .unwrap_or_else(|e| panic!("{e}"));
    dst
}

fn field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines().find_map(|l| l.strip_prefix(&format!("{key}="))).unwrap_or_else(|| panic!("no {key}= in:\n{out}"))
}

const SCRIPT: &str = r#"
echo "$URL" > /etc/kimigayo/repositories
kpkg list > /tmp/before
kpkg audit > /tmp/audit1 2>&1; echo "audit1_exit=$?"
echo "audit1=$(grep -c KSA-2026-0042 /tmp/audit1)"
a=$(cat /tmp/loop)
kpkg upgrade --security-only > /tmp/upgrade 2>&1; echo "upgrade_exit=$?"
echo "upgrade=$(tr '\n' '|' < /tmp/upgrade)"
sleep 0.5; b=$(cat /tmp/loop)
echo "loop_went_on=$([ "$b" -gt "$a" ] && echo yes || echo no)"
echo "loop_alive=$(kill -0 $(cat /tmp/loop.pid) && echo yes || echo no)"
kpkg list > /tmp/after
echo "busybox=$(grep '^busybox ' /tmp/after | tr -s ' ')"
grep -v '^busybox ' /tmp/after > /tmp/after.others
echo "others_same=$(grep -v '^busybox ' /tmp/before | cmp -s - /tmp/after.others && echo yes || echo no)"
kpkg verify > /tmp/verify 2>&1; echo "verify_exit=$?"
kpkg audit > /tmp/audit2 2>&1; echo "audit2_exit=$?"
kpkg del busybox > /tmp/del 2>&1; echo "del_exit=$?"
echo "del=$(tr '\n' '|' < /tmp/del)"
echo "shell_still_there=$(/bin/sh -c 'echo yes')"
echo "serial=$(grep -A2 origin_serials /var/lib/kpkg/installed.json | tr -d ' \n')"
"#;

#[test]
fn a_security_upgrade_lands_in_a_running_container_from_an_http_repository() {
    let dir = tempfile::tempdir().unwrap();
    let served = newer_repo(dir.path());
    let url = serve(served);
    let mut spec = kimigayo_image::ImageSpec::load(&root().join("images/kpkg.yaml")).unwrap();
    spec.image.name = "kimigayo-upgrade-e2e".into();
    spec.image.packages.push("kimigayo-init".into());
    let rep = kimigayo_image::build(&spec, &repo().path, &repo().keys, repo().epoch, &dir.path().join("out")).unwrap_or_else(|e| panic!("{e}"));
    let _img = load(&rep.oci_archive, "kimigayo-upgrade-e2e");
    let name = format!("kimigayo-upgrade-e2e-{}", std::process::id());
    // The workload: a shell loop that must keep running across the upgrade (no init: the
    // image's own entrypoint is replaced so the loop is the container's main process).
    ok(podman(&[
        "run", "-d", "--network", "host", "--name", &name, "--entrypoint", "/bin/sh", "localhost/kimigayo-upgrade-e2e:latest",
        "-c", "echo $$ > /tmp/loop.pid; i=0; while :; do i=$((i+1)); echo $i > /tmp/loop; sleep 0.05; done",
    ]));
    struct Rm(String);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = podman(&["rm", "-f", "-t", "0", &self.0]);
        }
    }
    let _rm = Rm(name.clone());
    std::thread::sleep(Duration::from_millis(300));
    let o = podman(&["exec", "-e", &format!("URL={url}"), &name, "/bin/sh", "-c", SCRIPT]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let all = format!("{out}\n--- stderr\n{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(field(&out, "audit1_exit"), "1", "the advisory is open before\n{all}");
    assert_eq!(field(&out, "audit1"), "1", "{all}");
    assert_eq!(field(&out, "upgrade_exit"), "0", "{all}");
    assert!(field(&out, "upgrade").contains("busybox") && field(&out, "upgrade").contains("1.37.0-r99"), "{all}");
    assert_eq!(field(&out, "loop_went_on"), "yes", "the workload kept running\n{all}");
    assert_eq!(field(&out, "loop_alive"), "yes", "{all}");
    assert!(field(&out, "busybox").starts_with("busybox 1.37.0-r99"), "{all}");
    assert_eq!(field(&out, "others_same"), "yes", "only busybox changed\n{all}");
    assert_eq!(field(&out, "verify_exit"), "0", "{all}");
    assert_eq!(field(&out, "audit2_exit"), "0", "no open advisory after\n{all}");
    assert_ne!(field(&out, "del_exit"), "0", "{all}");
    assert!(field(&out, "del").contains("kimigayo-init") && field(&out, "del").contains("sh"), "the refusal names who needs it\n{all}");
    assert_eq!(field(&out, "shell_still_there"), "yes", "{all}");
    assert!(field(&out, "serial").contains(&format!(":{}", kimigayo_pkg::read_signed_index(&repo().path, &repo().keys, std::time::SystemTime::now()).unwrap().serial + 1)), "the newer serial is recorded\n{all}");
}
