//! hookflow examples.
//!
//! - `clerk-onboarding` (`src/bin/clerk_onboarding.rs`): the seed scenario end to end: Clerk
//!   webhooks keep an application database in step, a welcome email goes out at sign-up, and a
//!   trial offer follows after a durable sleep, cancelled if the user is deleted first.
//!
//! The pieces the binary uses live here so that tests can reach them.

pub mod app_db;
pub mod mailer;
