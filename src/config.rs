//! Layered settings: `config/default.toml` (compiled in) < `config/<profile>.toml` <
//! `GONGKAI__SECTION__KEY` environment variables. Loaded once at start and passed down.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The compiled-in defaults, so the binary runs from any folder.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// The development secret earlier versions published in `config/default.toml`. Anyone can sign
/// a token with it, so no profile accepts it as a key.
const PUBLISHED_JWT_SECRET: &str = "gongkai-development-secret-do-not-use-in-production";
/// Shortest configured HS256 secret, in bytes (RFC 7518 §3.2: at least the hash's size).
const MIN_SECRET_BYTES: usize = 32;

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
    pub documents: DocumentsSettings,
    pub report: ReportSettings,
    pub webhooks: WebhookSettings,
    pub notifications: NotificationSettings,
    pub reminders: ReminderSettings,
    pub flags: FlagSettings,
    pub log: LogSettings,
    pub clock: ClockSettings,
    pub i18n: I18nSettings,
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
    /// Addresses or blocks (`10.0.0.0/8`) of reverse proxies trusted to name the client in
    /// `Forwarded` / `X-Forwarded-For`.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// The header the proxies write the client's address into: `x-forwarded-for` or
    /// `forwarded` (RFC 7239). Only that one is read.
    #[serde(default = "default_forwarded_header")]
    pub forwarded_header: String,
    /// Exact origins (`https://host[:port]`) of the single-page apps allowed to call the API
    /// from a browser.
    pub cors_allowed_origins: Vec<String>,
    /// Send `Strict-Transport-Security` (only behind HTTPS).
    pub hsts: bool,
    /// Send `Server-Timing: db;desc="N statements"` with every answer (diagnostics; off by
    /// default: it tells a caller how much database work an answer cost).
    #[serde(default)]
    pub server_timing: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub pool_max_size: u32,
    pub pool_timeout_secs: u64,
    pub run_migrations: bool,
    pub sqlite_busy_timeout_ms: u32,
    /// SQLite only: the page cache each pooled connection keeps, in KiB (SQLite's own default
    /// is 2,000). The operating system caches the file as well; what this bounds is the
    /// service's memory: at most `pool_max_size` times this.
    pub sqlite_cache_kib: u32,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub jwt_secret: String,
    pub issuer: String,
    pub audience: String,
    pub access_token_ttl_secs: u64,
    /// How long a refresh token of the password grant may wait for its use (each use gives a
    /// new one with a fresh lifetime).
    pub refresh_token_ttl_secs: u64,
    /// The absolute limit of a login's refresh tokens: however often they are used, the user
    /// logs in again this long after the login.
    pub refresh_family_ttl_secs: u64,
    /// Attempts per (user name, client address) within the window before further ones from
    /// that address answer 429; counted before the password is checked, so concurrent attempts
    /// cannot pass the limit.
    pub login_max_failures: u32,
    pub login_window_secs: u64,
    /// Failed attempts per client address (any names) within the window before that address
    /// is refused.
    pub login_max_failures_per_address: u32,
    /// Once a user name has `login_max_failures` failures in the window (from any addresses),
    /// one attempt for it is checked per this interval (whole seconds, at least 1), doubling
    /// with each further failure up to 8×; others answer 429 until the next interval. The
    /// owner still logs in; a guesser gets one try per interval from all its addresses.
    pub login_slowdown_ms: u64,
    /// Identity providers (provincial platforms) whose signed tokens are accepted.
    #[serde(default)]
    pub trusted_issuers: Vec<TrustedIssuer>,
}

fn default_forwarded_header() -> String {
    "x-forwarded-for".into()
}

/// The signature algorithms accepted from a trusted issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IssuerAlgorithm {
    #[serde(rename = "RS256")]
    Rs256,
    #[serde(rename = "ES256")]
    Es256,
}

