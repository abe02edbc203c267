//! The working-day calendar (工作日历).
//!
//! Every statutory period of the Regulation is counted in working days (工作日): Monday to
//! Friday, except public holidays (法定节假日), plus the weekend days that a State Council
//! notice declares working days (调休上班). The State Council publishes the schedule of each
//! year in a notice (国务院办公厅关于某年部分节假日安排的通知), usually in November or December
//! of the year before, and has amended notices already in force (2019 Labour Day, 2020 Spring
//! Festival). The schedules are therefore data loaded by an administrator, never code.
//!
//! [`Calendar`] precomputes, once, an index over the whole supported range
//! ([`SUPPORTED_START`]..=[`SUPPORTED_END`]): a prefix count of working days, the ordered list
//! of working days and a prefix count of days that no loaded notice governs. Every query is
//! then O(1) (or O(log n) for [`Calendar::first_uncovered`]): deadlines are computed for every
//! open application whenever a list is rendered, so they must never walk day by day.
//!
//! A date whose year has no loaded notice is counted with weekends only and reported as not
//! *covered*; results that rely on such a date are *provisional* (domain §4, §10).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// First notice year that can be loaded: the notice for 1950 may list December 1949 dates,
/// which the index keeps as a one-month margin before [`SUPPORTED_START`].
pub const MIN_NOTICE_YEAR: i32 = 1950;
/// Last notice year that can be loaded.
pub const MAX_NOTICE_YEAR: i32 = 2199;
/// Longest holiday range a notice may declare, in calendar days. The longest real one is the
/// amended 2020 Spring Festival (10 days); anything past 15 is almost certainly a typo.
pub const MAX_HOLIDAY_RANGE_DAYS: i64 = 15;
/// Longest holiday name accepted, in characters.
pub const MAX_HOLIDAY_NAME_CHARS: usize = 50;

/// First date that queries accept.
pub const SUPPORTED_START: NaiveDate = ymd(MIN_NOTICE_YEAR, 1, 1);
/// Last date that queries accept; no result is ever later.
pub const SUPPORTED_END: NaiveDate = ymd(MAX_NOTICE_YEAR, 12, 31);
/// First date held by the index: one month before [`SUPPORTED_START`], so that the late
/// December dates of the earliest loadable notice have somewhere to live.
const INDEX_START: NaiveDate = ymd(MIN_NOTICE_YEAR - 1, 12, 1);

/// Builds a constant date; the arguments are literals checked at compile time.
const fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(year, month, day) {
        Some(date) => date,
        None => panic!("invalid constant date"),
    }
}

/// Why a calendar query could not be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The date lies outside [`SUPPORTED_START`]..=[`SUPPORTED_END`].
    #[error("date {date} is outside the supported calendar range 1950-01-01..=2199-12-31")]
    OutOfRange {
        /// The offending date.
        date: NaiveDate,
    },
    /// The year lies outside [`MIN_NOTICE_YEAR`]..=[`MAX_NOTICE_YEAR`].
    #[error("year {year} is outside the supported calendar range 1950..=2199")]
    YearOutOfRange {
        /// The offending year.
        year: i32,
    },
    /// A range query whose start is after its end.
    #[error("reversed date range: {from} is after {to}")]
    ReversedRange {
        /// Start of the range (exclusive).
        from: NaiveDate,
        /// End of the range (inclusive).
        to: NaiveDate,
    },
    /// Adding working days would go past [`SUPPORTED_END`].
    #[error(
        "{working_days} working days after {from} fall beyond the supported calendar range (last date 2199-12-31)"
    )]
    ResultOutOfRange {
        /// The date counted from.
        from: NaiveDate,
        /// The number of working days added.
        working_days: u32,
    },
}

impl CalendarError {
    /// The explanation in both languages, for a field message.
    pub fn text(&self) -> crate::domain::text::Text {
        match *self {
            CalendarError::OutOfRange { date } => crate::text!(
                "日期 {date} 超出日历支持的范围（1950-01-01 至 2199-12-31）",
                "date {date} is outside the supported calendar range 1950-01-01..=2199-12-31"
            ),
            CalendarError::YearOutOfRange { year } => crate::text!(
                "年份 {year} 超出日历支持的范围（1950 至 2199）",
                "year {year} is outside the supported calendar range 1950..=2199"
            ),
            CalendarError::ReversedRange { from, to } => crate::text!(
                "日期区间颠倒：{from} 晚于 {to}",
                "reversed date range: {from} is after {to}"
            ),
            CalendarError::ResultOutOfRange { from, working_days } => crate::text!(
                "{from} 之后 {working_days} 个工作日超出日历支持的范围（最后一日为 2199-12-31）",
                "{working_days} working days after {from} fall beyond the supported calendar range (last date 2199-12-31)"
            ),
        }
    }
}

/// One holiday range of a notice (放假), both ends included; it includes the weekend days
/// inside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolidayRange {
    /// The holiday's name as the notice gives it, e.g. 春节.
    pub name: String,
    /// First day off.
    pub start: NaiveDate,
    /// Last day off.
    pub end: NaiveDate,
}

/// The schedule of one State Council notice for `year`: its holiday ranges and its adjusted
/// working days (调休上班日, weekend days declared working days).
///
/// A notice for year Y may list dates of late December of Y−1 (2019: 2018-12-29/30; 2023:
/// 2022-12-31).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YearSchedule {
    /// The year the notice is for.
    pub year: i32,
    /// Holiday ranges, sorted by start, not overlapping.
    pub holidays: Vec<HolidayRange>,
    /// Weekend days declared working days (调休上班).
    pub workdays: Vec<NaiveDate>,
}

