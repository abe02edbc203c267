//! Tokens of trusted identity providers (provincial platforms): RS256 or ES256, each issuer
//! with its own key (a PEM file, or a JWKS file whose key the token's `kid` picks), its
//! audience, and a mapping from its claims onto one of our agencies and our roles.
//!
//! Keys are read once at start; a file that cannot be read or holds no usable key stops the
//! start with its reason, never a surprise at the first request.

use std::collections::BTreeMap;
use std::path::Path;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::config::{IssuerAlgorithm, TrustedIssuer};
use crate::domain::access::{Role, Roles};

/// Everything a trusted issuer's token says about the person, once verified and mapped.
#[derive(Debug, Clone)]
pub struct FederatedIdentity {
    pub issuer: String,
    pub subject: String,
    pub name: String,
    /// Our agency's `code`, from the agency claim.
    pub agency_code: String,
    /// Our roles, from the mapped external roles (may be empty: the caller decides).
    pub roles: Roles,
}

#[derive(Debug, thiserror::Error)]
pub enum FederatedError {
    #[error("the token has expired")]
    Expired,
    #[error("{}", .0.en())]
    Invalid(crate::domain::text::Text),
}

enum IssuerKeys {
    Pem(DecodingKey),
    /// By `kid`.
    Jwks(BTreeMap<String, DecodingKey>),
}

struct Issuer {
    config: TrustedIssuer,
    keys: IssuerKeys,
    validation: Validation,
}

/// The trusted issuers, by `iss`.
#[derive(Clone, Default)]
pub struct FederatedIssuers(std::sync::Arc<BTreeMap<String, Issuer>>);

impl FederatedIssuers {
    /// Reads and checks every issuer's keys. The error names the issuer and the file.
    pub fn load(issuers: &[TrustedIssuer]) -> Result<Self, String> {
        let mut map = BTreeMap::new();
        for t in issuers {
            let keys = load_keys(t).map_err(|e| format!("trusted issuer {:?}: {e}", t.issuer))?;
            let mut validation = Validation::new(algorithm(t.algorithm));
            validation.set_issuer(&[t.issuer.as_str()]);
            validation.set_audience(&[t.audience.as_str()]);
            validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
            // `exp`, and `nbf` whenever the token carries it, are checked against the
            // application's clock in `verify`, not against the system's.
            validation.validate_exp = false;
            validation.validate_nbf = false;
            map.insert(
                t.issuer.clone(),
                Issuer {
                    config: t.clone(),
                    keys,
                    validation,
                },
            );
        }
        Ok(FederatedIssuers(std::sync::Arc::new(map)))
    }

    pub fn is_trusted(&self, issuer: &str) -> bool {
        self.0.contains_key(issuer)
    }

    /// Verifies a token of a trusted issuer (signature with the pinned algorithm, `iss`, `aud`,
    /// and `exp`, `nbf` at `now_unix`, the application's clock) and maps its claims.
    pub fn verify(
        &self,
        issuer: &str,
        token: &str,
        now_unix: i64,
    ) -> Result<FederatedIdentity, FederatedError> {
        let invalid = FederatedError::Invalid;
        let i = self.0.get(issuer).ok_or_else(|| {
            invalid(crate::text!(
                "令牌的签发方不受信任",
                "the token's issuer is not trusted"
            ))
        })?;
        let key = match &i.keys {
            IssuerKeys::Pem(k) => k,
            IssuerKeys::Jwks(keys) => {
                let header = jsonwebtoken::decode_header(token).map_err(|_| {
                    invalid(crate::text!("令牌头无效", "the token header is not valid"))
                })?;
                let kid = header.kid.ok_or_else(|| {
                    invalid(crate::text!(
                        "令牌头未指明密钥（`kid`）",
                        "the token header names no key (`kid`)"
                    ))
                })?;
                keys.get(&kid).ok_or_else(|| {
                    invalid(crate::text!(
                        "令牌的密钥（`kid`）不属于其签发方",
                        "the token's key (`kid`) is not known for its issuer"
                    ))
                })?
            }
        };
        let claims = jsonwebtoken::decode::<Value>(token, key, &i.validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => FederatedError::Expired,
                jsonwebtoken::errors::ErrorKind::InvalidAudience => invalid(crate::text!(
                    "令牌不是签发给本服务的（audience 不符）",
                    "the token is not meant for this service (audience)"
                )),
                _ => invalid(crate::text!(
                    "访问令牌无效",
                    "the access token is not valid"
                )),
            })?
            .claims;
        let instant = |name: &str| -> Result<Option<i64>, FederatedError> {
            match claims.get(name) {
                None => Ok(None),
                Some(v) => v
                    .as_i64()
                    // Whole seconds; a fractional time counts from its second.
                    .or_else(|| {
                        v.as_f64()
                            .filter(|f| f.is_finite())
                            .map(|f| f.floor() as i64)
                    })
                    .map(Some)
                    .ok_or_else(|| {
                        invalid(crate::text!(
                            "访问令牌无效",
                            "the access token is not valid"
                        ))
                    }),
            }
        };
        let exp = instant("exp")?.ok_or_else(|| {
            invalid(crate::text!(
                "访问令牌无效",
                "the access token is not valid"
            ))
        })?;
        crate::auth::jwt::check_lifetime(exp, instant("nbf")?, now_unix).map_err(|e| match e {
            crate::auth::jwt::TokenError::Expired => FederatedError::Expired,
            _ => invalid(crate::text!(
                "访问令牌无效",
                "the access token is not valid"
            )),
        })?;
        map_claims(&i.config, &claims)
    }
}

