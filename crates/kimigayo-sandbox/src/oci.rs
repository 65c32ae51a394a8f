//! OCI runtime-spec / Docker seccomp JSON profiles compiled to BPF.
//!
//! Understood: `defaultAction`, `defaultErrnoRet`, `architectures`, `archMap` (read for the
//! native arch only), `syscalls[].{names,name,action,errnoRet,args[].{index,value,valueTwo,op}}`
//! and Docker's `includes`/`excludes` (`arches`, `caps`, `minKernel`). Syscall names this
//! architecture lacks are skipped with a warning, as Docker's default profile names calls of
//! every architecture.

use std::path::Path;

use serde::Deserialize;

use crate::filter::{build_programs, Action, CompiledFilter, RuleSet};
use crate::syscalls::{go_arch_name, native_arch, scmp_arch_name, syscall_nr};
use crate::SandboxError;
use seccompiler::{SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompRule, TargetArch};

const ACTIONS: &str =
    "SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, \
                       SCMP_ACT_TRAP, SCMP_ACT_TRACE, SCMP_ACT_LOG";
const OPS: &str = "SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: String,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    architectures: Vec<String>,
    #[serde(default)]
    arch_map: Vec<ArchMap>,
    #[serde(default)]
    syscalls: Vec<SyscallRule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMap {
    architecture: String,
    #[serde(default)]
    sub_architectures: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SyscallRule {
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    name: Option<String>,
    action: String,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Vec<Arg>,
    #[serde(default)]
    includes: Option<Filter>,
    #[serde(default)]
    excludes: Option<Filter>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Arg {
    index: u32,
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Filter {
    #[serde(default)]
    arches: Vec<String>,
    #[serde(default)]
    caps: Vec<String>,
    #[serde(default)]
    min_kernel: Option<String>,
}

/// Reads and compiles an OCI/Docker seccomp JSON profile for the architecture we run on.
pub fn compile_profile(path: &Path) -> Result<CompiledFilter, SandboxError> {
    let text = std::fs::read_to_string(path).map_err(|source| SandboxError::ProfileRead {
        path: path.to_path_buf(),
        source,
    })?;
    compile_profile_str(path, &text, native_arch())
}

/// Compiles profile text (named `path` in messages) for `arch`.
pub fn compile_profile_str(
    path: &Path,
    text: &str,
    arch: TargetArch,
) -> Result<CompiledFilter, SandboxError> {
    let err = |json_path: String, message: String, fix: String| SandboxError::Profile {
        path: path.to_path_buf(),
        json_path,
        message,
        fix,
    };
    let de = &mut serde_json::Deserializer::from_str(text);
    let profile: Profile = serde_path_to_error::deserialize(de).map_err(|e| {
        let p = e.path().to_string();
        let inner = e.into_inner();
        let fix = if inner.is_syntax() || inner.is_eof() {
            format!("repair the JSON syntax near line {} column {}", inner.line(), inner.column())
        } else {
            "give the field the type the OCI seccomp format defines (see the runtime-spec config-linux \
             seccomp section)"
                .to_string()
        };
        let json_path = if p == "." { "$".to_string() } else { format!("$.{p}") };
        err(json_path, inner.to_string(), fix)
    })?;

    let mut warnings = Vec::new();
    let native = scmp_arch_name(arch);
    let listed = profile.architectures.iter().any(|a| a == native)
        || profile
            .arch_map
            .iter()
            .any(|m| m.architecture == native || m.sub_architectures.iter().any(|s| s == native));
    let any_listed = !(profile.architectures.is_empty() && profile.arch_map.is_empty());
    if any_listed && !listed {
        warnings.push(format!(
            "$.architectures: {native} is not listed; the rules are applied to it anyway"
        ));
    }

    let default = parse_action(&profile.default_action, profile.default_errno_ret)
        .map_err(|m| err("$.defaultAction".into(), m, format!("use one of {ACTIONS}")))?;

    let kernel = kernel_version();
    let mut rules = RuleSet::default();
    for (i, rule) in profile.syscalls.iter().enumerate() {
        let at = format!("$.syscalls[{i}]");
        let action = parse_action(&rule.action, rule.errno_ret)
            .map_err(|m| err(format!("{at}.action"), m, format!("use one of {ACTIONS}")))?;
        let mut names: Vec<&String> = rule.names.iter().collect();
        names.extend(rule.name.iter());
        if names.is_empty() {
            return Err(err(
                format!("{at}.names"),
                "the rule names no syscall".into(),
                "add \"names\": [\"...\"]".into(),
            ));
        }
        let mut conditions = Vec::new();
        for (j, a) in rule.args.iter().enumerate() {
            let c = condition(a).map_err(|(m, fix)| err(format!("{at}.args[{j}]"), m, fix))?;
            conditions.push(c);
        }
        if let Some(why) = skipped(rule, arch, kernel) {
            warnings.push(format!("{at}: skipped: {why}"));
            continue;
        }
        if action == default {
            continue;
        }
        for (j, name) in rule.names.iter().chain(rule.name.iter()).enumerate() {
            let Some(nr) = syscall_nr(arch, name) else {
                warnings.push(format!(
                    "{at}.names[{j}]: \"{name}\" is not a syscall on {arch:?}; skipped"
                ));
                continue;
            };
            let r = if conditions.is_empty() {
                None
            } else {
                Some(SeccompRule::new(conditions.clone()).expect("conditions are non-empty"))
            };
            rules.add(action, nr, r);
        }
    }
    let programs = build_programs(default, &rules, arch, &path.display().to_string())?;
    Ok(CompiledFilter {
        source: path.display().to_string(),
        programs,
        warnings,
    })
}

fn parse_action(name: &str, errno_ret: Option<u32>) -> Result<Action, String> {
    Ok(match name {
        "SCMP_ACT_ALLOW" => Action::Allow,
        "SCMP_ACT_ERRNO" => Action::Errno(errno_ret.unwrap_or(libc::EPERM as u32)),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::KillThread,
        "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
        "SCMP_ACT_TRAP" => Action::Trap,
        "SCMP_ACT_TRACE" => Action::Trace(errno_ret.unwrap_or(0)),
        "SCMP_ACT_LOG" => Action::Log,
        "SCMP_ACT_NOTIFY" => {
            return Err("SCMP_ACT_NOTIFY needs a seccomp agent, which Kimigayo has not".into())
        }
        other => return Err(format!("unknown action \"{other}\"")),
    })
}

fn condition(a: &Arg) -> Result<SeccompCondition, (String, String)> {
    if a.index > 5 {
        return Err((
            format!("argument index {} is out of range", a.index),
            "use an index from 0 to 5".into(),
        ));
    }
    let op = match a.op.as_str() {
        "SCMP_CMP_NE" => SeccompCmpOp::Ne,
        "SCMP_CMP_LT" => SeccompCmpOp::Lt,
        "SCMP_CMP_LE" => SeccompCmpOp::Le,
        "SCMP_CMP_EQ" => SeccompCmpOp::Eq,
        "SCMP_CMP_GE" => SeccompCmpOp::Ge,
        "SCMP_CMP_GT" => SeccompCmpOp::Gt,
        // libseccomp: (arg & value) == valueTwo
        "SCMP_CMP_MASKED_EQ" => {
            return SeccompCondition::new(
                a.index as u8,
                SeccompCmpArgLen::Qword,
                SeccompCmpOp::MaskedEq(a.value),
                a.value_two,
            )
            .map_err(|e| (e.to_string(), "use an index from 0 to 5".into()))
        }
        other => {
            return Err((
                format!("unknown op \"{other}\""),
                format!("use one of {OPS}"),
            ))
        }
    };
    SeccompCondition::new(a.index as u8, SeccompCmpArgLen::Qword, op, a.value)
        .map_err(|e| (e.to_string(), "use an index from 0 to 5".into()))
}

/// Why a rule does not apply here (Docker's includes/excludes), if it does not.
fn skipped(rule: &SyscallRule, arch: TargetArch, kernel: (u32, u32)) -> Option<String> {
    let names = [
        go_arch_name(arch),
        scmp_arch_name(arch),
        match arch {
            TargetArch::x86_64 => "x86_64",
            TargetArch::aarch64 => "aarch64",
            TargetArch::riscv64 => "riscv64",
        },
    ];
    let inc = rule.includes.as_ref().map(|f| (f, true)).into_iter();
    let exc = rule.excludes.as_ref().map(|f| (f, false)).into_iter();
    for (f, include) in inc.chain(exc) {
        let here = f.arches.iter().any(|a| names.contains(&a.as_str()));
        if include && !f.arches.is_empty() && !here {
            return Some(format!("only for architectures {:?}", f.arches));
        }
        if !include && here {
            return Some(format!("excluded on {}", names[0]));
        }
        if include && !f.caps.is_empty() {
            // Which capabilities a service keeps is decided per service, after compiling:
            // the safe reading of "only for holders of" is "not here".
            return Some(format!("only for holders of {:?}", f.caps));
        }
        if let Some(min) = f.min_kernel.as_deref().filter(|_| include) {
            if let Some(min) = parse_version(min) {
                if kernel < min {
                    return Some(format!("needs kernel {}.{} or newer", min.0, min.1));
                }
            }
        }
    }
    None
}

fn parse_version(s: &str) -> Option<(u32, u32)> {
    let mut it = s
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty());
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

fn kernel_version() -> (u32, u32) {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .and_then(|s| parse_version(&s))
        .unwrap_or((0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(text: &str) -> Result<CompiledFilter, SandboxError> {
        compile_profile_str(Path::new("/etc/p.json"), text, TargetArch::x86_64)
    }

    #[test]
    fn malformed_json_names_file_path_and_fix() {
        let e = compile(r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": 5}]}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/etc/p.json") && e.contains("$.syscalls[0].action") && e.contains("fix:"),
            "{e}"
        );
        let e = compile(r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [ "#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("repair the JSON syntax near line 1"), "{e}");
        let e = compile(r#"{"syscalls": []}"#).unwrap_err().to_string();
        assert!(e.contains("defaultAction"), "{e}");
    }

    #[test]
    fn bad_action_and_op_are_named() {
        let e = compile(r#"{"defaultAction": "SCMP_ACT_DENY"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("$.defaultAction") && e.contains("SCMP_ACT_ERRNO"),
            "{e}"
        );
        let e = compile(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_LIKE"}]}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("$.syscalls[0].args[0]") && e.contains("SCMP_CMP_MASKED_EQ"),
            "{e}"
        );
        let e = compile(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("index 7"), "{e}");
    }

    #[test]
    fn unknown_names_and_foreign_rules_are_skipped_with_warnings() {
        let f = compile(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [
                {"names": ["read", "write", "arm_fadvise64_64", "not_a_call"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["sync_file_range2"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}},
                {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}}
            ]}"#,
        )
        .unwrap();
        let w = f.warnings.join("\n");
        assert!(
            w.contains("$.syscalls[0].names[2]: \"arm_fadvise64_64\""),
            "{w}"
        );
        assert!(w.contains("$.syscalls[0].names[3]: \"not_a_call\""), "{w}");
        assert!(
            w.contains("$.syscalls[1]: skipped: only for architectures"),
            "{w}"
        );
        assert!(
            w.contains("$.syscalls[2]: skipped: only for holders of"),
            "{w}"
        );
        // guard + default program (no group program for ALLOW)
        assert_eq!(f.programs.len(), 2);
    }
}
