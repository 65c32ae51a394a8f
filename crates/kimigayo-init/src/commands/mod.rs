//! The user commands: rc-service, rc-update, rc-status, and halt/poweroff/reboot. Output and
//! exit codes follow OpenRC's; `--json` prints one JSON document instead.

pub mod power;
pub mod rc_service;
pub mod rc_status;
pub mod rc_update;

/// OpenRC's error line: ` * rc-service: service `foo' does not exist`.
pub fn eerror(applet: &str, msg: &str) {
    eprintln!(" * {applet}: {msg}");
}

pub fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_else(|_| "null".into()));
}
