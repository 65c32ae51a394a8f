//! The init profile image (images/init.yaml) end to end in podman, with init scripts written
//! like a distribution's: some shipped by a package and enabled through the image spec's
//! `services.auto_start`, others added by a Containerfile and enabled with `rc-update add`.
//!
//! (a) A default, unprivileged `podman run` (no CAP_SYS_ADMIN): services start in dependency
//!     order without namespaces but confined (Seccomp 2, NoNewPrivs), status shows the degraded
//!     sandbox, the seccomp-confined service gets EPERM, the crashing one is retried and given
//!     up on, the main command's exit code is passed through, and `podman stop` stops the
//!     services in reverse order, promptly.
//! (b) `--cap-add SYS_ADMIN`: the services get their own namespaces, the denied syscall's EPERM
//!     comes from the filter alone, and a zombie storm in the main command leaves no zombies.
//! (c) Unprivileged again, with ports below 1024 unprivileged in the container
//!     (`--sysctl net.ipv4.ip_unprivileged_port_start=0`, Docker's default): the services get a
//!     user namespace of their own with mount, IPC and UTS namespaces inside it — isolated
//!     without CAP_SYS_ADMIN — and every action (start, status, reload, stop at shutdown) works.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

/// Shipped by the `e2e-services` package, enabled by services.auto_start = [web].
const LOCALFS: &str = r#"#!/sbin/openrc-run
description="Local filesystems (pretend)"

depend() {
	provide localmount
}

start() {
	ebegin "Mounting local filesystems"
	echo localfs >> /run/order
	eend 0
}

stop() {
	ebegin "Unmounting local filesystems"
	echo localfs >> /run/stop-order
	eend 0
}
"#;

const WEB: &str = r#"#!/sbin/openrc-run
description="Toy web server"
command=/bin/sh
command_args="-c 'trap \"exit 0\" TERM; while :; do date > /run/web.alive; sleep 1; done'"
command_background=yes
pidfile=/run/web.pid

depend() {
	need localmount
	use logger
	after localfs
}

start_post() {
	echo web >> /run/order
}

stop_post() {
	echo web >> /run/stop-order
}
"#;

/// Added by the Containerfile; custom start/stop, reload.
const LOGGER: &str = r#"#!/sbin/openrc-run
description="Toy system logger"
extra_commands="reload"
description_reload="Re-open the log file"
pidfile=/run/logger.pid

start() {
	ebegin "Starting ${RC_SVCNAME}"
	start-stop-daemon --start --background --make-pidfile --pidfile "${pidfile}" \
		--exec /bin/sh -- -c 'trap "echo reopened >> /run/logger.hup" HUP; trap "exit 0" TERM; while :; do sleep 0.2; done'
	echo logger >> /run/order
	eend $?
}

stop() {
	ebegin "Stopping ${RC_SVCNAME}"
	start-stop-daemon --stop --pidfile "${pidfile}" --retry TERM/3/KILL/2
	echo logger >> /run/stop-order
	eend $?
}

reload() {
	ebegin "Reloading ${RC_SVCNAME}"
	start-stop-daemon --stop --signal HUP --pidfile "${pidfile}"
	eend $?
}
"#;

/// Needs web; prepares its directories with checkpath.
const CACHE: &str = r#"#!/sbin/openrc-run
description="Toy cache daemon"
command=/bin/sh
command_args="-c 'trap \"exit 0\" TERM; while :; do sleep 1; done'"
command_background=yes
pidfile=/run/cache/cache.pid

depend() {
	need web
}

start_pre() {
	checkpath --directory --mode 0750 /run/cache /var/cache/toy
	checkpath --file --mode 0640 /run/cache/state
}

start_post() {
	echo cache >> /run/order
}

stop_post() {
	echo cache >> /run/stop-order
}
"#;

