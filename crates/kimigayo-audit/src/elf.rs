//! Facts extraction: everything the checks need, read once from a parsed ELF file.
//!
//! Parsing is goblin's; this module only copies out the few facts the audit looks at and
//! bounds-checks every byte range it takes from the file itself, so hostile input can make
//! the audit return an error but never index out of bounds.

use goblin::elf::dynamic::{DT_FLAGS, DT_FLAGS_1, DT_JMPREL, DT_PLTRELSZ, DT_TEXTREL};
use goblin::elf::header::{
    ELFCLASS64, EM_386, EM_AARCH64, EM_ARM, EM_MIPS, EM_PPC, EM_PPC64, EM_RISCV, EM_S390, EM_X86_64,
};
use goblin::elf::program_header::{PF_X, PT_DYNAMIC, PT_GNU_RELRO, PT_GNU_STACK};
use goblin::elf::section_header::{SHF_EXECINSTR, SHN_UNDEF, SHT_NOBITS, SHT_SYMTAB};
use goblin::elf::sym::STT_FUNC;
use goblin::elf::Elf;

/// `EM_LOONGARCH` (not exported by this goblin version).
const EM_LOONGARCH: u16 = 258;

/// One symbol from `.symtab` or `.dynsym`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Symbol<'a> {
    pub name: &'a str,
    /// Defined in this file (not `SHN_UNDEF`).
    pub defined: bool,
    pub value: u64,
    pub size: u64,
    pub is_func: bool,
    /// From `.dynsym` rather than `.symtab`.
    pub dynamic: bool,
}

/// One section that has bytes in the file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Section<'a> {
    pub name: &'a str,
    pub addr: u64,
    pub exec: bool,
    /// The section's bytes; empty for `SHT_NOBITS` or when the header points outside the file.
    pub data: &'a [u8],
}

/// The facts of one ELF file that the audit decides on.
#[derive(Debug)]
pub(crate) struct Facts<'a> {
    pub e_type: u16,
    pub e_machine: u16,
    pub is_64: bool,
    pub little_endian: bool,
    pub entry: u64,
    pub interpreter: Option<String>,
    /// `PT_DYNAMIC` present.
    pub has_dynamic: bool,
    pub needed: Vec<String>,
    pub soname: Option<String>,
    pub dt_flags: u64,
    pub dt_flags_1: u64,
    pub dt_textrel: bool,
    /// `DT_JMPREL` present with a non-zero `DT_PLTRELSZ`: there are PLT slots a loader could bind lazily.
    pub has_plt_relocs: bool,
    pub has_relro: bool,
    /// `p_flags` of `PT_GNU_STACK`, if present.
    pub gnu_stack_flags: Option<u32>,
    pub sections: Vec<Section<'a>>,
    pub has_symtab: bool,
    pub symbols: Vec<Symbol<'a>>,
    /// Defined global/weak symbols in `.dynsym` (what a shared object exports).
    pub dynamic_exports: usize,
    /// Some `.dynstr` string is a glibc symbol version (`GLIBC_2.34`, ...).
    pub glibc_versions: bool,
    pub data: &'a [u8],
}

impl<'a> Facts<'a> {
    pub fn from_elf(elf: &Elf<'a>, data: &'a [u8]) -> Facts<'a> {
        let mut dt_flags = 0;
        let mut dt_flags_1 = 0;
        let mut dt_textrel = false;
        let mut jmprel = false;
        let mut pltrelsz = 0;
        if let Some(dynamic) = &elf.dynamic {
            for d in &dynamic.dyns {
                match d.d_tag {
                    DT_FLAGS => dt_flags |= d.d_val,
                    DT_FLAGS_1 => dt_flags_1 |= d.d_val,
                    DT_TEXTREL => dt_textrel = true,
                    DT_JMPREL => jmprel = true,
                    DT_PLTRELSZ => pltrelsz = d.d_val,
                    _ => {}
                }
            }
        }

        let phdrs = &elf.program_headers;
        let sections = elf
            .section_headers
            .iter()
            .map(|sh| Section {
                name: elf.shdr_strtab.get_at(sh.sh_name).unwrap_or(""),
                addr: sh.sh_addr,
                exec: sh.sh_flags & u64::from(SHF_EXECINSTR) != 0,
                data: if sh.sh_type == SHT_NOBITS {
                    &[]
                } else {
                    slice(data, sh.sh_offset, sh.sh_size)
                },
            })
            .collect();

        let mut symbols = Vec::with_capacity(elf.syms.len() + elf.dynsyms.len());
        for (table, strtab, dynamic) in [
            (&elf.syms, &elf.strtab, false),
            (&elf.dynsyms, &elf.dynstrtab, true),
        ] {
            for sym in table.iter() {
                let Some(name) = strtab.get_at(sym.st_name) else {
                    continue;
                };
                if name.is_empty() {
                    continue;
                }
                symbols.push(Symbol {
                    name,
                    defined: sym.st_shndx != SHN_UNDEF as usize,
                    value: sym.st_value,
                    size: sym.st_size,
                    is_func: sym.st_type() == STT_FUNC,
                    dynamic,
                });
            }
        }
        let dynamic_exports = elf
            .dynsyms
            .iter()
            .filter(|s| {
                s.st_shndx != SHN_UNDEF as usize && s.st_bind() != goblin::elf::sym::STB_LOCAL
            })
            .count();
        let glibc_versions = elf
            .dynstrtab
            .to_vec()
            .map(|v| v.iter().any(|s| s.starts_with("GLIBC_")))
            .unwrap_or(false);

