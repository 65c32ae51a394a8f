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

/// What a hostile test mirror answers.
enum Reply {
    File(Vec<u8>),
    Redirect(String),
    /// 200 with no length and zeros until the client hangs up; counts what it sent.
    Endless(std::sync::Arc<std::sync::atomic::AtomicU64>),
    /// 200 with a large length, then one byte every 200 ms.
    Trickle,
    NotFound,
}

fn serve_with(answer: impl Fn(&str) -> Reply + Send + Sync + 'static) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let answer = std::sync::Arc::new(answer);
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let answer = answer.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut first = String::new();
                r.read_line(&mut first).unwrap_or(0);
                let mut line = String::new();
                while r.read_line(&mut line).unwrap_or(0) > 2 {
                    line.clear();
                }
                let path = first.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_string();
                match answer(&path) {
                    Reply::File(body) => {
                        let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                        let _ = s.write_all(&body);
                    }
                    Reply::Redirect(to) => {
                        let _ = write!(s, "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    }
                    Reply::Endless(sent) => {
                        let _ = write!(s, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
                        let chunk = vec![0u8; 64 << 10];
                        while s.write_all(&chunk).is_ok() {
                            sent.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::SeqCst);
                            if sent.load(std::sync::atomic::Ordering::SeqCst) > 1 << 30 {
                                break;
                            }
                        }
                    }
                    Reply::Trickle => {
                        let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n");
                        for _ in 0..100 {
                            if s.write_all(b"x").is_err() {
                                break;
                            }
                            std::thread::sleep(std::time::Duration::from_millis(200));
                        }
                    }
                    Reply::NotFound => {
                        let _ = write!(s, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

fn file_or_404(dir: &std::path::Path, path: &str) -> Reply {
    std::fs::read(dir.join(path)).map_or(Reply::NotFound, Reply::File)
}

fn http_repo(dir: &std::path::Path) -> PathBuf {
    let repo = dir.join("repo");
    write_packages(&repo, &[Spec::new("net", "1.0-r1")]);
    sign(&repo, 1, vec![]);
    repo
}

#[test]
fn an_endless_package_from_a_lying_mirror_stops_at_the_signed_size_and_the_next_mirror_serves() {
    let dir = tempfile::tempdir().unwrap();
    let repo = http_repo(dir.path());
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (r1, s1) = (repo.clone(), sent.clone());
    let liar = serve_with(move |p| if p.ends_with(".tar.gz") { Reply::Endless(s1.clone()) } else { file_or_404(&r1, p) });
    let r2 = repo.clone();
    let good = serve_with(move |p| file_or_404(&r2, p));
    let root = new_root(dir.path(), &repo, "x86_64");
    let r = kimigayo_pkg::Root::open(&root, &[format!("{liar}|{good}")], None).unwrap();
    r.add(&["net".to_string()], &NoFaults).unwrap_or_else(|e| panic!("{e}"));
    assert!(root.join("usr/share/net/VERSION").is_file());
    let served = sent.load(std::sync::atomic::Ordering::SeqCst);
    assert!(served < 64 << 20, "the client kept reading a lying mirror: {served} bytes");
}

#[test]
fn a_redirect_to_another_host_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let repo = http_repo(dir.path());
    let r2 = repo.clone();
    let other = serve_with(move |p| file_or_404(&r2, p)).replace("127.0.0.1", "localhost");
    let o = other.clone();
    let redirector = serve_with(move |p| Reply::Redirect(format!("{o}/{p}")));
    let root = new_root(dir.path(), &repo, "x86_64");
    let r = kimigayo_pkg::Root::open(&root, &[redirector.clone()], None).unwrap();
    let e = r.add(&["net".to_string()], &NoFaults).unwrap_err().to_string();
    assert!(e.contains("another host (localhost)") && e.contains("redirect-hosts=localhost"), "{e}");
    // Configured, the same redirect is followed.
    let r = kimigayo_pkg::Root::open(&root, &[format!("{redirector} redirect-hosts=localhost")], None).unwrap();
    r.add(&["net".to_string()], &NoFaults).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_stalled_mirror_hits_the_deadline_and_the_next_mirror_serves() {
    let dir = tempfile::tempdir().unwrap();
    let repo = http_repo(dir.path());
    let r1 = repo.clone();
    let slow = serve_with(move |p| if p.ends_with(".tar.gz") { Reply::Trickle } else { file_or_404(&r1, p) });
    let r2 = repo.clone();
    let good = serve_with(move |p| file_or_404(&r2, p));
    let root = new_root(dir.path(), &repo, "x86_64");
    let mut r = kimigayo_pkg::Root::open(&root, &[format!("{slow}|{good}")], None).unwrap();
    if let kimigayo_pkg::RepoSource::Http(h) = &mut r.repos[0] {
        h.deadline = std::time::Duration::from_secs(2);
    }
    let t = std::time::Instant::now();
    r.add(&["net".to_string()], &NoFaults).unwrap_or_else(|e| panic!("{e}"));
    assert!(t.elapsed() < std::time::Duration::from_secs(15), "the deadline did not stop the stalled mirror ({:?})", t.elapsed());
}

#[test]
fn a_mirror_serving_a_tampered_package_is_skipped_for_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let repo = http_repo(dir.path());
    let r1 = repo.clone();
    let bad = serve_with(move |p| match file_or_404(&r1, p) {
        Reply::File(mut b) if p.ends_with(".tar.gz") => {
            let n = b.len() / 2;
            b[n] ^= 0x55;
            Reply::File(b)
        }
        other => other,
    });
    let r2 = repo.clone();
    let good = serve_with(move |p| file_or_404(&r2, p));
    let root = new_root(dir.path(), &repo, "x86_64");
    let r = kimigayo_pkg::Root::open(&root, &[format!("{bad}|{good}")], None).unwrap();
    r.add(&["net".to_string()], &NoFaults).unwrap_or_else(|e| panic!("{e}"));
    // Alone, the tampering mirror is refused with the integrity error itself.
    let root2 = tempfile::tempdir().unwrap();
    let root2 = new_root(root2.path(), &repo, "x86_64");
    let e = kimigayo_pkg::Root::open(&root2, &[bad], None).unwrap().add(&["net".to_string()], &NoFaults).unwrap_err().to_string();
    assert!(e.contains("SHA-256 mismatch"), "{e}");
}
