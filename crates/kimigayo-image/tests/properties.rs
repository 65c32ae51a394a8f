//! Image properties 1 (size), 3 (essential utilities) and 23 (build metadata) over random
//! image configurations built from the real packages; property 3 runs in a container of
//! every shipped profile.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use common::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Config {
    extra: Vec<&'static str>,
    env: Vec<String>,
    workdir: &'static str,
    user: &'static str,
    labels: BTreeMap<String, String>,
}

fn config() -> impl Strategy<Value = Config> {
    (
        prop::sample::subsequence(vec!["baselayout", "musl", "kimigayo-tools"], 0..=3),
        prop::collection::vec("[A-Z]{1,8}=[a-z0-9]{0,12}", 0..4),
        prop::sample::select(vec!["/", "/root", "/tmp", "/home/nonroot"]),
        prop::sample::select(vec!["", "root", "65532"]),
        prop::collection::btree_map("org\\.example\\.[a-z]{1,8}", "[a-z0-9 ]{0,20}", 0..3),
    )
        .prop_map(|(extra, env, workdir, user, labels)| Config { extra, env, workdir, user, labels })
}

fn build(c: &Config, name: &str) -> (tempfile::TempDir, kimigayo_image::Report, kimigayo_image::ImageSpec) {
    let r = repo();
    let mut pkgs = vec!["busybox"];
    pkgs.extend(c.extra.iter().copied());
    let mut s = spec(&pkgs, name);
    s.image.env.extend(c.env.iter().cloned());
    s.image.workdir = c.workdir.into();
    s.image.user = c.user.into();
    s.image.labels.extend(c.labels.clone());
    let out = tempfile::tempdir().unwrap();
    let report = kimigayo_image::build(&s, &r.path, &r.keys, r.epoch, out.path()).unwrap_or_else(|e| panic!("{e}"));
    (out, report, s)
}

/// The files of the image's single layer, read back from the OCI layout.
fn layer_files(report: &kimigayo_image::Report) -> BTreeMap<String, Vec<u8>> {
    let blobs = report.oci_layout.join("blobs/sha256");
    let mut biggest = None;
    for e in std::fs::read_dir(&blobs).unwrap() {
        let p = e.unwrap().path();
        let len = std::fs::metadata(&p).unwrap().len();
        if biggest.as_ref().is_none_or(|(l, _)| len > *l) {
            biggest = Some((len, p));
        }
    }
    let f = std::fs::File::open(biggest.unwrap().1).unwrap();
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut out = BTreeMap::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().trim_end_matches('/').to_string();
        let mut d = Vec::new();
        e.read_to_end(&mut d).unwrap();
        out.insert(p, d);
    }
    out
}

/// One running container per profile (built, loaded and started on first use; `sleep` as
/// the command, under kimigayo-init in the init profile), shared by the cases.
struct Running {
    name: String,
    _image: ProfileImage,
}

fn profile_container(i: usize) -> &'static Running {
    static C: OnceLock<Vec<OnceLock<Running>>> = OnceLock::new();
    let all = C.get_or_init(|| PROFILES.iter().map(|_| OnceLock::new()).collect());
    all[i].get_or_init(|| {
        let image = build_profile("kimigayo-p3", i);
        let name = format!("kimigayo-p3-{i}-{}", std::process::id());
        ok(podman(&["run", "-d", "--rm", "--name", &name, "--user", "0", &image.image, "sleep", "3600"]));
        Running { name, _image: image }
    })
}

/// After the last case, remove the containers and images.
fn finish_case() {
    static DONE: AtomicUsize = AtomicUsize::new(0);
    if DONE.fetch_add(1, Ordering::SeqCst) + 1 == P3_CASES as usize {
        remove_profiles("kimigayo-p3");
    }
}

const P3_CASES: u32 = 100;

/// `check U CMDS`: runs CMDS in a fresh folder; prints `ok U` or `FAIL U: <its output>`.
/// `eq GOT WANT` fails printing both; `reap PID` gives a background server 3 s to finish.
const CHECK_FNS: &str = r#"
eq() { [ "$1" = "$2" ] || { echo "got [$1] want [$2]"; return 1; }; }
reap() { i=0; while kill -0 $1 2>/dev/null && [ $i -lt 30 ]; do i=$((i+1)); sleep 0.1; done; kill $1 2>/dev/null; wait $1; }
check() { d=$(mktemp -d); if (cd $d && eval "$2") > $d.log 2>&1; then echo "ok $1"; else echo "FAIL $1: $(tr '\n' ' ' < $d.log)"; fi; rm -rf $d $d.log; }
"#;

