//! Users: user names and passwords as the domain accepts them.

use super::access::Roles;
use super::validation::{Errors, FieldError, optional_text};
use crate::text;

/// A login name: 3–64 characters of `a-z 0-9 . _ - @`, stored lower-case so `Admin` and
/// `admin` are one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let v = raw.trim().to_ascii_lowercase();
        if v.len() < 3 || v.len() > 64 {
            return Err(FieldError::new(
                field,
                "invalid_length",
                text!("须为 3 至 64 个字符", "must be 3 to 64 characters"),
            ));
        }
        if !v
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_@".contains(c))
        {
            return Err(FieldError::new(
                field,
                "invalid_format",
                text!(
                    "只能包含字母、数字和 . - _ @",
                    "may contain only letters, digits, '.', '-', '_' and '@'"
                ),
            ));
        }
        Ok(Username(v))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A new password: 10 to 256 characters, not all the same character.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(<redacted>)")
    }
}

impl NewPassword {
    pub const MIN_CHARS: usize = 10;
    pub const MAX_CHARS: usize = 256;

    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let n = raw.chars().count();
        if n < Self::MIN_CHARS {
            return Err(FieldError::new(
                field,
                "too_short",
                text!(
                    "至少 {} 个字符",
                    "must be at least {} characters",
                    Self::MIN_CHARS
                ),
            ));
        }
        if n > Self::MAX_CHARS {
            return Err(FieldError::too_long(field, Self::MAX_CHARS));
        }
        if raw.contains('\0') {
            return Err(FieldError::new(
                field,
                "invalid_characters",
                text!("不得含有 NUL 字符", "must not contain NUL"),
            ));
        }
        let mut chars = raw.chars();
        if let Some(first) = chars.next()
            && chars.all(|c| c == first)
        {
            return Err(FieldError::new(
                field,
                "too_weak",
                text!("不能由同一个字符重复组成", "must not repeat one character"),
            ));
        }
        Ok(NewPassword(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A new user, parsed.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: Username,
    pub display_name: String,
    pub password: NewPassword,
    pub roles: Roles,
}

impl NewUser {
    pub fn parse(
        username: &str,
        display_name: Option<&str>,
        password: &str,
        roles: &[String],
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = Errors::new();
        let username = errors.take(Username::parse("username", username));
        let display_name = errors.take(optional_text("display_name", display_name, 100, false));
        let password = errors.take(NewPassword::parse("password", password));
        let roles = errors.take(Roles::parse_list("roles", roles));
        match (username, display_name, password, roles) {
            (Some(username), Some(display_name), Some(password), Some(roles)) => {
                let display_name = display_name.unwrap_or_else(|| username.as_str().to_string());
                Ok(NewUser {
                    username,
                    display_name,
                    password,
                    roles,
                })
            }
            _ => Err(errors.into_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lower_cased_and_checked() {
        assert_eq!(
            Username::parse("u", "Zhang.San").map(Username::into_inner),
            Ok("zhang.san".to_string())
        );
        assert!(Username::parse("u", "ab").is_err());
        assert!(Username::parse("u", "张三").is_err());
        assert!(Username::parse("u", "a b c").is_err());
    }

    #[test]
    fn passwords_need_ten_characters_and_some_variety() {
        assert!(NewPassword::parse("p", "short").is_err());
        assert!(NewPassword::parse("p", "aaaaaaaaaaaa").is_err());
        assert!(NewPassword::parse("p", "correct horse").is_ok());
        assert!(!format!("{:?}", NewPassword::parse("p", "correct horse")).contains("horse"));
    }

    #[test]
    fn a_new_user_reports_all_bad_fields() {
        let errs = NewUser::parse("x", None, "p", &[])
            .err()
            .unwrap_or_default();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["username", "password", "roles"]);
    }
}