        Facts {
            e_type: elf.header.e_type,
            e_machine: elf.header.e_machine,
            is_64: elf.header.e_ident[goblin::elf::header::EI_CLASS] == ELFCLASS64,
            little_endian: elf.little_endian,
            entry: elf.entry,
            interpreter: elf.interpreter.map(str::to_owned),
            has_dynamic: phdrs.iter().any(|p| p.p_type == PT_DYNAMIC) && elf.dynamic.is_some(),
            needed: elf.libraries.iter().map(|s| s.to_string()).collect(),
            soname: elf.soname.map(str::to_owned),
            dt_flags,
            dt_flags_1,
            dt_textrel,
            has_plt_relocs: jmprel && pltrelsz != 0,
            has_relro: phdrs.iter().any(|p| p.p_type == PT_GNU_RELRO),
            gnu_stack_flags: phdrs
                .iter()
                .find(|p| p.p_type == PT_GNU_STACK)
                .map(|p| p.p_flags),
            sections,
            has_symtab: elf.section_headers.iter().any(|s| s.sh_type == SHT_SYMTAB),
            symbols,
            dynamic_exports,
            glibc_versions,
            data,
        }
    }

    pub fn section(&self, name: &str) -> Option<&Section<'a>> {
        self.sections.iter().find(|s| s.name == name)
    }

    pub fn has_section(&self, name: &str) -> bool {
        self.section(name).is_some()
    }

    /// The symbols (from either table) with this exact name.
    pub fn symbols_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Symbol<'a>> + 's {
        self.symbols.iter().filter(move |s| s.name == name)
    }

    /// Whether the executable image is marked stack-executable (`PT_GNU_STACK` with `PF_X`).
    pub fn stack_exec(&self) -> Option<bool> {
        self.gnu_stack_flags.map(|f| f & PF_X != 0)
    }

    /// The architecture name used in reports.
    pub fn machine_name(&self) -> String {
        match self.e_machine {
            EM_X86_64 => "x86_64".into(),
            EM_386 => "i386".into(),
            EM_AARCH64 => "aarch64".into(),
            EM_ARM => "arm".into(),
            EM_RISCV if self.is_64 => "riscv64".into(),
            EM_RISCV => "riscv32".into(),
            EM_PPC64 if self.little_endian => "ppc64le".into(),
            EM_PPC64 => "ppc64".into(),
            EM_PPC => "ppc".into(),
            EM_S390 => "s390x".into(),
            EM_MIPS if self.is_64 => "mips64".into(),
            EM_MIPS => "mips".into(),
            EM_LOONGARCH => "loongarch64".into(),
            other => format!("em-{other}"),
        }
    }

    /// NUL-separated strings of a section (e.g. `.comment`), empty strings dropped.
    pub fn section_strings(&self, name: &str) -> Vec<&'a str> {
        match self.section(name) {
            Some(s) => nul_strings(s.data),
            None => Vec::new(),
        }
    }
}

/// The NUL-terminated strings in `bytes` (lossy: non-UTF-8 strings are skipped), empty ones dropped.
pub(crate) fn nul_strings(bytes: &[u8]) -> Vec<&str> {
    bytes
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .filter_map(|s| std::str::from_utf8(s).ok())
        .collect()
}

/// `data[offset..offset+size]`, or an empty slice when that range is not inside `data`.
pub(crate) fn slice(data: &[u8], offset: u64, size: u64) -> &[u8] {
    let (Ok(start), Ok(len)) = (usize::try_from(offset), usize::try_from(size)) else {
        return &[];
    };
    match start.checked_add(len) {
        Some(end) if end <= data.len() => &data[start..end],
        _ => &[],
    }
}

/// Whether `needle` occurs in `haystack`.
pub(crate) fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    let first = needle[0];
    let last_start = match haystack.len().checked_sub(needle.len()) {
        Some(n) => n,
        None => return false,
    };
    let mut i = 0;
    while i <= last_start {
        match haystack[i..=last_start].iter().position(|b| *b == first) {
            Some(p) => {
                let at = i + p;
                if &haystack[at..at + needle.len()] == needle {
                    return true;
                }
                i = at + 1;
            }
            None => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_never_reads_outside() {
        let d = [1u8, 2, 3, 4];
        assert_eq!(slice(&d, 1, 2), &[2, 3]);
        assert_eq!(slice(&d, 3, 2), &[] as &[u8]);
        assert_eq!(slice(&d, u64::MAX, 2), &[] as &[u8]);
        assert_eq!(slice(&d, 2, u64::MAX), &[] as &[u8]);
        assert_eq!(slice(&d, 4, 0), &[] as &[u8]);
    }

    #[test]
    fn contains_bytes_finds_only_real_matches() {
        assert!(contains_bytes(b"xxGLIBC_2.2", b"GLIBC_"));
        assert!(contains_bytes(b"GLIBC_", b"GLIBC_"));
        assert!(!contains_bytes(b"GLIBC", b"GLIBC_"));
        assert!(!contains_bytes(b"", b"a"));
        assert!(contains_bytes(b"aab", b"ab"));
    }

    #[test]
    fn nul_strings_split_and_skip_empty() {
        assert_eq!(
            nul_strings(b"\0GCC: x\0\0rustc version 1\0"),
            vec!["GCC: x", "rustc version 1"]
        );
    }
}