/// A trusted identity provider: where its keys are, and how its claims map onto an agency and
/// roles of ours.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedIssuer {
    /// The exact `iss` of its tokens.
    pub issuer: String,
    /// The `aud` its tokens must carry for this service.
    pub audience: String,
    /// The one algorithm accepted (pinned).
    pub algorithm: IssuerAlgorithm,
    /// A PEM public key (SPKI `PUBLIC KEY`, or `RSA PUBLIC KEY`); exactly one of this and
    /// `jwks_file`.
    #[serde(default)]
    pub public_key_pem_file: Option<PathBuf>,
    /// A JWKS document; the key is picked by the token header's `kid`.
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// The claim holding our agency's `code`.
    #[serde(default = "default_agency_claim")]
    pub agency_claim: String,
    /// The claim holding the external roles (an array of strings).
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
    /// External role → our role code (clerk, approver, admin, supervisor); others are ignored.
    #[serde(default)]
    pub role_map: std::collections::BTreeMap<String, String>,
    /// The claim holding the person's display name; `sub` when absent.
    #[serde(default = "default_name_claim")]
    pub name_claim: String,
}

fn default_agency_claim() -> String {
    "agency_code".into()
}

fn default_roles_claim() -> String {
    "roles".into()
}

fn default_name_claim() -> String {
    "name".into()
}

impl std::fmt::Debug for AuthSettings {
    // Secrets never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("jwt_secret", &"<redacted>")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("access_token_ttl_secs", &self.access_token_ttl_secs)
            .field("refresh_token_ttl_secs", &self.refresh_token_ttl_secs)
            .field("refresh_family_ttl_secs", &self.refresh_family_ttl_secs)
            .field("login_max_failures", &self.login_max_failures)
            .field("login_window_secs", &self.login_window_secs)
            .field(
                "login_max_failures_per_address",
                &self.login_max_failures_per_address,
            )
            .field("login_slowdown_ms", &self.login_slowdown_ms)
            .field("trusted_issuers", &self.trusted_issuers)
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
    /// Working days a letter is assumed to take to reach the consulted party or the applicant
    /// while its receipt is not recorded: their 15 or 20 working days then count from sending
    /// plus this allowance, and the window is marked provisional (domain.md §4).
    #[serde(default = "default_delivery_allowance")]
    pub delivery_allowance_working_days: u32,
}

fn default_delivery_allowance() -> u32 {
    3
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSettings {
    pub dir: PathBuf,
}

/// Where uploaded documents are kept, and how large one may be.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentsSettings {
    /// The folder of document contents, named by SHA-256; created at start. Every process
    /// serving the API must see the same folder (one host, or a shared volume).
    pub dir: PathBuf,
    /// Largest document accepted, in bytes (413 `payload_too_large` beyond).
    pub max_bytes: u64,
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
pub struct WebhookSettings {
    pub enabled: bool,
    pub poll_interval_ms: u64,
    pub batch_size: i64,
    pub timeout_secs: u64,
    pub max_attempts: i32,
    pub backoff_base_ms: u64,
    pub backoff_max_secs: u64,
    pub lease_secs: u64,
    pub allow_http: bool,
    /// Receiver hosts (names or addresses, as written in the URL) allowed although they are,
    /// or resolve to, internal addresses (loopback, private, link-local, …). Empty by default.
    #[serde(default)]
    pub allowed_internal_hosts: Vec<String>,
}

/// Outgoing e-mail (`crate::app::mailer`): the SMTP server messages are handed to.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    /// The SMTP server's host name or address; empty: e-mail is off.
    pub smtp_host: String,
    pub smtp_port: u16,
    /// The sender of every message: an address, or a name and an address
    /// (`公开办 <gongkai@example.gov.cn>`).
    pub smtp_from: String,
    pub smtp_tls: SmtpTls,
    /// The login, when the server wants one; no login without it.
    #[serde(default)]
    pub smtp_username: Option<String>,
    /// The login's password (only with `smtp_username`).
    #[serde(default)]
    pub smtp_password: Option<String>,
    /// Seconds the server has to answer (connect and each command).
    pub smtp_timeout_secs: u64,
}

impl NotificationSettings {
    /// Whether e-mail is on (`smtp_host` set).
    pub fn enabled(&self) -> bool {
        !self.smtp_host.trim().is_empty()
    }
}

/// The values of `config/default.toml`, for tests that build settings in code.
impl Default for NotificationSettings {
    fn default() -> Self {
        NotificationSettings {
            smtp_host: String::new(),
            smtp_port: 587,
            smtp_from: "gongkai@localhost".into(),
            smtp_tls: SmtpTls::Starttls,
            smtp_username: None,
            smtp_password: None,
            smtp_timeout_secs: 10,
        }
    }
}

