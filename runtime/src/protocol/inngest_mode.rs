//! An [`App`](crate::App) in Inngest mode ([`App::serve_to_inngest`](crate::App::serve_to_inngest)):
//! its functions run under an Inngest server (Inngest's dev server, a self-hosted
//! `inngest start`, Inngest Cloud, or `hookflow dev`), not in its own engine. The app serves
//! them at the serve path with a [`ServeHandler`], and registers them with the server when it
//! starts: out of band (`POST {api origin}/fn/register`), as every SDK does at start-up and as
//! the dev server expects. A server that is not there yet (or refuses the sync) is logged with
//! what to check, and tried again with a back-off, while the app keeps serving: the server may
//! also sync the app itself later, with a `PUT` to the serve path.

use std::net::SocketAddr;
use std::time::Duration;

use super::config::{InngestConfig, Mode};
use super::serve::ServeHandler;

/// The delays between start-up sync attempts: doubling from the first, up to the last.
const SYNC_RETRY_FIRST: Duration = Duration::from_secs(1);
const SYNC_RETRY_MAX: Duration = Duration::from_secs(30);

/// The public URL of the serve path of an app listening on `local`: the configured origin
/// (`INNGEST_SERVE_ORIGIN`), else the address it listens on (loopback for an unspecified one,
/// where the server, on the same machine, reaches it).
pub(crate) fn serve_url(config: &InngestConfig, local: SocketAddr) -> String {
    let origin = config.serve_origin.clone().unwrap_or_else(|| {
        let mut local = local;
        if local.ip().is_unspecified() {
            local.set_ip(if local.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        format!("http://{local}")
    });
    format!("{origin}{}", config.serve_path)
}

/// What the server is, for log lines: `the Inngest dev server at http://...`.
pub(crate) fn describe(config: &InngestConfig) -> String {
    match config.mode {
        Mode::Dev => format!("the Inngest dev server at {}", config.api_origin),
        Mode::Cloud => format!("the Inngest server at {} (cloud mode, signed)", config.api_origin),
    }
}

/// What to check when a sync fails, by mode.
fn hint(config: &InngestConfig) -> &'static str {
    match config.mode {
        Mode::Dev => {
            "is the dev server running there? Start it (`npx inngest-cli dev`, or `hookflow dev`) or point \
             INNGEST_DEV at it (INNGEST_DEV=http://127.0.0.1:8288)"
        }
        Mode::Cloud => {
            "check INNGEST_BASE_URL (or INNGEST_API_BASE_URL) and that INNGEST_SIGNING_KEY is the server's key"
        }
    }
}

/// Registers the functions served at `serve_url` until the server takes them, waiting longer
/// after each failure (1 s, doubling up to 30 s). Runs until it succeeds.
pub(crate) async fn sync_at_start(handler: ServeHandler, serve_url: String) {
    let server = describe(handler.config());
    let mut delay = SYNC_RETRY_FIRST;
    let mut attempt = 1u32;
    loop {
        match handler.sync(&serve_url).await {
            Ok(modified) => {
                tracing::info!(
                    functions = handler.function_ids().len(),
                    url = %serve_url,
                    modified,
                    attempt,
                    "synced with {server}"
                );
                return;
            }
            Err(e) => {
                tracing::warn!(
                    url = %serve_url,
                    attempt,
                    "could not sync with {server}: {e}; {}; trying again in {}s",
                    hint(handler.config()),
                    delay.as_secs_f64()
                );
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(SYNC_RETRY_MAX);
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_serve_url_is_the_configured_origin_or_the_listening_address() {
        let mut config = InngestConfig::dev("http://127.0.0.1:8288");
        let local: SocketAddr = "0.0.0.0:3000".parse().expect("addr");
        assert_eq!(serve_url(&config, local), "http://127.0.0.1:3000/api/inngest");
        let local: SocketAddr = "127.0.0.1:4000".parse().expect("addr");
        assert_eq!(serve_url(&config, local), "http://127.0.0.1:4000/api/inngest");
        config.serve_origin = Some("https://app.example.com".into());
        config.serve_path = "/inngest".into();
        assert_eq!(serve_url(&config, local), "https://app.example.com/inngest");
    }
}
