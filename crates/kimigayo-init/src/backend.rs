//! The one place that talks to kimigayo-rc (the on-disk OpenRC model) and kimigayo-svc (one
//! service's lifecycle). Commands and PID 1 only see this facade.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use kimigayo_rc::{runlevel, Catalog, RcRoot};
use kimigayo_svc::{Action, SvcEnv};

use crate::ctx::Ctx;
use crate::orchestrate::Needs;
use crate::services::{self, BootPlan, Services};

/// A service's status as the commands print it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    pub name: String,
    pub state: String,
    /// `rc-service X status` exit code (0 started, 3 stopped, 4 stopping, 8 starting, 32 crashed).
    pub code: i32,
    pub holder_pid: Option<i32>,
    pub since: u64,
    pub sandbox: String,
    /// Why the service runs without its namespaces, and the fix (unprivileged container).
    pub sandbox_degraded: Option<String>,
    pub restarts: u32,
    pub last_exit: Option<String>,
    pub log_tail: Vec<String>,
}

pub struct Backend {
    pub ctx: Ctx,
    pub rc: RcRoot,
    /// `rc_sys`, detected once per command (every status and action needs it).
    sys: std::cell::OnceCell<kimigayo_rc::RcSys>,
}

fn rc_err(e: kimigayo_rc::RcError) -> String {
    e.to_string()
}

impl Backend {
    pub fn new(ctx: Ctx) -> Self {
        let rc = RcRoot::new(ctx.root.clone());
        Backend { ctx, rc, sys: std::cell::OnceCell::new() }
    }

    pub fn script(&self, name: &str) -> PathBuf {
        self.rc.script(name)
    }

    pub fn services(&self) -> Result<Vec<String>, String> {
        self.rc.services().map_err(rc_err)
    }

    pub fn exists(&self, name: &str) -> bool {
        kimigayo_rc::validate_service_name(name).is_ok() && self.rc.has_service(name)
    }

    /// Every script's metadata, with this system applied (keyworded-out services and what
    /// they provide count as met; see kimigayo_rc::system).
    pub fn catalog(&self) -> Result<Catalog, String> {
        let mut cat = kimigayo_rc::load_catalog(&self.rc, &self.ctx.shell).map_err(rc_err)?;
        cat.apply_system(&self.rc_sys());
        Ok(cat)
    }

    /// OpenRC's `rc_sys`: rc.conf's setting, else the container markers.
    pub fn rc_sys(&self) -> kimigayo_rc::RcSys {
        self.sys
            .get_or_init(|| {
                let conf = kimigayo_rc::RcConf::load(&self.rc).unwrap_or_default();
                let env = if self.ctx.root == std::path::Path::new("/") { kimigayo_rc::system::container_env() } else { None };
                kimigayo_rc::system::detect(&self.rc, &conf, env.as_deref())
            })
            .clone()
    }

    pub fn svc_env(&self) -> SvcEnv {
        let mut env = SvcEnv::new(self.ctx.root.clone(), self.ctx.self_exe.clone());
        env.shell = self.ctx.shell.clone();
        env.stop_timeout = self.stop_timeout();
        env.vars.push(("RC_SYS".into(), self.rc_sys().env_value()));
        // RC_RUNLEVEL: set by init for the actions of a boot or shutdown; else the runlevel
        // the last boot reached.
        let level = std::env::var("RC_RUNLEVEL")
            .ok()
            .or_else(|| std::fs::read_to_string(self.ctx.softlevel()).ok())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        env.vars.push(("RC_RUNLEVEL".into(), level.unwrap_or_else(|| "default".into())));
        env
    }

    pub fn status(&self, name: &str) -> Result<Status, String> {
        let st = kimigayo_svc::status(&self.svc_env(), name).map_err(|e| e.to_string())?;
        Ok(Status {
            code: st.exit_code(),
            state: st.state.as_str().to_string(),
            name: st.name,
            holder_pid: st.holder_pid,
            since: st.since,
            sandbox: st.sandbox,
            sandbox_degraded: st.sandbox_degraded,
            restarts: st.restarts,
            last_exit: st.last_exit,
            log_tail: st.log_tail,
        })
    }

    /// Runs an action (its OpenRC-style output goes to stdout/stderr); returns the exit code.
    pub fn action(&self, name: &str, action: &str, _args: &[String]) -> Result<i32, String> {
        kimigayo_svc::run_action(&self.svc_env(), name, &Action::parse(action)).map(|o| o.code).map_err(|e| e.to_string())
    }

