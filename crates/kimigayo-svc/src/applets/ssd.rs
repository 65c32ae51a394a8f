//! start-stop-daemon, with the option names OpenRC's and Debian's versions share.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use super::getopt::{self, flag, long_flag, value, Item, Opt};
use super::proc::{self, ExecSettings, Match};
use crate::failure::parse_signal;

const OPTS: &[Opt] = &[
    flag('S', "start"),
    flag('K', "stop"),
    long_flag("status"),
    value('x', "exec"),
    value('a', "startas"),
    value('n', "name"),
    value('p', "pidfile"),
    flag('m', "make-pidfile"),
    long_flag("remove-pidfile"),
    flag('b', "background"),
    value('u', "user"),
    value('c', "chuid"),
    value('g', "group"),
    value('d', "chdir"),
    value('k', "umask"),
    value('1', "stdout"),
    value('2', "stderr"),
    value('R', "retry"),
    value('s', "signal"),
    flag('q', "quiet"),
    flag('t', "test"),
    flag('o', "oknodo"),
    value('N', "nicelevel"),
    value('e', "env"),
    value('w', "wait"),
    flag('v', "verbose"),
    flag('P', "progress"),
    flag('h', "help"),
];

pub const USAGE: &str = "\
Usage: start-stop-daemon --start|--stop|--status [options] [-- arguments]
  -S, --start             start a program (--exec / --startas)
  -K, --stop              stop the matching processes
      --status            exit 0 running, 1 dead with a pidfile, 3 not running
  -x, --exec PATH         program to run / match (/proc/PID/exe)
  -a, --startas PATH      program to run when it differs from --exec
  -n, --name NAME         match on process name
  -p, --pidfile FILE      pidfile to check / write / read
  -m, --make-pidfile      write the pidfile (with --background)
  -b, --background        detach: new session, stdio to /dev/null (or --stdout/--stderr)
  -u, --user USER[:GRP]   run as / match this user (-c, --chuid; -g, --group GROUP)
  -d, --chdir DIR         working directory        -k, --umask MASK
  -1, --stdout FILE       append stdout to FILE    -2, --stderr FILE
  -N, --nicelevel N       scheduling priority      -e, --env VAR=VALUE
  -s, --signal SIG        stop signal (TERM)       -R, --retry SCHEDULE  e.g. TERM/5/KILL/5 or 5
  -w, --wait MS           after starting, check the daemon still lives after MS
  -t, --test              only say what would be done
  -o, --oknodo            nothing to do is success  -q, --quiet
";

fn err(msg: &str) {
    eprintln!(" * start-stop-daemon: {msg}");
}

#[derive(Default)]
struct Args {
    mode: Option<&'static str>,
    exec: Option<String>,
    startas: Option<String>,
    name: Option<String>,
    pidfile: Option<String>,
    make_pidfile: bool,
    remove_pidfile: bool,
    background: bool,
    retry: Option<String>,
    signal: i32,
    /// `--signal` was given: without --start/--stop/--status it is OpenRC's signal mode.
    signal_given: bool,
    quiet: bool,
    test: bool,
    oknodo: bool,
    wait_ms: Option<u64>,
    settings: ExecSettings,
    positional: Vec<String>,
    rest: Vec<String>,
}

