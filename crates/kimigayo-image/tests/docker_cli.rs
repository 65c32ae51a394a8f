//! The design's multi-stage Dockerfile, built and run with the **docker CLI** talking to
//! podman's Docker-compatible API socket (no Docker engine runs on this machine kind).
//!
//! The builder stage is a real Debian 12 root filesystem with `musl-tools` (made once with
//! mmdebstrap and cached outside the checkout); it compiles a dynamically linked musl
//! program, and the final `FROM <our image>` stage runs it through the musl loader our
//! image carries (property 29 from the user's side).

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `podman system service` on a private socket, stopped when dropped.
struct ApiService {
    child: Child,
    _dir: tempfile::TempDir,
    socket: PathBuf,
}

impl ApiService {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("podman.sock");
        let child = Command::new("podman")
            .env("CONTAINERS_CONF", conf_path())
            .args(["system", "service", "--time=0", &format!("unix://{}", socket.display())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("podman is installed (scripts/setup.sh)");
        let t = Instant::now();
        while !socket.exists() {
            assert!(t.elapsed() < Duration::from_secs(30), "podman API socket did not appear at {}", socket.display());
            std::thread::sleep(Duration::from_millis(50));
        }
        ApiService { child, _dir: dir, socket }
    }

    fn docker(&self, args: &[&str], cwd: Option<&Path>) -> Output {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", format!("unix://{}", self.socket.display()))
            .env("DOCKER_BUILDKIT", "0")
            .env("DOCKER_CONFIG", self._dir.path())
            .args(args);
        if let Some(d) = cwd {
            c.current_dir(d);
        }
        c.output().expect("the docker CLI is installed")
    }
}

impl Drop for ApiService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn conf_path() -> PathBuf {
    // Reuse the fixture's containers.conf by running a harmless podman command first.
    let _ = podman(&["version", "--format", "{{.Client.Version}}"]);
    std::env::temp_dir().join(format!("kimigayo-image-tests-{}.conf", std::process::id()))
}

/// A Debian 12 builder root filesystem with musl-tools, cached in the build cache.
fn builder_rootfs() -> PathBuf {
    debian_fixture("debian-bookworm-musl-builder.tar", "apt", "musl-tools,gcc,libc6-dev,binutils")
}

#[test]
fn design_multi_stage_dockerfile_builds_and_runs_with_the_docker_cli() {
    let r = repo();
    let out = tempfile::tempdir().unwrap();
    let spec = spec(&["baselayout", "musl", "busybox"], "kimigayo-e2e-docker");
    let img = kimigayo_image::build(&spec, &r.path, &r.keys, r.epoch, out.path()).unwrap_or_else(|e| panic!("{e}"));

    let api = ApiService::start();
    let _base = Loaded("docker.io/library/kimigayo-e2e-docker:latest".into());
    let _builder = Loaded("localhost/kimigayo-e2e-builder:latest".into());
    let _app = Loaded("docker.io/library/kimigayo-e2e-docker-app:latest".into());

    // The docker CLI loads our docker-archive through the API socket.
    let load = api.docker(&["load", "-i", img.docker_archive.to_str().unwrap()], None);
    assert!(load.status.success(), "docker load: {}", String::from_utf8_lossy(&load.stderr));
    let v = api.docker(&["run", "--rm", "kimigayo-e2e-docker:latest", "/bin/sh", "-c", "echo $((6*7))"], None);
    assert_eq!(String::from_utf8_lossy(&v.stdout), "42\n", "{}", String::from_utf8_lossy(&v.stderr));

    ok(podman(&["import", "-q", builder_rootfs().to_str().unwrap(), "localhost/kimigayo-e2e-builder:latest"]));

    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("main.c"),
        "#include <stdio.h>\n#include <stdlib.h>\nint main(int c, char **v){char *p = malloc(64); snprintf(p, 64, \"app %d args\", c); puts(p); free(p); return c == 3 ? 0 : 5;}\n",
    )
    .unwrap();
    // Exactly the design's pattern: a builder stage, then FROM the Kimigayo base.
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM kimigayo-e2e-builder AS builder\n\
         COPY main.c /src/main.c\n\
         RUN musl-gcc -O2 -fPIE -pie -o /app /src/main.c && readelf -l /app | grep 'program interpreter'\n\
         \n\
         FROM kimigayo-e2e-docker:latest\n\
         COPY --from=builder /app /app\n\
         USER 65532\n\
         CMD [\"/app\", \"one\", \"two\"]\n",
    )
    .unwrap();
    let b = api.docker(&["build", "--no-cache", "-t", "kimigayo-e2e-docker-app", "."], Some(ctx.path()));
    let log = format!("{}{}", String::from_utf8_lossy(&b.stdout), String::from_utf8_lossy(&b.stderr));
    assert!(b.status.success(), "docker build failed:\n{log}");
    assert!(log.contains("/lib/ld-musl-x86_64.so.1"), "the builder's program is dynamically linked against musl:\n{log}");

    let run = api.docker(&["run", "--rm", "kimigayo-e2e-docker-app"], None);
    assert!(run.status.success(), "docker run: {}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(String::from_utf8_lossy(&run.stdout), "app 3 args\n");
    // The exit status of the application comes back through the CLI. (Without --rm: podman
    // 4.3's compat API reports 0 for `docker run --rm` whatever the container returned.)
    let fail = api.docker(&["run", "--name", "kimigayo-e2e-docker-exit", "kimigayo-e2e-docker-app", "/app"], None);
    let _ = api.docker(&["rm", "-f", "kimigayo-e2e-docker-exit"], None);
    assert_eq!(fail.status.code(), Some(5), "{}", String::from_utf8_lossy(&fail.stderr));
    let who = api.docker(&["run", "--rm", "kimigayo-e2e-docker-app", "id", "-u"], None);
    assert_eq!(String::from_utf8_lossy(&who.stdout), "65532\n");
}
