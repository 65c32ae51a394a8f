//! Build metadata inside the image (property 23): `/etc/kimigayo/build-info.json` with every
//! package, version, source hash, license, flags and toolchain, and an SPDX 2.3 SBOM.

use std::collections::BTreeMap;

use kimigayo_package::metadata::rfc3339;
use kimigayo_package::PackageMeta;
use serde_json::json;

use crate::{Composed, ImageSpec};

pub fn build_info(spec: &ImageSpec, epoch: u64, packages: &[PackageMeta]) -> String {
    let pkgs: Vec<_> = packages
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "version": p.version,
                "architecture": p.architecture,
                "license": p.license,
                "sha256": p.checksum.sha256,
                "build_hash": p.build_info.build_hash,
                "compiler": p.build_info.compiler,
                "flags": p.build_info.flags,
                "hardening": p.build_info.hardening,
                "linkage": p.build_info.linkage,
                "libc": p.build_info.libc,
                "sources": p.build_info.sources,
                "patches": p.build_info.patches,
                "host_tools": p.build_info.host_tools,
            })
        })
        .collect();
    let v = json!({
        "image": format!("{}:{}", spec.image.name, spec.image.tag),
        "architecture": spec.system.architecture,
        "created": rfc3339(epoch),
        "source_date_epoch": epoch,
        "hardening": spec.build.hardening,
        "reproducible": spec.build.reproducible,
        "builder": format!("kimigayo {}", env!("CARGO_PKG_VERSION")),
        "packages": pkgs,
    });
    serde_json::to_string_pretty(&v).expect("serialises") + "\n"
}

fn spdx_id(name: &str) -> String {
    let clean: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '-' }).collect();
    format!("SPDXRef-Package-{clean}")
}

pub fn sbom(spec: &ImageSpec, epoch: u64, packages: &[PackageMeta]) -> String {
    let ns_hash = kimigayo_package::sha256_hex(packages.iter().map(|p| p.checksum.sha256.as_str()).collect::<Vec<_>>().join(",").as_bytes());
    let mut pkgs = Vec::new();
    let mut rels = vec![];
    for p in packages {
        let id = spdx_id(&p.name);
        let sources: Vec<String> = p.build_info.sources.iter().map(|s| format!("{} sha256:{}", s.file, s.sha256)).collect();
        pkgs.push(json!({
            "SPDXID": id,
            "name": p.name,
            "versionInfo": p.version,
            "supplier": "Organization: Kimigayo OS",
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": p.license,
            "licenseDeclared": p.license,
            "copyrightText": "NOASSERTION",
            "checksums": [{ "algorithm": "SHA256", "checksumValue": p.checksum.sha256 }],
            "sourceInfo": format!("built from recipe {} with {}; sources: {}", p.origin, p.build_info.compiler, sources.join(", ")),
            "primaryPackagePurpose": "LIBRARY",
        }));
        rels.push(json!({ "spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": id }));
        for d in &p.dependencies {
            let dep = d.split(['=', '<', '>', '~']).next().unwrap_or(d);
            if packages.iter().any(|q| q.name == dep) {
                rels.push(json!({ "spdxElementId": id, "relationshipType": "DEPENDS_ON", "relatedSpdxElement": spdx_id(dep) }));
            }
        }
    }
    let v = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("{}:{}", spec.image.name, spec.image.tag),
        "documentNamespace": format!("https://kimigayo-os.invalid/spdx/{}/{}", spec.image.name, ns_hash),
        "creationInfo": { "created": rfc3339(epoch), "creators": [format!("Tool: kimigayo-{}", env!("CARGO_PKG_VERSION"))] },
        "packages": pkgs,
        "relationships": rels,
    });
    serde_json::to_string_pretty(&v).expect("serialises") + "\n"
}

pub fn annotations(spec: &ImageSpec, epoch: u64, c: &Composed) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    a.insert("org.opencontainers.image.created".into(), rfc3339(epoch));
    a.insert("org.opencontainers.image.title".into(), spec.image.labels.get("org.opencontainers.image.title").cloned().unwrap_or_else(|| spec.image.name.clone()));
    a.insert("org.opencontainers.image.version".into(), spec.image.tag.clone());
    a.insert("org.opencontainers.image.ref.name".into(), spec.image.tag.clone());
    a.insert("org.opencontainers.image.base.name".into(), "scratch".into());
    a.insert("org.kimigayo.packages".into(), c.packages.iter().map(|p| format!("{}-{}", p.name, p.version)).collect::<Vec<_>>().join(" "));
    a
}
