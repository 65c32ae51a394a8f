//! Fault hooks and the child process that gets SIGKILLed.
//!
//! A test binary re-executes itself (`--exact child_entry`) with `CHILD_ENV` naming a
//! job file; the `child_entry` test then builds the transaction, runs `commit` or
//! `recover_with` with a hook that sends itself a real SIGKILL at fault point `kill_at`,
//! and exits with `NOT_KILLED` if that point was never reached.

use super::{paths, stage, Scenario};
use kimigayo_txn::{commit, recover_with, Faults};
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const CHILD_ENV: &str = "KIMIGAYO_TXN_CHILD_JOB";
const NOT_KILLED: i32 = 42;

/// Records every fault point name.
#[derive(Default)]
pub struct Counting(pub RefCell<Vec<String>>);

impl Faults for Counting {
    fn at(&self, point: &str) -> io::Result<()> {
        self.0.borrow_mut().push(point.to_string());
        Ok(())
    }
}

impl Counting {
    pub fn names(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
}

/// Fails with ENOSPC at the `k`-th call (0-based), and only there.
pub struct NoSpaceAt {
    pub k: usize,
    n: Cell<usize>,
    pub point: RefCell<Option<String>>,
}

impl NoSpaceAt {
    pub fn new(k: usize) -> NoSpaceAt {
        NoSpaceAt {
            k,
            n: Cell::new(0),
            point: RefCell::new(None),
        }
    }
}

impl Faults for NoSpaceAt {
    fn at(&self, point: &str) -> io::Result<()> {
        let n = self.n.get();
        self.n.set(n + 1);
        if n == self.k {
            *self.point.borrow_mut() = Some(point.to_string());
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        Ok(())
    }
}

/// Sends SIGKILL to its own process at the `k`-th call.
pub struct KillAt {
    k: usize,
    n: Cell<usize>,
}

impl Faults for KillAt {
    fn at(&self, _point: &str) -> io::Result<()> {
        let n = self.n.get();
        self.n.set(n + 1);
        if n == self.k {
            // SAFETY: plain syscalls; the process dies here.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
            unreachable!("SIGKILL did not kill");
        }
        Ok(())
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Commit,
    Recover,
}

#[derive(Serialize, Deserialize, Debug)]
struct Job {
    dir: PathBuf,
    scenario: Scenario,
    role: Role,
    kill_at: usize,
}

/// The body of each test binary's `child_entry` test: does nothing unless launched by
/// [`run_child`].
pub fn child_main() {
    let Ok(job) = std::env::var(CHILD_ENV) else {
        return;
    };
    let job: Job = serde_json::from_slice(&std::fs::read(job).unwrap()).unwrap();
    let p = paths(&job.dir);
    let faults = KillAt {
        k: job.kill_at,
        n: Cell::new(0),
    };
    match job.role {
        Role::Commit => {
            let tx = stage(&p, &job.scenario);
            let _ = commit(&p, tx, &faults);
        }
        Role::Recover => {
            let _ = recover_with(&p, &faults);
        }
    }
    std::process::exit(NOT_KILLED);
}

/// Run `role` on the root in `dir` in a child process killed at fault point `kill_at`.
/// Panics unless the child really died of SIGKILL.
pub fn run_child(dir: &Path, scenario: &Scenario, role: Role, kill_at: usize) {
    let job = Job {
        dir: dir.to_path_buf(),
        scenario: scenario.clone(),
        role,
        kill_at,
    };
    let job_file = dir.join("job.json");
    std::fs::write(&job_file, serde_json::to_vec(&job).unwrap()).unwrap();
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_entry",
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env(CHILD_ENV, &job_file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "{role:?} child at point {kill_at}: {status:?}"
    );
}
