//! `run_action` and `status`: what `rc-service X start|stop|restart|status|zap|<extra>` does for
//! one service, printing OpenRC-style messages and returning OpenRC-style exit codes.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use crate::conf::ScriptConf;
use crate::env::{Action, Outcome, SvcEnv};
use crate::error::SvcError;
use crate::holder::{HolderArgs, REPORT_FD};
use crate::pump;
use crate::runtime;
use crate::state::{State, StateDir};

pub fn valid_service_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+' | b'@'))
}

/// The status of a service from its state folder (no script run).
pub fn status(env: &SvcEnv, service: &str) -> Result<crate::state::ServiceStatus, SvcError> {
    if !valid_service_name(service) {
        return Err(SvcError::BadName(service.to_string()));
    }
    Ok(StateDir::new(env, service).status())
}

fn say(line: &str) {
    println!(" * {line}");
}

fn warn(line: &str) {
    eprintln!(" * WARNING: {line}");
}

fn error(line: &str) {
    eprintln!(" * ERROR: {line}");
}

/// Runs one action of one service. Output goes to our stdout/stderr, as rc-service shows it.
pub fn run_action(env: &SvcEnv, service: &str, action: &Action) -> Result<Outcome, SvcError> {
    if !valid_service_name(service) {
        return Err(SvcError::BadName(service.to_string()));
    }
    let script = env.script(service);
    if !script.is_file() {
        return Err(SvcError::NoScript(service.to_string(), script));
    }
    let sd = StateDir::new(env, service);
    sd.ensure()?;
    runtime::ensure_applets(env)?;
    let conf = ScriptConf::load(env, service)?;
    let code = match action {
        Action::Start => start(env, &sd, &conf)?,
        Action::Stop => stop(env, &sd, &conf)?,
        Action::Restart => {
            let st = sd.status().state;
            let c = if st.is_running() { stop(env, &sd, &conf)? } else { 0 };
            if c == 0 { start(env, &sd, &conf)? } else { c }
        }
        Action::Status => {
            let st = sd.status();
            if conf.custom_status() {
                let mode = if st.holder_pid.is_some() { "join" } else { "once" };
                spawn_runner(env, &sd, &conf, mode, "status")?
            } else {
                print_status(st.state);
                st.exit_code()
            }
        }
        Action::Zap => {
            say(&format!("Manually resetting {service} to stopped state"));
            sd.set_state(State::Stopped)?;
            sd.remove("holder.pid");
            0
        }
        Action::Extra(cmd) => extra(env, &sd, &conf, cmd)?,
    };
    Ok(Outcome { code, status: sd.status() })
}

fn print_status(state: State) {
    match state {
        State::Started => say("status: started"),
        State::Stopped => say("status: stopped"),
        State::Starting => warn("status: starting"),
        State::Stopping => warn("status: stopping"),
        State::Crashed => error("status: crashed"),
        State::Failed => error("status: failed"),
    }
}

fn start(env: &SvcEnv, sd: &StateDir, conf: &ScriptConf) -> Result<i32, SvcError> {
    let service = &sd.service;
    let st = sd.status();
    if st.state.is_running() {
        warn(&format!("{service} has already been started"));
        return Ok(0);
    }
    sd.write("conf.json", &serde_json::to_string(conf).expect("plain data"))?;
    sd.set_restarts(0)?;
    for f in ["last-exit", "last-failure", "holder.pid", "output.log", "started-once"] {
        sd.remove(f);
    }
    sd.set_state(State::Starting)?;
    let (rd, wr) = pump::pipe_cloexec().map_err(|e| SvcError::Spawn { service: service.clone(), command: "pipe".into(), detail: e.to_string() })?;
    let args = HolderArgs::new(env, "start", service, "start", &[]);
    let mut cmd = Command::new(&env.self_exe);
    cmd.envs(env.vars.iter().map(|(k, v)| (k, v)));
    cmd.arg("holder").args(args.to_args()).stdin(Stdio::null());
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(wr, REPORT_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let spawned = cmd.spawn();
    unsafe { libc::close(wr) };
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            unsafe { libc::close(rd) };
            sd.set_state(State::Failed)?;
            return Err(SvcError::Spawn { service: service.clone(), command: env.self_exe.display().to_string(), detail: e.to_string() });
        }
    };
    let mut line = String::new();
    let _ = BufReader::new(pump::file_from(rd)).read_line(&mut line);
    let _ = child.wait();
    match line.trim().strip_prefix("exit ").and_then(|c| c.parse::<i32>().ok()) {
        Some(0) => Ok(0),
        Some(_) => Ok(1),
        None => {
            if sd.state() == Some(State::Starting) {
                sd.set_state(State::Failed)?;
            }
            Err(SvcError::HolderLost { service: service.clone(), action: "start".into(), log: env.log_file.clone() })
        }
    }
}