fn parse(args: &[OsString]) -> Result<Args, String> {
    let (items, rest) = getopt::parse(args, OPTS)?;
    let mut a = Args { signal: libc::SIGTERM, rest, ..Default::default() };
    for item in items {
        match item {
            Item::Positional(p) => a.positional.push(p),
            Item::Opt(name, v) => {
                let v = v.unwrap_or_default();
                if a.settings.take_option(name, v.clone())? {
                    continue;
                }
                match name {
                    "start" | "stop" | "status" => {
                        if a.mode.is_some_and(|m| m != name) {
                            return Err("only one of --start, --stop, --status".into());
                        }
                        a.mode = Some(name);
                    }
                    "exec" => a.exec = Some(v),
                    "startas" => a.startas = Some(v),
                    "name" => a.name = Some(v),
                    "pidfile" => a.pidfile = Some(v),
                    "make-pidfile" => a.make_pidfile = true,
                    "remove-pidfile" => a.remove_pidfile = true,
                    "background" => a.background = true,
                    "retry" => a.retry = Some(v),
                    "signal" => {
                        a.signal = parse_signal(&v).ok_or_else(|| format!("invalid signal `{v}'"))?;
                        a.signal_given = true;
                    }
                    "quiet" => a.quiet = true,
                    "test" => a.test = true,
                    "oknodo" => a.oknodo = true,
                    "wait" => a.wait_ms = Some(v.parse().map_err(|_| format!("invalid --wait `{v}' (milliseconds)"))?),
                    "help" => a.mode = Some("help"),
                    _ => {}
                }
            }
        }
    }
    Ok(a)
}

pub fn start_stop_daemon_main(args: &[OsString]) -> i32 {
    let a = match parse(args) {
        Ok(a) => a,
        Err(e) => {
            err(&format!("{e} (see start-stop-daemon --help)"));
            return 1;
        }
    };
    match a.mode {
        Some("help") => {
            print!("{USAGE}");
            0
        }
        Some("start") => start(a),
        Some("stop") => stop(a),
        Some("status") => status(a),
        None if a.signal_given => send_signal(a),
        _ => {
            err("need one of --start, --stop or --status (see --help)");
            1
        }
    }
}

fn matcher(a: &Args) -> Match {
    Match {
        exec: a.exec.as_deref().and_then(proc::which),
        name: a.name.clone(),
        uid: a.settings.user.as_deref().and_then(|u| proc::parse_owner(u).ok()).and_then(|(u, _)| u.map(|u| u.uid)),
        pidfile: a.pidfile.as_ref().map(PathBuf::from),
    }
}

fn start(mut a: Args) -> i32 {
    let Some(prog_name) = a.startas.clone().or(a.exec.clone()).or_else(|| a.positional.first().cloned()) else {
        err("--start needs --exec or --startas");
        return 1;
    };
    if a.exec.is_none() && a.startas.is_none() {
        a.positional.remove(0);
    }
    let Some(prog) = proc::which(&prog_name).filter(|p| p.exists()) else {
        err(&format!("{prog_name} does not exist"));
        return 1;
    };
    // Match by pidfile when there is one (the daemon may exec something else), else by exec.
    let mut m = matcher(&a);
    if m.pidfile.is_some() {
        m.exec = None;
    }
    if !m.is_empty() && !m.find().is_empty() {
        if !a.quiet {
            err(&format!("{prog_name} is already running"));
        }
        return if a.oknodo { 0 } else { 1 };
    }
    let mut argv = vec![prog_name.clone()];
    argv.extend(a.positional.iter().cloned());
    argv.extend(a.rest.iter().cloned());
    if a.test {
        println!("Would start {}", argv.join(" "));
        return 0;
    }
    if a.make_pidfile && a.pidfile.is_none() {
        err("--make-pidfile needs --pidfile");
        return 1;
    }
    if a.background && a.settings.chdir.is_none() {
        a.settings.chdir = Some("/".into());
    }
    let capture = std::env::var_os("KIMIGAYO_SVC_CAPTURE").is_some();
    let background = a.background;
    let pidfile = if a.make_pidfile { a.pidfile.clone() } else { None };
    let before = move || -> Result<(), String> {
        if background {
            unsafe {
                libc::setsid();
                let null = crate::pump::dev_null();
                libc::dup2(null, 0);
                // Inside a service holder, stdout/stderr are the holder's capture pipe: keep them
                // so the service's output reaches output.log; elsewhere detach like OpenRC.
                if !capture {
                    libc::dup2(null, 1);
                    libc::dup2(null, 2);
                }
            }
        }
        if let Some(pf) = &pidfile {
            proc::write_pidfile(pf, std::process::id())?;
        }
        Ok(())
    };
    let pid = match proc::spawn(&prog, &argv, &a.settings, &before) {
        Ok(pid) => pid,
        Err(e) => {
            err(&format!("failed to start {prog_name}: {e}"));
            return 1;
        }
    };
    if background {
        if let Some(ms) = a.wait_ms {
            std::thread::sleep(Duration::from_millis(ms));
            let mut st = 0;
            let r = unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) };
            if r == pid || !crate::state::pid_alive(pid) {
                err(&format!("{prog_name} died"));
                return 1;
            }
        }
        return 0;
    }
    let mut st = 0;
    unsafe { libc::waitpid(pid, &mut st, 0) };
    let code = crate::failure::ExitKind::from_wait(st).shell_code();
    if code != 0 && !a.quiet {
        err(&format!("{prog_name} exited with {code}"));
    }
    code
}