/// One rule of [`YearSchedule::validate`] that a schedule breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleViolation {
    /// Path of the offending value, e.g. `holidays[2].end` or `workdays[0]`.
    pub field: String,
    /// Stable machine code, e.g. `range_reversed`.
    pub code: &'static str,
    /// Human-readable explanation, in both languages.
    pub message: crate::domain::text::Text,
}

impl ScheduleViolation {
    fn new(field: String, code: &'static str, message: crate::domain::text::Text) -> Self {
        Self {
            field,
            code,
            message,
        }
    }
}

impl YearSchedule {
    /// First date a notice for `self.year` may govern: 1 December of the previous year.
    fn notice_start(&self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.year - 1, 12, 1)
    }

    /// Last date a notice for `self.year` may govern: 31 December of that year.
    fn notice_end(&self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.year, 12, 31)
    }

    /// Checks the schedule before it is loaded, reporting every violation (not just the first)
    /// so that an administrator can fix a hand-edited notice in one go.
    ///
    /// Codes: `year_out_of_range`, `date_outside_notice`, `range_reversed`, `range_too_long`,
    /// `ranges_unordered`, `ranges_overlap`, `name_required`, `name_too_long`,
    /// `workday_not_weekend`, `duplicate_workday`, `date_both_holiday_and_workday`.
    pub fn validate(&self) -> Result<(), Vec<ScheduleViolation>> {
        let mut out = Vec::new();
        let year_ok = (MIN_NOTICE_YEAR..=MAX_NOTICE_YEAR).contains(&self.year);
        if !year_ok {
            out.push(ScheduleViolation::new(
                "year".into(),
                "year_out_of_range",
                crate::text!(
                    "年份 {} 超出支持的范围（{MIN_NOTICE_YEAR} 至 {MAX_NOTICE_YEAR}）",
                    "year {} is outside the supported range {MIN_NOTICE_YEAR}..={MAX_NOTICE_YEAR}",
                    self.year
                ),
            ));
        }
        // With a valid year both bounds exist; otherwise the date checks are meaningless.
        let bounds = match (year_ok, self.notice_start(), self.notice_end()) {
            (true, Some(first), Some(last)) => Some((first, last)),
            _ => None,
        };
        let outside = |date: NaiveDate| bounds.is_some_and(|(a, b)| date < a || date > b);
        let outside_message = |date: NaiveDate| {
            crate::text!(
                "{date} 不属于 {0} 年的通知：其日期自 {1}-12-01 至 {0}-12-31",
                "{date} does not belong to the notice for {0}: its dates run from {1}-12-01 to {0}-12-31",
                self.year,
                self.year - 1
            )
        };

        for (i, h) in self.holidays.iter().enumerate() {
            let name = h.name.trim();
            if name.is_empty() {
                out.push(ScheduleViolation::new(
                    format!("holidays[{i}].name"),
                    "name_required",
                    crate::text!(
                        "假期区间须填写通知中的名称",
                        "a holiday range needs the name the notice gives it"
                    ),
                ));
            } else if name.chars().count() > MAX_HOLIDAY_NAME_CHARS {
                out.push(ScheduleViolation::new(
                    format!("holidays[{i}].name"),
                    "name_too_long",
                    crate::text!(
                        "假期名称不得超过 {MAX_HOLIDAY_NAME_CHARS} 个字符",
                        "a holiday name has at most {MAX_HOLIDAY_NAME_CHARS} characters"
                    ),
                ));
            }
            for (part, date) in [("start", h.start), ("end", h.end)] {
                if outside(date) {
                    out.push(ScheduleViolation::new(
                        format!("holidays[{i}].{part}"),
                        "date_outside_notice",
                        outside_message(date),
                    ));
                }
            }
            if h.start > h.end {
                out.push(ScheduleViolation::new(
                    format!("holidays[{i}].end"),
                    "range_reversed",
                    crate::text!(
                        "区间的结束日期（{}）早于开始日期（{}）",
                        "the range ends ({}) before it starts ({})",
                        h.end,
                        h.start
                    ),
                ));
            } else {
                let days = (h.end - h.start).num_days() + 1;
                if days > MAX_HOLIDAY_RANGE_DAYS {
                    out.push(ScheduleViolation::new(
                        format!("holidays[{i}].end"),
                        "range_too_long",
                        crate::text!(
                            "该区间共 {days} 天；假期区间最长 {MAX_HOLIDAY_RANGE_DAYS} 天",
                            "the range lasts {days} days; a holiday range lasts at most {MAX_HOLIDAY_RANGE_DAYS}"
                        ),
                    ));
                }
            }
            if i > 0 {
                let prev = &self.holidays[i - 1];
                if h.start < prev.start {
                    out.push(ScheduleViolation::new(
                        format!("holidays[{i}].start"),
                        "ranges_unordered",
                        crate::text!(
                            "假期区间须按开始日期排序：{} 排在 {} 之后",
                            "holiday ranges must be sorted by start: {} comes after {}",
                            h.start,
                            prev.start
                        ),
                    ));
                } else if prev.start <= prev.end && h.start <= prev.end {
                    out.push(ScheduleViolation::new(
                        format!("holidays[{i}].start"),
                        "ranges_overlap",
                        crate::text!(
                            "自 {} 开始的区间与前一区间（{} 至 {}）重叠",
                            "the range starting {} overlaps the previous one ({}..={})",
                            h.start,
                            prev.start,
                            prev.end
                        ),
                    ));
                }
            }
        }

        for (j, &date) in self.workdays.iter().enumerate() {
            let field = format!("workdays[{j}]");
            if outside(date) {
                out.push(ScheduleViolation::new(
                    field.clone(),
                    "date_outside_notice",
                    outside_message(date),
                ));
            }
            if !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
                out.push(ScheduleViolation::new(
                    field.clone(),
                    "workday_not_weekend",
                    crate::domain::text::Text::new(
                        format!(
                            "{date} 是星期{}；调休上班日须为星期六或星期日",
                            ["一", "二", "三", "四", "五", "六", "日"]
                                [date.weekday().num_days_from_monday() as usize]
                        ),
                        format!(
                            "{date} is a {}; an adjusted working day (调休上班) is a Saturday or Sunday",
                            date.weekday()
                        ),
                    ),
                ));
            }
            if self.workdays[..j].contains(&date) {
                out.push(ScheduleViolation::new(
                    field.clone(),
                    "duplicate_workday",
                    crate::text!("{date} 重复列出", "{date} is listed more than once"),
                ));
            }
            if let Some(h) = self
                .holidays
                .iter()
                .find(|h| h.start <= date && date <= h.end)
            {
                out.push(ScheduleViolation::new(
                    field,
                    "date_both_holiday_and_workday",
                    crate::text!(
                        "{date} 既是调休上班日，又在假期“{}”之内",
                        "{date} is both a working day and inside the holiday {}",
                        h.name
                    ),
                ));
            }
        }

        if out.is_empty() { Ok(()) } else { Err(out) }
    }
}