fn map_claims(t: &TrustedIssuer, claims: &Value) -> Result<FederatedIdentity, FederatedError> {
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let subject = text("sub").ok_or_else(|| {
        FederatedError::Invalid(crate::text!("令牌缺少 `sub`", "the token has no `sub`"))
    })?;
    let agency_code = text(&t.agency_claim).ok_or_else(|| {
        FederatedError::Invalid(crate::text!(
            "令牌缺少机关代码（声明 `{}`）",
            "the token has no agency code (claim `{}`)",
            t.agency_claim
        ))
    })?;
    let name = text(&t.name_claim).unwrap_or_else(|| subject.clone());
    // An array of strings; a single string is taken as a list of one.
    let external: Vec<&str> = match claims.get(&t.roles_claim) {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(s)) => vec![s.as_str()],
        _ => Vec::new(),
    };
    let roles: Vec<Role> = external
        .iter()
        .filter_map(|r| t.role_map.get(*r))
        .filter_map(|code| Role::parse(code))
        .collect();
    Ok(FederatedIdentity {
        issuer: t.issuer.clone(),
        subject,
        name,
        agency_code,
        roles: Roles::from_roles(&roles),
    })
}

fn algorithm(a: IssuerAlgorithm) -> Algorithm {
    match a {
        IssuerAlgorithm::Rs256 => Algorithm::RS256,
        IssuerAlgorithm::Es256 => Algorithm::ES256,
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn load_keys(t: &TrustedIssuer) -> Result<IssuerKeys, String> {
    if let Some(path) = &t.public_key_pem_file {
        let pem = read(path)?;
        let key = match t.algorithm {
            IssuerAlgorithm::Rs256 => DecodingKey::from_rsa_pem(&pem),
            IssuerAlgorithm::Es256 => DecodingKey::from_ec_pem(&pem),
        }
        .map_err(|e| {
            format!(
                "{} holds no {} public key in PEM form: {e}",
                path.display(),
                kind(t.algorithm)
            )
        })?;
        return Ok(IssuerKeys::Pem(key));
    }
    let Some(path) = &t.jwks_file else {
        return Err("set exactly one of public_key_pem_file and jwks_file".into());
    };
    let set: JwkSet = serde_json::from_slice(&read(path)?)
        .map_err(|e| format!("{} is not a JWKS document: {e}", path.display()))?;
    let mut keys = BTreeMap::new();
    for (n, jwk) in set.keys.iter().enumerate() {
        let at = format!("{} key {n}", path.display());
        let kid = jwk
            .common
            .key_id
            .clone()
            .ok_or_else(|| format!("{at} has no `kid`; tokens could not name it"))?;
        let fits = match (&jwk.algorithm, t.algorithm) {
            (AlgorithmParameters::RSA(_), IssuerAlgorithm::Rs256) => true,
            (AlgorithmParameters::EllipticCurve(p), IssuerAlgorithm::Es256) => {
                p.curve == EllipticCurve::P256
            }
            _ => false,
        };
        if !fits {
            return Err(format!(
                "{at} ({kid}) is not a {} public key",
                kind(t.algorithm)
            ));
        }
        let expected = match t.algorithm {
            IssuerAlgorithm::Rs256 => KeyAlgorithm::RS256,
            IssuerAlgorithm::Es256 => KeyAlgorithm::ES256,
        };
        if let Some(alg) = jwk.common.key_algorithm
            && alg != expected
        {
            return Err(format!(
                "{at} ({kid}) is for {alg:?}, not the configured algorithm"
            ));
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("{at} ({kid}): {e}"))?;
        if keys.insert(kid.clone(), key).is_some() {
            return Err(format!("{at}: the `kid` {kid:?} is used twice"));
        }
    }
    if keys.is_empty() {
        return Err(format!("{} holds no keys", path.display()));
    }
    Ok(IssuerKeys::Jwks(keys))
}

fn kind(a: IssuerAlgorithm) -> &'static str {
    match a {
        IssuerAlgorithm::Rs256 => "RSA (RS256)",
        IssuerAlgorithm::Es256 => "P-256 EC (ES256)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/federation")
            .join(name)
    }

    fn issuer(alg: IssuerAlgorithm, pem: Option<&str>, jwks: Option<&str>) -> TrustedIssuer {
        TrustedIssuer {
            issuer: "https://idp.example".into(),
            audience: "gongkai".into(),
            algorithm: alg,
            public_key_pem_file: pem.map(fixture),
            jwks_file: jwks.map(fixture),
            agency_claim: "agency_code".into(),
            roles_claim: "roles".into(),
            role_map: BTreeMap::from([("handler".into(), "clerk".into())]),
            name_claim: "name".into(),
        }
    }

    #[test]
    fn good_key_files_load() {
        let rs = issuer(IssuerAlgorithm::Rs256, Some("rsa-public.pem"), None);
        let es = issuer(IssuerAlgorithm::Es256, None, Some("jwks.json"));
        assert!(FederatedIssuers::load(&[rs]).is_ok());
        assert!(FederatedIssuers::load(&[es]).is_ok());
    }

    #[test]
    fn bad_key_files_fail_with_their_reason() {
        let err = |t: TrustedIssuer| FederatedIssuers::load(&[t]).err().unwrap_or_default();
        let missing = err(issuer(IssuerAlgorithm::Rs256, Some("nope.pem"), None));
        assert!(missing.contains("cannot read"), "{missing}");
        // An EC key where an RSA key is configured, and the other way round.
        let wrong = err(issuer(IssuerAlgorithm::Rs256, Some("ec-public.pem"), None));
        assert!(wrong.contains("RSA"), "{wrong}");
        let wrong = err(issuer(IssuerAlgorithm::Rs256, None, Some("jwks.json")));
        assert!(wrong.contains("not a RSA"), "{wrong}");
        let not_json = err(issuer(IssuerAlgorithm::Es256, None, Some("rsa-public.pem")));
        assert!(not_json.contains("not a JWKS"), "{not_json}");
    }

    #[test]
    fn claims_map_onto_agency_roles_and_name() {
        let mut t = issuer(IssuerAlgorithm::Rs256, Some("rsa-public.pem"), None);
        t.role_map.insert("head".into(), "approver".into());
        let c = serde_json::json!({"sub": "u1", "agency_code": "A1", "roles": ["handler", "head", "janitor"]});
        let id = map_claims(&t, &c).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(id.name, "u1", "no name claim: the subject");
        assert_eq!(id.roles.to_vec(), vec![Role::Approver, Role::Clerk]);
        let none = map_claims(
            &t,
            &serde_json::json!({"sub": "u1", "agency_code": "A1", "roles": ["janitor"]}),
        );
        assert!(none.is_ok_and(|i| i.roles.to_vec().is_empty()));
        assert!(map_claims(&t, &serde_json::json!({"sub": "u1"})).is_err());
    }
}
