//! The one clock of the service: every "now" and "today" of `app`, `http`, `auth` and `db` is
//! read from the [`Clock`] in the application state, never from the system directly (the
//! domain reads no clock at all; it is handed dates).
//!
//! Two kinds:
//! - **system**: now is the system's time (production, always);
//! - **pinned** (setting `clock.today`, refused in production): an *offset* clock. Now is the
//!   system's time plus a fixed offset, so time still advances (token expiry, throttles, the
//!   webhook dispatcher's leases and backoff all need a moving now), while the date is the
//!   configured one. The offset is chosen so that the first pinned clock built in a process
//!   starts at **noon** of the configured date in the agency's time zone: the date stays the
//!   configured one for twelve hours, so a test run never sees the date change under it. All
//!   pinned clocks of one process share that starting point, so two applications started in
//!   one process (tests do) agree on the time. Another process joins that clock with
//!   `clock.anchor` (the instant that is noon), so that leases and expiries compared across
//!   processes agree as they do on system clocks.

use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

/// The clock of one application: the system's, or the system's shifted by a fixed offset.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    tz: Tz,
    offset: TimeDelta,
    pinned: Option<NaiveDate>,
}

/// The system time when this process built its first pinned clock: the instant that becomes
/// noon of the pinned date.
static PINNED_ANCHOR: OnceLock<DateTime<Utc>> = OnceLock::new();

impl Clock {
    /// The system's clock; dates are read in `tz`.
    pub fn system(tz: Tz) -> Self {
        Clock {
            tz,
            offset: TimeDelta::zero(),
            pinned: None,
        }
    }

    /// A clock whose date (in `tz`) is `today` when it starts, and which then advances in step
    /// with the system's (see the module documentation).
    pub fn pinned(today: NaiveDate, tz: Tz) -> Self {
        let anchor = *PINNED_ANCHOR.get_or_init(Utc::now);
        Self::pinned_at(today, tz, anchor)
    }

    /// Like [`pinned`](Self::pinned), with the system instant that becomes noon of `today`.
    fn pinned_at(today: NaiveDate, tz: Tz, anchor: DateTime<Utc>) -> Self {
        let start = noon(today, tz);
        Clock {
            tz,
            offset: start - anchor,
            pinned: Some(today),
        }
    }

    /// The clock the settings ask for: pinned when `clock.today` is set.
    pub fn from_settings(
        settings: &crate::config::Settings,
    ) -> Result<Self, crate::config::ConfigError> {
        let tz = settings.timezone()?;
        let anchor = settings.clock.pinned_anchor()?;
        Ok(match (settings.clock.pinned_today()?, anchor) {
            (Some(day), Some(anchor)) => Clock::pinned_at(day, tz, anchor),
            (Some(day), None) => Clock::pinned(day, tz),
            (None, _) => Clock::system(tz),
        })
    }

    /// The system instant that is noon of the pinned date (`clock.anchor` for another process
    /// that must run the same clock); `None` for the system's clock.
    pub fn anchor(&self) -> Option<DateTime<Utc>> {
        self.pinned.map(|day| noon(day, self.tz) - self.offset)
    }

    /// The current instant.
    pub fn now(&self) -> DateTime<Utc> {
        self.at(Utc::now())
    }

    /// The clock's reading when the system reads `system`.
    fn at(&self, system: DateTime<Utc>) -> DateTime<Utc> {
        system + self.offset
    }

    /// Today's date where the agency is.
    pub fn today(&self) -> NaiveDate {
        self.now().with_timezone(&self.tz).date_naive()
    }

    /// The current instant as stored: UTC, whole microseconds (both databases keep the same).
    pub fn now_micros(&self) -> NaiveDateTime {
        crate::db::truncate_micros(self.now().naive_utc())
    }

    /// The current instant in whole seconds since 1970 (token claims, signatures, windows).
    pub fn unix(&self) -> i64 {
        self.now().timestamp()
    }

    /// The agency's time zone.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The configured date of a pinned clock (the date it started on); `None` for the
    /// system's clock.
    pub fn pinned_date(&self) -> Option<NaiveDate> {
        self.pinned
    }
}

