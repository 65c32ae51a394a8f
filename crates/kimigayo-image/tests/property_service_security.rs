//! Property 7 (service security) through the product's own path: the init image as shipped
//! (kimigayo-init as PID 1 of a podman container), one to three services with random
//! `sandbox_*` settings in /etc/conf.d, started by `rc-service` under one of three container
//! setups — a default unprivileged `podman run`, one with low ports unprivileged (services go
//! into a user namespace of their own), and `--cap-add SYS_ADMIN` (namespaces directly). Each
//! service's start runs the sandbox selftest (a static musl binary), which reports from inside
//! what it really got: its namespaces compared with PID 1's, NoNewPrivs, Seccomp, the capability
//! bounding set, and the errno of syscalls the filter must deny. A control run of the same
//! probes from the unconfined main command proves the EPERM comes from the service's filter.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use common::*;
use proptest::prelude::*;

/// Probes whose EPERM no capability explains (see kimigayo_sandbox::selftest::PROBES).
const PROBES: &[&str] = &["ptrace", "process_vm_readv", "kcmp", "personality", "setns", "fsconfig", "open_tree", "perf_event_open", "name_to_handle_at", "io_uring_setup", "modify_ldt"];
/// errno 1.
const EPERM: i64 = 1;
const CAPS: &[&str] = &["CAP_SYS_ADMIN", "CAP_NET_RAW", "CAP_SYS_PTRACE", "CAP_KILL", "CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_AUDIT_WRITE"];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Runtime {
    /// `podman run`: no CAP_SYS_ADMIN, ports below 1024 privileged.
    Plain,
    /// `podman run --sysctl net.ipv4.ip_unprivileged_port_start=0`.
    LowPorts,
    /// `podman run --cap-add SYS_ADMIN`.
    SysAdmin,
}

#[derive(Debug, Clone)]
struct Svc {
    /// mount, pid, ipc, uts, net
    ns: [bool; 5],
    strict: bool,
    /// None: the default keep set; Some: `sandbox_cap_drop` with these names.
    drop: Option<Vec<&'static str>>,
    no_new_privs: bool,
    probes: Vec<&'static str>,
}

#[derive(Debug, Clone)]
struct Case {
    runtime: Runtime,
    services: Vec<Svc>,
}

fn svc() -> impl Strategy<Value = Svc> {
    (
        any::<[bool; 5]>(),
        any::<bool>(),
        prop_oneof![2 => Just(None), 1 => prop::sample::subsequence(CAPS.to_vec(), 1..4).prop_map(Some)],
        prop::bool::weighted(0.8),
        prop::sample::subsequence(PROBES.to_vec(), 2..=2),
    )
        .prop_map(|(mut ns, strict, drop, no_new_privs, probes)| {
            ns[0] |= ns[1]; // pid needs mount
            if !ns.iter().any(|b| *b) {
                ns[2] = true;
            }
            Svc { ns, strict, drop, no_new_privs, probes }
        })
}

fn case() -> impl Strategy<Value = Case> {
    (prop_oneof![Just(Runtime::Plain), Just(Runtime::LowPorts), Just(Runtime::SysAdmin)], prop::collection::vec(svc(), 1..=3))
        .prop_map(|(runtime, services)| Case { runtime, services })
}

/// The sandbox selftest built for musl (static): it runs in the image, which has no glibc.
fn selftest() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = std::process::Command::new(cargo)
            .current_dir(root())
            .args(["build", "--release", "--target", "x86_64-unknown-linux-musl", "-p", "kimigayo-sandbox", "--bin", "kimigayo-sandbox-selftest", "--message-format=json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "building the musl selftest: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find_map(|v| v["executable"].as_str().filter(|e| e.ends_with("kimigayo-sandbox-selftest")).map(PathBuf::from))
            .expect("cargo names the selftest executable")
    })
}

struct Image {
    _dir: tempfile::TempDir,
    _loaded: Loaded,
    name: String,
}

