//! The access tokens' HS256 key when none is configured: generated once, kept in the database
//! (`service_secrets`), shared by every process on that database. The value published in the
//! repository is never a key (`config::Settings::validate` refuses it).

use crate::db::{self, DbConnection};

/// The name of the generated token key in `service_secrets`.
pub const TOKEN_KEY: &str = "access_token_hs256";

/// 32 random bytes (the size of the HS256 hash), hex-encoded.
pub fn generate() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The configured secret, or else the one kept in the database (made now if there is none).
pub fn resolve(
    configured: &str,
    conn: &mut DbConnection,
    now: chrono::NaiveDateTime,
) -> Result<String, diesel::result::Error> {
    if !configured.is_empty() {
        return Ok(configured.to_string());
    }
    db::secrets::get_or_insert(conn, TOKEN_KEY, &generate(), now)
}

/// Replaces the kept secret: every access token signed with the old one stops working once
/// each process has restarted (refresh tokens are kept apart and still give new ones).
pub fn rotate(
    conn: &mut DbConnection,
    now: chrono::NaiveDateTime,
) -> Result<bool, diesel::result::Error> {
    db::secrets::replace(conn, TOKEN_KEY, &generate(), now)
}

#[cfg(test)]
mod tests {
    #[test]
    fn generated_secrets_are_long_and_differ() {
        let (a, b) = (super::generate(), super::generate());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }
}
