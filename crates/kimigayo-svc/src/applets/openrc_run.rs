//! openrc-run: the interpreter of `#!/sbin/openrc-run` scripts. The kernel runs
//! `openrc-run /etc/init.d/SVC ACTION...`; the root is the folder above `etc/init.d`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::action::run_action;
use crate::env::{Action, SvcEnv};

pub const USAGE: &str = "\
Usage: openrc-run /etc/init.d/SERVICE COMMAND...
  COMMAND: start stop restart status zap describe, or the script's extra_commands.
  Several commands run in order; the first failure ends the run.
";

/// `<root>/etc/init.d/<svc>` → (root, svc).
pub fn split_script_path(script: &Path) -> (PathBuf, String) {
    let name = script.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let dir = script.parent().unwrap_or(Path::new("/"));
    let root = if dir.ends_with("etc/init.d") {
        dir.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"))
    } else {
        PathBuf::from("/")
    };
    let root = if root.as_os_str().is_empty() { PathBuf::from("/") } else { root };
    (root, name)
}

pub fn openrc_run_main(args: &[OsString]) -> i32 {
    let words: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .filter(|a| !matches!(a.as_str(), "-q" | "--quiet" | "-v" | "--verbose" | "-D" | "--nodeps" | "-s" | "--ifstarted"))
        .collect();
    if words.first().is_some_and(|w| w == "--help" || w == "-h") || words.len() < 2 {
        eprint!("{USAGE}");
        return if words.len() < 2 { 1 } else { 0 };
    }
    let script = std::fs::canonicalize(&words[0]).unwrap_or_else(|_| PathBuf::from(&words[0]));
    let (root, service) = split_script_path(&script);
    let root = std::env::var_os("KIMIGAYO_ROOT").map(PathBuf::from).unwrap_or(root);
    let self_exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/sbin/openrc-run"));
    let mut env = SvcEnv::new(root, self_exe);
    if let Some(ms) = std::env::var("KIMIGAYO_STOP_TIMEOUT_MS").ok().and_then(|v| v.parse().ok()) {
        env.stop_timeout = std::time::Duration::from_millis(ms);
    }
    for word in &words[1..] {
        match run_action(&env, &service, &Action::parse(word)) {
            Ok(o) if o.code == 0 => {}
            Ok(o) => return o.code,
            Err(e) => {
                eprintln!(" * ERROR: {e}");
                return 1;
            }
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_from_script_path() {
        assert_eq!(split_script_path(Path::new("/etc/init.d/nginx")), (PathBuf::from("/"), "nginx".into()));
        assert_eq!(split_script_path(Path::new("/tmp/r/etc/init.d/web")), (PathBuf::from("/tmp/r"), "web".into()));
        assert_eq!(split_script_path(Path::new("/opt/x")), (PathBuf::from("/"), "x".into()));
    }
}
