//! The init image under the real Docker Engine (the daemon on this machine, its default seccomp
//! profile), as most users run it: `docker load` of our docker-archive, then a service started,
//! queried, given an extra command and stopped by `rc-service` inside `docker run`, in the three
//! setups docs/init.md's runtime table lists for Docker:
//!
//! - default: Docker's profile refuses user namespaces, so the service is degraded (no
//!   namespaces) but still confined, and the warning says why no user namespace stood in;
//! - `--security-opt seccomp=unconfined`: a user namespace of its own with mount, IPC and UTS
//!   inside (Docker makes low ports unprivileged, so `auto` takes it), host name set;
//! - `--cap-add SYS_ADMIN`: mount, PID, IPC and UTS namespaces directly.
//!
//! A service under `sandbox_seccomp=strict` (BusyBox shell and sleep, our start-stop-daemon)
//! starts, reloads and stops in each.

mod common;

use std::process::Command;

use common::*;

const WEB: &str = r#"#!/sbin/openrc-run
command=/bin/sleep
command_args=1000
command_background=yes
pidfile=/run/web.pid
extra_commands="where"
where() { einfo "web runs on $(hostname)"; }
"#;

const STRICT: &str = r#"#!/sbin/openrc-run
pidfile=/run/strict.pid
extra_commands="reload"
start() {
	ebegin "Starting strict"
	start-stop-daemon --start --background --make-pidfile --pidfile "$pidfile" \
		--exec /bin/sh -- -c 'trap "echo reopened >> /run/strict.hup" HUP; trap "exit 0" TERM; while :; do sleep 0.2; done'
	eend $?
}
stop() {
	ebegin "Stopping strict"
	start-stop-daemon --stop --pidfile "$pidfile" --retry TERM/3/KILL/2
	eend $?
}
reload() {
	start-stop-daemon --stop --signal HUP --pidfile "$pidfile"
}
"#;

const MAIN: &str = r#"
rc-service web start >/dev/null 2>&1; echo "web_start=$?"
rc-service strict start >/dev/null 2>&1; echo "strict_start=$?"
echo "web_status=$(rc-service web status 2>&1 | tr '\n' '|')"
echo "web_where=$(rc-service web where 2>&1 | tr '\n' '|')"
# Pidfiles hold pids of the service's own PID namespace: find the processes as init sees them.
p=$(ps -o pid,args | awk '/sleep 1000/ && !/awk/ {print $1; exit}')
echo "ns=$(readlink /proc/$p/ns/mnt) $(readlink /proc/$p/ns/user) init $(readlink /proc/1/ns/mnt) $(readlink /proc/1/ns/user)"
echo "seccomp=$(sed -n 's/^Seccomp:\t//p' /proc/$p/status)"
s=$(ps -o pid,args | awk '/strict.hup/ && !/awk/ {print $1; exit}')
echo "strict_seccomp=$(sed -n 's/^Seccomp_filters:\t//p' /proc/$s/status)"
rc-service strict reload >/dev/null 2>&1; echo "strict_reload=$?"
i=0; until [ -s /run/strict.hup ] || [ $i -gt 30 ]; do i=$((i+1)); sleep 0.1; done
echo "strict_hup=$(cat /run/strict.hup 2>/dev/null)"
rc-service strict stop >/dev/null 2>&1; echo "strict_stop=$?"
rc-service web stop >/dev/null 2>&1; echo "web_stop=$?"
echo "left=$(ps -o pid,comm | grep -c sleep)"
"#;

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker").args(args).output().expect("the docker CLI (Docker Engine runs on every machine here)")
}

fn field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines().find_map(|l| l.strip_prefix(&format!("{key}="))).unwrap_or_else(|| panic!("no {key}= in:\n{out}"))
}

