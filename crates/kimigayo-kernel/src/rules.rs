//! The hardening rule table (`kernel/rules/<arch>.toml`, data): every recommendation of the
//! independent kernel-hardening-checker rule set (KSPP, CLIP OS, grsecurity, …) with its
//! source, checked against a kernel's `.config`, the VM's kernel command line and the VM
//! root's sysctl files. A rule is met, waived (the file says why Kimigayo does not follow it),
//! not checked (its input was not given) or failed; at `--security-hardening=full` a failed
//! rule fails the build.
//!
//! Free of I/O but [`load`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use kimigayo_kconfig::{Config, Value};
use serde::Deserialize;

use crate::{io_ctx, KernelError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Kconfig,
    Cmdline,
    Sysctl,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Kconfig => "kconfig",
            Kind::Cmdline => "cmdline",
            Kind::Sysctl => "sysctl",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub kind: Kind,
    pub name: String,
    pub want: String,
    /// Alternatives, each a conjunction (`A AND B`): any one met satisfies the rule.
    #[serde(default)]
    pub any: Vec<String>,
    /// Conditions that must hold besides `want`.
    #[serde(default)]
    pub all: Vec<String>,
    pub source: String,
    pub class: String,
    /// Why Kimigayo does not follow the rule.
    #[serde(default)]
    pub waived: Option<String>,
    /// Anything else worth saying (e.g. an alternative Kimigayo added).
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    rule: Vec<Rule>,
}

/// One comparison: `name` (of `kind`) against a wanted value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Test {
    Eq(String),
    NotSet,
    Present,
    NotOff,
    Contains(String),
    Max,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Is { kind: Kind, name: String, test: Test },
    VersionAtLeast([u32; 3]),
}

fn parse_test(text: &str) -> Test {
    match text.trim() {
        "is not set" => Test::NotSet,
        "is present" => Test::Present,
        "is not off" => Test::NotOff,
        "MAX" => Test::Max,
        t if t.len() > 2 && t.starts_with('*') && t.ends_with('*') => Test::Contains(t[1..t.len() - 1].to_string()),
        t => Test::Eq(t.to_string()),
    }
}

fn parse_version(v: &str) -> Option<[u32; 3]> {
    let mut out = [0u32; 3];
    let parts: Vec<&str> = v.trim().split('.').collect();
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    for (i, p) in parts.iter().enumerate() {
        out[i] = p.parse().ok()?;
    }
    Some(out)
}

/// A term of `any`/`all`: `CONFIG_X=v`, `CONFIG_X is not set|is present|is not off`,
/// `CONFIG_X *item*`, `version >= 6.6`, or the same forms naming a parameter of `own` kind.
fn parse_term(text: &str, own: Kind) -> Option<Term> {
    let t = text.trim();
    if let Some(v) = t.strip_prefix("version >=") {
        return parse_version(v).map(Term::VersionAtLeast);
    }
    let kind = if t.starts_with("CONFIG_") { Kind::Kconfig } else { own };
    for suffix in ["is not set", "is present", "is not off"] {
        if let Some(name) = t.strip_suffix(suffix) {
            let name = name.trim();
            return (!name.is_empty() && !name.contains(' ')).then(|| Term::Is { kind, name: name.to_string(), test: parse_test(suffix) });
        }
    }
    if let Some((name, item)) = t.split_once(' ') {
        let item = item.trim();
        if item.len() > 2 && item.starts_with('*') && item.ends_with('*') {
            return Some(Term::Is { kind, name: name.to_string(), test: parse_test(item) });
        }
        return None;
    }
    let (name, value) = t.split_once('=')?;
    (!name.is_empty()).then(|| Term::Is { kind, name: name.to_string(), test: Test::Eq(value.to_string()) })
}

fn parse_conj(text: &str, own: Kind) -> Option<Vec<Term>> {
    text.split(" AND ").map(|t| parse_term(t, own)).collect()
}

