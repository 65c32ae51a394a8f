//! Output in OpenRC's style (` * message`) on the console, and the same lines with a UTC time
//! stamp appended to `<root>/var/log/kimigayo/init.log`.

use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, Default)]
pub struct Log {
    file: Option<PathBuf>,
}

impl Log {
    pub fn new(file: Option<PathBuf>) -> Self {
        Log { file }
    }

    pub fn info(&self, msg: &str) {
        self.emit(&format!(" * {msg}"));
    }
    pub fn warn(&self, msg: &str) {
        self.emit(&format!(" * WARNING: {msg}"));
    }
    pub fn error(&self, msg: &str) {
        self.emit(&format!(" * ERROR: {msg}"));
    }
    /// Relays lines some other process produced (a service action's captured output).
    pub fn relay(&self, text: &str) {
        for line in text.lines() {
            self.emit(line);
        }
    }

    /// Prints one line and appends it to the log file. The file is opened per line so that a
    /// filesystem about to be unmounted is never held busy by the init.
    pub fn emit(&self, line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
        drop(out);
        self.file_only(line);
    }

    pub fn file_only(&self, line: &str) {
        if let Some(path) = &self.file {
            if let Some(dir) = path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
                let _ = writeln!(f, "{} {line}", utc_now());
            }
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for now (no time-zone database in a PID 1).
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    utc(secs)
}

pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (proleptic Gregorian), after H. Hinnant's public-domain algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_utc() {
        assert_eq!(super::utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(super::utc(951_782_400), "2000-02-29T00:00:00Z");
    }
}
