//! The `hookflow` command line.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hookflow::cli::{ClerkSendArgs, DevArgs, HttpReply, PullArgs, SendArgs};

/// Durable, event-driven functions: send events and Clerk webhooks to a running server.
#[derive(Debug, Parser)]
#[command(name = "hookflow", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the dev UI over a store: see the runs and events an app recorded, send events and
    /// Clerk webhooks to it. Runs no functions of its own (your app runs its #[inngest_fn]s);
    /// with `-u URL`, the executor of apps written with an Inngest SDK, as Inngest's dev server.
    Dev(DevArgs),
    /// Send an event to `POST /e/{key}` (Inngest's event API).
    Send(SendArgs),
    /// Clerk helpers.
    #[command(subcommand)]
    Clerk(ClerkCommand),
    /// Events on other servers.
    #[command(subcommand)]
    Events(EventsCommand),
}

#[derive(Debug, Subcommand)]
enum EventsCommand {
    /// Copy events from a deployed hookflow (`--token` = its UI token) or from Inngest
    /// (`--from https://api.inngest.com --token signkey-...`) into the local dev server, keeping
    /// their ids and times, to replay or edit them there.
    Pull(PullArgs),
}

#[derive(Debug, Subcommand)]
enum ClerkCommand {
    /// Post a Clerk webhook, signed as Svix signs it, to a server's `/webhooks/clerk`.
    Send(ClerkSendArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Dev(args) => {
            tracing_subscriber::fmt()
                // Colours only on a terminal: logs piped to a file stay plain text.
                .with_ansi(std::io::stdout().is_terminal())
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
                .init();
            args.run().await.map(|()| None)
        }
        Command::Send(args) => args.run().await.map(Some),
        Command::Clerk(ClerkCommand::Send(args)) => args.run().await.map(Some),
        Command::Events(EventsCommand::Pull(args)) => args.run().await.map(|report| {
            println!("{report}");
            None
        }),
    };
    match result {
        Ok(Some(reply)) => report(&reply),
        Ok(None) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn report(reply: &HttpReply) -> ExitCode {
    println!("POST {} → {}", reply.url, reply.status);
    println!("{}", reply.body);
    if reply.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