/// A date obtained by adding working days, with whether it relied on a date that no loaded
/// notice governs (then it may move when that year's notice is loaded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WorkingDate {
    /// The resulting date.
    pub date: NaiveDate,
    /// Some day it relied on lies in a year with no loaded notice.
    pub provisional: bool,
}

/// A count of working days, with whether it relied on a date that no loaded notice governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WorkingDayCount {
    /// Working days in the range.
    pub count: u32,
    /// Some day of the range lies in a year with no loaded notice.
    pub provisional: bool,
}

/// The working-day calendar built from the loaded notices. Cheap to clone and share between
/// threads: the index lives behind an [`Arc`].
#[derive(Clone)]
pub struct Calendar {
    inner: Arc<Index>,
}

/// The precomputed index; position `i` is the day `INDEX_START + i`.
struct Index {
    schedules: BTreeMap<i32, YearSchedule>,
    /// `num_days_from_ce` of [`INDEX_START`].
    base: i32,
    /// `working_before[i]` = working days among positions `< i`; one longer than the index.
    working_before: Vec<u32>,
    /// Every working day of the index, in order: the k-th working day is `working[k]`.
    working: Vec<NaiveDate>,
    /// `uncovered_before[i]` = uncovered days among positions `< i`; one longer than the index.
    uncovered_before: Vec<u32>,
}

/// How a loaded notice marks a date.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    Default,
    Holiday,
    Workday,
}

impl fmt::Debug for Calendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Calendar")
            .field("loaded_years", &self.loaded_years())
            .finish_non_exhaustive()
    }
}

impl Calendar {
    /// Builds the calendar from notices, assumed validated (see [`YearSchedule::validate`]);
    /// invalid ones do not panic, their impossible parts are ignored.
    ///
    /// When two schedules have the same year, the later one in the iterator wins (an amended
    /// notice replaces the original). Notices are applied in year order, so a date listed by
    /// the notice for Y+1 (late December of Y) is governed by that notice even when the notice
    /// for Y is loaded.
    pub fn new(schedules: impl IntoIterator<Item = YearSchedule>) -> Calendar {
        let mut by_year = BTreeMap::new();
        for schedule in schedules {
            by_year.insert(schedule.year, schedule);
        }
        Calendar {
            inner: Arc::new(Index::build(by_year)),
        }
    }

    /// A calendar with no notice: Monday to Friday are working days and every date is
    /// provisional.
    pub fn weekends_only() -> Calendar {
        Calendar::new(Vec::new())
    }