#[test]
fn init_image_services_under_docker_engine_default_unconfined_and_sys_admin() {
    let r = repo();
    let dir = tempfile::tempdir().unwrap();
    let mut spec = kimigayo_image::ImageSpec::load(&root().join("images/init.yaml")).unwrap();
    spec.image.name = "kimigayo-docker-e2e-init".into();
    let rep = kimigayo_image::build(&spec, &r.path, &r.keys, r.epoch, &dir.path().join("out")).unwrap_or_else(|e| panic!("{e}"));
    let docker_archive = rep.oci_archive.with_file_name(rep.oci_archive.file_name().unwrap().to_string_lossy().replace(".oci.tar", ".docker.tar"));
    let o = docker(&["load", "-i", docker_archive.to_str().unwrap()]);
    assert!(o.status.success(), "docker load: {}", String::from_utf8_lossy(&o.stderr));
    struct Rmi;
    impl Drop for Rmi {
        fn drop(&mut self) {
            let _ = docker(&["rmi", "-f", "kimigayo-docker-e2e-init:latest"]);
        }
    }
    let _rmi = Rmi;
    for (name, body) in [("web", WEB), ("strict", STRICT)] {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    std::fs::write(dir.path().join("strict.conf"), "sandbox_seccomp=strict\n").unwrap();
    std::fs::write(dir.path().join("main.sh"), MAIN).unwrap();
    // Files go in with `docker cp` (streamed through the API), not bind mounts: the daemon may
    // not see this machine's paths (a test inside a container talking to the host's daemon).
    let files = [("web", "/etc/init.d/web"), ("strict", "/etc/init.d/strict"), ("strict.conf", "/etc/conf.d/strict"), ("main.sh", "/main.sh")];
    for (setup, opts) in [
        ("default", vec![]),
        ("seccomp=unconfined", vec!["--security-opt", "seccomp=unconfined"]),
        ("SYS_ADMIN", vec!["--cap-add", "SYS_ADMIN"]),
    ] {
        let name = format!("kimigayo-docker-e2e-{}-{}", std::process::id(), setup.replace(['=', '_'], "-").to_lowercase());
        let mut args = vec!["create", "--name", &name];
        args.extend(opts.iter().copied());
        args.extend(["kimigayo-docker-e2e-init:latest", "sh", "/main.sh"]);
        let o = docker(&args);
        assert!(o.status.success(), "docker create: {}", String::from_utf8_lossy(&o.stderr));
        struct Rm(String);
        impl Drop for Rm {
            fn drop(&mut self) {
                let _ = docker(&["rm", "-f", &self.0]);
            }
        }
        let _rm = Rm(name.clone());
        for (f, to) in files {
            let src = dir.path().join(f);
            let dst = format!("{name}:{to}");
            let o = docker(&["cp", src.to_str().unwrap(), &dst]);
            assert!(o.status.success(), "docker cp {f}: {}", String::from_utf8_lossy(&o.stderr));
        }
        let o = docker(&["start", "-a", &name]);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        let all = format!("[{setup}]\n{out}\n--- stderr\n{}", String::from_utf8_lossy(&o.stderr));
        assert!(o.status.success(), "{all}");
        for k in ["web_start", "strict_start", "strict_reload", "strict_stop", "web_stop"] {
            assert_eq!(field(&out, k), "0", "{k}\n{all}");
        }
        assert_eq!(field(&out, "strict_hup"), "reopened", "{all}");
        assert_eq!(field(&out, "seccomp"), "2", "{all}");
        assert!(field(&out, "strict_seccomp").parse::<u32>().unwrap_or(0) >= 4, "the strict allow-list program is loaded\n{all}");
        assert_eq!(field(&out, "left"), "0", "a stop left its daemon running\n{all}");
        let status = field(&out, "web_status");
        let ns: Vec<&str> = field(&out, "ns").split(' ').collect();
        let (svc_mnt, svc_user, init_mnt, init_user) = (ns[0], ns[1], ns[3], ns[4]);
        match setup {
            "default" => {
                assert!(status.contains("namespaces=none (unavailable: EPERM)"), "{all}");
                assert!(all.contains("user namespace not used: refused here (unshare(CLONE_NEWUSER): EPERM)"), "{all}");
                assert_eq!(svc_mnt, init_mnt, "{all}");
            }
            "seccomp=unconfined" => {
                assert!(status.contains("namespaces=user,mount,ipc,uts") && status.contains("hostname=web"), "{all}");
                assert!(field(&out, "web_where").contains("web runs on web"), "{all}");
                assert_ne!(svc_user, init_user, "{all}");
                assert_ne!(svc_mnt, init_mnt, "{all}");
            }
            _ => {
                assert!(status.contains("namespaces=mount,pid,ipc,uts"), "{all}");
                assert_eq!(svc_user, init_user, "{all}");
                assert_ne!(svc_mnt, init_mnt, "{all}");
            }
        }
    }
}