    /// `rc-service X start` without `-D`: what X needs (and wants, if it can start) is started
    /// first, in dependency order, like OpenRC; a need that fails stops the start of X with
    /// both named. Services already started are left alone.
    pub fn start_with_deps(&self, name: &str) -> Result<i32, String> {
        let cat = self.catalog()?;
        let disabled = kimigayo_rc::disabled_set(&self.rc).map_err(rc_err)?;
        let plan = kimigayo_rc::start_plan(&cat, &[name.to_string()], &disabled).map_err(|e| e.to_string())?;
        let needs = needs_of(&cat, &plan.waves.iter().flatten().cloned().collect());
        let (mut started, mut failed) = (BTreeSet::new(), BTreeSet::new());
        for svc in plan.order() {
            if svc == name {
                break;
            }
            if self.status(svc).is_ok_and(|s| s.state == "started") {
                started.insert(svc.to_string());
                continue;
            }
            if crate::orchestrate::blocked::blocked_by(svc, &needs, &started, &failed).is_some() {
                failed.insert(svc.to_string());
                continue;
            }
            if self.action(svc, "start", &[])? == 0 {
                started.insert(svc.to_string());
            } else {
                failed.insert(svc.to_string());
            }
        }
        if let Some(by) = crate::orchestrate::blocked::blocked_by(name, &needs, &started, &failed) {
            return Err(format!("cannot start {name} as {by} would not start"));
        }
        self.action(name, "start", &[])
    }

    pub fn runlevels(&self) -> Vec<String> {
        runlevel::levels(&self.rc).unwrap_or_default()
    }

    pub fn members(&self, level: &str) -> Vec<String> {
        runlevel::members(&self.rc, level).unwrap_or_default()
    }

    /// Ok(true) added, Ok(false) already there.
    pub fn add(&self, name: &str, level: &str) -> Result<bool, String> {
        runlevel::add(&self.rc, name, level).map(|a| a == runlevel::Added::Added).map_err(rc_err)
    }

    /// Ok(true) deleted, Ok(false) was not there.
    pub fn del(&self, name: &str, level: &str) -> Result<bool, String> {
        runlevel::del(&self.rc, name, level).map(|r| r == runlevel::Removed::Removed).map_err(rc_err)
    }

    /// Service → runlevels it is in.
    pub fn show(&self) -> BTreeMap<String, Vec<String>> {
        runlevel::show(&self.rc).unwrap_or_default()
    }

    fn rc_conf(&self, key: &str) -> Option<String> {
        kimigayo_rc::RcConf::load(&self.rc).ok()?.get(key).map(str::to_string)
    }

}

/// One group of alternatives per `need`: the service itself, or the providers of a virtual name.
pub fn needs_of(cat: &Catalog, planned: &BTreeSet<String>) -> Needs {
    let mut out = Needs::new();
    for svc in planned {
        let Some(meta) = cat.get(svc) else { continue };
        let groups = meta
            .need
            .iter()
            .filter(|n| cat.get(n).is_some() || !cat.providers(n).is_empty() || !cat.satisfied.contains_key(*n))
            .map(|n| if cat.get(n).is_some() { vec![n.clone()] } else { cat.providers(n).into_iter().map(str::to_string).collect() })
            .collect();
        out.insert(svc.clone(), groups);
    }
    out
}

/// OpenRC boots runlevel by runlevel: everything `sysinit` brings up (its members and what
/// they need) is started before anything only `boot` brings up, and that before the rest.
/// Each service of a later stage gets every service of the earlier stages as predecessors,
/// and the waves are regrouped stage by stage.
fn runlevel_stages(rc: &RcRoot, cat: &Catalog, disabled: &BTreeSet<String>, levels: &[String], plan: &mut kimigayo_rc::Plan) {
    let planned: BTreeSet<String> = plan.waves.iter().flatten().cloned().collect();
    let mut stage_of: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for k in 0..levels.len() {
        let refs: Vec<&str> = levels[..=k].iter().map(String::as_str).collect();
        let Ok(targets) = runlevel::enabled(rc, &refs) else { return };
        let targets: Vec<String> = targets.into_iter().filter(|t| planned.contains(t)).collect();
        let p = kimigayo_rc::start_plan_lenient(cat, &targets, disabled);
        for s in p.waves.iter().flatten() {
            if planned.contains(s) {
                stage_of.entry(s.clone()).or_insert(k);
            }
        }
    }
    let last = levels.len().saturating_sub(1);
    let stage = |s: &str| stage_of.get(s).copied().unwrap_or(last);
    let mut waves = Vec::new();
    for k in 0..=last {
        for w in &plan.waves {
            let in_stage: Vec<String> = w.iter().filter(|s| stage(s) == k).cloned().collect();
            if !in_stage.is_empty() {
                waves.push(in_stage);
            }
        }
    }
    for s in &planned {
        let preds = plan.after.entry(s.clone()).or_default();
        // An ordering on a service of a later runlevel does not hold across the barrier (it
        // would wait forever): OpenRC starts that service later anyway.
        preds.retain(|t| stage(t) <= stage(s));
        preds.extend(planned.iter().filter(|t| stage(t) < stage(s)).cloned());
    }
    plan.waves = waves;
}

