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
/// cannot hold NUL, and no field of ours needs control characters other than line breaks).
pub fn text(
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
            check_chars(field, v, max_chars, multiline)?;
            Ok(Some(v.to_string()))
        }
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
