//! `hookflow dev`: the dev server on its own: the dev UI, the event API and the Clerk webhook
//! endpoint over a store, with no functions of its own. It is for looking at the runs and
//! events an app recorded in its store (run it on the app's database file), for collecting
//! events and webhooks, and, as Inngest's own dev server is, the executor of apps written with
//! an Inngest SDK: `hookflow dev -u http://localhost:3000/api/inngest` asks that app to sync
//! (it registers its functions at `POST /fn/register`) and runs its functions through the
//! engine, store and UI.

use std::path::Path;

use super::CliError;
use crate::webhook::dev_secret::{dev_secret, DEV_SECRET_FILE};

/// Where `hookflow dev` listens unless told otherwise.
const DEFAULT_HOST: &str = "127.0.0.1";
const DEFAULT_PORT: u16 = 8288;

/// `hookflow dev`.
#[derive(Debug, Clone, clap::Args)]
pub struct DevArgs {
    /// The port to listen on [default: 8288].
    #[arg(short, long)]
    pub port: Option<u16>,
    /// The interface to listen on [default: 127.0.0.1]; another than loopback needs
    /// `HOOKFLOW_UI_TOKEN`.
    #[arg(long)]
    pub host: Option<String>,
    /// Where to listen, as `host:port`; `--host` and `--port` override its parts.
    #[arg(long, env = "HOOKFLOW_ADDR")]
    pub addr: Option<String>,
    /// The store: `sqlite:path/to/file.db` (an app's store, to look at its runs) or `memory:`.
    #[arg(long, default_value = "sqlite:hookflow.db", env = "HOOKFLOW_DATABASE_URL")]
    pub db: String,
    /// The serve URL of an Inngest SDK app to sync and run (repeatable), e.g.
    /// `http://localhost:3000/api/inngest`.
    #[arg(short = 'u', long = "sdk-url", value_name = "URL")]
    pub sdk_url: Vec<String>,
    /// Kept for Inngest's `dev` flags: hookflow never scans ports for apps, so this is always so.
    #[arg(long)]
    pub no_discovery: bool,
    /// Ask apps to sync again only while their last sync failed (by default every app, every
    /// poll interval).
    #[arg(long)]
    pub no_poll: bool,
    /// Seconds between sync requests to the apps.
    #[arg(long, default_value_t = 5)]
    pub poll_interval: u64,
    /// Sign the requests to SDK apps with this key and require it (hashed) of their
    /// registrations and checkpoints, as a self-hosted `inngest start --signing-key` does: for
    /// apps in cloud mode, started with the same `INNGEST_SIGNING_KEY`.
    #[arg(long, value_name = "KEY")]
    pub signing_key: Option<String>,
    /// Let pages of this origin (e.g. `https://app.example.com`, a deployed hookflow's UI)
    /// send events here with their "Send to dev server" button (repeatable, or comma-separated
    /// in `HOOKFLOW_TRUSTED_ORIGINS`). Only `POST /api/v1/import` answers them.
    #[arg(long = "trust-origin", value_name = "ORIGIN", env = "HOOKFLOW_TRUSTED_ORIGINS", value_delimiter = ',')]
    pub trust_origin: Vec<String>,
}