/// A real operation of each essential utility with a checked result.
fn utility_check(u: &str) -> &'static str {
    match u {
        "sh" => r#"eq "$(sh -c 'x=6; echo $((x * 7))')" 42"#,
        "ls" => "touch b a && mkdir c && eq \"$(ls | tr '\\n' ' ')\" 'a b c '",
        "cp" => "echo data > a && cp a b && eq \"$(cat b)\" data",
        "mv" => "echo data > a && mv a b && [ ! -e a ] && eq \"$(cat b)\" data",
        "rm" => "mkdir -p x/y && touch x/y/f && rm -r x && [ ! -e x ]",
        "mkdir" => "mkdir -p x/y/z && [ -d x/y/z ]",
        "cat" => "printf 'a\\n' > f && printf 'b\\n' > g && eq \"$(cat f g | tr '\\n' ' ')\" 'a b '",
        "echo" => "eq \"$(echo -n abc; echo def)\" abcdef",
        "grep" => "eq \"$(printf 'foo\\nbar\\nbaz\\n' | grep -c '^ba')\" 2",
        "sed" => "eq \"$(echo hello | sed 's/l/L/g')\" heLLo",
        "awk" => "eq \"$(printf '1 2\\n3 4\\n' | awk '{ s += $2 } END { print s }')\" 6",
        "find" => "mkdir -p a/b && touch a/b/f a/g && eq \"$(find . -name f -type f)\" ./a/b/f",
        "xargs" => "eq \"$(printf 'a\\nb\\n' | xargs echo x)\" 'x a b'",
        "sort" => "eq \"$(printf '10\\n9\\n100\\n' | sort -n | tr '\\n' ' ')\" '9 10 100 '",
        "tar" => "mkdir -p s/d && echo one > s/d/f && ln -s d/f s/l && tar cf t.tar s && mkdir o && tar xf t.tar -C o && eq \"$(cat o/s/d/f)\" one && [ -L o/s/l ] && eq \"$(cat o/s/l)\" one",
        "gzip" => "seq 1 2000 > f && cp f g && gzip f && [ -s f.gz ] && [ ! -e f ] && gzip -d f.gz && cmp f g",
        "wget" => "(printf 'HTTP/1.0 200 OK\\r\\nContent-Length: 5\\r\\n\\r\\nhello' | nc -l -p 18080 > req) & p=$!; sleep 0.3; got=$(wget -q -O - http://127.0.0.1:18080/x); reap $p; eq \"$got\" hello && grep -q '^GET /x ' req",
        "nc" => "(nc -l -p 18081 > got) & p=$!; sleep 0.3; echo ping | nc 127.0.0.1 18081; reap $p; eq \"$(cat got)\" ping",
        "ps" => "eq \"$(ps -o pid,comm | awk '$1 == 1 { print \"found\" }')\" found",
        "top" => "top -b -n 1 > out && grep -q '^ *1 ' out && grep -q PID out",
        "kill" => "sleep 100 & p=$!; kill $p; wait $p; eq $? 143",
        "mount" => "mount > m && grep -q ' on / ' m && grep -q ' on /proc type proc' m",
        "ip" => "ip -o link show lo > l && grep -q 'lo: <LOOPBACK' l && ip addr show lo | grep -q 'inet 127.0.0.1/8'",
        "vi" => "echo abc > f && vi -c ':s/a/X/' -c ':wq' f < /dev/null > /dev/null 2>&1; eq \"$(cat f)\" Xbc",
        "date" => "eq \"$(date -u -d @86400 +%Y-%m-%d)\" 1970-01-02",
        "id" => "eq \"$(id -u):$(id -g)\" 0:0 && eq \"$(id -un)\" root",
        "chmod" => "touch f && chmod 640 f && eq \"$(ls -l f | cut -c1-10)\" -rw-r-----",
        "chown" => "touch f && chown 65532:65532 f && eq \"$(ls -n f | awk '{ print $3 \":\" $4 }')\" 65532:65532",
        "ln" => "echo t > a && ln -s a l && ln a h && [ -L l ] && eq \"$(cat l)\" t && eq \"$(ls -l h | awk '{ print $2 }')\" 2",
        "df" => "eq \"$(df -k / | awk 'NR == 2 && $2 > 0 { print \"ok\" }')\" ok",
        "du" => "dd if=/dev/zero of=f bs=1024 count=64 2>/dev/null && eq \"$(du -k f | awk '{ print ($1 >= 64) }')\" 1",
        "head" => "eq \"$(seq 1 10 | head -n 3 | tr '\\n' ' ')\" '1 2 3 '",
        "tail" => "eq \"$(seq 1 10 | tail -n 2 | tr '\\n' ' ')\" '9 10 '",
        "tee" => "eq \"$(echo x | tee f)\" x && eq \"$(cat f)\" x",
        "wc" => "eq \"$(printf 'a b\\nc\\n' | wc -w | tr -d ' ')\" 3 && eq \"$(printf 'a b\\nc\\n' | wc -l | tr -d ' ')\" 2",
        other => panic!("no check for essential utility {other}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, failure_persistence: None, ..ProptestConfig::default() })]

    // **Feature: kimigayo-os-core, Property 1: 任意のビルド設定に対して、生成されるBase_Imageのサイズは5MB未満でなければならない**
    #[test]
    fn any_build_configuration_gives_an_image_under_5_mb(c in config()) {
        let (_out, r, _) = build(&c, "kimigayo-p1");
        prop_assert!(r.compressed_size < 5 * 1024 * 1024, "compressed {} B", r.compressed_size);
        prop_assert!(r.uncompressed_size < 5 * 1024 * 1024, "uncompressed {} B", r.uncompressed_size);
        let archive = std::fs::metadata(&r.oci_archive).unwrap().len();
        prop_assert!(archive < 5 * 1024 * 1024, "oci-archive {} B", archive);
    }

    // **Feature: kimigayo-os-core, Property 23: 任意のイメージに対して、Build_Systemは検証用のビルドメタデータを含めなければならない**
    #[test]
    fn every_image_carries_its_build_metadata(c in config()) {
        let (_out, r, s) = build(&c, "kimigayo-p23");
        let files = layer_files(&r);
        let info: serde_json::Value = serde_json::from_slice(&files["etc/kimigayo/build-info.json"]).unwrap();
        let sbom: serde_json::Value = serde_json::from_slice(&files["etc/kimigayo/sbom.spdx.json"]).unwrap();
        prop_assert_eq!(&sbom, &serde_json::from_slice::<serde_json::Value>(&std::fs::read(&r.sbom).unwrap()).unwrap(), "the SBOM beside the image is the one inside");
        prop_assert_eq!(sbom["spdxVersion"].as_str(), Some("SPDX-2.3"));
        prop_assert_eq!(info["image"].as_str().unwrap(), format!("{}:{}", s.image.name, s.image.tag));
        let listed: Vec<&serde_json::Value> = info["packages"].as_array().unwrap().iter().collect();
        prop_assert_eq!(listed.len(), r.packages.len());
        let repo_pkgs = kimigayo_package::Repository::new(&repo().path).packages().unwrap();
        for p in &r.packages {
            let (_, meta) = repo_pkgs.iter().find(|(_, m)| m.name == p.name).unwrap();
            let entry = listed.iter().find(|e| e["name"] == p.name.as_str());
            prop_assert!(entry.is_some(), "{} missing from build-info", p.name);
            let e = entry.unwrap();
            prop_assert_eq!(e["version"].as_str(), Some(meta.version.as_str()));
            prop_assert_eq!(e["sha256"].as_str(), Some(meta.checksum.sha256.as_str()));
            prop_assert_eq!(e["license"].as_str(), Some(meta.license.as_str()));
            prop_assert_eq!(e["build_hash"].as_str(), Some(meta.build_info.build_hash.as_str()));
            prop_assert_eq!(e["sources"].as_array().map(|a| a.len()), Some(meta.build_info.sources.len()));
            let sp = sbom["packages"].as_array().unwrap().iter().find(|x| x["name"] == p.name.as_str());
            prop_assert!(sp.is_some(), "{} missing from the SBOM", p.name);
            prop_assert_eq!(sp.unwrap()["checksums"][0]["checksumValue"].as_str(), Some(meta.checksum.sha256.as_str()));
        }
        prop_assert!(files.contains_key("etc/kimigayo/system.conf"));
    }

    // **Feature: kimigayo-os-core, Property 3: 任意のシステム構成に対して、すべての必須UnixユーティリティがCore_Utilitiesを通じて利用可能でなければならない**
    #[test]
    fn every_configuration_provides_the_essential_utilities(profile in 0..PROFILES.len(), pick in prop::sample::subsequence(ESSENTIAL.to_vec(), 3..10)) {
        let c = profile_container(profile);
        // Every essential utility resolves on PATH, and each drawn one does real work whose
        // result is checked (a failing check prints what it got).
        let mut script = String::from(CHECK_FNS);
        script.push_str("for u in");
        for u in ESSENTIAL { script.push(' '); script.push_str(u); }
        script.push_str("; do command -v $u >/dev/null || echo \"MISSING $u\"; done\n");
        for u in &pick {
            script.push_str(&format!("check {u} '{}'\n", utility_check(u).replace('\'', "'\\''")));
        }
        let out = podman(&["exec", "--user", "0", &c.name, "/bin/sh", "-c", &script]);
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        prop_assert!(out.status.success(), "{}: podman exec failed: {}", PROFILES[profile].0, text);
        let missing: Vec<&str> = text.lines().filter(|l| l.starts_with("MISSING ")).collect();
        prop_assert!(missing.is_empty(), "{}: {:?}", PROFILES[profile].0, missing);
        for u in &pick {
            prop_assert!(text.lines().any(|l| l == format!("ok {u}")), "{}: `{}` did not do its job: {}", PROFILES[profile].0, u, text.lines().find(|l| l.starts_with(&format!("FAIL {u}:"))).unwrap_or(&text));
        }
        finish_case();
    }
}
