//! Composing the root filesystem layer in memory: resolve the spec's packages against the
//! repository's signed index (and nothing else), verify every archive (SHA-256 + signature) before reading it, and turn the
//! archives' entries into one layer — ownership and modes from the packages' declarations,
//! declared accounts added, the spec's system.conf, build metadata and SBOM written in.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use kimigayo_oci::{Kind, LayerEntry};
use kimigayo_package::PackageMeta;
use kimigayo_resolve::{Problem, Request};
use kimigayo_sign::Keyring;
use kimigayo_version::Constraint;

use crate::{metadata, ImageError, ImageSpec};

pub struct Composed {
    /// The uncompressed layer tar.
    pub layer: Vec<u8>,
    /// The packages in the image, in name order.
    pub packages: Vec<PackageMeta>,
    pub build_info: String,
    pub sbom: String,
    /// Every path in the layer.
    pub paths: Vec<String>,
}

fn parse<T: std::str::FromStr<Err = String>>(list: &[String], what: &str) -> Result<Vec<T>, ImageError> {
    list.iter().map(|s| s.parse().map_err(|e| ImageError::Resolve(format!("{what}: {e}")))).collect()
}

pub fn compose(spec: &ImageSpec, repo: &Path, keys: &Keyring, epoch: u64, now: SystemTime) -> Result<Composed, ImageError> {
    let arch = spec.system.architecture.as_str();
    // Only what the index signs: the metadata files in the folder are checked against it and
    // never read for anything else (paths, accounts, versions all come from signed data).
    let signed = kimigayo_pkg::read_signed_index_full(repo, keys, now)?;
    let index = &signed.index;
    kimigayo_pkg::check_folder_matches(repo, index)?;
    if index.packages.is_empty() {
        return Err(ImageError::Resolve(format!("{} holds no packages: run `make reproducible-build` first", repo.display())));
    }
    let all: Vec<(std::path::PathBuf, PackageMeta)> =
        index.packages.iter().map(|m| (repo.join(&m.architecture).join(&m.filename), m.clone())).collect();
    let universe = all.iter().map(|(_, m)| kimigayo_pkg::candidate(m)).collect::<Result<Vec<_>, _>>()?;
    let install: Vec<Constraint> = parse(&spec.image.packages, "image.packages")?;
    let solution = kimigayo_resolve::resolve(&Problem { universe: &universe, installed: &[], world: &[], arch, request: Request { install, ..Request::default() } })
        .map_err(|u| ImageError::Resolve(format!("image.packages cannot be installed: {}", u.explanation)))?;

    let mut entries: BTreeMap<String, LayerEntry> = BTreeMap::new();
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    let mut packages = Vec::new();
    let mut db = kimigayo_pkg::Database { format: 1, world: solution.new_world.iter().map(|c| c.to_string()).collect(), ..Default::default() };
    for (name, version) in &solution.install {
        let (archive, meta) = all
            .iter()
            .find(|(_, m)| &m.name == name && m.version.parse().ok().as_ref() == Some(version) && (m.architecture == arch || m.architecture == "noarch"))
            .ok_or_else(|| ImageError::Resolve(format!("{name}-{version} was chosen but is not in {}", repo.display())))?;
        let bytes = std::fs::read(archive).map_err(|e| ImageError::Io(format!("reading {}: {e}", archive.display())))?;
        kimigayo_pkg::stage::verify(meta, &bytes, keys, arch, now)?;
        let files = add_archive(meta, &bytes, &mut entries, &mut owners)?;
        db.packages.insert(
            name.clone(),
            kimigayo_pkg::db::InstalledPackage { name: name.clone(), version: version.to_string(), arch: meta.architecture.clone(), sha256: meta.checksum.sha256.clone(), files },
        );
        packages.push(meta.clone());
    }

    // Conflicts on the path a file really lands on (through another package's symlink).
    let owned: Vec<kimigayo_pkg::conflicts::Owned> = entries
        .values()
        .filter(|e| !matches!(e.kind, Kind::Dir))
        .map(|e| kimigayo_pkg::conflicts::Owned {
            package: owners.get(&e.path).map_or("", |s| s.as_str()),
            path: &e.path,
            symlink: match &e.kind {
                Kind::Symlink(t) => Some(t.as_str()),
                _ => None,
            },
        })
        .collect();
    if let Some(c) = kimigayo_pkg::conflicts::find_clash(&owned) {
        return Err(ImageError::Package(kimigayo_pkg::PkgError::Conflict {
            path: format!("{} (as {} of {} and {} of {})", c.resolved, c.first.1, c.first.0, c.second.1, c.second.0),
            first: c.first.0,
            second: c.second.0,
        }));
    }

    // Declared accounts, edited into the account files (no scripts).
    let metas: Vec<&PackageMeta> = packages.iter().collect();
    for file in ["etc/group", "etc/passwd", "etc/shadow"] {
        let current = match entries.get(file).map(|e| &e.kind) {
            Some(Kind::File(b)) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        };
        if let Some(new) = kimigayo_pkg::accounts::edit(file, &current, &metas)? {
            let mode = if file == "etc/shadow" { 0o640 } else { 0o644 };
            let e = entries.entry(file.to_string()).or_insert(LayerEntry { path: file.into(), kind: Kind::Dir, mode, uid: 0, gid: 0 });
            e.kind = Kind::File(new.into_bytes());
        }
    }

    enable_services(spec, &mut entries)?;

    let build_info = metadata::build_info(spec, epoch, &packages);
    let sbom = metadata::sbom(spec, epoch, &packages);
    for (path, data) in [
        ("etc/kimigayo/system.conf", spec.system_conf()),
        ("etc/kimigayo/build-info.json", build_info.clone()),
        ("etc/kimigayo/sbom.spdx.json", sbom.clone()),
    ] {
        entries.insert(path.to_string(), LayerEntry { path: path.into(), kind: Kind::File(data.into_bytes()), mode: 0o644, uid: 0, gid: 0 });
    }
    // What the image is made of, as `kpkg add` would have recorded it; with kpkg inside, also
    // its trust root: the key that signed the index, the origin pinned to it, and the serial
    // the image was built from (a container's first `kpkg` run refuses anything older).
    let file = |path: &str, data: Vec<u8>| LayerEntry { path: path.into(), kind: Kind::File(data), mode: 0o644, uid: 0, gid: 0 };
    if packages.iter().any(|m| m.name == "kpkg") {
        let signer = keys.restricted(std::slice::from_ref(&signed.signer));
        let key = signer.keys().first().ok_or_else(|| ImageError::Resolve(format!("the key {} that signed {} is not in the keyring", signed.signer, repo.display())))?;
        let key_path = format!("{}/{}.asc", kimigayo_pkg::KEYS_DIR, key.fingerprint());
        entries.insert(key_path.clone(), file(&key_path, key.to_armored().into_bytes()));
        let origins = format!(
            "# Repository origins this root trusts, each with the keys allowed to sign its index\n\
             # (written by the image build; see docs/package-format.md). An index naming another\n\
             # origin is refused unless its line in repositories pins it: `URL origin=NAME keys=FPR`.\n\
             {} keys={}\n",
            index.origin,
            key.fingerprint()
        );
        entries.insert(kimigayo_pkg::ORIGINS_FILE.into(), file(kimigayo_pkg::ORIGINS_FILE, origins.into_bytes()));
        db.origin_serials.insert(index.origin.clone(), index.serial);
        db.origin_digests.insert(index.origin.clone(), signed.digest.clone());
        if !entries.contains_key(kimigayo_pkg::REPOS_FILE) {
            let text = format!(
                "# Repositories kpkg installs from, one per line (mirrors separated by `|`):\n\
                 #   https://repo.example.org/kimigayo origin={}\n\
                 # This image was built from origin `{}` at index serial {}; older indexes are refused.\n",
                index.origin, index.origin, index.serial
            );
            entries.insert(kimigayo_pkg::REPOS_FILE.into(), file(kimigayo_pkg::REPOS_FILE, text.into_bytes()));
        }
    }
    // A package file the image rewrote (accounts, system.conf) is recorded as the image holds it.
    for f in db.packages.values_mut().flat_map(|p| p.files.iter_mut()) {
        if let Some(LayerEntry { kind: Kind::File(data), .. }) = entries.get(&f.path) {
            f.sha256 = Some(kimigayo_package::sha256_hex(data));
        }
    }
    entries.insert(kimigayo_pkg::db::DB_FILE.into(), file(kimigayo_pkg::db::DB_FILE, db.to_bytes()));

    let paths = entries.keys().cloned().collect();
    let list: Vec<LayerEntry> = entries.into_values().collect();
    let layer = kimigayo_oci::layer_tar(&list, epoch)?;
    Ok(Composed { layer, packages, build_info, sbom, paths })
}

