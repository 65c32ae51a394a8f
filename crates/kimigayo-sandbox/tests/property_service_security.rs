//! The sandbox primitive behind property 7 (service security): random sandbox specs are
//! applied by `spawn_confined` to the selftest helper, which reports from inside what it
//! really got. The property itself is tested through the product's own path, the init image
//! in podman (crates/kimigayo-image/tests/property_service_security.rs).

mod common;

use std::sync::OnceLock;

use common::*;
use kimigayo_sandbox::selftest::PROBES;
use kimigayo_sandbox::{probe, CapDrop, Namespaces, SandboxReport, SandboxSpec, SeccompChoice};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Filter {
    Default,
    /// A Docker-format deny-list profile written for the case.
    Profile {
        denied: Vec<&'static str>,
        errno: u32,
        personality_arg_rule: bool,
        junk_names: bool,
    },
}

#[derive(Debug, Clone)]
struct Case {
    ns: Namespaces,
    no_new_privs: bool,
    cap_drop: CapDrop,
    filter: Filter,
    hostname: String,
    picks: (prop::sample::Index, prop::sample::Index),
}

const CAPS: &[&str] = &[
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_MODULE",
    "CAP_NET_RAW",
    "CAP_SYS_PTRACE",
    "CAP_KILL",
    "CAP_SYS_PACCT",
    "CAP_CHOWN",
];
/// Errnos no probe returns on its own (see selftest::try_syscall), so a match proves the filter.
const PROFILE_ERRNOS: &[u32] = &[1, 13, 131];

fn probe_names() -> Vec<&'static str> {
    PROBES.iter().map(|(n, _)| *n).collect()
}

fn case() -> impl Strategy<Value = Case> {
    let ns = (any::<[bool; 5]>())
        .prop_filter("at least one namespace", |b| b.iter().any(|x| *x))
        .prop_map(|[m, p, i, u, n]| {
            // A PID namespace requires its mount namespace (fresh /proc).
            Namespaces {
                mount: m || p,
                pid: p,
                ipc: i,
                uts: u,
                net: n,
                user: false,
            }
        });
    let caps = prop_oneof![
        2 => Just(CapDrop::None),
        1 => Just(CapDrop::All),
        3 => prop::sample::subsequence(CAPS.to_vec(), 1..4).prop_map(|v| CapDrop::List(v.into_iter().map(String::from).collect())),
    ];
    let filter = prop_oneof![
        Just(Filter::Default),
        (
            prop::sample::subsequence(probe_names(), 1..6),
            prop::sample::select(PROFILE_ERRNOS.to_vec()),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(denied, errno, personality_arg_rule, junk_names)| {
                Filter::Profile {
                    denied,
                    errno,
                    personality_arg_rule,
                    junk_names,
                }
            }),
    ];
    (
        ns,
        prop::bool::weighted(0.75),
        caps,
        filter,
        "[a-z][a-z0-9-]{0,12}",
        any::<(prop::sample::Index, prop::sample::Index)>(),
    )
        .prop_map(
            |(ns, no_new_privs, cap_drop, filter, hostname, picks)| Case {
                ns,
                no_new_privs,
                cap_drop,
                filter,
                hostname,
                picks,
            },
        )
}

fn profile_json(
    denied: &[&str],
    errno: u32,
    personality_arg_rule: bool,
    junk_names: bool,
) -> String {
    let mut names: Vec<String> = denied.iter().map(|n| format!("\"{n}\"")).collect();
    if junk_names {
        names.extend(["\"arm_fadvise64_64\"".into(), "\"not_a_syscall\"".into()]);
    }
    let mut rules = vec![format!(
        r#"{{"names": [{}], "action": "SCMP_ACT_ERRNO", "errnoRet": {errno}}}"#,
        names.join(", ")
    )];
    if personality_arg_rule {
        // ADDR_NO_RANDOMIZE only: exercises argument conditions.
        rules.push(format!(
            r#"{{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": {errno},
                "args": [{{"index": 0, "value": 262144, "valueTwo": 0, "op": "SCMP_CMP_EQ"}}]}}"#
        ));
    }
    format!(
        r#"{{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"], "syscalls": [{}]}}"#,
        rules.join(",\n")
    )
}

fn parent() -> &'static SandboxReport {
    static P: OnceLock<SandboxReport> = OnceLock::new();
    P.get_or_init(|| probe(std::process::id() as i32).unwrap())
}

