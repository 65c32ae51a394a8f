//! Property 22: every build output can be cryptographically checked for reproducibility:
//! a rebuild that matches compares identical; one that differs in any byte is caught and
//! the differing file and offset are named.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::sync::OnceLock;

use common::*;
use kimigayo_build::{Builder, Quiet};
use kimigayo_package::archive::{list_tree, write_archive};
use kimigayo_package::{compare_archives, Difference};
use proptest::prelude::*;

/// Real package archives (what `make` built): (file name, bytes, epoch).
fn packages() -> &'static Vec<(String, Vec<u8>)> {
    static P: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    P.get_or_init(|| {
        let repo = tempfile::tempdir().unwrap();
        let mut b = Builder::new(config(repo.path()), &Quiet).unwrap();
        let out = b.build(&["musl".into(), "baselayout".into()]).unwrap_or_else(|e| panic!("{e}"));
        out.iter()
            .flat_map(|o| o.packages.iter())
            .map(|p| (p.filename.clone(), fs::read(repo.path().join(&p.architecture).join(&p.filename)).unwrap()))
            .collect()
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    None,
    FlipByte { file: usize, offset: usize, xor: u8 },
    Chmod { file: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => Just(Mutation::None),
        6 => (any::<usize>(), any::<usize>(), 1u8..=255).prop_map(|(file, offset, xor)| Mutation::FlipByte { file, offset, xor }),
        2 => any::<usize>().prop_map(|file| Mutation::Chmod { file }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, failure_persistence: None, ..ProptestConfig::default() })]

    // **Feature: kimigayo-os-core, Property 22: 任意のビルド出力に対して、Build_Systemはビルド再現性の暗号化検証を提供しなければならない**
    #[test]
    fn any_output_difference_is_detected_and_located(pkg in any::<prop::sample::Index>(), m in mutation()) {
        let all = packages();
        let (name, original) = &all[pkg.index(all.len())];
        // Unpack, mutate, repack with the real archive writer (as a rebuild would).
        let dir = tempfile::tempdir().unwrap();
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(&original[..]));
        ar.set_preserve_permissions(true);
        ar.unpack(dir.path()).unwrap();
        let paths = list_tree(dir.path()).unwrap();
        let files: Vec<&String> = paths.iter().filter(|p| { let m = fs::symlink_metadata(dir.path().join(p)).unwrap(); m.is_file() && m.len() > 0 }).collect();
        let mut expected: Option<(String, Option<u64>)> = None;
        match m {
            Mutation::None => {}
            Mutation::FlipByte { file, offset, xor } => {
                let f = files[file % files.len()];
                let p = dir.path().join(f);
                let mut bytes = fs::read(&p).unwrap();
                let off = offset % bytes.len();
                bytes[off] ^= xor;
                fs::write(&p, bytes).unwrap();
                expected = Some((f.clone(), Some(off as u64)));
            }
            Mutation::Chmod { file } => {
                let f = files[file % files.len()];
                let p = dir.path().join(f);
                let mode = fs::metadata(&p).unwrap().permissions().mode();
                fs::set_permissions(&p, fs::Permissions::from_mode(mode ^ 0o001)).unwrap();
                expected = Some((f.clone(), None));
            }
        }
        let epoch = tar::Archive::new(flate2::read::GzDecoder::new(&original[..])).entries().unwrap().next().unwrap().unwrap().header().mtime().unwrap();
        let mut rebuilt = Vec::new();
        write_archive(dir.path(), &paths, epoch, &mut rebuilt).unwrap();
        let diff = compare_archives(original, &rebuilt);
        match expected {
            None => {
                prop_assert!(diff.is_none(), "{}: identical rebuild reported as {:?}", name, diff);
                prop_assert_eq!(kimigayo_package::sha256_hex(original), kimigayo_package::sha256_hex(&rebuilt));
            }
            Some((file, Some(off))) => match diff {
                Some(Difference::Content { path, offset, .. }) => {
                    prop_assert_eq!(path, file);
                    prop_assert_eq!(offset, off);
                    prop_assert_ne!(kimigayo_package::sha256_hex(original), kimigayo_package::sha256_hex(&rebuilt));
                }
                other => prop_assert!(false, "{}: expected a content difference in {}, got {:?}", name, file, other),
            },
            Some((file, None)) => match diff {
                Some(Difference::Header { path, field, .. }) => {
                    prop_assert_eq!(path, file);
                    prop_assert_eq!(field, "mode");
                }
                other => prop_assert!(false, "{}: expected a mode difference in {}, got {:?}", name, file, other),
            },
        }
    }
}
