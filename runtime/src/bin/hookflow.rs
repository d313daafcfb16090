//! The `hookflow` command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hookflow::cli::{ClerkSendArgs, HttpReply, SendArgs};

/// Durable, event-driven functions: send events and Clerk webhooks to a running server.
#[derive(Debug, Parser)]
#[command(name = "hookflow", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send an event to `POST /e/{key}` (Inngest's event API).
    Send(SendArgs),
    /// Clerk helpers.
    #[command(subcommand)]
    Clerk(ClerkCommand),
}

#[derive(Debug, Subcommand)]
enum ClerkCommand {
    /// Post a Clerk webhook, signed as Svix signs it, to `<url>/webhooks/clerk`.
    Send(ClerkSendArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Send(args) => args.run().await,
        Command::Clerk(ClerkCommand::Send(args)) => args.run().await,
    };
    match result {
        Ok(reply) => report(&reply),
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
