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

impl ScriptConf {
    pub fn load(env: &SvcEnv, service: &str) -> Result<Self, SvcError> {
        let dir = env.service_dir(service);
        std::fs::create_dir_all(&dir).map_err(|e| SvcError::io(service, "creating state dir", &dir, e))?;
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
        let data = data.map_err(|e| SvcError::io(service, "reading configuration dump", &file, e))?;
        Ok(Self::parse(&data))
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
