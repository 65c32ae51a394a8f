//! The retry policy (pure): when a service fails to start or dies, may it be restarted, and after
//! how long? The design's policy — 3 attempts with a growing pause — combined with OpenRC's
//! respawn variables:
//!
//! - enabled by conf.d/script `respawn=yes` or `retry_attempts=N` (N > 0);
//! - attempts: `retry_attempts`, else `respawn_max` (0 = unlimited, as in OpenRC), else 3;
//! - attempts are counted within `respawn_period` seconds when set, else since the service was
//!   started on purpose — so a crash loop is bounded;
//! - pause before restart k (k = restarts already made in the window): `base * 2^k`, capped at
//!   `max_delay`; base = `retry_backoff` (e.g. `250ms`, `2s`, `1.5`), else `respawn_delay`, else 1 s.
//!
//! With `supervisor=supervise-daemon`, supervise-daemon restarts the daemon itself (with
//! respawn_delay/respawn_max/respawn_period); the holder's policy is then off unless `respawn=yes`.

use std::time::Duration;

use crate::error::SvcError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    pub enabled: bool,
    pub attempts: u32,
    pub period: Option<Duration>,
    pub base: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            enabled: false,
            attempts: 3,
            period: None,
            base: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
        }
    }
}

pub fn yesno(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Some(true),
        "no" | "false" | "off" | "0" | "" => Some(false),
        _ => None,
    }
}

/// "250ms", "2s", "1.5" (seconds), "3m".
pub fn parse_duration(v: &str) -> Option<Duration> {
    let v = v.trim();
    let (num, scale_ms) = if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = v.strip_suffix('m') {
        (n, 60_000.0)
    } else {
        (v, 1000.0)
    };
    let x: f64 = num.trim().parse().ok()?;
    (x.is_finite() && x >= 0.0).then(|| Duration::from_micros((x * scale_ms * 1000.0) as u64))
}

impl RetryPolicy {
    pub fn from_vars(service: &str, get: &dyn Fn(&str) -> Option<String>) -> Result<Self, SvcError> {
        let bad = |key: &str, value: &str, fix: &str| SvcError::BadVar {
            service: service.to_string(),
            key: key.to_string(),
            value: value.to_string(),
            fix: fix.to_string(),
        };
        let set = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let mut p = RetryPolicy::default();
        if let Some(v) = set("respawn") {
            p.enabled = yesno(&v).ok_or_else(|| bad("respawn", &v, "use yes or no"))?;
        }
        let count = |key: &str| -> Result<Option<u32>, SvcError> {
            match set(key) {
                None => Ok(None),
                Some(v) => v.trim().parse().map(Some).map_err(|_| bad(key, &v, "use a whole number, e.g. 3")),
            }
        };
        let dur = |key: &str| -> Result<Option<Duration>, SvcError> {
            match set(key) {
                None => Ok(None),
                Some(v) => parse_duration(&v).map(Some).ok_or_else(|| bad(key, &v, "use seconds (2, 1.5) or 250ms/2s/1m")),
            }
        };
        if let Some(n) = count("retry_attempts")? {
            p.enabled = n > 0;
            p.attempts = n;
        } else if let Some(n) = count("respawn_max")? {
            p.attempts = if n == 0 { u32::MAX } else { n };
        }
        if let Some(d) = dur("retry_backoff")?.or(dur("respawn_delay")?) {
            p.base = d;
        }
        p.period = dur("respawn_period")?.filter(|d| !d.is_zero());
        Ok(p)
    }

    /// `history_ms`: times (ms, any monotonic origin) of the restarts already made since the
    /// service was started on purpose; `now_ms` on the same clock. `Some(pause)` when another
    /// restart is allowed.
    pub fn next_delay(&self, history_ms: &[u64], now_ms: u64) -> Option<Duration> {
        if !self.enabled {
            return None;
        }
        let in_window = match self.period {
            Some(p) => history_ms.iter().filter(|t| now_ms.saturating_sub(**t) < p.as_millis() as u64).count(),
            None => history_ms.len(),
        } as u32;
        if in_window >= self.attempts {
            return None;
        }
        let factor = 1u32.checked_shl(in_window.min(20)).unwrap_or(u32::MAX);
        Some(self.base.saturating_mul(factor).min(self.max_delay))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn policy(pairs: &[(&str, &str)]) -> Result<RetryPolicy, SvcError> {
        let m: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        RetryPolicy::from_vars("svc", &|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_off_three_attempts() {
        let p = policy(&[]).unwrap();
        assert!(!p.enabled);
        assert_eq!(p.next_delay(&[], 0), None);
        let p = policy(&[("respawn", "yes")]).unwrap();
        assert_eq!(p.attempts, 3);
        assert_eq!(p.next_delay(&[], 0), Some(Duration::from_secs(1)));
        assert_eq!(p.next_delay(&[0], 0), Some(Duration::from_secs(2)));
        assert_eq!(p.next_delay(&[0, 0], 0), Some(Duration::from_secs(4)));
        assert_eq!(p.next_delay(&[0, 0, 0], 0), None);
    }

    #[test]
    fn respawn_vars_and_period() {
        let p = policy(&[("respawn", "yes"), ("respawn_max", "2"), ("respawn_delay", "250ms"), ("respawn_period", "10")]).unwrap();
        assert_eq!(p.base, Duration::from_millis(250));
        assert_eq!(p.next_delay(&[0, 1000], 2000), None);
        // Old restarts fall out of the window.
        assert_eq!(p.next_delay(&[0, 1000], 10_500), Some(Duration::from_millis(500)));
        let p = policy(&[("retry_attempts", "5"), ("retry_backoff", "2ms")]).unwrap();
        assert!(p.enabled);
        assert_eq!(p.next_delay(&[1, 2, 3, 4], 5), Some(Duration::from_millis(32)));
        assert!(!policy(&[("retry_attempts", "0")]).unwrap().enabled);
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = policy(&[("retry_attempts", "many")]).unwrap_err().to_string();
        assert!(e.contains("retry_attempts") && e.contains("many"), "{e}");
        assert!(policy(&[("respawn", "maybe")]).is_err());
        assert_eq!(parse_duration("1.5"), Some(Duration::from_millis(1500)));
    }
}
