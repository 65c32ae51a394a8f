//! Failure paths a user meets: an unknown module set, a fragment with a syntax error, a
//! requested option the kernel drops (named with its missing dependency), a user fragment
//! turning hardening off.

mod common;

use kimigayo_kernel::profile::KernelDir;
use kimigayo_kernel::tree::configure;
use kimigayo_kernel::KernelError;

fn kd() -> KernelDir {
    KernelDir::new(common::project_root().join("kernel"))
}

fn user_fragment(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let p = dir.path().join("extra.config");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn unknown_module_set_is_named_with_the_known_ones() {
    let k = kd();
    let e = k.request(&k.root.join("profiles/vm.toml"), Some(&["virtio-net".into(), "virtio-gpu".into()]), &[]).unwrap_err();
    let t = e.to_string();
    assert!(matches!(e, KernelError::UnknownModule { .. }), "{t}");
    assert!(t.contains("`virtio-gpu`") && t.contains("ext4") && t.contains("kernel/fragments/modules/virtio-gpu.config"), "{t}");
}

#[test]
fn fragment_syntax_error_names_file_and_line() {
    let d = tempfile::tempdir().unwrap();
    let p = user_fragment(&d, "# mine\nCONFIG_IKCONFIG=y\nCONFIG_OOPS y\n");
    let k = kd();
    let e = k.request(&k.root.join("profiles/vm.toml"), None, std::slice::from_ref(&p)).unwrap_err();
    assert!(e.to_string().starts_with(&format!("{}:3: cannot parse `CONFIG_OOPS y`", p.display())), "{e}");
}

#[test]
fn dropped_options_are_named_with_dependency_and_hardening_override_is_refused() {
    let (_obj, tree, base) = common::object_tree();
    let d = tempfile::tempdir().unwrap();
    // virtio-scsi needs SCSI, which nothing here turns on; the user also turns KASLR off.
    let p = user_fragment(&d, "CONFIG_SCSI_VIRTIO=y\n# CONFIG_RANDOMIZE_BASE is not set\n");
    let k = kd();
    let req = k.request(&k.root.join("profiles/vm.toml"), Some(&[]), std::slice::from_ref(&p)).unwrap();
    let (_, report) = configure(&tree, &base, &req).unwrap();
    let t = report.to_string();
    assert!(!report.ok());
    assert!(t.contains(&format!("CONFIG_SCSI_VIRTIO: {}:1 asks for y", p.display())) && t.contains("CONFIG_SCSI (not set)"), "{t}");
    assert!(t.contains("CONFIG_RANDOMIZE_BASE: required hardening option") && t.contains(&format!("overridden by {}:2", p.display())), "{t}");
    // KASLR off also drops RANDOMIZE_MEMORY (it depends on it): named too, blaming the dependency.
    assert!(t.contains("CONFIG_RANDOMIZE_MEMORY") && t.contains("CONFIG_RANDOMIZE_BASE (not set)"), "{t}");
}
