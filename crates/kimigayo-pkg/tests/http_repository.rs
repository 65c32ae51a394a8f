//! Remote repositories over HTTP: mirrors tried in order, retries, and a clean failure
//! (nothing changed) when the network is gone.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;

use common::*;
use kimigayo_txn::NoFaults;

/// A tiny static file server for `dir` (GET only), running for the test's lifetime.
fn serve(dir: PathBuf) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut first = String::new();
            r.read_line(&mut first).unwrap();
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 2 {
                line.clear();
            }
            let path = first.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_string();
            match std::fs::read(dir.join(&path)) {
                Ok(body) => {
                    let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                    let _ = s.write_all(&body);
                }
                Err(_) => {
                    let _ = write!(s, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                }
            }
        }
    });
    format!("http://{addr}")
}

#[test]
fn install_over_http_with_a_dead_first_mirror() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    write_packages(&repo, &[Spec::new("net", "1.0-r1").deps(&["dep"]), Spec::new("dep", "1.0-r1")]);
    sign(&repo, 1, vec![]);
    let url = serve(repo.clone());
    // Port 9 (discard) refuses connections here: the first mirror is dead.
    let mirrors = format!("http://127.0.0.1:9|{url}");
    let root = new_root(dir.path(), &repo, "x86_64");
    let r = kimigayo_pkg::Root::open(&root, &[mirrors], None).unwrap();
    let report = r.add(&["net".to_string()], &NoFaults).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.changes.len(), 2);
    assert!(root.join("usr/share/dep/VERSION").is_file());
}

#[test]
fn network_failure_is_clean() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    write_packages(&repo, &[Spec::new("net", "1.0-r1")]);
    sign(&repo, 1, vec![]);
    let root = new_root(dir.path(), &repo, "x86_64");
    let r = kimigayo_pkg::Root::open(&root, &["http://127.0.0.1:9".to_string()], None).unwrap();
    let e = r.add(&["net".to_string()], &NoFaults).unwrap_err().to_string();
    assert!(e.contains("cannot fetch index.json") && e.contains("nothing was changed"), "{e}");
    assert!(!root.join("var/lib/kpkg/installed.json").exists());
}
