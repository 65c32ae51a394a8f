use super::*;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;

fn source(sha: &str, urls: Vec<String>) -> Source {
    Source {
        name: "demo".into(),
        file: Some("demo.tar.gz".into()),
        sha256: Some(sha.into()),
        debian: None,
        urls,
        path: None,
        include: vec![],
        strip_components: None,
    }
}

fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A one-shot HTTP server answering every request with `body`.
fn serve(body: &'static [u8], requests: usize) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming().take(requests) {
            let mut s = s.unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            while r.read_line(&mut line).unwrap() > 2 {
                line.clear();
            }
            write!(s, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).unwrap();
            s.write_all(body).unwrap();
        }
    });
    format!("http://{addr}/demo.tar.gz")
}

#[test]
fn http_download_is_verified_and_cached() {
    let body: &'static [u8] = b"pinned bytes";
    let cache = tempfile::tempdir().unwrap();
    let f = Fetcher { cache_dir: cache.path().into(), mirror: None, offline: false };
    let src = source(&sha(body), vec![serve(body, 1)]);
    let (p, o) = f.fetch(&src).unwrap();
    assert!(matches!(o, Origin::Url(_)));
    assert_eq!(fs::read(&p).unwrap(), body);
    // Second fetch is served from the cache (the server accepts only one request).
    let (_, o) = f.fetch(&src).unwrap();
    assert_eq!(o, Origin::Cache);
}

#[test]
fn mismatch_is_a_hard_error_with_both_hashes_and_nothing_cached() {
    let body: &'static [u8] = b"tampered bytes";
    let cache = tempfile::tempdir().unwrap();
    let f = Fetcher { cache_dir: cache.path().into(), mirror: None, offline: false };
    let want = sha(b"the real bytes");
    let err = f.fetch(&source(&want, vec![serve(body, 1)])).unwrap_err().to_string();
    assert!(err.contains(&want) && err.contains(&sha(body)), "{err}");
    assert!(!cache.path().join("sources").join(&want).join("demo.tar.gz").exists());
}

#[test]
fn mirror_by_name_and_corrupt_cache_recovery() {
    let body = b"mirrored";
    let cache = tempfile::tempdir().unwrap();
    let mirror = tempfile::tempdir().unwrap();
    fs::write(mirror.path().join("demo.tar.gz"), body).unwrap();
    let f = Fetcher { cache_dir: cache.path().into(), mirror: Some(mirror.path().into()), offline: true };
    let src = source(&sha(body), vec![]);
    let (p, o) = f.fetch(&src).unwrap();
    assert!(matches!(o, Origin::Mirror(_)));
    fs::write(&p, b"bit rot").unwrap();
    let (p, o) = f.fetch(&src).unwrap();
    assert!(matches!(o, Origin::Mirror(_)), "corrupt cache entry must be refetched");
    assert_eq!(fs::read(p).unwrap(), body);
}

#[test]
fn offline_miss_names_what_to_do() {
    let cache = tempfile::tempdir().unwrap();
    let f = Fetcher { cache_dir: cache.path().into(), mirror: None, offline: true };
    let err = f.fetch(&source(&sha(b"x"), vec!["http://127.0.0.1:9/x".into()])).unwrap_err().to_string();
    assert!(err.contains("KIMIGAYO_SOURCE_MIRROR"), "{err}");
}

#[test]
fn dsc_checksum_lookup() {
    let dsc = "Format: 3.0\nChecksums-Sha256:\n abc 12 a.tar.gz\n def 34 b.tar.xz\nFiles:\n x 1 a.tar.gz\n";
    assert_eq!(debian::dsc_sha256(dsc, "b.tar.xz").as_deref(), Some("def"));
    assert_eq!(debian::dsc_sha256(dsc, "c"), None);
}