impl std::fmt::Debug for NotificationSettings {
    // Secrets never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotificationSettings")
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_from", &self.smtp_from)
            .field("smtp_tls", &self.smtp_tls)
            .field("smtp_username", &self.smtp_username)
            .field(
                "smtp_password",
                &self.smtp_password.as_ref().map(|_| "<redacted>"),
            )
            .field("smtp_timeout_secs", &self.smtp_timeout_secs)
            .finish()
    }
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// A plain connection upgraded with STARTTLS, which the server must offer (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (implicit TLS, port 465).
    Tls,
    /// No encryption: only for a relay on the same host or a trusted network.
    None,
}

/// Thresholds of the flags raised on applications (warnings, never refusals).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagSettings {
    /// `extension_habit`: the share (0–1) of an office's cases received in the last 90 days
    /// that it may extend before the flag is raised.
    pub extension_habit_share: f64,
    /// `extension_habit`: fewer cases in 90 days than this say nothing about a habit.
    pub extension_habit_min_cases: u32,
    /// `high_volume_applicant`: applications from one applicant in 30 days above this.
    pub high_volume_threshold: u32,
    /// `possible_repeat`: trigram similarity (0–1) of two descriptions at or above this.
    pub repeat_similarity: f64,
    /// `reply_at_risk`: fewer working days left than this, and no reply letter drafted.
    pub reply_risk_working_days: u32,
}

impl Default for FlagSettings {
    fn default() -> Self {
        FlagSettings {
            extension_habit_share: 0.30,
            extension_habit_min_cases: 10,
            high_volume_threshold: 10,
            repeat_similarity: 0.6,
            reply_risk_working_days: 3,
        }
    }
}

/// The deadline reminders sent by e-mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReminderSettings {
    /// Send reminders from this process (they need `notifications.smtp_host` too).
    pub enabled: bool,
    /// Seconds between two looks for applications to remind of.
    pub interval_secs: u64,
    /// An application is reminded of when its due date is at most this many working days
    /// after today.
    pub due_within_working_days: u32,
}

/// The values of `config/default.toml`, for tests that build settings in code.
impl Default for ReminderSettings {
    fn default() -> Self {
        ReminderSettings {
            enabled: true,
            interval_secs: 300,
            due_within_working_days: 3,
        }
    }
}

/// The service's clock (`crate::clock::Clock`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSettings {
    /// Run the service as if today were this date (`YYYY-MM-DD`, in `domain.timezone`); time
    /// still advances from noon of that day. Empty: the system's clock. Refused in production.
    #[serde(default)]
    pub today: String,
    /// With `today`: the system instant (RFC 3339) that is noon of `today`, so that processes
    /// started at different times run one pinned clock (a test's second server process; a
    /// demo of several processes). Empty: the instant this process built its first pinned
    /// clock. Ignored without `today`.
    #[serde(default)]
    pub anchor: String,
}

impl ClockSettings {
    /// The instant that becomes noon of the pinned date, if set.
    pub fn pinned_anchor(&self) -> Result<Option<chrono::DateTime<chrono::Utc>>, ConfigError> {
        let t = self.anchor.trim();
        if t.is_empty() {
            return Ok(None);
        }
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|a| Some(a.with_timezone(&chrono::Utc)))
            .map_err(|_| {
                ConfigError::Invalid(format!(
                    "clock.anchor: {t:?} is not an instant; expected RFC 3339, e.g. 2026-11-30T08:00:00Z"
                ))
            })
    }

    /// The pinned date, if any.
    pub fn pinned_today(&self) -> Result<Option<chrono::NaiveDate>, ConfigError> {
        let t = self.today.trim();
        if t.is_empty() {
            return Ok(None);
        }
        chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| {
                ConfigError::Invalid(format!(
                    "clock.today: {t:?} is not a date; expected YYYY-MM-DD, e.g. 2027-02-01"
                ))
            })
    }
}

/// The languages people read answers in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct I18nSettings {
    /// The language of messages (problem titles, details, field messages) when a request's
    /// `Accept-Language` prefers neither Chinese nor English, or is absent.
    pub default_language: LanguageSetting,
}

/// A language the service answers in, by its tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LanguageSetting {
    #[serde(rename = "zh-CN")]
    ZhCn,
    #[serde(rename = "en")]
    En,
}

