//! Booting a kernel + initramfs under QEMU (software emulation: no KVM needed) with the serial
//! console on stdout, waiting for a marker line and for the guest to power the machine off.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::{io_ctx, VmError};

#[derive(Debug, Clone)]
pub struct BootOptions {
    pub kernel: PathBuf,
    pub initramfs: PathBuf,
    /// `q35` (default) or `microvm` (faster; it has no HPET or ACPI PM timer, so its kernel
    /// must be told the TSC rate: see [`BootOptions::command`]).
    pub machine: String,
    pub memory_mb: u32,
    /// Printed on the console when the system is up.
    pub marker: String,
    /// Give up (and kill QEMU) after this long.
    pub timeout: Duration,
    /// Extra kernel command-line words.
    pub append: Vec<String>,
}

impl BootOptions {
    pub fn new(kernel: PathBuf, initramfs: PathBuf) -> BootOptions {
        BootOptions { kernel, initramfs, machine: "q35".into(), memory_mb: 128, marker: "KIMIGAYO-VM-READY".into(), timeout: Duration::from_secs(120), append: vec![] }
    }

    pub fn command(&self) -> Command {
        let mut cmdline = vec!["console=ttyS0", "panic=-1", "quiet", "loglevel=4"].into_iter().map(String::from).collect::<Vec<_>>();
        // Under software emulation the guest's TSC runs at the host's TSC rate, and the guest
        // cannot always measure it: on a busy host (or by bad luck) its quick PIT calibration
        // fails, and microvm has no HPET or ACPI PM timer to fall back on — the kernel marks
        // the TSC unstable and hangs before the console. Telling it the rate avoids both the
        // hang and the calibration.
        if !self.append.iter().any(|w| w.starts_with("tsc_early_khz=")) {
            if let Some(khz) = host_tsc_khz() {
                cmdline.push(format!("tsc_early_khz={khz}"));
                // The TSC is the host's clock; the jiffies the watchdog would compare it with
                // lag whenever the host is busy (timer interrupts are emulated late).
                cmdline.push("tsc=reliable".into());
            }
        }
        cmdline.extend(self.append.iter().cloned());
        let mut c = Command::new("qemu-system-x86_64");
        // -nographic puts the first serial port (the console) on stdout.
        c.args(["-M", &self.machine, "-cpu", "max", "-m", &self.memory_mb.to_string(), "-nographic", "-no-reboot"]);
        c.arg("-kernel").arg(&self.kernel).arg("-initrd").arg(&self.initramfs);
        c.args(["-append", &cmdline.join(" ")]);
        c
    }
}

#[derive(Debug, Clone)]
pub struct BootReport {
    /// Seconds from QEMU's start to the marker on the console.
    pub marker_after: Option<f64>,
    /// Seconds until QEMU exited (the guest powered off), if it did in time.
    pub exited_after: Option<f64>,
    pub exit_status: Option<i32>,
    pub console: String,
}

impl BootReport {
    pub fn clean(&self) -> bool {
        self.marker_after.is_some() && self.exit_status == Some(0)
    }
}

/// Boot and wait for the marker and the power-off (or the timeout).
pub fn boot(o: &BootOptions) -> Result<BootReport, VmError> {
    for p in [&o.kernel, &o.initramfs] {
        if !p.is_file() {
            return Err(VmError::Boot(format!("{} does not exist: run `kimigayo vm build` first", p.display())));
        }
    }
    let mut child = o
        .command()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io_ctx("starting qemu-system-x86_64 (install qemu-system-x86: ./scripts/setup.sh)"))?;
    let start = Instant::now();
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let mut out = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut console = Vec::new();
    let mut marker_after = None;
    let mut exit_status = None;
    let mut exited_after = None;
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(chunk) => console.extend_from_slice(&chunk),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {}
        }
        if marker_after.is_none() && String::from_utf8_lossy(&console).contains(&o.marker) {
            marker_after = Some(start.elapsed().as_secs_f64());
        }
        if let Some(st) = child.try_wait().map_err(io_ctx("waiting for qemu"))? {
            exit_status = st.code();
            exited_after = Some(start.elapsed().as_secs_f64());
            break;
        }
        if start.elapsed() > o.timeout {
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
    }
    let _ = reader.join();
    while let Ok(chunk) = rx.try_recv() {
        console.extend_from_slice(&chunk);
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let mut console = String::from_utf8_lossy(&console).into_owned();
    if marker_after.is_none() && console.contains(&o.marker) {
        marker_after = exited_after;
    }
    if !err.trim().is_empty() {
        console.push_str(&format!("\n--- qemu stderr ---\n{err}"));
    }
    Ok(BootReport { marker_after, exited_after, exit_status, console })
}

/// The host's TSC rate in kHz (what a TCG guest's TSC runs at), measured against the
/// monotonic clock over 20 ms; `None` off x86_64 or when the TSC is not constant enough.
pub fn host_tsc_khz() -> Option<u64> {
    #[cfg(target_arch = "x86_64")]
    {
        let measure = || {
            let t0 = Instant::now();
            // SAFETY: rdtsc has no preconditions on x86_64.
            let c0 = unsafe { core::arch::x86_64::_rdtsc() };
            while t0.elapsed() < Duration::from_millis(20) {
                std::hint::spin_loop();
            }
            let c1 = unsafe { core::arch::x86_64::_rdtsc() };
            let ns = t0.elapsed().as_nanos() as u64;
            (c1.wrapping_sub(c0)).checked_mul(1_000_000)?.checked_div(ns.max(1))
        };
        let (a, b) = (measure()?, measure()?);
        // Two measurements within 0.5 %: a constant TSC (round to 1 MHz steps is not needed).
        (a.abs_diff(b) * 200 < a.max(1) && a > 100_000).then_some((a + b) / 2)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_tsc_rate_is_measured_and_passed_to_the_guest() {
        let o = BootOptions::new("k".into(), "i".into());
        let c = o.command();
        let args: Vec<String> = c.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        let append = &args[args.iter().position(|a| a == "-append").unwrap() + 1];
        if cfg!(target_arch = "x86_64") {
            let khz = host_tsc_khz().expect("a constant TSC on x86_64 hosts");
            assert!(khz > 100_000 && khz < 10_000_000, "{khz}");
            assert!(append.contains("tsc_early_khz="), "{append}");
        }
        let mut o2 = o.clone();
        o2.append.push("tsc_early_khz=1000000".into());
        let args: Vec<String> = o2.command().get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        let append = &args[args.iter().position(|a| a == "-append").unwrap() + 1];
        assert_eq!(append.matches("tsc_early_khz=").count(), 1, "{append}");
    }
}