/// Dies after a moment; retried twice, then given up on.
const FLAKY: &str = r#"#!/sbin/openrc-run
description="Crashes"
command=/bin/sh
command_args="-c 'echo try >> /run/flaky.tries; sleep 0.3; echo flaky exploding; exit 7'"
command_background=yes
pidfile=/run/flaky.pid
respawn=yes
retry_attempts=2
retry_backoff=100ms
"#;

/// Tries what the default seccomp filter denies.
const SWAPPER: &str = r#"#!/sbin/openrc-run
description="Tries swapon and mount"

start() {
	ebegin "Trying privileged operations"
	swapon /dev/null 2>> /run/swapper.log; echo "swapon=$?" >> /run/swapper.log
	mkdir -p /tmp/m
	mount -t tmpfs none /tmp/m 2>> /run/swapper.log; echo "mount=$?" >> /run/swapper.log
	eend 0
}
"#;

/// The main command's probe, printed as KEY=value lines.
const PROBE: &str = r#"
i=0
until [ "$(rc-service flaky status >/dev/null 2>&1; echo $?)" = 32 ]; do
	i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1
done
echo "order=$(cat /run/order | tr '\n' ' ')"
echo "status_web=$(rc-service web status | tr '\n' '|')"
echo "json_web=$(rc-service web status --json | tr -d '\n')"
echo "flaky=$(rc-service flaky status 2>&1 | tr '\n' '|') code=$(rc-service flaky status >/dev/null 2>&1; echo $?)"
echo "flaky_tries=$(wc -l < /run/flaky.tries)"
echo "services_log=$(grep -c 'service=flaky event=crashed' /var/log/kimigayo/services.log)"
echo "gave_up=$(grep -c 'service=flaky event=gave-up' /var/log/kimigayo/services.log)"
echo "degraded_log=$(grep -c 'event=sandbox-degraded' /var/log/kimigayo/services.log)"
echo "swapper=$(cat /run/swapper.log | tr '\n' '|')"
echo "swapper_status=$(rc-service swapper status | tr '\n' '|')"
echo "checkpath=$(stat -c '%a %F' /run/cache /run/cache/state | tr '\n' '|')"
echo "reload=$(rc-service logger reload >/dev/null 2>&1; echo $?)"
i=0; until [ -s /run/logger.hup ] || [ $i -gt 30 ]; do i=$((i+1)); sleep 0.1; done
echo "logger_hup=$(cat /run/logger.hup 2>/dev/null)"
web=$(cat /run/web.pid)
echo "web_ps=$(grep -E '^(Seccomp|NoNewPrivs):' /proc/$web/status | tr -s '\t\n' ' |')"
holder=$(rc-service web status --json | tr -d ' \n' | sed -n 's/.*"holder_pid":\([0-9]*\).*/\1/p')
echo "ns_init=$(readlink /proc/1/ns/pid) ns_holder=$(readlink /proc/$holder/ns/pid)"
echo "userns_web=$(readlink /proc/$web/ns/user) $(readlink /proc/$web/ns/mnt) $(readlink /proc/$web/ns/ipc) init $(readlink /proc/1/ns/user) $(readlink /proc/1/ns/mnt) $(readlink /proc/1/ns/ipc)"
"#;

