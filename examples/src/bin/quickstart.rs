//! A new hookflow app: one durable function, run for every Clerk sign-up.

use hookflow::prelude::*;

#[inngest_fn(id = "greet-new-user", event = "clerk/user.created")]
async fn greet_new_user(event: Event<clerk::UserCreated>, step: Step) -> Result<String> {
    let name = event.data.display_name();
    let greeting = step.run("greet", || async { Ok(format!("Welcome, {name}!")) }).await?;
    step.sleep("wait-a-day", "1 day").await?; // durable: survives restarts
    step.run("check-in", || async { Ok(format!("How is your first day going, {name}?")) }).await?;
    Ok(greeting)
}

#[tokio::main]
async fn main() -> Result<(), hookflow::AppError> {
    hookflow::App::new("my-app")
        .store_sqlite("hookflow.db")
        .clerk_webhooks(std::env::var("CLERK_WEBHOOK_SIGNING_SECRET").unwrap_or_default())
        .dev_ui()
        .serve("127.0.0.1:8288")
        .await
}
