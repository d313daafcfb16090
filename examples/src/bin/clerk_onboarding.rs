//! The Clerk onboarding example: the whole product in one command.
//!
//! - `sync-user-from-clerk`, `update-user-from-clerk`, `delete-user-from-clerk` keep the
//!   application's `users` table (SQLite at `APP_DATABASE_URL`, default `sqlite:app.db`) in step
//!   with Clerk.
//! - `send-welcome-email` sends the welcome email at sign-up (fan-out beside the sync).
//! - `onboarding-emails` sleeps `TRIAL_OFFER_DELAY` (default `3 days`), then sends the trial
//!   offer; a `clerk/user.deleted` for the same user cancels it.
//!
//! Run it:
//!
//! ```text
//! cargo run -p hookflow-examples --bin clerk-onboarding
//! ```
//!
//! then, in another terminal, send a signed test webhook and open http://127.0.0.1:8288/:
//!
//! ```text
//! cargo run -p hookflow --features cli --bin hookflow -- clerk send user.created
//! ```
//!
//! With `--inngest`, the same functions run under an Inngest server instead of the built-in
//! engine: the app serves them at `/api/inngest` and syncs with the server named by Inngest's
//! variables (`INNGEST_DEV=http://127.0.0.1:8288` for Inngest's dev server or `hookflow dev`;
//! `INNGEST_BASE_URL` and `INNGEST_SIGNING_KEY` for a self-hosted `inngest start` or Inngest
//! Cloud); Clerk webhooks are verified here and forwarded to the server as `clerk/<type>`.
//!
//! Settings (environment): `HOOKFLOW_ADDR` (default `127.0.0.1:8288`), `HOOKFLOW_DATABASE_URL`
//! (default `sqlite:hookflow.db`), `CLERK_WEBHOOK_SIGNING_SECRET` (without it, a dev secret is
//! generated and saved in `.hookflow/dev-secret`), `SMTP_URL` or `OUTBOX_DIR` (default
//! `./outbox`), `MAIL_FROM`, `TRIAL_OFFER_DELAY`, `APP_DATABASE_URL`.

use std::path::Path;
use std::process::ExitCode;

use hookflow::prelude::*;
use hookflow_examples::app_db::{AppDb, UserRow};
use hookflow_examples::mailer::{Email, MailError, Mailer};

/// Settings the functions read.
#[derive(Debug, Clone)]
struct Settings {
    mail_from: String,
    trial_offer_delay: String,
}

#[inngest_fn(id = "sync-user-from-clerk", name = "Sync user from Clerk", event = "clerk/user.created")]
async fn sync_user(event: Event<clerk::UserCreated>, step: Step, db: Dep<AppDb>) -> Result<()> {
    step.run("upsert-user", || async { Ok(db.upsert(user_row(&event.data)).await?) }).await?;
    Ok(())
}

#[inngest_fn(id = "update-user-from-clerk", name = "Update user from Clerk", event = "clerk/user.updated")]
async fn update_user(event: Event<clerk::UserUpdated>, step: Step, db: Dep<AppDb>) -> Result<()> {
    step.run("upsert-user", || async { Ok(db.upsert(user_row(&event.data)).await?) }).await?;
    Ok(())
}

#[inngest_fn(id = "delete-user-from-clerk", name = "Delete user from Clerk", event = "clerk/user.deleted")]
async fn delete_user(event: Event<clerk::UserDeleted>, step: Step, db: Dep<AppDb>) -> Result<bool> {
    let Some(id) = event.data.id().map(str::to_owned) else {
        return Err(NonRetriable::new("the deleted-user payload has no id").into());
    };
    let existed = step.run("delete-user", || async move { Ok(db.delete(&id).await?) }).await?;
    Ok(existed)
}