fn image() -> &'static Image {
    static I: OnceLock<Image> = OnceLock::new();
    I.get_or_init(|| {
        let r = repo();
        let dir = tempfile::tempdir().unwrap();
        let mut spec = kimigayo_image::ImageSpec::load(&root().join("images/init.yaml")).unwrap();
        spec.image.name = "kimigayo-prop7-init".into();
        let rep = kimigayo_image::build(&spec, &r.path, &r.keys, r.epoch, &dir.path().join("out")).unwrap_or_else(|e| panic!("{e}"));
        let loaded = load(&rep.oci_archive, "kimigayo-prop7-init");
        Image { name: loaded.0.clone(), _loaded: loaded, _dir: dir }
    })
}

fn conf_d(s: &Svc) -> String {
    let names = ["mount", "pid", "ipc", "uts", "net"];
    let ns: Vec<&str> = names.iter().zip(s.ns).filter(|(_, on)| *on).map(|(n, _)| *n).collect();
    let mut c = format!("sandbox_namespaces=\"{}\"\nsandbox_no_new_privs={}\n", ns.join(" "), if s.no_new_privs { "yes" } else { "no" });
    if s.strict {
        c.push_str("sandbox_seccomp=strict\n");
    }
    if let Some(d) = &s.drop {
        c.push_str(&format!("sandbox_cap_drop=\"{}\"\n", d.join(" ")));
    }
    c
}

/// Capability bit of a name (capabilities(7) numbering).
fn cap_bit(name: &str) -> u64 {
    const ORDER: &[&str] = &[
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
        "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
    ];
    1u64 << ORDER.iter().position(|n| *n == name).unwrap_or_else(|| panic!("unknown capability {name}"))
}

