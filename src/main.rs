//! The `gongkai` command: a thin shell over the library.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gongkai::config::Settings;
use gongkai::startup::Application;

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
        Command::User {
            command:
                UserCommand::Create {
                    agency,
                    username,
                    role,
                },
        } => create_user(&settings, &agency, &username, &role),
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
    let db = gongkai::db::connect(&settings.database, settings.database.run_migrations)?;
    let mut conn = db.get()?;
    match gongkai::app::bootstrap::create_user_cli(&mut conn, agency, username, role, &password) {
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
