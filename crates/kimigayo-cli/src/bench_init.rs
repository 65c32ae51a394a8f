//! `kimigayo bench`, init section: kimigayo-init as PID 1 in fresh namespaces
//! (`unshare --fork --pid --mount --uts --ipc --mount-proc`) over a temporary root with 20
//! daemons (pidfiles; a chain and a fan-out of `need`s), beside the same 20 daemons started by a
//! plain shell loop as PID 1. Measured, medians over 5 runs:
//! - boot: from spawning PID 1 to all 20 daemons started (init: its main command runs once
//!   boot is done; the loop: a marker after the last daemon);
//! - VmRSS of PID 1 while the 20 run;
//! - shutdown: from SIGTERM to PID 1 until it exited (every daemon stopped).
//!
//! The kimigayo-init binary is the one from the freshly built kimigayo-init package.
//!
//! Beside them, real OpenRC 0.45 (Debian's `openrc` package in a Debian 12 root made by
//! mmdebstrap, cached in the build cache's test-fixtures) runs the same 20 scripts, same
//! rc.conf (`rc_parallel="YES"`), chrooted in the same kind of fresh namespaces: boot is
//! `openrc sysinit; openrc boot; openrc default` until all started, shutdown `openrc shutdown`
//! on SIGTERM. (OpenRC keeps no daemon of its own: its PID 1 column shows the shell.)
//!
//! Runtime state lives on a tmpfs for all three, as `/run` does on a real system (the bench
//! mounts one on each root's run folder; `openrc sysinit` mounts its own on /run).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

const SERVICES: usize = 20;
const RUNS: usize = 5;

/// svc01 ← svc02..svc04 (chain head, fan-out) ← svc05..svc10 ← svc11..svc20 (use).
fn depend(i: usize) -> String {
    match i {
        1 => String::new(),
        2..=4 => "need svc01".into(),
        5..=10 => format!("need svc{:02}", 2 + (i - 5) % 3),
        _ => format!("use svc{:02}", 5 + (i - 11) % 6),
    }
}

/// Start order for the shell loop: the same dependency order (i ascending respects it).
fn script(root: &Path, i: usize) -> String {
    format!(
        "#!/sbin/openrc-run\ncommand=/bin/sleep\ncommand_args=100000\ncommand_background=yes\npidfile={}/run/svc{i:02}.pid\ndepend() {{ {}; }}\n",
        root.display(),
        match depend(i) {
            d if d.is_empty() => ":".to_string(),
            d => d,
        }
    )
}

fn make_root(dir: &Path) -> Result<()> {
    make_root_with(dir, dir)
}

/// The 20 scripts under `dir`, their pidfiles under `prefix` (the root as scripts see it).
fn make_root_with(dir: &Path, prefix: &Path) -> Result<()> {
    for d in ["etc/init.d", "etc/conf.d", "etc/runlevels/sysinit", "etc/runlevels/boot", "etc/runlevels/default", "etc/runlevels/shutdown", "run", "var/log"] {
        std::fs::create_dir_all(dir.join(d))?;
    }
    for level in ["sysinit", "boot", "default"] {
        // A Debian root's own runlevel entries (procps, hwclock.sh, …) are not part of the 20.
        for e in std::fs::read_dir(dir.join("etc/runlevels").join(level))? {
            let _ = std::fs::remove_file(e?.path());
        }
    }
    std::fs::write(dir.join("etc/rc.conf"), "rc_parallel=\"YES\"\nrc_timeout_stopsec=\"5\"\n")?;
    for i in 1..=SERVICES {
        let name = format!("svc{i:02}");
        let p = dir.join("etc/init.d").join(&name);
        std::fs::write(&p, script(prefix, i))?;
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        std::os::unix::fs::symlink(format!("/etc/init.d/{name}"), dir.join("etc/runlevels/default").join(&name))?;
    }
    Ok(())
}

/// The shell-loop "init": starts the 20 daemons in the background with pidfiles, marks boot
/// done, and on SIGTERM kills them and waits.
fn shell_loop(root: &Path) -> String {
    let run = root.join("run");
    format!(
        "trap 'for f in {run}/loop*.pid; do kill $(cat $f); done; wait; exit 0' TERM\n\
         for i in $(seq -w 1 {SERVICES}); do /bin/sleep 100000 & echo $! > {run}/loop$i.pid; done\n\
         : > {run}/loop.booted\n\
         while :; do wait; done\n",
        run = run.display()
    )
}

