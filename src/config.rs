//! Layered settings: `config/default.toml` (compiled in) < `config/<profile>.toml` <
//! `GONGKAI__SECTION__KEY` environment variables. Loaded once at start and passed down.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The compiled-in defaults, so the binary runs from any folder.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// The public development secret; production refuses it.
const DEVELOPMENT_JWT_SECRET: &str = "gongkai-development-secret-do-not-use-in-production";
const MIN_PRODUCTION_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    Development,
    Test,
    Production,
}

impl Profile {
    pub fn from_env() -> Result<Self, ConfigError> {
        match std::env::var("GONGKAI_ENV") {
            Err(_) => Ok(Profile::Development),
            Ok(v) => match v.trim().to_ascii_lowercase().as_str() {
                "" | "development" | "dev" => Ok(Profile::Development),
                "test" => Ok(Profile::Test),
                "production" | "prod" => Ok(Profile::Production),
                other => Err(ConfigError::Invalid(format!(
                    "GONGKAI_ENV={other:?}: expected development, test or production"
                ))),
            },
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Development => "development",
            Profile::Test => "test",
            Profile::Production => "production",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub bootstrap: BootstrapSettings,
    pub domain: DomainSettings,
    pub calendar: CalendarSettings,
    pub report: ReportSettings,
    pub log: LogSettings,
    /// Which profile these settings were loaded for (not a file key).
    #[serde(skip, default = "default_profile")]
    pub profile: Profile,
}

fn default_profile() -> Profile {
    Profile::Development
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub bind: String,
    pub workers: usize,
    pub body_limit_bytes: usize,
    /// Largest body of a bulk import (`POST /api/v1/import/requests`).
    pub import_body_limit_bytes: usize,
    pub shutdown_timeout_secs: u64,
    pub trust_forwarded_for: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub pool_max_size: u32,
    pub pool_timeout_secs: u64,
    pub run_migrations: bool,
    pub sqlite_busy_timeout_ms: u32,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub jwt_secret: String,
    pub issuer: String,
    pub audience: String,
    pub access_token_ttl_secs: u64,
}

impl std::fmt::Debug for AuthSettings {
    // Secrets never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("jwt_secret", &"<redacted>")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("access_token_ttl_secs", &self.access_token_ttl_secs)
            .finish()
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapSettings {
    pub admin_password: String,
    pub root_agency_code: String,
    pub root_agency_name: String,
}

impl std::fmt::Debug for BootstrapSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootstrapSettings")
            .field("admin_password", &"<redacted>")
            .field("root_agency_code", &self.root_agency_code)
            .field("root_agency_name", &self.root_agency_name)
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainSettings {
    pub timezone: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSettings {
    pub dir: PathBuf,
}

/// How review and litigation cases are assigned to a report year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemedyCountingSetting {
    ReceivedInYear,
    ActiveInYear,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSettings {
    pub remedy_counting: RemedyCountingSetting,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("settings could not be read: {0}")]
    Load(String),
    #[error("invalid settings: {0}")]
    Invalid(String),
}

impl Settings {
    /// Loads the settings for the profile named by `GONGKAI_ENV`, reading profile files from
    /// `config/` (or `GONGKAI_CONFIG_DIR`).
    pub fn load() -> Result<Self, ConfigError> {
        let profile = Profile::from_env()?;
        let dir = std::env::var_os("GONGKAI_CONFIG_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("config"));
        Self::load_from(profile, &dir)
    }

    pub fn load_from(profile: Profile, config_dir: &Path) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML)).merge(Toml::file(
            config_dir.join(format!("{}.toml", profile.as_str())),
        ));
        // DATABASE_URL is the common convention; the gongkai-specific variable wins over it.
        if let Ok(url) = std::env::var("DATABASE_URL") {
            figment = figment.merge(Serialized::default("database.url", url));
        }
        figment = figment.merge(Env::prefixed("GONGKAI__").split("__").lowercase(true));
        let mut settings: Settings = figment
            .extract()
            .map_err(|e| ConfigError::Load(e.to_string()))?;
        settings.profile = profile;
        settings.validate()?;
        Ok(settings)
    }

    /// The compiled-in defaults with the given profile, for tests and tools.
    pub fn defaults(profile: Profile) -> Result<Self, ConfigError> {
        let mut settings: Settings = Figment::from(Toml::string(DEFAULT_TOML))
            .extract()
            .map_err(|e| ConfigError::Load(e.to_string()))?;
        settings.profile = profile;
        Ok(settings)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.profile == Profile::Production {
            let secret = self.auth.jwt_secret.as_bytes();
            if self.auth.jwt_secret == DEVELOPMENT_JWT_SECRET {
                return Err(ConfigError::Invalid(
                    "auth.jwt_secret: production needs a secret of its own (set GONGKAI__AUTH__JWT_SECRET)"
                        .into(),
                ));
            }
            if secret.len() < MIN_PRODUCTION_SECRET_BYTES {
                return Err(ConfigError::Invalid(format!(
                    "auth.jwt_secret: production needs at least {MIN_PRODUCTION_SECRET_BYTES} bytes, got {}",
                    secret.len()
                )));
            }
        }
        if self.auth.jwt_secret.is_empty() {
            return Err(ConfigError::Invalid(
                "auth.jwt_secret must not be empty".into(),
            ));
        }
        if self.auth.access_token_ttl_secs == 0 {
            return Err(ConfigError::Invalid(
                "auth.access_token_ttl_secs must be positive".into(),
            ));
        }
        if self.server.body_limit_bytes == 0 {
            return Err(ConfigError::Invalid(
                "server.body_limit_bytes must be positive".into(),
            ));
        }
        if self.server.import_body_limit_bytes == 0 {
            return Err(ConfigError::Invalid(
                "server.import_body_limit_bytes must be positive".into(),
            ));
        }
        if self.database.pool_max_size == 0 {
            return Err(ConfigError::Invalid(
                "database.pool_max_size must be positive".into(),
            ));
        }
        self.timezone()?;
        Ok(())
    }

    pub fn timezone(&self) -> Result<chrono_tz::Tz, ConfigError> {
        self.domain.timezone.parse().map_err(|_| {
            ConfigError::Invalid(format!(
                "domain.timezone: unknown time zone {:?}",
                self.domain.timezone
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_in_defaults_parse_and_validate() {
        let s = Settings::defaults(Profile::Development).unwrap_or_else(|e| panic!("{e}"));
        assert!(s.validate().is_ok());
        assert_eq!(s.server.body_limit_bytes, 1024 * 1024);
        assert_eq!(s.server.import_body_limit_bytes, 64 * 1024 * 1024);
    }

    #[test]
    fn production_refuses_the_development_secret_and_short_secrets() {
        let mut s = Settings::defaults(Profile::Production).unwrap_or_else(|e| panic!("{e}"));
        assert!(s.validate().is_err());
        s.auth.jwt_secret = "short".into();
        assert!(s.validate().is_err());
        s.auth.jwt_secret = "x".repeat(32);
        assert!(s.validate().is_ok());
    }

    #[test]
    fn unknown_keys_are_an_error() {
        let r: Result<Settings, _> = Figment::from(Toml::string(DEFAULT_TOML))
            .merge(Toml::string("[server]\nbindd = \"x\""))
            .extract();
        assert!(r.is_err());
        let r: Result<Settings, _> = Figment::from(Toml::string(DEFAULT_TOML))
            .merge(Toml::string("[nonsense]\na = 1"))
            .extract();
        assert!(r.is_err());
    }
}
