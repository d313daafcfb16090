//! Shared helpers for hookflow integration tests.

pub mod executor;
pub mod http;
pub mod node;
pub mod postgres;
pub mod workers;