/// Add a verified archive's entries, under kpkg's archive rules (one reader for both).
fn add_archive(
    meta: &PackageMeta,
    bytes: &[u8],
    entries: &mut BTreeMap<String, LayerEntry>,
    owners: &mut BTreeMap<String, String>,
) -> Result<Vec<kimigayo_pkg::db::FileRecord>, ImageError> {
    use kimigayo_pkg::stage::{read_entries, record, Checked, Content};
    let mut records = Vec::new();
    read_entries(meta, bytes, &mut |c: Checked| {
        records.push(record(&c));
        let Checked { path, content, mode, uid, gid, .. } = c;
        let kind = match content {
            Content::Dir => {
                entries.entry(path.clone()).or_insert(LayerEntry { path, kind: Kind::Dir, mode, uid, gid });
                return Ok(());
            }
            Content::File(data) => Kind::File(data),
            Content::Symlink(t) => Kind::Symlink(t),
        };
        if let Some(first) = owners.insert(path.clone(), meta.name.clone()) {
            return Err(kimigayo_pkg::PkgError::Conflict { path, first, second: meta.name.clone() });
        }
        entries.insert(path.clone(), LayerEntry { path, kind, mode, uid, gid });
        Ok(())
    })?;
    Ok(records)
}

/// The spec's `services.auto_start` / `services.disabled` onto the init system's on-disk
/// interface, as `rc-update` would leave it: `etc/runlevels/default/<svc>` → `/etc/init.d/<svc>`,
/// and the disabled list in `etc/kimigayo/disabled-services` (which kimigayo-init honours even
/// when another service `use`s or `want`s one of them).
fn enable_services(spec: &ImageSpec, entries: &mut BTreeMap<String, LayerEntry>) -> Result<(), ImageError> {
    let sv = &spec.services;
    if sv.auto_start.is_empty() && sv.disabled.is_empty() {
        return Ok(());
    }
    let err = |field: &str, msg: String| ImageError::Spec(format!("image spec: services.{field}: {msg}"));
    if !entries.contains_key("etc/runlevels") {
        return Err(err("auto_start", "the image has no init system to start services: add `kimigayo-init` to image.packages".into()));
    }
    for (field, list) in [("auto_start", &sv.auto_start), ("disabled", &sv.disabled)] {
        for name in list {
            kimigayo_rc::validate_service_name(name).map_err(|e| err(field, e.to_string()))?;
        }
    }
    if let Some(both) = sv.auto_start.iter().find(|n| sv.disabled.contains(n)) {
        return Err(err("auto_start", format!("`{both}` is also listed in services.disabled: keep it in one list")));
    }
    for name in &sv.auto_start {
        if !entries.contains_key(&format!("etc/init.d/{name}")) {
            return Err(err("auto_start", format!("no package in the image installs /etc/init.d/{name}: add the package that provides the service, or remove `{name}`")));
        }
        let link = format!("etc/runlevels/default/{name}");
        entries.insert(link.clone(), LayerEntry { path: link, kind: Kind::Symlink(format!("/etc/init.d/{name}")), mode: 0o777, uid: 0, gid: 0 });
    }
    if !sv.disabled.is_empty() {
        entries.retain(|p, _| !(p.starts_with("etc/runlevels/") && sv.disabled.iter().any(|d| p.ends_with(&format!("/{d}")) && p.matches('/').count() == 3)));
        let mut text = String::from("# Services that never start (from the image spec's services.disabled)\n");
        for d in &sv.disabled {
            text.push_str(d);
            text.push('\n');
        }
        let path = "etc/kimigayo/disabled-services".to_string();
        entries.insert(path.clone(), LayerEntry { path, kind: Kind::File(text.into_bytes()), mode: 0o644, uid: 0, gid: 0 });
    }
    Ok(())
}
