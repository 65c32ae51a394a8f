//! Syscall name → number tables for the architectures we build for. The tables are data in
//! `syscalls/*.txt` (generated from the kernel's uapi headers); seccompiler keeps its own tables
//! private, and OCI profiles name syscalls, so we need one.

use seccompiler::TargetArch;


/// The architecture this binary runs on.
pub fn native_arch() -> TargetArch {
    #[cfg(target_arch = "x86_64")]
    return TargetArch::x86_64;
    #[cfg(target_arch = "aarch64")]
    return TargetArch::aarch64;
    #[cfg(target_arch = "riscv64")]
    return TargetArch::riscv64;
}

/// The name libseccomp/OCI profiles use for an architecture.
pub fn scmp_arch_name(arch: TargetArch) -> &'static str {
    match arch {
        TargetArch::x86_64 => "SCMP_ARCH_X86_64",
        TargetArch::aarch64 => "SCMP_ARCH_AARCH64",
        TargetArch::riscv64 => "SCMP_ARCH_RISCV64",
    }
}

/// The Go/Docker name (`includes.arches`) of an architecture.
pub fn go_arch_name(arch: TargetArch) -> &'static str {
    match arch {
        TargetArch::x86_64 => "amd64",
        TargetArch::aarch64 => "arm64",
        TargetArch::riscv64 => "riscv64",
    }
}

/// The tables sorted by name (build.rs).
mod sorted {
    include!(concat!(env!("OUT_DIR"), "/syscall_tables.rs"));
}

/// Number of syscall `name` on `arch`, or None when the architecture has no such call: a
/// binary search in a table sorted at build time (a filter looks up hundreds of names, and
/// every service's holder builds its own).
pub fn syscall_nr(arch: TargetArch, name: &str) -> Option<i64> {
    let (names, rows) = match arch {
        TargetArch::x86_64 => (sorted::X86_64_NAMES, sorted::X86_64),
        // riscv64 uses the same generic table as aarch64 for everything we name.
        TargetArch::aarch64 | TargetArch::riscv64 => (sorted::AARCH64_NAMES, sorted::AARCH64),
    };
    let name_of = |&(at, len, _): &(u16, u8, u16)| &names[at as usize..at as usize + len as usize];
    rows.binary_search_by(|r| name_of(r).cmp(name)).ok().map(|i| i64::from(rows[i].2))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tables as written (build.rs sorts them into `sorted`).
    fn table(arch: TargetArch) -> &'static str {
        match arch {
            TargetArch::x86_64 => include_str!("../syscalls/x86_64.txt"),
            // riscv64 uses the same generic table as aarch64 for everything we name.
            TargetArch::aarch64 | TargetArch::riscv64 => include_str!("../syscalls/aarch64.txt"),
        }
    }

    #[test]
    fn every_name_resolves_to_its_first_line_and_unknown_names_to_none() {
        for arch in [TargetArch::x86_64, TargetArch::aarch64] {
            let mut seen = std::collections::BTreeSet::new();
            for l in table(arch).lines().filter(|l| !l.starts_with('#')) {
                let (n, nr) = l.split_once(' ').unwrap();
                if seen.insert(n) {
                    assert_eq!(syscall_nr(arch, n), Some(nr.trim().parse().unwrap()), "{n} on {arch:?}");
                }
            }
            assert_eq!(syscall_nr(arch, "no_such_call"), None);
            assert_eq!(syscall_nr(arch, ""), None);
        }
    }

    #[test]
    fn tables_agree_with_libc_on_this_arch() {
        let arch = native_arch();
        let known = [
            ("read", libc::SYS_read),
            ("write", libc::SYS_write),
            ("mount", libc::SYS_mount),
            ("reboot", libc::SYS_reboot),
            ("kexec_load", libc::SYS_kexec_load),
            ("bpf", libc::SYS_bpf),
            ("setns", libc::SYS_setns),
            ("unshare", libc::SYS_unshare),
            ("ptrace", libc::SYS_ptrace),
            ("clone3", libc::SYS_clone3),
            ("open_tree", libc::SYS_open_tree),
            ("personality", libc::SYS_personality),
            ("process_vm_readv", libc::SYS_process_vm_readv),
        ];
        for (name, nr) in known {
            assert_eq!(syscall_nr(arch, name), Some(nr), "{name}");
        }
        assert_eq!(syscall_nr(arch, "no_such_call"), None);
    }

    #[test]
    fn aarch64_lacks_legacy_calls() {
        assert_eq!(syscall_nr(TargetArch::aarch64, "iopl"), None);
        assert_eq!(syscall_nr(TargetArch::aarch64, "open"), None);
        assert_eq!(syscall_nr(TargetArch::aarch64, "reboot"), Some(142));
        assert_eq!(syscall_nr(TargetArch::x86_64, "iopl"), Some(172));
    }
}