#[inngest_fn(id = "send-welcome-email", name = "Send welcome email", event = "clerk/user.created")]
async fn send_welcome_email(
    event: Event<clerk::UserCreated>,
    step: Step,
    mailer: Dep<Mailer>,
    settings: Dep<Settings>,
) -> Result<String> {
    let user = &event.data;
    let Some(to) = user.primary_email_address().map(str::to_owned) else {
        return Ok(format!("user {} has no primary email address: nothing to send", user.id));
    };
    let email = Email {
        to: to.clone(),
        to_name: user.full_name(),
        subject: format!("Welcome, {}!", user.first_name.as_deref().unwrap_or("there")),
        body: format!(
            "Hi {},\n\nWelcome aboard! Your account {} is ready.\n\n— The team\n",
            user.display_name(),
            user.id
        ),
    };
    step.run("send-welcome-email", || async {
        tracing::info!(to = %to, "sending the welcome email via {}", mailer.describe());
        mailer.send(&settings.mail_from, email).await.map_err(MailError::into_step_error)
    })
    .await?;
    Ok(format!("welcome email sent to {to}"))
}

#[inngest_fn(
    id = "onboarding-emails",
    name = "Onboarding emails",
    event = "clerk/user.created",
    cancel_on(event = "clerk/user.deleted", if = "event.data.id == async.data.id")
)]
async fn onboarding_emails(
    event: Event<clerk::UserCreated>,
    step: Step,
    mailer: Dep<Mailer>,
    settings: Dep<Settings>,
) -> Result<String> {
    let user = &event.data;
    let Some(to) = user.primary_email_address().map(str::to_owned) else {
        return Ok(format!("user {} has no primary email address: no onboarding emails", user.id));
    };
    step.sleep("wait-3-days", settings.trial_offer_delay.as_str()).await?;
    let email = Email {
        to: to.clone(),
        to_name: user.full_name(),
        subject: "Your free trial of Pro is waiting".to_owned(),
        body: format!(
            "Hi {},\n\nYou've been with us a few days: here is a 14-day trial of Pro, on the house.\n\n— The team\n",
            user.display_name()
        ),
    };
    step.run("trial-offer-email", || async {
        tracing::info!(to = %to, "sending the trial offer via {}", mailer.describe());
        mailer.send(&settings.mail_from, email).await.map_err(MailError::into_step_error)
    })
    .await?;
    Ok(format!("trial offer sent to {to}"))
}

fn user_row(user: &clerk::User) -> UserRow {
    UserRow {
        id: user.id.clone(),
        email: user.primary_email_address().map(str::to_owned),
        first_name: user.first_name.get().clone(),
        last_name: user.last_name.get().clone(),
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_owned())
}

async fn run(inngest: bool) -> Result<(), String> {
    // Under Inngest, 8288 is the Inngest server's: the app takes 3000, as SDK apps do.
    let addr = env_or("HOOKFLOW_ADDR", if inngest { "127.0.0.1:3000" } else { "127.0.0.1:8288" });
    let store_url = env_or("HOOKFLOW_DATABASE_URL", "sqlite:hookflow.db");
    let app_db_url = env_or("APP_DATABASE_URL", "sqlite:app.db");
    let settings = Settings {
        mail_from: env_or("MAIL_FROM", "Onboarding <onboarding@example.com>"),
        trial_offer_delay: env_or("TRIAL_OFFER_DELAY", "3 days"),
    };
    if let Err(e) = hookflow::IntoDuration::into_duration(settings.trial_offer_delay.as_str()) {
        return Err(format!("TRIAL_OFFER_DELAY: {e}"));
    }
    let (secret, dev_secret) = hookflow::webhook::dev_secret::dev_secret(Path::new(".")).map_err(|e| e.to_string())?;
    let db = AppDb::open_url(&app_db_url).map_err(|e| e.to_string())?;
    let mailer = Mailer::from_env().map_err(|e| e.to_string())?;
    let mail_target = mailer.describe();

    let mut app = hookflow::App::new("clerk-onboarding")
        .database_url(&store_url)
        .map_err(|e| e.to_string())?
        .state(db)
        .state(mailer)
        .state(settings.clone())
        .clerk_webhooks(&secret)
        .dev_ui();
    if inngest {
        app = app.inngest_from_env().map_err(|e| e.to_string())?;
    }
    let app = app.start().await.map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let functions: Vec<String> = match app.inngest() {
        Some(handler) => handler.function_ids(),
        None => app.engine().functions().iter().map(|f| f.id.clone()).collect(),
    };
    // Every check on what the address allows (a dev UI on 0.0.0.0 needs a token) is made
    // here, before the banner says the app is running.
    let listening = app.listen(listener).map_err(|e| e.to_string())?;
    let local = listening.local_addr();
    println!("hookflow clerk-onboarding is running");
    println!("{}", listening.endpoints());
    if inngest {
        println!("  engine store     none: the Inngest server keeps the runs");
    } else {
        println!("  engine store     {store_url}");
    }
    println!("  app database     {app_db_url} (table users)");
    println!("  email            {mail_target}");
    println!("  trial offer in   {}", settings.trial_offer_delay);
    println!("  functions        {}", functions.join(", "));
    if dev_secret {
        println!("  signing secret   {secret}  (dev mode: generated, saved in .hookflow/dev-secret;");
        println!("                   set CLERK_WEBHOOK_SIGNING_SECRET to use your Clerk endpoint's secret)");
    } else {
        println!("  signing secret   from CLERK_WEBHOOK_SIGNING_SECRET");
    }
    println!();
    println!("Send a signed test webhook:");
    println!("  cargo run -q -p hookflow --features cli --bin hookflow -- \\");
    println!("    clerk send user.created --url http://{local}");
    listening.serve(hookflow::shutdown_signal()).await.map_err(|e| e.to_string())
}

