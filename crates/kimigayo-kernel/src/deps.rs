//! Dependency hints from a kernel tree's Kconfig files: for a dropped option, which of its
//! `depends on` symbols (including enclosing `if` blocks) the result does not satisfy.
//! A light reading of Kconfig, not an evaluator: good enough to name the usual culprit
//! (TMPFS → SHMEM, HARDENED_USERCOPY → SLUB, SECCOMP_FILTER → NET, …).

use std::collections::BTreeMap;
use std::path::Path;

use kimigayo_kconfig::Config;

#[derive(Debug, Clone, Default)]
pub struct DepIndex {
    /// Symbol (with CONFIG_ prefix) → its dependency expressions.
    deps: BTreeMap<String, Vec<String>>,
}

impl DepIndex {
    pub fn from_kconfig_texts(texts: &[&str]) -> DepIndex {
        let mut idx = DepIndex::default();
        for t in texts {
            idx.add_text(t);
        }
        idx
    }

    /// Read every `Kconfig*` file under a kernel tree.
    pub fn scan(tree: &Path) -> DepIndex {
        let mut idx = DepIndex::default();
        for e in walkdir::WalkDir::new(tree).into_iter().filter_map(|e| e.ok()) {
            let n = e.file_name().to_string_lossy();
            if e.file_type().is_file() && n.starts_with("Kconfig") {
                if let Ok(t) = std::fs::read_to_string(e.path()) {
                    idx.add_text(&t);
                }
            }
        }
        idx
    }

    fn add_text(&mut self, text: &str) {
        let mut current: Option<String> = None;
        let mut ifs: Vec<String> = Vec::new();
        for line in text.lines() {
            let l = line.trim();
            let word = l.split_whitespace().next().unwrap_or("");
            match word {
                "config" | "menuconfig" => {
                    let sym = format!("CONFIG_{}", l.split_whitespace().nth(1).unwrap_or(""));
                    self.deps.entry(sym.clone()).or_default().extend(ifs.iter().cloned());
                    current = Some(sym);
                }
                "if" => {
                    ifs.push(l[2..].trim().to_string());
                    current = None;
                }
                "endif" => {
                    ifs.pop();
                    current = None;
                }
                "menu" | "endmenu" | "choice" | "endchoice" | "comment" | "source" | "mainmenu" => current = None,
                // `bool "prompt" if EXPERT`: the option can only be changed when EXPR holds.
                "bool" | "tristate" | "prompt" | "string" | "int" | "hex" => {
                    if let (Some(sym), Some((_, expr))) = (&current, l.rsplit_once("\" if ")) {
                        self.deps.entry(sym.clone()).or_default().push(expr.trim().to_string());
                    }
                }
                "depends" => {
                    if let (Some(sym), Some(expr)) = (&current, l.strip_prefix("depends on")) {
                        self.deps.entry(sym.clone()).or_default().push(expr.trim().to_string());
                    }
                }
                _ => {}
            }
        }
    }

    /// The dependencies of `sym` that `result` does not satisfy, as `CONFIG_X (not set)` or
    /// `!CONFIG_Y (set)`.
    pub fn missing(&self, sym: &str, result: &Config) -> Vec<String> {
        let mut out = Vec::new();
        for expr in self.deps.get(sym).into_iter().flatten() {
            let chars: Vec<char> = expr.chars().collect();
            let mut i = 0;
            while i < chars.len() {
                if chars[i].is_ascii_uppercase() || chars[i] == '_' || chars[i].is_ascii_digit() {
                    let start = i;
                    while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                        i += 1;
                    }
                    let tok: String = chars[start..i].iter().collect();
                    if tok.chars().all(|c| c.is_ascii_digit()) || !tok.chars().any(|c| c.is_ascii_uppercase()) {
                        continue;
                    }
                    let negated = chars[..start].iter().rev().find(|c| !c.is_whitespace() && **c != '(') == Some(&'!');
                    let name = format!("CONFIG_{tok}");
                    let on = result.is_enabled(&name);
                    let text = if negated && on { format!("!{name} (set)") } else if !negated && !on { format!("{name} (not set)") } else { continue };
                    if !out.contains(&text) {
                        out.push(text);
                    }
                } else {
                    i += 1;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_unmet_and_negated_dependencies() {
        let idx = DepIndex::from_kconfig_texts(&["if NET\nconfig X\n\tbool \"x\" if EXPERT\n\tdepends on SLUB && !KASAN\n\tdepends on 64BIT\nendif\nmenu \"m\"\n\tdepends on FOO\n"]);
        let c = Config::parse("CONFIG_KASAN=y\nCONFIG_64BIT=y\n").unwrap();
        assert_eq!(idx.missing("CONFIG_X", &c), ["CONFIG_NET (not set)", "CONFIG_EXPERT (not set)", "CONFIG_SLUB (not set)", "!CONFIG_KASAN (set)"]);
        assert!(idx.missing("CONFIG_UNKNOWN", &c).is_empty());
    }
}
