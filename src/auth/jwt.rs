//! HS256 access tokens with issuer and audience set and checked.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::AuthSettings;

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    /// The user's token generation when issued; a token whose generation is behind the user's
    /// (the user was disabled or changed password) no longer works.
    #[serde(rename = "gen")]
    pub generation: i32,
    /// System clients only: the granted scopes, space-separated (RFC 8693 `scope`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// The subject of a system client's token: `client:<client id>`.
pub const CLIENT_SUBJECT_PREFIX: &str = "client:";

#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    pub ttl_secs: u64,
    /// Tokens these keys have verified (signature, algorithm, issuer, audience), with their
    /// claims: a client sends the same token with every request until it expires, and checking
    /// it again (two JSON parses, base64 and an HMAC) was 5 % of a read's CPU. Keyed by the
    /// whole token, so only the very bytes verified are found; the keys never change while
    /// they live (a new secret makes new keys, with an empty memo). Time is checked on every
    /// use ([`check_lifetime`]).
    verified: Arc<RwLock<HashMap<Box<str>, Claims>>>,
}

/// How many verified tokens are kept; when full, the memo starts over (a burst of new tokens
/// costs at most one more verification each).
pub const VERIFIED_KEPT: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid: {0}")]
    Invalid(String),
    #[error("cannot set up token keys: {0}")]
    Setup(String),
}

impl TokenKeys {
    pub fn new(settings: &AuthSettings) -> Result<Self, TokenError> {
        let secret = settings.jwt_secret.as_bytes();
        if secret.is_empty() {
            // Startup resolves an empty setting to the generated secret first.
            return Err(TokenError::Setup("no token secret".into()));
        }
        let encoding =
            EncodingKey::from_secret(secret).map_err(|e| TokenError::Setup(e.to_string()))?;
        let decoding =
            DecodingKey::from_secret(secret).map_err(|e| TokenError::Setup(e.to_string()))?;
        // Algorithm pinned: a token claiming `none` or another algorithm is refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[settings.issuer.as_str()]);
        validation.set_audience(&[settings.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub", "nbf"]);
        // `exp` and `nbf` are checked against the application's clock, not the system's
        // ([`check_lifetime`]): a pinned clock runs ahead of the system.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        Ok(Self {
            encoding,
            decoding,
            validation,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            ttl_secs: settings.access_token_ttl_secs,
            verified: Arc::default(),
        })
    }

    pub fn issue(
        &self,
        user_id: &str,
        generation: i32,
        now_unix: i64,
    ) -> Result<String, TokenError> {
        self.sign(user_id.to_string(), generation, None, now_unix)
    }

    /// A token for a system client, limited to `scope` (space-separated scope codes).
    pub fn issue_client(
        &self,
        client_id: &str,
        generation: i32,
        scope: &str,
        now_unix: i64,
    ) -> Result<String, TokenError> {
        self.sign(
            format!("{CLIENT_SUBJECT_PREFIX}{client_id}"),
            generation,
            Some(scope.to_string()),
            now_unix,
        )
    }

    fn sign(
        &self,
        sub: String,
        generation: i32,
        scope: Option<String>,
        now_unix: i64,
    ) -> Result<String, TokenError> {
        let claims = Claims {
            sub,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now_unix,
            nbf: now_unix,
            exp: now_unix + i64::try_from(self.ttl_secs).unwrap_or(i64::MAX / 2),
            jti: uuid::Uuid::new_v4().to_string(),
            generation,
            scope,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| TokenError::Setup(e.to_string()))
    }

