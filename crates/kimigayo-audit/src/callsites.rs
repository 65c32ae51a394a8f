//! Direct-call scanning: which functions call a given address.
//!
//! Static binaries always *define* `__stack_chk_fail` (musl's and glibc's start-up code pulls
//! it in), so its presence proves nothing. Code compiled with a stack protector *calls* it,
//! though, so counting direct calls to its address tells protected code from an unused
//! definition. Only direct relative calls are recognised: x86 `call rel32` (`E8`) and AArch64
//! `BL imm26`; other architectures return `None` ("not checked"). A stray byte pattern can
//! match by chance only if it lands exactly on the target address, which is rare enough for
//! an audit heuristic. Calls from libc's own protected functions count too: the scan cannot
//! tell them from the program's.

use goblin::elf::header::{EM_386, EM_AARCH64, EM_X86_64};

use crate::elf::Facts;

/// Direct calls found to a set of target addresses.
#[derive(Debug, Default)]
pub(crate) struct CallSites {
    pub count: usize,
    /// Names of the functions containing the calls (deduplicated, in address order).
    pub callers: Vec<String>,
}

/// Count direct calls to any of `targets` in the executable sections, or `None` when the
/// architecture's call encoding is not known here.
pub(crate) fn direct_calls(facts: &Facts, targets: &[u64]) -> Option<CallSites> {
    let mut sites: Vec<u64> = Vec::new();
    match facts.e_machine {
        EM_X86_64 | EM_386 => {
            for sec in facts.sections.iter().filter(|s| s.exec) {
                let d = sec.data;
                for i in 0..d.len().saturating_sub(4) {
                    if d[i] != 0xe8 {
                        continue;
                    }
                    let rel = i32::from_le_bytes([d[i + 1], d[i + 2], d[i + 3], d[i + 4]]);
                    let next = sec.addr.wrapping_add(i as u64 + 5);
                    let target = next.wrapping_add(rel as i64 as u64);
                    let target = if facts.is_64 {
                        target
                    } else {
                        target & 0xffff_ffff
                    };
                    if targets.contains(&target) {
                        sites.push(sec.addr.wrapping_add(i as u64));
                    }
                }
            }
        }
        EM_AARCH64 if facts.little_endian => {
            for sec in facts.sections.iter().filter(|s| s.exec) {
                for (n, w) in sec.data.chunks_exact(4).enumerate() {
                    let word = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
                    if word & 0xfc00_0000 != 0x9400_0000 {
                        continue;
                    }
                    // imm26, sign-extended, in units of 4 bytes.
                    let imm = ((word & 0x03ff_ffff) << 6) as i32 >> 6;
                    let at = sec.addr.wrapping_add(n as u64 * 4);
                    let target = at.wrapping_add((imm as i64 * 4) as u64);
                    if targets.contains(&target) {
                        sites.push(at);
                    }
                }
            }
        }
        _ => return None,
    }

    let mut funcs: Vec<(u64, u64, &str)> = facts
        .symbols
        .iter()
        .filter(|s| s.is_func && s.defined && s.size > 0)
        .map(|s| (s.value, s.size, s.name))
        .collect();
    funcs.sort_unstable();
    let mut callers: Vec<String> = Vec::new();
    for site in &sites {
        // The last function starting at or before the call site, if the site is inside it.
        let idx = funcs.partition_point(|f| f.0 <= *site);
        let name = idx
            .checked_sub(1)
            .map(|i| funcs[i])
            .filter(|f| *site < f.0.saturating_add(f.1))
            .map(|f| f.2)
            .unwrap_or("?");
        if !callers.iter().any(|c| c == name) {
            callers.push(name.to_string());
        }
    }
    Some(CallSites {
        count: sites.len(),
        callers,
    })
}
