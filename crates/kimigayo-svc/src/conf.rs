//! A service's configuration as the runtime sees it: rc.conf, conf.d/<svc> and the script are
//! sourced by the shell (so anything a shell can compute works), and the variables the service
//! manager needs are read back.

use std::collections::BTreeMap;
use std::ffi::OsStr;

use crate::env::SvcEnv;
use crate::error::SvcError;
use crate::runtime;

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ScriptConf {
    pub vars: BTreeMap<String, String>,
}

/// What a configuration dump depends on, as one line: identity (device, inode, size, mtime)
/// of each file the runtime sources and of the binary holding the runtime, and the
/// environment the shell gets.
fn cache_key(env: &SvcEnv, service: &str) -> String {
    use std::os::unix::fs::MetadataExt;
    let id = |p: &std::path::Path| match std::fs::metadata(p) {
        Ok(m) => format!("{}:{}:{}:{}.{}", m.dev(), m.ino(), m.size(), m.mtime(), m.mtime_nsec()),
        Err(_) => "-".to_string(),
    };
    let etc = env.root.join("etc");
    let mut files = vec![env.script(service), etc.join("rc.conf"), etc.join("conf.d").join(service), env.self_exe.clone()];
    if let Some((base, _)) = service.split_once('.') {
        files.push(etc.join("conf.d").join(base));
    }
    let mut key = String::from("kimigayo-conf 1");
    for f in &files {
        key.push(' ');
        key.push_str(&id(f));
    }
    // RC_RUNLEVEL is left out: it is `shutdown` for every stop at shutdown, and what the
    // service manager reads from the dump (timeouts, user, sandbox settings) does not follow
    // the runlevel; the action's own shell sees the real one.
    for (k, v) in runtime::environment(env, service, &[]).into_iter().filter(|(k, _)| k != "RC_RUNLEVEL") {
        key.push_str(&format!(" {k:?}={v:?}"));
    }
    key
}

impl ScriptConf {
    /// The configuration of `service`: read back from the shell, or from `conf.cache` in its
    /// state folder when nothing it was read from changed since (the script, rc.conf, its conf.d
    /// files, this binary and the environment the shell got) — so a stop, status or restart
    /// after a start costs no shell. (Like OpenRC's dependency cache, a file the script sources
    /// by itself is not watched; the action's own shell always sources everything afresh.)
    pub fn load(env: &SvcEnv, service: &str) -> Result<Self, SvcError> {
        let dir = env.service_dir(service);
        std::fs::create_dir_all(&dir).map_err(|e| SvcError::io(service, "creating state dir", &dir, e))?;
        let key = cache_key(env, service);
        let cache = dir.join("conf.cache");
        if let Ok(bytes) = std::fs::read(&cache) {
            if let Some(rest) = bytes.strip_prefix(key.as_bytes()).and_then(|r| r.strip_prefix(b"\n")) {
                return Ok(Self::parse(rest));
            }
        }
        let data = Self::dump(env, service, &dir)?;
        let mut cached = key.into_bytes();
        cached.push(b'\n');
        cached.extend_from_slice(&data);
        // Best effort: without a cache the next action reads the configuration again.
        let _ = crate::state::write_atomic(&cache, &cached);
        Ok(Self::parse(&data))
    }

    fn dump(env: &SvcEnv, service: &str, dir: &std::path::Path) -> Result<Vec<u8>, SvcError> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let file = dir.join(format!(".conf.{}.{nanos}", std::process::id()));
        let out = runtime::command(env, service, "--kimigayo-dump", &[OsStr::new(&file)])
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| SvcError::Conf { service: service.into(), shell: env.shell.clone(), detail: e.to_string() })?;
        let data = std::fs::read(&file);
        let _ = std::fs::remove_file(&file);
        if !out.status.success() {
            let mut detail = String::from_utf8_lossy(&out.stderr).trim().to_string();
            if detail.is_empty() {
                detail = format!("shell exited with {}", out.status);
            }
            return Err(SvcError::Conf { service: service.into(), shell: env.shell.clone(), detail });
        }
        data.map_err(|e| SvcError::io(service, "reading configuration dump", &file, e))
    }

    pub fn parse(data: &[u8]) -> Self {
        let vars = data
            .split(|b| *b == 0)
            .filter_map(|rec| {
                let rec = String::from_utf8_lossy(rec);
                let (k, v) = rec.split_once('=')?;
                Some((k.to_string(), v.to_string()))
            })
            .collect();
        ScriptConf { vars }
    }

    pub fn get(&self, key: &str) -> Option<String> {
        self.vars.get(key).cloned()
    }

    fn words(&self, key: &str) -> Vec<String> {
        self.vars.get(key).map(|v| v.split_whitespace().map(str::to_string).collect()).unwrap_or_default()
    }

    pub fn extra_commands(&self) -> Vec<String> {
        let mut v = self.words("extra_commands");
        v.extend(self.words("extra_stopped_commands"));
        v
    }

    pub fn extra_started_commands(&self) -> Vec<String> {
        self.words("extra_started_commands")
    }

    pub fn custom_status(&self) -> bool {
        self.vars.get("_custom_status").map(|v| v == "yes").unwrap_or(false)
    }

    /// Every command `rc-service X …` accepts for this script.
    pub fn valid_commands(&self) -> Vec<String> {
        let mut v: Vec<String> = ["start", "stop", "restart", "status", "zap", "describe"].iter().map(|s| s.to_string()).collect();
        v.extend(self.extra_commands());
        v.extend(self.extra_started_commands());
        v
    }

    pub fn output_logs(&self) -> Vec<String> {
        ["output_log", "error_log"].iter().filter_map(|k| self.get(k)).filter(|v| !v.is_empty()).collect()
    }
}
