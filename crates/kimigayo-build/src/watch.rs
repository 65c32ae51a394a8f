//! Following a long-running build process: its log is read incrementally while it runs
//! (step markers, line count) and a heartbeat is reported at a fixed interval, so a cargo or
//! kernel step that prints nothing for minutes still shows it is alive (on a terminal and in
//! a plain CI log alike).

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// What a watcher reports while the process runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tick<'a> {
    /// A new line appeared in the log.
    Line(&'a str),
    /// Nothing finished yet: the time since the process started and the log lines so far.
    Heartbeat { elapsed: Duration, lines: usize },
}

/// Wait for `child`, reading what it appends to `log` after byte `from`, calling `on` for
/// every new line and for a heartbeat every `every` (never when `every` is zero).
pub fn wait(child: &mut Child, log: &Path, from: u64, every: Duration, on: &mut dyn FnMut(Tick<'_>)) -> std::io::Result<ExitStatus> {
    let start = Instant::now();
    let mut next_beat = every;
    let mut offset = from;
    let mut partial = Vec::new();
    let mut lines = 0usize;
    loop {
        let done = child.try_wait()?;
        if let Ok(mut f) = fs::File::open(log) {
            f.seek(SeekFrom::Start(offset))?;
            let mut buf = Vec::new();
            f.read_to_end(&mut buf)?;
            offset += buf.len() as u64;
            partial.extend_from_slice(&buf);
            while let Some(nl) = partial.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = partial.drain(..=nl).collect();
                lines += 1;
                on(Tick::Line(String::from_utf8_lossy(&line[..line.len() - 1]).as_ref()));
            }
        }
        if let Some(st) = done {
            return Ok(st);
        }
        if !every.is_zero() && start.elapsed() >= next_beat {
            on(Tick::Heartbeat { elapsed: start.elapsed(), lines });
            while next_beat <= start.elapsed() {
                next_beat += every;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The heartbeat line: component, step, elapsed time, log lines so far.
pub fn heartbeat_line(component: &str, step: &str, elapsed: Duration, lines: usize, log: &Path) -> String {
    let s = elapsed.as_secs();
    format!("    {component}: {step} still running, {}m{:02}s elapsed, {lines} log lines so far ({})", s / 60, s % 60, log.display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    #[test]
    fn reports_lines_and_heartbeats_of_a_quiet_process() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("log");
        fs::write(&log, "before\n").unwrap();
        let f = fs::OpenOptions::new().append(true).open(&log).unwrap();
        let mut child = Command::new("sh").args(["-c", "echo one; echo two; sleep 1.2; echo three"]).stdout(f.try_clone().unwrap()).stderr(Stdio::null()).spawn().unwrap();
        let mut seen = Vec::new();
        let mut beats = Vec::new();
        let st = wait(&mut child, &log, 7, Duration::from_millis(300), &mut |t| match t {
            Tick::Line(l) => seen.push(l.to_string()),
            Tick::Heartbeat { elapsed, lines } => beats.push((elapsed, lines)),
        })
        .unwrap();
        assert!(st.success());
        assert_eq!(seen, ["one", "two", "three"], "lines before `from` are not reported");
        assert!(beats.len() >= 2, "a 1.2 s quiet stretch gives heartbeats every 0.3 s: {beats:?}");
        assert!(beats.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(beats.iter().all(|(_, n)| *n <= 3));
    }

    #[test]
    fn zero_interval_means_no_heartbeat() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("log");
        fs::write(&log, "").unwrap();
        let mut child = Command::new("sleep").arg("0.5").spawn().unwrap();
        let mut beats = 0;
        wait(&mut child, &log, 0, Duration::ZERO, &mut |t| {
            if matches!(t, Tick::Heartbeat { .. }) {
                beats += 1
            }
        })
        .unwrap();
        assert_eq!(beats, 0);
    }
}
