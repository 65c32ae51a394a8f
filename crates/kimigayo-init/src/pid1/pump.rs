//! The PID 1 event pump: one signal at a time, then reap everything. Boot, the main command
//! and shutdown all wait through it, so exactly one place calls waitpid(-1) and no exit status
//! is ever stolen from whoever waits for a child.

use std::collections::HashMap;
use std::time::Duration;

use super::procs;
use super::signals::{self, Power, SigAction};
use crate::log::Log;

pub struct Pump {
    pub is_pid1: bool,
    /// The main command (container mode) while it runs.
    pub main: Option<i32>,
    /// Its exit code once it ended (128+signal if killed).
    pub main_exit: Option<i32>,
    /// The first shutdown request received.
    pub shutdown: Option<Power>,
    exits: HashMap<i32, i32>,
    pub log: Log,
    pub reaped: u64,
}

impl Pump {
    pub fn new(is_pid1: bool, log: Log) -> Self {
        Pump { is_pid1, main: None, main_exit: None, shutdown: None, exits: HashMap::new(), log, reaped: 0 }
    }

    /// Waits up to `timeout` for a signal, acts on it, and reaps all zombies.
    pub fn step(&mut self, timeout: Duration) {
        if let Some(sig) = signals::wait(timeout) {
            self.on_signal(sig);
        }
        self.reap();
    }

    pub fn on_signal(&mut self, sig: i32) {
        match signals::classify(sig, self.main.is_some()) {
            SigAction::Reap | SigAction::Ignore => {}
            SigAction::Forward(s) => {
                if let Some(pid) = self.main {
                    // SAFETY: plain syscall.
                    unsafe { libc::kill(pid, s) };
                }
            }
            SigAction::Shutdown(p) => {
                if self.shutdown.is_none() {
                    self.log.file_only(&format!("received {}: {}", signals::name(sig), p.name()));
                    self.shutdown = Some(p);
                }
            }
        }
    }

    pub fn reap(&mut self) {
        for (pid, status) in procs::reap_all() {
            self.reaped += 1;
            let code = procs::exit_code(status);
            if self.main == Some(pid) {
                self.main = None;
                self.main_exit = Some(code);
            } else {
                self.exits.insert(pid, code);
            }
        }
        // Exit codes of orphans nobody asked about: keep the map small.
        if self.exits.len() > 4096 {
            self.exits.clear();
        }
    }

    /// The exit code of a child we spawned, once it was reaped.
    pub fn take_exit(&mut self, pid: i32) -> Option<i32> {
        self.exits.remove(&pid)
    }

    pub fn forget(&mut self, pid: i32) {
        self.exits.remove(&pid);
    }
}