    /// The claims of a token signed by us, valid at `now_unix` (the application's clock).
    pub fn verify(&self, token: &str, now_unix: i64) -> Result<Claims, TokenError> {
        if let Some(claims) = self.remembered(token) {
            check_lifetime(claims.exp, Some(claims.nbf), now_unix)?;
            return Ok(claims);
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        check_lifetime(claims.exp, Some(claims.nbf), now_unix)?;
        let mut kept = self
            .verified
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if kept.len() >= VERIFIED_KEPT {
            kept.clear();
        }
        kept.insert(token.into(), claims.clone());
        Ok(claims)
    }

    /// Whether these keys verified this token before and still keep it (its lifetime not
    /// checked: [`verify`](Self::verify) does).
    pub fn knows(&self, token: &str) -> bool {
        self.verified
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(token)
    }

    /// The claims of a token these keys verified before, if it is still kept (its lifetime
    /// not checked: [`verify`](Self::verify) does).
    fn remembered(&self, token: &str) -> Option<Claims> {
        self.verified
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(token)
            .cloned()
    }
}

/// Seconds of clock difference tolerated on `exp` and `nbf`.
pub const LEEWAY_SECS: i64 = 30;

/// Whether a token with this `exp` (and `nbf`) is valid at `now_unix`, with [`LEEWAY_SECS`]
/// either way (what `jsonwebtoken` would check against the system's clock).
pub fn check_lifetime(exp: i64, nbf: Option<i64>, now_unix: i64) -> Result<(), TokenError> {
    if exp < now_unix.saturating_sub(LEEWAY_SECS) {
        return Err(TokenError::Expired);
    }
    if nbf.is_some_and(|nbf| nbf > now_unix.saturating_add(LEEWAY_SECS)) {
        return Err(TokenError::Invalid(
            "the token is not valid yet (nbf)".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        let mut s = crate::config::Settings::defaults(crate::config::Profile::Test)
            .unwrap_or_else(|e| panic!("{e}"));
        s.auth.jwt_secret = crate::auth::secret::generate();
        TokenKeys::new(&s.auth).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn lifetime_is_checked_against_the_time_given_not_the_system_clock() {
        let k = keys();
        // Issued in 2030 (a pinned clock far ahead of any system clock running this test).
        let issued = 1_909_000_000;
        let t = k.issue("u1", 0, issued).unwrap_or_else(|e| panic!("{e}"));
        assert!(k.verify(&t, issued).is_ok());
        assert!(k.verify(&t, issued + 899).is_ok());
        assert!(matches!(
            k.verify(&t, issued + 900 + LEEWAY_SECS + 1),
            Err(TokenError::Expired)
        ));
        assert!(matches!(
            k.verify(&t, issued - LEEWAY_SECS - 1),
            Err(TokenError::Invalid(_))
        ));
        assert!(
            k.verify(&t, issued - LEEWAY_SECS).is_ok(),
            "within the leeway"
        );
    }

    #[test]
    fn a_verified_token_is_remembered_and_its_lifetime_still_checked() {
        let k = keys();
        let now = 1_900_000_000;
        let token = k.issue("u1", 3, now).unwrap();
        assert!(k.remembered(&token).is_none());
        assert_eq!(k.verify(&token, now).unwrap().sub, "u1");
        assert_eq!(k.remembered(&token).map(|c| c.generation), Some(3));
        // Remembered, yet refused once expired, and before its `nbf`.
        let ttl = i64::try_from(k.ttl_secs).unwrap();
        assert!(matches!(
            k.verify(&token, now + ttl + LEEWAY_SECS + 1),
            Err(TokenError::Expired)
        ));
        assert!(matches!(
            k.verify(&token, now - LEEWAY_SECS - 1),
            Err(TokenError::Invalid(_))
        ));
        assert_eq!(k.verify(&token, now + 1).unwrap().sub, "u1");
    }

    #[test]
    fn only_the_very_bytes_verified_are_remembered() {
        let k = keys();
        let now = 1_900_000_000;
        let token = k.issue("u1", 1, now).unwrap();
        k.verify(&token, now).unwrap();
        // The same claims signed with another secret, and the signature altered.
        let other = keys().issue("u1", 1, now).unwrap();
        assert!(k.remembered(&other).is_none());
        assert!(k.verify(&other, now).is_err());
        // One character of the signature's middle (the last carries padding bits).
        let at = token.len() - 10;
        let was = &token[at..=at];
        let altered = format!(
            "{}{}{}",
            &token[..at],
            if was == "A" { "B" } else { "A" },
            &token[at + 1..]
        );
        assert!(k.remembered(&altered).is_none());
        assert!(k.verify(&altered, now).is_err());
        assert!(k.remembered(&altered).is_none(), "a refused token was kept");
        // Keys made anew (another process, a new secret) start with nothing remembered.
        let again = keys();
        assert!(!again.knows(&token));
        assert!(k.knows(&token) && !k.knows(&altered));
    }

    #[test]
    fn the_memo_is_bounded() {
        let k = keys();
        let now = 1_900_000_000;
        for i in 0..=VERIFIED_KEPT {
            let token = k.issue(&format!("u{i}"), 1, now).unwrap();
            k.verify(&token, now).unwrap();
        }
        let kept = k.verified.read().unwrap().len();
        assert!(
            (1..=VERIFIED_KEPT).contains(&kept),
            "{kept} tokens kept, more than {VERIFIED_KEPT}"
        );
    }
}