    /// Whether `date` is a working day (工作日).
    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        let i = self.inner.pos(date)?;
        Ok(self.inner.working_before[i + 1] > self.inner.working_before[i])
    }

    /// Whether a loaded notice governs `date`: the notice for its year is loaded, or some
    /// loaded notice lists it.
    pub fn is_covered(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        let i = self.inner.pos(date)?;
        Ok(self.inner.uncovered_before[i + 1] == self.inner.uncovered_before[i])
    }

    /// The `n`-th working day strictly after `from` — how the Regulation counts a period of n
    /// working days: the event day is day 0. `n = 0` gives `from` itself when it is a working
    /// day, else the next working day.
    pub fn add_working_days(&self, from: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        let i = self.inner.pos(from)?;
        self.inner.nth_working(i, from, n)
    }

    /// [`Calendar::add_working_days`], also telling whether any day it relied on — in
    /// `(from, result]`, or `[from, result]` for `n = 0` — is uncovered.
    pub fn add_working_days_checked(
        &self,
        from: NaiveDate,
        n: u32,
    ) -> Result<WorkingDate, CalendarError> {
        let i = self.inner.pos(from)?;
        let date = self.inner.nth_working(i, from, n)?;
        let j = self.inner.pos(date)?;
        let lo = if n == 0 { i } else { i + 1 };
        Ok(WorkingDate {
            date,
            provisional: self.inner.uncovered_between(lo, j + 1) > 0,
        })
    }

    /// Working days in `(a, b]`: the days a period running from event `a` has used by `b`.
    pub fn count_working_days(&self, a: NaiveDate, b: NaiveDate) -> Result<u32, CalendarError> {
        let (i, j) = self.inner.range(a, b)?;
        Ok(self.inner.working_before[j + 1] - self.inner.working_before[i + 1])
    }

    /// [`Calendar::count_working_days`], also telling whether any day of `(a, b]` is uncovered.
    pub fn count_checked(
        &self,
        a: NaiveDate,
        b: NaiveDate,
    ) -> Result<WorkingDayCount, CalendarError> {
        let (i, j) = self.inner.range(a, b)?;
        Ok(WorkingDayCount {
            count: self.inner.working_before[j + 1] - self.inner.working_before[i + 1],
            provisional: self.inner.uncovered_between(i + 1, j + 1) > 0,
        })
    }

    /// Whether every date in `(a, b]` is covered by a loaded notice.
    pub fn all_covered(&self, a: NaiveDate, b: NaiveDate) -> Result<bool, CalendarError> {
        let (i, j) = self.inner.range(a, b)?;
        Ok(self.inner.uncovered_between(i + 1, j + 1) == 0)
    }

    /// The first date in `(a, b]` that no loaded notice covers, if any — to tell a reader
    /// which missing year made a result provisional. O(log n).
    pub fn first_uncovered(
        &self,
        a: NaiveDate,
        b: NaiveDate,
    ) -> Result<Option<NaiveDate>, CalendarError> {
        let (i, j) = self.inner.range(a, b)?;
        let ub = &self.inner.uncovered_before;
        let before = ub[i + 1];
        if ub[j + 1] == before {
            return Ok(None);
        }
        // The first position p in (i, j] with ub[p + 1] > before.
        let offset = ub[i + 2..=j + 1].partition_point(|&c| c == before);
        Ok(self.inner.date_at(i + 1 + offset))
    }

    /// Working days of each month of `year` (index 0 = January), for the administrator's
    /// check of a freshly loaded notice.
    pub fn working_days_per_month(&self, year: i32) -> Result<[u32; 12], CalendarError> {
        if !(MIN_NOTICE_YEAR..=MAX_NOTICE_YEAR).contains(&year) {
            return Err(CalendarError::YearOutOfRange { year });
        }
        let mut out = [0; 12];
        for (slot, month) in out.iter_mut().zip(1u32..) {
            let first = NaiveDate::from_ymd_opt(year, month, 1)
                .ok_or(CalendarError::YearOutOfRange { year })?;
            let next = if month == 12 {
                NaiveDate::from_ymd_opt(year + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(year, month + 1, 1)
            }
            .ok_or(CalendarError::YearOutOfRange { year })?;
            let i = self.inner.pos(first)?;
            let j = i + usize::try_from((next - first).num_days()).unwrap_or(0);
            *slot = self.inner.working_before[j] - self.inner.working_before[i];
        }
        Ok(out)
    }

    /// The years whose notice is loaded, ascending.
    pub fn loaded_years(&self) -> Vec<i32> {
        self.inner.schedules.keys().copied().collect()
    }

    /// The loaded notice for `year`.
    pub fn schedule(&self, year: i32) -> Option<&YearSchedule> {
        self.inner.schedules.get(&year)
    }

    /// Every loaded notice, by ascending year — e.g. to rebuild the calendar with one year
    /// replaced: `Calendar::new(cal.schedules().cloned().chain([amended]))`.
    pub fn schedules(&self) -> impl Iterator<Item = &YearSchedule> {
        self.inner.schedules.values()
    }
}

impl Index {
    fn build(schedules: BTreeMap<i32, YearSchedule>) -> Index {
        let base = INDEX_START.num_days_from_ce();
        let len = usize::try_from(SUPPORTED_END.num_days_from_ce() - base + 1).unwrap_or(0);
        let pos = |date: NaiveDate| usize::try_from(date.num_days_from_ce() - base).ok();

        let mut listed = vec![Mark::Default; len];
        let mut covered = vec![false; len];
        // Ascending years: a later notice overwrites what an earlier one said of a date.
        for schedule in schedules.values() {
            if let (Some(first), Some(last)) = (
                NaiveDate::from_ymd_opt(schedule.year, 1, 1),
                NaiveDate::from_ymd_opt(schedule.year, 12, 31),
            ) && let (Some(i), Some(j)) = (pos(first.max(INDEX_START)), pos(last))
            {
                for c in covered.iter_mut().take(j.min(len - 1) + 1).skip(i) {
                    *c = true;
                }
            }
            for h in &schedule.holidays {
                let start = h.start.max(INDEX_START);
                let end = h.end.min(SUPPORTED_END);
                if let (Some(i), Some(j)) = (pos(start), pos(end)) {
                    for k in i..=j.min(len - 1) {
                        listed[k] = Mark::Holiday;
                        covered[k] = true;
                    }
                }
            }
            for &w in &schedule.workdays {
                if let Some(k) = pos(w).filter(|&k| k < len) {
                    listed[k] = Mark::Workday;
                    covered[k] = true;
                }
            }
        }

        let mut working_before = Vec::with_capacity(len + 1);
        let mut uncovered_before = Vec::with_capacity(len + 1);
        let mut working = Vec::with_capacity(len * 5 / 7 + 16);
        let (mut w, mut u) = (0u32, 0u32);
        working_before.push(0);
        uncovered_before.push(0);
        for ((date, mark), cov) in INDEX_START.iter_days().zip(listed).zip(covered) {
            let weekday = date.weekday().num_days_from_monday() < 5;
            let is_working = match mark {
                Mark::Workday => true,
                Mark::Holiday => false,
                Mark::Default => weekday,
            };
            if is_working {
                working.push(date);
                w += 1;
            }
            if !cov {
                u += 1;
            }
            working_before.push(w);
            uncovered_before.push(u);
        }
        Index {
            schedules,
            base,
            working_before,
            working,
            uncovered_before,
        }
    }