fn unshare() -> Command {
    let mut c = Command::new("unshare");
    c.args(["--fork", "--pid", "--mount", "--uts", "--ipc", "--mount-proc", "--kill-child"]);
    c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    c
}

fn wait_file(p: &Path, limit: Duration, child: &mut Child) -> Result<()> {
    let end = Instant::now() + limit;
    while !p.exists() {
        if Instant::now() > end {
            bail!("{} did not appear within {limit:?}", p.display());
        }
        if let Some(st) = child.try_wait()? {
            bail!("PID 1 exited ({st}) before {} appeared", p.display());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// The PID 1's host pid: the child of the `unshare` process.
fn pid1_of(unshare: &Child) -> Result<u32> {
    let pid = unshare.id();
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
            if let Some(p) = s.split_whitespace().next().and_then(|p| p.parse().ok()) {
                return Ok(p);
            }
        }
        if Instant::now() > end {
            bail!("no child of unshare {pid}");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn rss_kib(pid: u32) -> Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| anyhow!("no VmRSS for pid {pid}"))
}

fn live_pidfiles(run: &Path, prefix: &str) -> usize {
    (1..=SERVICES)
        .filter(|i| {
            std::fs::read_to_string(run.join(format!("{prefix}{i:02}.pid")))
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
                .is_some()
        })
        .count()
}

struct Sample {
    boot: f64,
    rss: u64,
    shutdown: f64,
}

/// Boots, measures, shuts down one PID 1 (`cmd` already set up); `booted` appears when boot is done.
fn measure(mut cmd: Command, booted: &Path, check: impl Fn() -> Result<()>) -> Result<Sample> {
    let t = Instant::now();
    let mut child = cmd.spawn().context("running unshare")?;
    let res = (|| -> Result<Sample> {
        wait_file(booted, Duration::from_secs(30), &mut child)?;
        let boot = t.elapsed().as_secs_f64();
        check()?;
        let pid1 = pid1_of(&child)?;
        std::thread::sleep(Duration::from_millis(100));
        let rss = rss_kib(pid1)?;
        let t = Instant::now();
        Command::new("kill").args(["-TERM", &pid1.to_string()]).status()?;
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            if child.try_wait()?.is_some() {
                break;
            }
            if Instant::now() > end {
                bail!("PID 1 did not exit within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(Sample { boot, rss, shutdown: t.elapsed().as_secs_f64() })
    })();
    if res.is_err() {
        let _ = child.kill();
    }
    let _ = child.wait();
    res
}

/// A tmpfs on `dir` while it lives — `/run` is one on a real system, and OpenRC's
/// `openrc sysinit` mounts one there itself — so neither side pays a disk filesystem's inode
/// allocation for its state. None when it cannot be mounted (not root): the run goes on on disk.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn on(dir: &Path) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).ok()?;
        let ok = Command::new("mount").args(["-t", "tmpfs", "-o", "mode=0755", "tmpfs"]).arg(dir).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn one_init(bin: &Path, scratch: &Path, n: usize) -> Result<Sample> {
    let root = scratch.join(format!("init-root-{n}"));
    let tmpfs = Tmpfs::on(&root.join("run"));
    make_root(&root)?;
    let booted = root.join("run/booted");
    let mut cmd = unshare();
    cmd.arg(bin).arg("--container").arg("--").args(["/bin/sh", "-c", &format!(": > {}; exec /bin/sleep 100000", booted.display())]);
    cmd.env("KIMIGAYO_ROOT", &root);
    let run = root.join("run");
    let s = measure(cmd, &booted, || {
        let up = live_pidfiles(&run, "svc");
        if up != SERVICES {
            bail!("only {up} of {SERVICES} services wrote a pidfile (see {}/var/log/kimigayo)", root.display());
        }
        Ok(())
    })?;
    drop(tmpfs);
    let _ = std::fs::remove_dir_all(&root);
    Ok(s)
}

fn one_loop(scratch: &Path, n: usize) -> Result<Sample> {
    let root = scratch.join(format!("loop-root-{n}"));
    let tmpfs = Tmpfs::on(&root.join("run"));
    std::fs::create_dir_all(root.join("run"))?;
    let booted = root.join("run/loop.booted");
    let mut cmd = unshare();
    cmd.args(["/bin/sh", "-c", &shell_loop(&root)]);
    let run = root.join("run");
    let s = measure(cmd, &booted, || {
        let up = live_pidfiles(&run, "loop");
        if up != SERVICES {
            bail!("the shell loop wrote {up} of {SERVICES} pidfiles");
        }
        Ok(())
    })?;
    drop(tmpfs);
    let _ = std::fs::remove_dir_all(&root);
    Ok(s)
}

/// Debian 12 with OpenRC 0.45, as the conformance test caches it (mmdebstrap once).
fn openrc_rootfs_tar(fixtures: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(fixtures)?;
    let tar = fixtures.join("debian-bookworm-openrc-0.45.tar");
    if !tar.exists() {
        eprintln!("init: making a Debian 12 root with OpenRC 0.45 (mmdebstrap, once) in {}", fixtures.display());
        let part = fixtures.join("debian-bookworm-openrc-0.45.tar.part");
        let o = Command::new("mmdebstrap")
            .args(["--quiet", "--variant=minbase", "--format=tar", "--include=openrc,procps"])
            .args(["--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/locale/*"])
            .arg("bookworm")
            .arg(&part)
            .arg("http://deb.debian.org/debian")
            .output()
            .context("running mmdebstrap (scripts/setup.sh installs it)")?;
        if !o.status.success() {
            bail!("mmdebstrap failed: {}", String::from_utf8_lossy(&o.stderr));
        }
        std::fs::rename(&part, &tar)?;
    }
    Ok(tar)
}

fn one_openrc(root: &Path) -> Result<Sample> {
    let _ = std::fs::remove_dir_all(root.join("run"));
    std::fs::create_dir_all(root.join("run"))?;
    let run = root.join("bench/run");
    let _ = std::fs::remove_dir_all(&run);
    std::fs::create_dir_all(&run)?;
    let _run = Tmpfs::on(&run);
    let booted = root.join("bench/booted");
    let _ = std::fs::remove_file(&booted);
    let mut cmd = unshare();
    cmd.arg("chroot").arg(root).args([
        "/bin/sh",
        "-c",
        "mount -t proc proc /proc; openrc sysinit >/dev/null 2>&1; openrc boot >/dev/null 2>&1; openrc default >/dev/null 2>&1; \
         : > /bench/booted; trap 'openrc shutdown >/dev/null 2>&1; exit 0' TERM; while :; do sleep 1 & wait $!; done",
    ]);
    let log = root.join("openrc-bench.log");
    cmd.stdout(std::fs::File::create(&log)?).stderr(std::fs::File::create(&log)?.try_clone()?);
    measure(cmd, &booted, || {
        let up = live_pidfiles(&run, "svc");
        if up != SERVICES {
            bail!("OpenRC started {up} of {SERVICES} services");
        }
        Ok(())
    })
    .with_context(|| format!("OpenRC's output: {}", std::fs::read_to_string(&log).unwrap_or_default().lines().rev().take(5).collect::<Vec<_>>().join(" | ")))
}

/// Unpacks sbin/kimigayo-init from the kimigayo-init package in `repo`.
fn init_binary(repo: &Path, scratch: &Path) -> Result<PathBuf> {
    let pkgs = kimigayo_package::Repository::new(repo).packages()?;
    let (archive, _) = pkgs.into_iter().find(|(_, m)| m.name == "kimigayo-init").ok_or_else(|| anyhow!("no kimigayo-init package in {}", repo.display()))?;
    let dir = scratch.join("kimigayo-init-pkg");
    std::fs::create_dir_all(&dir)?;
    let st = Command::new("tar").arg("-xzf").arg(&archive).arg("-C").arg(&dir).status()?;
    if !st.success() {
        bail!("tar -xzf {} failed", archive.display());
    }
    let bin = dir.join("sbin/kimigayo-init");
    if !bin.is_file() {
        bail!("{} has no sbin/kimigayo-init", archive.display());
    }
    Ok(bin)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Runs both, prints the table.
pub fn bench(repo: &Path, scratch: &Path, fixtures: &Path) -> Result<()> {
    let bin = init_binary(repo, scratch)?;
    eprintln!("init: {RUNS} boots + shutdowns of {SERVICES} services as PID 1 ({}), under real OpenRC, and of a shell loop", bin.display());
    // The OpenRC root: Debian 12 + openrc, with the same 20 scripts (pidfiles under its /run).
    let openrc_root = scratch.join("openrc-root");
    let openrc = openrc_rootfs_tar(fixtures).and_then(|tar| {
        std::fs::create_dir_all(&openrc_root)?;
        let st = Command::new("tar").arg("-xf").arg(&tar).arg("-C").arg(&openrc_root).status()?;
        if !st.success() {
            bail!("unpacking {} failed", tar.display());
        }
        // Pidfiles and the boot marker outside /run: Debian's `openrc sysinit` mounts a tmpfs
        // there, which the measuring side could not see.
        std::fs::create_dir_all(openrc_root.join("bench"))?;
        make_root_with(&openrc_root, Path::new("/bench"))
    });
    let (mut init, mut shell, mut orc) = (Vec::new(), Vec::new(), Vec::new());
    let mut openrc_err = openrc.err().map(|e| format!("{e:#}"));
    for n in 0..RUNS {
        init.push(one_init(&bin, scratch, n)?);
        shell.push(one_loop(scratch, n)?);
        if openrc_err.is_none() {
            match one_openrc(&openrc_root) {
                Ok(s) => orc.push(s),
                Err(e) => openrc_err = Some(format!("{e:#}")),
            }
        }
    }
    let col = |v: &[Sample], f: fn(&Sample) -> f64| median(v.iter().map(f).collect());
    let ocol = |f: fn(&Sample) -> f64, prec: usize| if orc.is_empty() || openrc_err.is_some() { "-".to_string() } else { format!("{:.*}", prec, col(&orc, f)) };
    println!("\n{:<44} {:>14} {:>14} {:>14}", format!("INIT ({SERVICES} daemons, median of {RUNS})"), "KIMIGAYO-INIT", "OPENRC 0.45", "SHELL LOOP");
    println!("{:<44} {:>14.1} {:>14} {:>14.1}", "boot: PID 1 start → all started (ms)", col(&init, |s| s.boot * 1e3), ocol(|s| s.boot * 1e3, 1), col(&shell, |s| s.boot * 1e3));
    println!("{:<44} {:>14.0} {:>14} {:>14.0}", "PID 1 VmRSS while they run (KiB)", col(&init, |s| s.rss as f64), "(no daemon)", col(&shell, |s| s.rss as f64));
    println!("{:<44} {:>14.1} {:>14} {:>14.1}", "shutdown: SIGTERM → PID 1 exited (ms)", col(&init, |s| s.shutdown * 1e3), ocol(|s| s.shutdown * 1e3, 1), col(&shell, |s| s.shutdown * 1e3));
    if !orc.is_empty() && openrc_err.is_none() {
        println!("{:<44} {:>14.2}", "boot speed-up over OpenRC (×)", col(&orc, |s| s.boot) / col(&init, |s| s.boot));
    }
    let size = std::fs::metadata(&bin).map(|m| m.len()).unwrap_or(0);
    println!("{:<44} {:>14}", "init binary, installed (B)", size);
    if let Some(e) = openrc_err {
        println!("(OpenRC not measured: {e})");
    }
    println!("(kimigayo-init: every daemon in its own namespaces under seccomp, dependency waves, state, logs; OpenRC: no namespaces; the loop: none of it)");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cargo test -p kimigayo-cli --release bench_init -- --ignored --nocapture` with
    /// KIMIGAYO_BENCH_REPO=out/repo: the init section alone.
    #[test]
    #[ignore]
    fn bench_init_alone() {
        let repo = std::env::var("KIMIGAYO_BENCH_REPO").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../out/repo").into());
        let scratch = tempfile::tempdir().unwrap();
        let t = Instant::now();
        let fixtures = std::env::var("HOME").map(|h| Path::new(&h).join(".cache/kimigayo/test-fixtures")).unwrap();
        bench(Path::new(&repo), scratch.path(), &fixtures).unwrap();
        eprintln!("init section took {:?}", t.elapsed());
    }

    #[test]
    fn dependencies_point_backwards() {
        for i in 1..=SERVICES {
            if let Some(n) = depend(i).split_whitespace().nth(1) {
                assert!(n[3..].parse::<usize>().unwrap() < i);
            }
        }
    }
}
