//! Time helpers: OpenPGP timestamps are whole seconds since the Unix epoch (u32).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pgp::types::Timestamp;

pub(crate) fn to_system(ts: Timestamp) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::from(ts.as_secs()))
}

/// Key expiration: `key created + validity period`; `None` or a zero period means "never".
pub(crate) fn expiry(
    created: Timestamp,
    period: Option<pgp::types::Duration>,
) -> Option<SystemTime> {
    match period {
        Some(p) if p.as_secs() > 0 => {
            Some(to_system(created) + Duration::from_secs(u64::from(p.as_secs())))
        }
        _ => None,
    }
}

/// `2026-01-31 12:00:00 UTC` (days-to-civil conversion, proleptic Gregorian calendar).
pub(crate) fn format_utc(t: SystemTime) -> String {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Year, month, day of the `days`-th day after 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Shift the epoch to 0000-03-01 so leap days fall at the end of a "year".
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> String {
        format_utc(UNIX_EPOCH + Duration::from_secs(secs))
    }

    #[test]
    fn formats_known_dates() {
        assert_eq!(at(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(at(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(at(1_577_836_800), "2020-01-01 00:00:00 UTC");
        assert_eq!(at(4_102_444_799), "2099-12-31 23:59:59 UTC");
    }

    #[test]
    fn zero_period_never_expires() {
        let c = Timestamp::from_secs(100);
        assert_eq!(expiry(c, None), None);
        assert_eq!(expiry(c, Some(pgp::types::Duration::from_secs(0))), None);
        assert_eq!(
            expiry(c, Some(pgp::types::Duration::from_secs(5))),
            Some(UNIX_EPOCH + Duration::from_secs(105))
        );
    }
}
