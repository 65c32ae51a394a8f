//! The narrow view of the service layer that boot and shutdown need. The real implementation
//! (`backend::Real`) reads the OpenRC tree through kimigayo-rc and asks kimigayo-svc for
//! service state; the actions themselves run in child processes (see `orchestrate`).

use std::time::Duration;

use crate::orchestrate::{After, Needs};

#[derive(Debug, Clone, Default)]
pub struct BootPlan {
    pub waves: Vec<Vec<String>>,
    pub needs: Needs,
    /// Each planned service's predecessors (it starts once they are done).
    pub after: After,
    /// Warnings and services left out of the plan (with the reason), for the console.
    pub notes: Vec<String>,
}

pub trait Services {
    /// Waves that start everything enabled in `levels` (honouring disabled services), and
    /// each planned service's hard needs.
    fn boot_plan(&self, levels: &[String]) -> Result<BootPlan, String>;
    /// Services that are up (or crashed with processes left) right now.
    fn running(&self) -> Vec<String>;
    /// Reverse dependency order over `running`: waves, and what each must wait for.
    fn stop_plan(&self, running: &[String]) -> (Vec<Vec<String>>, After);
    /// Per-service stop timeout (rc.conf `rc_timeout_stopsec`, default 10 s).
    fn stop_timeout(&self) -> Duration;
    /// Per-service start timeout at boot (rc.conf `rc_timeout_startsec`, default 60 s): a
    /// start action still running then is killed and the service counts as failed, so a
    /// hanging script never holds the boot.
    fn start_timeout(&self) -> Duration;
    /// Grace between SIGTERM and SIGKILL to the leftovers (rc.conf `rc_timeout_killsec`,
    /// default 3 s).
    fn kill_grace(&self) -> Duration;
}

/// Parses a duration in seconds as rc.conf writes it ("10", "0.5").
pub fn parse_seconds(v: &str) -> Option<Duration> {
    let f: f64 = v.trim().trim_matches('"').parse().ok()?;
    (f.is_finite() && (0.0..=86_400.0).contains(&f)).then(|| Duration::from_secs_f64(f))
}

#[cfg(test)]
mod tests {
    #[test]
    fn seconds() {
        assert_eq!(super::parse_seconds("10"), Some(std::time::Duration::from_secs(10)));
        assert_eq!(super::parse_seconds("0.25"), Some(std::time::Duration::from_millis(250)));
        assert_eq!(super::parse_seconds("-1"), None);
        assert_eq!(super::parse_seconds("NaN"), None);
        assert_eq!(super::parse_seconds("1e99"), None);
    }
}
