//! The `gongkai` command: a thin shell over the library.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gongkai::config::Settings;
use gongkai::startup::Application;

/// jemalloc gives freed pages back to the system soon after a burst (.cargo/config.toml,
/// docs/ARCHITECTURE.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "gongkai",
    version,
    about = "Government information disclosure applications and the yearly report"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// Fill the database with realistic synthetic applications (demos, benchmarks).
    Seed {
        /// Agencies to create below the root.
        #[arg(long, default_value_t = 5)]
        agencies: u32,
        /// Applications to create.
        #[arg(long, default_value_t = 1000)]
        requests: u64,
        /// Receipt years, e.g. 2021-2026.
        #[arg(long, default_value = "2021-2026")]
        years: String,
        /// Random seed, for a repeatable data set.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// Replace the generated access-token secret kept in the database (when
    /// `auth.jwt_secret` is not configured). Restart every process afterwards: tokens signed
    /// with the old secret are then refused; refresh tokens still give new ones.
    RotateTokenSecret,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user. The password is asked for on a terminal, or read from the first line of
    /// standard input.
    Create {
        /// Code of the user's agency.
        #[arg(long)]
        agency: String,
        #[arg(long)]
        username: String,
        /// clerk, approver, admin or supervisor.
        #[arg(long)]
        role: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Openapi = command {
        print!("{}", gongkai::http::openapi_json());
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gongkai: {e}");
            return ExitCode::from(2);
        }
    };
    gongkai::telemetry::init(&settings.log);
    let result = match command {
        Command::Serve => serve(settings),
        Command::Migrate => migrate(&settings),
        Command::RotateTokenSecret => rotate_token_secret(&settings),
        Command::User {
            command:
                UserCommand::Create {
                    agency,
                    username,
                    role,
                },
        } => create_user(&settings, &agency, &username, &role),
        Command::Seed {
            agencies,
            requests,
            years,
            seed,
        } => seed_db(&settings, agencies, requests, &years, seed),
        Command::Openapi => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gongkai: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let bind = settings.server.bind.clone();
        let db = gongkai::db::redact_url(&settings.database.url);
        let app = Application::build(settings).await?;
        tracing::info!(bind = %bind, port = app.port(), database = %db, "gongkai listening; docs at /docs");
        app.run_until_stopped().await?;
        tracing::info!("stopped");
        Ok(())
    })
}

fn seed_db(
    settings: &Settings,
    agencies: u32,
    requests: u64,
    years: &str,
    seed: u64,
) -> anyhow::Result<()> {
    let (a, b) = years
        .split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse::<i32>().ok()?, b.trim().parse::<i32>().ok()?)))
        .filter(|(a, b)| a <= b && *a >= 2019 && *b <= 2100)
        .ok_or_else(|| anyhow::anyhow!("--years must look like 2021-2026"))?;
    // Start the application once so the database is migrated and bootstrapped.
    let db = gongkai::db::connect(&settings.database, settings.database.run_migrations)?;
    let mut conn = db.get()?;
    let clock = gongkai::clock::Clock::from_settings(settings)?;
    gongkai::app::calendar::load_missing(&mut conn, clock.now_micros(), &settings.calendar.dir)?;
    gongkai::app::bootstrap::run(&mut conn, &clock, &settings.bootstrap)?;
    let cal = gongkai::app::calendar::CalendarCache::default().current(&mut conn)?;
    let started = std::time::Instant::now();
    let report = gongkai::app::seed::run(
        &mut conn,
        &cal,
        &gongkai::app::seed::SeedOptions {
            agencies,
            requests,
            years: (a, b),
            rng_seed: seed,
            today: clock.today(),
            now: clock.now_micros(),
        },
    )?;
    println!(
        "seeded {} agencies, {} applications, {} events in {:.1} s",
        report.agencies,
        report.requests,
        report.events,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let target = gongkai::db::DbTarget::parse(&settings.database.url)?;
    let manager =
        gongkai::db::ConnectionManager::new(target, settings.database.sqlite_busy_timeout_ms);
    let mut conn = manager.connect_once()?;
    let applied = gongkai::db::run_migrations(&mut conn)?;
    if applied.is_empty() {
        println!("the database is up to date");
    }
    for v in applied {
        println!("applied {v}");
    }
    Ok(())
}

fn rotate_token_secret(settings: &Settings) -> anyhow::Result<()> {
    anyhow::ensure!(
        settings.auth.jwt_secret.is_empty(),
        "auth.jwt_secret is configured: rotate it where it is set (GONGKAI__AUTH__JWT_SECRET), not in the database"
    );
    let target = gongkai::db::DbTarget::parse(&settings.database.url)?;
    let manager =
        gongkai::db::ConnectionManager::new(target, settings.database.sqlite_busy_timeout_ms);
    let mut conn = manager.connect_once()?;
    gongkai::db::run_migrations(&mut conn)?;
    let now = gongkai::clock::Clock::from_settings(settings)?.now_micros();
    let replaced = gongkai::auth::secret::rotate(&mut conn, now)?;
    println!(
        "{}; restart every gongkai process on this database: access tokens signed with the old one are then refused",
        if replaced {
            "the access-token secret was replaced"
        } else {
            "an access-token secret was generated"
        }
    );
    Ok(())
}

fn create_user(
    settings: &Settings,
    agency: &str,
    username: &str,
    role: &str,
) -> anyhow::Result<()> {
    let password = if std::io::stdin().is_terminal() {
        let p = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Again: ")?;
        anyhow::ensure!(p == again, "the passwords differ");
        p
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    let clock = gongkai::clock::Clock::from_settings(settings)?;
    let db = gongkai::db::connect(&settings.database, settings.database.run_migrations)?;
    let mut conn = db.get()?;
    // An empty database gets its root agency and admin first, as on the first `serve`.
    if let gongkai::app::bootstrap::Bootstrap::Created {
        generated_password: Some(p),
        ..
    } = gongkai::app::bootstrap::run(&mut conn, &clock, &settings.bootstrap)?
    {
        eprintln!("gongkai: first start. Log in as user `admin` with password: {p} (shown once)");
    }
    match gongkai::app::bootstrap::create_user_cli(
        &mut conn, &clock, agency, username, role, &password,
    ) {
        Ok(user) => {
            println!("created user {} ({})", user.username, user.id);
            Ok(())
        }
        Err(gongkai::app::AppError::Validation(errors)) => {
            let msgs: Vec<String> = errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect();
            anyhow::bail!("{}", msgs.join("; "))
        }
        Err(e) => anyhow::bail!("{e}"),
    }
}
