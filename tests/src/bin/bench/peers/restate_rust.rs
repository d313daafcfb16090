//! The Restate peer's services with the Rust SDK (`restate-sdk`), as `service.js` has them
//! with the TypeScript SDK: FanA and FanB, each a handler of two durable `ctx.run` steps, the
//! first of which notes when it ran (epoch ms) for the driver's latency figure. `run.sh` starts
//! it as `bench restate-service --port 9080` when `bench all` measures this SDK.

use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;
use restate_sdk::prelude::*;
use serde::{Deserialize, Serialize};

use crate::support::Fallible;

#[derive(Args)]
pub(crate) struct ServiceArgs {
    /// Port to serve the services on, for restate-server.
    #[arg(long, default_value_t = 9080)]
    port: u16,
}

/// The part of the Clerk user the steps read.
#[derive(Deserialize)]
struct User {
    id: String,
}

#[derive(Serialize, Deserialize)]
struct FirstStep {
    len: u64,
    at_ms: f64,
}

#[derive(Serialize, Deserialize)]
struct Outcome {
    total: u64,
    first_step_at_ms: f64,
}

fn epoch_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1_000.0)
}

/// The two steps both services run.
async fn two_steps(ctx: &Context<'_>, user: User) -> HandlerResult<Json<Outcome>> {
    let len = u64::try_from(user.id.len()).unwrap_or(u64::MAX);
    let first = ctx.run(|| async move { Ok(Json(FirstStep { len, at_ms: epoch_ms() })) }).name("load-user").await?;
    let first = first.into_inner();
    let total = ctx.run(|| async move { Ok(first.len + 1) }).name("record").await?;
    Ok(Json(Outcome { total, first_step_at_ms: first.at_ms }))
}

struct FanA;

#[restate_sdk::service(name = "FanA")]
impl FanA {
    #[handler]
    async fn run(&self, ctx: Context<'_>, user: Json<User>) -> HandlerResult<Json<Outcome>> {
        two_steps(&ctx, user.into_inner()).await
    }
}

struct FanB;

#[restate_sdk::service(name = "FanB")]
impl FanB {
    #[handler]
    async fn run(&self, ctx: Context<'_>, user: Json<User>) -> HandlerResult<Json<Outcome>> {
        two_steps(&ctx, user.into_inner()).await
    }
}

/// Serves FanA and FanB until the process is stopped.
pub(crate) async fn serve(args: ServiceArgs) -> Fallible<()> {
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], args.port));
    HttpServer::new(Endpoint::builder().bind(FanA).bind(FanB).build()).listen_and_serve(address).await;
    Ok(())
}