/// Builds the packages the init image needs (reused from the build cache; not the whole
/// repository, so no kernel), adds a package shipping localfs and web (the spec's auto_start
/// names only services some package installs), and signs the index with a test key.
fn repo_with_services(dir: &Path) -> (std::path::PathBuf, kimigayo_sign::Keyring, u64) {
    let path = dir.join("repo");
    let mut cfg = kimigayo_build::default_config(&root()).unwrap();
    cfg.repo_dir = path.clone();
    let wanted: Vec<String> = ["baselayout", "musl", "busybox", "kimigayo-init"].iter().map(|s| s.to_string()).collect();
    kimigayo_build::Builder::new(cfg.clone(), &kimigayo_build::Quiet).unwrap().build(&wanted).unwrap_or_else(|e| panic!("{e}"));
    let stage = dir.join("stage");
    for (name, body) in [("localfs", LOCALFS), ("web", WEB)] {
        let p = stage.join("etc/init.d").join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    let files = kimigayo_package::archive::list_tree(&stage).unwrap();
    let repository = kimigayo_package::repo::Repository::new(&path);
    let (_, base) = repository.packages().unwrap().into_iter().find(|(_, m)| m.name == "baselayout").expect("baselayout in the repository");
    let archive = dir.join("e2e-services.tar.gz");
    kimigayo_package::archive::write_archive(&stage, &files, cfg.source_date_epoch, std::fs::File::create(&archive).unwrap()).unwrap();
    let mut meta = base.clone();
    meta.name = "e2e-services".into();
    meta.version = "1.0-r1".into();
    meta.architecture = "noarch".into();
    meta.dependencies = vec!["kimigayo-init".into()];
    meta.conflicts = vec![];
    meta.provides = vec![];
    meta.description = "init scripts for the init image test".into();
    meta.origin = "e2e-services".into();
    meta.filename = "e2e-services-1.0-r1.noarch.tar.gz".into();
    meta.size = std::fs::metadata(&archive).unwrap().len();
    meta.checksum = kimigayo_package::Checksum { sha256: kimigayo_package::sha256_file(&archive).unwrap(), gpg_signature: None };
    meta.users = vec![];
    meta.groups = vec![];
    meta.paths = vec![];
    kimigayo_package::repo::publish(&repository, &archive, &meta).unwrap();
    let key = kimigayo_sign::SecretKey::generate("Init image tests <init@kimigayo.test>", None).unwrap();
    kimigayo_pkg::build_index(&path, &key, 1, Duration::from_secs(86_400), vec![], std::time::SystemTime::now()).unwrap();
    let mut keys = kimigayo_sign::Keyring::new();
    keys.add(key.public(), "test");
    (path, keys, cfg.source_date_epoch)
}

fn field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines().find_map(|l| l.strip_prefix(&format!("{key}="))).unwrap_or_else(|| panic!("no {key}= in:\n{out}"))
}

