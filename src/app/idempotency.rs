//! `Idempotency-Key` on every creating POST (issue 12 item 9): a retry with the same key and
//! request answers the first answer, and nothing is created twice.
//!
//! The first answer is stored in the transaction that creates the thing, so an answer exists
//! exactly when the thing does: a crash before commit leaves neither, and the retry creates it.
//! Two concurrent requests with one key both create inside their own transaction; the loser's
//! insert of the key meets the winner's (PostgreSQL waits for the winner to commit, SQLite
//! writers queue), its whole transaction rolls back, and it answers the winner's stored answer.
//! A request that meets another conflict while a stored answer exists under its key (the
//! winner's unique name, external reference …) is such a loser too.
//!
//! Keys belong to the user who sent them. Secrets an answer shows once (a client's secret, a
//! webhook's signing secret) are not stored: a replay answers them as `null`.

use serde_json::Value;

use super::{AppError, AppState};
use crate::db::{self, DbConnection, idempotency::IdempotencyRow};
use crate::domain::validation::FieldError;

/// A request's key and its fingerprint (method, path and body, secrets left out).
#[derive(Debug, Clone)]
pub struct Key {
    pub key: String,
    pub fingerprint: String,
}

/// An answer as sent, and as stored for a retry.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: String,
    /// A stored first answer, given again.
    pub replayed: bool,
}

/// How a creating use case answers: the key (when sent), how to render what was created, and
/// which top-level fields of the body are shown once and never stored.
pub struct Once<R> {
    pub key: Option<Key>,
    pub render: R,
    pub withheld: &'static [&'static str],
}

impl<R> Once<R> {
    pub fn new(key: Option<Key>, render: R) -> Self {
        Once {
            key,
            render,
            withheld: &[],
        }
    }

    pub fn withholding(mut self, fields: &'static [&'static str]) -> Self {
        self.withheld = fields;
        self
    }

    /// The same answer, rendered from what the transaction returns, seen through `view`.
    pub fn through<T, V>(
        self,
        view: impl FnOnce(&T) -> V + Send + 'static,
    ) -> Once<impl FnOnce(&T) -> Result<Answer, AppError> + Send + 'static>
    where
        R: FnOnce(&V) -> Result<Answer, AppError> + Send + 'static,
    {
        let render = self.render;
        Once {
            key: self.key,
            render: move |t: &T| render(&view(t)),
            withheld: self.withheld,
        }
    }
}

/// What a creating use case takes to render its answer.
pub type Answering<V> = Once<Box<dyn FnOnce(&V) -> Result<Answer, AppError> + Send>>;

/// A key and how to render the answer from `V`.
pub fn render<V>(
    key: Option<Key>,
    f: impl FnOnce(&V) -> Result<Answer, AppError> + Send + 'static,
) -> Answering<V> {
    Once::new(key, Box::new(f))
}

const RACE: &str = "idempotency_race";

impl AppState {
    /// Runs `work` in one transaction with the stored answer of its key, or answers the stored
    /// answer of an earlier request with the same key.
    pub async fn create_once<T, F, R>(
        &self,
        user_id: String,
        once: Once<R>,
        work: F,
    ) -> Result<Answer, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Send + 'static,
        R: FnOnce(&T) -> Result<Answer, AppError> + Send + 'static,
    {
        self.create_once_begun(user_id, once, db::Begin::Plain, work)
            .await
    }

