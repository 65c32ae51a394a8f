//! The `kpkg` command end to end: keys, signing a repository, installing, listing,
//! verifying and auditing, with human and --json output and meaningful exit codes.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

fn kpkg(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kpkg")).arg("--root").arg(root).args(args).output().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "kpkg failed: {}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn full_cycle_through_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    write_packages(&repo, &[Spec::new("app", "1.0-r1").deps(&["lib>=1"]), Spec::new("lib", "1.2-r1")]);
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("etc/kimigayo")).unwrap();
    std::fs::write(root.join("etc/kimigayo/arch"), "x86_64\n").unwrap();
    let (sec, public) = (dir.path().join("repo.sec"), dir.path().join("repo.asc"));
    let fpr = ok(&kpkg(&root, &["key", "generate", "--name", "CLI Test <cli@kimigayo.test>", "--secret", sec.to_str().unwrap(), "--public", public.to_str().unwrap()]));
    assert_eq!(fpr.trim().len(), 40);
    let adv = dir.path().join("adv.json");
    std::fs::write(&adv, r#"[{"id":"CVE-2026-0001","package":"lib","severity":"high","fixed_in":"1.3-r1","summary":"test"}]"#).unwrap();
    assert!(ok(&kpkg(&root, &["index", "build", repo.to_str().unwrap(), "--sign", sec.to_str().unwrap(), "--advisories", adv.to_str().unwrap()])).contains("signed 2 packages"));
    // Without a trusted key nothing installs, and the message says what to do.
    let refused = kpkg(&root, &["--repo", repo.to_str().unwrap(), "add", "app"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("kpkg key import"), "{}", String::from_utf8_lossy(&refused.stderr));
    assert!(ok(&kpkg(&root, &["key", "import", public.to_str().unwrap()])).contains(fpr.trim()));
    let added = ok(&kpkg(&root, &["--repo", repo.to_str().unwrap(), "add", "app"]));
    assert!(added.contains("add      app 1.0-r1") && added.contains("add      lib 1.2-r1"), "{added}");
    let list: serde_json::Value = serde_json::from_str(&ok(&kpkg(&root, &["--json", "list"]))).unwrap();
    assert!(list.get("app").is_some() && list.get("lib").is_some());
    assert!(ok(&kpkg(&root, &["verify"])).contains("match"));
    let audit = kpkg(&root, &["--repo", repo.to_str().unwrap(), "--json", "audit"]);
    assert_eq!(audit.status.code(), Some(1), "an open advisory makes audit fail");
    let v: serde_json::Value = serde_json::from_slice(&audit.stdout).unwrap();
    assert_eq!(v[0]["advisory"]["id"], "CVE-2026-0001");
    let del = ok(&kpkg(&root, &["--repo", repo.to_str().unwrap(), "del", "app"]));
    assert!(del.contains("remove   app") && del.contains("remove   lib"), "unneeded dependency removed too: {del}");
    let bad = kpkg(&root, &["--repo", repo.to_str().unwrap(), "add", "nosuch"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("nosuch"));
}

/// Runs `kpkg ARGS` with its stdout a pipe whose reader is already gone (`kpkg … | head -n0`).
fn into_closed_pipe(root: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kpkg"))
        .arg("--root")
        .arg(root)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn printing_commands_end_quietly_when_stdout_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let many: Vec<Spec> = (0..200).map(|i| Spec::new(&format!("pkg{i:03}"), "1.0-r1")).collect();
    write_packages(&repo, &many);
    sign(&repo, 1, vec![]);
    let root = new_root(dir.path(), &repo, "x86_64");
    let names: Vec<String> = (0..50).map(|i| format!("pkg{i:03}")).collect();
    kimigayo_pkg::Root::open(&root, &[], None).unwrap().add(&names, &kimigayo_txn::NoFaults).unwrap();
    for args in [&["list"][..], &["--json", "list"], &["info", "pkg001"], &["audit"], &["verify"], &["key", "list"], &["--help"]] {
        let o = into_closed_pipe(&root, args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "kpkg {args:?}: {err}");
        use std::os::unix::process::ExitStatusExt;
        assert!(o.status.success() || o.status.signal() == Some(libc::SIGPIPE), "kpkg {args:?}: {:?} {err}", o.status);
    }
}
