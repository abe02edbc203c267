//! The application as a value: `Application::build` connects, migrates, bootstraps, binds, and
//! reports the real port, so tests start the same thing on port 0.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{HttpServer, web};

use crate::app::AppState;
use crate::app::bootstrap::{self, Bootstrap};
use crate::auth::jwt::TokenKeys;
use crate::config::Settings;
use crate::db;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("startup failed: {0}")]
    Other(String),
}

pub struct Application {
    port: u16,
    server: Server,
    pub state: AppState,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        settings.validate()?;
        let tz = settings.timezone()?;
        let clock = crate::clock::Clock::from_settings(&settings)?;
        if let Some(day) = clock.pinned_date() {
            tracing::warn!(today = %day, now = %clock.now(), "clock.today is set: the service runs as if today were this date");
        }
        let database = {
            let s = settings.database.clone();
            let migrate = s.run_migrations;
            tokio::task::spawn_blocking(move || db::connect(&s, migrate))
                .await
                .map_err(|e| StartupError::Other(e.to_string()))??
        };
        // Without a configured secret, the one generated on first start and kept in the
        // database (every process on it shares it).
        let mut settings = settings;
        if settings.auth.jwt_secret.is_empty() {
            let db = database.clone();
            let now = clock.now_micros();
            settings.auth.jwt_secret = tokio::task::spawn_blocking(move || {
                let mut conn = db.get()?;
                crate::auth::secret::resolve("", &mut conn, now).map_err(db::DbError::from)
            })
            .await
            .map_err(|e| StartupError::Other(e.to_string()))?
            .map_err(|e| StartupError::Other(format!("cannot keep the token secret: {e}")))?;
        }
        let tokens =
            TokenKeys::new(&settings.auth).map_err(|e| StartupError::Other(e.to_string()))?;
        let federation =
            crate::auth::federated::FederatedIssuers::load(&settings.auth.trusted_issuers)
                .map_err(|e| StartupError::Other(format!("auth.trusted_issuers: {e}")))?;
        let documents =
            crate::blobstore::BlobStore::open(&settings.documents.dir).map_err(|e| {
                StartupError::Other(format!(
                    "documents.dir {}: {e}",
                    settings.documents.dir.display()
                ))
            })?;
        let principals = crate::app::principals::PrincipalCache::watched(&database)
            .map_err(|e| StartupError::Other(format!("cannot start the change watcher: {e}")))?;
        let calendar = crate::app::calendar::CalendarCache::watched_by(principals.clone());
        let agency_places = crate::app::agency_places::AgencyPlaces::watched_by(principals.clone());
        let state = AppState {
            agency_places,
            principals,
            db: database,
            tokens,
            federation,
            settings: Arc::new(settings.clone()),
            tz,
            calendar,
            clock,
            documents,
            executor: crate::app::executor::DbExecutor::new(
                settings.database.pool_max_size as usize,
            )
            .map_err(|e| StartupError::Other(format!("cannot start the database threads: {e}")))?,
        };
        initialise(&state).await?;

        let listener =
            TcpListener::bind(&settings.server.bind).map_err(|source| StartupError::Bind {
                addr: settings.server.bind.clone(),
                source,
            })?;
        let port = listener
            .local_addr()
            .map_err(|e| StartupError::Other(e.to_string()))?
            .port();
        let data = web::Data::new(state.clone());
        let mut server = HttpServer::new(move || crate::http::build_app(data.clone()))
            .shutdown_timeout(settings.server.shutdown_timeout_secs);
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        let server = server
            .listen(listener)
            .map_err(|source| StartupError::Bind {
                addr: settings.server.bind.clone(),
                source,
            })?
            .run();
        tokio::spawn(crate::app::requests::fill_search_text(state.clone()));
        if settings.reminders.enabled {
            tokio::spawn(crate::app::reminders::run_scheduler(state.clone()));
        }
        if settings.webhooks.enabled {
            let render: crate::app::webhooks::Render = Arc::new(crate::http::feed::delivery_body);
            tokio::spawn(crate::app::webhooks::run_dispatcher(state.clone(), render));
        }
        Ok(Application {
            port,
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until stopped; SIGTERM and Ctrl-C stop it gracefully (actix handles both).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }

    pub fn into_server(self) -> Server {
        self.server
    }
}

/// First-start work: the root agency and admin user.
async fn initialise(state: &AppState) -> Result<(), StartupError> {
    let clock = state.clock;
    let bootstrap_settings = state.settings.bootstrap.clone();
    let dir = state.settings.calendar.dir.clone();
    let loaded = state
        .with_conn(move |conn| crate::app::calendar::load_missing(conn, clock.now_micros(), &dir))
        .await
        .map_err(|e| StartupError::Other(format!("calendar: {e}")))?;
    if !loaded.is_empty() {
        tracing::info!(years = ?loaded, "loaded calendar years from files");
    }
    let outcome = state
        .with_conn(move |conn| bootstrap::run(conn, &clock, &bootstrap_settings))
        .await
        .map_err(|e| StartupError::Other(format!("bootstrap: {e}")))?;
    if let Bootstrap::Created {
        agency_code,
        generated_password,
    } = outcome
    {
        tracing::info!(agency_code = %agency_code, "created the root agency and the user admin");
        if let Some(p) = generated_password {
            // Printed once, on the console only, never to the log.
            eprintln!(
                "\n  gongkai: first start. Log in as user `admin` with password: {p}\n  \
                 (shown once; set GONGKAI__BOOTSTRAP__ADMIN_PASSWORD to choose it)\n"
            );
        }
    }
    Ok(())
}