fn check(c: &Case, dir: &std::path::Path, n: u64) -> Result<(), TestCaseError> {
    let mut spec = SandboxSpec::default_for("svc");
    spec.namespaces = c.ns;
    spec.no_new_privs = c.no_new_privs;
    spec.cap_drop = c.cap_drop.clone();
    spec.hostname = Some(c.hostname.clone());

    let dropped: Vec<String> = match &c.cap_drop {
        CapDrop::None => vec![],
        CapDrop::All => vec![],
        CapDrop::List(l) => l.clone(),
    };
    let confounded = |name: &str| {
        let cap = PROBES
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, c)| *c);
        match (&c.cap_drop, cap) {
            (_, None) => false,
            (CapDrop::All, Some(_)) => true,
            (_, Some(cap)) => dropped.iter().any(|d| d == cap),
        }
    };
    // (syscall, errno it must get)
    let mut expect: Vec<(&str, i32)> = Vec::new();
    // syscalls the filter must let through: their errno must not be the filter's
    let mut must_pass: Vec<(&str, i32)> = Vec::new();
    match &c.filter {
        Filter::Default => {
            spec.seccomp = SeccompChoice::Default;
            let cands: Vec<&str> = probe_names()
                .into_iter()
                .filter(|n| !confounded(n))
                .collect();
            expect.push((*c.picks.0.get(&cands), libc::EPERM));
            expect.push((*c.picks.1.get(&cands), libc::EPERM));
        }
        Filter::Profile {
            denied,
            errno,
            personality_arg_rule,
            junk_names,
        } => {
            let path = dir.join(format!("profile-{n}.json"));
            std::fs::write(
                &path,
                profile_json(denied, *errno, *personality_arg_rule, *junk_names),
            )
            .unwrap();
            spec.seccomp = SeccompChoice::Profile(path);
            let is_denied =
                |p: &str| denied.contains(&p) || (p == "personality" && *personality_arg_rule);
            let cands: Vec<&str> = probe_names()
                .into_iter()
                .filter(|n| is_denied(n) && !confounded(n))
                .collect();
            if !cands.is_empty() {
                expect.push((*c.picks.0.get(&cands), *errno as i32));
            }
            let free: Vec<&str> = probe_names()
                .into_iter()
                .filter(|n| !is_denied(n) && !confounded(n))
                .collect();
            if !free.is_empty() {
                must_pass.push((*c.picks.1.get(&free), *errno as i32));
            }
        }
    }
    let tries: Vec<&str> = expect
        .iter()
        .chain(must_pass.iter())
        .map(|(n, _)| *n)
        .collect();
    let (code, out) = run_selftest(&spec, dir, &format!("case-{n}"), &tries)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(code, 0, "selftest exit code");
    let out = out.ok_or_else(|| TestCaseError::fail("selftest wrote no report"))?;
    let r = &out.report;
    let p = parent();

    // Namespace isolation: exactly the requested namespaces are new.
    for (key, on) in [
        ("mnt", c.ns.mount),
        ("pid", c.ns.pid),
        ("ipc", c.ns.ipc),
        ("uts", c.ns.uts),
        ("net", c.ns.net),
        ("user", false),
        ("cgroup", false),
    ] {
        let (mine, theirs) = (r.namespaces.get(key), p.namespaces.get(key));
        prop_assert!(
            mine.is_some() && theirs.is_some(),
            "{} namespace id missing",
            key
        );
        prop_assert_eq!(
            mine != theirs,
            on,
            "{} namespace: child {:?} parent {:?}",
            key,
            mine,
            theirs
        );
    }
    if c.ns.pid {
        prop_assert_eq!(out.pid, 1, "PID 1 of its own PID namespace");
        prop_assert_eq!(
            &r.ns_pids,
            &vec![1],
            "its fresh /proc shows its own PID namespace"
        );
    } else {
        prop_assert_ne!(out.pid, 1);
    }
    if c.ns.uts {
        prop_assert_eq!(&out.hostname, &c.hostname);
    }
    // Confinement.
    prop_assert_eq!(r.no_new_privs, c.no_new_privs);
    prop_assert_eq!(r.seccomp, 2, "seccomp filter mode");
    prop_assert!(r.seccomp_filters.unwrap_or(1) >= 1);
    let mask = match &c.cap_drop {
        CapDrop::None => 0,
        CapDrop::All => p.cap_bnd,
        CapDrop::List(l) => cap_mask(l),
    };
    prop_assert_eq!(r.cap_bnd & mask, 0, "dropped caps left in the bounding set");
    prop_assert_eq!(
        r.cap_eff & mask,
        0,
        "dropped caps left in the effective set"
    );
    prop_assert_eq!(
        r.cap_bnd | mask,
        p.cap_bnd,
        "only the dropped caps are gone"
    );
    // The filter: denied calls get the filter's errno, allowed ones work.
    for (name, errno) in &expect {
        prop_assert_eq!(
            out.tries.get(*name).copied(),
            Some(*errno),
            "denied syscall {}",
            name
        );
    }
    for (name, errno) in &must_pass {
        prop_assert_ne!(
            out.tries.get(*name).copied(),
            Some(*errno),
            "allowed syscall {} was denied",
            name
        );
    }
    prop_assert_eq!(out.allowed.get("getppid").copied(), Some(0));
    prop_assert_eq!(out.allowed.get("uname").copied(), Some(0));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    // The sandbox primitive under property 7; the tagged property test drives the shipped
    // init image (crates/kimigayo-image/tests/property_service_security.rs).
    #[test]
    fn every_service_start_gets_namespaces_and_seccomp(c in case()) {
        static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let dir = DIR.get_or_init(|| tempfile::tempdir().unwrap());
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        check(&c, dir.path(), n)?;
    }
}
