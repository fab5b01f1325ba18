//! The calendar quotas and usage records count days by: UTC from the system
//! clock, read by the reconciler once per tick and never per request.
//!
//! A test that must see a quota period end (or must not, whatever the hour)
//! starts the calendar at an instant of its choosing with the
//! `PORTICO_TEST_CLOCK` environment variable; the calendar then runs at the
//! real speed from there. Only the quota and usage calendar moves: workers
//! keep the system clock (Date headers, access logs, JWT expiry, TLS), and
//! the end of a quota period is handed to them in system seconds. A server
//! started that way says so in its log at every start, as a warning, so
//! the variable cannot be left in a production environment unnoticed.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use super::quota::day_of;

/// The variable that starts the quota calendar at a chosen instant (RFC 3339).
pub const TEST_CLOCK_ENV: &str = "PORTICO_TEST_CLOCK";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Calendar {
    /// Calendar time minus system time: zero unless a test moved it.
    offset: TimeDelta,
}

#[derive(Debug, thiserror::Error)]
#[error("{TEST_CLOCK_ENV}={value:?} is not an RFC 3339 time such as 2026-11-25T23:59:55Z")]
pub struct CalendarError {
    value: String,
}

impl Calendar {
    /// The system clock's UTC calendar.
    pub const SYSTEM: Calendar = Calendar {
        offset: TimeDelta::zero(),
    };

    /// The system calendar, or the test calendar `PORTICO_TEST_CLOCK` asks
    /// for (logged as a warning).
    pub fn from_env() -> Result<Calendar, CalendarError> {
        let Some(value) = std::env::var_os(TEST_CLOCK_ENV) else {
            return Ok(Calendar::SYSTEM);
        };
        let value = value.to_string_lossy();
        let calendar = Calendar::starting_at(&value, Utc::now())?;
        crate::log!(
            warn,
            "{TEST_CLOCK_ENV} is set: quotas and usage count days as if it were {value} now \
             (for tests only; unset it in production)"
        );
        Ok(calendar)
    }

    /// A calendar that reads `value` (RFC 3339) when the system clock reads `now`.
    pub fn starting_at(value: &str, now: DateTime<Utc>) -> Result<Calendar, CalendarError> {
        let start = DateTime::parse_from_rfc3339(value.trim()).map_err(|_| CalendarError {
            value: value.to_string(),
        })?;
        Ok(Calendar {
            offset: start.with_timezone(&Utc) - now,
        })
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset
    }

    /// The UTC day quotas and usage are counted on now.
    pub fn today(&self) -> NaiveDate {
        day_of(self.now())
    }

    /// The system clock's Unix seconds when the calendar reads `secs`:
    /// what a worker compares with its own clock (for `Retry-After`).
    pub fn system_secs(&self, secs: i64) -> i64 {
        secs - self.offset.num_seconds()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_test_calendar_starts_at_its_instant_and_runs_at_real_speed() {
        let system_now = at("2030-06-01T08:00:00Z");
        let c = Calendar::starting_at("2026-11-25T23:59:58Z", system_now).unwrap();
        // Two seconds later on the system clock, the calendar is past midnight.
        let later = system_now + TimeDelta::seconds(2);
        assert_eq!(day_of(later + c.offset), "2026-11-26".parse().unwrap());
        // Its midnight, in the workers' system seconds, is two seconds on.
        let midnight = at("2026-11-26T00:00:00Z").timestamp();
        assert_eq!(c.system_secs(midnight), later.timestamp());
    }

    #[test]
    fn the_system_calendar_is_the_system_clock() {
        assert_eq!(Calendar::SYSTEM.system_secs(1_800_000_000), 1_800_000_000);
        assert_eq!(Calendar::SYSTEM.today(), day_of(Utc::now()));
    }

    #[test]
    fn a_value_that_is_no_time_is_refused_with_the_variable_named() {
        let e = Calendar::starting_at("tomorrow", Utc::now()).unwrap_err();
        assert!(
            e.to_string().contains("PORTICO_TEST_CLOCK=\"tomorrow\""),
            "{e}"
        );
    }
}