    /// Index position of a date in the supported range.
    #[inline]
    fn pos(&self, date: NaiveDate) -> Result<usize, CalendarError> {
        if date < SUPPORTED_START || date > SUPPORTED_END {
            return Err(CalendarError::OutOfRange { date });
        }
        usize::try_from(date.num_days_from_ce() - self.base)
            .map_err(|_| CalendarError::OutOfRange { date })
    }

    /// Index positions of a range `(a, b]`, both ends in the supported range.
    #[inline]
    fn range(&self, a: NaiveDate, b: NaiveDate) -> Result<(usize, usize), CalendarError> {
        let i = self.pos(a)?;
        let j = self.pos(b)?;
        if i > j {
            return Err(CalendarError::ReversedRange { from: a, to: b });
        }
        Ok((i, j))
    }

    /// Uncovered days among positions `lo..hi`.
    #[inline]
    fn uncovered_between(&self, lo: usize, hi: usize) -> u32 {
        self.uncovered_before[hi] - self.uncovered_before[lo]
    }

    /// The date at index position `i`.
    fn date_at(&self, i: usize) -> Option<NaiveDate> {
        INDEX_START.checked_add_days(Days::new(u64::try_from(i).ok()?))
    }

    /// The `n`-th working day after position `i` (see [`Calendar::add_working_days`]).
    #[inline]
    fn nth_working(&self, i: usize, from: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        // Working days strictly before `from` (n = 0) or up to and including it (n ≥ 1).
        let k = if n == 0 {
            self.working_before[i] as usize
        } else {
            (self.working_before[i + 1] as usize).saturating_add(n as usize - 1)
        };
        self.working
            .get(k)
            .copied()
            .ok_or(CalendarError::ResultOutOfRange {
                from,
                working_days: n,
            })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::LazyLock;

    /// The notices shipped in `config/calendar/`, as text.
    pub(crate) const CONFIG: [&str; 8] = [
        include_str!("../../config/calendar/2019.toml"),
        include_str!("../../config/calendar/2020.toml"),
        include_str!("../../config/calendar/2021.toml"),
        include_str!("../../config/calendar/2022.toml"),
        include_str!("../../config/calendar/2023.toml"),
        include_str!("../../config/calendar/2024.toml"),
        include_str!("../../config/calendar/2025.toml"),
        include_str!("../../config/calendar/2026.toml"),
    ];

    pub(crate) fn real_schedules() -> Vec<YearSchedule> {
        CONFIG
            .iter()
            .map(|text| toml::from_str(text).unwrap())
            .collect()
    }

    static REAL: LazyLock<Calendar> = LazyLock::new(|| Calendar::new(real_schedules()));

    /// The calendar of 2019–2026 built from `config/calendar/`.
    pub(crate) fn real_calendar() -> &'static Calendar {
        &REAL
    }

    pub(crate) fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// The rule of domain §10 applied directly to schedules, later notices winning.
    fn naive_is_working(schedules: &[YearSchedule], date: NaiveDate) -> bool {
        let mut sorted: Vec<&YearSchedule> = schedules.iter().collect();
        sorted.sort_by_key(|s| s.year);
        let mut listed = None;
        for s in sorted {
            if s.holidays.iter().any(|h| h.start <= date && date <= h.end) {
                listed = Some(false);
            }
            if s.workdays.contains(&date) {
                listed = Some(true);
            }
        }
        listed.unwrap_or(date.weekday().num_days_from_monday() < 5)
    }

    fn naive_add(schedules: &[YearSchedule], from: NaiveDate, n: u32) -> NaiveDate {
        let mut date = from;
        if n == 0 {
            while !naive_is_working(schedules, date) {
                date = date.succ_opt().unwrap();
            }
            return date;
        }
        let mut left = n;
        while left > 0 {
            date = date.succ_opt().unwrap();
            if naive_is_working(schedules, date) {
                left -= 1;
            }
        }
        date
    }

    fn date_in(first: &str, last: &str) -> impl Strategy<Value = NaiveDate> {
        let first = d(first);
        let span = (d(last) - first).num_days();
        (0..=span).prop_map(move |o| first + chrono::Duration::days(o))
    }

    #[test]
    fn every_shipped_notice_passes_validation() {
        for s in real_schedules() {
            assert_eq!(s.validate(), Ok(()), "notice {}", s.year);
        }
    }

    #[test]
    fn shipped_notices_are_the_years_2019_to_2026() {
        assert_eq!(
            real_calendar().loaded_years(),
            (2019..=2026).collect::<Vec<_>>()
        );
        assert_eq!(real_calendar().schedule(2024).unwrap().workdays.len(), 8);
        assert!(real_calendar().schedule(2018).is_none());
    }

    #[test]
    fn every_date_of_2019_to_2026_follows_the_raw_notice_data() {
        // Read the files as raw TOML, not through YearSchedule, so a serde mistake shows.
        let mut holidays: Vec<(NaiveDate, NaiveDate)> = Vec::new();
        let mut workdays: Vec<NaiveDate> = Vec::new();
        for text in CONFIG {
            let value: toml::Value = toml::from_str(text).unwrap();
            for h in value["holidays"].as_array().unwrap() {
                holidays.push((
                    d(h["start"].as_str().unwrap()),
                    d(h["end"].as_str().unwrap()),
                ));
            }
            for w in value["workdays"].as_array().unwrap() {
                workdays.push(d(w.as_str().unwrap()));
            }
        }
        let cal = real_calendar();
        let mut date = d("2019-01-01");
        let mut checked = 0;
        while date <= d("2026-12-31") {
            let in_holiday = holidays.iter().any(|&(a, b)| a <= date && date <= b);
            let expected = (date.weekday().num_days_from_monday() < 5 && !in_holiday)
                || workdays.contains(&date);
            assert_eq!(cal.is_working_day(date).unwrap(), expected, "{date}");
            assert!(cal.is_covered(date).unwrap(), "{date}");
            date = date.succ_opt().unwrap();
            checked += 1;
        }
        assert_eq!(checked, 2922);
    }

