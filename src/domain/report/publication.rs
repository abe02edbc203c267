//! When a yearly report may and must be published (Regulation art. 49–50; domain.md §9).
//!
//! A report describes a calendar year: it can be published only once that year is over where
//! the agency is. Departments of a people's government publish by 31 January of the next year;
//! a county-level or higher people's government publishes its overall report by 31 March.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// Which deadline of art. 49 applies to an agency's yearly report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// 政府部门: by 31 January of the next year.
    #[default]
    Department,
    /// 县级以上人民政府 (the government's overall report): by 31 March of the next year.
    Government,
}

impl ReportKind {
    pub const ALL: [ReportKind; 2] = [ReportKind::Department, ReportKind::Government];

    pub fn code(self) -> &'static str {
        match self {
            ReportKind::Department => "department",
            ReportKind::Government => "government",
        }
    }

    pub fn parse(s: &str) -> Option<ReportKind> {
        ReportKind::ALL.into_iter().find(|k| k.code() == s)
    }
}

/// Whether `year` is over on `today` (both in the agency's time zone).
pub fn year_is_over(year: i32, today: NaiveDate) -> bool {
    today.year() > year
}

/// The last day to publish the report of `year` (art. 49).
pub fn deadline(year: i32, kind: ReportKind) -> NaiveDate {
    let (month, day) = match kind {
        ReportKind::Department => (1, 31),
        ReportKind::Government => (3, 31),
    };
    NaiveDate::from_ymd_opt(year + 1, month, day).unwrap_or(NaiveDate::MAX)
}

/// Calendar days from `today` to the deadline: positive while time is left, negative once it
/// has passed (the deadline day itself is 0).
pub fn days_left(today: NaiveDate, deadline: NaiveDate) -> i64 {
    (deadline - today).num_days()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    #[test]
    fn a_year_is_over_only_from_1_january_of_the_next() {
        assert!(!year_is_over(2026, d("2026-12-31")));
        assert!(year_is_over(2026, d("2027-01-01")));
        assert!(!year_is_over(2026, d("2026-11-29")));
    }

    #[test]
    fn departments_publish_by_31_january_and_governments_by_31_march() {
        assert_eq!(deadline(2026, ReportKind::Department), d("2027-01-31"));
        assert_eq!(deadline(2026, ReportKind::Government), d("2027-03-31"));
        // 2028 is a leap year: the deadline does not move.
        assert_eq!(deadline(2027, ReportKind::Government), d("2028-03-31"));
        assert_eq!(days_left(d("2027-01-31"), d("2027-01-31")), 0);
        assert_eq!(days_left(d("2027-02-01"), d("2027-01-31")), -1);
        assert_eq!(days_left(d("2027-01-01"), d("2027-01-31")), 30);
    }
}
