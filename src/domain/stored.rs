//! Every JSON document the service stores and reads back as a typed value — an application's
//! intake details and legal record, a calendar year's schedule — with a format version, so that
//! an upgrade never turns an old record into an error.
//!
//! Each document is a JSON object with a top-level `"format": N`; a record without it is
//! format 1 (everything written before versions existed). Reading accepts every format up to
//! the current one: fields added later take their defaults, a changed shape is upgraded here,
//! step by step, before the typed value is decoded. Unknown fields are ignored, so a record
//! written by a newer release that only added fields still loads; a record of a newer format
//! number is refused with a clear error rather than misread.
//!
//! Fixtures of each format live in `tests/fixtures/records/` and are decoded by a test.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::calendar::YearSchedule;
use super::request::{IntakeDetails, Workflow};

/// The format written today for the legal record ([`Workflow`]).
pub const WORKFLOW_FORMAT: u64 = 1;
/// The format written today for the intake details ([`IntakeDetails`]).
pub const DETAILS_FORMAT: u64 = 1;
/// The format written today for a calendar year ([`YearSchedule`]).
pub const SCHEDULE_FORMAT: u64 = 1;

/// Why a stored document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoredError {
    #[error("not a JSON object: {0}")]
    NotAnObject(String),
    #[error("format {found} is newer than this release reads (up to {known})")]
    NewerFormat { found: u64, known: u64 },
    #[error("format {format}: {message}")]
    Invalid { format: u64, message: String },
}

/// Writes `value` as a JSON object carrying `"format": format`.
pub fn encode<T: Serialize>(value: &T, format: u64) -> String {
    let mut v = serde_json::to_value(value).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("format".into(), Value::from(format));
    }
    v.to_string()
}

/// Reads the format, applies the upgrades from it to `current`, and decodes.
pub fn decode<T: DeserializeOwned>(
    text: &str,
    current: u64,
    upgrade: fn(u64, &mut serde_json::Map<String, Value>),
) -> Result<T, StoredError> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| StoredError::NotAnObject(e.to_string()))?;
    let Value::Object(mut m) = v else {
        return Err(StoredError::NotAnObject("a JSON object is expected".into()));
    };
    let format = match m.remove("format") {
        None => 1,
        Some(f) => f.as_u64().ok_or_else(|| StoredError::Invalid {
            format: 0,
            message: "`format` is not a positive integer".into(),
        })?,
    };
    if format > current {
        return Err(StoredError::NewerFormat {
            found: format,
            known: current,
        });
    }
    for from in format..current {
        upgrade(from, &mut m);
    }
    serde_json::from_value(Value::Object(m)).map_err(|e| StoredError::Invalid {
        format,
        message: e.to_string(),
    })
}

/// No shape has changed yet: format 1 is today's. An upgrade from format N to N + 1 goes into
/// the document's own upgrade function as one arm, e.g. renaming a field or splitting one.
pub fn no_upgrades(_from: u64, _doc: &mut serde_json::Map<String, Value>) {}

pub fn encode_workflow(wf: &Workflow) -> String {
    encode(wf, WORKFLOW_FORMAT)
}

pub fn decode_workflow(text: &str) -> Result<Workflow, StoredError> {
    decode(text, WORKFLOW_FORMAT, no_upgrades)
}

pub fn encode_details(d: &IntakeDetails) -> String {
    encode(d, DETAILS_FORMAT)
}

pub fn decode_details(text: &str) -> Result<IntakeDetails, StoredError> {
    decode(text, DETAILS_FORMAT, no_upgrades)
}

pub fn encode_schedule(s: &YearSchedule) -> String {
    encode(s, SCHEDULE_FORMAT)
}

/// The schedule type refuses unknown fields (it is also the API's and the files' input), so a
/// stored one drops what this release does not know before decoding.
pub fn decode_schedule(text: &str) -> Result<YearSchedule, StoredError> {
    let mut v: Value =
        serde_json::from_str(text).map_err(|e| StoredError::NotAnObject(e.to_string()))?;
    if let Value::Object(m) = &mut v {
        m.retain(|k, _| ["format", "year", "holidays", "workdays"].contains(&k.as_str()));
    }
    decode(&v.to_string(), SCHEDULE_FORMAT, no_upgrades)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORKFLOW_V1: &str = r#"{"state":"closed","clock":{"receipt_date":"2026-03-02","correction":null,"pauses":[],"extension":null,"deadline_override":null,"closed_on":"2026-03-10"},"last_step_on":"2026-03-10","correction_items":[],"consultations":[],"fee":null,"reply":{"disposition":"granted","on":"2026-03-10","reason":null,"legal_basis":null,"provision":"以电子邮件方式提供","responsible_agency":null,"repeats_request_id":null,"late":false}}"#;

    #[test]
    fn a_record_without_a_format_is_format_1_and_round_trips() {
        let wf = decode_workflow(WORKFLOW_V1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            wf.disposition(),
            Some(crate::domain::disposition::Disposition::Granted)
        );
        let again = encode_workflow(&wf);
        assert!(again.contains("\"format\":1"));
        assert_eq!(decode_workflow(&again), Ok(wf));
    }

    #[test]
    fn an_unknown_extra_field_and_a_missing_optional_one_still_load() {
        let extra = WORKFLOW_V1.replacen('{', r#"{"added_by_a_later_release":[1,2],"#, 1);
        assert!(decode_workflow(&extra).is_ok());
        let missing = WORKFLOW_V1
            .replace(r#""correction_items":[],"consultations":[],"#, "")
            .replace(r#","late":false"#, "")
            .replace(r#""pauses":[],"#, "");
        let wf = decode_workflow(&missing).unwrap_or_else(|e| panic!("{e}"));
        assert!(wf.consultations.is_empty());
        assert!(!wf.late());
    }

    #[test]
    fn a_calendar_year_stored_without_a_format_or_with_a_later_field_still_loads() {
        let old = r#"{"year":2026,"holidays":[],"workdays":["2026-01-04"]}"#;
        let s = decode_schedule(old).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.year, 2026);
        let later = r#"{"format":1,"year":2026,"holidays":[],"workdays":[],"source_url":"x"}"#;
        assert!(decode_schedule(later).is_ok());
        assert_eq!(decode_schedule(&encode_schedule(&s)), Ok(s));
    }

    #[test]
    fn a_newer_format_or_a_broken_record_is_an_error_not_a_guess() {
        let newer = WORKFLOW_V1.replacen('{', r#"{"format":99,"#, 1);
        assert_eq!(
            decode_workflow(&newer),
            Err(StoredError::NewerFormat {
                found: 99,
                known: WORKFLOW_FORMAT
            })
        );
        assert!(matches!(
            decode_workflow("[1]"),
            Err(StoredError::NotAnObject(_))
        ));
        let bad = WORKFLOW_V1.replace("\"granted\"", "\"no_such_disposition\"");
        assert!(matches!(
            decode_workflow(&bad),
            Err(StoredError::Invalid { format: 1, .. })
        ));
    }
}