impl LanguageSetting {
    pub fn language(self) -> crate::domain::text::Language {
        match self {
            LanguageSetting::ZhCn => crate::domain::text::Language::Chinese,
            LanguageSetting::En => crate::domain::text::Language::English,
        }
    }
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
        let pinned = self.clock.pinned_today()?;
        if self.profile == Profile::Production && pinned.is_some() {
            return Err(ConfigError::Invalid(format!(
                "clock.today = {:?}: production runs on the system's clock; a pinned date is for demos and tests only (unset GONGKAI__CLOCK__TODAY)",
                self.clock.today.trim()
            )));
        }
        let secret = self.auth.jwt_secret.as_str();
        if secret == PUBLISHED_JWT_SECRET {
            return Err(ConfigError::Invalid(
                "auth.jwt_secret: this value was published with gongkai and signs anyone's token; leave the setting empty (a secret is generated and kept in the database) or give one of your own"
                    .into(),
            ));
        }
        if secret.is_empty() && self.profile == Profile::Production {
            return Err(ConfigError::Invalid(
                "auth.jwt_secret: production needs a secret of its own (set GONGKAI__AUTH__JWT_SECRET, at least 32 bytes)"
                    .into(),
            ));
        }
        if !secret.is_empty() && secret.len() < MIN_SECRET_BYTES {
            return Err(ConfigError::Invalid(format!(
                "auth.jwt_secret: at least {MIN_SECRET_BYTES} bytes, got {}",
                secret.len()
            )));
        }
        if self.auth.access_token_ttl_secs == 0 {
            return Err(ConfigError::Invalid(
                "auth.access_token_ttl_secs must be positive".into(),
            ));
        }
        if self.auth.refresh_token_ttl_secs == 0 || self.auth.refresh_family_ttl_secs == 0 {
            return Err(ConfigError::Invalid(
                "auth.refresh_token_ttl_secs and auth.refresh_family_ttl_secs must be positive"
                    .into(),
            ));
        }
        let w = &self.webhooks;
        if w.poll_interval_ms == 0
            || w.batch_size < 1
            || w.timeout_secs == 0
            || w.max_attempts < 1
            || w.lease_secs <= w.timeout_secs
        {
            return Err(ConfigError::Invalid(
                "webhooks: poll_interval_ms, batch_size, timeout_secs and max_attempts must be positive, and lease_secs longer than timeout_secs".into(),
            ));
        }
        self.validate_notifications()?;
        let f = &self.flags;
        if !(f.extension_habit_share > 0.0 && f.extension_habit_share < 1.0) {
            return Err(ConfigError::Invalid(
                "flags.extension_habit_share must be between 0 and 1 (e.g. 0.3)".into(),
            ));
        }
        if !(f.repeat_similarity > 0.0 && f.repeat_similarity <= 1.0) {
            return Err(ConfigError::Invalid(
                "flags.repeat_similarity must be above 0 and at most 1 (e.g. 0.6)".into(),
            ));
        }
        if self.reminders.interval_secs == 0 {
            return Err(ConfigError::Invalid(
                "reminders.interval_secs must be at least 1".into(),
            ));
        }
        if self.auth.login_max_failures == 0 || self.auth.login_max_failures_per_address == 0 {
            return Err(ConfigError::Invalid(
                "auth.login_max_failures and auth.login_max_failures_per_address must be positive"
                    .into(),
            ));
        }
        if !["x-forwarded-for", "forwarded"]
            .iter()
            .any(|h| h.eq_ignore_ascii_case(&self.server.forwarded_header))
        {
            return Err(ConfigError::Invalid(format!(
                "server.forwarded_header = {:?}: x-forwarded-for or forwarded",
                self.server.forwarded_header
            )));
        }
        if let Some(bad) = self
            .server
            .trusted_proxies
            .iter()
            .find(|c| crate::netaddr::Cidr::parse(c).is_none())
        {
            return Err(ConfigError::Invalid(format!(
                "server.trusted_proxies: {bad:?} is not an address or a block such as 10.0.0.0/8"
            )));
        }
        if self.auth.login_slowdown_ms > 60_000 {
            return Err(ConfigError::Invalid(
                "auth.login_slowdown_ms: at most 60000 (it doubles up to 8×)".into(),
            ));
        }
        if self.auth.login_window_secs == 0 {
            return Err(ConfigError::Invalid(
                "auth.login_window_secs must be positive".into(),
            ));
        }
        self.validate_trusted_issuers()?;
        for origin in &self.server.cors_allowed_origins {
            check_origin(origin).map_err(|why| {
                ConfigError::Invalid(format!("server.cors_allowed_origins: {origin:?} {why}"))
            })?;
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
        if self.documents.max_bytes == 0 {
            return Err(ConfigError::Invalid(
                "documents.max_bytes must be positive".into(),
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

    /// Outgoing e-mail, when it is on: a sender that is a mailbox, a port, a timeout, and a
    /// password only with a user name.
    fn validate_notifications(&self) -> Result<(), ConfigError> {
        let n = &self.notifications;
        if !n.enabled() {
            return Ok(());
        }
        if let Err(e) = n.smtp_from.trim().parse::<lettre::message::Mailbox>() {
            return Err(ConfigError::Invalid(format!(
                "notifications.smtp_from: {:?} is not an e-mail address ({e}); expected e.g. gongkai@example.gov.cn or \"公开办 <gongkai@example.gov.cn>\"",
                n.smtp_from
            )));
        }
        if n.smtp_port == 0 {
            return Err(ConfigError::Invalid(
                "notifications.smtp_port must be positive".into(),
            ));
        }
        if n.smtp_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "notifications.smtp_timeout_secs must be positive".into(),
            ));
        }
        let has_user = n
            .smtp_username
            .as_deref()
            .is_some_and(|u| !u.trim().is_empty());
        if n.smtp_password.is_some() && !has_user {
            return Err(ConfigError::Invalid(
                "notifications.smtp_password is set without notifications.smtp_username".into(),
            ));
        }
        Ok(())
    }

    /// The shape of each trusted issuer; its key files are read and checked when the
    /// application starts (`auth::federated::FederatedIssuers::load`).
    fn validate_trusted_issuers(&self) -> Result<(), ConfigError> {
        let mut seen = std::collections::BTreeSet::new();
        for (i, t) in self.auth.trusted_issuers.iter().enumerate() {
            let at = format!("auth.trusted_issuers[{i}]");
            if t.issuer.trim().is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "{at}.issuer must not be empty"
                )));
            }
            if t.issuer == self.auth.issuer {
                return Err(ConfigError::Invalid(format!(
                    "{at}.issuer {:?} is this service's own issuer (auth.issuer)",
                    t.issuer
                )));
            }
            if !seen.insert(t.issuer.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "{at}.issuer {:?} is listed twice",
                    t.issuer
                )));
            }
            if t.audience.trim().is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "{at}.audience must not be empty"
                )));
            }
            match (&t.public_key_pem_file, &t.jwks_file) {
                (Some(_), None) | (None, Some(_)) => {}
                _ => {
                    return Err(ConfigError::Invalid(format!(
                        "{at}: set exactly one of public_key_pem_file and jwks_file"
                    )));
                }
            }
            for (external, ours) in &t.role_map {
                if crate::domain::access::Role::parse(ours).is_none() {
                    return Err(ConfigError::Invalid(format!(
                        "{at}.role_map: {external:?} maps to unknown role {ours:?}; expected clerk, approver, admin or supervisor"
                    )));
                }
            }
            if t.role_map.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "{at}.role_map is empty: no token of this issuer could do anything"
                )));
            }
        }
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

