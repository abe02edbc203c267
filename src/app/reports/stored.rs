//! The report documents as stored (JSON in `report_versions.snapshot`, `report_drafts.proactive`
//! and `report_drafts.narrative`), with a format version so that an upgrade never turns a stored
//! record into an error.
//!
//! Convention (shared with the application records): a top-level integer `"format": N` in the
//! stored JSON object; absent means format 1, the bare serde form written before versions
//! existed. Current writes emit [`FORMAT`]. Reading accepts every earlier format: fields added
//! since have defaults, and an old shape is upgraded explicitly here.
//!
//! | document | format 1 (no `format`) | format 2 | format 3 |
//! | --- | --- | --- | --- |
//! | version snapshot | the report itself (its `"format"` is the table format `"2019"`/`"2021"`, a string) | `{"format": 2, "report": {…}}` | the same envelope; table 二's values are JSON numbers, checks carry `severity`, the narrative has six sections |
//! | table 二 draft | `{row: {column: value}}` | `{"format": 2, "rows": {row: {column: value}}}` | the same with `"format": 3` |
//! | narrative draft | `{"overview": …, …}` | the same with `"format": 2` | six sections (`proactive_text`, `applications_text`, `remedies_text` added) |
//!
//! Format 3 reads formats 1 and 2 without an explicit upgrade: table 二's values read from a
//! decimal string or a number, a check without `severity` is an error (every check was), and
//! a narrative without the three added sections has them empty. The number was bumped all the
//! same so that a service of format 2 refuses a format-3 record instead of dropping the new
//! sections on its next write.
//!
//! A snapshot needs the envelope because its report already has a `format` field (the table
//! format, a string), and table 二's rows are keyed by row code.
//!
//! A record that cannot be read (corrupt, or written by a newer version of the service in a
//! format this one does not know) is logged with its id and answers 500
//! `stored_record_unreadable` naming it, like an unreadable application record: the client can
//! do nothing about it, an administrator must repair the record (or a release that reads it
//! must serve), and the code and the name tell them which.

use serde_json::{Map, Value};

use super::{AppError, Entered, Report};
use crate::domain::report::Narrative;

/// The format current writes emit.
pub const FORMAT: u64 = 3;

fn unreadable(record: &str, cause: impl std::fmt::Display) -> AppError {
    AppError::Unreadable {
        entity: "report record",
        id: record.to_string(),
        reason: cause.to_string(),
    }
}

/// The document's format: its integer `format`, else 1.
fn format_of(v: &Map<String, Value>) -> u64 {
    v.get("format").and_then(Value::as_u64).unwrap_or(1)
}

fn object(record: &str, text: &str) -> Result<Map<String, Value>, AppError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(unreadable(record, format!("not a JSON object: {other}"))),
        Err(e) => Err(unreadable(record, e)),
    }
}

fn known(record: &str, m: &Map<String, Value>) -> Result<u64, AppError> {
    match format_of(m) {
        f @ 1..=FORMAT => Ok(f),
        f => Err(unreadable(
            record,
            format!("format {f} is newer than this service reads ({FORMAT})"),
        )),
    }
}

fn decode<T: serde::de::DeserializeOwned>(record: &str, v: Value) -> Result<T, AppError> {
    serde_path_to_error::deserialize(v).map_err(|e| unreadable(record, e))
}

fn encode(v: Value) -> Result<String, AppError> {
    serde_json::to_string(&v).map_err(AppError::internal)
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<Value, AppError> {
    serde_json::to_value(v).map_err(AppError::internal)
}

/// A published version's snapshot, as stored now.
pub fn encode_snapshot(r: &Report) -> Result<String, AppError> {
    encode(serde_json::json!({"format": FORMAT, "report": to_value(r)?}))
}

/// A stored snapshot of any format. `record` names it in the log and the problem.
pub fn decode_snapshot(record: &str, text: &str) -> Result<Report, AppError> {
    let mut m = object(record, text)?;
    // Format 1 is the bare report, whose own `format` is the table format (a string).
    let f = if m.get("format").is_some_and(Value::is_string) {
        1
    } else {
        known(record, &m)?
    };
    match f {
        1 => decode(record, Value::Object(m)),
        _ => match m.remove("report") {
            Some(r) => decode(record, r),
            None => Err(unreadable(record, "no report in the snapshot")),
        },
    }
}

/// A draft's table 二 values, as stored now.
pub fn encode_proactive(rows: &Entered) -> Result<String, AppError> {
    encode(serde_json::json!({"format": FORMAT, "rows": to_value(rows)?}))
}

/// A stored draft of table 二 of any format.
pub fn decode_proactive(record: &str, text: &str) -> Result<Entered, AppError> {
    let mut m = object(record, text)?;
    match known(record, &m)? {
        // Format 1 is the bare map of rows.
        1 => {
            m.remove("format");
            decode(record, Value::Object(m))
        }
        _ => match m.remove("rows") {
            Some(rows) => decode(record, rows),
            None => Ok(Entered::new()),
        },
    }
}

/// A draft's narrative, as stored now.
pub fn encode_narrative(n: &Narrative) -> Result<String, AppError> {
    let mut v = to_value(n)?;
    if let Value::Object(m) = &mut v {
        m.insert("format".into(), FORMAT.into());
    }
    encode(v)
}

/// A stored narrative of any format (missing sections are empty).
pub fn decode_narrative(record: &str, text: &str) -> Result<Narrative, AppError> {
    let mut m = object(record, text)?;
    known(record, &m)?;
    m.remove("format");
    decode(record, Value::Object(m))
}