fn stop(a: Args) -> i32 {
    let m = matcher(&a);
    if m.is_empty() {
        err("--stop needs --exec, --pidfile, --name or --user");
        return 1;
    }
    let schedule = match a.retry.as_deref() {
        Some(r) => match proc::parse_schedule(r, a.signal) {
            Ok(s) => s,
            Err(e) => {
                err(&e);
                return 1;
            }
        },
        None => vec![proc::Step::Signal(a.signal)],
    };
    let pids = m.find();
    let remove_pidfile = |a: &Args| {
        if let Some(pf) = &a.pidfile {
            let _ = std::fs::remove_file(pf);
        }
    };
    if pids.is_empty() {
        if !a.quiet {
            err("no matching processes found");
        }
        if a.pidfile.as_deref().is_some_and(|p| std::path::Path::new(p).exists()) {
            remove_pidfile(&a);
        }
        return 0;
    }
    if a.test {
        println!("Would send signal {} to {:?}", a.signal, pids);
        return 0;
    }
    if proc::run_schedule(&pids, &schedule) {
        // `--signal HUP` (the reload idiom) leaves the daemon running: keep its pidfile.
        let terminating = schedule.iter().any(|s| {
            matches!(s, proc::Step::Signal(sig) if [libc::SIGTERM, libc::SIGKILL, libc::SIGINT, libc::SIGQUIT].contains(sig))
        });
        if terminating || !pids.iter().any(|p| crate::state::pid_alive(*p)) {
            remove_pidfile(&a);
        }
        0
    } else {
        if !a.quiet {
            err(&format!("failed to stop {:?}", pids));
        }
        2
    }
}

/// `--signal SIG` alone (OpenRC's reload idiom: `start-stop-daemon --signal HUP --pidfile F`):
/// send it to the matching processes, wait for nothing, keep the pidfile.
fn send_signal(a: Args) -> i32 {
    let m = matcher(&a);
    if m.is_empty() {
        err("--signal needs --exec, --pidfile, --name or --user");
        return 1;
    }
    let pids = m.find();
    if pids.is_empty() {
        if !a.quiet {
            err("no matching processes found");
        }
        return 1;
    }
    if a.test {
        println!("Would send signal {} to {:?}", a.signal, pids);
        return 0;
    }
    let mut failed = false;
    for p in &pids {
        // SAFETY: kill(2) on a pid found by the matcher.
        if unsafe { libc::kill(*p, a.signal) } != 0 {
            failed = true;
            if !a.quiet {
                err(&format!("cannot send signal {} to {p}: {}", a.signal, std::io::Error::last_os_error()));
            }
        }
    }
    i32::from(failed)
}

fn status(a: Args) -> i32 {
    let m = matcher(&a);
    if m.is_empty() {
        err("--status needs --exec, --pidfile, --name or --user");
        return 4;
    }
    if !m.find().is_empty() {
        0
    } else if a.pidfile.as_deref().is_some_and(|p| std::path::Path::new(p).exists()) {
        1
    } else {
        3
    }
}
