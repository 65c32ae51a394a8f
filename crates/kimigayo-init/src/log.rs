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
            if let Ok(mut f) = kimigayo_svc::failure::open_append(path) {
                let _ = writeln!(f, "{} {line}", utc_now());
            }
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for now — the same clock format as the services log.
pub fn utc_now() -> String {
    kimigayo_svc::failure::rfc3339_now()
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_utc() {
        let now = super::utc_now();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.ends_with('Z') && now.as_bytes()[10] == b'T', "{now}");
    }
}
