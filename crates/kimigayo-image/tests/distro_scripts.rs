//! Init scripts as the distributions ship them, unchanged, in a plain container of the init
//! image (podman and the Docker Engine, default settings): a syslog script for BusyBox's
//! syslogd that `need`s clock, hostname and localmount and provides `logger`; an nginx-style
//! script that `need`s net and `use`s dns, logger and netmount, reloads with
//! `start-stop-daemon --signal HUP --pidfile F`; an sshd-style one whose reload names the
//! daemon too (`--signal HUP --exec CMD --pidfile F`). All three enabled with runlevel links as
//! `rc-update add` leaves them. Before the standard services, the first two did not start
//! ("needs 'net', but no service is named or provides 'net'"), the reloads failed ("need one
//! of --start, --stop or --status") and `logger` delivered nothing to syslogd.
//! (Scripts written here in the distributions' style, not copied from them.)

mod common;

use std::process::Command;

use common::*;

const SYSLOG: &str = r#"#!/sbin/openrc-run
description="BusyBox system logger"
command=/sbin/syslogd
command_args="-n ${SYSLOGD_OPTS}"
command_background=yes
pidfile=/run/syslogd.pid

depend() {
	need clock hostname localmount
	provide logger
	keyword -prefix
}
"#;

const WEB: &str = r#"#!/sbin/openrc-run
description="An HTTP daemon, scripted the way nginx's is"
extra_started_commands="reload reopen"
command=/bin/sh
command_args="-c 'trap \"echo reloaded >> /run/web.hup\" HUP; trap \"echo reopened >> /run/web.hup\" USR1; trap \"exit 0\" TERM; while :; do sleep 0.2; done'"
command_background=yes
pidfile=/run/web.pid

depend() {
	need net
	use dns logger netmount
	after firewall
}

start_pre() {
	checkpath -d -m 0755 /run/web-cache
	echo "${RC_SYS}" > /run/web.rc_sys
}

reload() {
	ebegin "Reloading $RC_SVCNAME configuration"
	start-stop-daemon --signal HUP --pidfile "$pidfile"
	eend $?
}

reopen() {
	ebegin "Reopening $RC_SVCNAME log files"
	start-stop-daemon --signal USR1 --pidfile "$pidfile"
	eend $?
}
"#;

const SSHD: &str = r#"#!/sbin/openrc-run
description="A login daemon, scripted the way OpenSSH's is"
extra_started_commands="reload"
command=/bin/sh
command_args="-c 'trap \"echo reloaded >> /run/sshd.hup\" HUP; trap \"exit 0\" TERM; while :; do sleep 0.2; done'"
command_background=yes
pidfile=/run/sshd.pid

depend() {
	need net
	use logger dns
	after firewall
}

reload() {
	ebegin "Reloading $RC_SVCNAME"
	start-stop-daemon --signal HUP --exec "$command" --pidfile "$pidfile"
	eend $?
}
"#;

const MAIN: &str = r#"
for s in syslog web sshd; do echo "status_$s=$(rc-service $s status 2>&1 | head -n1)"; done
logger -t probe hello-from-kimigayo
i=0; until grep -q hello-from-kimigayo /var/log/messages 2>/dev/null || [ $i -gt 30 ]; do i=$((i+1)); sleep 0.1; done
echo "logged=$(grep -c 'probe.*hello-from-kimigayo' /var/log/messages 2>/dev/null)"
rc-service web reload >/dev/null 2>&1; echo "web_reload=$?"
rc-service web reopen >/dev/null 2>&1; echo "web_reopen=$?"
rc-service sshd reload >/dev/null 2>&1; echo "sshd_reload=$?"
i=0; until [ "$(cat /run/web.hup /run/sshd.hup 2>/dev/null | wc -l)" -ge 3 ] || [ $i -gt 30 ]; do i=$((i+1)); sleep 0.1; done
echo "web_hup=$(tr '\n' ' ' < /run/web.hup)"
echo "sshd_hup=$(cat /run/sshd.hup)"
echo "rc_sys=$(cat /run/web.rc_sys)"
"#;

/// The files a `rc-update add` image layer holds, as a tar for `podman cp -` / `docker cp -`.
fn layer(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("scripts.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&path).unwrap());
    let mut add = |p: &str, body: &str, mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(mode);
        h.set_mtime(0);
        b.append_data(&mut h, p, body.as_bytes()).unwrap();
    };
    for (name, body) in [("syslog", SYSLOG), ("web", WEB), ("sshd", SSHD)] {
        add(&format!("etc/init.d/{name}"), body, 0o755);
    }
    add("etc/conf.d/syslog", "SYSLOGD_OPTS=\"-O /var/log/messages\"\n", 0o644);
    add("main.sh", MAIN, 0o644);
    for name in ["syslog", "web", "sshd"] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        h.set_mtime(0);
        b.append_link(&mut h, format!("etc/runlevels/default/{name}"), format!("/etc/init.d/{name}")).unwrap();
    }
    b.finish().unwrap();
    path
}