/// Read and validate a rule file: every `any`/`all` term must parse.
pub fn load(path: &Path) -> Result<Vec<Rule>, KernelError> {
    let text = std::fs::read_to_string(path).map_err(io_ctx(format!("reading {}", path.display())))?;
    parse(&path.display().to_string(), &text)
}

pub fn parse(file: &str, text: &str) -> Result<Vec<Rule>, KernelError> {
    let raw: RawRules = toml::from_str(text).map_err(|e| KernelError::Profile { file: file.into(), message: e.message().trim().to_string() })?;
    for (i, r) in raw.rule.iter().enumerate() {
        let bad = |what: &str| KernelError::Profile {
            file: file.into(),
            message: format!("rule {} ({} {}): {what}. Fix: write terms as CONFIG_X=v, CONFIG_X is not set, name=v, name is present, version >= 6.6, joined by \" AND \"", i + 1, r.kind.as_str(), r.name),
        };
        if r.name.trim().is_empty() || r.want.trim().is_empty() {
            return Err(bad("`name` and `want` must not be empty"));
        }
        for c in r.any.iter().chain(&r.all) {
            if parse_conj(c, r.kind).is_none() {
                return Err(bad(&format!("cannot read the condition `{c}`")));
            }
        }
        if matches!(&r.waived, Some(w) if w.trim().is_empty()) {
            return Err(bad("`waived` needs the reason"));
        }
    }
    Ok(raw.rule)
}

/// What a rule is checked against. A missing command line or sysctl set leaves those rules
/// unchecked.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub config: Config,
    /// From the `# Linux/x86 X.Y.Z Kernel Configuration` header.
    pub version: Option<[u32; 3]>,
    pub cmdline: Option<Vec<(String, Option<String>)>>,
    pub sysctl: Option<BTreeMap<String, String>>,
}

/// The kernel version a `.config` was written for (its header line).
pub fn config_version(text: &str) -> Option<[u32; 3]> {
    text.lines().take(5).find_map(|l| {
        let rest = l.strip_prefix("# Linux/")?;
        let v = rest.split_whitespace().nth(1)?;
        parse_version(v.split('-').next()?)
    })
}

/// Split a kernel command line into parameters (`name` or `name=value`).
pub fn parse_cmdline(text: &str) -> Vec<(String, Option<String>)> {
    text.split_whitespace().map(|w| match w.split_once('=') {
        Some((k, v)) => (k.to_string(), Some(v.to_string())),
        None => (w.to_string(), None),
    }).collect()
}

