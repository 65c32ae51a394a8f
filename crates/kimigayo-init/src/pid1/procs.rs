//! Processes: reaping, exit codes, and finding/killing what is left in our PID namespace (or,
//! when we are only a subreaper on a host, among our own descendants).

use std::collections::{BTreeMap, BTreeSet};

/// Reaps every zombie child; returns (pid, raw wait status).
pub fn reap_all() -> Vec<(i32, i32)> {
    let mut out = Vec::new();
    loop {
        let mut status = 0;
        // SAFETY: waitpid with a valid out pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            break;
        }
        out.push((pid, status));
    }
    out
}

/// The shell convention: the exit code, or 128 + the signal that killed it.
pub fn exit_code(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        1
    }
}

/// (pid, ppid, state) of every process /proc shows.
pub fn table() -> Vec<(i32, i32, char)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else { return out };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        if let Some((state, ppid)) = parse_stat(&stat) {
            out.push((pid, ppid, state));
        }
    }
    out
}

/// State and parent pid from /proc/PID/stat (the command name may hold spaces and parens).
pub fn parse_stat(stat: &str) -> Option<(char, i32)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut it = rest.split_whitespace();
    let state = it.next()?.chars().next()?;
    let ppid = it.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Processes that shutdown must end: everyone but us in our PID namespace when we are PID 1;
/// otherwise our descendants only (never the host's other processes). Kernel threads (ppid 2
/// chains or ppid 0) are skipped.
pub fn others(is_pid1: bool) -> Vec<i32> {
    let me = std::process::id() as i32;
    let t = table();
    if is_pid1 {
        let kthreads: BTreeSet<i32> = t.iter().filter(|(p, pp, _)| *pp == 2 || *p == 2).map(|(p, _, _)| *p).collect();
        return t.iter().filter(|(p, pp, _)| *p != me && *pp != 0 && !kthreads.contains(p)).map(|(p, _, _)| *p).collect();
    }
    let mut children: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for (p, pp, _) in &t {
        children.entry(*pp).or_default().push(*p);
    }
    let mut out = Vec::new();
    let mut stack = vec![me];
    while let Some(p) = stack.pop() {
        for &c in children.get(&p).map(|v| v.as_slice()).unwrap_or(&[]) {
            out.push(c);
            stack.push(c);
        }
    }
    out
}

/// Sends `sig` to everything `others` names (kill(-1) when PID 1 of the namespace).
pub fn signal_others(is_pid1: bool, sig: i32) {
    if is_pid1 {
        // SAFETY: kill(-1) as PID 1 of a namespace signals every process in it but ourselves.
        unsafe { libc::kill(-1, sig) };
        return;
    }
    for pid in others(false) {
        // SAFETY: plain syscall.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Live processes among `others` (zombies we are about to reap do not count).
pub fn live_others(is_pid1: bool) -> Vec<i32> {
    let zombies: BTreeSet<i32> = table().into_iter().filter(|(_, _, s)| *s == 'Z').map(|(p, _, _)| p).collect();
    others(is_pid1).into_iter().filter(|p| !zombies.contains(p)).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_stat_with_odd_names() {
        assert_eq!(super::parse_stat("42 (a b) c) S 7 42 42 0"), Some(('S', 7)));
        assert_eq!(super::parse_stat("1 (init) Z 0"), Some(('Z', 0)));
        assert_eq!(super::parse_stat("garbage"), None);
    }

    #[test]
    fn exit_codes_follow_the_shell() {
        assert_eq!(super::exit_code(7 << 8), 7);
        assert_eq!(super::exit_code(9), 137);
    }
}