    /// [`create_once`](Self::create_once) in a transaction begun as `begin` says.
    pub async fn create_once_begun<T, F, R>(
        &self,
        user_id: String,
        once: Once<R>,
        begin: db::Begin,
        work: F,
    ) -> Result<Answer, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Send + 'static,
        R: FnOnce(&T) -> Result<Answer, AppError> + Send + 'static,
    {
        let Once {
            key,
            render,
            withheld,
        } = once;
        let now = self.now_micros();
        let retry = key.clone().map(|k| (user_id.clone(), k));
        let first = self
            .in_transaction_begun(begin, move |conn| {
                if let Some(k) = &key
                    && let Some(prev) = db::idempotency::find(conn, &user_id, &k.key)?
                {
                    return replay(prev, &k.fingerprint);
                }
                let created = work(conn)?;
                let answer = render(&created)?;
                if let Some(k) = &key {
                    let row = IdempotencyRow {
                        user_id: user_id.clone(),
                        idem_key: k.key.clone(),
                        body_hash: k.fingerprint.clone(),
                        response_status: i32::from(answer.status),
                        response_body: without(&answer.body, withheld)?,
                        created_at: now,
                        response_headers: serde_json::to_string(&answer.headers)
                            .map_err(AppError::internal)?,
                    };
                    db::idempotency::insert(conn, &row).map_err(|e| {
                        if db::is_unique_violation(&e) {
                            AppError::conflict(
                                RACE,
                                crate::text!(
                                    "使用此键的请求刚刚已被应答",
                                    "a request with this key was just answered"
                                ),
                            )
                        } else {
                            e.into()
                        }
                    })?;
                }
                Ok(answer)
            })
            .await;
        match (first, retry) {
            (Err(conflict @ AppError::Conflict { .. }), Some((user, k))) => {
                let lookup = k.key.clone();
                let prev = self
                    .with_conn(move |conn| Ok(db::idempotency::find(conn, &user, &lookup)?))
                    .await?;
                match prev {
                    Some(prev) => replay(prev, &k.fingerprint),
                    None => Err(conflict),
                }
            }
            (other, _) => other,
        }
    }
}

/// The stored answer, when the request is the same; the key with another request is refused.
fn replay(prev: IdempotencyRow, fingerprint: &str) -> Result<Answer, AppError> {
    if prev.body_hash != fingerprint {
        return Err(AppError::Validation(vec![FieldError::new(
            "Idempotency-Key",
            "idempotency_key_reused",
            crate::text!(
                "此 Idempotency-Key 已用于另一请求",
                "this key was used with another request"
            ),
        )]));
    }
    let headers: Vec<(String, String)> = serde_json::from_str(&prev.response_headers)
        .map_err(|e| AppError::internal_while("stored idempotent answer headers", e))?;
    Ok(Answer {
        status: u16::try_from(prev.response_status).unwrap_or(201),
        headers,
        body: prev.response_body,
        replayed: true,
    })
}

/// The body with the withheld top-level fields set to null.
fn without(body: &str, withheld: &[&str]) -> Result<String, AppError> {
    if withheld.is_empty() {
        return Ok(body.to_string());
    }
    let mut v: Value = serde_json::from_str(body).map_err(AppError::internal)?;
    if let Value::Object(map) = &mut v {
        for field in withheld {
            if let Some(slot) = map.get_mut(*field) {
                *slot = Value::Null;
            }
        }
    }
    Ok(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_withheld_secret_is_stored_as_null_and_the_rest_kept() {
        let stored = without(
            r#"{"client":{"id":"x"},"client_secret":"s3cr3t"}"#,
            &["client_secret"],
        )
        .expect("json");
        assert!(!stored.contains("s3cr3t"));
        let v: Value = serde_json::from_str(&stored).expect("json");
        assert_eq!(v["client_secret"], Value::Null);
        assert_eq!(v["client"]["id"], "x");
    }

    #[test]
    fn a_replay_with_another_fingerprint_is_refused_and_the_same_one_answered() {
        let row = IdempotencyRow {
            user_id: "u".into(),
            idem_key: "k".into(),
            body_hash: "abc".into(),
            response_status: 201,
            response_body: "{}".into(),
            created_at: chrono::NaiveDateTime::MIN,
            response_headers: r#"[["Location","/api/v1/reviews/1"]]"#.into(),
        };
        assert!(matches!(
            replay(row.clone(), "other"),
            Err(AppError::Validation(_))
        ));
        let a = replay(row, "abc").expect("same request");
        assert!(a.replayed);
        assert_eq!(a.status, 201);
        assert_eq!(
            a.headers,
            vec![("Location".to_string(), "/api/v1/reviews/1".to_string())]
        );
    }
}