/// mimalloc rather than glibc's allocator: the engine allocates many small JSON nodes, and
/// this cuts its CPU per run by about a quarter (BENCHMARKS.md §6).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What `--help` prints: the example takes its settings from the environment; its one flag
/// chooses where the functions run.
const HELP: &str = "\
clerk-onboarding: the hookflow Clerk onboarding example (dev UI, Clerk webhooks, event API).

Usage: clerk-onboarding [--inngest] [-h|--help]

  --inngest   run the functions under an Inngest server instead of the built-in engine: serve
              them at /api/inngest (on HOOKFLOW_ADDR, default 127.0.0.1:3000) and sync with the
              server at start-up; Clerk webhooks are verified here and forwarded to it as
              clerk/<type> events. The server is named by Inngest's variables:
                INNGEST_DEV=http://127.0.0.1:8288   Inngest's dev server (npx inngest-cli dev),
                                                    or hookflow dev
                INNGEST_BASE_URL=http://host:8288   a self-hosted `inngest start` (cloud mode),
                INNGEST_SIGNING_KEY=signkey-...     with its signing key (also Inngest Cloud,
                                                    without INNGEST_BASE_URL)
                INNGEST_EVENT_KEY                   the key events are sent with (cloud mode)
                INNGEST_SERVE_ORIGIN                the app's URL as the server reaches it
                INNGEST_SERVE_PATH                  the serve path (default /api/inngest)

Settings come from the environment:
  HOOKFLOW_ADDR                 where to listen (default 127.0.0.1:8288)
  HOOKFLOW_DATABASE_URL         the engine's store (default sqlite:hookflow.db; or memory:, or
                                postgres://user:password@host/db shared by several workers)
  CLERK_WEBHOOK_SIGNING_SECRET  your Clerk endpoint's whsec_ secret (default: a dev secret
                                generated and saved in .hookflow/dev-secret)
  APP_DATABASE_URL              the app's users table (default sqlite:app.db)
  SMTP_URL or OUTBOX_DIR        send emails over SMTP, or write them as .eml files (default ./outbox)
  MAIL_FROM                     the sender (default Onboarding <onboarding@example.com>)
  TRIAL_OFFER_DELAY             how long before the trial offer (default 3 days)
  RUST_LOG                      log filter (default info)

Then send a signed test webhook: hookflow clerk send user.created
";

#[tokio::main]
async fn main() -> ExitCode {
    let mut inngest = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "-h" | "--help" => {
                print!("{HELP}");
                return ExitCode::SUCCESS;
            }
            "--inngest" => inngest = true,
            _ => {
                eprintln!(
                    "error: unexpected argument `{arg}`: clerk-onboarding takes --inngest, and its settings from \
                     the environment\n\n{HELP}"
                );
                return ExitCode::from(2);
            }
        }
    }
    use std::io::IsTerminal as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::Layer as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::registry()
        // Colours only on a terminal: logs piped to a file stay plain text.
        .with(tracing_subscriber::fmt::layer().with_ansi(std::io::stdout().is_terminal()).with_filter(filter))
        // What the functions log inside a run shows up in the dev UI, next to each step.
        .with(hookflow::logs::layer().with_filter(tracing_subscriber::filter::LevelFilter::INFO))
        .init();
    match run(inngest).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