fn run(args: &[&str]) -> (i32, String, String) {
    let o = podman(args);
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn init_image_runs_distribution_style_services_unprivileged_and_privileged() {
    let dir = tempfile::tempdir().unwrap();
    let (repo_path, keys, epoch) = repo_with_services(dir.path());
    let mut spec = kimigayo_image::ImageSpec::load(&root().join("images/init.yaml")).unwrap();
    spec.image.name = "kimigayo-e2e-init".into();
    spec.image.packages.push("e2e-services".into());
    spec.services.auto_start = vec!["web".into()];
    let rep = kimigayo_image::build(&spec, &repo_path, &keys, epoch, &dir.path().join("out")).unwrap_or_else(|e| panic!("{e}"));
    let _base = load(&rep.oci_archive, "kimigayo-e2e-init");

    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(ctx.join("conf.d")).unwrap();
    for (name, body) in [("logger", LOGGER), ("cache", CACHE), ("flaky", FLAKY), ("swapper", SWAPPER)] {
        std::fs::write(ctx.join(name), body).unwrap();
    }
    std::fs::write(ctx.join("conf.d/swapper"), "sandbox_seccomp=default\n").unwrap();
    std::fs::write(ctx.join("probe.sh"), PROBE).unwrap();
    std::fs::write(
        ctx.join("Containerfile"),
        "FROM localhost/kimigayo-e2e-init:latest\n\
         COPY --chmod=0755 logger cache flaky swapper /etc/init.d/\n\
         COPY conf.d/swapper /etc/conf.d/swapper\n\
         COPY probe.sh /probe.sh\n\
         RUN rc-update add logger default && rc-update add cache default && rc-update add flaky default\n\
         RUN rc-update add swapper default && rc-update show\n",
    )
    .unwrap();
    let _app = Loaded("localhost/kimigayo-e2e-init-app:latest".into());
    ok(podman(&["build", "--pull=never", "-t", "kimigayo-e2e-init-app", ctx.to_str().unwrap()]));
    let img = "localhost/kimigayo-e2e-init-app:latest";

    // (a) unprivileged
    let (code, out, err) = run(&["run", "--rm", img, "sh", "-c", ". /probe.sh; exit 3"]);
    let all = format!("{out}\n--- stderr\n{err}");
    assert_eq!(code, 3, "main command's exit code passed through\n{all}");
    let order: Vec<&str> = field(&out, "order").split_whitespace().collect();
    let pos = |s: &str| order.iter().position(|o| *o == s).unwrap_or_else(|| panic!("{s} did not start: {order:?}\n{all}"));
    assert!(pos("localfs") < pos("web") && pos("logger") < pos("web") && pos("web") < pos("cache"), "{order:?}");
    let status = field(&out, "status_web");
    assert!(status.contains("status: started") && status.contains("namespaces=none (unavailable: EPERM) no_new_privs=yes seccomp=default"), "{status}");
    assert!(status.contains("--cap-add=SYS_ADMIN"), "{status}");
    let json: serde_json::Value = serde_json::from_str(field(&out, "json_web")).unwrap_or_else(|e| panic!("{e}: {all}"));
    assert!(json["sandbox_degraded"].as_str().unwrap_or("").starts_with("EPERM"), "{json}");
    // One warning per service start, each naming its service and the fix.
    for svc in ["localfs", "web", "logger", "cache", "swapper"] {
        assert_eq!(all.matches(&format!("WARNING: {svc}: sandbox degraded")).count(), 1, "{svc}\n{all}");
    }
    assert!(field(&out, "degraded_log").parse::<u32>().unwrap() >= 6, "{all}");
    assert!(field(&out, "web_ps").contains("Seccomp: 2") && field(&out, "web_ps").contains("NoNewPrivs: 1"), "{all}");
    // The crashing service: retried twice (3 runs), logged each time, then failed; the others ran on.
    assert_eq!(field(&out, "flaky_tries").trim(), "3", "{all}");
    assert!(field(&out, "flaky").contains("code=32"), "{all}");
    assert_eq!(field(&out, "services_log"), "3", "{all}");
    assert_eq!(field(&out, "gave_up"), "1", "{all}");
    let sw = field(&out, "swapper");
    assert!(sw.contains("swapon=1") || sw.contains("swapon=255"), "{sw}");
    assert!(sw.to_lowercase().contains("not permitted") || sw.contains("permission denied"), "{sw}");
    assert!(field(&out, "swapper_status").contains("status: started"), "{all}");
    assert_eq!(field(&out, "checkpath"), "750 directory|640 regular empty file|", "{all}");
    assert_eq!(field(&out, "reload"), "0", "{all}");
    assert_eq!(field(&out, "logger_hup"), "reopened", "{all}");
    assert!(all.contains("Filesystems left to the container runtime") && !all.contains("WARNING: cannot make / private"), "{all}");
    assert!(!all.contains("no matching processes"), "a stop missed its daemon\n{all}");

    // podman stop: SIGTERM to init, services stopped in reverse order, prompt exit.
    let name = format!("kimigayo-e2e-init-stop-{}", std::process::id());
    ok(podman(&["run", "-d", "--name", &name, img, "sleep", "1000"]));
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(20) {
        let (_, o, _) = run(&["exec", &name, "sh", "-c", "cat /run/order 2>/dev/null | wc -l"]);
        if o.trim().parse::<u32>().unwrap_or(0) >= 4 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let t = Instant::now();
    ok(podman(&["stop", "-t", "10", &name]));
    let took = t.elapsed();
    let (_, logs_out, logs_err) = run(&["logs", &name]);
    let (_, exit, _) = run(&["inspect", "--format", "{{.State.ExitCode}}", &name]);
    let _ = podman(&["rm", "-f", &name]);
    let logs = format!("{logs_out}{logs_err}");
    assert!(took < Duration::from_secs(8), "podman stop took {took:?} (podman kills after 10 s)\n{logs}");
    // The services' own stop messages, in the order the console got them.
    let spos = |m: &str| logs.find(m).unwrap_or_else(|| panic!("no {m:?} in the logs\n{logs}"));
    assert!(
        spos("Stopping cache") < spos("Stopping web")
            && spos("Stopping web") < spos("Unmounting local filesystems")
            && spos("Stopping web") < spos("Stopping logger"),
        "{logs}"
    );
    assert!(!logs.contains("ignored SIGTERM"), "{logs}");
    assert!(logs.contains("Shutdown complete"), "{logs}");
    assert_ne!(exit.trim(), "137", "killed, not stopped\n{logs}");
    eprintln!("podman stop: {took:?}");

    // (b) with CAP_SYS_ADMIN: full namespaces; EPERM from the filter alone; a zombie storm.
    let storm = ". /probe.sh; \
        for i in $(seq 300); do sh -c 'sleep 0.05 &'; done; sleep 1.5; \
        echo \"zombies=$(cat /proc/[0-9]*/stat 2>/dev/null | awk '$3==\"Z\"' | wc -l)\"; exit 0";
    let (code, out, err) = run(&["run", "--rm", "--cap-add", "SYS_ADMIN", img, "sh", "-c", storm]);
    let all = format!("{out}\n--- stderr\n{err}");
    assert_eq!(code, 0, "{all}");
    assert!(!all.contains("sandbox degraded"), "{all}");
    let status = field(&out, "status_web");
    assert!(status.contains("namespaces=mount,pid,ipc,uts"), "{status}");
    let ns = field(&out, "ns_init");
    let (init_ns, holder_ns) = ns.split_once(" ns_holder=").unwrap();
    assert!(init_ns.starts_with("pid:[") && holder_ns.starts_with("pid:["), "{ns}");
    assert_ne!(init_ns, holder_ns, "web shares init's pid namespace\n{all}");
    let sw = field(&out, "swapper");
    assert!(sw.contains("mount=255") || sw.contains("mount=1"), "{sw}");
    assert!(sw.to_lowercase().contains("not permitted") || sw.contains("permission denied"), "{sw}");
    assert_eq!(field(&out, "zombies").trim(), "0", "{all}");

    // (c) no CAP_SYS_ADMIN, low ports unprivileged: isolated in a user namespace.
    let (code, out, err) = run(&["run", "--rm", "--sysctl", "net.ipv4.ip_unprivileged_port_start=0", img, "sh", "-c", ". /probe.sh; exit 0"]);
    let all = format!("{out}\n--- stderr\n{err}");
    assert_eq!(code, 0, "{all}");
    assert!(!all.contains("sandbox degraded"), "{all}");
    let status = field(&out, "status_web");
    assert!(status.contains("namespaces=user,mount,ipc,uts") && status.contains("inside a user namespace"), "{status}");
    let ns: Vec<&str> = field(&out, "userns_web").split(" init ").collect();
    let (web_ns, init_ns): (Vec<&str>, Vec<&str>) = (ns[0].split(' ').collect(), ns[1].split(' ').collect());
    for i in 0..3 {
        assert!(web_ns[i].contains(":[") && init_ns[i].contains(":["), "{all}");
        assert_ne!(web_ns[i], init_ns[i], "web shares init's {} namespace\n{all}", init_ns[i]);
    }
    assert_eq!(field(&out, "reload"), "0", "{all}");
    assert_eq!(field(&out, "logger_hup"), "reopened", "{all}");
    let sw = field(&out, "swapper");
    assert!(sw.to_lowercase().contains("not permitted") || sw.contains("permission denied"), "{sw}");
    assert!(all.contains("Stopping logger") && !all.contains("failed (exit status"), "a stop failed inside the user namespace\n{all}");
    assert!(all.contains(" 0 process(es) killed"), "services were killed, not stopped\n{all}");
}
