//! Property 21: every build dependency and its version is recorded for every component.
//! (Own test binary: it points KIMIGAYO_SOURCE_MIRROR at a generated mirror folder.)

mod common;

use std::collections::BTreeMap;
use std::fs;

use common::*;
use kimigayo_build::{Builder, Quiet};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Component {
    /// fetched sources: contents (served from the mirror, pinned by hash)
    fetched: Vec<Vec<u8>>,
    /// local patches: each creates one new file
    patches: Vec<String>,
    /// indexes of earlier components this one build-depends on
    deps: Vec<usize>,
}

fn component() -> impl Strategy<Value = Component> {
    (
        prop::collection::vec(prop::collection::vec(any::<u8>(), 1..200), 0..3),
        prop::collection::vec("[a-z ]{1,40}", 0..3),
        prop::collection::vec(0usize..4, 0..3),
    )
        .prop_map(|(fetched, patches, deps)| Component { fetched, patches, deps })
}

fn write_recipe(recipes: &std::path::Path, mirror: &std::path::Path, i: usize, c: &Component, case: &str) {
    let name = format!("c{i}");
    let dir = recipes.join(&name);
    fs::create_dir_all(dir.join("files")).unwrap();
    fs::write(dir.join("files/data.txt"), format!("component {i} of {case}\n")).unwrap();
    let mut t = format!("[package]\nname = \"{name}\"\nversion = \"1.{i}\"\nlicense = \"MIT\"\ndescription = \"generated\"\narch = [\"noarch\"]\n\n");
    t += "[[source]]\nname = \"local\"\npath = \"files\"\n\n";
    for (k, data) in c.fetched.iter().enumerate() {
        let file = format!("{name}-{case}-{k}.bin");
        fs::write(mirror.join(&file), data).unwrap();
        t += &format!("[[source]]\nname = \"blob{k}\"\nfile = \"{file}\"\nsha256 = \"{}\"\nurls = [\"http://127.0.0.1:9/{file}\"]\n\n", kimigayo_package::sha256_hex(data));
    }
    for (k, body) in c.patches.iter().enumerate() {
        let p = format!("patches/{k}.patch");
        fs::create_dir_all(dir.join("patches")).unwrap();
        fs::write(dir.join(&p), format!("--- /dev/null\n+++ b/new{k}.txt\n@@ -0,0 +1 @@\n+{body}\n")).unwrap();
        t += &format!("[[patch]]\nfile = \"{p}\"\nreason = \"generated {k}\"\n\n");
    }
    let deps: Vec<String> = c.deps.iter().filter(|&&d| d < i).map(|d| format!("\"c{d}\"")).collect();
    t += "[build]\ntoolchain = \"none\"\nsteps = [\"mkdir -p $DESTDIR/usr/share/gen && cp -r . $DESTDIR/usr/share/gen/\"]\n\n";
    t += &format!("[dependencies]\nbuild = [{}]\n", deps.join(", "));
    fs::write(dir.join("recipe.toml"), t).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, failure_persistence: None, ..ProptestConfig::default() })]

    // **Feature: kimigayo-os-core, Property 21: 任意のコンポーネントに対して、Build_Systemはすべてのビルド依存関係とバージョンを記録しなければならない**
    #[test]
    fn every_build_dependency_and_version_is_recorded(comps in prop::collection::vec(component(), 1..5), case in "[a-z]{8}") {
        let tmp = tempfile::tempdir().unwrap();
        let (recipes, mirror) = (tmp.path().join("recipes"), tmp.path().join("mirror"));
        fs::create_dir_all(&mirror).unwrap();
        std::env::set_var("KIMIGAYO_SOURCE_MIRROR", &mirror);
        for (i, c) in comps.iter().enumerate() {
            write_recipe(&recipes, &mirror, i, c, &case);
        }
        let mut cfg = config(&tmp.path().join("repo"));
        cfg.recipes_dir = recipes.clone();
        cfg.cache_dir = tmp.path().join("cache");
        cfg.offline = true;
        let outcomes = Builder::new(cfg.clone(), &Quiet).unwrap().build(&[]).unwrap_or_else(|e| panic!("{e}"));
        let by_name: BTreeMap<String, &kimigayo_build::Outcome> = outcomes.iter().map(|o| (o.recipe.clone(), o)).collect();
        for (i, c) in comps.iter().enumerate() {
            let o = by_name[&format!("c{i}")];
            let bi = &o.packages[0].build_info;
            // Every fetched source, by its pinned hash.
            for (k, data) in c.fetched.iter().enumerate() {
                let rec = bi.sources.iter().find(|s| s.name == format!("blob{k}"));
                prop_assert!(rec.is_some(), "source blob{} of c{} not recorded", k, i);
                prop_assert_eq!(&rec.unwrap().sha256, &kimigayo_package::sha256_hex(data));
            }
            // The repository folder source, by content hash.
            prop_assert!(bi.sources.iter().any(|s| s.name == "local" && s.sha256.len() == 64));
            // Every patch, by hash, with its reason.
            prop_assert_eq!(bi.patches.len(), c.patches.len());
            for (k, p) in bi.patches.iter().enumerate() {
                let data = fs::read(recipes.join(format!("c{i}")).join(format!("patches/{k}.patch"))).unwrap();
                prop_assert_eq!(&p.sha256, &kimigayo_package::sha256_hex(&data));
                prop_assert_eq!(p.reason.clone(), Some(format!("generated {k}")));
            }
            // Every build dependency's package, by version and archive hash.
            for d in c.deps.iter().filter(|&&d| d < i) {
                let dep = by_name[&format!("c{d}")].packages[0].clone();
                let key = format!("{}-{}", dep.name, dep.version);
                prop_assert_eq!(bi.build_dependencies.get(&key), Some(&dep.checksum.sha256), "c{} lacks {}", i, key);
            }
            prop_assert_eq!(bi.build_dependencies.len(), c.deps.iter().filter(|&&d| d < i).collect::<std::collections::BTreeSet<_>>().len());
            // The tools and the recipe itself.
            prop_assert!(!bi.host_tools.is_empty() && bi.host_tools.values().all(|v| !v.is_empty()), "{:?}", bi.host_tools);
            prop_assert_eq!(&bi.recipe_sha256, &kimigayo_package::sha256_hex(&fs::read(recipes.join(format!("c{i}/recipe.toml"))).unwrap()));
            prop_assert_eq!(&bi.build_hash, &o.key);
            prop_assert_eq!(&bi.timestamp, &kimigayo_package::metadata::rfc3339(cfg.source_date_epoch));
        }
    }
}