impl Services for Backend {
    fn boot_plan(&self, levels: &[String]) -> Result<BootPlan, String> {
        let cat = self.catalog()?;
        let mut notes: Vec<String> = cat.failures.values().map(|f| f.to_string()).collect();
        let level_refs: Vec<&str> = levels.iter().map(String::as_str).collect();
        let targets: Vec<String> = runlevel::enabled(&self.rc, &level_refs).map_err(rc_err)?.into_iter().collect();
        let disabled = kimigayo_rc::disabled_set(&self.rc).map_err(rc_err)?;
        let mut plan = kimigayo_rc::start_plan_lenient(&cat, &targets, &disabled);
        notes.extend(plan.warnings.iter().cloned());
        notes.extend(plan.skipped.iter().map(|(s, e)| format!("{s}: not started: {e}")));
        runlevel_stages(&self.rc, &cat, &disabled, levels, &mut plan);
        let planned: BTreeSet<String> = plan.waves.iter().flatten().cloned().collect();
        // One shell reads every planned script's configuration now, instead of one shell per
        // service as its start begins.
        kimigayo_svc::conf::prefill(&self.svc_env(), &planned.iter().cloned().collect::<Vec<_>>());
        Ok(BootPlan { needs: needs_of(&cat, &planned), waves: plan.waves, after: plan.after, notes })
    }
    fn running(&self) -> Vec<String> {
        self.services()
            .unwrap_or_default()
            .into_iter()
            .filter(|s| self.status(s).is_ok_and(|st| st.holder_pid.is_some() || matches!(st.state.as_str(), "started" | "starting" | "stopping")))
            .collect()
    }
    fn stop_plan(&self, running: &[String]) -> (Vec<Vec<String>>, crate::orchestrate::After) {
        match self.catalog() {
            Ok(cat) => {
                let p = kimigayo_rc::stop_plan(&cat, running);
                (p.waves, p.after)
            }
            Err(_) => (vec![running.to_vec()], Default::default()),
        }
    }
    fn stop_timeout(&self) -> Duration {
        self.rc_conf("rc_timeout_stopsec").and_then(|v| services::parse_seconds(&v)).unwrap_or(Duration::from_secs(10))
    }
    fn start_timeout(&self) -> Duration {
        self.rc_conf("rc_timeout_startsec").and_then(|v| services::parse_seconds(&v)).unwrap_or(Duration::from_secs(60))
    }
    fn kill_grace(&self) -> Duration {
        self.rc_conf("rc_timeout_killsec").and_then(|v| services::parse_seconds(&v)).unwrap_or(Duration::from_secs(3))
    }
}

/// The applets kimigayo-svc implements (`openrc-run`, `start-stop-daemon`, `supervise-daemon`,
/// `checkpath`, and the internal `--holder`). None when `name` is not one of them.
pub fn svc_applet(name: &str, args: &[std::ffi::OsString]) -> Option<i32> {
    kimigayo_svc::dispatch(name, args)
}

/// `kimigayo-init --run-action SERVICE ACTION`: what init runs per service in a wave.
pub fn run_action_main(args: &[std::ffi::OsString]) -> i32 {
    let words: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let (Some(name), Some(action)) = (words.first(), words.get(1)) else {
        eprintln!("kimigayo-init --run-action SERVICE ACTION: missing arguments");
        return 2;
    };
    let b = Backend::new(Ctx::from_env());
    match b.action(name, action, &words[2..]) {
        Ok(code) => code,
        Err(e) => {
            eprintln!(" * ERROR: {e}");
            1
        }
    }
}
