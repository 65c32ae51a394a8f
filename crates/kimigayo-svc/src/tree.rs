//! A service's processes when it has no PID namespace of its own (`sandbox_namespaces` without
//! `pid`, or the namespaces were unavailable): the descendants of its holder. The holder is a
//! child subreaper, so a daemon that double-forks is re-parented to it and stays in its tree;
//! stopping kills that tree and nothing else (never `kill(-1)`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Live (non-zombie) descendants of `root` (not `root` itself), from one /proc scan.
pub fn descendants(root: i32) -> Vec<i32> {
    let mut children: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    let mut zombie = std::collections::BTreeSet::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
            let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else { continue };
            let mut f = after.split_whitespace();
            let state = f.next().unwrap_or("");
            let Some(ppid) = f.next().and_then(|p| p.parse::<i32>().ok()) else { continue };
            if state == "Z" || state == "X" {
                zombie.insert(pid);
            }
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(p) = todo.pop() {
        for c in children.get(&p).map(Vec::as_slice).unwrap_or(&[]) {
            if *c != root && !out.contains(c) {
                out.push(*c);
                todo.push(*c);
            }
        }
    }
    out.retain(|p| !zombie.contains(p));
    out
}

fn signal_all(pids: &[i32], sig: i32) {
    for p in pids {
        if *p > 1 {
            // SAFETY: plain kill(2) of one positive pid.
            unsafe { libc::kill(*p, sig) };
        }
    }
}

/// SIGTERM the descendants of `root`, wait up to `grace` for them to go, then SIGKILL what is
/// left (repeatedly, so a process forked meanwhile is caught too) for up to 2 s more. `reap`
/// runs between scans (a holder reaps its own children there). True when none is left.
pub fn stop_tree(root: i32, grace: Duration, reap: &mut dyn FnMut()) -> bool {
    let left = descendants(root);
    if left.is_empty() {
        return true;
    }
    signal_all(&left, libc::SIGTERM);
    let end = Instant::now() + grace;
    while Instant::now() < end {
        reap();
        if descendants(root).is_empty() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    kill_tree(root, Duration::from_secs(2), reap)
}

/// SIGKILL the descendants of `root` until none is left or `timeout` passes.
pub fn kill_tree(root: i32, timeout: Duration, reap: &mut dyn FnMut()) -> bool {
    let end = Instant::now() + timeout;
    loop {
        reap();
        let left = descendants(root);
        if left.is_empty() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        signal_all(&left, libc::SIGKILL);
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn kills_the_tree_and_nothing_else() {
        // A bystander that is not our descendant must survive.
        let mut bystander = Command::new("sleep").arg("30").spawn().unwrap();
        let by_pid = bystander.id() as i32;
        // sh (our child) with a grandchild that ignores SIGTERM.
        let mut tree = Command::new("sh").arg("-c").arg("trap '' TERM; sleep 30 & sleep 30; wait").spawn().unwrap();
        let sh = tree.id() as i32;
        let t0 = Instant::now();
        while descendants(sh).len() < 2 && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(descendants(sh).len(), 2);
        assert!(stop_tree(sh, Duration::from_millis(200), &mut || {}));
        assert!(descendants(sh).is_empty());
        unsafe { libc::kill(sh, libc::SIGKILL) };
        let _ = tree.wait();
        assert!(bystander.try_wait().unwrap().is_none(), "bystander {by_pid} was killed");
        bystander.kill().unwrap();
        let _ = bystander.wait();
    }
}
