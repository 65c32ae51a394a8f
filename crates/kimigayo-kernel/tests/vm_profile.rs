//! The shipped profile against the real tree: every requested option survives olddefconfig.

mod common;

use kimigayo_kernel::profile::KernelDir;
use kimigayo_kernel::tree::configure;

#[test]
fn the_vm_profile_survives_olddefconfig_with_every_option() {
    let (_obj, tree, base) = common::object_tree();
    let kd = KernelDir::new(common::project_root().join("kernel"));
    let req = kd.request(&kd.root.join("profiles/vm.toml"), None, &[]).unwrap();
    let (result, report) = configure(&tree, &base, &req).unwrap();
    assert!(report.ok(), "{report}");
    for m in ["CONFIG_VIRTIO_NET", "CONFIG_EXT4_FS", "CONFIG_9P_FS", "CONFIG_NF_TABLES"] {
        assert!(result.is_enabled(m), "{m}");
    }
}