impl DevArgs {
    /// The address to listen on: `--addr` (or `HOOKFLOW_ADDR`, else `127.0.0.1:8288`), with its
    /// host and port replaced by `--host` and `--port` when given.
    ///
    /// ```
    /// # use clap::Parser;
    /// #[derive(Parser)]
    /// struct Cli {
    ///     #[command(flatten)]
    ///     dev: hookflow::cli::DevArgs,
    /// }
    /// let cli = Cli::try_parse_from(["hookflow", "-p", "9000", "--host", "0.0.0.0"])?;
    /// assert_eq!(cli.dev.listen_addr()?, "0.0.0.0:9000");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn listen_addr(&self) -> Result<String, CliError> {
        let (mut host, mut port) = (DEFAULT_HOST.to_owned(), DEFAULT_PORT);
        if let Some(addr) = &self.addr {
            let bad = |why: &str| {
                CliError::Invalid(format!(
                    "`{addr}` (from --addr or HOOKFLOW_ADDR) {why}: give host:port, e.g. `127.0.0.1:8288`, or use \
                     --host and --port"
                ))
            };
            let (h, p) = addr.trim().rsplit_once(':').ok_or_else(|| bad("has no port"))?;
            port = p.parse().map_err(|_| bad("does not end in a port number (0 to 65535)"))?;
            if h.is_empty() {
                return Err(bad("has no host"));
            }
            host = h.to_owned();
        }
        if let Some(h) = &self.host {
            let h = h.trim();
            if h.is_empty() {
                return Err(CliError::Invalid("--host is empty: pass an interface such as `127.0.0.1`".into()));
            }
            // A bare IPv6 address needs brackets before a port.
            host = if h.contains(':') && !h.starts_with('[') { format!("[{h}]") } else { h.to_owned() };
        }
        if let Some(p) = self.port {
            port = p;
        }
        Ok(format!("{host}:{port}"))
    }

    /// Serves until Ctrl-C.
    pub async fn run(&self) -> Result<(), CliError> {
        let addr = self.listen_addr()?;
        let failed = |e: crate::AppError| CliError::Invalid(e.to_string());
        let (secret, generated) = dev_secret(Path::new("."))?;
        let app = crate::App::with_registry("hookflow-dev", Ok(crate::Registry::empty()))
            .database_url(&self.db)
            .map_err(failed)?
            .clerk_webhooks(&secret)
            // As Inngest's dev server does: apps in Inngest mode forward the Clerk webhooks
            // they verified here, as `clerk/<type>` events.
            .allow_clerk_events_from_event_api()
            .trusted_origins(self.trust_origin.iter().cloned())
            .dev_ui();
        let running = app.start().await.map_err(failed)?;
        #[cfg(feature = "protocol")]
        let apps = {
            let key = self.signing_key.clone().and_then(crate::protocol::SigningKey::new);
            running.engine().dispatcher().set_signing_keys(key, None);
            crate::protocol::executor::apps::Apps::new(running.engine().clone())
        };
        #[cfg(feature = "protocol")]
        let running = running.merge(apps.router());
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|e| CliError::Invalid(format!("cannot listen on {addr} ({e}): choose another with --port")))?;
        // Every check on the address comes before the banner.
        let listening = running.listen(listener).map_err(failed)?;
        println!("{}", listening.banner());
        println!("  store            {}", self.db);
        println!("  It shows the runs and events in that store, and takes events (POST /e/{{key}}) and");
        println!("  Clerk webhooks (POST /webhooks/clerk). It runs no functions of its own: your app's");
        println!("  #[inngest_fn]s run in your app's binary (App::dev_ui() serves this same UI there).");
        println!("  Apps written with an Inngest SDK (-u URL) sync at POST /fn/register and run here.");
        #[cfg(feature = "protocol")]
        {
            for url in &self.sdk_url {
                println!("  SDK app          {url}");
            }
            let poll = std::time::Duration::from_secs(self.poll_interval.max(1));
            tokio::spawn(apps.clone().poll(self.sdk_url.clone(), poll, !self.no_poll));
        }
        #[cfg(not(feature = "protocol"))]
        if !self.sdk_url.is_empty() || self.signing_key.is_some() {
            return Err(CliError::Invalid(
                "-u/--sdk-url and --signing-key need hookflow built with its `protocol` feature (on by default)".into(),
            ));
        }
        if generated {
            println!("  signing secret   the dev secret in {DEV_SECRET_FILE}, as `hookflow clerk send` signs");
        }
        listening.serve(crate::shutdown_signal()).await.map_err(failed)
    }
}