fn stop(env: &SvcEnv, sd: &StateDir, _conf: &ScriptConf) -> Result<i32, SvcError> {
    let service = &sd.service;
    let st = sd.status();
    if st.holder_pid.is_none() {
        if matches!(st.state, State::Crashed | State::Failed) {
            sd.set_state(State::Stopped)?;
        }
        warn(&format!("{service} is already stopped"));
        return Ok(0);
    }
    let before = sd.state().unwrap_or(State::Started);
    sd.set_state(State::Stopping)?;
    let code = spawn_runner(env, sd, _conf, "join", "stop")?;
    if code != 0 {
        if sd.live_holder().is_some() {
            sd.set_state(before)?;
        }
        return Ok(1);
    }
    if sd.live_holder().is_none() {
        sd.set_state(State::Stopped)?;
        sd.remove("holder.pid");
    }
    Ok(0)
}

fn extra(env: &SvcEnv, sd: &StateDir, conf: &ScriptConf, cmd: &str) -> Result<i32, SvcError> {
    let service = &sd.service;
    let running = sd.status().holder_pid.is_some();
    if cmd == "describe" {
        return spawn_runner(env, sd, conf, if running { "join" } else { "once" }, cmd);
    }
    if conf.extra_started_commands().iter().any(|c| c == cmd) {
        if !running {
            error(&format!("{service}: cannot `{cmd}' as it has not been started"));
            return Ok(1);
        }
        return spawn_runner(env, sd, conf, "join", cmd);
    }
    if conf.extra_commands().iter().any(|c| c == cmd) {
        return spawn_runner(env, sd, conf, if running { "join" } else { "once" }, cmd);
    }
    error(&format!("{service}: unknown command `{cmd}'; valid commands: {}", conf.valid_commands().join(" ")));
    Ok(1)
}

/// Runs `self_exe holder --mode join|once` and returns its exit code.
fn spawn_runner(env: &SvcEnv, sd: &StateDir, conf: &ScriptConf, mode: &str, action: &str) -> Result<i32, SvcError> {
    if mode == "once" {
        // A throw-away sandbox follows the current configuration.
        sd.write("conf.json", &serde_json::to_string(conf).expect("plain data"))?;
    }
    let mut args = HolderArgs::new(env, mode, &sd.service, action, &[]);
    // conf.d / rc.conf `rc_timeout_stopsec` overrides the grace given to left-over processes.
    if let Some(d) = conf.get("rc_timeout_stopsec").and_then(|v| crate::retry::parse_duration(&v)) {
        args.stop_timeout_ms = d.as_millis() as u64;
    }
    let status = Command::new(&env.self_exe)
        .envs(env.vars.iter().map(|(k, v)| (k, v)))
        .arg("holder")
        .args(args.to_args())
        .stdin(Stdio::null())
        .status()
        .map_err(|e| SvcError::Spawn { service: sd.service.clone(), command: env.self_exe.display().to_string(), detail: e.to_string() })?;
    Ok(status.code().unwrap_or(1))
}