    #[test]
    fn notice_dates_of_the_previous_december_are_covered_and_applied() {
        let cal = real_calendar();
        // 2019 notice: 2018-12-29 (Sat) worked, 2018-12-30/31 off; 2018-12-28 not listed.
        assert!(cal.is_working_day(d("2018-12-29")).unwrap());
        assert!(cal.is_covered(d("2018-12-29")).unwrap());
        assert!(!cal.is_working_day(d("2018-12-31")).unwrap());
        assert!(cal.is_covered(d("2018-12-31")).unwrap());
        assert!(cal.is_working_day(d("2018-12-28")).unwrap());
        assert!(!cal.is_covered(d("2018-12-28")).unwrap());
    }

    #[test]
    fn a_later_notice_governs_the_december_dates_it_lists() {
        // A hypothetical notice for 2024 that makes 2023-12-29 (Fri) a holiday wins over the
        // 2023 notice, which does not list it; the 2023 notice's other dates stay.
        let mut schedules = real_schedules();
        for s in &mut schedules {
            if s.year == 2024 {
                s.holidays.insert(
                    0,
                    HolidayRange {
                        name: "test".into(),
                        start: d("2023-12-29"),
                        end: d("2023-12-29"),
                    },
                );
            }
        }
        let cal = Calendar::new(schedules);
        assert!(!cal.is_working_day(d("2023-12-29")).unwrap());
        assert!(cal.is_working_day(d("2023-12-28")).unwrap());
    }

    #[test]
    fn the_later_of_two_schedules_for_one_year_replaces_the_earlier() {
        let original = original_2020();
        let amended = real_calendar().schedule(2020).unwrap().clone();
        let cal = Calendar::new([amended.clone(), original.clone()]);
        assert_eq!(cal.schedule(2020), Some(&original));
        let cal = Calendar::new([original, amended.clone()]);
        assert_eq!(cal.schedule(2020), Some(&amended));
    }

    /// The 2020 notice as first published: Spring Festival 24–30 January, working Sunday 19
    /// January and Saturday 1 February — before the extension to 2 February.
    pub(crate) fn original_2020() -> YearSchedule {
        let mut s = real_calendar().schedule(2020).unwrap().clone();
        s.holidays[1] = HolidayRange {
            name: "春节".into(),
            start: d("2020-01-24"),
            end: d("2020-01-30"),
        };
        s.workdays.insert(1, d("2020-02-01"));
        assert_eq!(s.validate(), Ok(()));
        s
    }

    #[test]
    fn the_2020_spring_festival_extension_removes_two_working_days() {
        let amended = real_calendar();
        let original = Calendar::new(real_schedules().into_iter().chain([original_2020()]));
        assert!(original.is_working_day(d("2020-01-31")).unwrap());
        assert!(original.is_working_day(d("2020-02-01")).unwrap());
        assert!(!amended.is_working_day(d("2020-01-31")).unwrap());
        assert!(!amended.is_working_day(d("2020-02-01")).unwrap());
        let (a, b) = (d("2020-01-01"), d("2020-02-29"));
        assert_eq!(
            original.count_working_days(a, b).unwrap(),
            amended.count_working_days(a, b).unwrap() + 2
        );
    }

    #[test]
    fn a_year_without_a_notice_counts_weekends_only_and_is_provisional() {
        let cal = real_calendar();
        // 2027-01-01 is a Friday: without a notice it is a working day.
        assert!(cal.is_working_day(d("2027-01-01")).unwrap());
        assert!(!cal.is_working_day(d("2027-01-02")).unwrap());
        assert!(!cal.is_covered(d("2027-01-01")).unwrap());
        assert_eq!(
            cal.count_working_days(d("2027-03-01"), d("2027-03-29"))
                .unwrap(),
            20
        );
        let r = cal.add_working_days_checked(d("2026-12-28"), 5).unwrap();
        assert_eq!(
            r,
            WorkingDate {
                date: d("2027-01-04"),
                provisional: true
            }
        );
        let r = cal.add_working_days_checked(d("2026-12-21"), 5).unwrap();
        assert_eq!(
            r,
            WorkingDate {
                date: d("2026-12-28"),
                provisional: false
            }
        );
        let c = cal.count_checked(d("2026-12-21"), d("2027-01-04")).unwrap();
        assert_eq!(
            c,
            WorkingDayCount {
                count: 10,
                provisional: true
            }
        );
        assert!(cal.all_covered(d("2019-01-01"), d("2026-12-31")).unwrap());
        assert!(!cal.all_covered(d("2019-01-01"), d("2027-01-01")).unwrap());
        assert_eq!(
            cal.first_uncovered(d("2020-01-01"), d("2027-06-01"))
                .unwrap(),
            Some(d("2027-01-01"))
        );
        assert_eq!(
            cal.first_uncovered(d("2018-06-01"), d("2020-01-01"))
                .unwrap(),
            Some(d("2018-06-02"))
        );
        assert_eq!(
            cal.first_uncovered(d("2020-01-01"), d("2026-01-01"))
                .unwrap(),
            None
        );
    }

    #[test]
    fn a_calendar_with_weekends_only_covers_nothing() {
        let cal = Calendar::weekends_only();
        assert!(cal.loaded_years().is_empty());
        assert!(cal.is_working_day(d("2024-10-01")).unwrap());
        assert!(!cal.is_covered(d("2024-10-01")).unwrap());
        assert_eq!(
            cal.add_working_days(d("2024-02-09"), 1).unwrap(),
            d("2024-02-12")
        );
    }

