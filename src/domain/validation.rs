//! Field-level validation errors, shared by every domain type that parses input.

use super::text::Text;
use crate::text;

/// One bad field: where, a stable code, and a message a form can show (in both languages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: Text,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str, message: Text) -> Self {
        Self {
            field: field.into(),
            code,
            message,
        }
    }

    /// `required`: the field is missing or empty.
    pub fn required(field: impl Into<String>) -> Self {
        Self::new(field, "required", text!("不能为空", "must not be empty"))
    }

    /// `too_long`: more than `max` characters.
    pub fn too_long(field: impl Into<String>, max: usize) -> Self {
        Self::new(
            field,
            "too_long",
            text!("不得超过 {max} 个字符", "must be at most {max} characters"),
        )
    }

    /// `out_of_range`: a number outside `lo..=hi`.
    pub fn not_between(
        field: impl Into<String>,
        lo: impl std::fmt::Display,
        hi: impl std::fmt::Display,
    ) -> Self {
        Self::new(
            field,
            "out_of_range",
            text!("须在 {lo} 至 {hi} 之间", "must be between {lo} and {hi}"),
        )
    }

    /// `in_future`: a date after today.
    pub fn in_future(field: impl Into<String>) -> Self {
        Self::new(
            field,
            "in_future",
            text!("不能晚于今天", "must not be in the future"),
        )
    }

    /// `invalid_characters`: control characters.
    pub fn control_characters(field: impl Into<String>) -> Self {
        Self::new(
            field,
            "invalid_characters",
            text!("不得含有控制字符", "must not contain control characters"),
        )
    }
}

/// Collects every bad field instead of stopping at the first.
#[derive(Debug, Default)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }

    /// Records the error of a parse and keeps its value when it succeeded.
    pub fn take<T>(&mut self, r: Result<T, FieldError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_result(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }
}

/// A trimmed, non-empty text of bounded length without control characters (PostgreSQL text
/// cannot hold NUL, and no field of ours needs control characters other than line breaks), in
/// Unicode normalisation form C: a name typed with a combining accent and the same name typed
/// precomposed are stored, compared and found as one.
pub fn text(
    field: &str,
    value: &str,
    max_chars: usize,
    multiline: bool,
) -> Result<String, FieldError> {
    let v = nfc(value.trim());
    text_exact(field, &v, max_chars, multiline)
}

/// [`text`] without normalisation: for secrets, whose bytes are what they are.
pub fn text_exact(
    field: &str,
    value: &str,
    max_chars: usize,
    multiline: bool,
) -> Result<String, FieldError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(FieldError::required(field));
    }
    check_chars(field, v, max_chars, multiline)?;
    Ok(v.to_string())
}

/// Like [`text`], but an empty or absent value is `None`.
pub fn optional_text(
    field: &str,
    value: Option<&str>,
    max_chars: usize,
    multiline: bool,
) -> Result<Option<String>, FieldError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => {
            let v = nfc(v);
            check_chars(field, &v, max_chars, multiline)?;
            Ok(Some(v))
        }
    }
}

/// Unicode normalisation form C (canonical composition).
pub fn nfc(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    if unicode_normalization::is_nfc_quick(s.chars()) == unicode_normalization::IsNormalized::Yes {
        s.to_string()
    } else {
        s.nfc().collect()
    }
}

fn check_chars(field: &str, v: &str, max_chars: usize, multiline: bool) -> Result<(), FieldError> {
    if v.chars().count() > max_chars {
        return Err(FieldError::too_long(field, max_chars));
    }
    if v.chars()
        .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\r' || c == '\t')))
    {
        return Err(FieldError::control_characters(field));
    }
    Ok(())
}

/// The most problems one answer lists: a body with thousands of bad fields (or an import with
/// thousands of bad lines) answers the first 100 and their count, not a megabyte of errors.
pub const MAX_LISTED_ERRORS: usize = 100;

/// The first day a date in this service may name: 2008-05-01, when the first Regulation on
/// Open Government Information (国务院令第492号) took effect. Nothing it records happened before.
pub const FIRST_STATUTORY_DAY: chrono::NaiveDate = match chrono::NaiveDate::from_ymd_opt(2008, 5, 1)
{
    Some(d) => d,
    None => panic!("2008-05-01"),
};

