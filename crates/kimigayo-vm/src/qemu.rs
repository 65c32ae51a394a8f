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
    /// `q35` (default) or `microvm` (faster, but under a busy host its TSC calibration can fail
    /// and the early kernel hang: it has no HPET or ACPI PM timer to fall back on).
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
        BootOptions { kernel, initramfs, machine: "q35".into(), memory_mb: 256, marker: "KIMIGAYO-VM-READY".into(), timeout: Duration::from_secs(120), append: vec![] }
    }

    pub fn command(&self) -> Command {
        let mut cmdline = vec!["console=ttyS0", "panic=-1", "quiet", "loglevel=4"].into_iter().map(String::from).collect::<Vec<_>>();
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