    #[test]
    fn adding_zero_working_days_stays_on_a_working_day_or_moves_to_the_next() {
        let cal = real_calendar();
        assert_eq!(
            cal.add_working_days(d("2024-02-09"), 0).unwrap(),
            d("2024-02-09")
        );
        assert_eq!(
            cal.add_working_days(d("2024-02-10"), 0).unwrap(),
            d("2024-02-18")
        );
        assert_eq!(
            cal.add_working_days(d("2024-02-09"), 1).unwrap(),
            d("2024-02-18")
        );
        let r = cal.add_working_days_checked(d("2026-12-31"), 0).unwrap();
        assert_eq!(
            r,
            WorkingDate {
                date: d("2026-12-31"),
                provisional: false
            }
        );
        let r = cal.add_working_days_checked(d("2027-01-02"), 0).unwrap();
        assert_eq!(
            r,
            WorkingDate {
                date: d("2027-01-04"),
                provisional: true
            }
        );
    }

    #[test]
    fn working_days_per_month_of_2024_match_the_notice() {
        let months = real_calendar().working_days_per_month(2024).unwrap();
        // February: 21 weekdays − 5 inside 春节 (12–16) + Sundays 4 and 18 worked.
        assert_eq!(months[1], 18);
        // October: 23 weekdays − 5 inside 国庆节 (1–4, 7) + Saturday 12 worked.
        assert_eq!(months[9], 19);
        let year = real_calendar()
            .count_working_days(d("2023-12-31"), d("2024-12-31"))
            .unwrap();
        assert_eq!(months.iter().sum::<u32>(), year);
        assert_eq!(
            real_calendar().working_days_per_month(2200),
            Err(CalendarError::YearOutOfRange { year: 2200 })
        );
    }

    #[test]
    fn dates_outside_the_supported_range_are_refused() {
        let cal = real_calendar();
        let early = d("1949-12-31");
        let late = d("2200-01-01");
        assert_eq!(
            cal.is_working_day(early),
            Err(CalendarError::OutOfRange { date: early })
        );
        assert_eq!(
            cal.is_covered(late),
            Err(CalendarError::OutOfRange { date: late })
        );
        assert_eq!(
            cal.count_working_days(early, d("2000-01-01")),
            Err(CalendarError::OutOfRange { date: early })
        );
        assert!(cal.is_working_day(SUPPORTED_START).is_ok());
        assert!(cal.is_working_day(SUPPORTED_END).is_ok());
        assert_eq!(
            cal.add_working_days(d("2199-12-30"), 5),
            Err(CalendarError::ResultOutOfRange {
                from: d("2199-12-30"),
                working_days: 5
            })
        );
        assert_eq!(
            cal.add_working_days(d("2000-01-01"), u32::MAX),
            Err(CalendarError::ResultOutOfRange {
                from: d("2000-01-01"),
                working_days: u32::MAX
            })
        );
        // 2199-12-31 is a Tuesday.
        assert_eq!(
            cal.add_working_days(d("2199-12-30"), 1).unwrap(),
            SUPPORTED_END
        );
    }

    #[test]
    fn a_reversed_range_is_refused_and_an_empty_one_counts_zero() {
        let cal = real_calendar();
        let (a, b) = (d("2024-03-02"), d("2024-03-01"));
        assert_eq!(
            cal.count_working_days(a, b),
            Err(CalendarError::ReversedRange { from: a, to: b })
        );
        assert_eq!(
            cal.all_covered(a, b),
            Err(CalendarError::ReversedRange { from: a, to: b })
        );
        assert_eq!(cal.count_working_days(a, a).unwrap(), 0);
        assert!(cal.all_covered(a, a).unwrap());
        assert_eq!(cal.first_uncovered(a, a).unwrap(), None);
    }

