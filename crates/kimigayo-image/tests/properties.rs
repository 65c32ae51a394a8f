//! Image properties 1 (size), 3 (essential utilities) and 23 (build metadata) over random
//! image configurations built from the real packages.

mod common;

use std::collections::BTreeMap;
use std::io::Read;

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
    fn every_configuration_provides_the_essential_utilities(c in config(), pick in prop::sample::subsequence(ESSENTIAL.to_vec(), 3..8)) {
        let (_out, r, _) = build(&c, "kimigayo-p3");
        let _img = load(&r.oci_archive, "kimigayo-p3");
        // Every essential utility resolves on PATH, and a random handful actually runs.
        let mut script = String::from("set -e; for u in");
        for u in ESSENTIAL { script.push(' '); script.push_str(u); }
        script.push_str("; do command -v $u >/dev/null || { echo missing $u; exit 1; }; done; ");
        for u in &pick {
            script.push_str(&match *u {
                "sh" => "sh -c true; ".to_string(),
                "vi" | "top" | "nc" | "wget" | "mount" | "ip" | "kill" | "ps" | "df" => format!("{u} --help >/dev/null 2>&1 || [ $? -eq 1 ]; "),
                "echo" | "date" | "id" => format!("{u} >/dev/null; "),
                _ => format!("{u} --help >/dev/null 2>&1 || true; "),
            });
        }
        script.push_str("echo ALL-PRESENT");
        let out = podman(&["run", "--rm", "--user", "0", "kimigayo-p3:latest", "/bin/sh", "-c", &script]);
        prop_assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        prop_assert!(String::from_utf8_lossy(&out.stdout).contains("ALL-PRESENT"));
    }
}
