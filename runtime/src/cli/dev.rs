//! `hookflow dev`: the dev server on its own: the dev UI, the event API and the Clerk webhook
//! endpoint over a store file, for looking at an app's database or collecting events. (Driving
//! apps over HTTP through the Inngest protocol comes with the protocol.)

use std::path::Path;

use super::clerk::DEV_SECRET_FILE;
use super::CliError;
use crate::webhook::clerk::SECRET_ENV;
use crate::webhook::svix::Secret;

/// `hookflow dev`.
#[derive(Debug, Clone, clap::Args)]
pub struct DevArgs {
    /// Where to listen; loopback by default (another address needs `HOOKFLOW_UI_TOKEN`).
    #[arg(long, default_value = "127.0.0.1:8288", env = "HOOKFLOW_ADDR")]
    pub addr: String,
    /// The store: `sqlite:path/to/file.db` or `memory:`.
    #[arg(long, default_value = "sqlite:hookflow.db", env = "HOOKFLOW_DATABASE_URL")]
    pub db: String,
}

impl DevArgs {
    /// Serves until Ctrl-C.
    pub async fn run(&self) -> Result<(), CliError> {
        let failed = |e: crate::AppError| CliError::Invalid(e.to_string());
        let (secret, generated) = dev_secret(Path::new("."))?;
        let app = crate::App::with_registry("hookflow-dev", Ok(crate::Registry::empty()))
            .database_url(&self.db)
            .map_err(failed)?
            .clerk_webhooks(&secret)
            .dev_ui();
        let running = app.start().await.map_err(failed)?;
        let listener = tokio::net::TcpListener::bind(&self.addr)
            .await
            .map_err(|source| failed(crate::AppError::Bind { addr: self.addr.clone(), source }))?;
        // Every check on the address comes before the banner.
        let listening = running.listen(listener).map_err(failed)?;
        println!("{}", listening.banner());
        println!("  store            {}", self.db);
        if generated {
            println!("  signing secret   the dev secret in {DEV_SECRET_FILE}, as `hookflow clerk send` signs");
        }
        listening.serve(crate::shutdown_signal()).await.map_err(failed)
    }
}

/// The Clerk signing secret for local development: `CLERK_WEBHOOK_SIGNING_SECRET` when set,
/// else the one kept in `<dir>/.hookflow/dev-secret`, generated (and saved there) the first time,
/// where `hookflow clerk send` finds it. The flag says whether it is a dev secret.
pub fn dev_secret(dir: &Path) -> Result<(String, bool), CliError> {
    if let Some(secret) = std::env::var(SECRET_ENV).ok().filter(|s| !s.trim().is_empty()) {
        return Ok((secret, false));
    }
    let path = dir.join(DEV_SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(existing) if !existing.trim().is_empty() => return Ok((existing.trim().to_owned(), true)),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(CliError::ReadFile { path, source }),
    }
    let secret = Secret::generate();
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| CliError::ReadFile { path: parent.to_owned(), source })?;
    }
    std::fs::write(&path, &secret).map_err(|source| CliError::ReadFile { path: path.clone(), source })?;
    Ok((secret, true))
}
