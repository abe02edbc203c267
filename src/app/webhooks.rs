//! Webhooks: subscriptions per agency subtree, and the dispatcher that sends the outbox.
//!
//! Each event writes one outbox row per matching subscription in its own transaction
//! ([`super::feed::publish`]), so an event is never lost nor sent for a rolled-back change.
//! Any number of processes run the dispatcher: a delivery is claimed with a lease before it
//! is sent, and only the earliest pending event of an application (per subscription) is ever
//! due, so one application's events arrive in order. A delivery is retried with doubling
//! waits until it succeeds or `max_attempts` is reached: at least once, possibly twice (a
//! receiver that answered after the lease ran out), so receivers de-duplicate by event id.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::agencies::visible_agency;
use super::idempotency::{Answer, Answering};
use super::{AppError, AppState, Page, Paged, RequestContext, audit};
use crate::clock::Clock;
use crate::config::WebhookSettings;
use crate::db::{self, feed::FeedRow, webhooks::SubscriptionRow};
use crate::domain::access::{Actor, Role};
use crate::domain::validation::{self, Errors, FieldError};

/// The entity types events are published for.
pub const ENTITIES: [&str; 4] = ["application", "review", "litigation", "report"];

/// Checks and normalises the event types a subscription takes: `*`, `<entity>.*` or
/// `<entity>.<action>`.
pub(crate) fn parse_event_types(types: &[String]) -> Result<String, FieldError> {
    if types.is_empty() {
        return Err(FieldError::new(
            "event_types",
            "required",
            crate::text!(
                "至少给出一种事件类型，或用 \"*\" 表示全部",
                "give at least one event type, or \"*\" for all"
            ),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for t in types {
        let t = t.trim();
        let ok = t == "*"
            || t.split_once('.').is_some_and(|(entity, action)| {
                ENTITIES.contains(&entity)
                    && (action == "*"
                        || (!action.is_empty()
                            && action.len() <= 64
                            && action.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')))
            });
        if !ok {
            return Err(FieldError::new(
                "event_types",
                "unknown_event_type",
                crate::text!(
                    "{t:?} 不是事件类型；请用 \"*\"、\"<entity>.*\" 或 \"<entity>.<action>\"，entity 为 application、review、litigation 或 report",
                    "{t:?} is not an event type; use \"*\", \"<entity>.*\" or \"<entity>.<action>\" with entity application, review, litigation or report"
                ),
            ));
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    Ok(out.join(","))
}

fn parse_url(url: &str, allow_http: bool) -> Result<String, FieldError> {
    let url = url.trim();
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        FieldError::new(
            "url",
            "invalid_url",
            crate::text!("不是合法的 URL：{e}", "not a URL: {e}"),
        )
    })?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => {
            return Err(FieldError::new(
                "url",
                "https_required",
                crate::text!(
                    "接收地址须使用 https://（仅在开启 webhooks.allow_http 时允许 http）",
                    "receivers must use https:// (plain http is allowed only when webhooks.allow_http is on)"
                ),
            ));
        }
        _ => {
            return Err(FieldError::new(
                "url",
                "invalid_url",
                crate::text!("URL 须为 https://", "the URL must be https://"),
            ));
        }
    }
    if parsed.host_str().is_none_or(str::is_empty) || url.len() > 2000 {
        return Err(FieldError::new(
            "url",
            "invalid_url",
            crate::text!(
                "URL 须含主机名，且不超过 2000 个字符",
                "the URL needs a host and at most 2000 characters"
            ),
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(FieldError::new(
            "url",
            "invalid_url",
            crate::text!(
                "URL 中不得含有用户名或密码；推送以签名验证",
                "credentials in the URL are not allowed; the signature authenticates deliveries"
            ),
        ));
    }
    Ok(parsed.to_string())
}

/// Whether the URL's host is one the settings allow to be internal (exactly as written).
fn internal_allowed(settings: &WebhookSettings, url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or("").trim_matches(['[', ']']);
    settings
        .allowed_internal_hosts
        .iter()
        .any(|h| h.trim().trim_matches(['[', ']']).eq_ignore_ascii_case(host))
}

/// The address a URL's host names when it is one in any spelling: the URL standard reads
/// `2130706433`, `0x7f000001` and `127.1` as 127.0.0.1 already; `localhost` and its subdomains
/// are loopback by definition (RFC 6761).
fn host_address(url: &reqwest::Url) -> Option<std::net::IpAddr> {
    match url.host()? {
        url::Host::Ipv4(a) => Some(a.into()),
        url::Host::Ipv6(a) => Some(a.into()),
        url::Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            if d == "localhost" || d.ends_with(".localhost") {
                Some(std::net::Ipv4Addr::LOCALHOST.into())
            } else {
                crate::netaddr::loose_ipv4(&d).map(Into::into)
            }
        }
    }
}

fn internal_receiver(what: &str) -> FieldError {
    FieldError::new(
        "url",
        "internal_receiver",
        crate::text!(
            "接收地址 {what} 是内部地址（回环、私有、链路本地等），不能作为推送目标（见 webhooks.allowed_internal_hosts）",
            "the receiver {what} is an internal address (loopback, private, link-local, …) and cannot receive webhooks (see webhooks.allowed_internal_hosts)"
        ),
    )
}

/// Refuses a receiver on an internal address: written as one, or a name resolving to one.
/// A name that does not resolve now is accepted (each delivery checks the addresses it
/// connects to, see [`GuardedResolver`]).
async fn check_receiver(settings: &WebhookSettings, url: &str) -> Result<(), FieldError> {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return Ok(());
    };
    if internal_allowed(settings, &parsed) {
        return Ok(());
    }
    if let Some(ip) = host_address(&parsed) {
        return if crate::netaddr::is_internal(ip) {
            Err(internal_receiver(&ip.to_string()))
        } else {
            Ok(())
        };
    }
    let host = parsed.host_str().unwrap_or("").to_string();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let lookup = tokio::time::timeout(
        Duration::from_secs(3),
        tokio::net::lookup_host((host.clone(), port)),
    )
    .await;
    if let Ok(Ok(addrs)) = lookup
        && let Some(bad) = addrs
            .map(|a| a.ip())
            .find(|ip| crate::netaddr::is_internal(*ip))
    {
        // The address it resolved to is not told: the answer must not map the inside.
        tracing::info!(host = %host, address = %bad, "webhook receiver refused: internal address");
        return Err(internal_receiver(&host));
    }
    Ok(())
}

/// The dispatcher's resolver: a receiver's name resolves only to addresses that are not
/// internal (unless the host is allowed), so a name that changed its answer since the
/// subscription — or answers differently each time — cannot steer a delivery inside. The
/// connection uses exactly the addresses this returns.
struct GuardedResolver {
    allowed: Vec<String>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        let allowed = self
            .allowed
            .iter()
            .any(|h| h.trim().eq_ignore_ascii_case(&host));
        Box::pin(async move {
            let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allowed || !crate::netaddr::is_internal(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves only to internal addresses").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

fn new_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("whsec_{}", hex::encode(bytes))
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable_hmac());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

// HMAC takes keys of any length; this cannot happen.
fn unreachable_hmac() -> Hmac<Sha256> {
    #[allow(clippy::expect_used)]
    Hmac::<Sha256>::new_from_slice(b"k").expect("HMAC accepts any key length")
}

pub struct CreateSubscription {
    pub agency_id: Option<String>,
    pub url: String,
    pub event_types: Vec<String>,
    pub secret: Option<String>,
}

pub struct PatchSubscription {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub if_match: Option<i32>,
}

fn may_manage(actor: &Actor, agency: &db::agencies::AgencyRow) -> Result<(), AppError> {
    if actor.client_scopes().is_some() {
        return Err(AppError::Forbidden {
            code: "forbidden",
            detail: crate::text!(
                "系统客户端不能管理推送订阅",
                "clients cannot manage webhooks"
            ),
        });
    }
    Ok(actor.may_administer(&agency.id, &agency.path)?)
}

pub async fn create(
    state: &AppState,
    actor: Actor,
    input: CreateSubscription,
    ctx: RequestContext,
    once: Answering<CreatedWebhook>,
) -> Result<Answer, AppError> {
    let clock = state.clock;
    let allow_http = state.settings.webhooks.allow_http;
    let mut errors = Errors::new();
    let url = errors.take(parse_url(&input.url, allow_http));
    let types = errors.take(parse_event_types(&input.event_types));
    let secret = match &input.secret {
        None => Some(new_secret()),
        Some(s) => match validation::text_exact("secret", s, 200, false) {
            Ok(s) if s.chars().count() >= 16 => Some(s),
            Ok(_) => {
                errors.push(FieldError::new(
                    "secret",
                    "too_short",
                    crate::text!("至少 16 个字符", "at least 16 characters"),
                ));
                None
            }
            Err(e) => {
                errors.push(e);
                None
            }
        },
    };
    // Resolving names is for those who may subscribe at all (no look-ups for anyone else).
    if let Some(u) = &url
        && actor.client_scopes().is_none()
        && actor.has(Role::Admin)
        && let Err(e) = check_receiver(&state.settings.webhooks, u).await
    {
        errors.push(e);
    }
    errors.into_result()?;
    let (Some(url), Some(types), Some(secret)) = (url, types, secret) else {
        return Err(AppError::bug("validated fields missing"));
    };
    let once = once.through(|row: &SubscriptionRow| CreatedWebhook {
        secret: row.secret.clone(),
        webhook: row.clone().into(),
    });
    state
        .create_once(actor.user_id.clone(), once, move |conn| {
            let agency_id = input.agency_id.unwrap_or_else(|| actor.agency_id.clone());
            let agency = visible_agency(conn, &actor, &agency_id)?;
            may_manage(&actor, &agency)?;
            let now = clock.now_micros();
            let row = SubscriptionRow {
                id: uuid::Uuid::new_v4().to_string(),
                agency_id: agency.id.clone(),
                url,
                secret,
                event_types: types,
                enabled: true,
                version: 1,
                created_by: Some(actor.recorded_as()),
                created_at: now,
                updated_at: now,
            };
            db::webhooks::insert(conn, &row)?;
            audit(
                conn,
                now,
                Some(&actor),
                Some(&agency.id),
                ("webhook", &row.id),
                "webhook_created",
                json!({"url": row.url, "event_types": row.event_types}),
                &ctx,
            )?;
            Ok(row)
        })
        .await
}

fn managed(
    conn: &mut db::DbConnection,
    actor: &Actor,
    id: &str,
) -> Result<SubscriptionRow, AppError> {
    let sub = db::webhooks::find(conn, id)?.ok_or(AppError::NotFound(crate::text!(
        "推送订阅（webhook）",
        "webhook"
    )))?;
    let agency = visible_agency(conn, actor, &sub.agency_id)
        .map_err(|_| AppError::NotFound(crate::text!("推送订阅（webhook）", "webhook")))?;
    may_manage(actor, &agency)?;
    Ok(sub)
}

/// A subscription as the app layer hands it out (no secret).
#[derive(Debug, Clone)]
pub struct WebhookView {
    pub id: String,
    pub agency_id: String,
    pub url: String,
    /// Comma-separated patterns, as stored.
    pub event_types: String,
    pub enabled: bool,
    pub version: i32,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

impl From<SubscriptionRow> for WebhookView {
    fn from(r: SubscriptionRow) -> Self {
        WebhookView {
            id: r.id,
            agency_id: r.agency_id,
            url: r.url,
            event_types: r.event_types,
            enabled: r.enabled,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A new subscription with its signing secret, shown this once.
pub struct CreatedWebhook {
    pub webhook: WebhookView,
    pub secret: String,
}

/// One delivery attempt with its event's number (cursor) and type.
#[derive(Debug, Clone)]
pub struct DeliveryView {
    pub id: String,
    pub event_id: String,
    pub event_seq: Option<i64>,
    pub event_type: String,
    pub attempt: i32,
    pub attempted_at: chrono::NaiveDateTime,
    pub succeeded: bool,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

impl From<db::webhooks::LoggedDelivery> for DeliveryView {
    fn from((r, event_seq, event_type): db::webhooks::LoggedDelivery) -> Self {
        DeliveryView {
            id: r.id,
            event_id: r.event_id,
            event_seq,
            event_type,
            attempt: r.attempt,
            attempted_at: r.attempted_at,
            succeeded: r.succeeded,
            status_code: r.status_code,
            error: r.error,
            duration_ms: r.duration_ms,
        }
    }
}

/// A subscription with its outbox counts by status.
pub struct SubscriptionView {
    pub row: WebhookView,
    pub counts: Vec<(String, i64)>,
}

pub async fn get(state: &AppState, actor: Actor, id: String) -> Result<SubscriptionView, AppError> {
    state
        .with_conn(move |conn| {
            let row = managed(conn, &actor, &id)?;
            let counts = db::webhooks::outbox_counts(conn, &row.id)?;
            Ok(SubscriptionView {
                row: row.into(),
                counts,
            })
        })
        .await
}

pub async fn list(
    state: &AppState,
    actor: Actor,
    page: Page,
) -> Result<Paged<WebhookView>, AppError> {
    if actor.client_scopes().is_some() || !actor.has(Role::Admin) {
        return Err(AppError::Forbidden {
            code: "forbidden",
            detail: crate::text!("推送订阅由管理员管理", "webhooks are managed by admins"),
        });
    }
    state
        .with_conn(move |conn| {
            let (items, total) = db::webhooks::list_in_subtree(
                conn,
                &actor.agency_path,
                page.offset(),
                page.per_page,
            )?;
            Ok(Paged { items, page, total })
        })
        .await
        .map(|p| p.map(WebhookView::from))
}

pub async fn patch(
    state: &AppState,
    actor: Actor,
    id: String,
    input: PatchSubscription,
    ctx: RequestContext,
) -> Result<WebhookView, AppError> {
    let clock = state.clock;
    let allow_http = state.settings.webhooks.allow_http;
    let mut errors = Errors::new();
    let url = match &input.url {
        Some(u) => errors.take(parse_url(u, allow_http)),
        None => None,
    };
    let types = match &input.event_types {
        Some(t) => errors.take(parse_event_types(t)),
        None => None,
    };
    // Resolving names is for those who may subscribe at all (no look-ups for anyone else).
    if let Some(u) = &url
        && actor.client_scopes().is_none()
        && actor.has(Role::Admin)
        && let Err(e) = check_receiver(&state.settings.webhooks, u).await
    {
        errors.push(e);
    }
    errors.into_result()?;
    state
        .in_transaction(move |conn| {
            let mut sub = managed(conn, &actor, &id)?;
            let expected = input.if_match.ok_or(AppError::PreconditionRequired)?;
            if expected != sub.version {
                return Err(AppError::PreconditionFailed);
            }
            let mut changes = serde_json::Map::new();
            if let Some(u) = url {
                changes.insert("url".into(), json!({"before": sub.url, "after": u}));
                sub.url = u;
            }
            if let Some(t) = types {
                changes.insert(
                    "event_types".into(),
                    json!({"before": sub.event_types, "after": t}),
                );
                sub.event_types = t;
            }
            if let Some(e) = input.enabled {
                changes.insert("enabled".into(), json!({"before": sub.enabled, "after": e}));
                sub.enabled = e;
            }
            sub.version += 1;
            sub.updated_at = clock.now_micros();
            if !db::webhooks::update_if_version(conn, &sub, expected)? {
                return Err(AppError::PreconditionFailed);
            }
            audit(
                conn,
                clock.now_micros(),
                Some(&actor),
                Some(&sub.agency_id),
                ("webhook", &sub.id),
                "webhook_updated",
                serde_json::Value::Object(changes),
                &ctx,
            )?;
            Ok(sub)
        })
        .await
        .map(WebhookView::from)
}

pub async fn deliveries(
    state: &AppState,
    actor: Actor,
    id: String,
    page: Page,
) -> Result<Paged<DeliveryView>, AppError> {
    state
        .with_conn(move |conn| {
            let sub = managed(conn, &actor, &id)?;
            let (items, total) =
                db::webhooks::deliveries(conn, &sub.id, page.offset(), page.per_page)?;
            Ok(Paged { items, page, total })
        })
        .await
        .map(|p| p.map(DeliveryView::from))
}

/// Sends a subscription's given-up deliveries again (after the receiver was fixed), in their
/// original order per application. Returns how many were queued.
pub async fn retry_failed(
    state: &AppState,
    actor: Actor,
    id: String,
    ctx: RequestContext,
) -> Result<usize, AppError> {
    let clock = state.clock;
    state
        .in_transaction(move |conn| {
            let sub = managed(conn, &actor, &id)?;
            let now = clock.now_micros();
            let n = db::webhooks::requeue_failed(conn, &sub.id, now)?;
            audit(
                conn,
                now,
                Some(&actor),
                Some(&sub.agency_id),
                ("webhook", &sub.id),
                "webhook_failed_requeued",
                json!({"deliveries": n}),
                &ctx,
            )?;
            Ok(n)
        })
        .await
}

/// Renders an event as the body of a delivery (the feed's JSON form, from the HTTP layer).
pub type Render = Arc<dyn Fn(&super::feed::FeedEventView) -> Vec<u8> + Send + Sync>;

/// The wait before attempt `attempt + 1`, after `attempt` failures: doubling from the base,
/// capped.
pub fn backoff(settings: &WebhookSettings, failures: i32) -> Duration {
    let exp = u32::try_from(failures.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let ms = settings.backoff_base_ms.saturating_mul(1u64 << exp);
    Duration::from_millis(ms).min(Duration::from_secs(settings.backoff_max_secs))
}

/// Sends due deliveries until the process ends; each process may run one.
pub async fn run_dispatcher(state: AppState, render: Render) {
    let settings = state.settings.webhooks.clone();
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(settings.timeout_secs))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("gongkai-webhooks/", env!("CARGO_PKG_VERSION")))
        // No proxy from the environment: a proxy would resolve the receiver itself, past the
        // guarded resolver.
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver {
            allowed: settings.allowed_internal_hosts.clone(),
        }))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook dispatcher cannot start its HTTP client");
            return;
        }
    };
    loop {
        match dispatch_once(&state, &client, &render).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "webhook dispatcher: outbox not readable"),
        }
        tokio::time::sleep(Duration::from_millis(settings.poll_interval_ms)).await;
    }
}

/// One round: claim what is due, send it all at once, record each outcome. Returns how many
/// were sent.
pub async fn dispatch_once(
    state: &AppState,
    client: &reqwest::Client,
    render: &Render,
) -> Result<usize, AppError> {
    let clock = state.clock;
    let settings = state.settings.webhooks.clone();
    let lease = chrono::Duration::seconds(i64::try_from(settings.lease_secs).unwrap_or(60));
    let limit = settings.batch_size;
    let claimed = state
        .with_conn(move |conn| {
            super::feed::number(conn)?;
            let now = clock.now_micros();
            let due = db::webhooks::due(conn, now, limit)?;
            let mut won = Vec::new();
            for d in due {
                if db::webhooks::claim(conn, &d.subscription_id, &d.event_id, now, now + lease)? {
                    won.push(d);
                }
            }
            let sub_ids: Vec<String> = won.iter().map(|d| d.subscription_id.clone()).collect();
            let event_ids: Vec<String> = won.iter().map(|d| d.event_id.clone()).collect();
            let (subs, events) = db::webhooks::claimed_parts(conn, &sub_ids, &event_ids)?;
            Ok(won
                .into_iter()
                .filter_map(|d| {
                    let sub = subs.get(&d.subscription_id)?.clone();
                    let ev = events.get(&d.event_id)?.clone();
                    Some((sub, ev, d.attempts + 1))
                })
                .collect::<Vec<_>>())
        })
        .await?;
    let n = claimed.len();
    let sends = claimed.into_iter().map(|(sub, ev, attempt)| {
        let client = client.clone();
        let body = render(&super::feed::FeedEventView::from(ev.clone()));
        let settings = settings.clone();
        async move { send(&client, &settings, clock, &sub, &ev, attempt, body).await }
    });
    let outcomes = futures_util::future::join_all(sends).await;
    if outcomes.is_empty() {
        // Nothing was due: no transaction (an empty one would cost a round trip per poll).
        return Ok(0);
    }
    // The outbox rows and the delivery log change together.
    state
        .in_transaction(move |conn| {
            for o in &outcomes {
                db::webhooks::record(conn, o)?;
            }
            Ok(())
        })
        .await?;
    Ok(n)
}

async fn send(
    client: &reqwest::Client,
    settings: &WebhookSettings,
    clock: Clock,
    sub: &SubscriptionRow,
    ev: &FeedRow,
    attempt: i32,
    body: Vec<u8>,
) -> db::webhooks::Outcome {
    let started = Instant::now();
    let timestamp = clock.unix();
    // An address written in the URL is not resolved: judge it here (the subscription was
    // checked, but the settings may have changed since).
    let literal = reqwest::Url::parse(&sub.url).ok().and_then(|u| {
        let ip = host_address(&u)?;
        (crate::netaddr::is_internal(ip) && !internal_allowed(settings, &u)).then_some(ip)
    });
    if let Some(ip) = literal {
        let at = clock.now_micros();
        return db::webhooks::Outcome {
            subscription_id: sub.id.clone(),
            event_id: ev.id.clone(),
            attempt,
            succeeded: false,
            status_code: None,
            error: Some(format!(
                "the receiver {ip} is an internal address: not sent"
            )),
            duration_ms: 0,
            at,
            // Retrying cannot help: given up now (`retry-failed` requeues it once the host is
            // listed in webhooks.allowed_internal_hosts).
            retry_at: None,
        };
    }
    let result = client
        .post(&sub.url)
        .header("Content-Type", "application/json")
        .header("Gongkai-Event-Id", &ev.id)
        .header("Gongkai-Event-Type", &ev.event_type)
        .header("Gongkai-Delivery-Attempt", attempt.to_string())
        .header(
            "Gongkai-Signature",
            signature(&sub.secret, timestamp, &body),
        )
        .body(body)
        .send()
        .await;
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let (succeeded, status_code, error) = match result {
        Ok(r) if r.status().is_success() => (true, Some(i32::from(r.status().as_u16())), None),
        Ok(r) => (
            false,
            Some(i32::from(r.status().as_u16())),
            Some(format!("the receiver answered {}", r.status())),
        ),
        Err(e) => (false, None, Some(describe(&e))),
    };
    let at = clock.now_micros();
    let retry_at = (!succeeded && attempt < settings.max_attempts).then(|| {
        at + chrono::Duration::from_std(backoff(settings, attempt))
            .unwrap_or_else(|_| chrono::Duration::hours(1))
    });
    if !succeeded {
        tracing::info!(subscription = %sub.id, event = ev.seq, attempt, error = ?error, "webhook delivery failed");
    }
    db::webhooks::Outcome {
        subscription_id: sub.id.clone(),
        event_id: ev.id.clone(),
        attempt,
        succeeded,
        status_code,
        error,
        duration_ms,
        at,
        retry_at,
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "the receiver did not answer in time".into()
    } else if e.is_connect() {
        "cannot connect to the receiver".into()
    } else {
        format!("delivery failed: {e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> WebhookSettings {
        WebhookSettings {
            enabled: true,
            poll_interval_ms: 1000,
            batch_size: 50,
            timeout_secs: 10,
            max_attempts: 15,
            backoff_base_ms: 10_000,
            backoff_max_secs: 7200,
            lease_secs: 60,
            allow_http: false,
            allowed_internal_hosts: vec![],
        }
    }

    #[test]
    fn retries_wait_twice_as_long_each_time_up_to_the_cap() {
        let s = settings();
        assert_eq!(backoff(&s, 1), Duration::from_secs(10));
        assert_eq!(backoff(&s, 2), Duration::from_secs(20));
        assert_eq!(backoff(&s, 5), Duration::from_secs(160));
        assert_eq!(backoff(&s, 14), Duration::from_secs(7200));
        assert_eq!(backoff(&s, 1000), Duration::from_secs(7200));
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // RFC 4231 test case 2 shape: key "Jefe"; the message here is "1700000000.{}".
        let sig = signature("Jefe", 1_700_000_000, b"{}");
        let mut mac =
            Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap_or_else(|_| unreachable_hmac());
        mac.update(b"1700000000.{}");
        let expected = hex::encode(mac.finalize().into_bytes());
        assert_eq!(sig, format!("t=1700000000,v1={expected}"));
        assert_ne!(signature("other", 1_700_000_000, b"{}"), sig);
        assert_ne!(signature("Jefe", 1_700_000_001, b"{}"), sig);
    }

    #[tokio::test]
    async fn the_dispatchers_resolver_never_answers_an_internal_address() {
        use reqwest::dns::Resolve;
        use std::str::FromStr;
        let guarded = GuardedResolver { allowed: vec![] };
        let name = reqwest::dns::Name::from_str("localhost").unwrap_or_else(|e| panic!("{e}"));
        assert!(
            guarded.resolve(name).await.is_err(),
            "localhost was let through"
        );
        let allowed = GuardedResolver {
            allowed: vec!["localhost".into()],
        };
        let name = reqwest::dns::Name::from_str("localhost").unwrap_or_else(|e| panic!("{e}"));
        let addrs: Vec<_> = allowed
            .resolve(name)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty());
    }

    #[test]
    fn event_types_and_urls_are_checked() {
        assert_eq!(
            parse_event_types(&["application.*".into(), "report.report_published".into()]),
            Ok("application.*,report.report_published".into())
        );
        assert!(parse_event_types(&[]).is_err());
        assert!(parse_event_types(&["user.created".into()]).is_err());
        assert!(parse_event_types(&["application.".into()]).is_err());
        assert!(parse_url("https://example.org/hook", false).is_ok());
        assert!(parse_url("http://127.0.0.1:9/hook", false).is_err());
        assert!(parse_url("http://127.0.0.1:9/hook", true).is_ok());
        assert!(parse_url("ftp://example.org/", true).is_err());
        assert!(parse_url("https://user:pw@example.org/", false).is_err());
    }
}
