//! The smallest hookflow user crate: one durable function and a test of it on
//! [`hookflow::testing::TestEngine`], built with none of hookflow's optional features (no HTTP
//! server, no SQLite, no CLI). `.ci/features` checks that it compiles so (the code
//! `#[inngest_fn]` generates must not need an optional part), and `tests/build-cost` times a
//! clean build of it with and without hookflow's default features.

use hookflow::prelude::*;

/// Greets a new user after a day.
#[inngest_fn(id = "greet", event = "app/signed.up")]
pub async fn greet(event: Event<Json>, step: Step) -> Result<String> {
    step.sleep("wait-a-day", "1 day").await?;
    let name = event.data["name"].as_str().unwrap_or("there").to_owned();
    let greeting = step.run("greet", || async move { Ok(format!("hello, {name}")) }).await?;
    Ok(greeting)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hookflow::store::RunStatus;
    use hookflow::testing::TestEngine;
    use hookflow::RawEvent;
    use serde_json::json;

    use super::greet;

    #[tokio::test]
    async fn greets_a_day_after_sign_up() {
        let t = TestEngine::new(&[greet::DEF]).await;
        let run = t.run(greet::DEF, RawEvent::new("app/signed.up", json!({ "name": "Ada" }))).await;
        assert_eq!(run.record.status, RunStatus::Sleeping);
        t.advance(Duration::from_secs(86_400)).await;
        let run = t.get(&run.record.id).await.expect("the run");
        assert_eq!(run.record.status, RunStatus::Completed);
        assert_eq!(run.record.output, Some(json!("hello, Ada")));
    }
}