    #[test]
    fn a_calendar_is_cheap_to_clone_and_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<Calendar>();
        let cal = real_calendar().clone();
        let handle = std::thread::spawn(move || cal.is_working_day(d("2024-02-18")).unwrap());
        assert!(handle.join().unwrap());
        assert!(format!("{:?}", real_calendar()).contains("2026"));
    }

    #[test]
    fn building_the_calendar_takes_milliseconds() {
        let started = std::time::Instant::now();
        let cal = Calendar::new(real_schedules());
        // Generous bound for an unoptimised build on a busy machine.
        assert!(started.elapsed() < std::time::Duration::from_millis(500));
        assert!(cal.is_working_day(d("2024-02-18")).unwrap());
    }

    fn schedule(holidays: Vec<(&str, &str, &str)>, workdays: Vec<&str>) -> YearSchedule {
        YearSchedule {
            year: 2024,
            holidays: holidays
                .into_iter()
                .map(|(name, start, end)| HolidayRange {
                    name: name.into(),
                    start: d(start),
                    end: d(end),
                })
                .collect(),
            workdays: workdays.into_iter().map(d).collect(),
        }
    }

    fn codes(s: &YearSchedule) -> Vec<(String, &'static str)> {
        s.validate()
            .unwrap_err()
            .into_iter()
            .map(|v| (v.field, v.code))
            .collect()
    }

    #[test]
    fn validation_rejects_a_year_outside_the_supported_range() {
        let mut s = schedule(vec![], vec![]);
        s.year = 2200;
        assert_eq!(codes(&s), vec![("year".into(), "year_out_of_range")]);
        s.year = 1949;
        assert_eq!(codes(&s), vec![("year".into(), "year_out_of_range")]);
    }

    #[test]
    fn validation_rejects_dates_outside_the_notice() {
        let s = schedule(
            vec![("元旦", "2023-11-30", "2023-12-01")],
            vec!["2025-01-04"],
        );
        assert_eq!(
            codes(&s),
            vec![
                ("holidays[0].start".into(), "date_outside_notice"),
                ("workdays[0]".into(), "date_outside_notice"),
            ]
        );
        // The previous December belongs to the notice.
        assert_eq!(
            schedule(vec![("元旦", "2023-12-30", "2024-01-01")], vec![]).validate(),
            Ok(())
        );
    }

    #[test]
    fn validation_rejects_a_reversed_range() {
        let s = schedule(vec![("春节", "2024-02-17", "2024-02-10")], vec![]);
        assert_eq!(
            codes(&s),
            vec![("holidays[0].end".into(), "range_reversed")]
        );
    }

    #[test]
    fn validation_rejects_a_range_longer_than_fifteen_days() {
        let s = schedule(vec![("春节", "2024-02-01", "2024-02-16")], vec![]);
        assert_eq!(
            codes(&s),
            vec![("holidays[0].end".into(), "range_too_long")]
        );
        assert_eq!(
            schedule(vec![("春节", "2024-02-01", "2024-02-15")], vec![]).validate(),
            Ok(())
        );
    }

    #[test]
    fn validation_rejects_unordered_and_overlapping_ranges() {
        let s = schedule(
            vec![
                ("劳动节", "2024-05-01", "2024-05-05"),
                ("清明节", "2024-04-04", "2024-04-06"),
                ("端午节", "2024-04-06", "2024-04-07"),
            ],
            vec![],
        );
        assert_eq!(
            codes(&s),
            vec![
                ("holidays[1].start".into(), "ranges_unordered"),
                ("holidays[2].start".into(), "ranges_overlap"),
            ]
        );
    }

    #[test]
    fn validation_rejects_an_empty_or_overlong_name() {
        let long = "节".repeat(51);
        let s = schedule(
            vec![
                ("  ", "2024-01-01", "2024-01-01"),
                (&long, "2024-02-10", "2024-02-17"),
            ],
            vec![],
        );
        assert_eq!(
            codes(&s),
            vec![
                ("holidays[0].name".into(), "name_required"),
                ("holidays[1].name".into(), "name_too_long"),
            ]
        );
    }

    #[test]
    fn validation_rejects_workdays_that_are_not_weekends_duplicated_or_on_holidays() {
        let s = schedule(
            vec![("春节", "2024-02-10", "2024-02-17")],
            vec!["2024-02-04", "2024-02-05", "2024-02-04", "2024-02-11"],
        );
        assert_eq!(
            codes(&s),
            vec![
                ("workdays[1]".into(), "workday_not_weekend"),
                ("workdays[2]".into(), "duplicate_workday"),
                ("workdays[3]".into(), "date_both_holiday_and_workday"),
            ]
        );
    }

    #[test]
    fn validation_reports_every_violation_with_a_message() {
        let s = schedule(
            vec![
                ("", "2024-02-17", "2024-02-10"),
                ("x", "2023-01-01", "2023-01-02"),
            ],
            vec!["2024-02-05", "2024-02-05"],
        );
        let violations = s.validate().unwrap_err();
        assert!(violations.len() >= 6, "{violations:?}");
        assert!(violations.iter().all(|v| !v.message.en().is_empty()));
    }

    #[test]
    fn a_schedule_round_trips_through_toml_and_json() {
        let s = real_calendar().schedule(2023).unwrap().clone();
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains("\"2022-12-31\""));
        assert_eq!(serde_json::from_str::<YearSchedule>(&json).unwrap(), s);
        assert_eq!(
            toml::from_str::<YearSchedule>(&toml::to_string(&s).unwrap()).unwrap(),
            s
        );
        assert!(
            toml::from_str::<YearSchedule>("year = 2024\nholidays = []\nworkday = []").is_err()
        );
    }

    proptest! {
        #[test]
        fn is_working_day_agrees_with_the_naive_rule(date in date_in("2017-01-01", "2028-12-31")) {
            let schedules = real_schedules();
            prop_assert_eq!(
                real_calendar().is_working_day(date).unwrap(),
                naive_is_working(&schedules, date)
            );
        }

        #[test]
        fn add_working_days_agrees_with_a_day_by_day_walk(
            from in date_in("2018-06-01", "2027-06-30"),
            n in 0u32..80,
        ) {
            let schedules = real_schedules();
            prop_assert_eq!(
                real_calendar().add_working_days(from, n).unwrap(),
                naive_add(&schedules, from, n)
            );
        }

        #[test]
        fn counting_undoes_adding(from in date_in("1950-01-01", "2190-12-31"), n in 1u32..500) {
            let cal = real_calendar();
            let to = cal.add_working_days(from, n).unwrap();
            prop_assert!(cal.is_working_day(to).unwrap());
            prop_assert_eq!(cal.count_working_days(from, to).unwrap(), n);
            // One day earlier, one fewer working day has elapsed.
            prop_assert_eq!(cal.count_working_days(from, to.pred_opt().unwrap()).unwrap(), n - 1);
        }

        #[test]
        fn coverage_agrees_with_the_loaded_notices(date in date_in("2017-01-01", "2028-12-31")) {
            let schedules = real_schedules();
            let listed = schedules.iter().any(|s| {
                s.workdays.contains(&date)
                    || s.holidays.iter().any(|h| h.start <= date && date <= h.end)
            });
            let expected = (2019..=2026).contains(&date.year()) || listed;
            prop_assert_eq!(real_calendar().is_covered(date).unwrap(), expected);
        }
    }
}