fn check(c: &Case, n: u64) -> Result<(), TestCaseError> {
    let img = image();
    let st = selftest();
    let dir = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = vec!["run".into(), "--rm".into(), "-v".into(), format!("{}:/selftest:ro", st.display())];
    match c.runtime {
        Runtime::Plain => {}
        Runtime::LowPorts => args.extend(["--sysctl".into(), "net.ipv4.ip_unprivileged_port_start=0".into()]),
        Runtime::SysAdmin => args.extend(["--cap-add".into(), "SYS_ADMIN".into()]),
    }
    let mut main = String::from("for e in mnt pid ipc uts net user; do echo \"init_$e=$(readlink /proc/1/ns/$e)\"; done; ");
    main.push_str("echo \"init_bnd=$(sed -n 's/^CapBnd:\\t//p' /proc/1/status)\"; ");
    let all_probes: Vec<String> = PROBES.iter().map(|p| format!("--try {p}")).collect();
    main.push_str(&format!("/selftest --out /run/free.json {} >/dev/null 2>&1; echo \"free=$(cat /run/free.json)\"; ", all_probes.join(" ")));
    for (i, s) in c.services.iter().enumerate() {
        let script = dir.path().join(format!("s{i}"));
        let tries: Vec<String> = s.probes.iter().map(|p| format!("--try {p}")).collect();
        std::fs::write(&script, format!("#!/sbin/openrc-run\nstart() {{\n\t/selftest --out /run/s{i}.json {}\n}}\n", tries.join(" "))).unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let conf = dir.path().join(format!("s{i}.conf"));
        std::fs::write(&conf, conf_d(s)).unwrap();
        args.extend(["-v".into(), format!("{}:/etc/init.d/s{i}:ro", script.display()), "-v".into(), format!("{}:/etc/conf.d/s{i}:ro", conf.display())]);
        main.push_str(&format!("rc-service s{i} start >/dev/null 2>&1; echo \"s{i}_rc=$?\"; echo \"s{i}=$(cat /run/s{i}.json 2>/dev/null)\"; "));
    }
    args.push(img.name.clone());
    args.extend(["sh".into(), "-c".into(), main]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = podman(&argv);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let all = format!("case {n}: {c:?}\n{out}\n--- stderr\n{}", String::from_utf8_lossy(&o.stderr));
    prop_assert!(o.status.success(), "{}", all);
    let kv: BTreeMap<&str, &str> = out.lines().filter_map(|l| l.split_once('=')).collect();
    let get = |k: &str| kv.get(k).copied().ok_or_else(|| TestCaseError::fail(format!("no {k}= in\n{all}")));
    let init_bnd = u64::from_str_radix(get("init_bnd")?.trim(), 16).map_err(|e| TestCaseError::fail(format!("{e}\n{all}")))?;
    let free: serde_json::Value = serde_json::from_str(get("free")?).map_err(|e| TestCaseError::fail(format!("{e}\n{all}")))?;

    for (i, s) in c.services.iter().enumerate() {
        // What the product must have made of the request here.
        let keeps_bind = s.drop.as_ref().is_none_or(|d| !d.contains(&"CAP_NET_BIND_SERVICE"));
        let userns = match c.runtime {
            Runtime::SysAdmin => false,
            Runtime::LowPorts => true,
            Runtime::Plain => !keeps_bind || s.ns[4],
        };
        let degraded = c.runtime == Runtime::Plain && !userns;
        if degraded && !s.no_new_privs {
            // No CAP_SYS_ADMIN anywhere and no no_new_privs: the filter cannot be loaded, and a
            // service never runs without it.
            prop_assert_ne!(get(&format!("s{i}_rc"))?, "0", "s{} ran without its seccomp filter\n{}", i, all);
            continue;
        }
        let [mount, pid, ipc, uts, net] = s.ns.map(|b| b && !degraded);
        let r: serde_json::Value = serde_json::from_str(get(&format!("s{i}"))?).map_err(|e| TestCaseError::fail(format!("s{i}: {e}\n{all}")))?;
        let rep = &r["report"];
        let want = [("mnt", mount), ("pid", pid && c.runtime == Runtime::SysAdmin), ("ipc", ipc), ("uts", uts), ("net", net), ("user", userns)];
        for (key, on) in want {
            let mine = rep["namespaces"][key].as_u64();
            let init = get(&format!("init_{key}"))?.rsplit('[').next().and_then(|v| v.trim_end_matches(']').parse::<u64>().ok());
            prop_assert!(mine.is_some() && init.is_some(), "s{} {} namespace id missing\n{}", i, key, all);
            prop_assert_eq!(mine != init, on, "s{} {} namespace: service {:?} init {:?}\n{}", i, key, mine, init, all);
        }
        prop_assert_eq!(get(&format!("s{i}_rc"))?, "0", "s{} did not start\n{}", i, all);
        prop_assert_eq!(rep["seccomp"].as_u64(), Some(2), "s{} seccomp\n{}", i, all);
        prop_assert_eq!(rep["no_new_privs"].as_bool(), Some(s.no_new_privs), "s{} no_new_privs\n{}", i, all);
        let keep = match &s.drop {
            None => kimigayo_keep_mask(),
            Some(d) => !d.iter().fold(0u64, |m, n| m | cap_bit(n)),
        };
        prop_assert_eq!(rep["cap_bnd"].as_u64(), Some(init_bnd & keep), "s{} bounding set\n{}", i, all);
        for p in &s.probes {
            let got = r["tries"][*p].as_i64();
            prop_assert_eq!(got, Some(EPERM), "s{} {} under the service's filter\n{}", i, p, all);
        }
    }
    // The control: at least one denied probe is allowed in the container itself, so the EPERM
    // seen by the services came from their filter, not from the runtime's.
    let open: Vec<&str> = PROBES.iter().copied().filter(|p| free["tries"][*p].as_i64() != Some(EPERM)).collect();
    prop_assert!(!open.is_empty(), "every probe is already denied by the runtime\n{}", all);
    Ok(())
}

/// The default keep set of kimigayo_sandbox::DEFAULT_KEEP_CAPS as a mask.
fn kimigayo_keep_mask() -> u64 {
    ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"]
        .iter()
        .fold(0, |m, n| m | cap_bit(n))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, failure_persistence: None, ..ProptestConfig::default() })]

    // **Feature: kimigayo-os-core, Property 7: 任意の システムサービス開始に対して、名前空間分離とseccomp-BPFフィルタリングが適用されなければならない**
    #[test]
    fn every_service_start_gets_namespaces_and_seccomp(c in case()) {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        check(&c, n)?;
    }
}
