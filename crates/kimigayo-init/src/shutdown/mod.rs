//! Shutdown (property 26): the main command first (it depends on the services), then the
//! services in reverse dependency order with a per-service timeout, then SIGTERM and after a
//! grace SIGKILL to whatever is left, sync, and unmount in reverse mount order. Every step is
//! bounded, so the whole takes at most grace + waves × (stop timeout + 1 s) + grace + 4 s.

pub mod mountinfo;
pub mod unmount;

use std::time::{Duration, Instant};

use crate::ctx::Ctx;
use crate::orchestrate::{self, Needs, Outcome, WaveOptions};
use crate::pid1::detect::Mode;
use crate::pid1::procs;
use crate::pid1::pump::Pump;
use crate::services::Services;
pub use unmount::UnmountReport;

#[derive(Debug, Default)]
pub struct ShutdownReport {
    pub stopped: Vec<(String, Outcome)>,
    pub killed: usize,
    pub remaining: usize,
    pub unmount: UnmountReport,
}

/// Steps the pump until `done` holds or `limit` passes; true when `done` held.
fn wait_until(pump: &mut Pump, limit: Duration, mut done: impl FnMut(&mut Pump) -> bool) -> bool {
    let start = Instant::now();
    loop {
        pump.reap();
        if done(pump) {
            return true;
        }
        if start.elapsed() >= limit {
            return false;
        }
        pump.step(Duration::from_millis(20));
    }
}

pub fn run(ctx: &Ctx, pump: &mut Pump, services: &dyn Services, mode: Mode, reason: &str) -> ShutdownReport {
    let log = pump.log.clone();
    let mut report = ShutdownReport::default();
    let grace = services.kill_grace();
    log.info(&format!("Shutting down ({reason})"));

    if let Some(main) = pump.main {
        // SAFETY: plain syscall.
        unsafe { libc::kill(main, libc::SIGTERM) };
        if !wait_until(pump, grace, |p| p.main.is_none()) {
            log.warn(&format!("main command (pid {main}) ignored SIGTERM for {:.1}s; killing it", grace.as_secs_f64()));
            // SAFETY: plain syscall.
            unsafe { libc::kill(main, libc::SIGKILL) };
            wait_until(pump, Duration::from_secs(2), |p| p.main.is_none());
        }
    }

    let running = services.running();
    if !running.is_empty() {
        let (waves, after) = services.stop_plan(&running);
        // kimigayo-svc itself escalates SIGTERM → SIGKILL inside a service after
        // rc_timeout_stopsec; the extra second lets it finish before init kills the action.
        let timeout = services.stop_timeout() + Duration::from_secs(1);
        let opts = WaveOptions { action: "stop", timeout: Some(timeout), needs: &Needs::new(), abort_on_shutdown: false, runlevel: "shutdown", after: Some(&after) };
        report.stopped = orchestrate::run_waves(ctx, pump, &waves, &opts);
        for (svc, outcome) in &report.stopped {
            log.file_only(&format!("stopped {svc}: {outcome:?}"));
        }
    }

    if !procs::live_others(pump.is_pid1).is_empty() {
        log.info("Sending SIGTERM to all processes");
        procs::signal_others(pump.is_pid1, libc::SIGTERM);
        if !wait_until(pump, grace, |p| procs::live_others(p.is_pid1).is_empty()) {
            let left = procs::live_others(pump.is_pid1);
            report.killed = left.len();
            log.info(&format!("Sending SIGKILL to {} remaining process(es)", left.len()));
            procs::signal_others(pump.is_pid1, libc::SIGKILL);
            wait_until(pump, Duration::from_secs(2), |p| procs::live_others(p.is_pid1).is_empty());
        }
    }
    report.remaining = procs::live_others(pump.is_pid1).len();
    // SAFETY: sync(2) cannot fail.
    unsafe { libc::sync() };
    log.file_only("unmounting filesystems (further lines on the console only)");
    // The log file lives on a filesystem about to go: console only from here.
    let console = crate::log::Log::new(None);
    report.unmount = unmount::unmount_all(mode, &console);
    pump.reap();
    let stop_failed: Vec<&str> = report.stopped.iter().filter(|(_, o)| !o.ok()).map(|(s, _)| s.as_str()).collect();
    let failed_stops = if stop_failed.is_empty() { String::new() } else { format!(" ({} failed to stop: {})", stop_failed.len(), stop_failed.join(", ")) };
    console.info(&format!(
        "Shutdown complete: {} service(s) stopped{failed_stops}, {} process(es) killed, {} remaining, {} unmounted, {} read-only, {} failed",
        report.stopped.len() - stop_failed.len(),
        report.killed,
        report.remaining,
        report.unmount.unmounted.len(),
        report.unmount.read_only.len(),
        report.unmount.failed.len()
    ));
    report
}
