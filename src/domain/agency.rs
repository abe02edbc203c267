//! Agencies (行政机关): codes and names as the domain accepts them.

use super::validation::{Errors, FieldError, optional_text, text};

/// An agency code: a unified social credit code or an internal code. It prefixes case numbers,
/// so it is short, ASCII, upper-case letters, digits, `-` and `_`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgencyCode(String);

impl AgencyCode {
    pub const MAX_LEN: usize = 32;

    /// The stored form of a code as someone typed or sent it: trimmed, upper-case. Look-ups
    /// by code (intake, imports, identity-provider claims) compare this form.
    pub fn canonical(raw: &str) -> String {
        raw.trim().to_ascii_uppercase()
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let v = Self::canonical(raw);
        if v.is_empty() {
            return Err(FieldError::required(field));
        }
        if v.len() > Self::MAX_LEN {
            return Err(FieldError::too_long(field, Self::MAX_LEN));
        }
        if !v
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Err(FieldError::new(
                field,
                "invalid_format",
                crate::text!(
                    "只能包含大写字母 A-Z、数字、- 和 _",
                    "may contain only letters A-Z, digits, '-' and '_'"
                ),
            ));
        }
        Ok(AgencyCode(v))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A new agency, parsed.
#[derive(Debug, Clone)]
pub struct NewAgency {
    pub code: AgencyCode,
    pub name: String,
    pub region: Option<String>,
}

impl NewAgency {
    pub fn parse(code: &str, name: &str, region: Option<&str>) -> Result<Self, Vec<FieldError>> {
        let mut errors = Errors::new();
        let code = errors.take(AgencyCode::parse("code", code));
        let name = errors.take(text("name", name, 200, false));
        let region = errors.take(optional_text("region", region, 100, false));
        match (code, name, region) {
            (Some(code), Some(name), Some(region)) if errors.is_empty() => {
                Ok(NewAgency { code, name, region })
            }
            _ => Err(errors.into_vec()),
        }
    }
}

/// The materialised path of an agency below `parent_path`.
pub fn child_path(parent_path: &str, id: &str) -> String {
    format!("{parent_path}{id}/")
}

pub fn root_path(id: &str) -> String {
    format!("/{id}/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_upper_cased_and_restricted_to_a_safe_alphabet() {
        assert_eq!(
            AgencyCode::parse("code", " 11620000mb1234567x ").map(|c| c.into_inner()),
            Ok("11620000MB1234567X".to_string())
        );
        assert!(AgencyCode::parse("code", "a b").is_err());
        assert!(AgencyCode::parse("code", "").is_err());
        assert!(AgencyCode::parse("code", &"A".repeat(33)).is_err());
        assert!(AgencyCode::parse("code", "民政局").is_err());
    }

    #[test]
    fn a_new_agency_lists_every_bad_field() {
        let errs = NewAgency::parse("", "", None).err().unwrap_or_default();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["code", "name"]);
    }

    #[test]
    fn paths_nest() {
        assert_eq!(child_path(&root_path("r"), "c"), "/r/c/");
    }
}