/// A browser origin as sent in `Origin`: scheme `http` or `https`, a host, an optional port,
/// nothing else (no path, no trailing slash, no wildcard).
pub fn check_origin(origin: &str) -> Result<(), &'static str> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or("must start with https:// or http://")?;
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        return Err("must be scheme://host[:port] with no path, wildcard or trailing slash");
    }
    if let Some(p) = port
        && !(p.parse::<u16>().is_ok_and(|n| n > 0) && p.chars().all(|c| c.is_ascii_digit()))
    {
        return Err("has an invalid port");
    }
    Ok(())
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
        assert_eq!(s.documents.max_bytes, 20 * 1024 * 1024);
    }

    #[test]
    fn production_refuses_the_development_secret_and_short_secrets() {
        let mut s = Settings::defaults(Profile::Production).unwrap_or_else(|e| panic!("{e}"));
        // The default is empty: production must be given its own.
        assert_eq!(s.auth.jwt_secret, "");
        assert!(s.validate().is_err());
        s.auth.jwt_secret = "short".into();
        assert!(s.validate().is_err());
        s.auth.jwt_secret = "x".repeat(32);
        assert!(s.validate().is_ok());
    }

    #[test]
    fn the_published_secret_is_refused_everywhere_and_empty_means_generated() {
        for profile in [Profile::Development, Profile::Test, Profile::Production] {
            let mut s = Settings::defaults(profile).unwrap_or_else(|e| panic!("{e}"));
            s.auth.jwt_secret = PUBLISHED_JWT_SECRET.into();
            let e = s.validate().map(|_| ()).unwrap_err().to_string();
            assert!(e.contains("published"), "{e}");
            s.auth.jwt_secret = "x".repeat(31);
            assert!(
                s.validate().is_err(),
                "{profile:?} accepted a 31-byte secret"
            );
        }
        // Outside production an empty secret is generated at start (see startup).
        let s = Settings::defaults(Profile::Development).unwrap_or_else(|e| panic!("{e}"));
        assert!(s.auth.jwt_secret.is_empty());
        assert!(s.validate().is_ok());
    }

    #[test]
    fn clock_today_pins_a_date_outside_production_only() {
        let mut s = Settings::defaults(Profile::Development).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.clock.pinned_today().ok(), Some(None), "unset by default");
        s.clock.today = "2030-06-30".into();
        assert!(s.validate().is_ok());
        assert_eq!(
            s.clock.pinned_today().ok().flatten(),
            chrono::NaiveDate::from_ymd_opt(2030, 6, 30)
        );
        s.profile = Profile::Test;
        assert!(s.validate().is_ok());
        s.clock.today = "2030-02-30".into();
        let e = s
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("clock.today") && e.contains("YYYY-MM-DD"), "{e}");
        // Production refuses it, even with a good secret, and says which setting.
        let mut p = Settings::defaults(Profile::Production).unwrap_or_else(|e| panic!("{e}"));
        p.auth.jwt_secret = "x".repeat(32);
        assert!(p.validate().is_ok());
        p.clock.today = "2027-02-01".into();
        let e = p
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("clock.today") && e.contains("production"), "{e}");
    }

    #[test]
    // `figment::Jail` takes a closure returning figment's (large) error type.
    #[allow(clippy::result_large_err)]
    fn clock_today_comes_from_the_environment_variable() {
        // figment's own environment, not the process's: no other test sees it.
        figment::Jail::expect_with(|jail| {
            jail.set_env("GONGKAI__CLOCK__TODAY", "2027-02-01");
            let dir = jail.directory().to_path_buf();
            let s = Settings::load_from(Profile::Test, &dir).map_err(|e| e.to_string())?;
            assert_eq!(s.clock.today, "2027-02-01");
            jail.set_env("GONGKAI__AUTH__JWT_SECRET", "y".repeat(40));
            let e = Settings::load_from(Profile::Production, &dir)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains("clock.today"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn origins_are_exact_scheme_host_port() {
        assert!(check_origin("https://gk.example.gov.cn").is_ok());
        assert!(check_origin("http://localhost:5173").is_ok());
        assert!(check_origin("https://gk.example.gov.cn/").is_err());
        assert!(check_origin("*").is_err());
        assert!(check_origin("gk.example.gov.cn").is_err());
        assert!(check_origin("https://*.example.gov.cn").is_err());
        assert!(check_origin("https://a.cn:99999").is_err());
    }

    #[test]
    fn a_trusted_issuer_needs_exactly_one_key_source_and_known_roles() {
        let base = r#"
[[auth.trusted_issuers]]
issuer = "https://idp.example"
audience = "gongkai"
algorithm = "RS256"
"#;
        let load = |extra: &str| -> Result<(), String> {
            let mut s: Settings = Figment::from(Toml::string(DEFAULT_TOML))
                .merge(Toml::string(&format!("{base}{extra}")))
                .extract()
                .map_err(|e| e.to_string())?;
            s.profile = Profile::Test;
            s.validate().map_err(|e| e.to_string())
        };
        let roles = "role_map = { handler = \"clerk\" }\n";
        let pem = "public_key_pem_file = \"k.pem\"\n";
        assert_eq!(load(&format!("{pem}{roles}")), Ok(()));
        assert!(load(roles).is_err(), "no key source");
        assert!(load(&format!("{pem}jwks_file = \"j.json\"\n{roles}")).is_err());
        assert!(load(&format!("{pem}role_map = {{ x = \"boss\" }}\n")).is_err());
        assert!(load(pem).is_err(), "empty role map");
    }

    #[test]
    fn the_default_language_is_chinese_and_takes_zh_cn_or_en_only() {
        let s = Settings::defaults(Profile::Test).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.i18n.default_language, LanguageSetting::ZhCn);
        let load = |v: &str| -> Result<LanguageSetting, String> {
            Figment::from(Toml::string(DEFAULT_TOML))
                .merge(Toml::string(&format!("[i18n]\ndefault_language = \"{v}\"")))
                .extract::<Settings>()
                .map(|s| s.i18n.default_language)
                .map_err(|e| e.to_string())
        };
        assert_eq!(load("en"), Ok(LanguageSetting::En));
        assert_eq!(load("zh-CN"), Ok(LanguageSetting::ZhCn));
        let e = load("fr").err().unwrap_or_default();
        assert!(e.contains("default_language"), "{e}");
    }

    #[test]
    fn e_mail_is_off_by_default_and_the_defaults_match_the_file() {
        let s = Settings::defaults(Profile::Test).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.notifications, NotificationSettings::default());
        assert_eq!(s.reminders, ReminderSettings::default());
        assert!(!s.notifications.enabled());
        assert_eq!(s.notifications.smtp_tls, SmtpTls::Starttls);
        assert_eq!(s.notifications.smtp_port, 587);
        assert!(s.reminders.enabled);
        assert_eq!(s.reminders.interval_secs, 300);
        assert_eq!(s.reminders.due_within_working_days, 3);
    }

    #[test]
    fn e_mail_settings_are_checked_only_when_a_host_is_set() {
        let mut s = Settings::defaults(Profile::Test).unwrap_or_else(|e| panic!("{e}"));
        let error = |s: &Settings| {
            s.validate()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        // Off: the other keys do not matter.
        s.notifications.smtp_from = "not an address".into();
        s.notifications.smtp_port = 0;
        assert!(s.validate().is_ok());
        s.notifications.smtp_host = "smtp.example.gov.cn".into();
        assert!(
            error(&s).contains("notifications.smtp_from"),
            "{}",
            error(&s)
        );
        s.notifications.smtp_from = "公开办 <gongkai@example.gov.cn>".into();
        assert!(
            error(&s).contains("notifications.smtp_port"),
            "{}",
            error(&s)
        );
        s.notifications.smtp_port = 587;
        assert!(s.validate().is_ok());
        s.notifications.smtp_password = Some("secret".into());
        assert!(error(&s).contains("smtp_username"), "{}", error(&s));
        s.notifications.smtp_username = Some("gongkai".into());
        assert!(s.validate().is_ok());
        assert!(!format!("{:?}", s.notifications).contains("secret"));
        s.notifications.smtp_timeout_secs = 0;
        assert!(error(&s).contains("smtp_timeout_secs"), "{}", error(&s));
        s.notifications.smtp_timeout_secs = 10;
        s.reminders.interval_secs = 0;
        assert!(
            error(&s).contains("reminders.interval_secs"),
            "{}",
            error(&s)
        );
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn e_mail_and_reminder_settings_come_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("GONGKAI__NOTIFICATIONS__SMTP_HOST", "127.0.0.1");
            jail.set_env("GONGKAI__NOTIFICATIONS__SMTP_PORT", "2525");
            jail.set_env("GONGKAI__NOTIFICATIONS__SMTP_TLS", "none");
            jail.set_env("GONGKAI__NOTIFICATIONS__SMTP_USERNAME", "relay-user");
            jail.set_env("GONGKAI__NOTIFICATIONS__SMTP_PASSWORD", "relay-password");
            jail.set_env("GONGKAI__REMINDERS__INTERVAL_SECS", "60");
            jail.set_env("GONGKAI__REMINDERS__ENABLED", "false");
            let dir = jail.directory().to_path_buf();
            let s = Settings::load_from(Profile::Test, &dir).map_err(|e| e.to_string())?;
            let n = &s.notifications;
            assert_eq!(n.smtp_host, "127.0.0.1");
            assert_eq!(n.smtp_port, 2525);
            assert_eq!(n.smtp_tls, SmtpTls::None);
            assert_eq!(n.smtp_username.as_deref(), Some("relay-user"));
            assert_eq!(n.smtp_password.as_deref(), Some("relay-password"));
            assert_eq!(n.smtp_from, "gongkai@localhost");
            assert_eq!(s.reminders.interval_secs, 60);
            assert!(!s.reminders.enabled);
            jail.set_env("GONGKAI__NOTIFICATIONS__SMTP_TLS", "ssl");
            let e = Settings::load_from(Profile::Test, &dir)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.to_lowercase().contains("smtp_tls"), "{e}");
            Ok(())
        });
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
