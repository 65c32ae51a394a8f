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

/// The configuration dump held by the cache file at `cache` if it was made under `key`.
fn cached(cache: &std::path::Path, key: &str) -> Option<Vec<u8>> {
    let bytes = std::fs::read(cache).ok()?;
    bytes.strip_prefix(key.as_bytes())?.strip_prefix(b"\n").map(<[u8]>::to_vec)
}

/// Stores `data` under `key` in the cache file at `cache` (best effort: without a cache the
/// next action reads the configuration again).
fn store(cache: &std::path::Path, key: &str, data: &[u8]) -> bool {
    let mut bytes = Vec::with_capacity(key.len() + 1 + data.len());
    bytes.extend_from_slice(key.as_bytes());
    bytes.push(b'\n');
    bytes.extend_from_slice(data);
    crate::state::write_atomic(cache, &bytes).is_ok()
}

/// `s` as one single-quoted shell word.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Reads the configuration of every service in `services` whose `conf.cache` is missing or
/// stale with ONE shell (a subshell per service, each with exactly the environment and
/// positional parameters [`ScriptConf::load`]'s own shell gets) and writes their caches, so a
/// boot runs no configuration shell per service. Best effort: a service whose read fails is
/// left without a cache, and its action reads the configuration itself and reports the error.
/// Returns how many caches were written.
pub fn prefill(env: &SvcEnv, services: &[String]) -> usize {
    if runtime::ensure_applets(env).is_err() {
        return 0;
    }
    let mut todo = Vec::new();
    for svc in services {
        if !crate::action::valid_service_name(svc) || !env.script(svc).is_file() {
            continue;
        }
        let dir = env.service_dir(svc);
        if std::fs::create_dir_all(&dir).is_err() {
            continue;
        }
        let key = cache_key(env, svc);
        if cached(&dir.join("conf.cache"), &key).is_some() {
            continue;
        }
        todo.push((svc, key, dir.join(format!(".conf.prefill.{}", std::process::id()))));
    }
    let Some((first, _, _)) = todo.first() else { return 0 };
    let base = runtime::environment(env, first, &[]);
    let runtime_path = runtime::runtime_path(env);
    let mut batch = String::new();
    for (svc, _, file) in &todo {
        let own = runtime::environment(env, svc, &[]);
        batch.push('(');
        for (k, v) in &own {
            if !base.iter().any(|(bk, bv)| bk == k && bv == v) {
                batch.push_str(&format!("export {k}={}; ", sh_quote(v)));
            }
        }
        for (k, _) in &base {
            if !own.iter().any(|(ok, _)| ok == k) {
                batch.push_str(&format!("unset {k}; "));
            }
        }
        let f = file.to_string_lossy();
        batch.push_str(&format!(
            "set -- {} --kimigayo-dump {}; . {}) </dev/null >/dev/null 2>&1 || : > {}.failed\n",
            sh_quote(&env.script(svc).to_string_lossy()),
            sh_quote(&f),
            sh_quote(&runtime_path.to_string_lossy()),
            sh_quote(&f)
        ));
    }
    let ran = std::process::Command::new(&env.shell)
        .arg("-c")
        .arg(&batch)
        .arg(&runtime_path)
        .env_clear()
        .envs(base)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|st| st.success());
    let mut written = 0;
    for (svc, key, file) in &todo {
        let failed = file.with_file_name(format!("{}.failed", file.file_name().unwrap_or_default().to_string_lossy()));
        let data = std::fs::read(file);
        let _ = std::fs::remove_file(file);
        if std::fs::remove_file(&failed).is_ok() || !ran {
            continue;
        }
        if data.is_ok_and(|data| store(&env.service_dir(svc).join("conf.cache"), key, &data)) {
            written += 1;
        }
    }
    written
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
        if let Some(data) = cached(&cache, &key) {
            return Ok(Self::parse(&data));
        }
        let data = Self::dump(env, service, &dir)?;
        store(&cache, &key, &data);
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