/// A date a request names, judged against the range the service can count over: not before
/// [`FIRST_STATUTORY_DAY`], not after the calendar's last day.
pub fn statutory_date(field: &str, date: chrono::NaiveDate) -> Result<(), FieldError> {
    if date < FIRST_STATUTORY_DAY {
        return Err(FieldError::new(
            field,
            "before_regulation",
            text!(
                "日期 {date} 早于《政府信息公开条例》施行之日（2008-05-01）",
                "{date} is before the Regulation on Open Government Information took effect (2008-05-01)"
            ),
        ));
    }
    if date > crate::domain::calendar::SUPPORTED_END {
        return Err(FieldError::new(
            field,
            "beyond_calendar",
            text!(
                "日期 {date} 超出工作日历的范围（至 2199-12-31）",
                "{date} is beyond the working-day calendar (last day 2199-12-31)"
            ),
        ));
    }
    Ok(())
}

/// Every date or date-time string in a JSON body — whatever chrono (and so serde) would read as
/// one: `2026-03-16`, `2026-3-16`, RFC 3339 and its variants — judged by [`statutory_date`],
/// each error naming its field (`history[0].on`). Secrets (`password`, `secret`, …) are not
/// looked at: a password that happens to read as a date is not refused, nor echoed back.
pub fn statutory_dates_in(value: &serde_json::Value) -> Vec<FieldError> {
    fn date_of(s: &str) -> Option<chrono::NaiveDate> {
        if !(6..=40).contains(&s.len()) {
            return None;
        }
        s.parse::<chrono::NaiveDate>()
            .ok()
            .or_else(|| {
                s.parse::<chrono::DateTime<chrono::FixedOffset>>()
                    .ok()
                    .map(|t| t.date_naive())
            })
            .or_else(|| s.parse::<chrono::NaiveDateTime>().ok().map(|t| t.date()))
    }
    fn secret(key: &str) -> bool {
        let k = key.to_ascii_lowercase();
        k.contains("password") || k.contains("secret") || k.contains("token")
    }
    fn walk(v: &serde_json::Value, path: &str, out: &mut Vec<FieldError>) {
        match v {
            serde_json::Value::String(s) => {
                if let Some(d) = date_of(s)
                    && let Err(e) = statutory_date(path, d)
                {
                    out.push(e);
                }
            }
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &format!("{path}[{i}]"), out);
                }
            }
            serde_json::Value::Object(map) => {
                for (k, item) in map {
                    if secret(k) {
                        continue;
                    }
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(item, &p, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, "", &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_trims_and_refuses_empty_nul_and_overlong_values() {
        assert_eq!(text("f", "  a ", 5, false), Ok("a".to_string()));
        assert_eq!(
            text("f", "   ", 5, false).map_err(|e| e.code),
            Err("required")
        );
        assert_eq!(
            text("f", "a\0b", 5, false).map_err(|e| e.code),
            Err("invalid_characters")
        );
        assert_eq!(
            text("f", "abcdef", 5, false).map_err(|e| e.code),
            Err("too_long")
        );
        assert_eq!(
            text("f", "一二三四五", 5, false),
            Ok("一二三四五".to_string())
        );
        assert!(text("f", "a\nb", 5, true).is_ok());
        assert!(text("f", "a\nb", 5, false).is_err());
    }
}

#[cfg(test)]
mod statutory_date_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dates_before_the_regulation_or_beyond_the_calendar_are_named() {
        let body = json!({
            "arrived_at": "1949-10-01T09:00:00+08:00",
            "signed_for_on": "2008-04-30",
            "confirmed_on": "2008-05-01",
            "history": [{"on": "1900-01-01"}, {"on": "2026-03-16"}],
            "note": "2007-01-01 是一句话里的日期",
            "far": "2200-01-01",
            "loose": "1900-1-2",
            "spaced": "1949-10-01 09:00:00+08:00",
            "password": "1999-12-31",
        });
        let mut fields: Vec<(String, &str)> = statutory_dates_in(&body)
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect();
        fields.sort();
        assert_eq!(
            fields,
            vec![
                ("arrived_at".to_string(), "before_regulation"),
                ("far".to_string(), "beyond_calendar"),
                ("history[0].on".to_string(), "before_regulation"),
                ("loose".to_string(), "before_regulation"),
                ("signed_for_on".to_string(), "before_regulation"),
                ("spaced".to_string(), "before_regulation"),
            ]
        );
    }
}