/// Read sysctl settings (`key = value`, `#`/`;` comments, `/` or `.` separators) in order;
/// a later file's setting wins, as `sysctl -p` applies them.
pub fn parse_sysctl(text: &str, into: &mut BTreeMap<String, String>) {
    for l in text.lines() {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        if let Some((k, v)) = l.split_once('=') {
            let k = k.trim().trim_start_matches('-').replace('/', ".");
            into.insert(k, v.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
}

/// Command-line parameters whose values are not booleans (kernel-hardening-checker's list).
const CMDLINE_NOT_BOOL: &[&str] = &[
    "debugfs", "mitigations", "pti", "spectre_v2", "spectre_v2_user", "spectre_bhi", "spec_store_bypass_disable", "l1tf", "mds",
    "tsx_async_abort", "srbds", "mmio_stale_data", "retbleed", "rodata", "ssbd", "spec_rstack_overflow", "gather_data_sampling",
    "reg_file_data_sampling", "slub_debug", "iommu", "vsyscall", "vdso32", "vdso", "cfi", "tsx", "lockdown", "intel_iommu", "efi",
];

fn norm_cmdline(name: &str, v: &str) -> String {
    if CMDLINE_NOT_BOOL.contains(&name) {
        return v.to_string();
    }
    match v.to_ascii_lowercase().as_str() {
        "1" | "on" | "y" | "yes" | "true" => "1".into(),
        "0" | "off" | "n" | "no" | "false" => "0".into(),
        _ => v.to_string(),
    }
}

impl Inputs {
    /// The value `name` of `kind` has: `None` absent; `Some(None)` kconfig "is not set";
    /// `Some(Some(v))` a value (a bare command-line parameter has the empty value).
    fn lookup(&self, kind: Kind, name: &str) -> Option<Option<Option<String>>> {
        Some(match kind {
            Kind::Kconfig => match self.config.get(name) {
                None => None,
                Some(Value::NotSet) => Some(None),
                Some(Value::Yes) => Some(Some("y".into())),
                Some(Value::Module) => Some(Some("m".into())),
                Some(Value::Literal(l)) => Some(Some(l.trim_matches('"').to_string())),
            },
            Kind::Cmdline => self.cmdline.as_ref()?.iter().rev().find(|(k, _)| k == name).map(|(_, v)| Some(norm_cmdline(name, v.as_deref().unwrap_or("")))),
            Kind::Sysctl => self.sysctl.as_ref()?.get(name).map(|v| Some(v.clone())),
        })
    }

    fn max_of(&self, kind: Kind, name: &str) -> Option<String> {
        let sym = match kind {
            Kind::Kconfig => format!("{name}_MAX"),
            // vm.mmap_rnd_bits -> CONFIG_ARCH_MMAP_RND_BITS_MAX
            _ => format!("CONFIG_ARCH_{}_MAX", name.rsplit('.').next().unwrap_or(name).to_ascii_uppercase()),
        };
        match self.config.get(&sym) {
            Some(Value::Literal(l)) => Some(l.clone()),
            _ => None,
        }
    }

    /// `None`: the input for this term was not given.
    fn term(&self, t: &Term) -> Option<bool> {
        match t {
            Term::VersionAtLeast(v) => Some(self.version.is_some_and(|have| have >= *v)),
            Term::Is { kind, name, test } => {
                let got = self.lookup(*kind, name)?;
                Some(match test {
                    Test::NotSet => matches!(got, None | Some(None)),
                    Test::Present => got.is_some(),
                    Test::NotOff => matches!(&got, Some(Some(v)) if !matches!(v.as_str(), "0" | "off" | "n")),
                    Test::Contains(item) => matches!(&got, Some(Some(v)) if v.split(',').any(|x| x.trim() == item)),
                    Test::Max => match (self.max_of(*kind, name), &got) {
                        (Some(max), Some(Some(v))) => *v == max,
                        _ => false,
                    },
                    Test::Eq(want) => {
                        let want = if *kind == Kind::Cmdline { norm_cmdline(name, want) } else { want.clone() };
                        matches!(&got, Some(Some(v)) if *v == want)
                    }
                })
            }
        }
    }

    fn conj(&self, c: &[Term]) -> Option<bool> {
        let mut all = true;
        for t in c {
            all &= self.term(t)?;
        }
        Some(all)
    }

    fn shown(&self, kind: Kind, name: &str) -> String {
        match self.lookup(kind, name) {
            None => "(not checked)".into(),
            Some(None) => "absent".into(),
            Some(Some(None)) => "is not set".into(),
            Some(Some(Some(v))) if v.is_empty() => "present".into(),
            Some(Some(Some(v))) => v,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Met: by `want` (empty) or by the alternative named.
    Ok(String),
    Waived(String),
    /// The rule's input (command line, sysctl files) was not given.
    NotChecked,
    Fail,
}

#[derive(Debug, Clone)]
pub struct Row {
    pub rule: Rule,
    pub got: String,
    pub status: Status,
}

#[derive(Debug, Clone)]
pub struct Table {
    pub file: String,
    pub rows: Vec<Row>,
}

fn want_text(r: &Rule) -> String {
    let mut w = r.want.clone();
    for a in &r.all {
        w.push_str(&format!(" AND {a}"));
    }
    for a in &r.any {
        w.push_str(&format!(" OR ({a})"));
    }
    w
}

/// Evaluate every rule.
pub fn evaluate(file: &str, rules: &[Rule], inputs: &Inputs) -> Table {
    let rows = rules
        .iter()
        .map(|r| {
            let want = Term::Is { kind: r.kind, name: r.name.clone(), test: parse_test(&r.want) };
            let all: Vec<Term> = r.all.iter().flat_map(|c| parse_conj(c, r.kind).unwrap_or_default()).collect();
            let mut main = vec![want];
            main.extend(all);
            let met = match inputs.conj(&main) {
                Some(true) => Some(Status::Ok(String::new())),
                other => r.any.iter().find(|a| inputs.conj(&parse_conj(a, r.kind).unwrap_or_default()) == Some(true)).map(|a| Status::Ok(a.clone())).or(match other {
                    None if r.any.iter().all(|a| inputs.conj(&parse_conj(a, r.kind).unwrap_or_default()).is_none()) => Some(Status::NotChecked),
                    _ => None,
                }),
            };
            let status = match met {
                Some(s) => s,
                None => match &r.waived {
                    Some(w) => Status::Waived(w.clone()),
                    None => Status::Fail,
                },
            };
            Row { rule: r.clone(), got: inputs.shown(r.kind, &r.name), status }
        })
        .collect();
    Table { file: file.to_string(), rows }
}

impl Table {
    pub fn count(&self, f: impl Fn(&Status) -> bool) -> usize {
        self.rows.iter().filter(|r| f(&r.status)).count()
    }
    pub fn failed(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.status == Status::Fail)
    }
    pub fn summary(&self) -> String {
        format!(
            "{} rules: {} met, {} waived, {} failed, {} not checked",
            self.rows.len(),
            self.count(|s| matches!(s, Status::Ok(_))),
            self.count(|s| matches!(s, Status::Waived(_))),
            self.count(|s| *s == Status::Fail),
            self.count(|s| *s == Status::NotChecked)
        )
    }

    /// Only the failed rules, each with what to do.
    pub fn failures(&self) -> String {
        let mut s = String::new();
        for r in self.failed() {
            let _ = writeln!(
                s,
                "  {} {}: wants {}, got {} (source: {})\n    fix: {} in {}, or add `waived = \"<reason>\"` to the rule in {}",
                r.rule.kind.as_str(),
                r.rule.name,
                want_text(&r.rule),
                r.got,
                r.rule.source,
                match r.rule.kind {
                    Kind::Kconfig => "set it in kernel/fragments/hardening.config",
                    Kind::Cmdline => "add the parameter to the profile's `cmdline`",
                    Kind::Sysctl => "set the key in the VM root's /etc/sysctl.d",
                },
                match r.rule.kind {
                    Kind::Kconfig => "the kernel build",
                    Kind::Cmdline => "kernel/profiles/vm.toml",
                    Kind::Sysctl => "baselayout's /etc/sysctl.d/10-kimigayo-hardening.conf",
                },
                self.file
            );
        }
        s
    }

    /// The whole table, one row per rule.
    pub fn render(&self) -> String {
        let mut s = format!("kernel hardening rules ({}): {}\n", self.file, self.summary());
        let w = self.rows.iter().map(|r| r.rule.name.len()).max().unwrap_or(4).max(4);
        let _ = writeln!(s, "{:<8} {:<7} {:<w$} {:<24} {:<24} SOURCE", "RESULT", "KIND", "NAME", "WANT", "GOT");
        for r in &self.rows {
            let (res, extra) = match &r.status {
                Status::Ok(a) if a.is_empty() => ("OK", String::new()),
                Status::Ok(a) => ("OK", format!(" — by: {a}")),
                Status::Waived(why) => ("WAIVED", format!(" — {why}")),
                Status::NotChecked => ("-", String::new()),
                Status::Fail => ("FAIL", String::new()),
            };
            let _ = writeln!(s, "{res:<8} {:<7} {:<w$} {:<24} {:<24} {}{extra}", r.rule.kind.as_str(), r.rule.name, r.rule.want, r.got, r.rule.source);
        }
        s
    }

    /// Markdown rows for kernel/README.md: rule → source → result and why.
    pub fn markdown(&self) -> String {
        let mut s = String::from("| rule | source | wants | Kimigayo | why |\n|---|---|---|---|---|\n");
        for r in &self.rows {
            let (res, why) = match &r.status {
                Status::Ok(a) if a.is_empty() => ("set".to_string(), r.rule.note.clone().unwrap_or_default()),
                Status::Ok(a) => ("met".to_string(), format!("by {a}{}", r.rule.note.as_deref().map(|n| format!("; {n}")).unwrap_or_default())),
                Status::Waived(w) => ("waived".to_string(), w.clone()),
                Status::NotChecked => ("not checked".to_string(), String::new()),
                Status::Fail => ("FAIL".to_string(), String::new()),
            };
            let _ = writeln!(s, "| {} `{}` | {} | `{}` | {res} | {} |", r.rule.kind.as_str(), r.rule.name, r.rule.source, want_text(&r.rule).replace('|', "\\|"), why.replace('|', "\\|"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(t: &str) -> Vec<Rule> {
        parse("t.toml", t).unwrap()
    }

    fn inputs(cfg: &str, cmdline: Option<&str>, sysctl: Option<&str>) -> Inputs {
        let mut s = BTreeMap::new();
        if let Some(t) = sysctl {
            parse_sysctl(t, &mut s);
        }
        Inputs { config: Config::parse(cfg).unwrap(), version: config_version(cfg), cmdline: cmdline.map(parse_cmdline), sysctl: sysctl.map(|_| s) }
    }

    const CFG: &str = "#\n# Automatically generated file; DO NOT EDIT.\n# Linux/x86 6.12.107 Kernel Configuration\n#\nCONFIG_A=y\n# CONFIG_MODULES is not set\nCONFIG_LSM=\"landlock,lockdown,yama\"\nCONFIG_ARCH_MMAP_RND_BITS_MAX=32\nCONFIG_ARCH_MMAP_RND_BITS=32\n";

    #[test]
    fn rules_are_met_by_value_by_alternative_or_waived_and_otherwise_fail() {
        let r = rules(
            r#"
[[rule]]
kind = "kconfig"
name = "CONFIG_A"
want = "y"
source = "KSPP"
class = "self_protection"
[[rule]]
kind = "kconfig"
name = "CONFIG_MODULE_SIG"
want = "y"
any = ["CONFIG_MODULES is not set"]
source = "KSPP"
class = "self_protection"
[[rule]]
kind = "kconfig"
name = "CONFIG_LSM"
want = "*yama*"
source = "KSPP"
class = "security_policy"
[[rule]]
kind = "kconfig"
name = "CONFIG_ARCH_MMAP_RND_BITS"
want = "MAX"
source = "x"
class = "harden_userspace"
[[rule]]
kind = "kconfig"
name = "CONFIG_DEBUG_CREDENTIALS"
want = "y"
any = ["version >= 6.6.8"]
source = "KSPP"
class = "self_protection"
[[rule]]
kind = "kconfig"
name = "CONFIG_B"
want = "y"
source = "KSPP"
class = "self_protection"
[[rule]]
kind = "kconfig"
name = "CONFIG_C"
want = "y"
source = "KSPP"
class = "self_protection"
waived = "needs clang"
[[rule]]
kind = "kconfig"
name = "CONFIG_GONE"
want = "is not set"
source = "KSPP"
class = "cut_attack_surface"
"#,
        );
        let t = evaluate("t.toml", &r, &inputs(CFG, None, None));
        let st: Vec<_> = t.rows.iter().map(|r| r.status.clone()).collect();
        assert_eq!(st[0], Status::Ok(String::new()));
        assert_eq!(st[1], Status::Ok("CONFIG_MODULES is not set".into()));
        assert_eq!(st[2], Status::Ok(String::new()));
        assert_eq!(st[3], Status::Ok(String::new()));
        assert_eq!(st[4], Status::Ok("version >= 6.6.8".into()));
        assert_eq!(st[5], Status::Fail);
        assert_eq!(st[6], Status::Waived("needs clang".into()));
        assert_eq!(st[7], Status::Ok(String::new()));
        let f = t.failures();
        assert!(f.contains("CONFIG_B: wants y, got absent (source: KSPP)") && f.contains("hardening.config") && f.contains("waived"), "{f}");
        assert!(t.render().contains("8 rules: 6 met, 1 waived, 1 failed, 0 not checked"), "{}", t.render());
        // An older kernel does not meet the version alternative.
        let old = CFG.replace("6.12.107", "6.1.192");
        assert_eq!(evaluate("t.toml", &r, &inputs(&old, None, None)).rows[4].status, Status::Fail);
    }

    #[test]
    fn command_line_and_sysctl_rules_read_their_inputs_or_are_not_checked() {
        let r = rules(
            r#"
[[rule]]
kind = "cmdline"
name = "init_on_alloc"
want = "1"
any = ["CONFIG_INIT_ON_ALLOC_DEFAULT_ON=y AND init_on_alloc is not set"]
source = "KSPP"
class = "self_protection"
[[rule]]
kind = "cmdline"
name = "nosmt"
want = "is present"
source = "KSPP"
class = "self_protection"
[[rule]]
kind = "cmdline"
name = "spectre_v2"
want = "is not off"
any = ["mitigations=auto,nosmt AND spectre_v2 is not set"]
source = "defconfig"
class = "self_protection"
[[rule]]
kind = "sysctl"
name = "kernel.kptr_restrict"
want = "2"
source = "KSPP"
class = "self_protection"
[[rule]]
kind = "sysctl"
name = "vm.mmap_rnd_bits"
want = "MAX"
source = "x"
class = "harden_userspace"
"#,
        );
        let t = evaluate("t.toml", &r, &inputs(CFG, Some("console=ttyS0 init_on_alloc=on nosmt mitigations=auto,nosmt"), Some("# c\nkernel/kptr_restrict = 2\nvm.mmap_rnd_bits=32\n")));
        assert!(t.rows.iter().all(|r| matches!(r.status, Status::Ok(_))), "{}", t.render());
        let t = evaluate("t.toml", &r, &inputs(CFG, Some("init_on_alloc=0 spectre_v2=off"), Some("kernel.kptr_restrict = 1\n")));
        assert!(t.rows.iter().all(|r| r.status == Status::Fail), "{}", t.render());
        let t = evaluate("t.toml", &r, &inputs(CFG, None, None));
        assert!(t.rows.iter().all(|r| r.status == Status::NotChecked), "{}", t.render());
    }

    #[test]
    fn a_rule_file_with_an_unreadable_condition_is_refused_naming_the_rule() {
        let e = parse("kernel/rules/x.toml", "[[rule]]\nkind = \"kconfig\"\nname = \"CONFIG_A\"\nwant = \"y\"\nany = [\"CONFIG_B maybe\"]\nsource = \"s\"\nclass = \"c\"\n").unwrap_err().to_string();
        assert!(e.contains("kernel/rules/x.toml") && e.contains("rule 1 (kconfig CONFIG_A)") && e.contains("`CONFIG_B maybe`"), "{e}");
        let e = parse("x.toml", "[[rule]]\nkind = \"kernel\"\nname = \"A\"\nwant = \"y\"\nsource = \"s\"\nclass = \"c\"\n").unwrap_err().to_string();
        assert!(e.contains("x.toml") && e.contains("kernel"), "{e}");
        let e = parse("x.toml", "[[rule]]\nkind = \"kconfig\"\nname = \"CONFIG_A\"\nwant = \"y\"\nsource = \"s\"\nclass = \"c\"\nwaived = \" \"\n").unwrap_err().to_string();
        assert!(e.contains("reason"), "{e}");
    }
}