/// Noon of `day` in `tz`. Noon exists in every time zone (transitions happen at night); UTC
/// noon rather than a failure if one ever lacks it.
fn noon(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let noon = day.and_time(NaiveTime::from_hms_opt(12, 0, 0).unwrap_or(NaiveTime::MIN));
    tz.from_local_datetime(&noon)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| noon.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_joined_by_its_anchor_reads_the_same_time() {
        let tz: Tz = "Asia/Shanghai".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 12, 15).unwrap();
        // Started two minutes apart, each on its own anchor: two minutes apart.
        let first = Clock::pinned_at(day, tz, Utc::now() - TimeDelta::seconds(120));
        let own = Clock::pinned_at(day, tz, Utc::now());
        assert!((first.now() - own.now()).num_seconds() >= 119);
        // Joined by the first one's anchor: the same time.
        let anchor = first.anchor().unwrap();
        let joined = Clock::pinned_at(day, tz, anchor);
        assert!((first.now() - joined.now()).num_milliseconds().abs() < 50);
        assert_eq!(joined.anchor(), Some(anchor));
        assert_eq!(Clock::system(tz).anchor(), None);
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn a_pinned_clock_reads_the_pinned_date_in_the_agency_time_zone() {
        let tz: Tz = chrono_tz::Asia::Shanghai;
        // Whatever the system time of day: 00:30 and 23:30 in Shanghai, and 23:30 UTC (already
        // the next day in Shanghai).
        for anchor in [
            "2026-11-28T16:30:00Z",
            "2026-11-29T15:30:00Z",
            "2026-11-29T23:30:00Z",
        ] {
            let anchor: DateTime<Utc> = anchor.parse().unwrap_or_else(|e| panic!("{e}"));
            for day in [
                "2026-12-01",
                "2027-02-01",
                "2028-02-29",
                "2030-06-30",
                "2030-12-31",
            ] {
                let c = Clock::pinned_at(d(day), tz, anchor);
                let start = c.at(anchor);
                assert_eq!(
                    start.with_timezone(&tz).date_naive(),
                    d(day),
                    "{anchor} {day}"
                );
                assert_eq!(
                    start.with_timezone(&tz).time(),
                    NaiveTime::from_hms_opt(12, 0, 0).unwrap_or(NaiveTime::MIN),
                    "starts at noon there"
                );
                // Still that date eleven hours later, the next day thirteen hours later.
                let later = c.at(anchor + TimeDelta::hours(11));
                assert_eq!(later.with_timezone(&tz).date_naive(), d(day));
                let next = c.at(anchor + TimeDelta::hours(13));
                assert_eq!(
                    next.with_timezone(&tz).date_naive(),
                    d(day).succ_opt().unwrap_or(d(day))
                );
            }
        }
        // Through the public constructor too.
        let c = Clock::pinned(d("2030-06-30"), tz);
        assert_eq!(c.today(), d("2030-06-30"));
        assert_eq!(c.pinned_date(), Some(d("2030-06-30")));
    }

    #[test]
    fn the_date_follows_the_agency_time_zone_not_utc() {
        // Noon in Shanghai is 04:00 UTC; in Honolulu, 22:00 UTC.
        let anchor: DateTime<Utc> = "2026-11-29T10:00:00Z"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let honolulu = Clock::pinned_at(d("2027-02-01"), chrono_tz::Pacific::Honolulu, anchor);
        assert_eq!(
            honolulu.at(anchor).naive_utc().to_string(),
            "2027-02-01 22:00:00"
        );
        let shanghai = Clock::pinned_at(d("2027-02-01"), chrono_tz::Asia::Shanghai, anchor);
        assert_eq!(
            shanghai.at(anchor).naive_utc().to_string(),
            "2027-02-01 04:00:00"
        );
    }

    #[test]
    fn time_still_advances_on_a_pinned_clock() {
        let c = Clock::pinned(d("2027-02-01"), chrono_tz::Asia::Shanghai);
        let a = c.now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let b = c.now();
        assert!(b - a >= TimeDelta::milliseconds(20), "{a} then {b}");
        assert!(b - a < TimeDelta::seconds(60), "{a} then {b}");
        // Two pinned clocks of one process agree.
        let other = Clock::pinned(d("2027-02-01"), chrono_tz::Asia::Shanghai);
        assert!((other.now() - c.now()).abs() < TimeDelta::seconds(1));
    }

    #[test]
    fn the_system_clock_is_the_system_time() {
        let c = Clock::system(chrono_tz::Asia::Shanghai);
        let before = Utc::now();
        let now = c.now();
        assert!(now >= before && now - before < TimeDelta::seconds(5));
        assert_eq!(c.pinned_date(), None);
        assert_eq!(c.now_micros().and_utc().timestamp_subsec_nanos() % 1000, 0);
    }

    #[test]
    fn only_the_clock_reads_the_system_time() {
        // Every wall-clock read of the service goes through `Clock`; `Instant` (durations) is
        // fine. Comments are not code.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut checked = 0;
        for entry in walkdir::WalkDir::new(&root) {
            let entry = entry.unwrap_or_else(|e| panic!("{e}"));
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "rs")
                || path.ends_with("clock.rs") && path.parent() == Some(root.as_path())
            {
                continue;
            }
            let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{e}"));
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for banned in [
                    "Utc::now",
                    "Local::now",
                    "SystemTime",
                    "get_current_timestamp",
                ] {
                    assert!(
                        !code.contains(banned),
                        "{}:{} reads the system clock ({banned}); use the application's Clock",
                        path.display(),
                        n + 1
                    );
                }
            }
            checked += 1;
        }
        assert!(checked > 20, "found the sources");
    }
}