fn field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines().find_map(|l| l.strip_prefix(&format!("{key}="))).unwrap_or_else(|| panic!("no {key}= in:\n{out}"))
}

fn check(runtime: &str, out: &str, err: &str, sys: &str) {
    let all = format!("[{runtime}]\n{out}\n--- stderr\n{err}");
    assert!(!all.contains("not started"), "a distribution script did not start:\n{all}");
    for s in ["syslog", "web", "sshd"] {
        assert!(field(out, &format!("status_{s}")).contains("started"), "{s}\n{all}");
    }
    assert_eq!(field(out, "logged"), "1", "logger's message did not reach syslogd's file\n{all}");
    for k in ["web_reload", "web_reopen", "sshd_reload"] {
        assert_eq!(field(out, k), "0", "{k}\n{all}");
    }
    assert_eq!(field(out, "web_hup").trim(), "reloaded reopened", "{all}");
    assert_eq!(field(out, "sshd_hup"), "reloaded", "{all}");
    assert_eq!(field(out, "rc_sys"), sys, "RC_SYS as OpenRC sets it\n{all}");
    assert!(all.contains("0 process(es) killed") && !all.contains("failed to stop"), "services were killed instead of stopped\n{all}");
}

#[test]
fn distribution_scripts_start_reload_and_log_in_plain_podman_and_docker_containers() {
    let r = repo();
    let dir = tempfile::tempdir().unwrap();
    let mut spec = kimigayo_image::ImageSpec::load(&root().join("images/init.yaml")).unwrap();
    spec.image.name = "kimigayo-distro-scripts".into();
    let rep = kimigayo_image::build(&spec, &r.path, &r.keys, r.epoch, &dir.path().join("out")).unwrap_or_else(|e| panic!("{e}"));
    let tarball = layer(dir.path());
    // The scripts go in as an image layer would put them: a derived image whose only layer
    // is that tar (so the runlevel links are in place before init boots).
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::copy(&tarball, ctx.join("scripts.tar")).unwrap();
    std::fs::write(ctx.join("Containerfile"), "FROM kimigayo-distro-scripts:latest\nADD scripts.tar /\n").unwrap();

    // podman, default settings.
    let _base = load(&rep.oci_archive, "kimigayo-distro-scripts");
    let _app = Loaded("localhost/kimigayo-distro-scripts-app:latest".into());
    ok(podman(&["build", "--pull=never", "-t", "kimigayo-distro-scripts-app", ctx.to_str().unwrap()]));
    let o = podman(&["run", "--rm", "localhost/kimigayo-distro-scripts-app:latest", "sh", "/main.sh"]);
    check("podman", &String::from_utf8_lossy(&o.stdout), &String::from_utf8_lossy(&o.stderr), "PODMAN");

    // The Docker Engine, default settings (its own seccomp profile).
    let docker = |args: &[&str]| Command::new("docker").args(args).output().expect("the docker CLI");
    let docker_archive = rep.oci_archive.with_file_name(rep.oci_archive.file_name().unwrap().to_string_lossy().replace(".oci.tar", ".docker.tar"));
    let o = docker(&["load", "-i", docker_archive.to_str().unwrap()]);
    assert!(o.status.success(), "docker load: {}", String::from_utf8_lossy(&o.stderr));
    struct Rmi(&'static [&'static str]);
    impl Drop for Rmi {
        fn drop(&mut self) {
            for i in self.0 {
                let _ = Command::new("docker").args(["rmi", "-f", i]).output();
            }
        }
    }
    let _rmi = Rmi(&["kimigayo-distro-scripts-app:latest", "kimigayo-distro-scripts:latest"]);
    let b = Command::new("docker").args(["build", "-q", "-f", "Containerfile", "-t", "kimigayo-distro-scripts-app", "."]).current_dir(&ctx).output().unwrap();
    assert!(b.status.success(), "docker build: {}", String::from_utf8_lossy(&b.stderr));
    let o = docker(&["run", "--rm", "kimigayo-distro-scripts-app:latest", "sh", "/main.sh"]);
    check("docker", &String::from_utf8_lossy(&o.stdout), &String::from_utf8_lossy(&o.stderr), "DOCKER");
}
